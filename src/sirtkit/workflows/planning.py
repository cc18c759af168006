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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from sirtkit._inputmodel import CaseInputModel
from sirtkit.clinical.scores import body_surface_area_m2
from sirtkit.errors import ConstraintViolation, InputError, UnitsError
from sirtkit.physics.decay import add_hours, decay_activity, elapsed_hours, localize, require_aware, zone
from sirtkit.physics.nuclides import implausible_activity_message
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
    HO166_SCOUT_ACTIVITY_GBQ,
    HO166_STANDARD_WHOLE_LIVER_DOSE_GY,
    LIVER_DENSITY_G_PER_ML,
    ActivityPlan,
    Compartment,
    Objective,
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
from sirtkit.planning.targets import GuidelineThreshold, IntentName, LiverState, select_thresholds
from sirtkit.units import BILIRUBIN_UMOL_L_PER_MG_DL, parse_lab_value, require_fraction
from sirtkit.workflows._inputs import load_model

__all__ = [
    "CompartmentInput",
    "LimitsInput",
    "LiverFunctionInput",
    "LiverInput",
    "LungInput",
    "PlanCase",
    "PlanResult",
    "ResidualInput",
    "ScheduleInput",
    "TargetsInput",
    "TerritoryInput",
    "guideline_limits",
    "load_case",
    "run_plan",
    "write_plan_sheet",
]

logger = logging.getLogger(__name__)

# Unit-mistake guards (refuse with advice rather than plan with a wrong number) [K]: activities above the
# per-nuclide plausible maximum of one SIRT treatment (``physics.nuclides.MAX_PLAUSIBLE_ACTIVITY_GBQ``, the
# one definition shared with post-treatment dosimetry) are refused in every activity field (PlanCase
# ``_check_activities``); no adult liver exceeds ~10 kg (hepatomegaly in NELM reaches ~5–6 kg) — above that it is grams; a whole
# liver below 50 mL is a volume given in litres.
MAX_PLAUSIBLE_ORGAN_MASS_KG = 10.0
MAX_PLAUSIBLE_LUNG_MASS_KG = 5.0
# A perfused territory below 5 mL is almost surely litres typed as mL: even a subsegment is tens of mL [K].
MIN_PLAUSIBLE_PERFUSED_VOLUME_ML = 5.0
MIN_PLAUSIBLE_LIVER_VOLUME_ML = 50.0
MAX_PLAUSIBLE_VOLUME_ML = 10_000.0
# Decay-table step and span (presentation only).
DECAY_TABLE_STEP_H = 6.0
GLASS_DECAY_TABLE_SPAN_H = 7 * 24.0
# Treatment timeline windows [K] (stated here, refused beyond them with a message naming the fields):
# the pre-administration assay is taken on the treatment day (Hoang JVIR 2019: median 2.2 h before
# administration) — more than 24 h is a date typo; the residual is measured right after the procedure
# — more than 24 h likewise; no date of one treatment (infusion, calibration, assay, administration,
# scout) lies more than 60 days from the planned infusion (glass vials are usable ~12 days, resin 24 h).
MAX_PREPARATION_TO_ADMINISTRATION_H = 24.0
MAX_ADMINISTRATION_TO_RESIDUAL_H = 24.0
MAX_TIMELINE_SPAN_H = 60 * 24.0
_ABLATIVE_INTENTS = ("radiation_segmentectomy", "radiation_lobectomy", "neoadjuvant")


