"""Image-based (predictive) planning from a Tc-99m MAA SPECT (or Ho-166 scout) and a segmentation.

Data flow (ARCHITECTURE.md, planning): read SPECT + segmentation → masks on the SPECT grid (counts) and
on their own grid (volumes) → counts and masses per compartment (each tumour, perfused normal liver,
lungs) → LSF and T/N → multi-compartment MIRD plan under the device/intent targets and limits
(:func:`sirtkit.workflows.planning.run_plan`: checks, vial, decay table) → predicted dose map: the MAA
distribution scaled to the planned delivered activity, through the same dose engine as post-treatment
dosimetry (:func:`sirtkit.workflows.posttreatment.run_dose`) → DVHs → report.

MAA is a surrogate: its distribution differs from the microspheres' (particle size, catheter position;
Torkian BJR 2022, PMC9793490), so the predicted dose map is a plan, not a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field

from sirtkit.errors import InputError
from sirtkit.imaging.segload import on_common_grid
from sirtkit.imaging.volume import Volume
from sirtkit.planning.devices import DeviceName, get_device
from sirtkit.planning.methods import LIVER_DENSITY_G_PER_ML
from sirtkit.planning.targets import IntentName
from sirtkit.progress import ProgressCallback, report
from sirtkit.workflows.planning import PlanCase, PlanResult, run_plan
from sirtkit.workflows.posttreatment import (
    DoseCase,
    DoseResult,
    ImagingCaseChecks,
    read_dose_inputs,
    run_dose,
)
from sirtkit.workflows.vois import VoiSet, build_voi_set

__all__ = ["ImagePlanCase", "ImagePlanResult", "MeasuredCompartment", "measure_compartments", "run_image_plan"]


# Counts handed to the plan are relative to the liver's (only their ratios matter): the liver gets 10⁶.
RELATIVE_LIVER_COUNTS = 1e6

class ImagePlanCase(ImagingCaseChecks):
    """Inputs of image-based planning; shared by the CLI and the demo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: str = Field(min_length=1)
    spect: Path
    segmentation: Path
    ct: Path | None = Field(default=None, description="CT (e.g. of the SPECT/CT): the image an RTSTRUCT was drawn on")
    device: DeviceName = "glass"
    intent: IntentName = "palliative"
    lung_shunt_fraction: float | None = Field(
        default=None, description="0–1; needed when the segmentation has no lungs (e.g. from planar imaging)")
    lung_mass_kg: float | None = Field(default=None, description="whole-lung mass, kg (plausible 0.1–5)")
    prior_lung_doses_gy: tuple[float, ...] = ()
    tumour_target_gy: float | None = Field(default=None, gt=0)
    normal_liver_limit_gy: float | None = Field(default=None, gt=0)
    expected_residual_fraction: float | None = Field(default=None, ge=0.0, lt=0.5)
    planned_infusion: datetime | None = None
    vial_calibration: datetime | None = None
    voi_roles: dict[str, str] = Field(default_factory=dict)
    segment_labels: dict[int, str] | None = None
    engine: Literal["vsv", "ldm"] = "vsv"
    fwhm_mm: float | None = Field(default=None,
                                  description="SPECT resolution for the partial-volume warning (default by nuclide)")
    timezone: str | None = Field(
        default=None, description="IANA zone (e.g. Europe/Amsterdam) of DICOM times that carry no offset")
    series_uid: str | None = Field(default=None, description="SeriesInstanceUID of the SPECT series in a mixed folder")


@dataclass(frozen=True)
class MeasuredCompartment:
    """Counts and size of one compartment, measured on the images."""

    name: str
    kind: Literal["tumour", "normal_liver"]
    volume_ml: float
    counts: float
    counts_fraction_of_liver: float


