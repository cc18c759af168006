"""Post-treatment dosimetry: emission image + segmentation (+ CT) + activity → dose map, DVHs, report.

Data flow (ARCHITECTURE.md): read emission (Bq/mL, or counts + delivered activity) → decay/time
handling → activity map at administration → dose (VSV or LDM, optional CT density) → DVH and metrics per
VOI → files (dose NRRD, RTDOSE when a DICOM reference exists, DVH/metrics CSV, JSON, pictures, HTML).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from sirtkit import dosimetry
from sirtkit._concurrent import Offloaded
from sirtkit.errors import InputError, UnitsError
from sirtkit.imaging import (
    activity_at_administration,
    activity_report,
    read_volume,
    resample_to,
    scale_to_delivered_activity,
)
from sirtkit.imaging.quantify import (
    PVE_FWHM_MULTIPLE,
    SYSTEM_FWHM_MM,
    RecoveryCurve,
    fwhm_problem,
    read_recovery_curve,
)
from sirtkit.imaging.segload import LoadedSegmentation, load_segmentation
from sirtkit.imaging.volume import Volume
from sirtkit.physics.nuclides import Nuclide, get_nuclide, implausible_activity_message
from sirtkit.physics.tissue import (
    CONVENTIONAL_LUNG_MASS_KG,
    LIVER_UNENHANCED_MAX_HU,
    LUNG_DENSITY_PLAUSIBLE_G_PER_ML,
    lung_mass_problem,
)
from sirtkit.planning.lung import LUNG_DOSE_LIMIT_SESSION_GY
from sirtkit.progress import ProgressCallback, report
from sirtkit.text import csv_row
from sirtkit.units import require_fraction
from sirtkit.workflows.vois import VoiSet, build_voi_set

__all__ = ["DoseCase", "DoseInputs", "DoseResult", "ImagingCaseChecks", "VoiDose", "read_dose_inputs", "run_dose"]

log = logging.getLogger(__name__)

# Largest plausible delivered activity per nuclide (GBq): MAX_PLAUSIBLE_ACTIVITY_GBQ, imported from
# physics.nuclides (one cited definition shared with planning).
# Smallest plausible delivered activity for SIRT, GBq: below 0.05 GBq (50 MBq; a Ho-166 scout is 250 MBq,
# the smallest segmental Y-90 treatments are a few hundred MBq) the number is almost surely GBq typed as
# TBq or a typo [K] — warned, not refused.
MIN_PLAUSIBLE_ACTIVITY_GBQ = 0.05
# Gross mismatch between segmentation and activity: more than 60 % of the image's counts outside liver and
# lungs means the segmentation is not on this image (shifted, another patient or series) [K, heuristic,
# three times the 20 % warning level below]: refused.
MISMATCH_REFUSAL_OUTSIDE_FRACTION = 0.60
# An image-derived lung shunt above 0.5 is not a treated patient (LSF > 0.20 contraindicates resin,
# CLINICAL.md §3): the lung and liver segments are almost surely swapped — refused. Between 0.20 and 0.50
# a loud warning.
SWAPPED_ROLES_LSF = 0.50
HIGH_IMAGE_LSF_WARNING = 0.20
# Whole livers below 400 mL are implausible in adults (adult liver 1.2–1.8 L; even after major hepatectomy
# the remnant is ≥ 20–30 % of ~1.5 L) [K]: warned — the liver segment may be partial or badly resampled.
MIN_PLAUSIBLE_LIVER_ML = 400.0
# Mean absorbed doses that no SIRT produces (Gy): a whole (normal) liver above 150 Gy is twice the EANM 2022
# whole-normal-liver limit of 75 Gy (90 Gy upper variant; Weber et al. EJNMMI 2022;49:1682, Table 2); tumour
# means above 3000 Gy exceed the highest glass-segmentectomy doses reported (several hundred to ~1000 Gy,
# EANM Table 2 ">400 Gy") by a wide margin [K]; lung means above 100 Gy are twice the 50 Gy cumulative
# limit. Such results are flagged as implausible (activity units, segmentation, roles).
IMPLAUSIBLE_MEAN_DOSE_GY: dict[str, float] = {
    "liver": 150.0, "normal_liver": 150.0, "tumor": 3000.0, "tumor_union": 3000.0, "lung": 100.0,
    "lung_union": 100.0,
}
# Misregistration probe: the liver ∪ lung segmentation is shifted by about 10 mm (≈ the FWHM of the emission
# images) along each axis; if a shift captures more than 5 % more of the image's counts, the segmentation is
# not centred on the activity it should hold [K, heuristic] and a loud warning names the shift.
ALIGNMENT_PROBE_MM = 10.0
ALIGNMENT_GAIN_WARNING_FRACTION = 0.05
# Single-session lung dose limit (TheraSphere IFU; CLINICAL.md §3): the one planning definition.
LUNG_DOSE_LIMIT_GY = LUNG_DOSE_LIMIT_SESSION_GY
# Activity outside liver + lungs above this fraction suggests extrahepatic deposition, free
# pertechnetate or a segmentation problem (Taranis warns at 20 %, CLINICAL.md §3 "Timing").
EXTRAHEPATIC_WARNING_FRACTION = 0.20
# Negative emission values (reconstruction undershoot) are set to 0; above 1 % of the positive total this is
# reported as a warning rather than a note (a sign of a wrong rescale or of padding values).
NEGATIVE_WARNING_FRACTION = 0.01
# Partial-volume caveat: VOIs with an equivalent-sphere diameter below PVE_FWHM_MULTIPLE × the system FWHM
# (sirtkit.imaging.quantify, cited there) are under-estimated; roles whose VOIs are unions are not checked.
PVE_SKIP_ROLES = ("tumor_union", "lung_union", "body", "other")
# Absolute quantification: the image's total activity at administration is compared with the delivered
# activity (or, when none is given, the DICOM RadionuclideTotalDose). Tolerance 25 %: Y-90 PET recovers the
# activity of large volumes within about ±10–15 % across scanners (multi-centre QUEST phantom study,
# Willowson et al., EJNMMI Phys 2015;2:1), vial calibration and the unmeasured residual add ±10 % (EANM
# guideline, Weber et al., EJNMMI 2022;49:1682); beyond 25 % a unit, scaling, timing or field-of-view error
# is more likely than measurement uncertainty.
ACTIVITY_AGREEMENT_TOLERANCE_FRACTION = 0.25
# Beyond these ratios (image ÷ delivered) the numbers cannot both be right: more than 3× the delivered
# activity is physically impossible, less than a tenth means a scaling/unit error (a missing RescaleSlope is
# ~100×) or an activity in the wrong unit. Refused (exit 2) when the user gave the delivered activity.
ACTIVITY_IMPOSSIBLE_RATIO = (0.1, 3.0)
# Injection times from DICOM and from --administration-time should agree; 30 min is 0.5 % of Y-90 activity
# (T½ 64.1 h) — a larger difference is a wrong time, date or timezone, not rounding.
ADMINISTRATION_TIME_AGREEMENT = timedelta(minutes=30)
# Quantities that are not emission images (a CT or a dose map given as the emission image).
_NOT_EMISSION = {"ct": "a CT (values in HU)", "dose": "a dose map (Gy)", "mask": "a mask"}



class ImagingCaseChecks(BaseModel):
    """Checks shared by the image workflows' inputs (:class:`DoseCase`, ``ImagePlanCase``): a lung shunt
    fraction in 0–1, a plausible whole-lung mass, a plausible system resolution (FWHM) and an IANA timezone."""

    @field_validator("lung_shunt_fraction", check_fields=False)
    @classmethod
    def _lsf(cls, value: float | None) -> float | None:
        return None if value is None else require_fraction(value, "lung_shunt_fraction")

    @field_validator("lung_mass_kg", check_fields=False)
    @classmethod
    def _lung_mass(cls, value: float | None) -> float | None:
        message = None if value is None else lung_mass_problem(value, "lung_mass_kg")
        if message is not None:
            raise ValueError(message)
        return value

    @field_validator("fwhm_mm", check_fields=False)
    @classmethod
    def _fwhm(cls, value: float | None) -> float | None:
        message = None if value is None else fwhm_problem(value, "fwhm_mm")
        if message is not None:
            raise ValueError(message)
        return value

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _iana_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA timezone name such as Europe/Amsterdam or America/New_York") \
                from None
        return value


class DoseCase(ImagingCaseChecks):
    """Inputs of a post-treatment (or predictive) dosimetry run; shared by CLI, web and batch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    emission: Path = Field(description="Y-90 PET / bremsstrahlung or MAA SPECT: NRRD, NIfTI or DICOM folder")
    segmentation: Path | None = Field(default=None, description="Slicer .seg.nrrd, label map, DICOM SEG or RTSTRUCT")
    ct: Path | None = Field(default=None, description="CT for density correction and display (optional)")
    rtstruct_image: Path | None = Field(
        default=None, description="image an RTSTRUCT was drawn on when it is not `ct` (used for nothing else)")
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
    timezone: str | None = Field(
        default=None, description="IANA zone (e.g. Europe/Amsterdam) of DICOM times that carry no offset")
    series_uid: str | None = Field(default=None, description="SeriesInstanceUID of the emission series in a mixed folder")
    voi_roles: dict[str, str] = Field(default_factory=dict)
    segment_labels: dict[int, str] | None = Field(
        default=None, description="label-map segmentations: {label value: segment name}")
    dose_thresholds_gy: tuple[float, ...] = (40.0, 70.0, 100.0, 120.0, 150.0, 205.0)
    lung_mass_kg: float | None = Field(
        default=None,
        description="whole-lung mass without CT; default the conventional 1.0 kg (a CT gives the lung mass)")
    ct_contrast: Literal["auto", "none", "enhanced"] = Field(
        default="auto", description="CT with iodinated contrast? auto: liver median above 90 HU")
    emission_modality: Literal["y90_pet", "bremsstrahlung_spect", "tc99m_spect", "ho166_spect"] | None = Field(
        default=None, description="imaging system, for the default FWHM (from DICOM Modality when not given)")
    fwhm_mm: float | None = Field(default=None,
                                  description="system spatial resolution for the partial-volume warning, mm")
    recovery_curve: Path | None = Field(
        default=None, description="CSV volume_ml|diameter_mm,recovery_coefficient: RC-corrected tumour means")



    @field_validator("delivered_activity_gbq")
    @classmethod
    def _positive_activity(cls, value: float | None) -> float | None:
        if value is not None and not value > 0:
            raise ValueError("must be a positive activity in GBq")
        return value

    @model_validator(mode="after")
    def _mode_inputs(self) -> DoseCase:
        if self.quantification == "relative" and self.delivered_activity_gbq is None:
            raise ValueError("relative quantification needs delivered_activity_gbq (vial − residual, GBq)")
        if self.quantification == "relative" and self.segmentation is None:
            raise ValueError("relative quantification needs a segmentation with the liver")
        if self.quantification == "absolute" and self.administration_time is None:
            raise ValueError("absolute quantification needs administration_time (with a timezone)")
        if self.delivered_activity_gbq is not None:
            message = implausible_activity_message(self.delivered_activity_gbq, "delivered_activity_gbq", self.nuclide)
            if message is not None:
                raise ValueError(message)
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
    density_source: str = ""
    recovery_coefficient: float | None = None
    mean_gy_recovery_corrected: float | None = None