class _Model(CaseInputModel):
    """Base of the planning case-file models: extra fields refused; no true/false or absurd numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _activity_guard(value: float | None, name: str) -> float | None:
    """A finite, positive activity; its plausible maximum depends on the nuclide (see ``_check_activities``)."""
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise UnitsError(f"{name} = {value!r} must be a positive activity in GBq")
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


# Fields whose absence selects a default: an explicit null there is ambiguous ("none" or "default"?) and is
# refused naming the field (issue 8 item 3). Elsewhere null means "none" (targets) or is refused (limits).
_NULL_MEANS_DEFAULT: dict[tuple[str, ...], str] = {
    ("expected_residual_fraction",): "the device's median residual (Hoang JVIR 2019)",
    ("lung", "mass_kg"): "standard lung mass 1.0 kg",
    ("schedule", "vial_activity_at_calibration_gbq"): "the nominal vial activity",
    ("objective",): "reach_targets",
    ("intent",): "palliative",
}


def _local_time(value: Any, zone_name: str | None, name: str) -> Any:
    """``value`` as an aware datetime when it is a local time with a zone (suffix or case zone)."""
    if isinstance(value, str):
        text, _, suffix = value.strip().rpartition(" ")
        if text and ("/" in suffix or suffix == "UTC"):
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                return value
            if moment.tzinfo is not None:
                raise InputError(f"{name} = {value!r}: give either a UTC offset or a zone name, not both")
            return localize(moment, suffix, name)
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime) and zone_name is not None:
        return localize(value, zone_name, name)
    return value


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


def _finite_dose(v: float | None, name: str) -> float | None:
    if v is not None and (not math.isfinite(v) or v <= 0):
        raise InputError(f"{name} = {v!r}: give a positive, finite dose in Gy")
    return v


class TargetsInput(_Model):
    """Targets (soft, Gy) replacing the guideline's; an explicit ``null`` means "no such target".

    ``normal_liver_limit_gy`` is accepted for compatibility: it is the hard limit on the mean dose of the
    *perfused* normal liver (the same as ``limits.perfused_normal_liver_dose_gy``) and, like every hard
    limit, can be tightened but not lifted without an override.
    """

    tumour_target_gy: float | None = None
    perfused_target_gy: float | None = None
    normal_liver_target_gy: float | None = None
    normal_liver_limit_gy: float | None = None

    @field_validator("tumour_target_gy", "perfused_target_gy", "normal_liver_target_gy", "normal_liver_limit_gy")
    @classmethod
    def _dose(cls, v: float | None, info: Any) -> float | None:
        return _finite_dose(v, f"targets.{info.field_name}")

    @model_validator(mode="after")
    def _limit_not_removed(self) -> TargetsInput:
        if "normal_liver_limit_gy" in self.model_fields_set and self.normal_liver_limit_gy is None:
            raise InputError(_NULL_LIMIT.format(field="targets.normal_liver_limit_gy"))
        return self

    def explicit(self) -> dict[str, float | None]:
        """The targets the file states (``None`` = explicitly none), the limit alias left out."""
        return {k: getattr(self, k) for k in self.model_fields_set if k != "normal_liver_limit_gy"}


_NULL_LIMIT = ("{field}: null would remove a hard safety limit. Leave the field out to keep the guideline "
               "limit, give a lower value to tighten it, or lift it through overrides.<limit>: "
               "{{value_gy: ..., reason: ...}} (docs/planning.md)")


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

    @field_validator("targets")
    @classmethod
    def _no_limit_here(cls, v: TargetsInput) -> TargetsInput:
        if v.normal_liver_limit_gy is not None:
            raise InputError("territory targets: normal-liver limits are set once for the case (limits."
                             "perfused_normal_liver_dose_gy), not per territory")
        return v

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
    """Whole liver (including tumours): volume or mass, total tumour volume, and the non-perfused normal liver.

    The non-perfused normal liver (needed for the whole-normal-liver dose) is given directly
    (``nonperfused_volume_ml`` or ``nonperfused_mass_kg``) or derived as whole liver minus the perfused
    territories (minus tumours outside them, when ``tumour_volume_ml`` is given).
    """

    volume_ml: float | None = None
    mass_kg: float | None = None
    density_g_per_ml: float = LIVER_DENSITY_G_PER_ML
    tumour_volume_ml: float | None = Field(default=None, ge=0)
    nonperfused_volume_ml: float | None = Field(default=None, ge=0)
    nonperfused_mass_kg: float | None = Field(default=None, ge=0)

    @field_validator("nonperfused_volume_ml")
    @classmethod
    def _np_volume(cls, v: float | None) -> float | None:
        return None if v is None or v == 0 else _volume_guard(v, "liver.nonperfused_volume_ml")

    @field_validator("nonperfused_mass_kg")
    @classmethod
    def _np_mass(cls, v: float | None) -> float | None:
        return None if v is None or v == 0 else _mass_guard(v, "liver.nonperfused_mass_kg")

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
        if "nonperfused_volume_ml" in self.model_fields_set and "nonperfused_mass_kg" in self.model_fields_set:
            raise InputError("liver: give nonperfused_volume_ml or nonperfused_mass_kg, not both")
        return self

    def nonperfused_mass(self) -> float | None:
        """Non-perfused normal-liver mass (kg) if given directly (0 allowed: whole liver perfused)."""
        if "nonperfused_mass_kg" in self.model_fields_set:
            return self.nonperfused_mass_kg or 0.0
        if "nonperfused_volume_ml" in self.model_fields_set:
            return (self.nonperfused_volume_ml or 0.0) * self.density_g_per_ml / 1000.0
        return None


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


# Total bilirubin above 2 mg/dL (34 µmol/L) without a reversible cause contraindicates SIRT: TheraSphere IFU
# high-risk warning and standard selection criteria (work-up rule ``bilirubin_gt_2`` in
# sirtkit/data/rules, CLINICAL.md §7.1). A plan with such a value gets a WARN check naming the rule and the
# µmol/L reading (a µmol/L value typed into the mg/dL field looks like this).
BILIRUBIN_CONTRAINDICATION_MG_PER_DL = 2.0


class LiverFunctionInput(_Model):
    """Liver condition: selects the normal-liver limits (EANM 2022 Tab 2/3; see ``planning.targets``).

    Total bilirubin is read exactly as the work-up reads it (:func:`sirtkit.units.parse_lab_value`):
    ``total_bilirubin: 17 µmol/L`` / ``1.0 mg/dL`` with its unit (a bare number there is refused where it is
    plausible in both units), or ``total_bilirubin_mg_per_dl`` as a number in mg/dL (plausible 0.1–50).
    """

    total_bilirubin: float | str | None = Field(
        default=None, description="Total bilirubin with its unit: '1.0 mg/dL' or '17 µmol/L'")
    total_bilirubin_mg_per_dl: float | None = None
    cirrhosis: bool = False
    prior_prrt: bool = False
    prior_chemotherapy: bool = False
    prior_liver_radiation: bool = False
    hepatic_reserve_fraction: float | None = None

    @field_validator("total_bilirubin_mg_per_dl")
    @classmethod
    def _bili(cls, v: float | None) -> float | None:
        if v is None:
            return None
        # the work-up's reading of a number in a mg/dL-named field (clinical.patient.Labs.bilirubin_mg_dl)
        return parse_lab_value(v, "bilirubin", field="liver_function.total_bilirubin_mg_per_dl",
                               declared_unit="mg/dL", refuse_ambiguous=False)

    @model_validator(mode="after")
    def _bili_with_unit(self) -> LiverFunctionInput:
        if self.total_bilirubin is None:
            return self
        if isinstance(self.total_bilirubin, bool):
            raise UnitsError(f"liver_function.total_bilirubin = {self.total_bilirubin!r}: give a number with its "
                             "unit, e.g. '1.0 mg/dL'")
        value = parse_lab_value(self.total_bilirubin, "bilirubin", field="liver_function.total_bilirubin")
        given = self.total_bilirubin_mg_per_dl
        if given is not None and not math.isclose(value, given, rel_tol=0.02):
            raise UnitsError(f"liver_function.total_bilirubin ({value:.3g} mg/dL) and total_bilirubin_mg_per_dl "
                             f"({given:.3g} mg/dL) disagree: give total bilirubin once")
        object.__setattr__(self, "total_bilirubin_mg_per_dl", value)
        return self

    @field_validator("hepatic_reserve_fraction")
    @classmethod
    def _reserve(cls, v: float | None) -> float | None:
        return None if v is None else require_fraction(v, "liver_function.hepatic_reserve_fraction")


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
    """Hard limits (Gy). Left out: the guideline value. A value may tighten a limit; a higher one needs an
    override with a reason (``PlanCase.overrides``); ``null`` or a non-finite value is refused."""

    lung_dose_gy: float | None = None
    cumulative_lung_dose_gy: float | None = None
    perfused_normal_liver_dose_gy: float | None = None
    whole_normal_liver_dose_gy: float | None = None
    whole_liver_dose_gy: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None:
                    raise InputError(_NULL_LIMIT.format(field=f"limits.{key}"))
        return data

    @field_validator("lung_dose_gy", "cumulative_lung_dose_gy", "perfused_normal_liver_dose_gy",
                     "whole_normal_liver_dose_gy", "whole_liver_dose_gy")
    @classmethod
    def _dose(cls, v: float | None, info: Any) -> float | None:
        return _finite_dose(v, f"limits.{info.field_name}")


LimitName = Literal["lung_dose_gy", "cumulative_lung_dose_gy", "perfused_normal_liver_dose_gy",
                    "whole_normal_liver_dose_gy", "whole_liver_dose_gy"]
# An override must say why in words, not a token [K].
MIN_OVERRIDE_REASON_CHARS = 10


class OverrideInput(_Model):
    """A hard limit lifted above its guideline value, with the documented reason (shown on every output)."""

    value_gy: float
    reason: str
    approved_by: str | None = None

    @field_validator("value_gy")
    @classmethod
    def _value(cls, v: float) -> float:
        out = _finite_dose(v, "overrides.<limit>.value_gy")
        assert out is not None
        return out

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        if len(v.strip()) < MIN_OVERRIDE_REASON_CHARS:
            raise InputError(f"overrides.<limit>.reason = {v!r}: state why the limit is lifted (at least "
                             f"{MIN_OVERRIDE_REASON_CHARS} characters: decision, by whom, when)")
        return v.strip()


class VialAssayInput(_Model):
    """Dose-calibrator reading of the vial (activity at a time), replacing the nominal label activity."""

    activity_gbq: float
    time: datetime

    @field_validator("activity_gbq")
    @classmethod
    def _activity(cls, v: float) -> float:
        out = _activity_guard(v, "schedule.vial_assay.activity_gbq")
        assert out is not None
        return out

    @field_validator("time")
    @classmethod
    def _time(cls, v: datetime) -> datetime:
        return require_aware(v, "schedule.vial_assay.time")


class ScoutInput(_Model):
    """Ho-166 scout dose (≈ 250 MBq, Prince JNM 2015): its activity (and time) for the scout's own doses."""

    activity_gbq: float = HO166_SCOUT_ACTIVITY_GBQ
    administration_time: datetime | None = None

    @field_validator("activity_gbq")
    @classmethod
    def _activity(cls, v: float) -> float:
        out = _activity_guard(v, "scout.activity_gbq")
        assert out is not None
        return out


