"""The work-up input model: one NELM patient being considered for SIRT (pydantic v2, strict fields).

Every field is optional except ``patient_id``: a missing value is *unknown*, never "normal". Laboratory
values carry their unit, either written with the value (``bilirubin: 3.1 mg/dL``) or in a field named after
it (``bilirubin_mg_dl``, ``bilirubin_umol_l``, ...); the other unit is filled in after validation. Bare
numbers that are plausible in two units, and values that look like the other unit, are refused with a
hint (see ``_UNIT_FIELDS`` and :func:`sirtkit.units.parse_lab_value`).

Examples
--------
>>> p = PatientWorkup.model_validate(
...     {"patient_id": "P1", "labs": {"bilirubin": "17.1 µmol/L", "albumin_g_l": 40, "granulocytes": "1200/µL"}})
>>> p.labs.bilirubin_mg_dl, p.labs.albumin_g_dl, p.labs.granulocytes_10e9_l
(1.0, 4.0, 1.2)
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from sirtkit._inputmodel import CaseInputModel
from sirtkit.clinical.scores import HEIGHT_CM_RANGE, WEIGHT_KG_RANGE
from sirtkit.errors import UnitsError
from sirtkit.units import (
    ALBUMIN_G_L_PER_G_DL,
    BILIRUBIN_UMOL_L_PER_MG_DL,
    CREATININE_UMOL_L_PER_MG_DL,
    LAB_QUANTITIES,
    parse_lab_value,
    require_fraction,
)

__all__ = [
    "DeviceName",
    "Disease",
    "ExtrahepaticDisease",
    "History",
    "Labs",
    "LiverStatus",
    "MaaFindings",
    "PatientWorkup",
    "PriorLiverIrradiation",
]

DeviceName = Literal["glass", "resin", "holmium"]
ExtrahepaticDisease = Literal["none", "limited", "disseminated"]

# Laboratory units (issue 8 item 8). Each analyte may be given ONE way:
# - with its unit, in the analyte's own field: ``bilirubin: 3.1 mg/dL``, ``platelets: 150000/µL``
#   (sirtkit.units.parse_lab_value; a bare number there is accepted only where it is plausible in exactly
#   one unit of the analyte, and refused as ambiguous otherwise);
# - as a number in a field whose name carries the unit (``bilirubin_mg_dl``, ``bilirubin_umol_l``, ...).
#   A number in such a field is still a bare number to whoever typed it. Where misreading it in the other
#   unit would *hide* a contraindication — a mg/dL bilirubin or creatinine typed into the µmol/L field
#   (3.1 mg/dL read as 3.1 µmol/L = 0.18 mg/dL), a per-µL count typed into the 10⁹/L field — a value that is
#   plausible in both units is refused with a hint to write the unit with the value. In the other direction
#   (µmol/L typed into mg/dL) the misreading raises a flag the team sees, and implausible values are refused.
# Relative tolerance when one laboratory value is given twice (two units).
_UNIT_PAIR_REL_TOL = 0.02
# field name → (analyte, unit the name declares, refuse values plausible in another unit of the analyte)
_UNIT_FIELDS: dict[str, tuple[str, str, bool]] = {
    "bilirubin_mg_dl": ("bilirubin", "mg/dL", False),
    "bilirubin_umol_l": ("bilirubin", "µmol/L", True),
    "albumin_g_dl": ("albumin", "g/dL", False),
    "albumin_g_l": ("albumin", "g/L", False),
    "creatinine_mg_dl": ("creatinine", "mg/dL", False),
    "creatinine_umol_l": ("creatinine", "µmol/L", True),
    "platelets_10e9_l": ("platelets", "10^9/L", True),
    "granulocytes_10e9_l": ("granulocytes", "10^9/L", True),
}
# analyte → (field in the stored unit, field in the second unit, factor stored → second); None: one unit.
_STORED: dict[str, tuple[str, str | None, float]] = {
    "bilirubin": ("bilirubin_mg_dl", "bilirubin_umol_l", BILIRUBIN_UMOL_L_PER_MG_DL),
    "albumin": ("albumin_g_dl", "albumin_g_l", ALBUMIN_G_L_PER_G_DL),
    "creatinine": ("creatinine_mg_dl", "creatinine_umol_l", CREATININE_UMOL_L_PER_MG_DL),
    "platelets": ("platelets_10e9_l", None, 1.0),
    "granulocytes": ("granulocytes_10e9_l", None, 1.0),
}
_INR_MAX = 20.0

_MODEL_CONFIG = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _InputModel(CaseInputModel):
    """Base of the work-up models (the number guards of :class:`sirtkit._inputmodel.CaseInputModel`)."""


LabValue = float | str | None


def _finite_nonnegative(value: float | None, name: str, unit: str) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value < 0.0:
        raise UnitsError(f"{name} = {value!r} {unit}: must be a finite number ≥ 0; check the laboratory report")
    return value


class Labs(_InputModel):
    """Laboratory values: give each analyte once, with its unit (``bilirubin: 3.1 mg/dL``) or in a field
    named after its unit (``bilirubin_mg_dl: 3.1``); the other units are derived."""

    model_config = _MODEL_CONFIG

    bilirubin: LabValue = Field(default=None, description="Total bilirubin with its unit: '3.1 mg/dL' or '53 µmol/L'")
    albumin: LabValue = Field(default=None, description="Serum albumin with its unit: '3.9 g/dL' or '39 g/L'")
    creatinine: LabValue = Field(default=None, description="Serum creatinine with its unit: '0.9 mg/dL' or '80 µmol/L'")
    platelets: LabValue = Field(default=None, description="Platelets with their unit: '245 x10^9/L' or '245000/µL'")
    granulocytes: LabValue = Field(default=None, description="Granulocytes with their unit: '4.1 x10^9/L' or '4100/µL'")
    bilirubin_mg_dl: float | None = Field(default=None, description="Total bilirubin, mg/dL")
    bilirubin_umol_l: float | None = Field(default=None, description="Total bilirubin, µmol/L")
    albumin_g_dl: float | None = Field(default=None, description="Serum albumin, g/dL")
    albumin_g_l: float | None = Field(default=None, description="Serum albumin, g/L")
    inr: float | None = Field(default=None, description="International normalised ratio")
    creatinine_mg_dl: float | None = Field(default=None, description="Serum creatinine, mg/dL")
    creatinine_umol_l: float | None = Field(default=None, description="Serum creatinine, µmol/L")
    dialysis_twice_in_past_week: bool = Field(default=False, description="For MELD: dialysis ≥ 2× in the past week")
    ast_u_l: float | None = Field(default=None, description="AST, U/L")
    ast_uln_u_l: float | None = Field(default=None, gt=0, description="AST upper limit of normal, U/L")
    alt_u_l: float | None = Field(default=None, description="ALT, U/L")
    alt_uln_u_l: float | None = Field(default=None, gt=0, description="ALT upper limit of normal, U/L")
    platelets_10e9_l: float | None = Field(default=None, description="Platelets, 10⁹/L")
    granulocytes_10e9_l: float | None = Field(default=None, description="Granulocytes (neutrophils), 10⁹/L")
    chromogranin_a_ug_l: float | None = Field(default=None, description="Chromogranin A, µg/L (= ng/mL)")
    urine_5hiaa_mg_24h: float | None = Field(default=None, description="Urinary 5-HIAA, mg/24 h")

    @field_validator("ast_u_l", "alt_u_l", "chromogranin_a_ug_l", "urine_5hiaa_mg_24h")
    @classmethod
    def _nonnegative(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _finite_nonnegative(value, info.field_name or "value", "")

    @field_validator(*_UNIT_FIELDS)
    @classmethod
    def _unit_named(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        name = info.field_name or "value"
        analyte, unit, refuse_ambiguous = _UNIT_FIELDS[name]
        # Plausible in the declared unit (with a "looks like <other unit>" hint), and — where misreading
        # would hide a contraindication — not plausible in another unit as well.
        parse_lab_value(value, analyte, field=name, declared_unit=unit, refuse_ambiguous=refuse_ambiguous)
        return value

    @field_validator("bilirubin", "albumin", "creatinine", "platelets", "granulocytes")
    @classmethod
    def _with_unit(cls, value: LabValue, info: ValidationInfo) -> LabValue:
        if value is not None:
            parse_lab_value(value, info.field_name or "value")
        return value

    @field_validator("inr")
    @classmethod
    def _inr(cls, value: float | None) -> float | None:
        if value is not None and (not math.isfinite(value) or not 0.0 < value <= _INR_MAX):
            raise UnitsError(f"inr = {value!r} is outside the plausible range 0–{_INR_MAX:g}; check the value")
        return value

    @model_validator(mode="after")
    def _fill_units(self) -> Labs:
        for analyte, (stored, second, factor) in _STORED.items():
            given: list[tuple[str, float]] = []  # (field, value in the stored unit)
            raw = getattr(self, analyte)
            if raw is not None:
                given.append((analyte, parse_lab_value(raw, analyte)))
            for name in (stored, second):
                if name is not None and getattr(self, name) is not None:
                    value = getattr(self, name)
                    given.append((name, value if name == stored else value / factor))
            if not given:
                continue
            first_name, first = given[0]
            for name, value in given[1:]:
                if not math.isclose(value, first, rel_tol=_UNIT_PAIR_REL_TOL, abs_tol=1e-9):
                    raise UnitsError(
                        f"{first_name} and {name} disagree ({_fmt3(first)} vs {_fmt3(value)} in "
                        f"{LAB_QUANTITIES[analyte].unit}): give {analyte} once"
                    )
            object.__setattr__(self, stored, first)
            if second is not None:
                object.__setattr__(self, second, first * factor)
            object.__setattr__(self, analyte, None)  # stored once, in the unit-named fields
        return self

    @property
    def ast_x_uln(self) -> float | None:
        """AST as a multiple of its upper limit of normal (None if either is missing)."""
        if self.ast_u_l is None or self.ast_uln_u_l is None:
            return None
        return self.ast_u_l / self.ast_uln_u_l

    @property
    def alt_x_uln(self) -> float | None:
        """ALT as a multiple of its upper limit of normal (None if either is missing)."""
        if self.alt_u_l is None or self.alt_uln_u_l is None:
            return None
        return self.alt_u_l / self.alt_uln_u_l


def _fmt3(value: float) -> str:
    return f"{value:.3g}"


class LiverStatus(_InputModel):
    """Liver function (clinical) and tumour burden."""

    model_config = _MODEL_CONFIG

    ascites: Literal["none", "slight", "moderate"] | None = Field(
        default=None, description="none; slight (controlled with diuretics); moderate (moderate–severe/refractory)"
    )
    encephalopathy_grade: int | None = Field(default=None, ge=0, le=4, description="West Haven grade 0–4")
    cholestatic_liver_disease: bool = Field(default=False, description="PBC/PSC: Child-Pugh cholestatic bilirubin bins")
    clinical_liver_failure: bool | None = Field(default=None, description="Clinically evident liver failure")
    tumour_burden_fraction: float | None = Field(
        default=None, description="Hepatic tumour replacement as a fraction 0–1 (tumour volume / total liver volume)"
    )
    portal_vein_thrombosis: bool | None = Field(default=None, description="Portal vein thrombosis (main or branch)")

    @field_validator("tumour_burden_fraction")
    @classmethod
    def _fraction(cls, value: float | None) -> float | None:
        return None if value is None else require_fraction(value, "tumour_burden_fraction")


class Disease(_InputModel):
    """Tumour characteristics (descriptive; used by the cohort module as covariates)."""

    model_config = _MODEL_CONFIG

    primary_site: Literal["midgut", "pancreas", "foregut", "hindgut", "unknown"] | None = None
    who_grade: Literal["G1", "G2", "G3"] | None = None
    extrahepatic_disease: ExtrahepaticDisease | None = Field(
        default=None, description="none; limited (e.g. few nodes/bone lesions); disseminated"
    )


IrradiationKind = Literal["sirt", "prrt", "ebrt"]


class PriorLiverIrradiation(_InputModel):
    """One earlier course of radiation that reached the liver (issue 8 item 8).

    ``kind``: ``sirt`` (Y-90 or Ho-166 radioembolization), ``prrt`` (peptide receptor radionuclide therapy,
    e.g. Lu-177 DOTATATE, which irradiates the whole liver), ``ebrt`` (external-beam radiotherapy or SBRT
    with the liver in the field). Everything but the kind is optional: give what the records say.
    """

    model_config = _MODEL_CONFIG

    kind: IrradiationKind
    date: dt.date | None = Field(default=None, description="Date of the (last) treatment")
    agent: str | None = Field(default=None, description="e.g. 'Lu-177 DOTATATE', 'Y-90 resin', 'SBRT'")
    cycles: int | None = Field(default=None, ge=1, le=20, description="PRRT cycles")
    activity_gbq: float | None = Field(default=None, description="Total administered activity, GBq")
    whole_liver: bool | None = Field(default=None, description="SIRT/EBRT: the whole liver was treated")
    normal_liver_dose_gy: float | None = Field(default=None, description="Mean absorbed dose to the non-tumoural liver, Gy")
    lung_dose_gy: float | None = Field(default=None, description="SIRT: lung absorbed dose of that session, Gy")

    @field_validator("activity_gbq", "normal_liver_dose_gy", "lung_dose_gy")
    @classmethod
    def _finite(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _finite_nonnegative(value, info.field_name or "value", "")

    @model_validator(mode="after")
    def _lung_dose_is_sirt(self) -> PriorLiverIrradiation:
        if self.lung_dose_gy is not None and self.kind != "sirt":
            raise UnitsError(f"lung_dose_gy is given for a {self.kind} course; it belongs to SIRT sessions")
        return self


class History(_InputModel):
    """Prior treatments and conditions relevant to SIRT risk.

    Prior liver irradiation is best given as the list ``prior_liver_irradiation`` (``[]`` = none); the flags
    ``prior_prrt``, ``prior_sirt``, ``prior_liver_ebrt`` and the list ``prior_sirt_lung_doses_gy`` are then
    derived from it (and must agree with it when given too).
    """

    model_config = _MODEL_CONFIG

    bilioenteric_anastomosis: bool | None = Field(default=None, description="e.g. Whipple, hepaticojejunostomy")
    prior_biliary_intervention: bool | None = Field(default=None, description="Biliary stent or drain")
    prior_sphincterotomy: bool | None = Field(default=None, description="Endoscopic sphincterotomy")
    prior_liver_irradiation: list[PriorLiverIrradiation] | None = Field(
        default=None, description="Earlier SIRT, PRRT or EBRT courses that reached the liver ([] = none)"
    )
    prior_prrt: bool | None = Field(default=None, description="Peptide receptor radionuclide therapy (e.g. Lu-177)")
    prior_sirt: bool | None = Field(default=None, description="Earlier radioembolization (SIRT) of the liver")
    prior_liver_ebrt: bool | None = Field(default=None, description="External-beam radiotherapy to the liver")
    prior_sirt_lung_doses_gy: list[float] | None = Field(
        default=None, description="Lung doses of previous SIRT sessions, Gy ([] = no previous SIRT)"
    )
    capecitabine_within_2_months: bool | None = Field(default=None, description="Capecitabine within 2 months")
    pregnant: bool | None = Field(default=None, description="Pregnancy (taken as False for sex 'male')")
    pulmonary_insufficiency: bool | None = Field(default=None, description="PaO₂ < 60 mmHg or SaO₂ < 90 %")

    @field_validator("prior_sirt_lung_doses_gy")
    @classmethod
    def _doses(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            for dose in value:
                if not math.isfinite(dose) or dose < 0.0:
                    raise UnitsError(f"prior_sirt_lung_doses_gy contains {dose!r}: each dose must be ≥ 0 Gy")
        return value

    @model_validator(mode="after")
    def _derive_from_courses(self) -> History:
        courses = self.prior_liver_irradiation
        doses = self.prior_sirt_lung_doses_gy
        if doses is not None and self.prior_sirt is not None and self.prior_sirt != bool(doses):
            raise UnitsError(
                f"prior_sirt is {str(self.prior_sirt).lower()} but prior_sirt_lung_doses_gy "
                f"{'lists earlier SIRT sessions' if doses else 'is [] (no earlier SIRT)'}: make them agree"
            )
        if self.prior_sirt is None and self.prior_sirt_lung_doses_gy is not None:
            object.__setattr__(self, "prior_sirt", bool(self.prior_sirt_lung_doses_gy))
        if courses is None:
            return self
        kinds = {c.kind for c in courses}
        for kind, flag in (("prrt", "prior_prrt"), ("sirt", "prior_sirt"), ("ebrt", "prior_liver_ebrt")):
            stated = getattr(self, flag)
            if stated is not None and stated != (kind in kinds):
                raise UnitsError(
                    f"{flag} is {str(stated).lower()} but prior_liver_irradiation "
                    f"{'lists' if kind in kinds else 'has no'} a {kind} course: give one or make them agree"
                )
            object.__setattr__(self, flag, kind in kinds)
        sirt = [c for c in courses if c.kind == "sirt"]
        if self.prior_sirt_lung_doses_gy is None and all(c.lung_dose_gy is not None for c in sirt):
            object.__setattr__(self, "prior_sirt_lung_doses_gy", [float(c.lung_dose_gy or 0.0) for c in sirt])
        elif self.prior_sirt_lung_doses_gy is not None and len(self.prior_sirt_lung_doses_gy) != len(sirt):
            raise UnitsError(
                f"prior_sirt_lung_doses_gy has {len(self.prior_sirt_lung_doses_gy)} dose(s) but "
                f"prior_liver_irradiation lists {len(sirt)} SIRT course(s): give the lung doses in the courses"
            )
        return self

    @property
    def prior_liver_irradiation_any(self) -> bool | None:
        """True if any earlier SIRT, PRRT or liver EBRT is known, False if none, None if unknown."""
        flags = (self.prior_sirt, self.prior_prrt, self.prior_liver_ebrt)
        if any(f is True for f in flags):
            return True
        return False if all(f is False for f in flags) else None


class MaaFindings(_InputModel):
    """Results of the Tc-99m-MAA (or Ho-166 scout) work-up."""

    model_config = _MODEL_CONFIG

    lung_shunt_fraction: float | None = Field(default=None, description="LSF as a fraction 0–1")
    planned_lung_dose_gy: float | None = Field(default=None, ge=0, description="Planned lung dose this session, Gy")
    uncorrectable_gi_deposition: bool | None = Field(
        default=None, description="Gastrointestinal/pancreatic deposition on MAA that cannot be corrected"
    )

    @field_validator("lung_shunt_fraction")
    @classmethod
    def _lsf(cls, value: float | None) -> float | None:
        return None if value is None else require_fraction(value, "lung_shunt_fraction")


class PatientWorkup(_InputModel):
    """A patient considered for SIRT of neuroendocrine liver metastases."""

    model_config = _MODEL_CONFIG

    patient_id: str = Field(min_length=1)
    age_years: int | None = Field(default=None, ge=0, le=120)
    sex: Literal["female", "male", "other"] | None = None
    height_cm: float | None = Field(default=None, description="Body height, cm")
    weight_kg: float | None = Field(default=None, description="Body weight, kg")
    ecog: int | None = Field(default=None, ge=0, le=5, description="ECOG performance status 0–5")
    planned_device: DeviceName | None = Field(default=None, description="glass, resin or holmium (None: all rules)")
    labs: Labs = Field(default_factory=Labs)
    liver: LiverStatus = Field(default_factory=LiverStatus)
    disease: Disease = Field(default_factory=Disease)
    history: History = Field(default_factory=History)
    maa: MaaFindings = Field(default_factory=MaaFindings)

    @field_validator("height_cm")
    @classmethod
    def _height(cls, value: float | None) -> float | None:
        low, high = HEIGHT_CM_RANGE
        if value is not None and (not math.isfinite(value) or not low <= value <= high):
            hint = " It looks like metres: give centimetres." if 0.5 <= value <= 2.5 else ""
            raise UnitsError(f"height_cm = {value!r} is outside {low:g}–{high:g} cm.{hint}")
        return value

    @field_validator("weight_kg")
    @classmethod
    def _weight(cls, value: float | None) -> float | None:
        low, high = WEIGHT_KG_RANGE
        if value is not None and (not math.isfinite(value) or not low <= value <= high):
            raise UnitsError(f"weight_kg = {value!r} is outside {low:g}–{high:g} kg: give kilograms (not pounds)")
        return value
