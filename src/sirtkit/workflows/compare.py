"""Predicted versus delivered dose: per-VOI differences, DVHs and a 3-D gamma index.

Data flow: read the predicted dose (e.g. the Tc-99m MAA plan) and the delivered dose (Y-90 PET /
bremsstrahlung SPECT after treatment), both absorbed dose in Gy (NRRD/NIfTI as written by
``sirtkit dose``, or DICOM RTDOSE) → put them on one grid (by default the predicted dose is
resampled onto the delivered grid, linear interpolation) → VOIs from the segmentation → per-VOI
differences (:func:`sirtkit.dosimetry.compare_doses`), DVHs of both → global 3-D gamma
(:func:`sirtkit.dosimetry.gamma_index`) with the **predicted** dose as reference and the
**delivered** dose as evaluated distribution → files (CSV, JSON, gamma map, pictures, HTML).

Gamma region: γ is computed on the whole grid (the global dose criterion and the low-dose cut-off
are relative to the maximum predicted dose on the grid), and the reported pass rate counts only the
voxels inside the liver (union of the segments with roles ``liver``, ``normal_liver`` and ``tumor``). Without a
liver segment the pass rate is over the whole grid, and the result says so. Per-VOI pass rates are
reported from the same γ map.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sirtkit import dosimetry
from sirtkit.errors import GeometryError, InputError, UnitsError
from sirtkit.imaging import read_volume, resample_to
from sirtkit.imaging.segload import load_segmentation
from sirtkit.imaging.volume import Volume
from sirtkit.progress import ProgressCallback, report
from sirtkit.text import csv_cell
from sirtkit.workflows.vois import VoiSet, build_voi_set

if TYPE_CHECKING:
    pass

__all__ = [
    "COMPARE_VOI_HEADER",
    "CompareCase",
    "CompareResult",
    "VoiComparison",
    "compare_voi_row",
    "read_dose_map",
    "run_compare",
    "write_compare_outputs",
]

log = logging.getLogger(__name__)

# Default gamma criteria: 3 % (global, of the maximum reference dose) / 3 mm, the criteria of the
# original gamma paper (Low et al., Med Phys 1998;25:656), with the 10 % low-dose threshold of AAPM
# TG-218 (Miften et al., Med Phys 2018;45:e53, recommendation 3: global normalisation, 10 % threshold).
DEFAULT_DOSE_PERCENT = 3.0
DEFAULT_DISTANCE_MM = 3.0
DEFAULT_CUTOFF_PERCENT = 10.0
# γ is searched out to MAX_GAMMA × DTA and capped there (sirtkit.dosimetry.gamma_index default).
MAX_GAMMA = 2.0
# Largest accepted criteria: beyond these the gamma test no longer discriminates anything (a 50 %
# dose tolerance or a 5 cm DTA exceeds the size of the lesions SIRT treats, CLINICAL.md §4).
MAX_DOSE_PERCENT = 50.0
MAX_DISTANCE_MM = 50.0
# Smallest accepted criteria: gamma criteria in use run from 1 %/1 mm (stereotactic QA) to 5 %/5 mm
# (AAPM TG-218, Miften et al., Med Phys 2018;45:e53); below 0.5 % or 0.5 mm the number is a fraction typed as
# a percent (0.03 = 3 %) or centimetres typed as mm (0.3 cm = 3 mm), and would fail every voxel.
MIN_DOSE_PERCENT = 0.5
MIN_DISTANCE_MM = 0.5
# Suffixes read with read_volume (dose maps written by ``sirtkit dose``); other files are DICOM.
_IMAGE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz")


class CompareCase(BaseModel):
    """Inputs of a predicted-versus-delivered comparison; shared by CLI, web and batch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    predicted: Path = Field(description="predicted dose in Gy (e.g. MAA plan): dose.nrrd/NIfTI or RTDOSE .dcm")
    delivered: Path = Field(description="delivered dose in Gy (Y-90 PET/SPECT): dose.nrrd/NIfTI or RTDOSE .dcm")
    segmentation: Path = Field(description="Slicer .seg.nrrd, label map, DICOM SEG or RTSTRUCT")
    ct: Path | None = Field(default=None, description="RTSTRUCT: the CT its contours were drawn on")
    voi_roles: dict[str, str] = Field(default_factory=dict)
    segment_labels: dict[int, str] | None = Field(
        default=None, description="label-map segmentations: {label value: segment name}")
    dose_unit: Literal["Gy"] | None = Field(
        default=None, description="unit of files that do not say it (NIfTI, NRRD not written by sirtkit)")
    dose_percent: float = Field(default=DEFAULT_DOSE_PERCENT,
                                description="gamma dose criterion, % of the maximum predicted dose (global)")
    distance_mm: float = Field(default=DEFAULT_DISTANCE_MM,
                               description="gamma distance-to-agreement criterion, mm")
    lower_dose_cutoff_percent: float = Field(default=DEFAULT_CUTOFF_PERCENT, ge=0.0, lt=100.0,
                                             description="voxels below this % of the maximum predicted dose are "
                                                         "not evaluated")
    resample_to: Literal["delivered", "predicted"] = Field(
        default="delivered", description="common grid when the grids differ (the other dose is resampled)")
    nuclide: Literal["Y-90", "Ho-166"] | None = Field(
        default=None, description="the treatment's nuclide, checked against the nuclide each dose map declares")

    @field_validator("dose_percent")
    @classmethod
    def _dose_percent(cls, value: float) -> float:
        if not (math.isfinite(value) and MIN_DOSE_PERCENT <= value <= MAX_DOSE_PERCENT):
            hint = f" — a fraction typed as a percent ({value:g} = {100 * value:g} %)?" if 0 < value < 1 else ""
            raise ValueError(f"dose_percent = {value:g} %: give the gamma dose criterion in percent, "
                             f"{MIN_DOSE_PERCENT:g}–{MAX_DOSE_PERCENT:g} (e.g. 3 for 3 %){hint}")
        return value

    @field_validator("distance_mm")
    @classmethod
    def _distance_mm(cls, value: float) -> float:
        if not (math.isfinite(value) and MIN_DISTANCE_MM <= value <= MAX_DISTANCE_MM):
            hint = f" — centimetres typed as mm ({value:g} cm = {10 * value:g} mm)?" if 0 < value < 1 else ""
            raise ValueError(f"distance_mm = {value:g} mm: give the gamma distance-to-agreement in mm, "
                             f"{MIN_DISTANCE_MM:g}–{MAX_DISTANCE_MM:g} (e.g. 3){hint}")
        return value


