"""Safety checks of a plan, as data.

A check compares one *measured* quantity of the plan (lung dose, LSF, normal-liver dose, …) with one
*threshold* (a limit or a target with its severity and source). The outcome is

- ``pass`` — within the threshold;
- ``warn`` — a soft threshold is not met (a target not reached, T/N < 1, a mass outside the usual range);
- ``fail`` — a hard limit is broken: the plan must not be delivered as it stands;
- ``unknown`` — the quantity could not be computed from the inputs (never counted as a pass).

Checks whose threshold does not apply to the device/intent (e.g. the resin LSF rule for glass) are
left out. :data:`CHECK_SPECS` lists every check; :func:`default_thresholds` builds the thresholds for a
device, intent and liver condition from the cited tables (``devices``, ``targets``, ``lung``). Each
normal-liver threshold is checked against the quantity the guideline names: the mean dose of the
*perfused* normal liver, or of the *whole* normal liver (perfused and non-perfused).

Examples
--------
>>> from sirtkit.planning.methods import plan_mird_single
>>> plan = plan_mird_single(perfused_mass_kg=1.0, lung_shunt_fraction=0.3, activity_prepared_gbq=3.0)
>>> results = evaluate_checks(plan_quantities(plan), default_thresholds("glass", "palliative"))
>>> [r.name for r in results if r.status == "fail"]
['lung_dose_session', 'lung_activity_device']
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sirtkit.planning.devices import get_device
from sirtkit.planning.lung import LUNG_DOSE_LIMIT_CUMULATIVE_GY, LUNG_DOSE_LIMIT_SESSION_GY
from sirtkit.planning.methods import ActivityPlan
from sirtkit.planning.targets import GUIDELINE_THRESHOLDS, LiverState, select_thresholds

__all__ = [
    "CHECK_SPECS",
    "GLASS_VIAL_EXCESS_WARN_FRACTION",
    "HO166_LIVER_DOSE_LIMIT_GY",
    "PERFUSED_MASS_RANGE_KG",
    "RESIN_WHOLE_LIVER_DOSE_WARN_GY",
    "CheckResult",
    "CheckSpec",
    "CheckStatus",
    "Threshold",
    "default_thresholds",
    "evaluate_checks",
    "has_failures",
    "plan_quantities",
    "vial_thresholds",
]


class CheckStatus(enum.StrEnum):
    """Outcome of one check."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CheckSpec:
    """Definition of a check: which quantity, compared how, with which threshold key."""

    name: str
    quantity: str
    comparison: Literal["<=", ">="]
    unit: str
    description: str


@dataclass(frozen=True)
class Threshold:
    """A threshold value with the severity of a violation and its source."""

    value: float
    severity: Literal["fail", "warn"]
    source: str


@dataclass(frozen=True)
class CheckResult:
    """Result of one check (measured value and threshold carry ``unit``)."""

    name: str
    status: CheckStatus
    measured: float | None
    comparison: str
    threshold: float
    unit: str
    message: str
    source: str


# Check name → spec. The threshold for a check is looked up under the check name.
CHECK_SPECS: tuple[CheckSpec, ...] = (
    CheckSpec("lung_dose_session", "lung_dose_gy", "<=", "Gy", "lung dose of this treatment"),
    CheckSpec("lung_dose_cumulative", "cumulative_lung_dose_gy", "<=", "Gy", "cumulative lung dose (all treatments)"),
    CheckSpec("lung_shunt_fraction_device", "lung_shunt_fraction", "<=", "fraction", "lung shunt fraction"),
    CheckSpec("lung_activity_device", "lung_activity_gbq", "<=", "GBq", "activity shunted to the lungs"),
    CheckSpec("perfused_normal_liver_dose", "perfused_normal_liver_dose_gy", "<=", "Gy",
              "perfused normal-liver mean dose"),
    CheckSpec("whole_normal_liver_dose", "whole_normal_liver_dose_gy", "<=", "Gy",
              "whole normal-liver mean dose (perfused and non-perfused)"),
    CheckSpec("normal_liver_dose_target", "perfused_normal_liver_dose_gy", ">=", "Gy",
              "perfused normal-liver dose (lobectomy minimum)"),
    CheckSpec("whole_liver_dose", "whole_liver_dose_gy", "<=", "Gy", "whole-liver mean dose"),
    CheckSpec("tumour_dose_target", "tumour_dose_min_gy", ">=", "Gy", "lowest tumour dose"),
    CheckSpec("perfused_dose_target", "perfused_dose_min_gy", ">=", "Gy", "perfused-volume dose"),
    CheckSpec("perfused_dose_range_low", "perfused_dose_min_gy", ">=", "Gy",
              "perfused-volume dose vs the guideline range (lower bound)"),
    CheckSpec("perfused_dose_range_high", "perfused_dose_max_gy", "<=", "Gy",
              "perfused-volume dose vs the guideline range (upper bound)"),
    CheckSpec("tumour_to_normal_ratio", "tumour_to_normal_ratio", ">=", "ratio", "T/N (partition favourable if > 1)"),
    CheckSpec("perfused_mass_min", "perfused_mass_kg", ">=", "kg", "perfused mass (unit sanity)"),
    CheckSpec("perfused_mass_max", "perfused_mass_kg", "<=", "kg", "perfused mass (unit sanity)"),
    CheckSpec("activity_device_max", "activity_prepared_gbq", "<=", "GBq", "activity to prepare vs device maximum"),
    CheckSpec("vial_activity_sufficient", "vial_fraction_required", "<=", "fraction",
              "fraction of the vial needed at infusion"),
    CheckSpec("vial_excess", "vial_excess_fraction", "<=", "fraction",
              "whole glass vial at infusion above the planned activity (infuse later or order a custom dose)"),
    CheckSpec("vial_window_start", "hours_after_calibration", ">=", "h", "infusion time after vial calibration"),
    CheckSpec("vial_window_end", "hours_after_calibration", "<=", "h", "infusion time after vial calibration"),
)