class ScheduleInput(_Model):
    """Planned infusion time and the vial calibration time (from the vial label), timezone-aware."""

    planned_infusion: datetime
    vial_calibration: datetime | None = None
    vial_activity_at_calibration_gbq: float | None = None
    vial_lot: str | None = None
    vial_assay: VialAssayInput | None = None

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

    @model_validator(mode="after")
    def _order(self) -> ResidualInput:
        prep_h = elapsed_hours(self.prepared_time, self.administration_time)
        res_h = elapsed_hours(self.administration_time, self.residual_time)
        if prep_h < 0:
            raise InputError(
                f"residual: administration_time {self.administration_time.isoformat()} is before prepared_time "
                f"{self.prepared_time.isoformat()}: the syringe/vial is measured before it is given")
        if res_h < 0:
            raise InputError(
                f"residual: residual_time {self.residual_time.isoformat()} is before administration_time "
                f"{self.administration_time.isoformat()}: the residual is measured after administration")
        if prep_h > MAX_PREPARATION_TO_ADMINISTRATION_H:
            raise InputError(
                f"residual: prepared_time is {prep_h:.1f} h before administration (more than "
                f"{MAX_PREPARATION_TO_ADMINISTRATION_H:g} h): check the dates")
        if res_h > MAX_ADMINISTRATION_TO_RESIDUAL_H:
            raise InputError(
                f"residual: residual_time is {res_h:.1f} h after administration (more than "
                f"{MAX_ADMINISTRATION_TO_RESIDUAL_H:g} h): check the dates")
        return self

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
    patient_name: str | None = None
    device: DeviceName
    method: MethodName
    intent: IntentName = "palliative"
    objective: Objective = "reach_targets"
    stated_dose_gy: float | None = None
    timezone: str | None = None
    liver_function: LiverFunctionInput = LiverFunctionInput()
    overrides: dict[LimitName, OverrideInput] = Field(default_factory=dict)
    scout: ScoutInput | None = None
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

    @model_validator(mode="before")
    @classmethod
    def _local_times(cls, data: Any) -> Any:
        """Local date-times of ``schedule``, ``residual`` and ``scout``, as vendor labels print them.

        A time may name its IANA zone after a space (``2026-03-01T12:00 America/New_York``: TheraSphere
        labels are in US Eastern time); a time without offset or zone is read in the case's ``timezone``.
        """
        if not isinstance(data, dict):
            return data
        for path, default in _NULL_MEANS_DEFAULT.items():
            node: Any = data
            for part in path[:-1]:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and path[-1] in node and node[path[-1]] is None:
                raise InputError(f"{'.'.join(path)}: null would silently keep the default ({default}); leave the "
                                 "field out to use the default, or give a value")
        zone_name = data.get("timezone")
        if zone_name is not None:
            if not isinstance(zone_name, str):
                raise InputError(f"timezone = {zone_name!r}: give an IANA zone name such as Europe/Amsterdam")
            zone(zone_name)
        out = dict(data)
        for block in ("schedule", "residual", "scout"):
            sub = out.get(block)
            if not isinstance(sub, dict):
                continue
            sub = {key: _local_time(value, zone_name, f"{block}.{key}") for key, value in sub.items()}
            assay = sub.get("vial_assay")
            if isinstance(assay, dict) and "time" in assay:
                sub["vial_assay"] = {**assay, "time": _local_time(assay["time"], zone_name,
                                                                  f"{block}.vial_assay.time")}
            out[block] = sub
        return out

    @field_validator("stated_dose_gy")
    @classmethod
    def _stated(cls, v: float | None) -> float | None:
        return _finite_dose(v, "stated_dose_gy")

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
        if (self.objective == "stated_dose") != (self.stated_dose_gy is not None):
            raise InputError("objective 'stated_dose' and stated_dose_gy go together: give both (the dose to aim "
                             "at, Gy, for the coldest tumour or the perfused volume) or neither")
        if self.objective != "reach_targets" and self.method in ("bsa", "holmium_standard"):
            raise InputError(f"objective {self.objective!r} applies to dose-based inverse planning (mird, partition, "
                             f"multicompartment); method {self.method!r} prescribes the activity by its formula")
        if self.objective == "maximise" and self.method == "mird":
            raise InputError("objective 'maximise' needs a tumour/normal-liver split (method partition or "
                             "multicompartment): a single-compartment plan has no normal-liver limit to stop at; "
                             "use objective 'stated_dose' with stated_dose_gy for the perfused volume")
        if self.scout is not None and self.device != "holmium":
            raise InputError("scout: the scout dose applies to Ho-166 (device: holmium); Y-90 plans use Tc-99m MAA")
        self._check_activities()
        self._check_limits()
        self._check_schedule()
        return self

    def _check_activities(self) -> None:
        """Every activity field against the plausible maximum of one treatment with the device's nuclide."""
        fields: list[tuple[str, float | None]] = [
            (f"territories[{t.name!r}].activity_gbq", t.activity_gbq) for t in self.territories]
        if self.schedule is not None:
            fields.append(("schedule.vial_activity_at_calibration_gbq", self.schedule.vial_activity_at_calibration_gbq))
            if self.schedule.vial_assay is not None:
                fields.append(("schedule.vial_assay.activity_gbq", self.schedule.vial_assay.activity_gbq))
        if self.residual is not None:
            fields += [("residual.prepared_activity_gbq", self.residual.prepared_activity_gbq),
                       ("residual.residual_activity_gbq", self.residual.residual_activity_gbq)]
        if self.scout is not None:
            fields.append(("scout.activity_gbq", self.scout.activity_gbq))
        nuclide = get_device(self.device).nuclide.name
        for name, value in fields:
            message = None if value is None else implausible_activity_message(value, name, nuclide)
            if message is not None:
                raise UnitsError(message)

    def liver_state(self) -> LiverState:
        """The liver condition that selects the guideline limits (hepatic reserve derived when possible)."""
        f = self.liver_function
        reserve = f.hepatic_reserve_fraction
        if reserve is None:
            reserve = _derived_hepatic_reserve(self)
        return LiverState(f.total_bilirubin_mg_per_dl, f.cirrhosis, f.prior_prrt, f.prior_chemotherapy,
                          f.prior_liver_radiation, reserve)

    def _check_limits(self) -> None:
        """Hard limits: tightening is free; lifting needs ``overrides`` with a reason."""
        guideline = guideline_limits(self.device, self.intent, self.liver_state())
        stated = {k: getattr(self.limits, k) for k in self.limits.model_fields_set}
        if self.targets.normal_liver_limit_gy is not None:
            if "perfused_normal_liver_dose_gy" in stated:
                raise InputError("give the perfused normal-liver limit once: limits.perfused_normal_liver_dose_gy "
                                 "or targets.normal_liver_limit_gy")
            stated["perfused_normal_liver_dose_gy"] = self.targets.normal_liver_limit_gy
        for key, value in stated.items():
            default = guideline.get(key)
            if value is not None and default is not None and value > default and key not in self.overrides:
                raise InputError(
                    f"limits.{key} = {value:g} Gy lifts the guideline hard limit ({default:g} Gy): a limit can be "
                    f"tightened, not lifted, unless overrides.{key}: {{value_gy: {value:g}, reason: ...}} records why")
        for key, override in self.overrides.items():
            if key in stated and stated[key] != override.value_gy:
                raise InputError(f"overrides.{key}.value_gy = {override.value_gy:g} differs from limits.{key} = "
                                 f"{stated[key]:g}: give the value once (in overrides)")

    def _check_schedule(self) -> None:
        """The whole treatment timeline against its stated windows (refusals; the device window is a check)."""
        s = self.schedule
        moments: list[tuple[str, datetime]] = []
        if s is not None:
            moments.append(("schedule.planned_infusion", s.planned_infusion))
            if s.vial_calibration is not None:
                moments.append(("schedule.vial_calibration", s.vial_calibration))
            if s.vial_assay is not None:
                moments.append(("schedule.vial_assay.time", s.vial_assay.time))
        if self.residual is not None:
            moments.append(("residual.administration_time", self.residual.administration_time))
        if self.scout is not None and self.scout.administration_time is not None:
            moments.append(("scout.administration_time", self.scout.administration_time))
        for name, moment in moments[1:]:
            gap_h = elapsed_hours(moments[0][1], moment)
            if abs(gap_h) > MAX_TIMELINE_SPAN_H:
                raise InputError(
                    f"{name} = {moment.isoformat()} is {abs(gap_h) / 24:.0f} days from {moments[0][0]} = "
                    f"{moments[0][1].isoformat()} (more than {MAX_TIMELINE_SPAN_H / 24:g} days): check the dates "
                    "and their years")
        if s is not None and s.vial_assay is not None and s.vial_assay.time > s.planned_infusion:
            raise InputError(f"schedule.vial_assay.time {s.vial_assay.time.isoformat()} is after the planned "
                             "infusion: assay the vial before the dose is drawn")
        if self.scout is not None and self.scout.administration_time is not None and s is not None \
                and self.scout.administration_time > s.planned_infusion:
            raise InputError("scout.administration_time is after schedule.planned_infusion: the scout comes first")


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
    objective: str = "reach_targets"
    stated_dose_gy: float | None = None
    liver_compromise: tuple[str, ...] = ()
    hepatic_reserve_fraction: float | None = None
    nonperfused_normal_liver_mass_kg: float | None = None
    nonperfused_normal_liver_source: str = "not described"
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    holmium_vial: ResinDraw | None = None
    vial_activity_source: str | None = None
    scout: dict[str, float] | None = None
    activity_window: dict[str, Any] | None = None
    liver_doses: dict[str, float | None] | None = None