@dataclass(frozen=True)
class VoiComparison:
    """Differences of one VOI (delivered − predicted) with its role and gamma pass rate inside it."""

    role: str
    difference: dosimetry.VoiDifference
    gamma_pass_percent: float | None
    gamma_evaluated_voxels: int

    @property
    def name(self) -> str:
        """VOI name."""
        return self.difference.name


@dataclass(frozen=True)
class CompareResult:
    """Result of :func:`run_compare`. Arrays stay in the Volumes; everything else is plain numbers.

    ``gamma`` is restricted to ``gamma_region``: its map is NaN elsewhere and its pass fraction and
    voxel count are over that region only.
    """

    case: CompareCase
    predicted: Volume
    delivered: Volume
    vois: VoiSet
    comparisons: tuple[VoiComparison, ...]
    predicted_dvhs: dict[str, dosimetry.Dvh]
    delivered_dvhs: dict[str, dosimetry.Dvh]
    gamma: dosimetry.GammaResult
    gamma_region: str
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    provenance: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready part of the result (no voxel arrays)."""
        from sirtkit.serialize import to_jsonable

        g = self.gamma
        finite = np.asarray(g.gamma.array, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        return {
            "case": to_jsonable(self.case),
            "grid": {"shape": list(self.delivered.shape), "spacing_mm": list(self.delivered.spacing_mm),
                     "on": self.case.resample_to},
            "gamma": to_jsonable({
                "reference": "predicted", "evaluated": "delivered", "region": self.gamma_region,
                "dose_percent": g.dose_percent, "distance_mm": g.distance_mm,
                "lower_dose_cutoff_percent": g.lower_dose_cutoff_percent, "normalisation": "global",
                "max_gamma": MAX_GAMMA, "pass_rate_percent": g.pass_rate_percent,
                "n_evaluated": g.n_evaluated,
                "mean_gamma": float(finite.mean()) if finite.size else None,
            }),
            "vois": [{**to_jsonable(c.difference), "role": c.role,
                      "gamma_pass_percent": to_jsonable(c.gamma_pass_percent),
                      "gamma_evaluated_voxels": c.gamma_evaluated_voxels} for c in self.comparisons],
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "provenance": to_jsonable(self.provenance),
        }


# ------------------------------------------------------------------------------------------------ reading
def _is_rtdose(path: Path) -> bool:
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (pydicom.errors.InvalidDicomError, OSError, EOFError, ValueError):
        return False
    return str(ds.get("Modality", "")) == "RTDOSE"


def read_dose_map(path: Path, *, dose_unit: Literal["Gy"] | None = None, what: str = "dose") -> Volume:
    """Read an absorbed-dose map in Gy: NRRD/NIfTI (``read_volume``) or DICOM RTDOSE (``read_rtdose``).

    Parameters
    ----------
    path
        ``dose.nrrd`` as written by ``sirtkit dose``, a NIfTI file, or an RTDOSE ``.dcm`` file.
    dose_unit
        ``"Gy"`` to declare the unit of a file that does not store one (NIfTI, NRRD from other
        software). A file that states another unit is refused, whatever this says.
    what
        Name used in messages (``"predicted"``, ``"delivered"``).

    Raises
    ------
    InputError
        Missing or unreadable file.
    UnitsError
        The values are not absorbed dose in Gy, or the file does not say and ``dose_unit`` is not given.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} dose {p}: no such file; check the path")
    name = p.name.lower()
    if p.is_file() and not name.endswith(_IMAGE_SUFFIXES) and _is_rtdose(p):
        volume = dosimetry.read_rtdose(p)  # DoseUnits other than GY are refused there
    else:
        volume = read_volume(p)
    if volume.quantity == "unknown" and volume.unit == "1":
        if dose_unit != "Gy":
            raise UnitsError(
                f"{what} dose {p}: the file does not say what its values are (NIfTI, or NRRD not written by "
                "sirtkit); if they are absorbed dose in Gy, say so with dose_unit='Gy' (--dose-unit Gy)")
        return volume.with_array(volume.array, quantity="dose", unit="Gy")
    if volume.unit != "Gy":
        raise UnitsError(
            f"{what} dose {p} holds {volume.quantity!r} in {volume.unit!r}, not absorbed dose in 'Gy': compute "
            "the dose map first (sirtkit dose) or convert it to Gy")
    return volume