@dataclass(frozen=True)
class ImagePlanResult:
    """Plan measured from images, and its predicted dose."""

    case: ImagePlanCase
    territory: str
    compartments: tuple[MeasuredCompartment, ...]
    liver_counts: float
    lung_counts: float | None
    liver_volume_ml: float
    plan_case: PlanCase
    plan: PlanResult
    predicted: DoseResult | None
    warnings: tuple[str, ...] = ()

    @property
    def image_lung_shunt_fraction(self) -> float | None:
        """LSF measured on the SPECT (lung / (lung + liver) counts), ``None`` without lung counts."""
        if not self.lung_counts:
            return None
        return self.lung_counts / (self.lung_counts + self.liver_counts)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (no voxel arrays)."""
        from sirtkit.serialize import to_jsonable

        return {
            "patient_id": self.case.patient_id,
            "territory": self.territory,
            "measured_compartments": to_jsonable(self.compartments),
            "liver_counts": self.liver_counts,
            "liver_volume_ml": self.liver_volume_ml,
            "lung_counts": self.lung_counts,
            "image_lung_shunt_fraction": self.image_lung_shunt_fraction,
            "plan": to_jsonable(self.plan),
            "predicted_dosimetry": None if self.predicted is None else self.predicted.summary(),
            "warnings": list(self.warnings),
        }


def _territory_masks(vois: VoiSet) -> tuple[str, np.ndarray, list[tuple[str, np.ndarray]], np.ndarray, np.ndarray]:
    """(territory name, territory mask, [(tumour name, tumour ∩ territory)], normal mask, liver mask)."""
    liver = vois.union("liver")
    tumours_all = vois.union("tumor")
    perfused = vois.union("perfused")
    if liver is None:
        normal_whole = vois.union("normal_liver")
        if normal_whole is None:
            raise InputError(f"the segmentation has no liver: segments are {', '.join(vois.masks)}; name one "
                             "'Liver' or map it with voi_roles")
        liver = normal_whole | (tumours_all if tumours_all is not None else False)
    territory_name = "perfused territory" if perfused is not None else "whole liver"
    territory = perfused if perfused is not None else liver
    tumours = [(n, np.logical_and(vois.masks[n].array, territory)) for n in vois.names_with_role("tumor")]
    tumours = [(n, m) for n, m in tumours if m.any()]
    if not tumours:
        raise InputError("no tumour segment overlaps the treated territory: planning needs at least one tumour "
                         f"(segments: {', '.join(vois.masks)})")
    tumour_union = np.zeros_like(territory)
    for _, m in tumours:
        tumour_union |= m
    normal = vois.union("perfused_normal_liver")
    normal = (territory & ~tumour_union) if normal is None else (normal & ~tumour_union)
    return territory_name, territory, tumours, normal, liver


def measure_compartments(spect: Volume, masks_on_spect: dict[str, Volume], masks_native: dict[str, Volume],
                         voi_roles: dict[str, str] | None = None) -> tuple[
                             str, tuple[MeasuredCompartment, ...], float, float | None, float]:
    """Counts (on the SPECT grid) and volumes (on the segmentation's own, finer grid) per compartment.

    Returns (territory name, compartments, liver counts, lung counts or None, whole-liver volume in mL).
    Negative SPECT values (reconstruction undershoot) are counted as zero.
    """
    counts_img = np.clip(np.asarray(spect.array, dtype=np.float64), 0.0, None)
    on_spect = build_voi_set(masks_on_spect, voi_roles)
    native = build_voi_set(masks_native, voi_roles)
    name, _, tumours_s, normal_s, liver_s = _territory_masks(on_spect)
    _, _, tumours_n, normal_n, liver_n = _territory_masks(native)
    native_ml = next(iter(masks_native.values())).voxel_volume_ml
    liver_counts = float(counts_img[liver_s].sum())
    if liver_counts <= 0:
        raise InputError("the SPECT has no counts inside the liver: check that image and segmentation belong together")
    volumes_n = {n: float(m.sum()) * native_ml for n, m in tumours_n}
    comps = [MeasuredCompartment(n, "tumour", volumes_n.get(n, float(m.sum()) * spect.voxel_volume_ml),
                                 float(counts_img[m].sum()), float(counts_img[m].sum()) / liver_counts)
             for n, m in tumours_s]
    comps.append(MeasuredCompartment("normal liver (perfused)" if name == "perfused territory" else "normal liver",
                                     "normal_liver", float(normal_n.sum()) * native_ml,
                                     float(counts_img[normal_s].sum()), float(counts_img[normal_s].sum()) / liver_counts))
    lung = on_spect.union("lung")
    lung_counts = None if lung is None else float(counts_img[lung].sum())
    for c in comps:
        if c.volume_ml <= 0 or c.counts <= 0:
            raise InputError(f"compartment {c.name!r} has volume {c.volume_ml:.2f} mL and {c.counts:.0f} counts: "
                             "both must be positive to plan (check the segmentation)")
    return name, tuple(comps), liver_counts, lung_counts, float(liver_n.sum()) * native_ml


def _predicted_dose_case(case: ImagePlanCase, nuclide: Literal["Y-90", "Ho-166"], *, delivered_activity_gbq: float,
                         lung_shunt_fraction: float | None = None, lung_mass_kg: float | None = None) -> DoseCase:
    """The dose case of the predicted dose map: the device's nuclide (Ho-166 for holmium: its dose constant,
    kernel and half-life) from a Tc-99m MAA or a Ho-166 scout SPECT, scaled to the planned delivered activity."""
    return DoseCase(
        emission=case.spect, segmentation=case.segmentation, quantification="relative",
        delivered_activity_gbq=delivered_activity_gbq, lung_shunt_fraction=lung_shunt_fraction,
        voi_roles=case.voi_roles, engine=case.engine, segment_labels=case.segment_labels, nuclide=nuclide,
        lung_mass_kg=lung_mass_kg, emission_modality="ho166_spect" if nuclide == "Ho-166" else "tc99m_spect",
        fwhm_mm=case.fwhm_mm, timezone=case.timezone, series_uid=case.series_uid,
        rtstruct_image=case.ct,  # not `ct`: the plan's lung mass convention stays as planned
    )


def plan_report_title(case: ImagePlanCase) -> str:
    """The title of the image-based plan's report (:func:`write_image_plan_outputs`)."""
    return f"Pre-treatment plan — {case.patient_id}"


