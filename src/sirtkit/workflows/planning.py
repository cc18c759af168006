"""Pre-treatment planning workflow: a validated case file → activity plan, checks and logistics.

:class:`PlanCase` is the documented case file (YAML; see ``docs/planning.md`` and ``examples/cases``).
:func:`run_plan` turns it into a :class:`PlanResult`: the plan of the chosen method, the safety checks,
the glass vial order or resin draw with a decay table, and, when a residual measurement is given, the
delivered activity with the doses recomputed. Orchestration only: the physics lives in
:mod:`sirtkit.planning`.

Examples
--------
>>> case = PlanCase.model_validate({
...     "patient_id": "DOC-1", "device": "glass", "method": "mird", "intent": "palliative",
...     "lung": {"shunt_fraction": 0.05},
...     "territories": [{"name": "right lobe", "perfused_volume_ml": 1000}],
... })
>>> result = run_plan(case)
>>> round(result.plan.activity_prepared_gbq, 3), result.passes_hard_limits
(2.635, True)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sirtkit.clinical.scores import body_surface_area_m2
from sirtkit.errors import ConstraintViolation, InputError, UnitsError
from sirtkit.physics.decay import require_aware
from sirtkit.planning import checks as _checks
from sirtkit.planning.checks import CheckResult, CheckStatus, Threshold
from sirtkit.planning.devices import (
    Device,
    DeviceName,
    DoseConstantName,
    MethodName,
    dose_constant_for,
    get_device,
)
from sirtkit.planning.lung import (
    LUNG_DOSE_LIMIT_CUMULATIVE_GY,
    LUNG_DOSE_LIMIT_SESSION_GY,
    STANDARD_LUNG_MASS_KG,
    lung_mass_from_ct_kg,
    lung_shunt_fraction_from_counts,
    lung_shunt_fraction_planar,
)
from sirtkit.planning.methods import (
    HO166_STANDARD_WHOLE_LIVER_DOSE_GY,
    LIVER_DENSITY_G_PER_ML,
    ActivityPlan,
    Compartment,
    Territory,
    plan_bsa,
    plan_holmium_standard,
    plan_mird_single,
    plan_multicompartment,
    plan_partition,
    scale_plan,
)
from sirtkit.planning.schedule import (
    DecayRow,
    DeliveredActivity,
    GlassVialOrder,
    ResinDraw,
    choose_glass_vial,
    decay_table,
    delivered_activity,
    resin_draw,
)
from sirtkit.planning.targets import IntentName, intent_doses
from sirtkit.units import require_fraction
from sirtkit.workflows._inputs import load_model

__all__ = [
    "CompartmentInput",
    "LimitsInput",
    "LiverInput",
    "LungInput",
    "PlanCase",
    "PlanResult",
    "ResidualInput",
    "ScheduleInput",
    "TargetsInput",
    "TerritoryInput",
    "load_case",
    "run_plan",
]

logger = logging.getLogger(__name__)

# Unit-mistake guards (refuse with advice rather than plan with a wrong number) [K]: no single SIRT
# treatment exceeds ~20 GBq (largest TheraSphere vial) — a value above 30 "GBq" is almost surely MBq or mCi;
# no adult liver exceeds ~10 kg (hepatomegaly in NELM reaches ~5–6 kg) — above that it is grams; a whole
# liver below 50 mL is a volume given in litres.
MAX_PLAUSIBLE_ACTIVITY_GBQ = 30.0
MAX_PLAUSIBLE_ORGAN_MASS_KG = 10.0
MAX_PLAUSIBLE_LUNG_MASS_KG = 5.0
# A perfused territory below 5 mL is almost surely litres typed as mL: even a subsegment is tens of mL [K].
MIN_PLAUSIBLE_PERFUSED_VOLUME_ML = 5.0
MIN_PLAUSIBLE_LIVER_VOLUME_ML = 50.0
MAX_PLAUSIBLE_VOLUME_ML = 10_000.0
# Decay-table step and span (presentation only).
DECAY_TABLE_STEP_H = 6.0
GLASS_DECAY_TABLE_SPAN_H = 7 * 24.0
_ABLATIVE_INTENTS = ("radiation_segmentectomy", "radiation_lobectomy", "neoadjuvant")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _activity_guard(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise UnitsError(f"{name} = {value!r} must be a positive activity in GBq")
    if value > MAX_PLAUSIBLE_ACTIVITY_GBQ:
        raise UnitsError(
            f"{name} = {value:g} GBq is implausibly high (> {MAX_PLAUSIBLE_ACTIVITY_GBQ:g} GBq): is it in MBq "
            f"(then {value / 1000:g} GBq) or mCi (then {value * 0.037:.4g} GBq)? Give GBq"
        )
    return value


def _mass_guard(value: float | None, name: str, limit: float = MAX_PLAUSIBLE_ORGAN_MASS_KG) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise UnitsError(f"{name} = {value!r} must be a positive mass in kg")
    if value > limit:
        raise UnitsError(
            f"{name} = {value:g} kg is implausibly high (> {limit:g} kg): is it in grams (then {value / 1000:g} kg)?"
            " Give kg"
        )
    return value


def _volume_guard(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise UnitsError(f"{name} = {value!r} must be a positive volume in mL")
    if value > MAX_PLAUSIBLE_VOLUME_ML:
        raise UnitsError(f"{name} = {value:g} mL is implausibly large (> {MAX_PLAUSIBLE_VOLUME_ML:g} mL): give mL")
    return value


def _aware(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else require_aware(value, name)


class CompartmentInput(_Model):
    """A tumour or normal-liver compartment of a territory: mass (or volume + density) and counts or T/N."""

    name: str
    kind: Literal["tumour", "normal_liver"]
    mass_kg: float | None = None
    volume_ml: float | None = None
    density_g_per_ml: float = LIVER_DENSITY_G_PER_ML
    counts: float | None = Field(default=None, ge=0)
    tumour_to_normal_ratio: float | None = Field(default=None, gt=0)

    @field_validator("mass_kg")
    @classmethod
    def _mass(cls, v: float | None) -> float | None:
        return _mass_guard(v, "mass_kg")

    @field_validator("volume_ml")
    @classmethod
    def _volume(cls, v: float | None) -> float | None:
        return _volume_guard(v, "volume_ml")

    @field_validator("density_g_per_ml")
    @classmethod
    def _density(cls, v: float) -> float:
        if not 0.1 <= v <= 2.0:
            raise UnitsError(f"density_g_per_ml = {v:g} is not a tissue density in g/mL (liver ≈ 1.03)")
        return v

    @model_validator(mode="after")
    def _one_size(self) -> CompartmentInput:
        if (self.mass_kg is None) == (self.volume_ml is None):
            raise InputError(f"compartment {self.name!r}: give exactly one of mass_kg or volume_ml")
        if self.kind == "normal_liver" and self.tumour_to_normal_ratio is not None:
            raise InputError(f"compartment {self.name!r}: tumour_to_normal_ratio applies to tumours only")
        return self

    @property
    def resolved_mass_kg(self) -> float:
        """Mass in kg (from the volume and density if no mass was given)."""
        if self.mass_kg is not None:
            return self.mass_kg
        assert self.volume_ml is not None
        return self.volume_ml * self.density_g_per_ml / 1000.0

    @property
    def resolved_volume_ml(self) -> float:
        """Volume in mL (from the mass and density if no volume was given)."""
        if self.volume_ml is not None:
            return self.volume_ml
        assert self.mass_kg is not None
        return self.mass_kg * 1000.0 / self.density_g_per_ml


class TargetsInput(_Model):
    """Overrides of the intent's default targets/limits (Gy)."""

    tumour_target_gy: float | None = Field(default=None, gt=0)
    normal_liver_limit_gy: float | None = Field(default=None, gt=0)
    perfused_target_gy: float | None = Field(default=None, gt=0)