# The report title write_dose_outputs uses unless given another (sirtkit dose).
DOSE_REPORT_TITLE = "Post-treatment dosimetry"
# VOI roles outlined on the dose-map figure.
CONTOURED_ROLES = ("liver", "tumor", "lung", "perfused")


@dataclass(frozen=True)
class DoseFigures:
    """The report's two figures (PNG), started as soon as their data exists — in the command's worker
    process when it has one (:func:`sirtkit._concurrent.offload`), else drawn at once — for the report
    ``title`` they carry."""

    title: str
    overlay: Offloaded[bytes]
    dvh: Offloaded[bytes] | None


def _overlay_figure(title: str, dose: Volume, background: Volume | None, vois: VoiSet | None) -> Offloaded[bytes]:
    from sirtkit._concurrent import offload
    from sirtkit.report.plots_dose import draw_dose_overlay, overlay_views
    from sirtkit.report.render import figure_png_of

    masks = {} if vois is None else {n: m for n, m in vois.masks.items() if vois.roles[n] in CONTOURED_ROLES}
    return offload(figure_png_of, draw_dose_overlay, overlay_views(dose, background=background, masks=masks),
                   title=f"{title}: absorbed dose (Gy)")


def _dvh_figure(title: str, dvhs: Mapping[str, dosimetry.Dvh]) -> Offloaded[bytes] | None:
    from sirtkit._concurrent import offload
    from sirtkit.report.plots_dose import plot_dvh
    from sirtkit.report.render import figure_png_of

    return offload(figure_png_of, plot_dvh, dvh_curves(dvhs), title=f"{title}: cumulative DVH") if dvhs else None


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
    figures: DoseFigures | None = None

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