# ----------------------------------------------------------------------------------------------------



# ----------------------------------------------------------------------------------------------------


def _bilirubin_check(case: PlanCase) -> tuple[CheckResult, ...]:
    """A WARN when total bilirubin is above the 2 mg/dL contraindication (work-up rule ``bilirubin_gt_2``)."""
    bili = case.liver_function.total_bilirubin_mg_per_dl
    if bili is None or bili <= BILIRUBIN_CONTRAINDICATION_MG_PER_DL:
        return ()
    as_umol = bili / BILIRUBIN_UMOL_L_PER_MG_DL
    return (CheckResult(
        "bilirubin_contraindication", CheckStatus.WARN, bili, "<=", BILIRUBIN_CONTRAINDICATION_MG_PER_DL, "mg/dL",
        f"total bilirubin {bili:g} mg/dL > {BILIRUBIN_CONTRAINDICATION_MG_PER_DL:g} mg/dL contraindicates SIRT without a "
        f"reversible cause (work-up rule bilirubin_gt_2). If it was µmol/L ({bili:g} µmol/L = {as_umol:.2g} mg/dL), "
        "write 'total_bilirubin: VALUE µmol/L'",
        "TheraSphere IFU; standard SIRT selection criteria (CLINICAL.md §7.1)"),)


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
        return lung_mass_from_ct_kg(lung.ct_volume_ml, lung.ct_mean_hu), "CT volume and mean HU (Kao 2014; Schneider 2000 densities)"
    return STANDARD_LUNG_MASS_KG, "standard 1.0 kg"


# Each hard limit of a plan: its key (LimitsInput field) → the check it is enforced as. The liver limits come
# from the guideline threshold rows of that check (planning.targets); the lung limits from the IFU constants.
_LIMIT_CHECKS = {"lung_dose_gy": "lung_dose_session", "cumulative_lung_dose_gy": "lung_dose_cumulative",
                 "perfused_normal_liver_dose_gy": "perfused_normal_liver_dose",
                 "whole_normal_liver_dose_gy": "whole_normal_liver_dose", "whole_liver_dose_gy": "whole_liver_dose"}
_LIVER_LIMIT_KEYS = ("perfused_normal_liver_dose_gy", "whole_normal_liver_dose_gy", "whole_liver_dose_gy")


def _limits_from_rows(rows: Mapping[str, GuidelineThreshold]) -> dict[str, float | None]:
    limits: dict[str, float | None] = {"lung_dose_gy": LUNG_DOSE_LIMIT_SESSION_GY,
                                       "cumulative_lung_dose_gy": LUNG_DOSE_LIMIT_CUMULATIVE_GY}
    for key in _LIVER_LIMIT_KEYS:
        row = rows.get(_LIMIT_CHECKS[key])
        limits[key] = row.value_gy if row is not None else None
    return limits


def guideline_limits(device: str, intent: str, liver: LiverState) -> dict[str, float | None]:
    """The hard limits (Gy) the guidelines set for ``device``/``intent``/``liver`` (``None`` = none)."""
    return _limits_from_rows(select_thresholds(device, intent, liver))


def _perfused_mass_total(case: PlanCase) -> float | None:
    """Total perfused mass (kg, tumours included) of the case's territories, or ``None`` if unknown."""
    liver_mass = case.liver.mass()
    if case.method == "holmium_standard":
        return liver_mass
    if case.method == "bsa" and not case.territories:
        return liver_mass
    masses = [t.perfused_mass() for t in case.territories]
    if not masses or any(m is None for m in masses):
        return None
    return sum(m for m in masses if m is not None)


def _derived_hepatic_reserve(case: PlanCase) -> float | None:
    """Untreated liver fraction (whole liver − perfused)/whole liver, when both are known."""
    whole = case.liver.mass()
    perfused = _perfused_mass_total(case)
    if whole is None or perfused is None or whole <= 0:
        return None
    return min(max((whole - perfused) / whole, 0.0), 1.0)


# Perfused territories may exceed the whole-liver volume by this fraction (contouring/rounding) before the
# case is refused [K].
_VOLUME_SLACK_FRACTION = 0.02


def _nonperfused(case: PlanCase) -> tuple[float | None, str]:
    """Non-perfused normal-liver mass (kg) and how it was obtained (``None``: not described)."""
    given = case.liver.nonperfused_mass()
    if given is not None:
        return given, "given"
    whole = case.liver.mass()
    perfused = _perfused_mass_total(case)
    if whole is None or perfused is None:
        return None, "not described"
    if perfused > whole * (1 + _VOLUME_SLACK_FRACTION):
        raise InputError(f"the perfused territories ({perfused:.3f} kg) exceed the whole liver ({whole:.3f} kg): "
                         "check liver.volume_ml / mass_kg (whole liver including tumours) and the territories")
    outside_tumour = 0.0
    source = "whole liver − perfused territories"
    if case.liver.tumour_volume_ml is not None and case.method not in ("bsa", "holmium_standard"):
        total_tumour = case.liver.tumour_volume_ml * case.liver.density_g_per_ml / 1000.0
        comps = [c for t in case.territories for c in t.compartments]
        if comps:
            inside = sum(c.resolved_mass_kg for c in comps if c.kind == "tumour")
            outside_tumour = max(total_tumour - inside, 0.0)
            source += " − tumours outside them"
        else:
            outside_tumour = total_tumour  # where the tumours lie is unknown: all outside (conservative)
            source += " − all tumour (location unknown; conservative)"
    return max(whole - perfused - outside_tumour, 0.0), source


def _effective_limits(case: PlanCase) -> tuple[dict[str, float | None], dict[str, str]]:
    """Hard limits after the case file (tightened or overridden), with the source of each."""
    rows = select_thresholds(case.device, case.intent, case.liver_state())
    limits = _limits_from_rows(rows)
    lung_src = "TheraSphere IFU; Radiopaedia LSF" if case.device != "holmium" else "Porto Ho-166 study (Q-Suite)"
    sources = {"lung_dose_gy": lung_src, "cumulative_lung_dose_gy": "Radiopaedia LSF"}
    for key in _LIVER_LIMIT_KEYS:
        row = rows.get(_LIMIT_CHECKS[key])
        sources[key] = row.source if row is not None else ""
    stated = {k: getattr(case.limits, k) for k in case.limits.model_fields_set}
    if case.targets.normal_liver_limit_gy is not None:
        stated["perfused_normal_liver_dose_gy"] = case.targets.normal_liver_limit_gy
    for key, value in stated.items():
        if value is not None and value != limits[key]:
            limits[key] = value
            sources[key] = "case file (tightened)"
    for key, override in case.overrides.items():
        limits[key] = override.value_gy
        by = f" ({override.approved_by})" if override.approved_by else ""
        sources[key] = f"OVERRIDE{by}: {override.reason}"
    return limits, sources