_NUCLIDE_TOKENS = {"Y-90": ("Y-90", "Y90"), "Ho-166": ("Ho-166", "Ho166")}


def declared_nuclide(path: Path) -> str | None:
    """The nuclide a dose map says it was computed for, or ``None`` when it does not say.

    RTDOSE: the nuclide named in DoseComment (sirtkit writes "... VSV Ho-166 SIRT ..."). ``<prefix>dose.nrrd``
    written by ``sirtkit dose``/``predict``: ``provenance.nuclide`` of the ``<prefix>dosimetry.json`` beside it.
    """
    p = Path(path)
    text = ""
    if p.is_file() and not p.name.lower().endswith(_IMAGE_SUFFIXES) and _is_rtdose(p):
        import pydicom

        text = str(pydicom.dcmread(p, stop_before_pixels=True).get("DoseComment", ""))
    elif p.name.endswith("dose.nrrd"):
        sidecar = p.with_name(p.name[: -len("dose.nrrd")] + "dosimetry.json")
        if sidecar.is_file():
            try:
                doc = json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            text = str(((doc.get("dosimetry") or {}).get("provenance") or {}).get("nuclide") or "")
    for name, tokens in _NUCLIDE_TOKENS.items():
        if any(t in text for t in tokens):
            return name
    return None