def _liver_and_lungs(case: DoseCase, vois: VoiSet, notes: list[str],
                     warnings: list[str] | None = None) -> dict[str, Volume]:
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
        notes.append("Liver = normal liver (empty whole-liver segment) ∪ tumours.")
    if not np.any(liver):
        names = vois.names_with_role("liver") or vois.names_with_role("normal_liver")
        raise InputError(
            f"{case.segmentation}: the liver segment ({', '.join(names)}) is empty on the emission grid: relative "
            "quantification would put the whole delivered activity into the tumours. Check that the segmentation "
            "belongs to this image (frame of reference, position) and that the liver label is right (--voi-role)")
    tumours = vois.union("tumor")
    if tumours is not None:
        # build_voi_set already added "Whole liver (incl. tumours)" when a label map's liver label leaves the
        # tumours out (and said so in vois.notes); the union here only adds stray boundary voxels.
        liver = liver | tumours
    reference = next(iter(vois.masks.values()))
    liver_ml = float(np.count_nonzero(liver)) * reference.voxel_volume_ml
    if warnings is not None and liver_ml < MIN_PLAUSIBLE_LIVER_ML:
        warnings.append(
            f"IMPLAUSIBLE LIVER: the liver segment (incl. tumours) is {liver_ml:.0f} mL on the emission grid, less than "
            f"any adult liver (≥ {MIN_PLAUSIBLE_LIVER_ML:.0f} mL): relative quantification puts the delivered activity "
            "into it, so doses are too high if it is partial. Check the segmentation and its resampling.")
    compartments = {"liver": reference.with_array(liver)}
    lung = vois.union("lung")
    if lung is not None:
        compartments["lung"] = reference.with_array(lung)
    return compartments


def _reference_time(case: DoseCase, emission: Volume, notes: list[str], warnings: list[str]) -> datetime:
    """When the image's Bq/mL apply: DICOM timing, ``--image-time``, or the administration (ADMIN, TM only)."""
    assert case.administration_time is not None
    meta = emission.metadata
    admin = case.administration_time
    dicom_ref = meta.get("reference_datetime")
    problem = meta.get("timing_problem")
    rp_start = meta.get("radiopharmaceutical_start")
    if rp_start is not None and abs(rp_start - admin) > ADMINISTRATION_TIME_AGREEMENT:
        warnings.append(
            f"The DICOM injection time (RadiopharmaceuticalStartDateTime {rp_start.isoformat()}) and "
            f"--administration-time ({admin.isoformat()}) differ by {_hours(rp_start - admin)}: --administration-time "
            "is used; check the date and the timezone of both")
    if case.image_reference_time is not None:
        if dicom_ref is not None and abs(dicom_ref - case.image_reference_time) > ADMINISTRATION_TIME_AGREEMENT:
            warnings.append(
                f"--image-time {case.image_reference_time.isoformat()} overrides the DICOM reference time "
                f"{dicom_ref.isoformat()} ({meta.get('decay_correction')}), {_hours(case.image_reference_time - dicom_ref)} "
                "apart")
        return case.image_reference_time
    if dicom_ref is not None:
        notes.append(f"Image values apply at {dicom_ref.isoformat()} (DecayCorrection {meta.get('decay_correction')}, "
                     f"from {meta.get('scan_start_source') or 'the injection time'}; timezone from "
                     f"{meta.get('timezone_source') or 'the file'}).")
        return dicom_ref
    time_only = meta.get("radiopharmaceutical_start_time_only")
    if meta.get("decay_correction") == "ADMIN" and time_only is not None:
        # Values decay-corrected to the injection; the DICOM gives its time of day only. The date comes from
        # --administration-time (never guessed from the scan date: scans are often days later).
        zone = _zone(case.timezone) or admin.tzinfo
        local = admin.astimezone(zone)
        candidates = [datetime.combine(local.date() + timedelta(days=d), time_only, tzinfo=zone) for d in (-1, 0, 1)]
        reference: datetime = min(candidates, key=lambda c: abs(c - admin))
        if abs(reference - admin) > ADMINISTRATION_TIME_AGREEMENT:
            warnings.append(
                f"DecayCorrection ADMIN to the DICOM injection time {time_only.isoformat()} (time of day only), but "
                f"--administration-time is {local.time().isoformat(timespec='minutes')}: the image is taken at the "
                "DICOM time on the --administration-time date; check both")
        notes.append(f"The DICOM injection time has no date (RadiopharmaceuticalStartTime only): its date was taken "
                     f"from --administration-time ({reference.isoformat()}).")
        return reference
    if problem and "timezone" in problem:
        raise InputError(
            f"{case.emission}: {problem}, so the scan time is unknown: give --timezone with the scanner's IANA "
            "zone (e.g. --timezone Europe/Amsterdam; daylight saving is applied by date), or --image-time with "
            "the time the Bq/mL values apply — or use --quantification relative, which needs no clock")
    raise InputError(
        f"{case.emission}: {problem or 'the file does not say when its Bq/mL values apply'}: give --image-time "
        "(e.g. the scan start if decay-corrected to START), or use --quantification relative")


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:+.2f} h"


def _zone(name: str | None) -> Any:
    if name is None:
        return None
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _check_total_activity(case: DoseCase, emission: Volume, activity: Volume, notes: list[str],
                          warnings: list[str]) -> None:
    """Image total at administration vs the delivered (or DICOM-declared) activity; refuse impossible ratios."""
    total_gbq = activity.total() / 1e9
    declared_bq = emission.metadata.get("radionuclide_total_dose_bq")
    if case.delivered_activity_gbq is not None:
        expected_gbq, source = case.delivered_activity_gbq, "--delivered-activity-gbq"
    elif declared_bq:
        expected_gbq, source = declared_bq / 1e9, "the DICOM RadionuclideTotalDose (0018,1074)"
    else:
        notes.append(f"Image total at administration {total_gbq:.3f} GBq; no delivered activity given to compare "
                     "with (--delivered-activity-gbq).")
        return
    ratio = total_gbq / expected_gbq
    text = (f"the image holds {total_gbq:.3f} GBq at administration, {100 * ratio:.0f} % of the {expected_gbq:.3f} GBq "
            f"of {source}")
    low, high = ACTIVITY_IMPOSSIBLE_RATIO
    if source.startswith("--") and not low <= ratio <= high:
        raise InputError(
            f"{case.emission}: {text}: both cannot be right — check the image scaling (units, RescaleSlope, "
            "the series given) and --delivered-activity-gbq (GBq, not MBq or mCi), or use --quantification relative")
    if abs(ratio - 1.0) > ACTIVITY_AGREEMENT_TOLERANCE_FRACTION:
        warnings.append(
            f"Absolute quantification: {text} (outside ±{100 * ACTIVITY_AGREEMENT_TOLERANCE_FRACTION:.0f} %): check "
            "the image calibration, timing and field of view before trusting the doses")
    else:
        notes.append(f"Absolute quantification check: {text} (within ±"
                     f"{100 * ACTIVITY_AGREEMENT_TOLERANCE_FRACTION:.0f} %).")