class TerritoryInput(_Model):
    """A territory infused from one catheter position."""

    name: str
    catheter_position: str | None = None
    perfused_volume_ml: float | None = None
    perfused_mass_kg: float | None = None
    density_g_per_ml: float = LIVER_DENSITY_G_PER_ML
    compartments: tuple[CompartmentInput, ...] = ()
    tumour_to_normal_ratio: float | None = Field(default=None, gt=0)
    activity_gbq: float | None = None
    lung_shunt_fraction: float | None = None
    targets: TargetsInput = TargetsInput()

    @field_validator("perfused_volume_ml")
    @classmethod
    def _volume(cls, v: float | None) -> float | None:
        if v is not None and 0 < v < MIN_PLAUSIBLE_PERFUSED_VOLUME_ML:
            raise UnitsError(
                f"perfused_volume_ml = {v:g} mL is smaller than any treated territory: is it in litres (then "
                f"{v * 1000:g} mL)? Give mL")
        return _volume_guard(v, "perfused_volume_ml")

    @field_validator("perfused_mass_kg")
    @classmethod
    def _mass(cls, v: float | None) -> float | None:
        return _mass_guard(v, "perfused_mass_kg")

    @field_validator("activity_gbq")
    @classmethod
    def _activity(cls, v: float | None) -> float | None:
        return _activity_guard(v, "activity_gbq")

    @field_validator("lung_shunt_fraction")
    @classmethod
    def _lsf(cls, v: float | None) -> float | None:
        return None if v is None else require_fraction(v, "lung_shunt_fraction")

    @model_validator(mode="after")
    def _consistent(self) -> TerritoryInput:
        if self.perfused_volume_ml is not None and self.perfused_mass_kg is not None:
            raise InputError(f"territory {self.name!r}: give perfused_volume_ml or perfused_mass_kg, not both")
        names = [c.name for c in self.compartments]
        if len(set(names)) != len(names):
            raise InputError(f"territory {self.name!r}: compartment names must be unique, got {names}")
        return self

    def perfused_mass(self) -> float | None:
        """Perfused mass (kg): given, from the perfused volume, or the sum of the compartments."""
        if self.perfused_mass_kg is not None:
            return self.perfused_mass_kg
        if self.perfused_volume_ml is not None:
            return self.perfused_volume_ml * self.density_g_per_ml / 1000.0
        if self.compartments:
            return sum(c.resolved_mass_kg for c in self.compartments)
        return None

    def perfused_volume(self) -> float | None:
        """Perfused volume (mL): given, or the sum of the compartment volumes."""
        if self.perfused_volume_ml is not None:
            return self.perfused_volume_ml
        if self.perfused_mass_kg is not None:
            return self.perfused_mass_kg * 1000.0 / self.density_g_per_ml
        if self.compartments:
            return sum(c.resolved_volume_ml for c in self.compartments)
        return None


