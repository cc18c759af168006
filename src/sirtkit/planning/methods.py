"""Activity planning methods: resin BSA, MIRD single compartment, partition, multi-compartment, Ho-166.

Every method works both ways: a *prescribed* activity gives the doses (forward), or targets and limits
give the activity (inverse). In the inverse direction the plan takes the activity that reaches every
target (the largest activity any target needs: tumour target for the coldest tumour, perfused-volume
target) unless a limit (normal-liver limit, lung dose per session, cumulative lung dose, device lung
activity) allows less, in which case the smallest allowance is used:
``A = min(max(A_targets), min(A_limits))``. The result names the one that binds
(``binding_constraint``) and the activity each one needs/allows (``constraint_activities_gbq``). Checks
(``sirtkit.planning.checks``) then warn when a target is not reached and fail when a hard limit is broken.

Symbols (CLINICAL.md §2): ``A_prep`` activity in the vial/syringe at administration, ``R`` expected
residual fraction, ``A_del = A_prep·(1 − R)``, ``LSF`` lung shunt fraction, ``K`` dose constant
(Gy·kg/GBq), masses in kg. Compartment activity ``A_i = A_del·(1 − LSF)·w_i/Σw`` with ``w_i`` the counts
of compartment *i* in its territory (MAA SPECT/CT or Ho-166 scout), or ``T/N·M_i`` when a
concentration ratio is given instead of counts; ``D_i = K·A_i/M_i``; lung ``D_L = K·A_del·LSF/M_L``.

References
----------
.. [Kao2013] Kao YH et al. Post-radioembolization yttrium-90 PET/CT — part 2 / partition model,
   CVIR 2013 (doi:10.1007/s00270-013-0783-z): T/N as concentration ratio; partition equations.
.. [MIRDy90] MIRDy90, JNM 2024;65:794: multi-compartment MIRD formalism.
.. [TS-PI] TheraSphere package insert: ``D = 50·A·(1 − F)/M``.
.. [Grosser2015] Grosser et al., JVIR 2015 (PMID 26321017): BSA method with LSF reductions.
.. [Lam2014] Lam et al., JVIR 2014;25:1085: BSA activities and whole-liver doses.
.. [vanRoekel] van Roekel C, PhD thesis (HEPAR/SIM): Ho-166 60 Gy whole liver, 3780 MBq/kg.

Examples
--------
>>> plan = plan_mird_single(perfused_mass_kg=1.03, lung_shunt_fraction=0.05, target_dose_gy=120.0,
...                         expected_residual_fraction=0.01, dose_constant_gy_kg_per_gbq=50.0)
>>> round(plan.activity_prepared_gbq, 4), round(plan.lung_dose_gy, 3)
(2.6284, 6.505)
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sirtkit.errors import ConstraintViolation, InputError
from sirtkit.physics.nuclides import (
    HO166_DOSE_CONSTANT_GY_KG_PER_GBQ,
    Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
)
from sirtkit.physics.tissue import LIVER_DENSITY_G_PER_ML
from sirtkit.planning.devices import RESIN_MAX_LUNG_SHUNT_FRACTION
from sirtkit.planning.lung import (
    LUNG_DOSE_LIMIT_CUMULATIVE_GY,
    LUNG_DOSE_LIMIT_SESSION_GY,
    STANDARD_LUNG_MASS_KG,
    cumulative_lung_dose_gy,
    max_activity_for_lung_dose_gbq,
)
from sirtkit.units import require_fraction, require_positive

__all__ = [
    "BSA_OFFSET_M2",
    "HO166_SCOUT_ACTIVITY_GBQ",
    "HO166_STANDARD_ACTIVITY_GBQ_PER_KG",
    "HO166_STANDARD_WHOLE_LIVER_DOSE_GY",
    "LIVER_DENSITY_G_PER_ML",
    "RESIN_BSA_LSF_REDUCTION",
    "ActivityPlan",
    "Compartment",
    "CompartmentDose",
    "CompartmentKind",
    "Constraint",
    "NORMAL_KINDS",
    "Objective",
    "Territory",
    "TerritoryPlan",
    "bsa_activity_gbq",
    "bsa_lsf_reduction_factor",
    "mass_from_volume_kg",
    "plan_bsa",
    "plan_holmium_standard",
    "plan_mird_single",
    "plan_multicompartment",
    "plan_partition",
    "scale_plan",
    "tumour_to_normal_ratio",
]

# BSA method: A[GBq] = (BSA − 0.2) + f_T (SIR-Spheres IFU form as summarised by Kao 2011, Lau 2012,
# Grosser 2015; CLINICAL.md §2.1 [S form / K exact wording]).
BSA_OFFSET_M2 = 0.2
# LSF reduction of the BSA activity, rows (lower edge of the LSF bin, inclusive; activity factor):
# LSF < 0.10 → ×1.0; 0.10 ≤ LSF < 0.15 → ×0.8; 0.15 ≤ LSF ≤ 0.20 → ×0.6; LSF > 0.20 contraindicated.
# 20 %/40 % reductions: Grosser JVIR 2015 [S]; bin edges and the boundary convention (a value on an edge
# falls in the *higher* reduction; exactly 0.20 is still allowed because the contraindication is "> 20 %")
# are field knowledge [K] (CLINICAL.md §2.1, §13).
RESIN_BSA_LSF_REDUCTION: tuple[tuple[float, float], ...] = ((0.0, 1.0), (0.10, 0.8), (0.15, 0.6))
# Ho-166: 60 Gy whole-liver standard ↔ 3780 MBq/kg (van Roekel thesis, HEPAR/SIM protocols) [S];
# 60/15.87 = 3.781 GBq/kg is what is computed here (the published 3780 MBq/kg is its rounding).
HO166_STANDARD_WHOLE_LIVER_DOSE_GY = 60.0
HO166_STANDARD_ACTIVITY_GBQ_PER_KG = HO166_STANDARD_WHOLE_LIVER_DOSE_GY / HO166_DOSE_CONSTANT_GY_KG_PER_GBQ
# Ho-166 scout dose ≈ 250 MBq (60 mg spheres), Prince JNM 2015;56:817 [S].
HO166_SCOUT_ACTIVITY_GBQ = 0.25

CompartmentKind = Literal["tumour", "normal_liver", "perfused_liver", "whole_liver"]
# Compartments counted as non-tumoural liver. Single-compartment territories (``perfused_liver``,
# ``whole_liver``) are not: without a tumour/normal split their normal-liver dose is unknown. This follows
# the EANM 2022 tables, which bound the *perfused volume* in single-compartment plans and the normal liver
# (perfused or whole) in multi-compartment plans.
NORMAL_KINDS: tuple[str, ...] = ("normal_liver",)

Objective = Literal["reach_targets", "maximise", "stated_dose"]


class Constraint(enum.StrEnum):
    """What sets the planned activity."""

    TUMOUR_TARGET = "tumour_target"
    NORMAL_LIVER_LIMIT = "perfused_normal_liver_limit"
    WHOLE_NORMAL_LIVER_LIMIT = "whole_normal_liver_limit"
    WHOLE_LIVER_LIMIT = "whole_liver_limit"
    NORMAL_LIVER_TARGET = "normal_liver_target"
    PERFUSED_TARGET = "perfused_target"
    STATED_DOSE = "stated_dose"
    LUNG_LIMIT = "lung_limit"
    CUMULATIVE_LUNG_LIMIT = "cumulative_lung_limit"
    LUNG_ACTIVITY_LIMIT = "lung_activity_limit"
    PRESCRIBED_ACTIVITY = "prescribed_activity"
    BSA_PRESCRIPTION = "bsa_prescription"
    WHOLE_LIVER_STANDARD = "whole_liver_standard"
    PER_TERRITORY = "per_territory"


@dataclass(frozen=True)
class Compartment:
    """One compartment of a perfused territory (input).

    Attributes
    ----------
    name
        Label (e.g. ``"T1"``, ``"normal right lobe"``).
    kind
        ``"tumour"``, ``"normal_liver"`` or ``"perfused_liver"`` (a whole territory as one compartment).
    mass_kg
        Mass in kg.
    counts
        Counts (MAA SPECT/CT or Ho-166 scout) in the compartment; give counts for all compartments of a
        territory or for none.
    concentration_ratio
        Activity concentration relative to normal liver (T/N for a tumour; 1 for normal liver) — used
        when counts are not given.
    """

    name: str
    kind: CompartmentKind
    mass_kg: float
    counts: float | None = None
    concentration_ratio: float | None = None


@dataclass(frozen=True)
class Territory:
    """A territory infused from one catheter position, with its own targets and limits (input).

    ``activity_prepared_gbq`` set → forward (doses from that activity); otherwise the activity follows
    the plan's objective under ``tumour_target_gy`` (coldest tumour reaches it), ``perfused_target_gy``,
    ``normal_liver_target_gy`` (lobectomy minimum, mean over the territory's normal liver),
    ``normal_liver_limit_gy`` (upper limit on the mean dose of the territory's normal liver) and the limits
    shared by all territories (lung, whole normal liver).
    """

    name: str
    compartments: tuple[Compartment, ...]
    tumour_target_gy: float | None = None
    normal_liver_limit_gy: float | None = None
    perfused_target_gy: float | None = None
    activity_prepared_gbq: float | None = None
    lung_shunt_fraction: float | None = None
    normal_liver_target_gy: float | None = None


@dataclass(frozen=True)
class CompartmentDose:
    """Activity and mean absorbed dose of one compartment (result)."""

    name: str
    kind: CompartmentKind
    territory: str
    mass_kg: float
    counts: float | None
    activity_gbq: float
    dose_gy: float
    tumour_to_normal_ratio: float | None


@dataclass(frozen=True)
class TerritoryPlan:
    """Activity of one territory and what set it (result)."""

    name: str
    activity_prepared_gbq: float
    activity_delivered_gbq: float
    lung_shunt_fraction: float
    perfused_mass_kg: float
    perfused_dose_gy: float
    tumour_to_normal_ratio: float | None
    binding_constraint: Constraint
    constraint_activities_gbq: Mapping[str, float]
    efficacy_activity_gbq: float | None = None
    first_limit_activity_gbq: float | None = None
    first_limit: str | None = None

    @property
    def window_position(self) -> float | None:
        """Where the delivered activity sits in the window: 0 = efficacy reached, 1 = first limit.

        ``None`` when the window is not bounded on both sides or is empty (efficacy needs more than the
        first limit allows).
        """
        lo, hi = self.efficacy_activity_gbq, self.first_limit_activity_gbq
        if lo is None or hi is None or hi <= lo:
            return None
        return (self.activity_delivered_gbq - lo) / (hi - lo)


@dataclass(frozen=True)
class ActivityPlan:
    """A planned treatment: activities, doses per compartment, lung dose and the binding constraint.

    Activities: ``activity_prepared_gbq`` (in the vial at administration) and ``activity_delivered_gbq``
    (= prepared × (1 − expected residual)). ``constraint_activities_gbq`` gives, for each constraint, the
    largest *delivered* activity it allows (single territory; for several territories see
    ``territories``); unbounded constraints are omitted.
    """

    method: str
    nuclide: str
    dose_constant_gy_kg_per_gbq: float
    expected_residual_fraction: float
    activity_prepared_gbq: float
    activity_delivered_gbq: float
    lung_shunt_fraction: float
    lung_mass_kg: float
    lung_activity_gbq: float
    lung_dose_gy: float
    prior_lung_dose_gy: float
    cumulative_lung_dose_gy: float
    tumour_to_normal_ratio: float | None
    compartments: tuple[CompartmentDose, ...]
    territories: tuple[TerritoryPlan, ...]
    binding_constraint: Constraint
    constraint_activities_gbq: Mapping[str, float]
    intermediates: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    nonperfused_normal_liver_mass_kg: float | None = None
    objective: str = "reach_targets"
    whole_liver_mass_kg: float | None = None

    @property
    def whole_liver_dose_gy(self) -> float | None:
        """Mean dose (Gy) of the whole liver, tumours included: ``K·A_liver/M_whole liver`` (``None`` if unknown).

        A ``whole_liver`` compartment gives it directly; otherwise it needs ``whole_liver_mass_kg``.
        """
        for c in self.compartments:
            if c.kind == "whole_liver":
                return c.dose_gy
        if self.whole_liver_mass_kg is None or self.whole_liver_mass_kg <= 0:
            return None
        return self.dose_constant_gy_kg_per_gbq * sum(c.activity_gbq for c in self.compartments) / \
            self.whole_liver_mass_kg

    @property
    def perfused_normal_liver_mass_kg(self) -> float:
        """Mass (kg) of the non-tumoural liver inside the perfused territories (see ``NORMAL_KINDS``)."""
        return sum(c.mass_kg for c in self.compartments if c.kind in NORMAL_KINDS)

    @property
    def perfused_normal_liver_activity_gbq(self) -> float:
        """Activity (GBq) infused into the non-tumoural liver of the perfused territories."""
        return sum(c.activity_gbq for c in self.compartments if c.kind in NORMAL_KINDS)

    @property
    def perfused_normal_liver_dose_gy(self) -> float | None:
        """Mean dose (Gy) of the perfused non-tumoural liver (mass-weighted over all territories)."""
        mass = self.perfused_normal_liver_mass_kg
        if mass <= 0:
            return None
        return self.dose_constant_gy_kg_per_gbq * self.perfused_normal_liver_activity_gbq / mass

    @property
    def whole_normal_liver_dose_gy(self) -> float | None:
        """Mean dose (Gy) of all non-tumoural liver, perfused and non-perfused (``None`` if unknown).

        ``K·A_normal/(M_perfused normal + M_non-perfused normal)``: the non-perfused liver receives no
        activity from this treatment.
        """
        if self.nonperfused_normal_liver_mass_kg is None:
            return None
        mass = self.perfused_normal_liver_mass_kg + self.nonperfused_normal_liver_mass_kg
        if mass <= 0:
            return None
        return self.dose_constant_gy_kg_per_gbq * self.perfused_normal_liver_activity_gbq / mass

    @property
    def nonperfused_normal_liver_dose_gy(self) -> float | None:
        """Dose of the non-perfused normal liver from this treatment: 0 when it is described, else ``None``."""
        return None if self.nonperfused_normal_liver_mass_kg is None else 0.0

    @property
    def tumour_dose_min_gy(self) -> float | None:
        """Lowest mean dose over tumour compartments (``None`` without tumours)."""
        doses = [c.dose_gy for c in self.compartments if c.kind == "tumour"]
        return min(doses) if doses else None

    @property
    def normal_liver_dose_max_gy(self) -> float | None:
        """Highest mean dose over normal-liver compartments (``None`` without them)."""
        doses = [c.dose_gy for c in self.compartments if c.kind == "normal_liver"]
        return max(doses) if doses else None

    @property
    def perfused_dose_min_gy(self) -> float:
        """Lowest mean perfused-territory dose over the territories."""
        return min(t.perfused_dose_gy for t in self.territories)

    @property
    def perfused_mass_kg(self) -> float:
        """Total perfused mass (kg) over the territories."""
        return sum(t.perfused_mass_kg for t in self.territories)


# --------------------------------------------------------------------------------------------------
# helpers


def mass_from_volume_kg(volume_ml: float, density_g_per_ml: float = LIVER_DENSITY_G_PER_ML) -> float:
    """Mass in kg from a volume in mL and a density in g/mL.

    >>> mass_from_volume_kg(1000.0)
    1.03
    """
    require_positive(volume_ml, "volume_ml")
    require_positive(density_g_per_ml, "density_g_per_ml")
    return volume_ml * density_g_per_ml / 1000.0


def tumour_to_normal_ratio(
    tumour_counts: float, tumour_mass_kg: float, normal_counts: float, normal_mass_kg: float
) -> float:
    """T/N concentration ratio ``(C_T/M_T)/(C_N/M_N)`` (Kao 2013; volumes may replace masses at equal density).

    >>> round(tumour_to_normal_ratio(300.0, 0.1, 700.0, 0.7), 6)
    3.0
    """
    require_positive(tumour_counts, "tumour_counts", allow_zero=True)
    require_positive(normal_counts, "normal_liver_counts")
    require_positive(tumour_mass_kg, "tumour_mass_kg")
    require_positive(normal_mass_kg, "normal_liver_mass_kg")
    return (tumour_counts / tumour_mass_kg) / (normal_counts / normal_mass_kg)


def _activity_from_prepared(prepared_gbq: float, residual_fraction: float) -> float:
    return prepared_gbq * (1.0 - residual_fraction)


def _prepared_from_delivered(delivered_gbq: float, residual_fraction: float) -> float:
    return delivered_gbq / (1.0 - residual_fraction)


def _check_common(lung_shunt_fraction: float, residual_fraction: float, lung_mass_kg: float, k: float) -> None:
    require_fraction(lung_shunt_fraction, "lung_shunt_fraction")
    require_fraction(residual_fraction, "expected_residual_fraction")
    if residual_fraction >= 1.0:
        raise InputError("expected_residual_fraction = 1: nothing would be delivered; give a value below 1")
    if lung_shunt_fraction >= 1.0:
        raise InputError("lung_shunt_fraction = 1: all activity would go to the lungs; check the LSF input")
    require_positive(lung_mass_kg, "lung_mass_kg")
    require_positive(k, "dose_constant_gy_kg_per_gbq")


def _weights(territory: Territory) -> list[float]:
    comps = territory.compartments
    if not comps:
        raise InputError(f"territory {territory.name!r} has no compartments: give at least one with its mass")
    for c in comps:
        require_positive(c.mass_kg, f"territory {territory.name!r} compartment {c.name!r} mass_kg")
    with_counts = [c.counts is not None for c in comps]
    if all(with_counts):
        weights = [float(c.counts) for c in comps if c.counts is not None]
        for c, w in zip(comps, weights, strict=True):
            require_positive(w, f"territory {territory.name!r} compartment {c.name!r} counts", allow_zero=True)
        if sum(weights) <= 0:
            raise InputError(f"territory {territory.name!r}: all compartment counts are 0")
        return weights
    if any(with_counts):
        raise InputError(
            f"territory {territory.name!r}: counts are given for some compartments only; give counts for all "
            "compartments, or concentration ratios (T/N) instead"
        )
    weights = []
    for c in comps:
        ratio = c.concentration_ratio
        if ratio is None:
            if c.kind == "tumour" and len(comps) > 1:
                raise InputError(
                    f"territory {territory.name!r} tumour {c.name!r}: give its counts or its tumour_to_normal_ratio"
                )
            ratio = 1.0
        require_positive(ratio, f"compartment {c.name!r} concentration_ratio")
        weights.append(ratio * c.mass_kg)
    return weights


def _territory_tn(territory: Territory, weights: Sequence[float]) -> tuple[float | None, list[float | None]]:
    """Territory T/N (all tumours vs all normal liver) and per-compartment T/N (tumours only)."""
    normal_w = sum(w for c, w in zip(territory.compartments, weights, strict=True) if c.kind == "normal_liver")
    normal_m = sum(c.mass_kg for c in territory.compartments if c.kind == "normal_liver")
    tumour_w = sum(w for c, w in zip(territory.compartments, weights, strict=True) if c.kind == "tumour")
    tumour_m = sum(c.mass_kg for c in territory.compartments if c.kind == "tumour")
    if normal_w <= 0 or normal_m <= 0:
        return None, [None] * len(weights)
    normal_conc = normal_w / normal_m
    per = [
        (w / c.mass_kg) / normal_conc if c.kind == "tumour" else None
        for c, w in zip(territory.compartments, weights, strict=True)
    ]
    overall = (tumour_w / tumour_m) / normal_conc if tumour_m > 0 else None
    return overall, per


@dataclass(frozen=True)
class _TerritoryModel:
    territory: Territory
    lsf: float
    weights: tuple[float, ...]
    dose_per_gbq: tuple[float, ...]  # compartment dose per GBq delivered to the territory
    perfused_mass_kg: float
    perfused_dose_per_gbq: float
    tn: float | None
    tn_per: tuple[float | None, ...]


def _model(territory: Territory, lsf: float, k: float) -> _TerritoryModel:
    weights = _weights(territory)
    total = sum(weights)
    liver_fraction = 1.0 - lsf
    dose_per = tuple(k * liver_fraction * (w / total) / c.mass_kg for c, w in zip(territory.compartments, weights,
                                                                                  strict=True))
    mass = sum(c.mass_kg for c in territory.compartments)
    tn, tn_per = _territory_tn(territory, weights)
    return _TerritoryModel(territory, lsf, tuple(weights), dose_per, mass, k * liver_fraction / mass, tn,
                           tuple(tn_per))


_TARGETS = (Constraint.TUMOUR_TARGET, Constraint.PERFUSED_TARGET, Constraint.NORMAL_LIVER_TARGET)


def _normal_dose_per_gbq(model: _TerritoryModel) -> float:
    """Mean dose of the territory's non-tumoural liver per GBq delivered to the territory."""
    pairs = [(c.mass_kg, g) for c, g in zip(model.territory.compartments, model.dose_per_gbq, strict=True)
             if c.kind in NORMAL_KINDS]
    mass = sum(m for m, _ in pairs)
    return sum(m * g for m, g in pairs) / mass if mass > 0 else 0.0


def _stated_dose_activity(model: _TerritoryModel, dose_gy: float) -> float:
    """Delivered activity that gives ``dose_gy`` to the coldest tumour (or to the perfused volume)."""
    tumour = [g for c, g in zip(model.territory.compartments, model.dose_per_gbq, strict=True)
              if c.kind == "tumour" and g > 0]
    return dose_gy / min(tumour) if tumour else dose_gy / model.perfused_dose_per_gbq


def _territory_bounds(model: _TerritoryModel) -> dict[str, float]:
    """Delivered activity set by each target (needed) and limit (allowed) of one territory (lung excluded)."""
    t = model.territory
    bounds: dict[str, float] = {}
    comps = t.compartments
    if t.tumour_target_gy is not None:
        require_positive(t.tumour_target_gy, f"territory {t.name!r} tumour_target_gy")
        need = [t.tumour_target_gy / g for c, g in zip(comps, model.dose_per_gbq, strict=True)
                if c.kind == "tumour" and g > 0]
        if need:
            bounds[Constraint.TUMOUR_TARGET] = max(need)  # the coldest tumour reaches the target
    normal_per_gbq = _normal_dose_per_gbq(model)
    if t.normal_liver_limit_gy is not None:
        require_positive(t.normal_liver_limit_gy, f"territory {t.name!r} normal_liver_limit_gy")
        if normal_per_gbq > 0:
            bounds[Constraint.NORMAL_LIVER_LIMIT] = t.normal_liver_limit_gy / normal_per_gbq
    if t.normal_liver_target_gy is not None:
        require_positive(t.normal_liver_target_gy, f"territory {t.name!r} normal_liver_target_gy")
        if normal_per_gbq > 0:
            bounds[Constraint.NORMAL_LIVER_TARGET] = t.normal_liver_target_gy / normal_per_gbq
    if t.perfused_target_gy is not None:
        require_positive(t.perfused_target_gy, f"territory {t.name!r} perfused_target_gy")
        bounds[Constraint.PERFUSED_TARGET] = t.perfused_target_gy / model.perfused_dose_per_gbq
    return bounds


def _choose(bounds: Mapping[str, float], objective: Objective = "reach_targets",
            stated_gbq: float | None = None) -> tuple[float | None, Constraint]:
    """The territory's activity under ``objective``; ``None`` = bounded only by the shared limits.

    ``reach_targets``: the activity reaching every target (largest need) unless a limit allows less;
    ``maximise``: the smallest allowance of the territory's limits; ``stated_dose``: ``stated_gbq``
    unless a limit allows less.
    """
    targets = {k: v for k, v in bounds.items() if k in _TARGETS}
    limits = {k: v for k, v in bounds.items() if k not in _TARGETS}
    cap_key = min(limits, key=lambda name: limits[name]) if limits else None
    if objective == "maximise":
        return (None, Constraint.LUNG_LIMIT) if cap_key is None else (limits[cap_key], Constraint(cap_key))
    if objective == "stated_dose":
        assert stated_gbq is not None
        if cap_key is not None and limits[cap_key] < stated_gbq:
            return limits[cap_key], Constraint(cap_key)
        return stated_gbq, Constraint.STATED_DOSE
    need_key = max(targets, key=lambda name: targets[name]) if targets else None
    if need_key is not None and (cap_key is None or targets[need_key] <= limits[cap_key]):
        return targets[need_key], Constraint(need_key)
    if cap_key is None:
        raise InputError("no target or limit sets the activity")
    return limits[cap_key], Constraint(cap_key)


def _solve(
    territories: Sequence[Territory],
    *,
    method: str,
    lung_shunt_fraction: float,
    lung_mass_kg: float,
    dose_constant_gy_kg_per_gbq: float,
    expected_residual_fraction: float,
    lung_dose_limit_gy: float | None,
    cumulative_lung_limit_gy: float | None,
    prior_lung_doses_gy: Sequence[float],
    lung_activity_limit_gbq: float | None,
    nuclide: str,
    intermediates: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
    fixed_delivered_gbq: Sequence[float | None] | None = None,
    fixed_constraint: Constraint | None = None,
    whole_normal_liver_limit_gy: float | None = None,
    nonperfused_normal_liver_mass_kg: float | None = None,
    objective: Objective = "reach_targets",
    stated_dose_gy: float | None = None,
    whole_liver_limit_gy: float | None = None,
    whole_liver_mass_kg: float | None = None,
) -> ActivityPlan:
    k = dose_constant_gy_kg_per_gbq
    if objective == "stated_dose":
        if stated_dose_gy is None:
            raise InputError("objective 'stated_dose' needs the dose to aim at (stated_dose_gy)")
        require_positive(stated_dose_gy, "stated_dose_gy")
    if nonperfused_normal_liver_mass_kg is not None:
        require_positive(nonperfused_normal_liver_mass_kg, "nonperfused_normal_liver_mass_kg", allow_zero=True)
    r = expected_residual_fraction
    _check_common(lung_shunt_fraction, r, lung_mass_kg, k)
    if not territories:
        raise InputError("no territory to plan: give at least one perfused territory with its compartments")
    names = [t.name for t in territories]
    if len(set(names)) != len(names):
        raise InputError(f"territory names must be unique; got {names}")
    prior = cumulative_lung_dose_gy(0.0, prior_lung_doses_gy)
    models = []
    for t in territories:
        lsf = lung_shunt_fraction if t.lung_shunt_fraction is None else t.lung_shunt_fraction
        require_fraction(lsf, f"territory {t.name!r} lung_shunt_fraction")
        if lsf >= 1.0:
            raise InputError(f"territory {t.name!r}: lung_shunt_fraction = 1 leaves nothing for the liver")
        models.append(_model(t, lsf, k))

    # 1. each territory on its own (targets/limits, or the prescribed activity)
    delivered: list[float] = []
    bindings: list[Constraint] = []
    bounds_per: list[dict[str, float]] = []
    unbounded: list[bool] = []
    for i, m in enumerate(models):
        t = m.territory
        bounds = _territory_bounds(m)
        fixed = None if fixed_delivered_gbq is None else fixed_delivered_gbq[i]
        if t.activity_prepared_gbq is not None:
            require_positive(t.activity_prepared_gbq, f"territory {t.name!r} activity_prepared_gbq")
            delivered.append(_activity_from_prepared(t.activity_prepared_gbq, r))
            bindings.append(Constraint.PRESCRIBED_ACTIVITY)
        elif fixed is not None:
            delivered.append(fixed)
            bindings.append(fixed_constraint or Constraint.PRESCRIBED_ACTIVITY)
        elif bounds or objective != "reach_targets":
            stated = None if objective != "stated_dose" else _stated_dose_activity(m, stated_dose_gy or 0.0)
            activity, binding = _choose(bounds, objective, stated)
            delivered.append(1.0 if activity is None else activity)
            bindings.append(binding)
        else:
            raise InputError(
                f"territory {t.name!r}: nothing sets the activity — give activity_prepared_gbq or at least one "
                "of tumour_target_gy, normal_liver_limit_gy, perfused_target_gy"
            )
        unbounded.append(t.activity_prepared_gbq is None and fixed is None and objective == "maximise"
                         and not any(key not in _TARGETS for key in bounds))
        bounds_per.append(bounds)

    # 2. limits shared by all territories (lung dose, cumulative lung dose, lung activity, whole normal
    # liver): each is linear in the territories' activities, sum_i a_i·x_i ≤ limit. Territories bounded
    # by nothing of their own (objective "maximise") first grow together until a shared limit binds; then,
    # if the planned (not prescribed) territories together exceed a shared limit, they are scaled down
    # together by one factor.
    lung_dose_per_gbq = [k * m.lsf / lung_mass_kg for m in models]
    lung_act_per_gbq = [m.lsf for m in models]
    shared: dict[str, tuple[float, list[float]]] = {}
    if lung_dose_limit_gy is not None:
        shared[Constraint.LUNG_LIMIT] = (lung_dose_limit_gy, lung_dose_per_gbq)
    if cumulative_lung_limit_gy is not None:
        shared[Constraint.CUMULATIVE_LUNG_LIMIT] = (cumulative_lung_limit_gy - prior, lung_dose_per_gbq)
    if lung_activity_limit_gbq is not None:
        shared[Constraint.LUNG_ACTIVITY_LIMIT] = (lung_activity_limit_gbq, lung_act_per_gbq)
    if whole_normal_liver_limit_gy is not None and nonperfused_normal_liver_mass_kg is not None:
        require_positive(whole_normal_liver_limit_gy, "whole_normal_liver_limit_gy")
        normal_mass = sum(c.mass_kg for m in models for c in m.territory.compartments if c.kind in NORMAL_KINDS)
        total = normal_mass + nonperfused_normal_liver_mass_kg
        if normal_mass > 0:
            per = [_normal_dose_per_gbq(m) * sum(c.mass_kg for c in m.territory.compartments
                                                 if c.kind in NORMAL_KINDS) / total for m in models]
            shared[Constraint.WHOLE_NORMAL_LIVER_LIMIT] = (whole_normal_liver_limit_gy, per)
    plan_notes = list(notes)
    if whole_normal_liver_limit_gy is not None and nonperfused_normal_liver_mass_kg is None:
        # Ablative intents keep the perfused normal liver out of the limit only with the rest of the liver
        # described; without it the whole-normal-liver dose is unknown, and the plan says so.
        plan_notes.append(f"whole-normal-liver limit {whole_normal_liver_limit_gy:g} Gy not applied: the non-perfused "
                          "liver is not described (give the whole-liver volume to check it)")
    whole_mass = _whole_liver_mass(models, whole_liver_mass_kg, nonperfused_normal_liver_mass_kg)
    if whole_liver_limit_gy is not None:
        # Whole-liver mean dose (tumours included) K·Σ A_liver/M_whole: the quantity the Ho-166 60 Gy limit
        # names (HEPAR I, Smits 2012). Without a known whole-liver mass the perfused territories (plus any
        # non-perfused liver described) stand for it — a smaller mass, so a higher, conservative dose.
        require_positive(whole_liver_limit_gy, "whole_liver_limit_gy")
        mass = whole_mass
        if mass is None:
            mass = sum(m.perfused_mass_kg for m in models) + (nonperfused_normal_liver_mass_kg or 0.0)
            plan_notes.append(f"whole-liver limit applied with the perfused mass {mass:.3f} kg as the whole liver "
                         "(whole-liver mass not given; conservative)")
        shared[Constraint.WHOLE_LIVER_LIMIT] = (whole_liver_limit_gy, [k * (1.0 - m.lsf) / mass for m in models])

    def _scales(movable: Sequence[bool]) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, (limit, per) in shared.items():
            moving = sum(d * g for d, g, f in zip(delivered, per, movable, strict=True) if f)
            fixed_part = sum(d * g for d, g, f in zip(delivered, per, movable, strict=True) if not f)
            if moving > 0:
                out[key] = max(limit - fixed_part, 0.0) / moving
        return out

    if any(unbounded):
        grow = _scales(unbounded)
        if not grow:
            names = [m.territory.name for m, u in zip(models, unbounded, strict=True) if u]
            raise InputError(f"objective 'maximise': nothing limits the activity of territory {names[0]!r} — "
                             "give a normal-liver limit or a lung shunt fraction above 0")
        key = min(grow, key=lambda name: grow[name])
        for i, u in enumerate(unbounded):
            if u:
                delivered[i] *= grow[key]
                bindings[i] = Constraint(key)
    free = [b not in (Constraint.PRESCRIBED_ACTIVITY,) for b in bindings]
    lung_scales = _scales(free)
    if lung_scales:
        key = min(lung_scales, key=lambda name: lung_scales[name])
        scale = lung_scales[key]
        if scale < 1.0:
            for i, f in enumerate(free):
                if f:
                    delivered[i] *= scale
                    bindings[i] = Constraint(key)

    # 3. doses
    compartments: list[CompartmentDose] = []
    tplans: list[TerritoryPlan] = []
    for m, a_del, binding, bounds in zip(models, delivered, bindings, bounds_per, strict=True):
        t = m.territory
        total_w = sum(m.weights)
        for c, w, g, tn in zip(t.compartments, m.weights, m.dose_per_gbq, m.tn_per, strict=True):
            compartments.append(CompartmentDose(
                name=c.name, kind=c.kind, territory=t.name, mass_kg=c.mass_kg, counts=c.counts,
                activity_gbq=a_del * (1.0 - m.lsf) * w / total_w, dose_gy=a_del * g, tumour_to_normal_ratio=tn,
            ))
        allowed = dict(bounds)
        if m.lsf > 0:
            if lung_dose_limit_gy is not None and len(models) == 1:
                allowed[Constraint.LUNG_LIMIT] = max_activity_for_lung_dose_gbq(lung_dose_limit_gy, m.lsf,
                                                                                lung_mass_kg, k)
            if cumulative_lung_limit_gy is not None and len(models) == 1:
                allowed[Constraint.CUMULATIVE_LUNG_LIMIT] = max_activity_for_lung_dose_gbq(
                    max(cumulative_lung_limit_gy - prior, 0.0), m.lsf, lung_mass_kg, k)
            if lung_activity_limit_gbq is not None and len(models) == 1:
                allowed[Constraint.LUNG_ACTIVITY_LIMIT] = lung_activity_limit_gbq / m.lsf
        for key in (Constraint.WHOLE_NORMAL_LIVER_LIMIT, Constraint.WHOLE_LIVER_LIMIT):
            whole = shared.get(key)
            if whole is not None and len(models) == 1 and whole[1][0] > 0:
                allowed[key] = whole[0] / whole[1][0]
        needs = [v for key, v in allowed.items() if key in _TARGETS]
        caps = {key: v for key, v in allowed.items() if key not in _TARGETS}
        cap_key = min(caps, key=lambda name: caps[name]) if caps else None
        tplans.append(TerritoryPlan(
            name=t.name, activity_prepared_gbq=_prepared_from_delivered(a_del, r), activity_delivered_gbq=a_del,
            lung_shunt_fraction=m.lsf, perfused_mass_kg=m.perfused_mass_kg,
            perfused_dose_gy=a_del * m.perfused_dose_per_gbq, tumour_to_normal_ratio=m.tn, binding_constraint=binding,
            constraint_activities_gbq={str(key): v for key, v in allowed.items() if math.isfinite(v)},
            efficacy_activity_gbq=max(needs) if needs else None,
            first_limit_activity_gbq=None if cap_key is None else caps[cap_key],
            first_limit=None if cap_key is None else str(cap_key),
        ))

    a_del_total = sum(delivered)
    lung_act = sum(d * g for d, g in zip(delivered, lung_act_per_gbq, strict=True))
    lung_dose = sum(d * g for d, g in zip(delivered, lung_dose_per_gbq, strict=True))
    lsf_eff = lung_act / a_del_total if a_del_total > 0 else lung_shunt_fraction
    # Several territories set by different constraints: see each territory's binding constraint.
    overall_binding = bindings[0] if len(set(bindings)) == 1 else Constraint.PER_TERRITORY
    tn_values = [m.tn for m in models if m.tn is not None]
    return ActivityPlan(
        method=method,
        nuclide=nuclide,
        dose_constant_gy_kg_per_gbq=k,
        expected_residual_fraction=r,
        activity_prepared_gbq=_prepared_from_delivered(a_del_total, r),
        activity_delivered_gbq=a_del_total,
        lung_shunt_fraction=lsf_eff,
        lung_mass_kg=lung_mass_kg,
        lung_activity_gbq=lung_act,
        lung_dose_gy=lung_dose,
        prior_lung_dose_gy=prior,
        cumulative_lung_dose_gy=prior + lung_dose,
        tumour_to_normal_ratio=min(tn_values) if tn_values else None,
        compartments=tuple(compartments),
        territories=tuple(tplans),
        binding_constraint=overall_binding,
        constraint_activities_gbq=dict(tplans[0].constraint_activities_gbq) if len(tplans) == 1 else {},
        intermediates=dict(intermediates or {}),
        notes=tuple(plan_notes),
        nonperfused_normal_liver_mass_kg=nonperfused_normal_liver_mass_kg,
        objective=objective,
        whole_liver_mass_kg=whole_mass,
    )


def _whole_liver_mass(models: Sequence[_TerritoryModel], given_kg: float | None,
                      nonperfused_kg: float | None) -> float | None:
    """Whole-liver mass (kg, tumours included): given, a ``whole_liver`` compartment, or perfused + non-perfused."""
    if given_kg is not None:
        require_positive(given_kg, "whole_liver_mass_kg")
        return given_kg
    comps = [c for m in models for c in m.territory.compartments]
    if any(c.kind == "whole_liver" for c in comps):
        return sum(c.mass_kg for c in comps)
    if nonperfused_kg is None:
        return None
    return sum(c.mass_kg for c in comps) + nonperfused_kg


# --------------------------------------------------------------------------------------------------
# public methods


def plan_multicompartment(
    territories: Sequence[Territory],
    *,
    lung_shunt_fraction: float,
    lung_mass_kg: float = STANDARD_LUNG_MASS_KG,
    dose_constant_gy_kg_per_gbq: float = Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
    expected_residual_fraction: float = 0.0,
    lung_dose_limit_gy: float | None = LUNG_DOSE_LIMIT_SESSION_GY,
    cumulative_lung_limit_gy: float | None = LUNG_DOSE_LIMIT_CUMULATIVE_GY,
    prior_lung_doses_gy: Sequence[float] = (),
    lung_activity_limit_gbq: float | None = None,
    nuclide: str = "Y-90",
    whole_normal_liver_limit_gy: float | None = None,
    nonperfused_normal_liver_mass_kg: float | None = None,
    objective: Objective = "reach_targets",
    stated_dose_gy: float | None = None,
    whole_liver_limit_gy: float | None = None,
    whole_liver_mass_kg: float | None = None,
) -> ActivityPlan:
    """Multi-compartment MIRD plan over one or more territories (catheter positions).

    Each territory's delivered activity is split as ``A_i = A·(1 − LSF)·w_i/Σw`` over its compartments
    (``w_i`` = counts, or T/N × mass), ``D_i = K·A_i/M_i``. Each territory is planned on its own (its
    prescribed activity, or the largest activity under its targets/limits, the coldest tumour defining
    the tumour target); then, if the summed lung dose or lung activity of all territories exceeds a
    lung limit, every planned (not prescribed) territory is scaled down by the same factor and its
    binding constraint becomes that lung limit.

    Parameters
    ----------
    territories
        Territories with compartments (masses, counts or concentration ratios) and targets/limits.
    lung_shunt_fraction
        LSF (0–1) used for territories that do not give their own.
    lung_mass_kg
        Lung mass (default 1.0 kg).
    dose_constant_gy_kg_per_gbq
        K (49.67 Y-90 vendor-neutral; 50 TheraSphere IFU; 15.87 Ho-166).
    expected_residual_fraction
        Expected residual fraction R (0–1): prepared = delivered / (1 − R).
    lung_dose_limit_gy, cumulative_lung_limit_gy, lung_activity_limit_gbq
        Lung limits (``None`` = not applied); the cumulative limit counts ``prior_lung_doses_gy``.
    prior_lung_doses_gy
        Lung doses (Gy) of earlier treatments.
    nuclide
        Name reported in the result.
    whole_liver_limit_gy, whole_liver_mass_kg
        Upper limit on the whole-liver mean dose (tumours included, ``K·A_liver/M_whole``; the Ho-166
        60 Gy of HEPAR I) — a shared limit like the lung's, binding when it allows less than the targets
        need — and the whole-liver mass it is computed with (default: perfused + non-perfused liver).

    Returns
    -------
    ActivityPlan

    Raises
    ------
    InputError, UnitsError
        Missing or impossible inputs (no compartment, negative mass, LSF outside 0–1, nothing setting the
        activity of a territory).

    References
    ----------
    MIRDy90 (JNM 2024;65:794); Kao 2013 CVIR; CLINICAL.md §2.3.

    Examples
    --------
    >>> t = Territory("right", (Compartment("T1", "tumour", 0.1, counts=300.0),
    ...                         Compartment("NL", "normal_liver", 0.7, counts=700.0)), normal_liver_limit_gy=40.0)
    >>> plan = plan_multicompartment([t], lung_shunt_fraction=0.05)
    >>> plan.binding_constraint.value, round(plan.compartments[0].dose_gy / plan.compartments[1].dose_gy, 6)
    ('perfused_normal_liver_limit', 3.0)
    """
    return _solve(
        territories, method="multicompartment", lung_shunt_fraction=lung_shunt_fraction, lung_mass_kg=lung_mass_kg,
        dose_constant_gy_kg_per_gbq=dose_constant_gy_kg_per_gbq, expected_residual_fraction=expected_residual_fraction,
        lung_dose_limit_gy=lung_dose_limit_gy, cumulative_lung_limit_gy=cumulative_lung_limit_gy,
        prior_lung_doses_gy=prior_lung_doses_gy, lung_activity_limit_gbq=lung_activity_limit_gbq, nuclide=nuclide,
        whole_normal_liver_limit_gy=whole_normal_liver_limit_gy,
        nonperfused_normal_liver_mass_kg=nonperfused_normal_liver_mass_kg, objective=objective,
        stated_dose_gy=stated_dose_gy, whole_liver_limit_gy=whole_liver_limit_gy,
        whole_liver_mass_kg=whole_liver_mass_kg,
    )


def plan_partition(
    *,
    tumour_mass_kg: float,
    normal_liver_mass_kg: float,
    lung_shunt_fraction: float,
    tumour_counts: float | None = None,
    normal_liver_counts: float | None = None,
    tumour_to_normal: float | None = None,
    activity_prepared_gbq: float | None = None,
    tumour_target_gy: float | None = None,
    normal_liver_limit_gy: float | None = None,
    normal_liver_target_gy: float | None = None,
    lung_mass_kg: float = STANDARD_LUNG_MASS_KG,
    dose_constant_gy_kg_per_gbq: float = Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
    expected_residual_fraction: float = 0.0,
    lung_dose_limit_gy: float | None = LUNG_DOSE_LIMIT_SESSION_GY,
    cumulative_lung_limit_gy: float | None = LUNG_DOSE_LIMIT_CUMULATIVE_GY,
    prior_lung_doses_gy: Sequence[float] = (),
    lung_activity_limit_gbq: float | None = None,
    nuclide: str = "Y-90",
    territory_name: str = "perfused",
    whole_normal_liver_limit_gy: float | None = None,
    nonperfused_normal_liver_mass_kg: float | None = None,
    objective: Objective = "reach_targets",
    stated_dose_gy: float | None = None,
    whole_liver_limit_gy: float | None = None,
    whole_liver_mass_kg: float | None = None,
) -> ActivityPlan:
    """Partition (tumour / normal liver / lung) model, forward or inverse under constraints.

    T/N comes from counts and masses (``tumour_counts`` + ``normal_liver_counts``) or is given
    (``tumour_to_normal``). Inverse: ``A = min(A_NL-limit, A_T-target, A_lung, A_cum-lung, A_lung-activity)``
    with ``A_NL = D_N,lim·(T/N·M_T + M_N)/(K·(1 − LSF))``, ``A_T = A_NL·D_T,target/(T/N·D_N,lim)``,
    ``A_lung = D_L,lim·M_L/(K·LSF)`` (delivered activities); prepared = delivered/(1 − R).

    Returns
    -------
    ActivityPlan
        Compartments ``tumour`` and ``normal_liver``; ``binding_constraint`` names the smallest bound.

    Raises
    ------
    InputError
        Neither counts nor T/N given (or both), or nothing that sets the activity.

    References
    ----------
    Kao YH et al. CVIR 2013 (partition model, T/N); CLINICAL.md §2.3.

    Examples
    --------
    >>> p = plan_partition(tumour_mass_kg=0.2, normal_liver_mass_kg=1.0, lung_shunt_fraction=0.05,
    ...                    tumour_to_normal=4.0, normal_liver_limit_gy=40.0)
    >>> round(p.compartments[0].dose_gy, 6), p.binding_constraint.value
    (160.0, 'perfused_normal_liver_limit')
    """
    counts_given = tumour_counts is not None or normal_liver_counts is not None
    if counts_given and tumour_to_normal is not None:
        raise InputError("give either tumour/normal-liver counts or tumour_to_normal, not both")
    if counts_given:
        if tumour_counts is None or normal_liver_counts is None:
            raise InputError("give both tumour_counts and normal_liver_counts (or tumour_to_normal instead)")
        tumour = Compartment("tumour", "tumour", tumour_mass_kg, counts=tumour_counts)
        normal = Compartment("normal liver", "normal_liver", normal_liver_mass_kg, counts=normal_liver_counts)
    elif tumour_to_normal is not None:
        tumour = Compartment("tumour", "tumour", tumour_mass_kg, concentration_ratio=tumour_to_normal)
        normal = Compartment("normal liver", "normal_liver", normal_liver_mass_kg, concentration_ratio=1.0)
    else:
        raise InputError("partition model needs T/N: give tumour_counts and normal_liver_counts, or tumour_to_normal")
    territory = Territory(territory_name, (tumour, normal), tumour_target_gy=tumour_target_gy,
                          normal_liver_limit_gy=normal_liver_limit_gy, activity_prepared_gbq=activity_prepared_gbq,
                          normal_liver_target_gy=normal_liver_target_gy)
    return _solve(
        [territory], method="partition", lung_shunt_fraction=lung_shunt_fraction, lung_mass_kg=lung_mass_kg,
        dose_constant_gy_kg_per_gbq=dose_constant_gy_kg_per_gbq, expected_residual_fraction=expected_residual_fraction,
        lung_dose_limit_gy=lung_dose_limit_gy, cumulative_lung_limit_gy=cumulative_lung_limit_gy,
        prior_lung_doses_gy=prior_lung_doses_gy, lung_activity_limit_gbq=lung_activity_limit_gbq, nuclide=nuclide,
        whole_normal_liver_limit_gy=whole_normal_liver_limit_gy,
        nonperfused_normal_liver_mass_kg=nonperfused_normal_liver_mass_kg, objective=objective,
        stated_dose_gy=stated_dose_gy, whole_liver_limit_gy=whole_liver_limit_gy,
        whole_liver_mass_kg=whole_liver_mass_kg,
    )


def plan_mird_single(
    *,
    perfused_mass_kg: float,
    lung_shunt_fraction: float,
    target_dose_gy: float | None = None,
    activity_prepared_gbq: float | None = None,
    lung_mass_kg: float = STANDARD_LUNG_MASS_KG,
    dose_constant_gy_kg_per_gbq: float = Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
    expected_residual_fraction: float = 0.0,
    lung_dose_limit_gy: float | None = LUNG_DOSE_LIMIT_SESSION_GY,
    cumulative_lung_limit_gy: float | None = LUNG_DOSE_LIMIT_CUMULATIVE_GY,
    prior_lung_doses_gy: Sequence[float] = (),
    lung_activity_limit_gbq: float | None = None,
    nuclide: str = "Y-90",
    territory_name: str = "perfused",
    whole_normal_liver_limit_gy: float | None = None,
    nonperfused_normal_liver_mass_kg: float | None = None,
    objective: Objective = "reach_targets",
    stated_dose_gy: float | None = None,
    whole_liver_limit_gy: float | None = None,
    whole_liver_mass_kg: float | None = None,
) -> ActivityPlan:
    """MIRD single-compartment ("standard") model: ``D = K·A_prep·(1 − R)·(1 − LSF)/M``.

    Inverse: ``A_prep = D·M/(K·(1 − LSF)·(1 − R))``, capped by the lung limits.
    K = 49.67 (vendor-neutral, default) or 50 (TheraSphere IFU reproduction).

    References
    ----------
    TheraSphere PI (``D = 50·A·(1 − F)/M``); CLINICAL.md §2.2, W3 (120 Gy, 1.03 kg, LSF 0.05, R 0.01, K 50
    → A_prep 2.6284 GBq) and W23 (1.8 GBq into 1.5 kg → 59.60 Gy).

    Examples
    --------
    >>> p = plan_mird_single(perfused_mass_kg=1.5, lung_shunt_fraction=0.0, activity_prepared_gbq=1.8)
    >>> round(p.territories[0].perfused_dose_gy, 2)
    59.6
    """
    territory = Territory(territory_name, (Compartment("perfused liver", "perfused_liver", perfused_mass_kg),),
                          perfused_target_gy=target_dose_gy, activity_prepared_gbq=activity_prepared_gbq)
    return _solve(
        [territory], method="mird", lung_shunt_fraction=lung_shunt_fraction, lung_mass_kg=lung_mass_kg,
        dose_constant_gy_kg_per_gbq=dose_constant_gy_kg_per_gbq, expected_residual_fraction=expected_residual_fraction,
        lung_dose_limit_gy=lung_dose_limit_gy, cumulative_lung_limit_gy=cumulative_lung_limit_gy,
        prior_lung_doses_gy=prior_lung_doses_gy, lung_activity_limit_gbq=lung_activity_limit_gbq, nuclide=nuclide,
        whole_normal_liver_limit_gy=whole_normal_liver_limit_gy,
        nonperfused_normal_liver_mass_kg=nonperfused_normal_liver_mass_kg, objective=objective,
        stated_dose_gy=stated_dose_gy, whole_liver_limit_gy=whole_liver_limit_gy,
        whole_liver_mass_kg=whole_liver_mass_kg,
    )


def bsa_activity_gbq(bsa_m2: float, tumour_involvement_fraction: float) -> float:
    """Whole-liver BSA activity ``(BSA − 0.2) + f_T`` in GBq (before any LSF reduction).

    >>> round(bsa_activity_gbq(1.9964, 0.20), 4)
    1.9964
    """
    require_positive(bsa_m2, "bsa_m2")
    require_fraction(tumour_involvement_fraction, "tumour_involvement_fraction")
    if bsa_m2 <= BSA_OFFSET_M2:
        raise InputError(f"bsa_m2 = {bsa_m2} is not above {BSA_OFFSET_M2} m²: check height and weight")
    return (bsa_m2 - BSA_OFFSET_M2) + tumour_involvement_fraction


def bsa_lsf_reduction_factor(lung_shunt_fraction: float) -> float:
    """Activity factor of the BSA method for an LSF (see :data:`RESIN_BSA_LSF_REDUCTION`).

    Raises
    ------
    ConstraintViolation
        LSF > 0.20: resin microspheres are contraindicated (Sirtex).

    >>> [bsa_lsf_reduction_factor(x) for x in (0.0999, 0.10, 0.15, 0.20)]
    [1.0, 0.8, 0.6, 0.6]
    """
    require_fraction(lung_shunt_fraction, "lung_shunt_fraction")
    if lung_shunt_fraction > RESIN_MAX_LUNG_SHUNT_FRACTION:
        raise ConstraintViolation(
            f"lung_shunt_fraction = {lung_shunt_fraction:.4f} > {RESIN_MAX_LUNG_SHUNT_FRACTION:.2f}: resin "
            "microspheres are contraindicated (Sirtex); do not treat with this plan — consider shunt "
            "reduction, a Ho-166 scout, or another device under a lung-dose-based plan"
        )
    factor = RESIN_BSA_LSF_REDUCTION[0][1]
    for lower, value in RESIN_BSA_LSF_REDUCTION:
        if lung_shunt_fraction >= lower:
            factor = value
    return factor


def plan_bsa(
    *,
    bsa_m2: float,
    tumour_volume_ml: float,
    liver_volume_ml: float,
    lung_shunt_fraction: float,
    perfused_volume_ml: float | None = None,
    activity_prepared_gbq: float | None = None,
    density_g_per_ml: float = LIVER_DENSITY_G_PER_ML,
    lung_mass_kg: float = STANDARD_LUNG_MASS_KG,
    dose_constant_gy_kg_per_gbq: float = Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
    expected_residual_fraction: float = 0.0,
    prior_lung_doses_gy: Sequence[float] = (),
    nonperfused_normal_liver_mass_kg: float | None = None,
) -> ActivityPlan:
    """Resin BSA method, whole liver or lobar/segmental.

    ``A_BSA = (BSA − 0.2) + f_T`` with ``f_T = V_tumour/V_liver`` (``liver_volume_ml`` is the total liver
    volume including tumour); lobar/segmental variant used here:
    ``A = A_BSA · V_perfused/V_liver`` (perfused volume including its tumour); then the LSF reduction
    factor. The BSA activity is the activity to *prepare*; expected delivered = prepared × (1 − R).
    Doses are reported as the mean dose to the perfused volume (single compartment, ``K·A_del(1−LSF)/M``)
    and the lung dose. The lung limits do not change a BSA prescription: the checks report them.

    Raises
    ------
    ConstraintViolation
        LSF > 0.20 (resin contraindicated).
    InputError
        Tumour or perfused volume larger than the liver volume.

    References
    ----------
    SIR-Spheres IFU (BSA formula as summarised by Kao 2011, Lau 2012, Grosser 2015); Lam JVIR 2014;
    CLINICAL.md §2.1, W2 (BSA 1.9964, f_T 0.20, LSF 0.12 → 1.5971 GBq).

    Examples
    --------
    >>> p = plan_bsa(bsa_m2=1.9964, tumour_volume_ml=360.0, liver_volume_ml=1800.0, lung_shunt_fraction=0.12)
    >>> round(p.activity_prepared_gbq, 4)
    1.5971
    """
    require_positive(tumour_volume_ml, "tumour_volume_ml", allow_zero=True)
    require_positive(liver_volume_ml, "liver_volume_ml")
    if tumour_volume_ml > liver_volume_ml:
        raise InputError(
            f"tumour_volume_ml = {tumour_volume_ml} exceeds liver_volume_ml = {liver_volume_ml}: the liver "
            "volume must include the tumours"
        )
    perfused_ml = liver_volume_ml if perfused_volume_ml is None else perfused_volume_ml
    require_positive(perfused_ml, "perfused_volume_ml")
    if perfused_ml > liver_volume_ml * (1.0 + 1e-9):
        raise InputError(
            f"perfused_volume_ml = {perfused_ml} exceeds liver_volume_ml = {liver_volume_ml}: check the volumes"
        )
    f_t = tumour_volume_ml / liver_volume_ml
    whole = bsa_activity_gbq(bsa_m2, f_t)
    perfused_fraction = perfused_ml / liver_volume_ml
    factor = bsa_lsf_reduction_factor(lung_shunt_fraction)
    prescribed = whole * perfused_fraction * factor
    notes = [
        "BSA method: A = ((BSA − 0.2) + f_T) × V_perfused/V_liver × LSF factor (lobar variant documented in "
        "docs/planning.md); the BSA method ignores liver mass (Lam JVIR 2014)",
    ]
    binding = Constraint.BSA_PRESCRIPTION
    if activity_prepared_gbq is not None:
        require_positive(activity_prepared_gbq, "activity_prepared_gbq")
        notes.append(f"prescribed activity {activity_prepared_gbq:.4g} GBq used instead of the BSA "
                     f"activity {prescribed:.4g} GBq")
        a_prep = activity_prepared_gbq
        binding = Constraint.PRESCRIBED_ACTIVITY
    else:
        a_prep = prescribed
    mass = mass_from_volume_kg(perfused_ml, density_g_per_ml)
    territory = Territory("perfused", (Compartment("perfused liver", "perfused_liver", mass),))
    a_del = _activity_from_prepared(a_prep, expected_residual_fraction) if expected_residual_fraction < 1 else 0.0
    return _solve(
        [territory], method="bsa", lung_shunt_fraction=lung_shunt_fraction, lung_mass_kg=lung_mass_kg,
        dose_constant_gy_kg_per_gbq=dose_constant_gy_kg_per_gbq, expected_residual_fraction=expected_residual_fraction,
        lung_dose_limit_gy=None, cumulative_lung_limit_gy=None, prior_lung_doses_gy=prior_lung_doses_gy,
        lung_activity_limit_gbq=None, nuclide="Y-90", fixed_delivered_gbq=[a_del], fixed_constraint=binding,
        nonperfused_normal_liver_mass_kg=nonperfused_normal_liver_mass_kg,
        intermediates={
            "bsa_m2": bsa_m2,
            "tumour_involvement_fraction": f_t,
            "bsa_whole_liver_activity_gbq": whole,
            "perfused_volume_fraction": perfused_fraction,
            "lsf_reduction_factor": factor,
            "bsa_prescribed_activity_gbq": prescribed,
        },
        notes=notes,
    )


def plan_holmium_standard(
    *,
    liver_mass_kg: float,
    lung_shunt_fraction: float,
    target_dose_gy: float = HO166_STANDARD_WHOLE_LIVER_DOSE_GY,
    activity_prepared_gbq: float | None = None,
    lung_mass_kg: float = STANDARD_LUNG_MASS_KG,
    dose_constant_gy_kg_per_gbq: float = HO166_DOSE_CONSTANT_GY_KG_PER_GBQ,
    expected_residual_fraction: float = 0.0,
    lung_dose_limit_gy: float | None = LUNG_DOSE_LIMIT_SESSION_GY,
    cumulative_lung_limit_gy: float | None = LUNG_DOSE_LIMIT_CUMULATIVE_GY,
    prior_lung_doses_gy: Sequence[float] = (),
    nonperfused_normal_liver_mass_kg: float | None = None,
    whole_liver_limit_gy: float | None = None,
) -> ActivityPlan:
    """Ho-166 standard whole-liver plan: ``A_del = D·M_liver/K`` (60 Gy ↔ 3.78 GBq/kg), lung-limited.

    The protocol activity ignores the lung fraction (HEPAR/SIM: 60 Gy whole liver); the reported liver dose
    is the estimate ``K·A_del·(1 − LSF)/M`` from the scout LSF, so it is slightly below the prescription
    when LSF > 0. A ``whole_liver_limit_gy`` (60 Gy, HEPAR I) caps a higher ``target_dose_gy``.
    LSF and distribution come from the Ho-166 scout (≈250 MBq); for a tumour/normal split
    use :func:`plan_partition` with ``dose_constant_gy_kg_per_gbq=15.87``.

    References
    ----------
    van Roekel thesis (3780 MBq/kg); JNM 2016;57(S2):199 (15.87 Gy·kg/GBq); Porto Ho-166 study (liver
    ≤ 60 Gy, lung ≤ 30 Gy); CLINICAL.md §2.5, W10 (1.5 kg, 60 Gy → 5.671 GBq).

    Examples
    --------
    >>> round(plan_holmium_standard(liver_mass_kg=1.5, lung_shunt_fraction=0.0).activity_prepared_gbq, 3)
    5.671
    """
    require_positive(liver_mass_kg, "liver_mass_kg")
    require_positive(target_dose_gy, "target_dose_gy")
    _check_common(lung_shunt_fraction, expected_residual_fraction, lung_mass_kg, dose_constant_gy_kg_per_gbq)
    territory = Territory("whole liver", (Compartment("whole liver", "whole_liver", liver_mass_kg),),
                          activity_prepared_gbq=activity_prepared_gbq)
    standard = target_dose_gy * liver_mass_kg / dose_constant_gy_kg_per_gbq
    return _solve(
        [territory], method="holmium_standard", lung_shunt_fraction=lung_shunt_fraction, lung_mass_kg=lung_mass_kg,
        dose_constant_gy_kg_per_gbq=dose_constant_gy_kg_per_gbq, expected_residual_fraction=expected_residual_fraction,
        lung_dose_limit_gy=lung_dose_limit_gy, cumulative_lung_limit_gy=cumulative_lung_limit_gy,
        prior_lung_doses_gy=prior_lung_doses_gy, lung_activity_limit_gbq=None, nuclide="Ho-166",
        fixed_delivered_gbq=[standard], fixed_constraint=Constraint.WHOLE_LIVER_STANDARD,
        nonperfused_normal_liver_mass_kg=nonperfused_normal_liver_mass_kg,
        whole_liver_limit_gy=whole_liver_limit_gy, whole_liver_mass_kg=liver_mass_kg,
        intermediates={"standard_activity_gbq_per_kg": target_dose_gy / dose_constant_gy_kg_per_gbq,
                       "standard_activity_delivered_gbq": standard},
        notes=["Ho-166 standard: activity = target × liver mass / K, LSF not subtracted (HEPAR/SIM protocol)"],
    )


def scale_plan(plan: ActivityPlan, activity_delivered_gbq: float, *, note: str = "") -> ActivityPlan:
    """The same plan with every activity and dose scaled to a new delivered activity (doses are linear).

    Used to recompute doses from the activity actually delivered (after residual measurement). All
    territories are scaled by the same factor.

    >>> p = plan_mird_single(perfused_mass_kg=1.0, lung_shunt_fraction=0.1, activity_prepared_gbq=2.0)
    >>> round(scale_plan(p, 1.0).lung_dose_gy / p.lung_dose_gy, 6)
    0.5
    """
    require_positive(activity_delivered_gbq, "activity_delivered_gbq", allow_zero=True)
    if plan.activity_delivered_gbq <= 0:
        raise InputError("cannot scale a plan with zero delivered activity")
    s = activity_delivered_gbq / plan.activity_delivered_gbq
    comps = tuple(dataclasses.replace(c, activity_gbq=c.activity_gbq * s, dose_gy=c.dose_gy * s)
                  for c in plan.compartments)
    terrs = tuple(dataclasses.replace(t, activity_prepared_gbq=t.activity_prepared_gbq * s,
                                      activity_delivered_gbq=t.activity_delivered_gbq * s,
                                      perfused_dose_gy=t.perfused_dose_gy * s,
                                      binding_constraint=Constraint.PRESCRIBED_ACTIVITY)
                  for t in plan.territories)
    lung_dose = plan.lung_dose_gy * s
    return dataclasses.replace(
        plan, activity_prepared_gbq=plan.activity_prepared_gbq * s, activity_delivered_gbq=activity_delivered_gbq,
        lung_activity_gbq=plan.lung_activity_gbq * s, lung_dose_gy=lung_dose,
        cumulative_lung_dose_gy=plan.prior_lung_dose_gy + lung_dose, compartments=comps, territories=terrs,
        binding_constraint=Constraint.PRESCRIBED_ACTIVITY,
        notes=(*plan.notes, note) if note else plan.notes,
    )