def run_image_plan(case: ImagePlanCase, *, progress: ProgressCallback | None = None,
                   predict_dose: bool = True, start_figures: bool = False) -> ImagePlanResult:
    """Measure compartments on the images, plan the activity, and compute the predicted dose map.

    ``start_figures``: start the report's figures as soon as the predicted dose exists (for
    :func:`write_image_plan_outputs`; see :func:`sirtkit.workflows.posttreatment.run_dose`)."""
    report(progress, 0.02, "reading SPECT and segmentation")
    # The images are read once, as the predicted dose reads them (read_dose_inputs): volumes are measured on
    # the segmentation's own grid (RTSTRUCT: the image it was drawn on), counts on the SPECT grid, and the
    # same images then give the predicted dose map.
    nuclide: Literal["Y-90", "Ho-166"] = "Ho-166" if get_device(case.device).nuclide.name == "Ho-166" else "Y-90"
    reading = _predicted_dose_case(case, nuclide, delivered_activity_gbq=1.0)  # reading fields only
    inputs = read_dose_inputs(reading, keep_native=True)
    loaded = inputs.segmentation
    assert loaded is not None  # ImagePlanCase requires a segmentation
    spect = inputs.emission
    masks_native, masks_on_spect = on_common_grid(loaded.native), loaded.masks
    report(progress, 0.15, "measuring compartments")
    territory, comps, liver_counts, lung_counts, liver_ml = measure_compartments(
        spect, masks_on_spect, masks_native, case.voi_roles)
    # The plan reads counts only as ratios (T/N, LSF). An image in Bq/mL sums to 10⁹–10¹¹ "counts", beyond
    # the magnitudes a case file accepts (sirtkit._inputmodel), so the plan gets them relative to the liver's
    # (liver = 10⁶); the result keeps the measured counts.
    scale = RELATIVE_LIVER_COUNTS / liver_counts
    # One precedence rule for the lung shunt fraction (as in post-treatment quantification): an LSF the user
    # gives wins over the SPECT's lung counts; the image-derived value is still reported beside it.
    if case.lung_shunt_fraction is not None:
        lung: dict[str, Any] = {"shunt_fraction": case.lung_shunt_fraction}
    elif lung_counts is not None and lung_counts > 0:
        lung = {"spect_counts": {"lung_counts": lung_counts * scale, "liver_counts": liver_counts * scale}}
    else:
        raise InputError("the segmentation has no lungs: give the lung shunt fraction (e.g. from planar MAA "
                         "imaging) as lung_shunt_fraction / --lung-shunt-fraction")
    if case.lung_mass_kg is not None:
        lung["mass_kg"] = case.lung_mass_kg
    lung["prior_doses_gy"] = list(case.prior_lung_doses_gy)
    targets = {k: v for k, v in (("tumour_target_gy", case.tumour_target_gy),
                                 ("normal_liver_limit_gy", case.normal_liver_limit_gy)) if v is not None}
    plan_doc: dict[str, Any] = {
        "patient_id": case.patient_id, "device": case.device, "method": "multicompartment",
        "intent": case.intent, "lung": lung, "targets": targets,
        "liver": {"volume_ml": liver_ml, "density_g_per_ml": LIVER_DENSITY_G_PER_ML},
        "territories": [{
            "name": territory,
            "compartments": [{"name": c.name, "kind": c.kind, "volume_ml": c.volume_ml, "counts": c.counts * scale,
                              "density_g_per_ml": LIVER_DENSITY_G_PER_ML} for c in comps],
        }],
    }
    if case.expected_residual_fraction is not None:
        plan_doc["expected_residual_fraction"] = case.expected_residual_fraction
    if case.planned_infusion is not None:
        plan_doc["schedule"] = {"planned_infusion": case.planned_infusion,
                                **({"vial_calibration": case.vial_calibration} if case.vial_calibration else {})}
    plan_case = PlanCase.model_validate(plan_doc)
    report(progress, 0.25, "planning activity")
    plan = run_plan(plan_case)
    predicted = None
    if predict_dose and plan.plan is not None:
        def sub(fraction: float, message: str) -> None:
            report(progress, 0.3 + 0.7 * fraction, f"predicted dose: {message}")

        predicted = run_dose(_predicted_dose_case(
            case, nuclide, delivered_activity_gbq=plan.plan.activity_delivered_gbq,
            lung_shunt_fraction=plan.lung_shunt_fraction, lung_mass_kg=plan.lung_mass_kg), progress=sub, inputs=inputs,
            figures_title=plan_report_title(case) if start_figures else None)
    report(progress, 1.0, "done")
    return ImagePlanResult(case, territory, comps, liver_counts, lung_counts, liver_ml, plan_case, plan, predicted,
                           loaded.warnings)


