"""Post-treatment dosimetry: emission image + segmentation (+ CT) + activity → dose map, DVHs, report.

Data flow (ARCHITECTURE.md): read emission (Bq/mL, or counts + delivered activity) → decay/time
handling → activity map at administration → dose (VSV or LDM, optional CT density) → DVH and metrics per
VOI → files (dose NRRD, RTDOSE when a DICOM reference exists, DVH/metrics CSV, JSON, pictures, HTML).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from sirtkit import dosimetry
from sirtkit.errors import InputError, UnitsError
from sirtkit.imaging import (
    activity_at_administration,
    activity_report,
    read_segmentation,
    read_volume,
    resample_to,
    scale_to_delivered_activity,
)
from sirtkit.imaging.volume import Volume
from sirtkit.physics.nuclides import get_nuclide
from sirtkit.progress import ProgressCallback, report
from sirtkit.text import csv_row
from sirtkit.units import require_fraction
from sirtkit.workflows.vois import VoiSet, build_voi_set

__all__ = ["DoseCase", "DoseResult", "VoiDose", "run_dose"]

log = logging.getLogger(__name__)

# Largest single Y-90 / Ho-166 SIRT administration plausibly expressed in GBq (TheraSphere's largest
# vial is 20 GBq at calibration, CLINICAL.md §5); a larger number is almost surely MBq or mCi.
MAX_PLAUSIBLE_ACTIVITY_GBQ = 30.0
# Activity outside liver + lungs above this fraction suggests extrahepatic deposition, free
# pertechnetate or a segmentation problem (Taranis warns at 20 %, CLINICAL.md §3 "Timing").
EXTRAHEPATIC_WARNING_FRACTION = 0.20
# Negative emission values (reconstruction undershoot) are set to 0; above 1 % of the positive total this is
# reported as a warning rather than a note (a sign of a wrong rescale or of padding values).
NEGATIVE_WARNING_FRACTION = 0.01
# Partial-volume caveat: VOIs smaller than about 3 × FWHM in diameter are under-estimated (QUEST,
# Willowson EJNMMI Phys 2015; CLINICAL.md §11.4). We warn below 3 voxels' worth of diameter.
PVE_DIAMETER_VOXELS = 3.0


class DoseCase(BaseModel):
    """Inputs of a post-treatment (or predictive) dosimetry run; shared by CLI, web and batch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    emission: Path = Field(description="Y-90 PET / bremsstrahlung or MAA SPECT: NRRD, NIfTI or DICOM folder")
    segmentation: Path | None = Field(default=None, description="Slicer .seg.nrrd, label map, DICOM SEG or RTSTRUCT")
    ct: Path | None = Field(default=None, description="CT for density correction and display (optional)")
    emission_unit: Literal["Bq/mL", "counts"] | None = Field(
        default=None, description="unit of the emission values when the file does not say (NRRD, NIfTI)")
    quantification: Literal["relative", "absolute"] = "relative"
    delivered_activity_gbq: float | None = Field(default=None, description="relative mode: activity in liver + lungs")
    lung_shunt_fraction: float | None = None
    administration_time: AwareDatetime | None = None
    image_reference_time: AwareDatetime | None = Field(
        default=None, description="absolute mode, files without timing (NRRD/NIfTI): when the Bq/mL values apply")
    engine: Literal["vsv", "ldm"] = "vsv"
    density: Literal["uniform", "ct"] = "uniform"
    nuclide: Literal["Y-90", "Ho-166"] = "Y-90"
    voi_roles: dict[str, str] = Field(default_factory=dict)
    segment_labels: dict[int, str] | None = Field(
        default=None, description="label-map segmentations: {label value: segment name}")
    dose_thresholds_gy: tuple[float, ...] = (40.0, 70.0, 100.0, 120.0, 150.0, 205.0)

    @field_validator("lung_shunt_fraction")
    @classmethod
    def _lsf(cls, value: float | None) -> float | None:
        return None if value is None else require_fraction(value, "lung_shunt_fraction")

    @field_validator("delivered_activity_gbq")
    @classmethod
    def _plausible_activity(cls, value: float | None) -> float | None:
        if value is None:
            return value
        if value <= 0:
            raise ValueError("must be a positive activity in GBq")
        if value > MAX_PLAUSIBLE_ACTIVITY_GBQ:
            raise ValueError(
                f"{value:g} GBq is more than any SIRT administration ({MAX_PLAUSIBLE_ACTIVITY_GBQ:g} GBq): "
                "was it given in MBq or mCi? Convert to GBq (1 mCi = 0.037 GBq)"
            )
        return value

    @model_validator(mode="after")
    def _mode_inputs(self) -> DoseCase:
        if self.quantification == "relative" and self.delivered_activity_gbq is None:
            raise ValueError("relative quantification needs delivered_activity_gbq (vial − residual, GBq)")
        if self.quantification == "relative" and self.segmentation is None:
            raise ValueError("relative quantification needs a segmentation with the liver")
        if self.quantification == "absolute" and self.administration_time is None:
            raise ValueError("absolute quantification needs administration_time (with a timezone)")
        if self.nuclide != "Y-90" and self.engine == "vsv":
            raise ValueError(f"sirtkit has voxel S-value kernels for Y-90 only: use engine 'ldm' for {self.nuclide}")
        return self