def _check_nuclides(case: CompareCase, warnings: list[str], notes: list[str]) -> dict[str, str | None]:
    """Warn when the two dose maps (or the stated treatment nuclide) disagree on the nuclide."""
    found = {"predicted": declared_nuclide(case.predicted), "delivered": declared_nuclide(case.delivered)}
    known = {k: v for k, v in found.items() if v is not None}
    if case.nuclide is not None:
        for what, nuclide in known.items():
            if nuclide != case.nuclide:
                warnings.append(f"NUCLIDE MISMATCH: the {what} dose was computed for {nuclide}, the treatment is "
                                f"{case.nuclide}: recompute it with the treatment's nuclide before comparing")
    elif len(set(known.values())) > 1:
        warnings.append(f"NUCLIDE MISMATCH: the predicted dose was computed for {found['predicted']}, the delivered "
                        f"for {found['delivered']}: recompute the predicted dose with the treatment's nuclide")
    if known:
        notes.append("Nuclide declared by the dose maps: " + ", ".join(f"{k} {v or 'not stated'}"
                                                                         for k, v in found.items()) + ".")
    return found


def _common_grid(case: CompareCase, predicted: Volume, delivered: Volume,
                 notes: list[str]) -> tuple[Volume, Volume]:
    """Both doses on the grid named by ``case.resample_to``; the other one resampled (linear)."""
    a, b = predicted.frame_of_reference_uid, delivered.frame_of_reference_uid
    if a and b and a != b:
        raise GeometryError(
            f"the predicted dose is on frame of reference {a}, the delivered dose on {b}: register the two "
            "studies first (sirtkit does not register images) and compare doses on one frame of reference")
    if predicted.same_grid(delivered):
        return predicted, delivered
    if case.resample_to == "delivered":
        moving, target, label = predicted, delivered, "predicted"
    else:
        moving, target, label = delivered, predicted, "delivered"
    moved = resample_to(moving.with_array(moving.array.astype(np.float64)), target, interpolation="linear",
                        fill_value=math.nan)
    notes.append(
        f"The {label} dose ({' × '.join(f'{s:.2f}' for s in moving.spacing_mm)} mm voxels) was resampled onto the "
        f"{case.resample_to} grid ({' × '.join(f'{s:.2f}' for s in target.spacing_mm)} mm) by linear "
        "interpolation.")
    return (moved, target) if label == "predicted" else (target, moved)


def _fill_outside(volume: Volume, vois: VoiSet, what: str, notes: list[str]) -> Volume:
    """Refuse when a VOI reaches outside the resampled dose grid (NaN there); elsewhere NaN → 0 Gy."""
    arr = np.asarray(volume.array, dtype=np.float64)
    outside = ~np.isfinite(arr)
    if not outside.any():
        return volume
    for name, mask in vois.masks.items():
        sel = mask.array.astype(bool)
        uncovered = int(np.count_nonzero(outside & sel))
        if uncovered:
            raise GeometryError(
                f"VOI {name!r}: {uncovered} of its {int(sel.sum())} voxels lie outside the {what} dose grid, so "
                f"its {what} dose there is unknown; compute the {what} dose on a field of view that covers the "
                "liver, or compare on the other grid (resample_to)")
    notes.append(f"{int(outside.sum())} voxels of the common grid lie outside the {what} dose grid (outside every "
                 "VOI); they are set to 0 Gy.")
    return volume.with_array(np.where(outside, 0.0, arr))


def _gamma_region(vois: VoiSet) -> tuple[np.ndarray | None, str]:
    """Liver mask for the gamma pass rate (and its description); ``None`` = whole grid.

    The union of the segments with role ``liver``, ``normal_liver`` and ``tumor``: label maps cannot
    hold overlapping segments, so a "Liver" label there often excludes the tumours.
    """
    names = [n for n in vois.masks if vois.roles[n] in ("liver", "normal_liver", "tumor")]
    if not any(vois.roles[n] in ("liver", "normal_liver") for n in names):
        return None, "whole grid"
    union = np.zeros(vois.masks[names[0]].shape, dtype=bool)
    for name in names:
        union |= vois.masks[name].array.astype(bool)
    return union, "liver (" + " ∪ ".join(n for n in names if n not in vois.derived) + ")"