def _check_emission_kind(case: DoseCase, emission: Volume) -> None:
    """Refuse a CT (or dose map, mask) given as the emission image."""
    modality = emission.metadata.get("modality")
    kind = _NOT_EMISSION.get(emission.quantity) or ("a CT (values in HU)" if emission.unit == "HU" else None)
    if kind is not None or modality == "CT":
        raise UnitsError(
            f"{case.emission}: the emission image is {kind or 'a CT'}"
            + (f" (Modality {modality})" if modality else "")
            + ", not a PET or SPECT: give the emission series as the image and the CT with --ct")


def _activity_map(case: DoseCase, emission: Volume, vois: VoiSet | None, notes: list[str],
                  warnings: list[str] | None = None) -> tuple[Volume, Any]:
    nuclide = get_nuclide(case.nuclide)
    warn = warnings if warnings is not None else notes
    if case.quantification == "relative":
        assert vois is not None and case.delivered_activity_gbq is not None  # guaranteed by DoseCase
        compartments = _liver_and_lungs(case, vois, notes, warnings)
        activity, summary = scale_to_delivered_activity(
            emission, compartments, delivered_activity_gbq=case.delivered_activity_gbq,
            lung_shunt_fraction=case.lung_shunt_fraction)
        _check_relative_match(case, summary, warn)
        _check_alignment(emission, compartments, warn)
        with_lungs = "lung" in compartments
        notes.append(
            f"Patient-relative quantification: image scaled so that liver{' + lungs' if with_lungs else ''} "
            f"{'hold' if with_lungs else 'holds'} the delivered {case.delivered_activity_gbq:.3f} GBq.")
        notes.append(_lsf_sentence(summary))
        return activity, summary
    # absolute
    assert case.administration_time is not None
    if emission.unit != "Bq/mL":
        problem = emission.metadata.get("unit_problem")
        raise UnitsError(
            f"{case.emission}: values are {emission.unit!r}"
            + (f" ({problem})" if problem else "")
            + ", absolute quantification needs Bq/mL: "
            + ("" if emission.metadata.get("modality") else
               "if the file holds Bq/mL but does not say so (NRRD, NIfTI), give --emission-unit Bq/mL; otherwise ")
            + "use --quantification relative with --delivered-activity-gbq")
    reference_time = _reference_time(case, emission, notes, warn)
    emission = emission.with_array(emission.array, metadata={**emission.metadata, "reference_datetime": reference_time})
    if reference_time < case.administration_time:
        raise InputError(
            f"the image's values refer to {reference_time.isoformat()}, before the administration at "
            f"{case.administration_time.isoformat()}: check both times (and their time zones)")
    activity = activity_at_administration(emission, administration_time=case.administration_time,
                                          nuclide=nuclide)
    notes.append("Absolute quantification: Bq/mL decayed back to the administration time.")
    _check_total_activity(case, emission, activity, notes, warn)
    if vois is None:
        return activity, None
    compartments = _liver_and_lungs(case, vois, notes, warnings)
    _check_alignment(activity, compartments, warn)
    return activity, activity_report(activity, compartments)


def _lsf_sentence(summary: Any) -> str:
    """The lung shunt fraction used, its source, and the image-derived and given values side by side."""
    used = getattr(summary, "lung_shunt_fraction_used", None)
    if used is None:
        return "Lung shunt fraction: not applicable."
    image = getattr(summary, "lung_shunt_fraction_image", None)
    given = getattr(summary, "lung_shunt_fraction_given", None)
    source = getattr(summary, "lung_shunt_fraction_source", "")
    rule = {"given": "the given LSF (a given LSF always takes precedence over the image's lung counts)",
            "image": "the image-derived LSF (no LSF given)",
            "assumed 0": "0 (no lung counts and no LSF given)"}.get(str(source), str(source))
    image_txt = "–" if image is None else f"{image:.4f}"
    given_txt = "–" if given is None else f"{given:.4f}"
    return f"Lung shunt fraction used: {used:.4f} = {rule}; image-derived {image_txt}, given {given_txt}."


def _check_alignment(emission: Volume, compartments: dict[str, Volume], warnings: list[str]) -> None:
    """Warn when shifting the liver ∪ lung segmentation by ~10 mm captures clearly more counts."""
    values = np.asarray(emission.array, dtype=np.float64)
    if np.any(values < 0):  # the workflows clip negatives first; a full-size copy only when still needed
        values = np.clip(values, 0.0, None)
    union = np.zeros(emission.shape, dtype=bool)
    for m in compartments.values():
        union |= np.asarray(m.array, dtype=bool)
    base = float(values[union].sum())
    if base <= 0:
        return
    best = (0.0, 0, 0)
    for axis, spacing in enumerate(emission.spacing_mm):
        step = max(1, round(ALIGNMENT_PROBE_MM / spacing))
        if step >= emission.shape[axis]:
            continue
        for sign in (-1, 1):
            gain = float(values[np.roll(union, sign * step, axis=axis)].sum()) / base - 1.0
            if gain > best[0]:
                best = (gain, axis, sign * step)
    if best[0] > ALIGNMENT_GAIN_WARNING_FRACTION:
        gain, axis, step = best
        axis_name = ("slice", "row", "column")[axis]
        warnings.append(
            f"SEGMENTATION MISALIGNED: shifting the liver and lung segments by {step * emission.spacing_mm[axis]:+.0f} mm "
            f"along the image's {axis_name} axis captures {100 * gain:.0f} % more counts: the segmentation is probably "
            "not registered to this image. Check the registration before using these doses")


def _check_relative_match(case: DoseCase, summary: Any, warnings: list[str]) -> None:
    """Refuse gross segmentation/activity mismatches; warn loudly on suspicious ones."""
    image_lsf = getattr(summary, "lung_shunt_fraction_image", None)
    if image_lsf is not None and image_lsf > SWAPPED_ROLES_LSF:
        raise InputError(
            f"{case.segmentation}: the lung segment holds {100 * image_lsf:.0f} % of the liver + lung counts — no "
            "treated patient shunts that much (LSF > 0.20 contraindicates SIRT): liver and lung roles look swapped. "
            "Check the segment names and --voi-role")
    if image_lsf is not None and image_lsf > HIGH_IMAGE_LSF_WARNING:
        warnings.append(
            f"SUSPICIOUS LUNG COUNTS: the image-derived lung shunt fraction is {image_lsf:.3f} (> "
            f"{HIGH_IMAGE_LSF_WARNING:.2f}, a contraindication for SIRT): check the lung segment and its role, and the "
            "scatter in the lungs" + ("" if case.lung_shunt_fraction is not None else
                                      "; give the measured LSF with --lung-shunt-fraction (it takes precedence)"))
    outside = getattr(summary, "outside_liver_and_lungs_fraction", None)
    if outside is not None and outside > MISMATCH_REFUSAL_OUTSIDE_FRACTION:
        raise InputError(
            f"{case.segmentation}: {100 * outside:.0f} % of the image's counts lie outside the liver and lung segments "
            f"(> {100 * MISMATCH_REFUSAL_OUTSIDE_FRACTION:.0f} %): the segmentation does not match this image "
            "(shifted, another series or patient, or roles wrong). Register or re-segment, then run again")
    if case.delivered_activity_gbq is not None and case.delivered_activity_gbq < MIN_PLAUSIBLE_ACTIVITY_GBQ:
        warnings.append(
            f"IMPLAUSIBLE ACTIVITY: delivered {case.delivered_activity_gbq * 1000:.1f} MBq is less than any SIRT "
            f"treatment (≥ {MIN_PLAUSIBLE_ACTIVITY_GBQ * 1000:.0f} MBq): check the unit of --delivered-activity-gbq")


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