@dataclass(frozen=True)
class VoiDose:
    """Dose figures of one VOI."""

    name: str
    role: str
    metrics: dosimetry.DoseMetrics
    mean_bed_gy: float | None
    alpha_beta_gy: float | None
    activity_mbq: float


@dataclass(frozen=True)
class DoseResult:
    """Result of :func:`run_dose`. Arrays stay in the Volumes; everything else is plain numbers."""

    case: DoseCase
    dose: Volume
    activity: Volume
    vois: VoiSet | None
    voi_doses: tuple[VoiDose, ...]
    dvhs: dict[str, dosimetry.Dvh]
    activity_summary: Any
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    background: Volume | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    dicom_sources: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """The JSON-ready part of the result (no voxel arrays)."""
        from sirtkit.serialize import to_jsonable

        return {
            "case": to_jsonable(self.case),
            "dose_grid": {"shape": list(self.dose.shape), "spacing_mm": list(self.dose.spacing_mm),
                          "max_dose_gy": float(np.max(self.dose.array))},
            "activity": to_jsonable(self.activity_summary),
            "vois": [to_jsonable(v) for v in self.voi_doses],
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "provenance": to_jsonable(self.provenance),
        }


# VOI role → tissue of dosimetry.RADIOBIOLOGY_PARAMETERS (cited there) for the mean BED of each VOI.
# Whole liver and perfused territories mix tumour and normal tissue, so they get no BED.
BED_TISSUE_OF_ROLE: dict[str, str] = {
    "tumor": "tumour",
    "tumor_union": "tumour",
    "normal_liver": "normal_liver",
    "perfused_normal_liver": "normal_liver",
    "lung": "lung",
    "lung_union": "lung",
}


def _liver_and_lungs(case: DoseCase, vois: VoiSet, notes: list[str]) -> dict[str, Volume]:
    """``{"liver": whole liver incl. tumours, "lung": both lungs (if segmented)}`` for quantification.

    The whole liver is the union of every liver (or normal-liver) segment and every tumour: a label map
    cannot hold overlapping labels, so its "liver" label usually excludes the tumours — taking it alone
    would put the delivered activity into the parenchyma only and inflate tumour doses.
    """
    liver = vois.union("liver")
    if liver is None:
        liver = vois.union("normal_liver")
        if liver is None:
            raise InputError(
                f"{case.segmentation}: no liver segment found among {', '.join(vois.masks)}: name one "
                "'Liver' or give its role (--voi-role 'NAME=liver', e.g. 'label_1=liver' for a label map)")
        notes.append("Liver = normal liver ∪ tumours (no whole-liver segment given).")
    tumours = vois.union("tumor")
    if tumours is not None:
        outside = int(np.count_nonzero(tumours & ~liver))
        if outside > 0.01 * int(np.count_nonzero(tumours)):
            notes.append(f"{100 * outside / np.count_nonzero(tumours):.0f} % of the tumour voxels lie outside the "
                         "liver segment (label maps exclude them): the liver is taken as liver ∪ tumours.")
        liver = liver | tumours
    reference = next(iter(vois.masks.values()))
    compartments = {"liver": reference.with_array(liver)}
    lung = vois.union("lung")
    if lung is not None:
        compartments["lung"] = reference.with_array(lung)
    return compartments