def _restrict_gamma(gamma: dosimetry.GammaResult, region: np.ndarray | None) -> dosimetry.GammaResult:
    if region is None:
        return gamma
    values = np.asarray(gamma.gamma.array, dtype=np.float32)
    restricted = np.where(region, values, np.float32(np.nan))
    evaluated = np.isfinite(restricted)
    n = int(evaluated.sum())
    passed = int(np.count_nonzero(restricted[evaluated] <= 1.0))
    return dosimetry.GammaResult(
        gamma=gamma.gamma.with_array(restricted), pass_fraction=passed / n if n else math.nan, n_evaluated=n,
        dose_percent=gamma.dose_percent, distance_mm=gamma.distance_mm,
        lower_dose_cutoff_percent=gamma.lower_dose_cutoff_percent)


def _voi_gamma(gamma_map: np.ndarray, mask: np.ndarray) -> tuple[float | None, int]:
    values = gamma_map[mask & np.isfinite(gamma_map)]
    if values.size == 0:
        return None, 0
    return float(np.count_nonzero(values <= 1.0) / values.size * 100.0), int(values.size)


def run_compare(case: CompareCase, *, progress: ProgressCallback | None = None) -> CompareResult:
    """Compare a predicted and a delivered dose map: per-VOI differences, DVHs and a 3-D gamma index.

    Parameters
    ----------
    case
        Inputs and gamma criteria.
    progress
        Optional progress callback ``(fraction 0–1, message)``.

    Returns
    -------
    CompareResult
        Doses on the common grid, per-VOI comparisons, DVHs of both and the gamma result (pass rate
        over the liver when a liver segment exists, else over the whole grid).

    Raises
    ------
    UnitsError
        A dose map is not in Gy (or does not say so and ``dose_unit`` is not given).
    GeometryError
        The frames of reference differ, the grids do not overlap, or a VOI reaches outside the
        resampled dose's field of view.
    InputError
        Unreadable files, unknown VOI roles, no non-empty VOI.

    References
    ----------
    Low DA, Harms WB, Mutic S, Purdy JA. A technique for the quantitative evaluation of dose
    distributions. Med Phys 1998;25:656–661.
    """
    notes: list[str] = []
    warnings: list[str] = []
    report(progress, 0.02, "reading predicted dose")
    nuclides = _check_nuclides(case, warnings, notes)
    predicted = read_dose_map(case.predicted, dose_unit=case.dose_unit, what="predicted")
    report(progress, 0.08, "reading delivered dose")
    delivered = read_dose_map(case.delivered, dose_unit=case.dose_unit, what="delivered")
    report(progress, 0.14, "putting both doses on one grid")
    predicted, delivered = _common_grid(case, predicted, delivered, notes)
    report(progress, 0.22, "reading segmentation")
    ct = read_volume(case.ct) if case.ct is not None else None
    loaded = load_segmentation(case.segmentation, delivered, labels=case.segment_labels,
                               images=[ct] if ct is not None else [], keep_native=False)
    notes.extend(loaded.notes)
    warnings.extend(loaded.warnings)
    vois = build_voi_set(loaded.masks, case.voi_roles)
    if case.resample_to == "delivered":
        predicted = _fill_outside(predicted, vois, "predicted", notes)
    else:
        delivered = _fill_outside(delivered, vois, "delivered", notes)
    report(progress, 0.30, "per-VOI differences and DVHs")
    used: dict[str, Volume] = {}
    for name, mask in vois.masks.items():
        if np.any(mask.array):
            used[name] = mask
        else:
            warnings.append(f"VOI {name!r} is empty on the dose grid and was skipped")
    if not used:
        raise InputError(f"{case.segmentation}: every VOI is empty on the dose grid; check the segmentation")
    differences = dosimetry.compare_doses(predicted, delivered, used)
    predicted_dvhs = {n: dosimetry.compute_dvh(predicted, m, name=n) for n, m in used.items()}
    delivered_dvhs = {n: dosimetry.compute_dvh(delivered, m, name=n) for n, m in used.items()}
    report(progress, 0.45, "3-D gamma index")
    gamma_all = dosimetry.gamma_index(
        predicted, delivered, dose_percent=case.dose_percent, distance_mm=case.distance_mm,
        lower_dose_cutoff_percent=case.lower_dose_cutoff_percent, max_gamma=MAX_GAMMA)
    region, region_name = _gamma_region(vois)
    if region is None:
        notes.append("No liver segment: the gamma pass rate is over the whole grid (every voxel above the cut-off).")
    gamma = _restrict_gamma(gamma_all, region)
    if gamma.n_evaluated == 0:
        warnings.append(f"No voxel of the {region_name} is above the gamma low-dose cut-off "
                        f"({case.lower_dose_cutoff_percent:g} % of the maximum predicted dose): no gamma pass rate")
    gamma_map = np.asarray(gamma_all.gamma.array, dtype=np.float64)
    comparisons = []
    for diff in differences:
        pass_percent, n_eval = _voi_gamma(gamma_map, used[diff.name].array.astype(bool))
        comparisons.append(VoiComparison(vois.roles[diff.name], diff, pass_percent, n_eval))
    notes.append(
        f"Gamma: predicted dose = reference, delivered dose = evaluated; global {case.dose_percent:g} % of the "
        f"maximum predicted dose ({float(np.max(predicted.array)):.1f} Gy) / {case.distance_mm:g} mm, voxels below "
        f"{case.lower_dose_cutoff_percent:g} % of that maximum not evaluated; search step = voxel spacing, γ capped "
        f"at {MAX_GAMMA:g}.")
    report(progress, 1.0, "done")
    provenance = {
        "predicted": str(case.predicted), "delivered": str(case.delivered),
        "segmentation": str(case.segmentation), "nuclides": nuclides,
        "computed_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    return CompareResult(case, predicted, delivered, vois, tuple(comparisons), predicted_dvhs, delivered_dvhs,
                         gamma, region_name, tuple(notes), tuple(warnings), provenance)