class LiverInput(_Model):
    """Whole liver (including tumours): volume or mass, and total tumour volume (BSA method)."""

    volume_ml: float | None = None
    mass_kg: float | None = None
    density_g_per_ml: float = LIVER_DENSITY_G_PER_ML
    tumour_volume_ml: float | None = Field(default=None, ge=0)

    @field_validator("volume_ml")
    @classmethod
    def _volume(cls, v: float | None) -> float | None:
        if v is not None and 0 < v < MIN_PLAUSIBLE_LIVER_VOLUME_ML:
            raise UnitsError(
                f"liver volume_ml = {v:g} is too small for a liver: is it in litres (then {v * 1000:g} mL)? Give mL"
            )
        return _volume_guard(v, "liver volume_ml")

    @field_validator("mass_kg")
    @classmethod
    def _mass(cls, v: float | None) -> float | None:
        return _mass_guard(v, "liver mass_kg")

    @model_validator(mode="after")
    def _one(self) -> LiverInput:
        if self.volume_ml is not None and self.mass_kg is not None:
            raise InputError("liver: give volume_ml or mass_kg, not both")
        return self

    def mass(self) -> float | None:
        """Whole-liver mass in kg, or ``None``."""
        if self.mass_kg is not None:
            return self.mass_kg
        return None if self.volume_ml is None else self.volume_ml * self.density_g_per_ml / 1000.0

    def volume(self) -> float | None:
        """Whole-liver volume in mL, or ``None``."""
        if self.volume_ml is not None:
            return self.volume_ml
        return None if self.mass_kg is None else self.mass_kg * 1000.0 / self.density_g_per_ml


class PlanarCounts(_Model):
    """Conjugate planar counts (anterior/posterior) of the lung and liver regions."""

    lung_anterior_counts: float = Field(ge=0)
    lung_posterior_counts: float = Field(ge=0)
    liver_anterior_counts: float = Field(ge=0)
    liver_posterior_counts: float = Field(ge=0)


class SpectCounts(_Model):
    """Counts in CT-defined lung and liver volumes of interest (MAA SPECT/CT or Ho-166 scout)."""

    lung_counts: float = Field(ge=0)
    liver_counts: float = Field(ge=0)