def _liver_region(vois: VoiSet | None) -> np.ndarray | None:
    """Liver ∪ normal liver ∪ tumours (the soft tissue whose density is the liver's), or None."""
    if vois is None:
        return None
    parts = [m for m in (vois.union("liver"), vois.union("normal_liver"), vois.union("tumor")) if m is not None]
    if not parts:
        return None
    out = np.zeros_like(parts[0], dtype=bool)
    for m in parts:
        out |= m
    return out


def _density(case: DoseCase, grid: Volume, vois: VoiSet | None, ct: Volume | None, notes: list[str],
             warnings: list[str]) -> tuple[Volume, np.ndarray | None, dict[str, Any]]:
    """Density map (g/mL) on the dose grid, the lung-voxel mask (lung segments outside the liver) and provenance.

    * liver and all soft tissue: 1.03 g/mL (``density="uniform"``) or the calibrated CT density
      (``density="ct"``, Schneider et al. 2000, contrast-enhanced soft tissue read as unenhanced);
    * lung segments: never liver density — their CT density when a CT is given (any ``density``), otherwise
      the conventional whole-lung mass of 1 kg (or ``lung_mass_kg``) spread over the lung segment.
    """
    info: dict[str, Any] = {}
    ct_grid = None if ct is None else resample_to(ct, grid, interpolation="linear", fill_value=-1000.0)
    liver = _liver_region(vois)
    contrast = case.ct_contrast == "enhanced"
    if ct_grid is not None and liver is not None and np.any(liver) and case.ct_contrast == "auto":
        median_hu = float(np.median(np.asarray(ct_grid.array)[liver]))
        if median_hu > LIVER_UNENHANCED_MAX_HU:
            contrast = True
            (warnings if case.density == "ct" else notes).append(
                f"CONTRAST-ENHANCED CT: the liver's median CT number is {median_hu:.0f} HU (unenhanced liver reads "
                f"≤ {LIVER_UNENHANCED_MAX_HU:.0f} HU): soft tissue of 23–300 HU is read as unenhanced (1.031 g/mL), "
                "since iodine raises attenuation, not mass density. Give --ct-contrast none if the CT is unenhanced.")
    info["ct_contrast"] = "enhanced" if contrast else ("none" if ct_grid is not None else None)
    if case.density == "ct":
        if ct_grid is None:
            raise InputError("density 'ct' needs a CT (--ct)")
        density = dosimetry.density_from_ct(ct_grid, contrast_enhanced=contrast)
        rho = np.asarray(density.array, dtype=np.float32).copy()
        info["density"] = f"CT-derived ({density.metadata['density_calibration']})"
        if liver is not None and np.any(liver):
            liver_rho = float(np.mean(rho[liver]))
            info["liver_mean_density_g_per_ml"] = liver_rho
            notes.append(f"Liver mean density from CT: {liver_rho:.3f} g/mL (planning uses "
                         f"{dosimetry.LIVER_DENSITY_G_PER_ML} g/mL: doses differ by {100 * (dosimetry.LIVER_DENSITY_G_PER_ML / liver_rho - 1):+.1f} %).")
    else:
        rho = np.full(grid.shape, dosimetry.LIVER_DENSITY_G_PER_ML, dtype=np.float32)
        info["density"] = f"uniform {dosimetry.LIVER_DENSITY_G_PER_ML} g/mL (liver and soft tissue)"
    lung = None if vois is None else vois.union("lung")
    if lung is not None and liver is not None:
        lung = lung & ~liver  # a voxel in both is liver (CLINICAL.md §3)
    if lung is not None and np.any(lung):
        voxel_ml = grid.voxel_volume_ml
        if ct_grid is not None:
            rho[lung] = dosimetry.density_from_ct(ct_grid).array[lung]
            mass_kg = float(np.sum(rho[lung], dtype=np.float64)) * voxel_ml / 1000.0
            info["lung_mass_source"] = "CT (Schneider et al. 2000 calibration; Kao et al. EJNMMI Res 2014)"
        else:
            mass_kg = case.lung_mass_kg if case.lung_mass_kg is not None else CONVENTIONAL_LUNG_MASS_KG
            lung_ml = float(np.count_nonzero(lung)) * voxel_ml
            implied = mass_kg * 1000.0 / lung_ml
            rho[lung] = implied
            info["lung_mass_source"] = ("given (--lung-mass-kg)" if case.lung_mass_kg is not None else
                                        "conventional 1 kg whole-lung mass (MIRD lung dose; no CT)")
            lo, hi = LUNG_DENSITY_PLAUSIBLE_G_PER_ML
            if not lo <= implied <= hi:
                warnings.append(
                    f"LUNG SEGMENT: {lung_ml:.0f} mL with a {mass_kg:g} kg lung mass implies {implied:.2f} g/mL, outside "
                    f"the {lo:g}–{hi:g} g/mL of lung tissue: the segment does not hold the whole lungs (e.g. only the "
                    "lung bases are in the field of view), so the lung mean dose is not the MIRD whole-lung dose. Give "
                    "--ct for the lung density, or report the lung dose from the lung shunt fraction.")
        info["lung_mass_kg"] = mass_kg
        notes.append(f"Lung VOIs: mass {mass_kg:.3f} kg ({info['lung_mass_source']}); lung voxels are dosed by local "
                     "deposition at lung density (soft-tissue kernels do not apply in lung), so the lung mean dose is "
                     "K·A_lung/M_lung.")
    elif lung is not None:
        lung = None
    density_volume = grid.with_array(rho, quantity="density", unit="g/mL")
    return density_volume, lung, info


def _emission_modality(case: DoseCase, emission: Volume, notes: list[str]) -> str:
    """The imaging system, for the default FWHM: given, else from DICOM Modality and the nuclide, else assumed."""
    if case.emission_modality is not None:
        return case.emission_modality
    dicom = str(emission.metadata.get("modality") or "")
    if case.nuclide == "Ho-166":
        modality = "ho166_spect"
    elif dicom == "PT":
        modality = "y90_pet"
    elif dicom == "NM":
        modality = "bremsstrahlung_spect"
    else:
        modality = "y90_pet" if emission.unit == "Bq/mL" else "bremsstrahlung_spect"
        notes.append(f"Imaging system not stated: assumed {modality.replace('_', ' ')} for the resolution "
                     "(give --emission-modality or --fwhm-mm).")
    return modality