# ----------------------------------------------------------------------------------------------- outputs
COMPARE_VOI_HEADER = ("VOI", "Volume (mL)", "Predicted mean (Gy)", "Delivered mean (Gy)", "Difference (Gy)",
                      "Difference (%)", "Predicted D70 (Gy)", "Delivered D70 (Gy)", "Predicted D90 (Gy)",
                      "Delivered D90 (Gy)", "Voxel RMS difference (Gy)", "Gamma pass (%)")


def _fmt(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def compare_voi_row(c: VoiComparison) -> list[str]:
    """Formatted row of :data:`COMPARE_VOI_HEADER` for one VOI."""
    d = c.difference
    return [d.name, _fmt(d.volume_ml), _fmt(d.predicted_mean_gy), _fmt(d.delivered_mean_gy),
            _fmt(d.mean_difference_gy, signed=True), _fmt(d.mean_difference_percent, signed=True),
            _fmt(d.predicted_d70_gy), _fmt(d.delivered_d70_gy), _fmt(d.predicted_d90_gy), _fmt(d.delivered_d90_gy),
            _fmt(d.voxel_rms_difference_gy), _fmt(c.gamma_pass_percent)]


_CSV_COLUMNS = ("voi", "role", "volume_ml", "predicted_mean_gy", "delivered_mean_gy", "mean_difference_gy",
                "mean_difference_percent", "predicted_d70_gy", "delivered_d70_gy", "predicted_d90_gy",
                "delivered_d90_gy", "voxel_rms_difference_gy", "gamma_pass_percent", "gamma_evaluated_voxels")


def _csv_text(comparisons: tuple[VoiComparison, ...]) -> str:
    def num(value: float | None) -> str:
        return "" if value is None or not math.isfinite(value) else repr(float(value))

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for c in comparisons:
        d = c.difference
        writer.writerow([csv_cell(d.name), c.role, num(d.volume_ml), num(d.predicted_mean_gy), num(d.delivered_mean_gy),
                         num(d.mean_difference_gy), num(d.mean_difference_percent), num(d.predicted_d70_gy),
                         num(d.delivered_d70_gy), num(d.predicted_d90_gy), num(d.delivered_d90_gy),
                         num(d.voxel_rms_difference_gy), num(c.gamma_pass_percent), c.gamma_evaluated_voxels])
    return buf.getvalue()


def write_compare_outputs(result: CompareResult, out_dir: Path, *, title: str = "Predicted vs delivered dose",
                          subtitle: str = "", force: bool = False) -> dict[str, Path]:
    """Write per-VOI CSV, DVH CSVs, JSON, γ map (NRRD), DVH and γ pictures and an HTML report.

    All files appear together or not at all, replacing ``out_dir`` as a whole (staged write; a non-empty folder
    sirtkit did not write only with ``force``). Returns name → final path.
    """
    from sirtkit import __version__
    from sirtkit._concurrent import offload
    from sirtkit.imaging import write_volume
    from sirtkit.report import plots_dose
    from sirtkit.report.render import atomic_write_text, figure_png_of, figure_to_data_uri, render_template
    from sirtkit.workflows._output import staged_output

    names = {
        "vois_csv": "compare_vois.csv", "predicted_dvh_csv": "predicted_dvh.csv",
        "delivered_dvh_csv": "delivered_dvh.csv", "json": "compare.json", "gamma": "gamma.nrrd",
        "dvh_png": "dvh_comparison.png", "gamma_png": "gamma_slices.png", "html": "compare_report.html",
    }
    summary = result.summary()
    g = result.gamma
    criteria = f"{g.dose_percent:g} %/{g.distance_mm:g} mm"
    with staged_output(out_dir, force=force, kind="compare") as stage:
        # Figures first: drawn in the command's worker process when it has one (issue 9), while the data files
        # are written here.
        curves_p = {n: (d.dose_bins_gy, d.volume_fraction) for n, d in result.predicted_dvhs.items()}
        curves_d = {n: (d.dose_bins_gy, d.volume_fraction) for n, d in result.delivered_dvhs.items()}
        dvh_figure = offload(figure_png_of, plots_dose.plot_dvh_comparison, curves_p, curves_d)
        region, _ = _gamma_region(result.vois)
        gamma_figure = offload(figure_png_of, plots_dose.plot_gamma_overlay, g.gamma, background=result.delivered,
                               region=region, max_gamma=MAX_GAMMA,
                               title=f"Gamma index {criteria} over the {result.gamma_region} (delivered dose in grey)")
        atomic_write_text(stage / names["vois_csv"], _csv_text(result.comparisons))
        dosimetry.write_dvh_csv(result.predicted_dvhs, stage / names["predicted_dvh_csv"])
        dosimetry.write_dvh_csv(result.delivered_dvhs, stage / names["delivered_dvh_csv"])
        atomic_write_text(stage / names["json"], json.dumps({"compare": summary}, indent=2, ensure_ascii=False))
        write_volume(g.gamma, stage / names["gamma"], compress=True)
        dvh_png = dvh_figure.result()
        (stage / names["dvh_png"]).write_bytes(dvh_png)
        gamma_png = gamma_figure.result()
        (stage / names["gamma_png"]).write_bytes(gamma_png)
        gamma_rows = [
            ("Criteria", f"{criteria} (global), low-dose cut-off {g.lower_dose_cutoff_percent:g} %"),
            ("Reference / evaluated", "predicted / delivered"),
            ("Region", result.gamma_region),
            ("Voxels evaluated", str(g.n_evaluated)),
            ("Pass rate (γ ≤ 1)", _fmt(g.pass_rate_percent) + " %"),
            ("Mean γ", _fmt(summary["gamma"]["mean_gamma"], 2)),
        ]
        method = [
            ("Predicted dose", str(result.case.predicted)),
            ("Delivered dose", str(result.case.delivered)),
            ("Segmentation", str(result.case.segmentation)),
            ("Common grid", f"{result.case.resample_to}: {result.delivered.shape} voxels of "
                            f"{' × '.join(f'{s:.2f}' for s in result.delivered.spacing_mm)} mm"),
        ]
        html = render_template(
            "compare.html.j2", title=title, subtitle=subtitle, version=__version__,
            generated=result.provenance["computed_at"], warnings=list(result.warnings), notes=list(result.notes),
            gamma_rows=gamma_rows, method=method, voi_header=COMPARE_VOI_HEADER,
            voi_rows=[compare_voi_row(c) for c in result.comparisons],
            figures=[{"title": "Dose–volume histograms", "uri": figure_to_data_uri(dvh_png)},
                     {"title": "Gamma map", "uri": figure_to_data_uri(gamma_png)}],
            files=sorted(names.values()),
        )
        atomic_write_text(stage / names["html"], html)
    return {key: Path(out_dir) / name for key, name in names.items()}