def _activity_map(case: DoseCase, emission: Volume, vois: VoiSet | None, notes: list[str]) -> tuple[Volume, Any]:
    nuclide = get_nuclide(case.nuclide)
    if case.quantification == "relative":
        assert vois is not None and case.delivered_activity_gbq is not None  # guaranteed by DoseCase
        compartments = _liver_and_lungs(case, vois, notes)
        activity, summary = scale_to_delivered_activity(
            emission, compartments, delivered_activity_gbq=case.delivered_activity_gbq,
            lung_shunt_fraction=case.lung_shunt_fraction)
        with_lungs = "lung" in compartments
        notes.append(
            f"Patient-relative quantification: image scaled so that liver{' + lungs' if with_lungs else ''} "
            f"{'hold' if with_lungs else 'holds'} the delivered {case.delivered_activity_gbq:.3f} GBq"
            + (f" (lung shunt fraction {case.lung_shunt_fraction:.3f})." if case.lung_shunt_fraction is not None
               and not with_lungs
               else "."))
        return activity, summary
    # absolute
    assert case.administration_time is not None
    if emission.unit != "Bq/mL":
        raise UnitsError(
            f"{case.emission}: values are {emission.unit!r}, absolute quantification needs Bq/mL: if the file holds "
            "Bq/mL but does not say so (NRRD, NIfTI), give emission_unit 'Bq/mL' (--emission-unit Bq/mL); "
            "otherwise use relative quantification with the delivered activity")
    if emission.metadata.get("reference_datetime") is None:
        if case.image_reference_time is None:
            raise InputError(
                f"{case.emission}: the file does not say when its Bq/mL values apply: give "
                "image_reference_time (--image-time), e.g. the scan start if decay-corrected to START")
        emission = emission.with_array(emission.array, metadata={**emission.metadata,
                                                                 "reference_datetime": case.image_reference_time})
    reference_time = emission.metadata["reference_datetime"]
    if reference_time < case.administration_time:
        raise InputError(
            f"the image's values refer to {reference_time.isoformat()}, before the administration at "
            f"{case.administration_time.isoformat()}: check both times (and their time zones)")
    activity = activity_at_administration(emission, administration_time=case.administration_time,
                                          nuclide=nuclide)
    notes.append("Absolute quantification: Bq/mL decayed back to the administration time.")
    if vois is None:
        return activity, None
    return activity, activity_report(activity, _liver_and_lungs(case, vois, notes))


def _clip_negative(emission: Volume, notes: list[str], warnings: list[str]) -> Volume:
    """Set negative emission values (reconstruction undershoot, padding) to zero, saying how much."""
    values = np.asarray(emission.array)
    negative = values < 0
    if not np.any(negative):
        return emission
    neg_sum = float(-values[negative].sum(dtype=np.float64))
    pos_sum = float(values[~negative].sum(dtype=np.float64))
    fraction = neg_sum / pos_sum if pos_sum > 0 else float("inf")
    message = (f"{int(negative.sum())} voxels with negative values ({100 * fraction:.2f} % of the positive "
               "total) were set to 0 before quantification")
    (warnings if fraction > NEGATIVE_WARNING_FRACTION else notes).append(message.capitalize() + ".")
    return emission.with_array(np.where(negative, 0, values).astype(values.dtype, copy=False))


def _density(case: DoseCase, emission: Volume, ct: Volume | None) -> float | Volume:
    if case.density == "uniform":
        return dosimetry.LIVER_DENSITY_G_PER_ML
    if ct is None:
        raise InputError("density 'ct' needs a CT (--ct)")
    return dosimetry.density_from_ct(resample_to(ct, emission, interpolation="linear", fill_value=-1000.0))