def _partial_volume(case: DoseCase, name: str, role: str, mean_gy: float, volume_ml: float, fwhm_mm: float,
                    curve: RecoveryCurve | None, notes: list[str], warnings: list[str]) -> tuple[float | None, float | None]:
    """PVE warning by resolution and, when a curve is given, the labelled RC-corrected mean (tumours only)."""
    if role in PVE_SKIP_ROLES:
        return None, None
    diameter_mm = (6.0 * volume_ml / np.pi) ** (1.0 / 3.0) * 10.0
    if diameter_mm < PVE_FWHM_MULTIPLE * fwhm_mm:
        warnings.append(
            f"PARTIAL VOLUME: {name} ({volume_ml:.1f} mL, {diameter_mm:.0f} mm across) is smaller than "
            f"{PVE_FWHM_MULTIPLE:g} × the system resolution ({PVE_FWHM_MULTIPLE:g} × {fwhm_mm:g} mm FWHM): its dose is "
            "under-estimated by partial-volume effects"
            + ("" if curve is not None else " (no recovery correction applied; give --recovery-curve to add one)"))
    if curve is None or role != "tumor":
        return None, None
    rc = curve.at(volume_ml)
    if rc is None:
        notes.append(f"{name}: {volume_ml:.2f} mL is outside the recovery curve ({curve.volumes_ml[0]:g}–"
                     f"{curve.volumes_ml[-1]:g} mL, {curve.source}): no recovery correction (not extrapolated).")
        return None, None
    corrected = mean_gy / rc
    notes.append(f"RECOVERY-CORRECTED (user curve {curve.source}): {name} mean {corrected:.1f} Gy = measured "
                 f"{mean_gy:.1f} Gy / RC {rc:.3f}; the tables show the uncorrected dose.")
    return rc, corrected


def _plausibility(voi_doses: list[VoiDose], warnings: list[str]) -> None:
    """Loud warnings for mean doses no SIRT produces, and for lungs above the single-session limit."""
    for v in voi_doses:
        limit = IMPLAUSIBLE_MEAN_DOSE_GY.get(v.role)
        if limit is not None and v.metrics.mean_gy > limit:
            warnings.append(
                f"IMPLAUSIBLE DOSE: {v.name} ({v.role.replace('_', ' ')}) mean {v.metrics.mean_gy:.0f} Gy exceeds "
                f"{limit:g} Gy, more than any SIRT delivers: check the activity unit (GBq, not mCi or MBq), the "
                "segmentation and its roles before using these numbers")
        elif v.role in ("lung", "lung_union") and v.metrics.mean_gy > LUNG_DOSE_LIMIT_GY:
            warnings.append(f"LUNG DOSE: {v.name} mean {v.metrics.mean_gy:.1f} Gy exceeds the {LUNG_DOSE_LIMIT_GY:g} Gy "
                            "single-session limit (TheraSphere IFU)")


def _dose_map(case: DoseCase, activity: Volume, nuclide: Nuclide, density: Volume, lung_voxels: np.ndarray | None,
              progress: ProgressCallback | None) -> Volume:
    """Dose by the case's engine; lung voxels always by local deposition at their lung density.

    With VSV the lung activity is taken out of the convolution (it is deposited locally, so it is not
    counted twice); the soft-tissue electrons of liver activity that would reach lung voxels are dropped
    there (a thin boundary layer; the lung mean stays K·A_lung/M_lung).
    """
    if case.engine == "vsv":
        def sub(fraction: float, message: str) -> None:
            report(progress, 0.30 + 0.55 * fraction, message)

        soft = activity if lung_voxels is None else activity.with_array(
            np.where(lung_voxels, 0.0, np.asarray(activity.array)))
        dose = dosimetry.dose_vsv(soft, nuclide=nuclide, density_g_per_ml=density, progress=sub)
        if lung_voxels is not None:
            ldm = dosimetry.dose_ldm(activity, nuclide=nuclide, density_g_per_ml=density)
            dose = dose.with_array(np.where(lung_voxels, ldm.array, dose.array).astype(dose.array.dtype))
        return dose
    return dosimetry.dose_ldm(activity, nuclide=nuclide, density_g_per_ml=density)


def _mird_lung_note(case: DoseCase, summary: Any, nuclide: Nuclide, lung_voxels: np.ndarray | None,
                    notes: list[str]) -> None:
    """Without a lung segment, the MIRD lung dose K·A·LSF/M_lung from the LSF used (CLINICAL.md §3)."""
    lsf = getattr(summary, "lung_shunt_fraction_used", None)
    if lung_voxels is not None or not lsf or case.delivered_activity_gbq is None:
        return
    mass = case.lung_mass_kg if case.lung_mass_kg is not None else CONVENTIONAL_LUNG_MASS_KG
    dose = nuclide.dose_constant_gy_kg_per_gbq * case.delivered_activity_gbq * lsf / mass
    notes.append(f"No lung segment: MIRD lung dose {nuclide.dose_constant_gy_kg_per_gbq:g} × "
                 f"{case.delivered_activity_gbq:.3f} GBq × LSF {lsf:.4f} / {mass:g} kg = {dose:.1f} Gy.")


# The DoseCase fields that decide what read_dose_inputs reads: inputs read for one case serve another only
# when these agree (image-based planning reads once for its plan and for its predicted dose).
_INPUT_FIELDS = ("emission", "segmentation", "ct", "rtstruct_image", "emission_unit", "timezone", "series_uid",
                 "nuclide", "segment_labels")


@dataclass(frozen=True)
class DoseInputs:
    """The images a dose is computed from, read and checked once (:func:`read_dose_inputs`).

    ``emission`` has its negative values set to 0; ``segmentation`` is ``None`` without one. ``notes`` and
    ``warnings`` are those of the reading (they go into the dose result's). ``key`` holds the case fields
    they were read for (:data:`_INPUT_FIELDS`).
    """

    key: tuple[Any, ...]
    emission: Volume
    ct: Volume | None
    segmentation: LoadedSegmentation | None
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    # The VSV kernel for the emission grid, computed in the background while the segmentation is read
    # (get_kernel caches it; the dose step waits for it, and computes it itself if this failed).
    kernel_ready: Future[Any] | None = None


def _input_key(case: DoseCase) -> tuple[Any, ...]:
    return tuple(getattr(case, name) for name in _INPUT_FIELDS)


