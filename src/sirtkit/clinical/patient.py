"""The work-up input model: one NELM patient being considered for SIRT (pydantic v2, strict fields).

Every field is optional except ``patient_id``: a missing value is *unknown*, never "normal". The
eligibility engine reports rules whose data are missing as ``unknown``. Laboratory values may be given
in either of two units (``bilirubin_mg_dl`` or ``bilirubin_umol_l``, ``albumin_g_dl`` or ``albumin_g_l``,
``creatinine_mg_dl`` or ``creatinine_umol_l``); the other unit is filled in after validation, and values
that look like the other unit are refused with a hint.

Examples
--------
>>> p = PatientWorkup.model_validate(
...     {"patient_id": "P1", "labs": {"bilirubin_umol_l": 17.1, "albumin_g_l": 40}})
>>> p.labs.bilirubin_mg_dl, p.labs.albumin_g_dl
(1.0, 4.0)
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from sirtkit.clinical.scores import HEIGHT_CM_RANGE, WEIGHT_KG_RANGE
from sirtkit.errors import UnitsError
from sirtkit.units import (
    ALBUMIN_G_L_PER_G_DL,
    BILIRUBIN_UMOL_L_PER_MG_DL,
    CREATININE_UMOL_L_PER_MG_DL,
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
]

DeviceName = Literal["glass", "resin", "holmium"]
ExtrahepaticDisease = Literal["none", "limited", "disseminated"]

# Plausibility ranges used to catch unit mix-ups (not clinical thresholds). A value outside the range of
# its unit but inside the range of the other unit is refused with a "looks like <other unit>" hint.
# Bilirubin: ≤ 50 mg/dL (≈ 855 µmol/L) covers the most severe jaundice seen clinically.
_BILIRUBIN_MG_DL_MAX = 50.0
# Albumin: serum albumin lies in 0.5–7 g/dL (5–70 g/L) in living patients.
_ALBUMIN_G_DL_RANGE = (0.5, 7.0)
# Creatinine: ≤ 25 mg/dL (≈ 2200 µmol/L); above that the value is almost certainly µmol/L.
_CREATININE_MG_DL_MAX = 25.0
_INR_MAX = 20.0
# Lower plausibility limits in SI units: total bilirubin below 2 µmol/L (0.12 mg/dL) is under the
# detection limit of routine assays (reference range ≈ 3–21 µmol/L), and creatinine below 15 µmol/L
# (0.17 mg/dL) is not seen in adults (reference range ≈ 45–110 µmol/L); such SI values are almost surely
# mg/dL typed into the µmol/L field — a mix-up that silently removes contraindications.
_BILIRUBIN_UMOL_L_MIN = 2.0
_CREATININE_UMOL_L_MIN = 15.0
# Relative tolerance when both units of one laboratory value are given.
_UNIT_PAIR_REL_TOL = 0.02

_MODEL_CONFIG = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _finite_nonnegative(value: float | None, name: str, unit: str) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value < 0.0:
        raise UnitsError(f"{name} = {value!r} {unit}: must be a finite number ≥ 0; check the laboratory report")
    return value


class Labs(BaseModel):
    """Laboratory values; give each in ONE of its units (the other is derived)."""

    model_config = _MODEL_CONFIG

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

    @field_validator(
        "ast_u_l", "alt_u_l", "platelets_10e9_l", "granulocytes_10e9_l", "chromogranin_a_ug_l",
        "urine_5hiaa_mg_24h",
    )
    @classmethod
    def _nonnegative(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _finite_nonnegative(value, info.field_name or "value", "")

    @field_validator("bilirubin_mg_dl")
    @classmethod
    def _bilirubin_mg_dl(cls, value: float | None) -> float | None:
        _finite_nonnegative(value, "bilirubin_mg_dl", "mg/dL")
        if value is not None and value > _BILIRUBIN_MG_DL_MAX:
            raise UnitsError(
                f"bilirubin_mg_dl = {value:g} mg/dL is implausibly high; it looks like µmol/L: "
                f"give it as bilirubin_umol_l: {value:g}"
            )
        return value

    @field_validator("bilirubin_umol_l")
    @classmethod
    def _bilirubin_umol_l(cls, value: float | None) -> float | None:
        _finite_nonnegative(value, "bilirubin_umol_l", "µmol/L")
        if value is not None and value > _BILIRUBIN_MG_DL_MAX * BILIRUBIN_UMOL_L_PER_MG_DL:
            raise UnitsError(f"bilirubin_umol_l = {value:g} µmol/L is implausibly high; check the value")
        if value is not None and value < _BILIRUBIN_UMOL_L_MIN:
            raise UnitsError(
                f"bilirubin_umol_l = {value:g} µmol/L is below any measurable bilirubin "
                f"(< {_BILIRUBIN_UMOL_L_MIN:g} µmol/L); it looks like mg/dL: give it as bilirubin_mg_dl: {value:g}"
            )
        return value

    @field_validator("albumin_g_dl")
    @classmethod
    def _albumin_g_dl(cls, value: float | None) -> float | None:
        _finite_nonnegative(value, "albumin_g_dl", "g/dL")
        low, high = _ALBUMIN_G_DL_RANGE
        if value is not None and not low <= value <= high:
            hint = (
                f" It looks like g/L: give it as albumin_g_l: {value:g}"
                if low * ALBUMIN_G_L_PER_G_DL <= value <= high * ALBUMIN_G_L_PER_G_DL
                else ""
            )
            raise UnitsError(f"albumin_g_dl = {value:g} g/dL is outside the plausible {low:g}–{high:g} g/dL.{hint}")
        return value

    @field_validator("albumin_g_l")
    @classmethod
    def _albumin_g_l(cls, value: float | None) -> float | None:
        _finite_nonnegative(value, "albumin_g_l", "g/L")
        low, high = (x * ALBUMIN_G_L_PER_G_DL for x in _ALBUMIN_G_DL_RANGE)
        if value is not None and not low <= value <= high:
            hint = (
                f" It looks like g/dL: give it as albumin_g_dl: {value:g}"
                if _ALBUMIN_G_DL_RANGE[0] <= value <= _ALBUMIN_G_DL_RANGE[1]
                else ""
            )
            raise UnitsError(f"albumin_g_l = {value:g} g/L is outside the plausible {low:g}–{high:g} g/L.{hint}")
        return value

    @field_validator("creatinine_mg_dl")
    @classmethod
    def _creatinine_mg_dl(cls, value: float | None) -> float | None:
        _finite_nonnegative(value, "creatinine_mg_dl", "mg/dL")
        if value is not None and value > _CREATININE_MG_DL_MAX:
            raise UnitsError(
                f"creatinine_mg_dl = {value:g} mg/dL is implausibly high; it looks like µmol/L: "
                f"give it as creatinine_umol_l: {value:g}"
            )
        return value

    @field_validator("creatinine_umol_l")
    @classmethod
    def _creatinine_umol_l(cls, value: float | None) -> float | None:
        _finite_nonnegative(value, "creatinine_umol_l", "µmol/L")
        if value is not None and value > _CREATININE_MG_DL_MAX * CREATININE_UMOL_L_PER_MG_DL:
            raise UnitsError(f"creatinine_umol_l = {value:g} µmol/L is implausibly high; check the value")
        if value is not None and value < _CREATININE_UMOL_L_MIN:
            raise UnitsError(
                f"creatinine_umol_l = {value:g} µmol/L is below any adult creatinine "
                f"(< {_CREATININE_UMOL_L_MIN:g} µmol/L); it looks like mg/dL: give it as creatinine_mg_dl: {value:g}"
            )
        return value

    @field_validator("inr")
    @classmethod
    def _inr(cls, value: float | None) -> float | None:
        if value is not None and (not math.isfinite(value) or not 0.0 < value <= _INR_MAX):
            raise UnitsError(f"inr = {value!r} is outside the plausible range 0–{_INR_MAX:g}; check the value")
        return value

    @model_validator(mode="after")
    def _fill_unit_pairs(self) -> Labs:
        pairs = (
            ("bilirubin_mg_dl", "bilirubin_umol_l", BILIRUBIN_UMOL_L_PER_MG_DL),
            ("albumin_g_dl", "albumin_g_l", ALBUMIN_G_L_PER_G_DL),
            ("creatinine_mg_dl", "creatinine_umol_l", CREATININE_UMOL_L_PER_MG_DL),
        )
        for conventional, si, factor in pairs:
            a, b = getattr(self, conventional), getattr(self, si)
            if a is not None and b is not None:
                if not math.isclose(a * factor, b, rel_tol=_UNIT_PAIR_REL_TOL, abs_tol=1e-9):
                    raise UnitsError(
                        f"{conventional} = {a:g} and {si} = {b:g} disagree (factor {factor:g}): give only one"
                    )
            elif a is not None:
                object.__setattr__(self, si, a * factor)
            elif b is not None:
                object.__setattr__(self, conventional, b / factor)
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


class LiverStatus(BaseModel):
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


class Disease(BaseModel):
    """Tumour characteristics (descriptive; used by the cohort module as covariates)."""

    model_config = _MODEL_CONFIG

    primary_site: Literal["midgut", "pancreas", "foregut", "hindgut", "unknown"] | None = None
    who_grade: Literal["G1", "G2", "G3"] | None = None
    extrahepatic_disease: ExtrahepaticDisease | None = Field(
        default=None, description="none; limited (e.g. few nodes/bone lesions); disseminated"
    )


class History(BaseModel):
    """Prior treatments and conditions relevant to SIRT risk."""

    model_config = _MODEL_CONFIG

    bilioenteric_anastomosis: bool | None = Field(default=None, description="e.g. Whipple, hepaticojejunostomy")
    prior_biliary_intervention: bool | None = Field(default=None, description="Biliary stent or drain")
    prior_sphincterotomy: bool | None = Field(default=None, description="Endoscopic sphincterotomy")
    prior_prrt: bool | None = Field(default=None, description="Peptide receptor radionuclide therapy (e.g. Lu-177)")
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


class MaaFindings(BaseModel):
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


class PatientWorkup(BaseModel):
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