def run_dose(case: DoseCase, *, progress: ProgressCallback | None = None) -> DoseResult:
    """Compute the absorbed-dose map and per-VOI figures for ``case``.

    Raises
    ------
    InputError
        Unreadable files, missing liver segment, inconsistent units or timing; the message says
        what to give instead.
    """
    notes: list[str] = []
    warnings: list[str] = []
    report(progress, 0.02, "reading emission image")
    quantity = None if case.emission_unit is None else (
        "activity_concentration" if case.emission_unit == "Bq/mL" else "counts")
    emission = _clip_negative(read_volume(case.emission, quantity=quantity, unit=case.emission_unit), notes,
                              warnings)
    vois: VoiSet | None = None
    if case.segmentation is not None:
        report(progress, 0.10, "reading segmentation")
        masks = read_segmentation(case.segmentation, reference=emission, labels=case.segment_labels)
        vois = build_voi_set(masks, case.voi_roles)
    ct = read_volume(case.ct) if case.ct is not None else None
    report(progress, 0.20, "quantifying activity")
    activity, summary = _activity_map(case, emission, vois, notes)
    frac_out = getattr(summary, "outside_liver_and_lungs_fraction", None)
    if frac_out is not None and frac_out > EXTRAHEPATIC_WARNING_FRACTION:
        warnings.append(
            f"{100 * frac_out:.1f} % of the activity in the field of view lies outside liver and lungs "
            f"(> {100 * EXTRAHEPATIC_WARNING_FRACTION:.0f} %): check for extrahepatic deposition or segmentation")
    density = _density(case, emission, ct)
    nuclide = get_nuclide(case.nuclide)
    report(progress, 0.30, f"computing dose ({case.engine.upper()})")
    if case.engine == "vsv":
        def sub(fraction: float, message: str) -> None:
            report(progress, 0.30 + 0.55 * fraction, message)

        dose = dosimetry.dose_vsv(activity, nuclide=nuclide, density_g_per_ml=density, progress=sub)
    else:
        dose = dosimetry.dose_ldm(activity, nuclide=nuclide, density_g_per_ml=density)
    report(progress, 0.88, "DVHs and metrics")
    voi_doses: list[VoiDose] = []
    dvhs: dict[str, dosimetry.Dvh] = {}
    if vois is not None:
        for name, mask in vois.masks.items():
            if not np.any(mask.array):
                warnings.append(f"VOI {name!r} is empty on the dose grid and was skipped")
                continue
            role = vois.roles[name]
            metrics = dosimetry.dose_metrics(dose, mask, name=name, v_thresholds_gy=case.dose_thresholds_gy,
                                             density_g_per_ml=density)
            dvhs[name] = dosimetry.compute_dvh(dose, mask, name=name, density_g_per_ml=density)
            mean_bed = alpha_beta = None
            if role in BED_TISSUE_OF_ROLE:
                params = dosimetry.RADIOBIOLOGY_PARAMETERS[BED_TISSUE_OF_ROLE[role]]
                alpha_beta = params.alpha_beta_gy
                bed = dosimetry.bed_permanent_implant(dose.array[mask.array.astype(bool)],
                                                      alpha_beta_gy=alpha_beta,
                                                      repair_half_time_h=params.repair_half_time_h,
                                                      half_life_h=nuclide.half_life_h)
                mean_bed = float(np.mean(bed))
            activity_mbq = float(np.sum(activity.array[mask.array.astype(bool)], dtype=np.float64)
                                 * activity.voxel_volume_ml / 1e6)
            diameter_vox = (6.0 * metrics.volume_ml / np.pi) ** (1 / 3) * 10.0 / max(dose.spacing_mm)
            if role == "tumor" and diameter_vox < PVE_DIAMETER_VOXELS:
                warnings.append(
                    f"{name}: {metrics.volume_ml:.1f} mL is under ~{PVE_DIAMETER_VOXELS:g} voxels across; its "
                    "dose is under-estimated by partial-volume effects (no recovery correction applied)")
            voi_doses.append(VoiDose(name, role, metrics, mean_bed, alpha_beta, activity_mbq))
    report(progress, 1.0, "done")
    provenance = {
        "emission": str(case.emission), "segmentation": str(case.segmentation) if case.segmentation else None,
        "ct": str(case.ct) if case.ct else None, "engine": case.engine, "nuclide": nuclide.name,
        "dose_constant_gy_kg_per_gbq": nuclide.dose_constant_gy_kg_per_gbq,
        "density": "CT-derived" if case.density == "ct" else f"uniform {dosimetry.LIVER_DENSITY_G_PER_ML} g/mL",
        "computed_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        # First DICOM file of the emission series: patient/study/frame of reference for RTDOSE.
        "dicom_reference_file": (next(iter(emission.metadata.get("source_files") or [None]))
                                 if emission.metadata.get("series_instance_uid") else None),
    }
    background = resample_to(ct, dose, interpolation="linear", fill_value=-1000.0) if ct is not None else emission
    dicom_sources = tuple(str(f) for f in emission.metadata.get("source_files") or ()) if (
        emission.metadata.get("series_instance_uid")) else ()
    return DoseResult(case, dose, activity, vois, tuple(voi_doses), dvhs, summary, tuple(notes), tuple(warnings),
                      background, provenance, dicom_sources)