def _effective_targets(case: PlanCase, territory: TerritoryInput | None) -> dict[str, float | None]:
    """Guideline targets for the liver condition, replaced by the case-level then the territory-level ones."""
    rows = select_thresholds(case.device, case.intent, case.liver_state())

    def value(check: str) -> float | None:
        return rows[check].value_gy if check in rows else None

    perfused_default = value("perfused_dose_target")
    if case.method in ("partition", "multicompartment") and case.intent not in _ABLATIVE_INTENTS:
        perfused_default = None  # single-compartment targets are not used by compartment models (palliative)
    out: dict[str, float | None] = {
        "tumour_target_gy": value("tumour_dose_target"),
        "perfused_target_gy": perfused_default,
        "normal_liver_target_gy": value("normal_liver_dose_target"),
    }
    for layer in (case.targets, territory.targets if territory is not None else None):
        if layer is not None:
            out.update(layer.explicit())
    out["normal_liver_limit_gy"] = _effective_limits(case)[0]["perfused_normal_liver_dose_gy"]
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
                     lung_shunt_fraction=t.lung_shunt_fraction,
                     normal_liver_target_gy=targets["normal_liver_target_gy"])


@dataclass(frozen=True)
class _Context:
    """Values every method needs, resolved once."""

    k: float
    r: float
    lsf: float
    lung_mass: float
    bsa: float | None
    prior_lung_doses_gy: tuple[float, ...]
    limits: dict[str, float | None]
    nonperfused_for_plan: float | None


def _compute_plan(case: PlanCase, device: Device, ctx: _Context) -> ActivityPlan:
    lsf = ctx.lsf
    lung_kw: dict[str, Any] = {
        "lung_mass_kg": ctx.lung_mass,
        "dose_constant_gy_kg_per_gbq": ctx.k,
        "expected_residual_fraction": ctx.r,
        "prior_lung_doses_gy": ctx.prior_lung_doses_gy,
        "nonperfused_normal_liver_mass_kg": ctx.nonperfused_for_plan,
    }
    limits_kw: dict[str, Any] = {
        "lung_dose_limit_gy": ctx.limits["lung_dose_gy"],
        "cumulative_lung_limit_gy": ctx.limits["cumulative_lung_dose_gy"],
    }
    solve_kw: dict[str, Any] = {
        "whole_normal_liver_limit_gy": ctx.limits["whole_normal_liver_dose_gy"],
        "whole_liver_limit_gy": ctx.limits["whole_liver_dose_gy"],
        "whole_liver_mass_kg": case.liver.mass(),
        "objective": case.objective,
        "stated_dose_gy": case.stated_dose_gy,
    }
    if case.method == "bsa":
        t = _single_territory(case) if case.territories else None
        liver_volume = case.liver.volume()
        if liver_volume is None or ctx.bsa is None:
            raise InputError("method 'bsa' needs height_cm, weight_kg and liver.volume_ml (whole liver incl. tumour)")
        tumour_ml = case.liver.tumour_volume_ml
        if tumour_ml is None:
            if t is None or not any(c.kind == "tumour" for c in t.compartments):
                raise InputError("method 'bsa' needs liver.tumour_volume_ml (total tumour volume) for f_T")
            tumour_ml = sum(c.resolved_volume_ml for c in t.compartments if c.kind == "tumour")
        return plan_bsa(bsa_m2=ctx.bsa, tumour_volume_ml=tumour_ml, liver_volume_ml=liver_volume,
                        lung_shunt_fraction=lsf, perfused_volume_ml=None if t is None else t.perfused_volume(),
                        activity_prepared_gbq=None if t is None else t.activity_gbq,
                        density_g_per_ml=case.liver.density_g_per_ml, **lung_kw)
    if case.method == "holmium_standard":
        mass = case.liver.mass()
        if mass is None:
            raise InputError("method 'holmium_standard' needs liver.volume_ml or liver.mass_kg (whole liver)")
        target = _effective_targets(case, None)["perfused_target_gy"]
        activity = case.territories[0].activity_gbq if len(case.territories) == 1 else None
        return plan_holmium_standard(liver_mass_kg=mass, lung_shunt_fraction=lsf, activity_prepared_gbq=activity,
                                     target_dose_gy=HO166_STANDARD_WHOLE_LIVER_DOSE_GY if target is None else target,
                                     whole_liver_limit_gy=ctx.limits["whole_liver_dose_gy"], **lung_kw, **limits_kw)
    lung_activity_limit = device.lung_activity_limit_gbq
    if case.method == "mird":
        t = _single_territory(case)
        mass = t.perfused_mass()
        if mass is None:
            raise InputError(f"territory {t.name!r}: give perfused_volume_ml, perfused_mass_kg or compartments")
        targets = _effective_targets(case, t)
        target = targets["perfused_target_gy"]
        if target is None and t.activity_gbq is None and case.objective == "reach_targets":
            raise InputError(
                f"no perfused-volume target for {case.device} / {case.intent} (EANM 2022): give "
                "targets.perfused_target_gy or the territory's activity_gbq"
            )
        return plan_mird_single(perfused_mass_kg=mass,
                                lung_shunt_fraction=lsf if t.lung_shunt_fraction is None else t.lung_shunt_fraction,
                                target_dose_gy=target, activity_prepared_gbq=t.activity_gbq,
                                lung_activity_limit_gbq=lung_activity_limit, nuclide=device.nuclide.name,
                                territory_name=t.name, **lung_kw, **limits_kw, **solve_kw)
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
            normal_liver_limit_gy=targets["normal_liver_limit_gy"],
            normal_liver_target_gy=targets["normal_liver_target_gy"], lung_activity_limit_gbq=lung_activity_limit,
            nuclide=device.nuclide.name, territory_name=t.name, **lung_kw, **limits_kw, **solve_kw,
        )
    if not case.territories:
        raise InputError("method 'multicompartment' needs at least one territory with compartments")
    territories = [_domain_territory(t, _effective_targets(case, t)) for t in case.territories]
    return plan_multicompartment(territories, lung_shunt_fraction=lsf, lung_activity_limit_gbq=lung_activity_limit,
                                 nuclide=device.nuclide.name, **lung_kw, **limits_kw, **solve_kw)


def _thresholds(case: PlanCase, plan_targets: dict[str, float | None], limits: dict[str, float | None],
                limit_sources: dict[str, str]) -> dict[str, Threshold]:
    th = _checks.default_thresholds(case.device, case.intent, case.liver_state())
    for key, check in (("tumour_target_gy", "tumour_dose_target"), ("perfused_target_gy", "perfused_dose_target"),
                       ("normal_liver_target_gy", "normal_liver_dose_target")):
        value = plan_targets.get(key)
        if value is None:
            th.pop(check, None)
        elif check not in th or th[check].value != value:
            th[check] = Threshold(value, "warn", "case file")
    if case.method == "holmium_standard":
        th.pop("perfused_dose_target", None)
    for key, check in _LIMIT_CHECKS.items():
        value = limits[key]
        if value is None:
            th.pop(check, None)
        elif check not in th or th[check].value != value or limit_sources[key].startswith(("OVERRIDE", "case")):
            th[check] = Threshold(value, "fail", limit_sources[key])
    return th