# Resin whole-liver dose > 50 Gy: more > grade 2 liver toxicity (46 % vs 17 %), Lam JVIR 2014;25:1085 [S].
RESIN_WHOLE_LIVER_DOSE_WARN_GY = 50.0
# Plausible perfused/whole-liver mass for an adult, kg: below 0.01 kg (10 g) or above 4 kg is almost surely a
# unit mistake (g given as kg, L given as mL) [K]; a warning, not a refusal.
PERFUSED_MASS_RANGE_KG = (0.01, 4.0)
# Ho-166 whole-liver ≤ 60 Gy: the row of ``targets.GUIDELINE_THRESHOLDS`` (HEPAR I, Smits Lancet Oncol 2012),
# kept here under its old name for callers.
HO166_LIVER_DOSE_LIMIT_GY = next(r.value_gy for r in GUIDELINE_THRESHOLDS
                                 if r.device == "holmium" and r.quantity == "whole_liver_dose")
_T_N_FAVOURABLE = 1.0
# A glass vial is infused whole: more than 10 % above the planned activity at the infusion time changes the
# plan noticeably — warn and point to the infusion time at which a vial holds the planned activity [K]
# (10 % mirrors the ±10 % resin vial tolerance, SIR-Spheres PI).
GLASS_VIAL_EXCESS_WARN_FRACTION = 0.10
_REL_TOL = 1e-9  # T/N < 1: tumour gets less than normal liver, partition not favourable (Kao 2013) [S]


def default_thresholds(device: str, intent: str, liver: LiverState | None = None) -> dict[str, Threshold]:
    """Thresholds for ``device``, ``intent`` and ``liver`` from the cited tables (lung, device, guidelines).

    Upper limits on normal liver are hard (``fail``); targets and range edges are soft (``warn``).

    >>> sorted(default_thresholds("resin", "palliative"))[:3]
    ['activity_device_max', 'lung_dose_cumulative', 'lung_dose_session']
    >>> default_thresholds("glass", "palliative", LiverState(prior_prrt=True))["whole_normal_liver_dose"].value
    50.0
    """
    dev = get_device(device)
    lung_src = "TheraSphere IFU; Radiopaedia LSF" if dev.name != "holmium" else "Porto Ho-166 study (Q-Suite)"
    out: dict[str, Threshold] = {
        "lung_dose_session": Threshold(LUNG_DOSE_LIMIT_SESSION_GY, "fail", lung_src),
        "lung_dose_cumulative": Threshold(LUNG_DOSE_LIMIT_CUMULATIVE_GY, "fail", "Radiopaedia LSF"),
        "tumour_to_normal_ratio": Threshold(_T_N_FAVOURABLE, "warn", "Kao CVIR 2013"),
        "perfused_mass_min": Threshold(PERFUSED_MASS_RANGE_KG[0], "warn", "unit sanity [K]"),
        "perfused_mass_max": Threshold(PERFUSED_MASS_RANGE_KG[1], "warn", "unit sanity [K]"),
    }
    if dev.max_lung_shunt_fraction is not None:
        out["lung_shunt_fraction_device"] = Threshold(dev.max_lung_shunt_fraction, "fail",
                                                      "Sirtex approved indications")
    if dev.lung_activity_limit_gbq is not None:
        out["lung_activity_device"] = Threshold(dev.lung_activity_limit_gbq, "fail", "TheraSphere IFU")
    if dev.max_activity_gbq is not None:
        out["activity_device_max"] = Threshold(dev.max_activity_gbq, "fail", dev.short_citation)
    for check, row in select_thresholds(dev.name, intent, liver or LiverState()).items():
        out[check] = Threshold(row.value_gy, "fail" if row.kind == "limit" else "warn", row.source)
    if dev.name == "resin":
        out["whole_liver_dose"] = Threshold(RESIN_WHOLE_LIVER_DOSE_WARN_GY, "warn", "Lam JVIR 2014")
    return out