class LungInput(_Model):
    """Lung shunt (one of three inputs), lung mass and prior lung doses."""

    shunt_fraction: float | None = None
    planar: PlanarCounts | None = None
    spect_counts: SpectCounts | None = None
    mass_kg: float | None = None
    ct_volume_ml: float | None = None
    ct_mean_hu: float | None = None
    prior_doses_gy: tuple[float, ...] = ()

    @field_validator("shunt_fraction")
    @classmethod
    def _lsf(cls, v: float | None) -> float | None:
        return None if v is None else require_fraction(v, "lung.shunt_fraction")

    @field_validator("mass_kg")
    @classmethod
    def _mass(cls, v: float | None) -> float | None:
        return _mass_guard(v, "lung.mass_kg", MAX_PLAUSIBLE_LUNG_MASS_KG)

    @field_validator("prior_doses_gy")
    @classmethod
    def _prior(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        for dose in v:
            if not math.isfinite(dose) or dose < 0:
                raise UnitsError(f"lung.prior_doses_gy contains {dose!r}: give lung doses in Gy, ≥ 0")
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> LungInput:
        given = [n for n in ("shunt_fraction", "planar", "spect_counts") if getattr(self, n) is not None]
        if len(given) != 1:
            raise InputError(
                "lung: give exactly one of shunt_fraction (0–1), planar (anterior/posterior counts) or "
                f"spect_counts (lung and liver counts); got {given or 'none'}"
            )
        ct = (self.ct_volume_ml is not None, self.ct_mean_hu is not None)
        if any(ct) and not all(ct):
            raise InputError("lung: a CT lung mass needs both ct_volume_ml and ct_mean_hu")
        if all(ct) and self.mass_kg is not None:
            raise InputError("lung: give mass_kg or ct_volume_ml + ct_mean_hu, not both")
        return self


class LimitsInput(_Model):
    """Lung limits (Gy); defaults 30 Gy per session and 50 Gy cumulative."""

    lung_dose_gy: float = Field(default=LUNG_DOSE_LIMIT_SESSION_GY, gt=0)
    cumulative_lung_dose_gy: float = Field(default=LUNG_DOSE_LIMIT_CUMULATIVE_GY, gt=0)


class ScheduleInput(_Model):
    """Planned infusion time and the vial calibration time (from the vial label), timezone-aware."""

    planned_infusion: datetime
    vial_calibration: datetime | None = None
    vial_activity_at_calibration_gbq: float | None = None

    @field_validator("planned_infusion")
    @classmethod
    def _infusion(cls, v: datetime) -> datetime:
        return require_aware(v, "schedule.planned_infusion")

    @field_validator("vial_calibration")
    @classmethod
    def _calibration(cls, v: datetime | None) -> datetime | None:
        return _aware(v, "schedule.vial_calibration")

    @field_validator("vial_activity_at_calibration_gbq")
    @classmethod
    def _vial(cls, v: float | None) -> float | None:
        return _activity_guard(v, "schedule.vial_activity_at_calibration_gbq")


class ResidualInput(_Model):
    """Pre- and post-administration measurements (dose calibrator), timezone-aware."""

    prepared_activity_gbq: float
    prepared_time: datetime
    administration_time: datetime
    residual_activity_gbq: float = Field(ge=0)
    residual_time: datetime

    @field_validator("prepared_activity_gbq")
    @classmethod
    def _activity(cls, v: float) -> float:
        out = _activity_guard(v, "residual.prepared_activity_gbq")
        assert out is not None
        return out

    @field_validator("prepared_time", "administration_time", "residual_time")
    @classmethod
    def _aware_times(cls, v: datetime) -> datetime:
        return require_aware(v, "residual time")


class PlanCase(_Model):
    """A planning case file (all fields documented in ``docs/planning.md``)."""

    patient_id: str = Field(min_length=1)
    device: DeviceName
    method: MethodName
    intent: IntentName = "palliative"
    height_cm: float | None = None
    weight_kg: float | None = None
    bsa_formula: Literal["dubois", "mosteller"] = "dubois"
    dose_constant: DoseConstantName = "default"
    expected_residual_fraction: float | None = None
    liver: LiverInput = LiverInput()
    territories: tuple[TerritoryInput, ...] = ()
    lung: LungInput
    targets: TargetsInput = TargetsInput()
    limits: LimitsInput = LimitsInput()
    schedule: ScheduleInput | None = None
    residual: ResidualInput | None = None

    @field_validator("height_cm")
    @classmethod
    def _height(cls, v: float | None) -> float | None:
        if v is not None and 0 < v < 3:
            raise UnitsError(f"height_cm = {v:g} looks like metres: give centimetres ({v * 100:g})")
        return v

    @field_validator("expected_residual_fraction")
    @classmethod
    def _residual(cls, v: float | None) -> float | None:
        if v is None:
            return None
        require_fraction(v, "expected_residual_fraction")
        if v >= 0.5:
            raise UnitsError(f"expected_residual_fraction = {v:g} is implausible (typical 0.006–0.03): give 0–1")
        return v

    @model_validator(mode="after")
    def _method_fits(self) -> PlanCase:
        device = get_device(self.device)
        if self.method not in device.methods:
            raise InputError(
                f"method {self.method!r} does not apply to device {self.device!r}: use one of "
                f"{', '.join(device.methods)}"
            )
        names = [t.name for t in self.territories]
        if len(set(names)) != len(names):
            raise InputError(f"territory names must be unique, got {names}")
        return self


@dataclass(frozen=True)
class PlanResult:
    """Result of :func:`run_plan` (the ``sirtkit plan --json`` document; see ``docs/cli-plan.md``)."""

    patient_id: str
    device: str
    product: str
    method: str
    intent: str
    nuclide: str
    dose_constant_gy_kg_per_gbq: float
    expected_residual_fraction: float
    lung_shunt_fraction: float
    lung_shunt_fraction_source: str
    lung_mass_kg: float
    lung_mass_source: str
    bsa_m2: float | None
    thresholds: dict[str, Threshold]
    plan: ActivityPlan | None
    refusal: str | None
    checks: tuple[CheckResult, ...]
    hard_failures: tuple[str, ...]
    passes_hard_limits: bool
    glass_vial: GlassVialOrder | None
    resin_draw: ResinDraw | None
    decay_table: tuple[DecayRow, ...]
    delivered: DeliveredActivity | None
    delivered_plan: ActivityPlan | None
    infused_plan: ActivityPlan | None = None


# ----------------------------------------------------------------------------------------------------


def load_case(path: str | Path) -> PlanCase:
    """Read and validate a YAML case file; every error names the file and the field.

    Raises
    ------
    InputError
        Missing file, invalid YAML, or a field that fails validation (all problems listed).
    """
    return load_model(PlanCase, path, "case file")


def _lung_shunt(case: PlanCase) -> tuple[float, str]:
    lung = case.lung
    if lung.shunt_fraction is not None:
        return lung.shunt_fraction, "given"
    if lung.planar is not None:
        c = lung.planar
        value = lung_shunt_fraction_planar(c.lung_anterior_counts, c.lung_posterior_counts,
                                           c.liver_anterior_counts, c.liver_posterior_counts)
        return value, "planar geometric mean"
    assert lung.spect_counts is not None
    source = "Ho-166 scout SPECT/CT counts" if case.device == "holmium" else "SPECT/CT counts"
    return lung_shunt_fraction_from_counts(lung.spect_counts.lung_counts, lung.spect_counts.liver_counts), source


def _lung_mass(case: PlanCase) -> tuple[float, str]:
    lung = case.lung
    if lung.mass_kg is not None:
        return lung.mass_kg, "given"
    if lung.ct_volume_ml is not None and lung.ct_mean_hu is not None:
        return lung_mass_from_ct_kg(lung.ct_volume_ml, lung.ct_mean_hu), "CT volume and mean HU (Kao 2014)"
    return STANDARD_LUNG_MASS_KG, "standard 1.0 kg"


def _effective_targets(case: PlanCase, territory: TerritoryInput | None) -> dict[str, float | None]:
    """Intent defaults, overridden by the case-level then the territory-level targets."""
    defaults = intent_doses(case.device, case.intent)
    perfused_default = defaults.perfused_target_gy
    if case.method in ("partition", "multicompartment") and case.intent not in _ABLATIVE_INTENTS:
        perfused_default = None  # single-compartment targets are not used by compartment models (palliative)
    out: dict[str, float | None] = {
        "tumour_target_gy": defaults.tumour_target_gy,
        "normal_liver_limit_gy": defaults.normal_liver_limit_gy,
        "perfused_target_gy": perfused_default,
    }
    for layer in (case.targets, territory.targets if territory is not None else None):
        if layer is None:
            continue
        for key, value in layer.model_dump().items():
            if value is not None:
                out[key] = value
    return out


def _single_territory(case: PlanCase) -> TerritoryInput:
    if len(case.territories) != 1:
        raise InputError(
            f"method {case.method!r} plans one perfused territory; the case has {len(case.territories)}: give one "
            "territory, or use method 'multicompartment' for several catheter positions"
        )
    return case.territories[0]


def _domain_territory(t: TerritoryInput, targets: dict[str, float | None]) -> Territory:
    if not t.compartments:
        mass = t.perfused_mass()
        if mass is None:
            raise InputError(f"territory {t.name!r}: give compartments, perfused_volume_ml or perfused_mass_kg")
        comps: tuple[Compartment, ...] = (Compartment(t.name, "perfused_liver", mass),)
    else:
        comps = tuple(
            Compartment(c.name, c.kind, c.resolved_mass_kg, counts=c.counts,
                        concentration_ratio=(c.tumour_to_normal_ratio if c.kind == "tumour"
                                             and c.tumour_to_normal_ratio is not None
                                             else (t.tumour_to_normal_ratio if c.kind == "tumour" else 1.0)))
            for c in t.compartments
        )
    return Territory(t.name, comps, tumour_target_gy=targets["tumour_target_gy"],
                     normal_liver_limit_gy=targets["normal_liver_limit_gy"],
                     perfused_target_gy=targets["perfused_target_gy"], activity_prepared_gbq=t.activity_gbq,
                     lung_shunt_fraction=t.lung_shunt_fraction)


def _compute_plan(case: PlanCase, device: Device, k: float, r: float, lsf: float, lung_mass: float,
                  bsa: float | None) -> ActivityPlan:
    lung_kw: dict[str, Any] = {
        "lung_mass_kg": lung_mass,
        "dose_constant_gy_kg_per_gbq": k,
        "expected_residual_fraction": r,
        "prior_lung_doses_gy": case.lung.prior_doses_gy,
    }
    limits_kw: dict[str, Any] = {
        "lung_dose_limit_gy": case.limits.lung_dose_gy,
        "cumulative_lung_limit_gy": case.limits.cumulative_lung_dose_gy,
    }
    if case.method == "bsa":
        t = _single_territory(case) if case.territories else None
        liver_volume = case.liver.volume()
        if liver_volume is None or bsa is None:
            raise InputError("method 'bsa' needs height_cm, weight_kg and liver.volume_ml (whole liver incl. tumour)")
        tumour_ml = case.liver.tumour_volume_ml
        if tumour_ml is None:
            if t is None or not any(c.kind == "tumour" for c in t.compartments):
                raise InputError("method 'bsa' needs liver.tumour_volume_ml (total tumour volume) for f_T")
            tumour_ml = sum(c.resolved_volume_ml for c in t.compartments if c.kind == "tumour")
        return plan_bsa(bsa_m2=bsa, tumour_volume_ml=tumour_ml, liver_volume_ml=liver_volume,
                        lung_shunt_fraction=lsf, perfused_volume_ml=None if t is None else t.perfused_volume(),
                        activity_prepared_gbq=None if t is None else t.activity_gbq,
                        density_g_per_ml=case.liver.density_g_per_ml, **lung_kw)
    if case.method == "holmium_standard":
        mass = case.liver.mass()
        if mass is None:
            raise InputError("method 'holmium_standard' needs liver.volume_ml or liver.mass_kg (whole liver)")
        target = case.targets.perfused_target_gy
        activity = case.territories[0].activity_gbq if len(case.territories) == 1 else None
        return plan_holmium_standard(liver_mass_kg=mass, lung_shunt_fraction=lsf, activity_prepared_gbq=activity,
                                     target_dose_gy=HO166_STANDARD_WHOLE_LIVER_DOSE_GY if target is None else target,
                                     **lung_kw, **limits_kw)
    lung_activity_limit = device.lung_activity_limit_gbq
    if case.method == "mird":
        t = _single_territory(case)
        mass = t.perfused_mass()
        if mass is None:
            raise InputError(f"territory {t.name!r}: give perfused_volume_ml, perfused_mass_kg or compartments")
        target = _effective_targets(case, t)["perfused_target_gy"]
        if target is None and t.activity_gbq is None:
            raise InputError(
                f"no perfused-volume target for {case.device} / {case.intent} (EANM 2022): give "
                "targets.perfused_target_gy or the territory's activity_gbq"
            )
        return plan_mird_single(perfused_mass_kg=mass, lung_shunt_fraction=lsf if t.lung_shunt_fraction is None else t.lung_shunt_fraction,
                                target_dose_gy=target, activity_prepared_gbq=t.activity_gbq,
                                lung_activity_limit_gbq=lung_activity_limit, nuclide=device.nuclide.name,
                                territory_name=t.name, **lung_kw, **limits_kw)
    if case.method == "partition":
        t = _single_territory(case)
        targets = _effective_targets(case, t)
        tumours = [c for c in t.compartments if c.kind == "tumour"]
        normals = [c for c in t.compartments if c.kind == "normal_liver"]
        if not tumours or not normals:
            raise InputError(f"territory {t.name!r}: the partition model needs tumour and normal_liver compartments")
        with_counts = all(c.counts is not None for c in t.compartments)
        tn = t.tumour_to_normal_ratio
        if tn is None and len(tumours) == 1:
            tn = tumours[0].tumour_to_normal_ratio
        if not with_counts and tn is None:
            raise InputError(f"territory {t.name!r}: give counts for every compartment or tumour_to_normal_ratio")
        if targets["perfused_target_gy"] is not None:
            logger.info("partition: perfused-volume target not used by the partition model")
        return plan_partition(
            tumour_mass_kg=sum(c.resolved_mass_kg for c in tumours),
            normal_liver_mass_kg=sum(c.resolved_mass_kg for c in normals),
            lung_shunt_fraction=lsf if t.lung_shunt_fraction is None else t.lung_shunt_fraction,
            tumour_counts=sum(c.counts or 0.0 for c in tumours) if with_counts else None,
            normal_liver_counts=sum(c.counts or 0.0 for c in normals) if with_counts else None,
            tumour_to_normal=None if with_counts else tn,
            activity_prepared_gbq=t.activity_gbq, tumour_target_gy=targets["tumour_target_gy"],
            normal_liver_limit_gy=targets["normal_liver_limit_gy"], lung_activity_limit_gbq=lung_activity_limit,
            nuclide=device.nuclide.name, territory_name=t.name, **lung_kw, **limits_kw,
        )
    if not case.territories:
        raise InputError("method 'multicompartment' needs at least one territory with compartments")
    territories = [_domain_territory(t, _effective_targets(case, t)) for t in case.territories]
    return plan_multicompartment(territories, lung_shunt_fraction=lsf, lung_activity_limit_gbq=lung_activity_limit,
                                 nuclide=device.nuclide.name, **lung_kw, **limits_kw)


def _thresholds(case: PlanCase, plan_targets: dict[str, float | None]) -> dict[str, Threshold]:
    th = _checks.default_thresholds(case.device, case.intent)
    src = "case file override"
    for key, check in (("tumour_target_gy", "tumour_dose_target"), ("normal_liver_limit_gy", "normal_liver_dose"),
                       ("perfused_target_gy", "perfused_dose_target")):
        value = plan_targets.get(key)
        if value is None:
            th.pop(check, None)
        elif check not in th or th[check].value != value:
            severity: Literal["fail", "warn"] = "fail" if key == "normal_liver_limit_gy" else "warn"
            th[check] = Threshold(value, severity, src)
    if case.method == "holmium_standard":
        th.pop("perfused_dose_target", None)
    if case.limits.lung_dose_gy != LUNG_DOSE_LIMIT_SESSION_GY:
        th["lung_dose_session"] = Threshold(case.limits.lung_dose_gy, "fail", src)
    if case.limits.cumulative_lung_dose_gy != LUNG_DOSE_LIMIT_CUMULATIVE_GY:
        th["lung_dose_cumulative"] = Threshold(case.limits.cumulative_lung_dose_gy, "fail", src)
    return th


def run_plan(case: PlanCase) -> PlanResult:
    """Plan a case: method, checks, vial/draw and decay table, delivered activity (if measured).

    A device contraindication found by the method (resin LSF > 20 %) does not raise: the result has
    ``plan = None``, ``refusal`` set and a failing check, so that interfaces can show why.

    Raises
    ------
    InputError
        Inputs that the method needs are missing or inconsistent.
    """
    device = get_device(case.device)
    k = dose_constant_for(device, case.dose_constant)
    r = device.expected_residual_fraction if case.expected_residual_fraction is None else (
        case.expected_residual_fraction)
    lsf, lsf_source = _lung_shunt(case)
    lung_mass, lung_mass_source = _lung_mass(case)
    bsa = None
    if case.height_cm is not None and case.weight_kg is not None:
        bsa = body_surface_area_m2(case.height_cm, case.weight_kg, case.bsa_formula)
    refusal = None
    plan: ActivityPlan | None
    try:
        plan = _compute_plan(case, device, k, r, lsf, lung_mass, bsa)
    except ConstraintViolation as err:
        plan, refusal = None, str(err)
    plan_targets = _effective_targets(case, case.territories[0] if len(case.territories) == 1 else None)
    if case.method == "bsa":
        plan_targets["perfused_target_gy"] = None
    thresholds = _thresholds(case, plan_targets)
    whole_liver_mass = case.liver.mass()
    quantities = _checks.plan_quantities(plan, whole_liver_mass_kg=whole_liver_mass, lung_shunt_fraction=lsf)

    glass_vial = None
    draw = None
    table: tuple[DecayRow, ...] = ()
    if case.schedule is not None and plan is not None:
        glass_vial, draw, table, vial_q = _logistics(case, device, plan)
        quantities.update(vial_q)
        if vial_q:
            thresholds.update(_checks.vial_thresholds(device.name))
    results = _checks.evaluate_checks(quantities, thresholds)
    if refusal is not None and not _checks.has_failures(results):
        results = (CheckResult("device_contraindication", CheckStatus.FAIL, lsf, "<=",
                               device.max_lung_shunt_fraction or 0.0, "fraction", refusal, device.short_citation),
                   *results)
    infused_plan = None
    if glass_vial is not None and plan is not None and glass_vial.vial_activity_at_infusion_gbq is not None \
            and glass_vial.vial_activity_at_infusion_gbq > plan.activity_prepared_gbq * (1 + _SAME_ACTIVITY_REL):
        # A glass vial is infused whole: the patient gets the vial's activity, not the planned one.
        infused_plan = scale_plan(plan, glass_vial.vial_activity_at_infusion_gbq * (1 - r),
                                  note="doses for the whole vial infused at the planned time")
        results = (*results, *_dose_checks(infused_plan, thresholds, whole_liver_mass, "as infused"))
    delivered = None
    delivered_plan = None
    if case.residual is not None and plan is not None:
        m = case.residual
        delivered = delivered_activity(m.prepared_activity_gbq, m.prepared_time, m.administration_time,
                                       m.residual_activity_gbq, m.residual_time, device.nuclide)
        delivered_plan = scale_plan(plan, delivered.activity_delivered_gbq,
                                    note="doses recomputed from the measured delivered activity")
        results = (*results, *_dose_checks(delivered_plan, thresholds, whole_liver_mass, "delivered"))
        planned = plan.activity_delivered_gbq
        deviation = delivered.activity_delivered_gbq / planned - 1.0
        results = (*results, CheckResult(
            "delivered_vs_planned_activity",
            CheckStatus.WARN if abs(deviation) > DELIVERED_DEVIATION_WARN_FRACTION else CheckStatus.PASS,
            abs(deviation), "<=", DELIVERED_DEVIATION_WARN_FRACTION, "fraction",
            f"delivered {delivered.activity_delivered_gbq:.3f} GBq vs planned {planned:.3f} GBq "
            f"({100 * deviation:+.1f} %)", "[K] sirtkit default; typical losses are a few % (Hoang JVIR 2019)"))
    failures = tuple(r_.message for r_ in results if r_.status == CheckStatus.FAIL)
    return PlanResult(
        patient_id=case.patient_id, device=device.name, product=device.product, method=case.method,
        intent=case.intent, nuclide=device.nuclide.name, dose_constant_gy_kg_per_gbq=k, expected_residual_fraction=r,
        lung_shunt_fraction=lsf, lung_shunt_fraction_source=lsf_source, lung_mass_kg=lung_mass,
        lung_mass_source=lung_mass_source, bsa_m2=bsa, thresholds=thresholds, plan=plan, refusal=refusal,
        checks=results, hard_failures=failures, passes_hard_limits=not failures, glass_vial=glass_vial,
        resin_draw=draw, decay_table=table, delivered=delivered, delivered_plan=delivered_plan,
        infused_plan=infused_plan,
    )


# Checks re-run on a plan scaled to another activity (as infused, as delivered): the dose limits and
# targets, not the unit-sanity or vial checks.
_DOSE_CHECKS = ("lung_dose_session", "lung_dose_cumulative", "lung_activity_device", "normal_liver_dose",
                "whole_liver_dose", "tumour_dose_target", "perfused_dose_target")
# Activities within 1 % are treated as the same (well inside dose-calibrator reproducibility) [K].
_SAME_ACTIVITY_REL = 0.01
# Delivered activity differing from the planned delivered activity by more than 10 % is flagged [K]
# (CLINICAL.md §5: observed decay and residual losses are a few % — Hoang JVIR 2019).
DELIVERED_DEVIATION_WARN_FRACTION = 0.10


def _dose_checks(plan: ActivityPlan, thresholds: dict[str, Threshold], whole_liver_mass: float | None,
                 label: str) -> tuple[CheckResult, ...]:
    """The dose checks of ``plan`` (a scaled variant), names and messages prefixed with ``label``."""
    import dataclasses

    quantities = _checks.plan_quantities(plan, whole_liver_mass_kg=whole_liver_mass)
    chosen = {k: v for k, v in thresholds.items() if k in _DOSE_CHECKS}
    return tuple(dataclasses.replace(c, name=f"{label.replace(' ', '_')}_{c.name}", message=f"{label}: {c.message}")
                 for c in _checks.evaluate_checks(quantities, chosen))


def _logistics(case: PlanCase, device: Device, plan: ActivityPlan) -> tuple[
        GlassVialOrder | None, ResinDraw | None, tuple[DecayRow, ...], dict[str, float | None]]:
    assert case.schedule is not None
    s = case.schedule
    if not device.vial_sizes_gbq:
        return None, None, (), {}
    if s.vial_calibration is None:
        raise InputError(f"schedule.vial_calibration is needed for {device.product}: copy it from the vial label")
    needed = plan.activity_prepared_gbq
    if device.name == "glass":
        order = choose_glass_vial(needed, s.planned_infusion, s.vial_calibration, device.vial_sizes_gbq,
                                  usable_from_h=device.usable_from_h, usable_until_h=device.usable_until_h,
                                  nuclide=device.nuclide)
        vial = order.vial_size_gbq or max(device.vial_sizes_gbq)
        span = min(GLASS_DECAY_TABLE_SPAN_H, device.usable_until_h or GLASS_DECAY_TABLE_SPAN_H)
        table = decay_table(vial, s.vial_calibration, s.vial_calibration,
                            s.vial_calibration + timedelta(hours=span), DECAY_TABLE_STEP_H, device.nuclide)
        fraction = needed / (vial * order.decay_factor)
        return order, None, table, {"vial_fraction_required": fraction,
                                    "vial_excess_fraction": order.excess_fraction,
                                    "hours_after_calibration": order.hours_after_calibration}
    vial_activity = s.vial_activity_at_calibration_gbq or device.vial_sizes_gbq[0]
    draw = resin_draw(needed, s.planned_infusion, s.vial_calibration, vial_activity,
                      usable_from_h=device.usable_from_h, usable_until_h=device.usable_until_h,
                      nuclide=device.nuclide)
    span = device.usable_until_h or 24.0
    table = decay_table(vial_activity, s.vial_calibration, s.vial_calibration,
                        s.vial_calibration + timedelta(hours=span), 2.0, device.nuclide)
    return None, draw, table, {"vial_fraction_required": draw.fraction_of_vial,
                               "hours_after_calibration": draw.hours_after_calibration}