def _scout_doses(case: PlanCase, lsf: float, lung_mass: float, k: float) -> dict[str, float] | None:
    """Doses of the Ho-166 scout itself (liver and lung), local deposition."""
    if case.scout is None:
        return None
    a = case.scout.activity_gbq
    liver_mass = case.liver.mass() or _perfused_mass_total(case)
    out = {"activity_gbq": a, "lung_dose_gy": k * a * lsf / lung_mass}
    if liver_mass:
        out["liver_dose_gy"] = k * a * (1.0 - lsf) / liver_mass
    return out


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
    limits, limit_sources = _effective_limits(case)
    nonperfused, nonperfused_source = _nonperfused(case)
    nonperfused_for_plan = nonperfused
    if nonperfused is None and case.intent not in _ABLATIVE_INTENTS \
            and case.method in ("partition", "multicompartment"):
        # Not described: 0 kg makes the whole-normal-liver dose equal to the perfused normal-liver dose, an
        # upper bound, so the limit is kept (conservatively) rather than dropped.
        nonperfused_for_plan = 0.0
        nonperfused_source = "not described: 0 kg assumed (the whole normal-liver dose shown is an upper bound)"
    scout = _scout_doses(case, lsf, lung_mass, k)
    prior = tuple(case.lung.prior_doses_gy) + ((scout["lung_dose_gy"],) if scout is not None else ())
    ctx = _Context(k, r, lsf, lung_mass, bsa, prior, limits, nonperfused_for_plan)
    refusal = None
    plan: ActivityPlan | None
    try:
        plan = _compute_plan(case, device, ctx)
    except ConstraintViolation as err:
        plan, refusal = None, str(err)
    plan_targets = _effective_targets(case, case.territories[0] if len(case.territories) == 1 else None)
    if case.method == "bsa":
        plan_targets["perfused_target_gy"] = None
    thresholds = _thresholds(case, plan_targets, limits, limit_sources)
    whole_liver_mass = case.liver.mass()
    quantities = _checks.plan_quantities(plan, whole_liver_mass_kg=whole_liver_mass, lung_shunt_fraction=lsf)

    logistics = _Logistics()
    if case.schedule is not None and plan is not None:
        logistics = _logistics(case, device, plan)
        quantities.update(logistics.quantities)
        if logistics.quantities:
            thresholds.update(_checks.vial_thresholds(device.name))
    results = _checks.evaluate_checks(quantities, thresholds)
    results = tuple(_annotate(c, nonperfused is None) for c in results)
    if refusal is not None and not _checks.has_failures(results):
        results = (CheckResult("device_contraindication", CheckStatus.FAIL, lsf, "<=",
                               device.max_lung_shunt_fraction or 0.0, "fraction", refusal, device.short_citation),
                   *results)
    results = (*results, *logistics.checks, *_bilirubin_check(case))
    infused_plan = None
    glass_vial = logistics.glass_vial
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
        if case.schedule is not None:
            gap = elapsed_hours(case.schedule.planned_infusion, m.administration_time)
            results = (*results, CheckResult(
                "administration_vs_planned_time",
                CheckStatus.WARN if abs(gap) > ADMINISTRATION_SHIFT_WARN_H else CheckStatus.PASS, abs(gap), "<=",
                ADMINISTRATION_SHIFT_WARN_H, "h",
                f"administered {gap:+.2f} h from the planned infusion time (the vial decayed accordingly)",
                "[K] sirtkit default"))
    failures = tuple(r_.message for r_ in results if r_.status == CheckStatus.FAIL)
    state = case.liver_state()
    return PlanResult(
        patient_id=case.patient_id, device=device.name, product=device.product, method=case.method,
        intent=case.intent, nuclide=device.nuclide.name, dose_constant_gy_kg_per_gbq=k, expected_residual_fraction=r,
        lung_shunt_fraction=lsf, lung_shunt_fraction_source=lsf_source, lung_mass_kg=lung_mass,
        lung_mass_source=lung_mass_source, bsa_m2=bsa, thresholds=thresholds, plan=plan, refusal=refusal,
        checks=results, hard_failures=failures, passes_hard_limits=not failures, glass_vial=glass_vial,
        resin_draw=logistics.resin_draw, decay_table=logistics.table, delivered=delivered,
        delivered_plan=delivered_plan, infused_plan=infused_plan, objective=case.objective,
        stated_dose_gy=case.stated_dose_gy, liver_compromise=state.compromise_reasons,
        hepatic_reserve_fraction=state.hepatic_reserve_fraction,
        nonperfused_normal_liver_mass_kg=nonperfused_for_plan, nonperfused_normal_liver_source=nonperfused_source,
        overrides={key: {"value_gy": o.value_gy, "reason": o.reason, "approved_by": o.approved_by}
                   for key, o in case.overrides.items()},
        holmium_vial=logistics.holmium_vial, vial_activity_source=logistics.vial_source, scout=scout,
        activity_window=_window(plan), liver_doses=_liver_doses(plan),
    )


def _liver_doses(plan: ActivityPlan | None) -> dict[str, float | None] | None:
    """The plan's liver doses by the quantity each guideline threshold names (Gy; ``None`` = unknown)."""
    if plan is None:
        return None
    return {"perfused_normal_liver_dose_gy": plan.perfused_normal_liver_dose_gy,
            "whole_normal_liver_dose_gy": plan.whole_normal_liver_dose_gy,
            "nonperfused_normal_liver_dose_gy": plan.nonperfused_normal_liver_dose_gy,
            "whole_liver_dose_gy": plan.whole_liver_dose_gy,
            "tumour_dose_min_gy": plan.tumour_dose_min_gy,
            "perfused_dose_min_gy": plan.perfused_dose_min_gy}


def _annotate(check: CheckResult, nonperfused_unknown: bool) -> CheckResult:
    """Say on the whole-(normal-)liver checks when their dose is an upper bound (non-perfused liver 0 kg)."""
    import dataclasses

    if nonperfused_unknown and check.name in ("whole_normal_liver_dose", "whole_liver_dose") \
            and check.measured is not None:
        return dataclasses.replace(check, message=check.message + " — upper bound: the non-perfused liver is not "
                                   "described (give liver.volume_ml or liver.nonperfused_volume_ml)")
    return check


def _window(plan: ActivityPlan | None) -> dict[str, Any] | None:
    """Activity window of a single-territory plan, in *prepared* GBq (what is ordered/drawn)."""
    if plan is None or len(plan.territories) != 1:
        return None
    t = plan.territories[0]
    to_prep = 1.0 / (1.0 - plan.expected_residual_fraction)
    lo = None if t.efficacy_activity_gbq is None else t.efficacy_activity_gbq * to_prep
    hi = None if t.first_limit_activity_gbq is None else t.first_limit_activity_gbq * to_prep
    return {"efficacy_reached_prepared_gbq": lo, "first_limit_prepared_gbq": hi, "first_limit": t.first_limit,
            "planned_prepared_gbq": plan.activity_prepared_gbq, "position": t.window_position,
            "empty": lo is not None and hi is not None and hi < lo}


# Checks re-run on a plan scaled to another activity (as infused, as delivered): the dose limits and
# targets, not the unit-sanity or vial checks.
_DOSE_CHECKS = ("lung_dose_session", "lung_dose_cumulative", "lung_activity_device", "perfused_normal_liver_dose",
                "whole_normal_liver_dose", "normal_liver_dose_target", "whole_liver_dose", "tumour_dose_target",
                "perfused_dose_target")
# Activities within 1 % are treated as the same (well inside dose-calibrator reproducibility) [K].
_SAME_ACTIVITY_REL = 0.01
# Delivered activity differing from the planned delivered activity by more than 10 % is flagged [K]
# (CLINICAL.md §5: observed decay and residual losses are a few % — Hoang JVIR 2019).
DELIVERED_DEVIATION_WARN_FRACTION = 0.10
# Administration more than 24 h from the planned infusion time is flagged (the vial and dose were planned
# for that time) [K].
ADMINISTRATION_SHIFT_WARN_H = 24.0


def _dose_checks(plan: ActivityPlan, thresholds: dict[str, Threshold], whole_liver_mass: float | None,
                 label: str) -> tuple[CheckResult, ...]:
    """The dose checks of ``plan`` (a scaled variant), names and messages prefixed with ``label``."""
    import dataclasses

    quantities = _checks.plan_quantities(plan, whole_liver_mass_kg=whole_liver_mass)
    chosen = {k: v for k, v in thresholds.items() if k in _DOSE_CHECKS}
    return tuple(dataclasses.replace(c, name=f"{label.replace(' ', '_')}_{c.name}", message=f"{label}: {c.message}")
                 for c in _checks.evaluate_checks(quantities, chosen))