# ----------------------------------------------------------------------------------------------- outputs
# Non-target organs: deposition in the gallbladder or stomach risks cholecystitis and GI ulceration
# (SIR-Spheres and TheraSphere IFU warnings; CLINICAL.md §9). Warn when the MAA predicts more than 0.5 % of
# the delivered activity there — a heuristic [K], configurable, not a published limit.
NON_TARGET_ROLES = ("gallbladder", "stomach")
NON_TARGET_ACTIVITY_WARNING_FRACTION = 0.005


def non_target_warnings(result: ImagePlanResult) -> list[str]:
    """Warnings for predicted deposition in non-target organs (gallbladder, stomach)."""
    if result.predicted is None or result.plan.plan is None:
        return []
    delivered_mbq = result.plan.plan.activity_delivered_gbq * 1000.0
    out = []
    for v in result.predicted.voi_doses:
        if v.role in NON_TARGET_ROLES and v.activity_mbq > NON_TARGET_ACTIVITY_WARNING_FRACTION * delivered_mbq:
            out.append(
                f"{v.name}: the MAA predicts {v.activity_mbq:.0f} MBq ({100 * v.activity_mbq / delivered_mbq:.1f} % of "
                f"the delivered activity), mean {v.metrics.mean_gy:.0f} Gy — non-target deposition risks "
                f"{'cholecystitis' if v.role == 'gallbladder' else 'gastric ulceration'}: review catheter position "
                "(IFU warnings)")
    return out


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def plan_sections(result: ImagePlanResult) -> list[dict[str, Any]]:
    """Report sections (tables) of the plan: summary, compartments (MIRD vs voxel), checks, logistics."""
    pr = result.plan
    plan = pr.plan
    sections: list[dict[str, Any]] = []
    summary_rows = [
        ["Device", f"{pr.device} ({pr.product})"], ["Method / intent", f"{pr.method} / {pr.intent}"],
        ["Treated territory", result.territory],
        ["Lung shunt fraction", f"{pr.lung_shunt_fraction:.3f} ({pr.lung_shunt_fraction_source})"],
        ["Image-derived lung shunt fraction",
         "–" if result.image_lung_shunt_fraction is None else
         f"{result.image_lung_shunt_fraction:.3f}" + (" (not used: a given LSF takes precedence)"
                                                      if pr.lung_shunt_fraction_source == "given" else "")],
        ["Lung mass (kg)", f"{pr.lung_mass_kg:.2f} ({pr.lung_mass_source})"],
        ["Dose constant (Gy·kg/GBq)", f"{pr.dose_constant_gy_kg_per_gbq:.2f}"],
        ["Expected residual fraction", f"{pr.expected_residual_fraction:.3f}"],
    ]
    if plan is not None:
        summary_rows += [
            ["Activity to prepare (GBq)", f"{plan.activity_prepared_gbq:.3f}"],
            ["Activity delivered (GBq)", f"{plan.activity_delivered_gbq:.3f}"],
            ["Binding constraint", plan.binding_constraint.value.replace("_", " ")],
            ["T/N (tumour-to-normal)", _fmt(plan.tumour_to_normal_ratio)],
            ["Lung dose (Gy)", f"{plan.lung_dose_gy:.2f}"],
            ["Cumulative lung dose (Gy)", f"{plan.cumulative_lung_dose_gy:.2f}"],
        ]
    elif pr.refusal:
        summary_rows.append(["Refused", pr.refusal])
    sections.append({"title": "Plan", "header": None, "rows": summary_rows, "left_columns": [1]})
    if plan is not None:
        predicted = {} if result.predicted is None else {v.name: v for v in result.predicted.voi_doses}
        measured = {c.name: c for c in result.compartments}
        rows = []
        by_role = {} if result.predicted is None else {v.role: v for v in reversed(result.predicted.voi_doses)}
        for c in plan.compartments:
            m = measured.get(c.name)
            voxel = predicted.get(c.name)
            if voxel is None and c.kind == "normal_liver":
                voxel = by_role.get("perfused_normal_liver" if result.territory == "perfused territory"
                                    else "normal_liver")
            rows.append([c.name, c.kind.replace("_", " "), _fmt(m.volume_ml if m else None, 1),
                         _fmt(c.mass_kg, 3), _fmt(100 * m.counts_fraction_of_liver if m else None, 1),
                         _fmt(c.activity_gbq, 3), _fmt(c.dose_gy, 1),
                         _fmt(voxel.metrics.mean_gy if voxel else None, 1)])
        sections.append({
            "title": "Compartments: MIRD multi-compartment plan vs predicted voxel dose",
            "header": ["Compartment", "Kind", "Volume (mL)", "Mass (kg)", "Liver counts (%)", "Activity (GBq)",
                       "MIRD dose (Gy)", "Voxel mean (Gy)"],
            "rows": rows, "left_columns": [1],
            "note": "MIRD dose: mean over the compartment with local absorption (K·A/M). Voxel mean: the MAA SPECT "
                    f"scaled to the delivered activity, through the {pr.nuclide} dose engine (spill-in/out and MAA "
                    "counts outside the territory make it differ).",
        })
    check_rows, classes = [], []
    for chk in pr.checks:
        check_rows.append([chk.name.replace("_", " "), chk.status.value.upper(), _fmt(chk.measured, 2),
                           f"{chk.comparison} {chk.threshold:g} {chk.unit}", chk.source])
        classes.append({"fail": "bad", "warn": "caution", "unknown": "caution"}.get(chk.status.value, ""))
    sections.append({"title": "Safety checks", "header": ["Check", "Status", "Value", "Threshold", "Source"],
                     "rows": check_rows, "row_classes": classes, "left_columns": [4]})
    if pr.glass_vial is not None:
        gv = pr.glass_vial
        sections.append({"title": "Glass vial order", "header": None, "left_columns": [1], "rows": [
            ["Infusion time", gv.infusion_time.isoformat(timespec="minutes")],
            ["Calibration time", gv.calibration_time.isoformat(timespec="minutes")],
            ["Vial size (GBq at calibration)", _fmt(gv.vial_size_gbq, 1)],
            ["Activity needed at calibration (GBq)", _fmt(gv.activity_needed_at_calibration_gbq, 3)],
            ["Vial activity at infusion (GBq)", _fmt(gv.vial_activity_at_infusion_gbq, 3)],
        ]})
    if pr.decay_table:
        infusion = result.plan_case.schedule.planned_infusion if result.plan_case.schedule else None
        rows, classes = [], []
        nearest = None if infusion is None else min(
            range(len(pr.decay_table)), key=lambda i: abs((pr.decay_table[i].time - infusion).total_seconds()))
        for i, r in enumerate(pr.decay_table):
            shown = r.time.astimezone(infusion.tzinfo) if infusion is not None else r.time
            rows.append([shown.isoformat(timespec="minutes") + ("  ← infusion" if i == nearest else ""),
                         f"{r.hours_from_reference:.1f}", f"{r.decay_factor:.4f}", f"{r.activity_gbq:.3f}"])
            classes.append("caution" if i == nearest else "")
        sections.append({"title": "Decay table (vial; times in the infusion's time zone)",
                         "header": ["Time", "Hours from calibration", "Decay factor", "Activity (GBq)"],
                         "rows": rows, "row_classes": classes})
    return sections