def read_dose_inputs(case: DoseCase, *, keep_native: bool = False,
                     progress: ProgressCallback | None = None) -> DoseInputs:
    """Read and check the emission image, the CT and the segmentation of ``case``.

    ``keep_native`` keeps the segmentation's masks on their own grid as well (image-based planning measures
    compartment volumes on them); a dose needs only their volumes.

    Raises
    ------
    InputError
        Unreadable files, a CT given as the emission image, inconsistent units or timing; the message says
        what to give instead.
    """
    notes: list[str] = []
    warnings: list[str] = []
    report(progress, 0.02, "reading emission image")
    quantity = None if case.emission_unit is None else (
        "activity_concentration" if case.emission_unit == "Bq/mL" else "counts")
    zone = _zone(case.timezone)
    emission = read_volume(case.emission, quantity=quantity, unit=case.emission_unit, assume_timezone=zone,
                           series_instance_uid=case.series_uid, expected_nuclide=case.nuclide,
                           modalities=None if case.series_uid else ("PT", "NM"),
                           choose_hint="choose one with --series-uid UID")
    _check_emission_kind(case, emission)
    notes.extend(f"Emission image: {n}" for n in emission.metadata.get("read_notes") or ())
    warnings.extend(f"Emission image: {w}" for w in emission.metadata.get("read_warnings") or ())
    if emission.metadata.get("missing_type2"):
        notes.append("The emission series has no " + ", ".join(emission.metadata["missing_type2"])
                     + " (optional DICOM attributes; DICOM outputs carry them empty).")
    emission = _clip_negative(emission, notes, warnings)
    kernel_ready = None
    if case.engine == "vsv":  # both nuclides of a DoseCase have kernels
        from sirtkit._concurrent import background
        from sirtkit.dosimetry.kernels import get_kernel

        kernel_ready = background(get_kernel, emission.spacing_mm, nuclide=case.nuclide)
    # The CT is read first: an RTSTRUCT is rasterised on the image its contours were drawn on (usually it).
    ct = None
    if case.ct is not None:
        if case.ct.is_dir():
            from sirtkit.imaging import read_dicom_series

            ct = read_dicom_series(case.ct, assume_timezone=zone, modalities=("CT",),
                                   choose_hint="give --ct the folder of one CT series")
        else:
            ct = read_volume(case.ct, assume_timezone=zone)
    if ct is not None and (ct.metadata.get("modality") not in (None, "CT") or ct.quantity not in ("ct", "unknown")):
        raise UnitsError(f"{case.ct}: --ct is {ct.metadata.get('modality') or ct.quantity}, not a CT; give the CT series")
    loaded = None
    if case.segmentation is not None:
        report(progress, 0.10, "reading segmentation")
        drawn_on = [read_volume(case.rtstruct_image)] if case.rtstruct_image is not None else []
        loaded = load_segmentation(case.segmentation, emission, labels=case.segment_labels,
                                   images=drawn_on + ([ct] if ct is not None else []), keep_native=keep_native)
        notes.extend(loaded.notes)
        warnings.extend(loaded.warnings)
    return DoseInputs(_input_key(case), emission, ct, loaded, tuple(notes), tuple(warnings), kernel_ready)


def run_dose(case: DoseCase, *, progress: ProgressCallback | None = None,
             inputs: DoseInputs | None = None, figures_title: str | None = None) -> DoseResult:
    """Compute the absorbed-dose map and per-VOI figures for ``case``.

    ``inputs``: the case's images already read by :func:`read_dose_inputs` (for this case, or for one that
    differs only in fields that do not change what is read — activity, LSF, lung mass, engine…); read here
    when not given. ``figures_title``: start the report's figures (:class:`DoseFigures`) for a report of
    this title as soon as their data exists (the command's worker process draws them while this goes on);
    :func:`write_dose_outputs` with the same title uses them.

    Raises
    ------
    InputError
        Unreadable files, missing liver segment, inconsistent units or timing; the message says
        what to give instead.
    ValueError
        ``inputs`` were read for other files or reading options (a programming error).
    """
    if inputs is None:
        inputs = read_dose_inputs(case, progress=progress)
    elif inputs.key != _input_key(case):
        raise ValueError("run_dose: the inputs were read for another case (files or reading options differ)")
    notes = list(inputs.notes)
    warnings = list(inputs.warnings)
    emission, ct, loaded = inputs.emission, inputs.ct, inputs.segmentation
    vois: VoiSet | None = None
    voi_volumes: list[dict[str, Any]] = []
    if loaded is not None:
        voi_volumes = [{"name": v.name, "own_grid_ml": v.own_grid_ml, "dose_grid_ml": v.dose_grid_ml,
                        "contour_ml": v.contour_ml} for v in loaded.volumes]
        vois = build_voi_set(loaded.masks, case.voi_roles)
        notes.extend(vois.notes)
    report(progress, 0.20, "quantifying activity")
    curve = read_recovery_curve(case.recovery_curve) if case.recovery_curve is not None else None
    activity, summary = _activity_map(case, emission, vois, notes, warnings)
    frac_out = getattr(summary, "outside_liver_and_lungs_fraction", None)
    if frac_out is not None and frac_out > EXTRAHEPATIC_WARNING_FRACTION:
        warnings.append(
            f"{100 * frac_out:.1f} % of the activity in the field of view lies outside liver and lungs "
            f"(> {100 * EXTRAHEPATIC_WARNING_FRACTION:.0f} %): check for extrahepatic deposition or segmentation")
    density, lung_voxels, density_info = _density(case, emission, vois, ct, notes, warnings)
    nuclide = get_nuclide(case.nuclide)
    report(progress, 0.30, f"computing dose ({case.engine.upper()})")
    if inputs.kernel_ready is not None:
        with contextlib.suppress(Exception):  # an error is raised, worded, where the dose step needs the kernel
            inputs.kernel_ready.result()
    dose = _dose_map(case, activity, nuclide, density, lung_voxels, progress)
    background = resample_to(ct, dose, interpolation="linear", fill_value=-1000.0) if ct is not None else emission
    overlay = None if figures_title is None else _overlay_figure(figures_title, dose, background, vois)
    _mird_lung_note(case, summary, nuclide, lung_voxels, notes)
    modality = _emission_modality(case, emission, notes)
    fwhm_mm = case.fwhm_mm if case.fwhm_mm is not None else SYSTEM_FWHM_MM[modality]
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
                                             density_g_per_ml=density)  # mass from each voxel's own density
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
            rc, corrected = _partial_volume(case, name, role, metrics.mean_gy, metrics.volume_ml, fwhm_mm, curve,
                                            notes, warnings)
            in_lung = lung_voxels is not None and bool(np.any(lung_voxels & mask.array.astype(bool)))
            source = (density_info.get("lung_mass_source", "") if role in ("lung", "lung_union") or in_lung
                      else str(density_info["density"]))
            voi_doses.append(VoiDose(name, role, metrics, mean_bed, alpha_beta, activity_mbq, source, rc, corrected))
        _plausibility(voi_doses, warnings)
    figures = None if overlay is None or figures_title is None else DoseFigures(
        figures_title, overlay, _dvh_figure(figures_title, dvhs))
    report(progress, 1.0, "done")
    provenance = {
        "emission": str(case.emission), "segmentation": str(case.segmentation) if case.segmentation else None,
        "ct": str(case.ct) if case.ct else None, "engine": case.engine, "nuclide": nuclide.name,
        "dose_constant_gy_kg_per_gbq": nuclide.dose_constant_gy_kg_per_gbq,
        **density_info,
        "emission_modality": modality, "fwhm_mm": fwhm_mm,
        "partial_volume_warning_below_mm": PVE_FWHM_MULTIPLE * fwhm_mm,
        "recovery_curve": None if curve is None else str(case.recovery_curve),
        "lung_shunt_fraction_used": getattr(summary, "lung_shunt_fraction_used", None),
        "lung_shunt_fraction_source": getattr(summary, "lung_shunt_fraction_source", None),
        "lung_shunt_fraction_image": getattr(summary, "lung_shunt_fraction_image", None),
        "lung_shunt_fraction_given": getattr(summary, "lung_shunt_fraction_given", None),
        "computed_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        # First DICOM file of the emission series: patient/study/frame of reference for RTDOSE.
        "dicom_reference_file": (next(iter(emission.metadata.get("source_files") or [None]))
                                 if emission.metadata.get("series_instance_uid") else None),
        # Every VOI's volume on its own grid (RTSTRUCT: the image it was drawn on) and on the dose grid.
        "voi_volumes_ml": voi_volumes,
    }
    dicom_sources = tuple(str(f) for f in emission.metadata.get("source_files") or ()) if (
        emission.metadata.get("series_instance_uid")) else ()
    return DoseResult(case, dose, activity, vois, tuple(voi_doses), dvhs, summary, tuple(notes), tuple(warnings),
                      background, provenance, dicom_sources, figures)


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