@dataclass(frozen=True)
class _Logistics:
    glass_vial: GlassVialOrder | None = None
    resin_draw: ResinDraw | None = None
    holmium_vial: ResinDraw | None = None
    table: tuple[DecayRow, ...] = ()
    quantities: dict[str, float | None] = field(default_factory=dict)
    checks: tuple[CheckResult, ...] = ()
    vial_source: str | None = None


# Ho-166 decay table: every 2 h over 48 h from calibration (presentation only).
HOLMIUM_DECAY_TABLE_SPAN_H = 48.0
RESIN_DECAY_TABLE_STEP_H = 2.0


def _events(case: PlanCase) -> dict[str, datetime]:
    assert case.schedule is not None
    events = {"planned infusion": case.schedule.planned_infusion}
    if case.residual is not None:
        events["administration (measured)"] = case.residual.administration_time
    return events


def _logistics(case: PlanCase, device: Device, plan: ActivityPlan) -> _Logistics:
    assert case.schedule is not None
    s = case.schedule
    if s.vial_calibration is None and (device.name != "holmium" or s.vial_assay is None):
        raise InputError(f"schedule.vial_calibration is needed for {device.product}: copy it from the vial label"
                         + (" (or give the dose-calibrator reading, schedule.vial_assay)" if device.name == "holmium"
                            else ""))
    needed = plan.activity_prepared_gbq
    nuclide = device.nuclide
    if device.name == "glass":
        if s.vial_assay is not None:
            raise InputError("schedule.vial_assay applies to resin and holmium vials; for glass give the measured "
                             "activity in residual.prepared_activity_gbq")
        assert s.vial_calibration is not None
        order = choose_glass_vial(needed, s.planned_infusion, s.vial_calibration, device.vial_sizes_gbq,
                                  usable_from_h=device.usable_from_h, usable_until_h=device.usable_until_h,
                                  nuclide=nuclide)
        vial = order.vial_size_gbq or max(device.vial_sizes_gbq)
        span = min(GLASS_DECAY_TABLE_SPAN_H, device.usable_until_h or GLASS_DECAY_TABLE_SPAN_H)
        table = decay_table(vial, s.vial_calibration, s.vial_calibration, add_hours(s.vial_calibration, span),
                            DECAY_TABLE_STEP_H, nuclide, events=_events(case))
        fraction = needed / (vial * order.decay_factor)
        return _Logistics(glass_vial=order, table=table, vial_source="stock vial (nominal activity at calibration)",
                          quantities={"vial_fraction_required": fraction, "vial_excess_fraction": order.excess_fraction,
                                      "hours_after_calibration": order.hours_after_calibration})
    # resin and holmium: the dose is drawn from a vial whose activity is assayed, labelled or nominal
    checks: list[CheckResult] = []
    reference = s.vial_calibration
    if s.vial_assay is not None:
        reference = reference or s.vial_assay.time
        vial_activity = decay_activity(s.vial_assay.activity_gbq, s.vial_assay.time, reference, nuclide)
        source = f"dose calibrator {s.vial_assay.activity_gbq:g} GBq at {s.vial_assay.time.isoformat()}"
    elif s.vial_activity_at_calibration_gbq is not None:
        vial_activity = s.vial_activity_at_calibration_gbq
        source = "vial label (not measured)"
    elif device.name == "resin":
        vial_activity = device.vial_sizes_gbq[0]
        source = f"nominal {vial_activity:g} GBq (assumed, not measured)"
    else:
        raise InputError("holmium: give the ordered activity (schedule.vial_activity_at_calibration_gbq) or the "
                         "dose-calibrator reading (schedule.vial_assay) to plan the treatment-day logistics")
    assert reference is not None
    draw = resin_draw(needed, s.planned_infusion, reference, vial_activity, usable_from_h=device.usable_from_h,
                      usable_until_h=device.usable_until_h, nuclide=nuclide)
    tol = device.vial_tolerance_fraction
    if s.vial_assay is None and tol is not None:
        lo, hi = needed / (1 + tol), needed / (1 - tol)
        checks.append(CheckResult(
            "vial_activity_measured", CheckStatus.WARN, None, "<=", tol, "fraction",
            f"vial activity not measured: {source}; with the ±{tol * 100:g} % vial tolerance drawing "
            f"{draw.fraction_of_vial:.3f} of the vial gives {lo:.3f}–{hi:.3f} GBq instead of {needed:.3f} GBq — "
            "measure the vial in the dose calibrator (schedule.vial_assay)", device.short_citation + " (±10 %)"))
    span = device.usable_until_h or HOLMIUM_DECAY_TABLE_SPAN_H
    table = decay_table(vial_activity, reference, reference, add_hours(reference, span),
                        RESIN_DECAY_TABLE_STEP_H, nuclide, events=_events(case))
    quantities: dict[str, float | None] = {"vial_fraction_required": draw.fraction_of_vial}
    if device.usable_until_h is not None or device.usable_from_h is not None:
        quantities["hours_after_calibration"] = draw.hours_after_calibration
    if device.name == "resin":
        return _Logistics(resin_draw=draw, table=table, quantities=quantities, checks=tuple(checks),
                          vial_source=source)
    return _Logistics(holmium_vial=draw, table=table, quantities=quantities, checks=tuple(checks), vial_source=source)


# ----------------------------------------------------------------------------------------------------
# plan sheet (HTML + PDF) for the team to check and sign

PLAN_SHEET_SIGNATURES = ("Prepared by (medical physicist)", "Checked by (second physicist)",
                         "Approved by (treating physician)", "Administered by")


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _plan_rows(plan: ActivityPlan) -> list[list[str]]:
    rows = [[c.territory, c.name, c.kind.replace("_", " "), _f(c.mass_kg), _f(c.activity_gbq, 4), _f(c.dose_gy, 1),
             _f(c.tumour_to_normal_ratio, 2)] for c in plan.compartments]
    return rows