def vial_thresholds(device: str) -> dict[str, Threshold]:
    """Thresholds of the vial checks (only meaningful when an infusion and a calibration time are given).

    >>> vial_thresholds("resin")["vial_window_end"].value
    24.0
    """
    dev = get_device(device)
    out: dict[str, Threshold] = {}
    if dev.vial_sizes_gbq or dev.name == "holmium":
        out["vial_activity_sufficient"] = Threshold(1.0, "fail", dev.short_citation)
    if dev.name == "glass":
        out["vial_excess"] = Threshold(GLASS_VIAL_EXCESS_WARN_FRACTION, "warn", "[K] whole vial is infused")
    if dev.usable_from_h is not None:
        out["vial_window_start"] = Threshold(dev.usable_from_h, "fail", dev.short_citation + " [K]")
    if dev.usable_until_h is not None:
        out["vial_window_end"] = Threshold(dev.usable_until_h, "fail", dev.short_citation
                                           + (" [K]" if dev.name == "glass" else ""))
    return out


def plan_quantities(plan: ActivityPlan | None, *, whole_liver_mass_kg: float | None = None,
                    lung_shunt_fraction: float | None = None) -> dict[str, float | None]:
    """The quantities the checks look at, from a plan (``None`` = could not be computed).

    ``whole_liver_dose_gy`` needs the whole-liver mass (incl. tumour): ``K·A_liver/M_whole`` with all liver
    activity of the plan. ``lung_shunt_fraction`` is taken from the plan or, without a plan, from the input.
    """
    if plan is None:
        return {"lung_shunt_fraction": lung_shunt_fraction}
    whole = plan.whole_liver_dose_gy
    if whole is None and whole_liver_mass_kg is not None and whole_liver_mass_kg > 0:
        liver_activity = sum(c.activity_gbq for c in plan.compartments)
        whole = plan.dose_constant_gy_kg_per_gbq * liver_activity / whole_liver_mass_kg
    return {
        "lung_dose_gy": plan.lung_dose_gy,
        "cumulative_lung_dose_gy": plan.cumulative_lung_dose_gy,
        "lung_shunt_fraction": plan.lung_shunt_fraction,
        "lung_activity_gbq": plan.lung_activity_gbq,
        "normal_liver_dose_max_gy": plan.normal_liver_dose_max_gy,
        "perfused_normal_liver_dose_gy": plan.perfused_normal_liver_dose_gy,
        "whole_normal_liver_dose_gy": plan.whole_normal_liver_dose_gy,
        "whole_liver_dose_gy": whole,
        "tumour_dose_min_gy": plan.tumour_dose_min_gy,
        "perfused_dose_min_gy": plan.perfused_dose_min_gy,
        "perfused_dose_max_gy": max(t.perfused_dose_gy for t in plan.territories),
        "tumour_to_normal_ratio": plan.tumour_to_normal_ratio,
        "perfused_mass_kg": plan.perfused_mass_kg,
        "activity_prepared_gbq": plan.activity_prepared_gbq,
    }


def _applicable(spec: CheckSpec, quantities: Mapping[str, float | None]) -> bool:
    # Tumour-related checks only when the plan has tumour compartments (or nothing is known at all).
    return not (spec.quantity in ("tumour_dose_min_gy", "tumour_to_normal_ratio", "normal_liver_dose_max_gy",
                                  "perfused_normal_liver_dose_gy", "whole_normal_liver_dose_gy")
                and "perfused_mass_kg" in quantities and quantities.get(spec.quantity) is None)


def evaluate_checks(quantities: Mapping[str, float | None], thresholds: Mapping[str, Threshold]) -> tuple[
        CheckResult, ...]:
    """Evaluate every check of :data:`CHECK_SPECS` that has a threshold.

    A missing quantity gives ``unknown``; a tumour/normal-liver check on a plan without such compartments
    is left out (single-compartment plans have no T/N).
    """
    results: list[CheckResult] = []
    for spec in CHECK_SPECS:
        threshold = thresholds.get(spec.name)
        if threshold is None or not _applicable(spec, quantities):
            continue
        value = quantities.get(spec.quantity)
        shown = f"{spec.comparison} {threshold.value:g} {spec.unit}"
        if value is None:
            status = CheckStatus.UNKNOWN
            message = f"{spec.description}: cannot be computed from the inputs (must be {shown})"
        else:
            # A value equal to its threshold passes; a relative 1e-9 absorbs floating-point round-off of
            # an inverse plan that lands exactly on a target or limit.
            slack = _REL_TOL * abs(threshold.value)
            ok = (value <= threshold.value + slack) if spec.comparison == "<=" else (value >= threshold.value - slack)
            status = CheckStatus.PASS if ok else CheckStatus(threshold.severity)
            verb = "within" if ok else ("breaks hard limit" if threshold.severity == "fail" else "outside")
            message = f"{spec.description} {value:.4g} {spec.unit} {verb} ({shown})"
        results.append(CheckResult(spec.name, status, value, spec.comparison, threshold.value, spec.unit, message,
                                   threshold.source))
    return tuple(results)


def has_failures(results: tuple[CheckResult, ...]) -> bool:
    """True if any check failed a hard limit."""
    return any(r.status == CheckStatus.FAIL for r in results)