def write_image_plan_outputs(result: ImagePlanResult, out_dir: Path, *, pdf: bool = False,
                             prefix: str = "plan_", force: bool = False, dose_grid: Literal["emission", "ct"] = "emission",
                             ct: Path | None = None) -> dict[str, Path]:
    """Write the plan report (HTML), plan JSON and the predicted dose files into ``out_dir``.

    ``out_dir`` is replaced as a whole (``force``: also a non-empty folder sirtkit did not write); ``dose_grid``
    ``"ct"`` puts the predicted RTDOSE on the grid of ``ct``."""
    from sirtkit.workflows.posttreatment import write_dose_outputs

    if result.predicted is None:
        raise InputError("the plan was refused, so there is no predicted dose map to report: see the checks")
    pr = result.plan
    failures = list(pr.hard_failures) + ([pr.refusal] if pr.refusal else [])
    return write_dose_outputs(
        result.predicted, out_dir, title=plan_report_title(result.case),
        subtitle=f"{pr.device} microspheres, {pr.intent.replace('_', ' ')} intent; MAA SPECT {result.case.spect.name}",
        pdf=pdf, prefix=prefix, sections=plan_sections(result), failures=failures,
        extra_warnings=non_target_warnings(result),
        extra_json={"plan": result.summary()["plan"], "measured_compartments": result.summary()["measured_compartments"]},
        voi_title="Predicted absorbed dose per volume of interest", force=force, dose_grid=dose_grid, ct=ct,
    )