def plan_sheet_sections(result: PlanResult, case: PlanCase) -> list[dict[str, Any]]:
    """Tables of the plan sheet: identity, liver, activities, doses, vial, checks, decay table, delivered."""
    sections: list[dict[str, Any]] = []
    s = case.schedule
    identity = [["Patient ID", result.patient_id], ["Patient name", case.patient_name or ""],
                ["Device", f"{result.product} ({result.nuclide})"], ["Method", result.method],
                ["Intent", result.intent.replace("_", " ")], ["Objective", result.objective.replace("_", " ")
                                                              + (f" ({result.stated_dose_gy:g} Gy)"
                                                                 if result.stated_dose_gy else "")]]
    if s is not None:
        identity += [["Vial lot", s.vial_lot or "(not given — copy from the vial label)"],
                     ["Vial calibration", "–" if s.vial_calibration is None else s.vial_calibration.isoformat()],
                     ["Vial activity from", result.vial_activity_source or "–"],
                     ["Planned infusion", s.planned_infusion.isoformat()]]
    sections.append({"title": "Patient, device and vial", "rows": identity, "left_columns": [1]})
    liver = [["Liver compromise", "; ".join(result.liver_compromise) or "none stated"],
             ["Hepatic reserve (untreated liver fraction)", _f(result.hepatic_reserve_fraction, 2)],
             ["Non-perfused normal liver (kg)", _f(result.nonperfused_normal_liver_mass_kg)],
             ["Non-perfused normal liver from", result.nonperfused_normal_liver_source]]
    sections.append({"title": "Liver", "rows": liver, "left_columns": [1]})
    plan = result.plan
    if plan is not None:
        act = [["Activity to prepare (GBq, at administration)", _f(plan.activity_prepared_gbq, 4)],
               ["Activity delivered, expected (GBq)", _f(plan.activity_delivered_gbq, 4)],
               ["Expected residual fraction", _f(plan.expected_residual_fraction, 4)],
               ["Dose constant K (Gy·kg/GBq)", f"{plan.dose_constant_gy_kg_per_gbq:g}"],
               ["Lung shunt fraction", f"{_f(plan.lung_shunt_fraction, 4)} ({result.lung_shunt_fraction_source})"],
               ["Lung mass (kg)", f"{_f(plan.lung_mass_kg)} ({result.lung_mass_source})"],
               ["Binding constraint", plan.binding_constraint.value.replace("_", " ")]]
        w = result.activity_window
        if w is not None:
            act += [["Activity at which every target is reached (GBq)", _f(w["efficacy_reached_prepared_gbq"], 4)],
                    [f"Activity at the first limit ({(w['first_limit'] or '–').replace('_', ' ')}) (GBq)",
                     _f(w["first_limit_prepared_gbq"], 4)],
                    ["Position in the window (0 = efficacy, 1 = first limit)",
                     "window empty: targets need more than the limits allow" if w["empty"]
                     else _f(w["position"], 2)]]
        sections.append({"title": "Activities", "rows": act, "left_columns": []})
        doses = [["Perfused normal liver (mean)", _f(plan.perfused_normal_liver_dose_gy, 1)],
                 ["Whole normal liver (perfused + non-perfused)", _f(plan.whole_normal_liver_dose_gy, 1)],
                 ["Non-perfused normal liver", _f(plan.nonperfused_normal_liver_dose_gy, 1)],
                 ["Whole liver, tumours included", _f(plan.whole_liver_dose_gy, 1)],
                 ["Lowest tumour dose", _f(plan.tumour_dose_min_gy, 1)],
                 ["Lung, this treatment", _f(plan.lung_dose_gy, 2)],
                 ["Lung, cumulative", _f(plan.cumulative_lung_dose_gy, 2)]]
        doses += [[f"Perfused volume: {t.name}", _f(t.perfused_dose_gy, 1)] for t in plan.territories]
        sections.append({"title": "Mean absorbed doses (Gy)", "rows": doses})
        sections.append({"title": "Compartments", "header": ["Territory", "Compartment", "Kind", "Mass (kg)",
                                                              "Activity (GBq)", "Dose (Gy)", "T/N"],
                         "rows": _plan_rows(plan), "left_columns": [1, 2]})
    if result.scout is not None:
        sections.append({"title": "Ho-166 scout dose", "rows": [[k.replace("_", " "), _f(v, 3)]
                                                                for k, v in result.scout.items()]})
    vial_rows: list[list[str]] = []
    if result.glass_vial is not None:
        g = result.glass_vial
        vial_rows = [["Stock vial (GBq at calibration)", _f(g.vial_size_gbq, 1)],
                     ["Hours after calibration at infusion", _f(g.hours_after_calibration, 2)],
                     ["Activity needed at calibration (GBq)", _f(g.activity_needed_at_calibration_gbq, 4)],
                     ["Vial activity at infusion (GBq)", _f(g.vial_activity_at_infusion_gbq, 4)]]
    for label, d in (("Resin draw", result.resin_draw), ("Ho-166 vial", result.holmium_vial)):
        if d is not None:
            vial_rows = [[f"{label}: vial activity at calibration (GBq)", _f(d.vial_activity_at_calibration_gbq, 4)],
                         ["Hours after calibration at infusion", _f(d.hours_after_calibration, 2)],
                         ["Vial activity at infusion (GBq)", _f(d.vial_activity_at_infusion_gbq, 4)],
                         ["Fraction of the vial to draw", _f(d.fraction_of_vial, 4)]]
    if vial_rows:
        sections.append({"title": "Vial", "rows": vial_rows})
    checks = [[c.name.replace("_", " "), c.status.value.upper(), f"{_f(c.measured, 4)} {c.unit}",
               f"{c.comparison} {c.threshold:g} {c.unit}", c.message, c.source] for c in result.checks]
    sections.append({"title": "Checks", "header": ["Check", "Status", "Value", "Threshold", "Message", "Source"],
                     "rows": checks, "left_columns": [4, 5],
                     "row_classes": [{"fail": "bad", "warn": "caution", "unknown": "caution"}.get(c.status.value, "")
                                     for c in result.checks]})
    if result.decay_table:
        tz = s.planned_infusion.tzinfo if s is not None else None
        rows = [[(r.time.astimezone(tz) if tz else r.time).isoformat(timespec="minutes")
                 + (f"  ← {r.event}" if r.event else ""), _f(r.hours_from_reference, 2), _f(r.decay_factor, 5),
                 _f(r.activity_gbq, 4)] for r in result.decay_table]
        sections.append({"title": "Decay table (vial; times in the planned infusion's time zone)",
                         "header": ["Time", "Hours from calibration", "Decay factor", "Activity (GBq)"],
                         "rows": rows, "row_classes": ["event" if r.event else "" for r in result.decay_table]})
    if result.delivered is not None and result.delivered_plan is not None:
        dv = result.delivered
        sections.append({"title": "Delivered (dose-calibrator measurements)", "rows": [
            ["Administration time", dv.administration_time.isoformat()],
            ["Prepared activity at administration (GBq)", _f(dv.prepared_activity_at_administration_gbq, 4)],
            ["Residual at administration (GBq)", _f(dv.residual_activity_at_administration_gbq, 4)],
            ["Activity delivered (GBq)", _f(dv.activity_delivered_gbq, 4)],
            ["Residual fraction", _f(dv.residual_fraction, 4)]], "left_columns": [1]})
        sections.append({"title": "Compartments as delivered", "header": [
            "Territory", "Compartment", "Kind", "Mass (kg)", "Activity (GBq)", "Dose (Gy)", "T/N"],
            "rows": _plan_rows(result.delivered_plan), "left_columns": [1, 2]})
    return sections


def write_plan_sheet(result: PlanResult, case: PlanCase, out_dir: Path, *, pdf: bool = True,
                     prefix: str = "plan_sheet", force: bool = False) -> dict[str, Path]:
    """Write the plan sheet (``<prefix>.html`` and, with ``pdf``, ``<prefix>.pdf``) for checking and signing.

    The files appear together or not at all, and replace ``out_dir`` as a whole (staged output; a folder
    sirtkit did not write is replaced only with ``force``). Returns the written paths by kind.

    Raises
    ------
    InputError
        ``out_dir`` cannot be written.
    MissingExtraError
        ``pdf`` requested but WeasyPrint is not installed.
    """
    from datetime import UTC

    from sirtkit import __version__
    from sirtkit.report.render import atomic_write_text, html_to_pdf, render_template
    from sirtkit.workflows._output import staged_output

    failures = [c.message for c in result.checks if c.status == CheckStatus.FAIL]
    warnings = [c.message for c in result.checks if c.status in (CheckStatus.WARN, CheckStatus.UNKNOWN)]
    if result.refusal:
        failures.insert(0, result.refusal)
    overrides = [f"{key}: {o['value_gy']:g} Gy — {o['reason']}" + (f" (approved by {o['approved_by']})"
                                                                   if o.get("approved_by") else "")
                 for key, o in result.overrides.items()]
    html = render_template(
        "plan_sheet.html.j2", title=f"SIRT treatment plan — {result.patient_id}",
        subtitle=f"{result.product}, {result.method}, {result.intent.replace('_', ' ')}",
        version=__version__, generated=datetime.now(UTC).isoformat(timespec="seconds"),
        failures=failures, warnings=warnings, overrides=overrides, sections=plan_sheet_sections(result, case),
        signatures=PLAN_SHEET_SIGNATURES)
    written: dict[str, Path] = {}
    with staged_output(out_dir, force=force, kind="plan sheet") as stage:
        atomic_write_text(stage / f"{prefix}.html", html)
        written["html"] = Path(out_dir) / f"{prefix}.html"
        if pdf:
            html_to_pdf(html, stage / f"{prefix}.pdf")
            written["pdf"] = Path(out_dir) / f"{prefix}.pdf"
    return written