def dvh_curves(dvhs: Mapping[str, dosimetry.Dvh]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(dose bins, cumulative fraction) per VOI, for plotting."""
    return {name: (d.dose_bins_gy, d.volume_fraction) for name, d in dvhs.items()}


# ----------------------------------------------------------------------------------------------- outputs
VOI_TABLE_HEADER = ("VOI", "Volume (mL)", "Mass (g)", "Mean (Gy)", "D98 (Gy)", "D70 (Gy)", "D50 (Gy)",
                    "D2 (Gy)", "Max (Gy)", "V100 (%)", "V205 (%)", "Mean BED (Gy)", "α/β (Gy)", "Activity (MBq)")


def voi_table_row(v: VoiDose) -> list[str]:
    m = v.metrics

    def vx(threshold: float) -> str:
        value = m.v_percent.get(threshold)
        return "–" if value is None else f"{value:.1f}"

    bed = "–" if v.mean_bed_gy is None else f"{v.mean_bed_gy:.1f}"
    ab = "–" if v.alpha_beta_gy is None else f"{v.alpha_beta_gy:g}"
    mass = f"{m.mass_g:.1f}" if m.mass_g < 10 else f"{m.mass_g:.0f}"
    return [v.name, f"{m.volume_ml:.1f}", mass, f"{m.mean_gy:.1f}", f"{m.d98_gy:.1f}",
            f"{m.d70_gy:.1f}", f"{m.d50_gy:.1f}", f"{m.d2_gy:.1f}", f"{m.max_gy:.1f}", vx(100.0), vx(205.0), bed, ab,
            f"{v.activity_mbq:.1f}"]


def _activity_rows(summary: Any) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    labels = {
        "total_in_fov_mbq": "Total in field of view at administration (MBq)", "in_liver_mbq": "In liver (MBq)",
        "in_lungs_mbq": "In lungs (MBq)", "outside_body_mbq": "Outside the body (MBq)",
        "outside_liver_and_lungs_fraction": "Outside liver and lungs (%)", "scale_factor": "Scale factor",
        "mode": "Quantification", "reference_time": "Reference time",
    }
    for key, label in labels.items():
        value = getattr(summary, key, None)
        if value is None:
            continue
        if key == "outside_liver_and_lungs_fraction":
            has_lungs = getattr(summary, "in_lungs_mbq", None) is not None
            rows.append((label if has_lungs else "Outside the liver (%) — no lung segment", f"{100 * value:.1f}"))
        elif isinstance(value, float):
            rows.append((label, f"{value:.4g}" if key == "scale_factor" else f"{value:.1f}"))
        else:
            rows.append((label, str(value)))
    return rows


def _write_voi_table_csv(result: DoseResult, path: Path) -> None:
    """The report's per-VOI table (with mean BED and activity) as CSV."""
    import csv
    import io

    from sirtkit._files import atomic_write_bytes

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(VOI_TABLE_HEADER)
    writer.writerows(csv_row(voi_table_row(v)) for v in result.voi_doses)
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def write_dose_outputs(result: DoseResult, out_dir: Path, *, title: str = "Post-treatment dosimetry",
                       subtitle: str = "", pdf: bool = False, prefix: str = "",
                       sections: list[dict[str, Any]] | None = None, failures: list[str] | None = None,
                       extra_warnings: list[str] | None = None, extra_json: dict[str, Any] | None = None,
                       voi_title: str = "Absorbed dose per volume of interest") -> dict[str, Path]:
    """Write dose map (NRRD), RTDOSE (if a DICOM reference exists), DVH/metrics CSV, JSON, PNGs, HTML (+PDF).

    ``sections`` (dicts with ``title``, ``header``, ``rows``, optional ``note``, ``row_classes``,
    ``left_columns``) are shown before the dose tables; ``failures``/``extra_warnings`` at the top;
    ``extra_json`` is merged into the JSON document. All files appear together or not at all (staged
    write). Returns name → final path.
    """
    import json

    from sirtkit import __version__
    from sirtkit.imaging import write_volume
    from sirtkit.report.plots_dose import plot_dose_overlay, plot_dvh
    from sirtkit.report.render import (
        atomic_write_text,
        figure_png,
        figure_to_data_uri,
        html_to_pdf,
        render_template,
    )
    from sirtkit.workflows._output import staged_output

    names: dict[str, str] = {
        "dose": f"{prefix}dose.nrrd", "dvh_csv": f"{prefix}dvh.csv", "metrics_csv": f"{prefix}metrics.csv",
        "json": f"{prefix}dosimetry.json", "dvh_png": f"{prefix}dvh.png", "overlay_png": f"{prefix}dose_slices.png",
        "html": f"{prefix}report.html",
    }
    written: dict[str, Path] = {}
    with staged_output(out_dir) as stage:
        write_volume(result.dose, stage / names["dose"], compress=False)
        if result.dvhs:
            dosimetry.write_dvh_csv(result.dvhs, stage / names["dvh_csv"])
        metrics = [v.metrics for v in result.voi_doses]
        if metrics:
            dosimetry.write_metrics_csv(metrics, stage / names["metrics_csv"])
            names["voi_table_csv"] = f"{prefix}voi_table.csv"
            _write_voi_table_csv(result, stage / names["voi_table_csv"])
        reference_file = result.provenance.get("dicom_reference_file")
        if reference_file:
            import pydicom

            reference = pydicom.dcmread(reference_file, stop_before_pixels=True)
            names["rtdose"] = f"{prefix}rtdose.dcm"
            if result.vois is not None and reference.get("NumberOfFrames") in (None, 1):
                # The VOIs as DICOM SEG on the emission series, so viewers and PACS show what was measured.
                from sirtkit.imaging import write_dicom_seg

                names["seg"] = f"{prefix}vois_seg.dcm"
                sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in result.dicom_sources]
                given = {n: m for n, m in result.vois.masks.items()
                         if n not in result.vois.derived and m.array.any()}
                write_dicom_seg(given, sources, stage / names["seg"], series_description="sirtkit dosimetry VOIs")
            dosimetry.write_rtdose(result.dose, stage / names["rtdose"], reference=reference,
                                   dose_comment=f"sirtkit {__version__} {result.case.engine.upper()} {result.provenance['nuclide']} SIRT; no RT Plan")
        from sirtkit.serialize import to_jsonable

        document = {**(to_jsonable(extra_json) if extra_json else {}), "dosimetry": result.summary()}
        atomic_write_text(stage / names["json"], json.dumps(document, indent=2, ensure_ascii=False))
        dvh_png = figure_png(plot_dvh(dvh_curves(result.dvhs), title=f"{title}: cumulative DVH")) if result.dvhs \
            else None
        contour_masks = {} if result.vois is None else {
            n: m for n, m in result.vois.masks.items() if result.vois.roles[n] in ("liver", "tumor", "lung", "perfused")}
        overlay_png = figure_png(plot_dose_overlay(result.dose, background=result.background, masks=contour_masks,
                                                   title=f"{title}: absorbed dose (Gy)"))
        figures = []
        if dvh_png is not None:
            (stage / names["dvh_png"]).write_bytes(dvh_png)
            figures.append({"title": "Dose–volume histograms", "uri": figure_to_data_uri(dvh_png)})
        (stage / names["overlay_png"]).write_bytes(overlay_png)
        figures.append({"title": "Dose map", "uri": figure_to_data_uri(overlay_png)})
        case = result.case
        method = [
            ("Engine", "voxel S-value convolution (Lanconelli 2012 kernels)" if case.engine == "vsv"
             else "local deposition (LDM)"),
            ("Nuclide / dose constant", f"{result.provenance['nuclide']} / "
                                        f"{result.provenance['dose_constant_gy_kg_per_gbq']} Gy·kg/GBq"),
            ("Density", str(result.provenance["density"])),
            ("Quantification", case.quantification),
            ("Emission image", str(case.emission)),
            ("Segmentation", str(case.segmentation) if case.segmentation else "–"),
            ("Dose grid", f"{result.dose.shape} voxels of "
                          f"{' × '.join(f'{s:.2f}' for s in result.dose.spacing_mm)} mm"),
        ]
        html = render_template(
            "dose.html.j2", title=title, subtitle=subtitle, version=__version__,
            generated=result.provenance["computed_at"], failures=list(failures or []),
            warnings=list(extra_warnings or []) + list(result.warnings), notes=list(result.notes),
            sections=list(sections or []), voi_title=voi_title,
            method=method, activity=_activity_rows(result.activity_summary), voi_header=VOI_TABLE_HEADER,
            voi_rows=[voi_table_row(v) for v in result.voi_doses], figures=figures,
            files=sorted(n for k, n in names.items() if k not in ("pdf",)),
        )
        atomic_write_text(stage / names["html"], html)
        if pdf:
            names["pdf"] = f"{prefix}report.pdf"
            html_to_pdf(html, stage / names["pdf"])
        staged = {k: v for k, v in names.items() if (stage / v).exists()}
    for key, name in staged.items():
        written[key] = Path(out_dir) / name
    return written