def write_dose_outputs(result: DoseResult, out_dir: Path, *, title: str = DOSE_REPORT_TITLE,
                       subtitle: str = "", pdf: bool = False, prefix: str = "",
                       sections: list[dict[str, Any]] | None = None, failures: list[str] | None = None,
                       extra_warnings: list[str] | None = None, extra_json: dict[str, Any] | None = None,
                       voi_title: str = "Absorbed dose per volume of interest", force: bool = False,
                       dose_grid: Literal["emission", "ct"] = "emission", ct: Path | None = None) -> dict[str, Path]:
    """Write dose map (NRRD), DICOM (RTDOSE, SEG, dose Parametric Map, SR — when the emission or, with
    ``dose_grid="ct"``, the CT is DICOM), DVH/metrics CSV, JSON, PNGs, HTML (+PDF).

    ``out_dir`` is replaced as a whole (a non-empty folder sirtkit did not write only with ``force``);
    ``dose_grid`` puts RTDOSE on the emission grid or on the CT's (``ct``, default the case's CT).

    ``sections`` (dicts with ``title``, ``header``, ``rows``, optional ``note``, ``row_classes``,
    ``left_columns``) are shown before the dose tables; ``failures``/``extra_warnings`` at the top;
    ``extra_json`` is merged into the JSON document. All files appear together or not at all (staged
    write). Returns name → final path.
    """
    import json

    from sirtkit import __version__
    from sirtkit.imaging import write_volume
    from sirtkit.report.render import atomic_write_text, figure_to_data_uri, html_to_pdf, render_template
    from sirtkit.workflows._output import staged_output

    names: dict[str, str] = {
        "dose": f"{prefix}dose.nrrd", "dvh_csv": f"{prefix}dvh.csv", "metrics_csv": f"{prefix}metrics.csv",
        "json": f"{prefix}dosimetry.json", "dvh_png": f"{prefix}dvh.png", "overlay_png": f"{prefix}dose_slices.png",
        "html": f"{prefix}report.html",
    }
    written: dict[str, Path] = {}
    with staged_output(out_dir, force=force, kind="dose") as stage:
        # The figures: those run_dose started for this title, else started now — drawn in the worker process
        # when the command has one (issue 9: while the data files below are written), else here.
        figures = result.figures if result.figures is not None and result.figures.title == title else DoseFigures(
            title, _overlay_figure(title, result.dose, result.background, result.vois),
            _dvh_figure(title, result.dvhs))
        write_volume(result.dose, stage / names["dose"], compress=False)
        if result.dvhs:
            dosimetry.write_dvh_csv(result.dvhs, stage / names["dvh_csv"])
        metrics = [v.metrics for v in result.voi_doses]
        if metrics:
            dosimetry.write_metrics_csv(metrics, stage / names["metrics_csv"])
            names["voi_table_csv"] = f"{prefix}voi_table.csv"
            _write_voi_table_csv(result, stage / names["voi_table_csv"])
        dicom_names: dict[str, str] = {}
        dicom_notes: list[str] = []
        if result.provenance.get("dicom_reference_file") or dose_grid == "ct":  # else no DICOM to write
            # pydicom and highdicom take ≈ 0.25 s to import: only when a DICOM object is written
            from sirtkit.workflows._dicom_outputs import write_dicom_dose_outputs

            dicom_names, dicom_notes = write_dicom_dose_outputs(
                result, stage, prefix, dose_grid=dose_grid,
                ct=ct if ct is not None else getattr(result.case, "ct", None))
        names |= dicom_names
        from sirtkit.serialize import to_jsonable

        document = {**(to_jsonable(extra_json) if extra_json else {}), "dosimetry": result.summary(),
                    "dicom_export": {"dose_grid": dose_grid, "files": sorted(dicom_names.values()),
                                     "notes": dicom_notes}}
        atomic_write_text(stage / names["json"], json.dumps(document, indent=2, ensure_ascii=False))
        report_figures: list[dict[str, str]] = []
        if figures.dvh is not None:
            png = figures.dvh.result()
            (stage / names["dvh_png"]).write_bytes(png)
            report_figures.append({"title": "Dose–volume histograms", "uri": figure_to_data_uri(png)})
        png = figures.overlay.result()
        (stage / names["overlay_png"]).write_bytes(png)
        report_figures.append({"title": "Dose map", "uri": figure_to_data_uri(png)})
        case = result.case
        method = [
            ("Engine", f"voxel S-value convolution (kernel: {result.dose.metadata.get('kernel', '–')})"
             if case.engine == "vsv" else "local deposition (LDM)"),
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
            warnings=list(extra_warnings or []) + list(result.warnings), notes=list(result.notes) + dicom_notes,
            sections=list(sections or []), voi_title=voi_title,
            method=method, activity=_activity_rows(result.activity_summary), voi_header=VOI_TABLE_HEADER,
            voi_rows=[voi_table_row(v) for v in result.voi_doses], figures=report_figures,
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
