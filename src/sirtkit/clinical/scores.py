"""Clinical scores used in the SIRT work-up: body surface area, Child-Pugh, ALBI, MELD and ECOG.

All functions are pure; inputs carry their unit in their name.

Examples
--------
>>> round(body_surface_area_m2(180.0, 80.0), 3)
1.996
>>> round(body_surface_area_m2(180.0, 80.0, formula="mosteller"), 3)
2.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from sirtkit.errors import InputError, UnitsError

__all__ = [
    "ALBI_GRADE_1_MAX",
    "ALBI_GRADE_2_MAX",
    "BSA_FORMULAS",
    "CHILD_PUGH_ALBUMIN_BINS",
    "CHILD_PUGH_ASCITES_POINTS",
    "CHILD_PUGH_BILIRUBIN_BINS",
    "CHILD_PUGH_BILIRUBIN_BINS_CHOLESTATIC",
    "CHILD_PUGH_CLASS_BY_MAX_POINTS",
    "CHILD_PUGH_ENCEPHALOPATHY_POINTS",
    "CHILD_PUGH_INR_BINS",
    "DUBOIS_COEFFICIENT",
    "DUBOIS_HEIGHT_EXPONENT",
    "DUBOIS_WEIGHT_EXPONENT",
    "CKD_EPI_2021",
    "ECOG_DESCRIPTIONS",
    "HEIGHT_CM_RANGE",
    "MOSTELLER_DIVISOR",
    "WEIGHT_KG_RANGE",
    "AlbiGrade",
    "AlbiResult",
    "AscitesGrade",
    "BsaFormula",
    "ChildPughClass",
    "ChildPughResult",
    "PointBins",
    "albi",
    "albi_grade",
    "albi_score",
    "body_surface_area_m2",
    "child_pugh",
    "ecog_description",
    "egfr_ckd_epi_2021",
    "meld_score",
]

BsaFormula = Literal["dubois", "mosteller"]
BSA_FORMULAS: tuple[str, ...] = ("dubois", "mosteller")

# Du Bois D, Du Bois EF. A formula to estimate the approximate surface area if height and weight be
# known. Arch Intern Med 1916;17:863-871: BSA[m²] = 0.007184 · H[cm]^0.725 · W[kg]^0.425.
DUBOIS_COEFFICIENT = 0.007184
DUBOIS_HEIGHT_EXPONENT = 0.725
DUBOIS_WEIGHT_EXPONENT = 0.425
# Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317:1098:
# BSA[m²] = sqrt(H[cm] · W[kg] / 3600).
MOSTELLER_DIVISOR = 3600.0

# Plausibility limits for adult SIRT patients; outside them the input is almost certainly a unit
# mistake (metres or inches for height, pounds or grams for weight).
HEIGHT_CM_RANGE: tuple[float, float] = (100.0, 250.0)
WEIGHT_KG_RANGE: tuple[float, float] = (20.0, 350.0)


def _check_height_weight(height_cm: float, weight_kg: float) -> None:
    if not math.isfinite(height_cm) or not HEIGHT_CM_RANGE[0] <= height_cm <= HEIGHT_CM_RANGE[1]:
        hint = " It looks like metres: give centimetres (e.g. 180, not 1.8)." if 0.5 <= height_cm <= 2.5 else ""
        raise UnitsError(
            f"height_cm = {height_cm!r} is outside the plausible adult range "
            f"{HEIGHT_CM_RANGE[0]:g}–{HEIGHT_CM_RANGE[1]:g} cm: give the height in centimetres.{hint}"
        )
    if not math.isfinite(weight_kg) or not WEIGHT_KG_RANGE[0] <= weight_kg <= WEIGHT_KG_RANGE[1]:
        raise UnitsError(
            f"weight_kg = {weight_kg!r} is outside the plausible adult range "
            f"{WEIGHT_KG_RANGE[0]:g}–{WEIGHT_KG_RANGE[1]:g} kg: give the weight in kilograms "
            "(not pounds or grams)."
        )


def body_surface_area_m2(
    height_cm: float, weight_kg: float, formula: Literal["dubois", "mosteller"] = "dubois"
) -> float:
    """Body surface area in m² from height and weight.

    Parameters
    ----------
    height_cm : float
        Body height in centimetres (100–250 cm accepted).
    weight_kg : float
        Body weight in kilograms (20–350 kg accepted).
    formula : {"dubois", "mosteller"}
        ``"dubois"`` (default; the formula of the resin-microsphere BSA method):
        ``0.007184 · H^0.725 · W^0.425``; ``"mosteller"``: ``sqrt(H · W / 3600)``.

    Returns
    -------
    float
        Body surface area in m².

    Raises
    ------
    UnitsError
        If height or weight is not finite or outside the plausible adult range (a unit mistake).
    InputError
        If ``formula`` is not one of the supported names.

    References
    ----------
    Du Bois D, Du Bois EF. Arch Intern Med 1916;17:863-871.
    Mosteller RD. N Engl J Med 1987;317:1098.

    Examples
    --------
    >>> round(body_surface_area_m2(180.0, 80.0), 3)  # CLINICAL.md worked example W1
    1.996
    """
    _check_height_weight(height_cm, weight_kg)
    if formula == "dubois":
        return DUBOIS_COEFFICIENT * height_cm**DUBOIS_HEIGHT_EXPONENT * weight_kg**DUBOIS_WEIGHT_EXPONENT
    if formula == "mosteller":
        return math.sqrt(height_cm * weight_kg / MOSTELLER_DIVISOR)
    raise InputError(f"formula = {formula!r} is not a BSA formula: use one of {', '.join(BSA_FORMULAS)}")


# ---------------------------------------------------------------------------------------------------------
# Child-Pugh (Pugh RNH et al., Br J Surg 1973;60:646; thresholds as tabulated in CLINICAL.md §7.3 from the
# cliot R documentation `child_pugh_score`). Boundary rule (CLINICAL.md §7.3, [K]): a value ON a bin edge
# belongs to the middle bin, e.g. bilirubin < 2 → 1 point; 2 ≤ x ≤ 3 → 2 points; > 3 → 3 points.
# ---------------------------------------------------------------------------------------------------------

AscitesGrade = Literal["none", "slight", "moderate"]
ChildPughClass = Literal["A", "B", "C"]


@dataclass(frozen=True)
class PointBins:
    """Three-point bins with explicit edges: ``low`` and ``high`` both belong to the middle (2-point) bin.

    ``higher_is_worse`` is True for bilirubin and INR, False for albumin.
    """

    low: float
    high: float
    unit: str
    higher_is_worse: bool

    def points(self, value: float) -> int:
        """Points (1, 2 or 3) for ``value`` given in :attr:`unit`."""
        if self.higher_is_worse:
            return 1 if value < self.low else (2 if value <= self.high else 3)
        return 1 if value > self.high else (2 if value >= self.low else 3)


# Standard Child-Pugh bins (Pugh 1973; cliot `child_pugh_score`).
CHILD_PUGH_BILIRUBIN_BINS = PointBins(low=2.0, high=3.0, unit="mg/dL", higher_is_worse=True)
# Cholestatic disease (PBC/PSC) bilirubin bins: <4, 4–10, >10 mg/dL (Pugh 1973 modification; CLINICAL.md §7.3).
CHILD_PUGH_BILIRUBIN_BINS_CHOLESTATIC = PointBins(low=4.0, high=10.0, unit="mg/dL", higher_is_worse=True)
CHILD_PUGH_ALBUMIN_BINS = PointBins(low=2.8, high=3.5, unit="g/dL", higher_is_worse=False)
CHILD_PUGH_INR_BINS = PointBins(low=1.7, high=2.3, unit="1", higher_is_worse=True)
# Ascites: none 1, slight (controlled with diuretics) 2, moderate/severe or refractory 3.
CHILD_PUGH_ASCITES_POINTS: dict[str, int] = {"none": 1, "slight": 2, "moderate": 3}
# Hepatic encephalopathy (West Haven grade): none 1, grade 1–2 2, grade 3–4 3.
CHILD_PUGH_ENCEPHALOPATHY_POINTS: dict[int, int] = {0: 1, 1: 2, 2: 2, 3: 3, 4: 3}
# Class by total points: A 5–6, B 7–9, C 10–15 (Pugh 1973).
CHILD_PUGH_CLASS_BY_MAX_POINTS: tuple[tuple[int, ChildPughClass], ...] = ((6, "A"), (9, "B"), (15, "C"))


@dataclass(frozen=True)
class ChildPughResult:
    """Child-Pugh points per parameter, total (5–15) and class (A/B/C)."""

    bilirubin_points: int
    albumin_points: int
    inr_points: int
    ascites_points: int
    encephalopathy_points: int
    total_points: int
    child_pugh_class: ChildPughClass


def _require_nonnegative(value: float, name: str, unit: str) -> float:
    if not math.isfinite(value) or value < 0.0:
        raise UnitsError(f"{name} = {value!r} {unit} must be a finite number ≥ 0: check the laboratory value")
    return value


def child_pugh(
    bilirubin_mg_dl: float,
    albumin_g_dl: float,
    inr: float,
    ascites: AscitesGrade,
    encephalopathy_grade: int,
    *,
    cholestatic_disease: bool = False,
) -> ChildPughResult:
    """Child-Pugh score and class.

    Parameters
    ----------
    bilirubin_mg_dl : float
        Total bilirubin in mg/dL (convert µmol/L with :func:`sirtkit.units.bilirubin_umol_l_to_mg_dl`).
    albumin_g_dl : float
        Serum albumin in g/dL (g/L ÷ 10).
    inr : float
        International normalised ratio.
    ascites : {"none", "slight", "moderate"}
        ``"slight"`` = mild / controlled with diuretics; ``"moderate"`` = moderate–severe or refractory.
    encephalopathy_grade : int
        West Haven grade 0–4 (0 = none).
    cholestatic_disease : bool
        Use the PBC/PSC bilirubin bins (<4, 4–10, >10 mg/dL).

    Returns
    -------
    ChildPughResult

    Raises
    ------
    UnitsError
        If a laboratory value is negative or not finite.
    InputError
        If ``ascites`` or ``encephalopathy_grade`` is not one of the allowed values.

    References
    ----------
    Pugh RNH et al. Transection of the oesophagus for bleeding oesophageal varices.
    Br J Surg 1973;60:646-649.

    Examples
    --------
    >>> r = child_pugh(2.5, 3.0, 1.5, "none", 0)  # CLINICAL.md worked example W13
    >>> r.total_points, r.child_pugh_class
    (7, 'B')
    """
    _require_nonnegative(bilirubin_mg_dl, "bilirubin_mg_dl", "mg/dL")
    _require_nonnegative(albumin_g_dl, "albumin_g_dl", "g/dL")
    _require_nonnegative(inr, "inr", "")
    if ascites not in CHILD_PUGH_ASCITES_POINTS:
        raise InputError(f"ascites = {ascites!r}: use one of {', '.join(CHILD_PUGH_ASCITES_POINTS)}")
    if encephalopathy_grade not in CHILD_PUGH_ENCEPHALOPATHY_POINTS:
        raise InputError(f"encephalopathy_grade = {encephalopathy_grade!r}: give the West Haven grade 0–4")
    bili_bins = CHILD_PUGH_BILIRUBIN_BINS_CHOLESTATIC if cholestatic_disease else CHILD_PUGH_BILIRUBIN_BINS
    points = (
        bili_bins.points(bilirubin_mg_dl),
        CHILD_PUGH_ALBUMIN_BINS.points(albumin_g_dl),
        CHILD_PUGH_INR_BINS.points(inr),
        CHILD_PUGH_ASCITES_POINTS[ascites],
        CHILD_PUGH_ENCEPHALOPATHY_POINTS[encephalopathy_grade],
    )
    total = sum(points)
    cls = next(c for max_points, c in CHILD_PUGH_CLASS_BY_MAX_POINTS if total <= max_points)
    return ChildPughResult(*points, total_points=total, child_pugh_class=cls)


# ---------------------------------------------------------------------------------------------------------
# ALBI (Johnson PJ et al. J Clin Oncol 2015;33:550-558): ALBI = 0.66·log10(bilirubin µmol/L) − 0.085·albumin g/L.
# Grade 1 ≤ −2.60; grade 2 > −2.60 and ≤ −1.39; grade 3 > −1.39.
# ---------------------------------------------------------------------------------------------------------

ALBI_BILIRUBIN_COEFFICIENT = 0.66
ALBI_ALBUMIN_COEFFICIENT = -0.085
ALBI_GRADE_1_MAX = -2.60  # Johnson 2015: grade 1 ≤ −2.60
ALBI_GRADE_2_MAX = -1.39  # Johnson 2015: grade 2 > −2.60 and ≤ −1.39; grade 3 > −1.39
AlbiGrade = Literal[1, 2, 3]


@dataclass(frozen=True)
class AlbiResult:
    """ALBI linear predictor and grade (1 best, 3 worst)."""

    albi_score: float
    albi_grade: AlbiGrade


def albi_score(bilirubin_umol_l: float, albumin_g_l: float) -> float:
    """ALBI linear predictor ``0.66·log10(bilirubin[µmol/L]) − 0.085·albumin[g/L]``.

    Parameters
    ----------
    bilirubin_umol_l : float
        Total bilirubin in µmol/L (> 0; mg/dL × 17.1).
    albumin_g_l : float
        Serum albumin in g/L (g/dL × 10).

    Raises
    ------
    UnitsError
        If bilirubin is not > 0 (log undefined) or albumin is negative.

    References
    ----------
    Johnson PJ et al. Assessment of liver function in patients with hepatocellular carcinoma: a new
    evidence-based approach — the ALBI grade. J Clin Oncol 2015;33:550-558.

    Examples
    --------
    >>> round(albi_score(10.0, 40.0), 3)  # CLINICAL.md worked example W11
    -2.74
    """
    if not math.isfinite(bilirubin_umol_l) or bilirubin_umol_l <= 0.0:
        raise UnitsError(f"bilirubin_umol_l = {bilirubin_umol_l!r} µmol/L must be > 0 for the ALBI score")
    _require_nonnegative(albumin_g_l, "albumin_g_l", "g/L")
    return ALBI_BILIRUBIN_COEFFICIENT * math.log10(bilirubin_umol_l) + ALBI_ALBUMIN_COEFFICIENT * albumin_g_l


def albi_grade(score: float) -> AlbiGrade:
    """ALBI grade from the score: 1 (≤ −2.60), 2 (> −2.60 and ≤ −1.39), 3 (> −1.39).

    >>> albi_grade(-2.60), albi_grade(-1.39), albi_grade(-1.38)
    (1, 2, 3)
    """
    if score <= ALBI_GRADE_1_MAX:
        return 1
    if score <= ALBI_GRADE_2_MAX:
        return 2
    return 3


def albi(bilirubin_umol_l: float, albumin_g_l: float) -> AlbiResult:
    """ALBI score and grade (see :func:`albi_score`).

    >>> from sirtkit.units import bilirubin_mg_dl_to_umol_l
    >>> albi(bilirubin_mg_dl_to_umol_l(1.2), 35.0).albi_grade  # W12: −2.109 → grade 2
    2
    """
    score = albi_score(bilirubin_umol_l, albumin_g_l)
    return AlbiResult(albi_score=score, albi_grade=albi_grade(score))


# ---------------------------------------------------------------------------------------------------------
# MELD, original (Kamath PS et al. Hepatology 2001;33:464-470; UNOS implementation as in cliot
# `meld_score_original`): 10·(0.957·ln Cr + 0.378·ln Bili + 1.120·ln INR + 0.643), with every laboratory
# value < 1 set to 1, creatinine capped at 4 mg/dL, and creatinine = 4 after dialysis ≥ 2×/week.
# ---------------------------------------------------------------------------------------------------------

MELD_CREATININE_COEFFICIENT = 0.957
MELD_BILIRUBIN_COEFFICIENT = 0.378
MELD_INR_COEFFICIENT = 1.120
MELD_CONSTANT = 0.643
MELD_LAB_FLOOR = 1.0  # UNOS: values < 1.0 are set to 1.0
MELD_CREATININE_CAP_MG_DL = 4.0  # UNOS: creatinine capped at 4.0 mg/dL; dialysis ≥ 2×/week → 4.0


def meld_score(
    bilirubin_mg_dl: float,
    inr: float,
    creatinine_mg_dl: float,
    *,
    dialysis_twice_in_past_week: bool = False,
) -> float:
    """Original MELD score (unrounded; round half up to an integer for allocation use).

    Parameters
    ----------
    bilirubin_mg_dl : float
        Total bilirubin in mg/dL.
    inr : float
        International normalised ratio.
    creatinine_mg_dl : float
        Serum creatinine in mg/dL (µmol/L ÷ 88.4).
    dialysis_twice_in_past_week : bool
        Dialysis at least twice in the past week (creatinine is then set to 4 mg/dL).

    Returns
    -------
    float
        MELD score (not capped; values below 1 are floored to 1 before the logarithms).

    Raises
    ------
    UnitsError
        If a value is negative or not finite.

    References
    ----------
    Kamath PS et al. A model to predict survival in patients with end-stage liver disease.
    Hepatology 2001;33:464-470.

    Examples
    --------
    >>> round(meld_score(2.0, 1.5, 1.0), 2)  # CLINICAL.md worked example W14
    13.59
    """
    _require_nonnegative(bilirubin_mg_dl, "bilirubin_mg_dl", "mg/dL")
    _require_nonnegative(inr, "inr", "")
    _require_nonnegative(creatinine_mg_dl, "creatinine_mg_dl", "mg/dL")
    bili = max(bilirubin_mg_dl, MELD_LAB_FLOOR)
    inr_used = max(inr, MELD_LAB_FLOOR)
    creat = MELD_CREATININE_CAP_MG_DL if dialysis_twice_in_past_week else creatinine_mg_dl
    creat = min(max(creat, MELD_LAB_FLOOR), MELD_CREATININE_CAP_MG_DL)
    return 10.0 * (
        MELD_CREATININE_COEFFICIENT * math.log(creat)
        + MELD_BILIRUBIN_COEFFICIENT * math.log(bili)
        + MELD_INR_COEFFICIENT * math.log(inr_used)
        + MELD_CONSTANT
    )


# ---------------------------------------------------------------------------------------------------------
# ECOG performance status (Oken MM et al. Am J Clin Oncol 1982;5:649-655).
# ---------------------------------------------------------------------------------------------------------

ECOG_DESCRIPTIONS: dict[int, str] = {
    0: "Fully active, able to carry on all pre-disease performance without restriction",
    1: "Restricted in physically strenuous activity but ambulatory and able to carry out work of a light "
    "or sedentary nature",
    2: "Ambulatory and capable of all self-care but unable to carry out any work activities; up and about "
    "more than 50% of waking hours",
    3: "Capable of only limited self-care; confined to bed or chair more than 50% of waking hours",
    4: "Completely disabled; cannot carry on any self-care; totally confined to bed or chair",
    5: "Dead",
}


def ecog_description(ecog: int) -> str:
    """Oken 1982 description of an ECOG performance status 0–5.

    >>> ecog_description(0)[:12]
    'Fully active'
    """
    if isinstance(ecog, bool) or ecog not in ECOG_DESCRIPTIONS:
        raise InputError(f"ecog = {ecog!r}: give the ECOG performance status as an integer 0–5")
    return ECOG_DESCRIPTIONS[ecog]


# CKD-EPI 2021 creatinine equation, refit without the race coefficient (Inker LA et al., N Engl J Med
# 2021;385:1737-1749, Table 2): eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200 × 0.9938^age
# × 1.012 [female]; κ = 0.7 (female) / 0.9 (male) mg/dL, α = −0.241 (female) / −0.302 (male);
# mL/min/1.73 m², adults (≥ 18 years), serum creatinine in mg/dL (IDMS-traceable assay).
CKD_EPI_2021: dict[str, dict[str, float]] = {
    "female": {"kappa": 0.7, "alpha": -0.241, "sex_factor": 1.012},
    "male": {"kappa": 0.9, "alpha": -0.302, "sex_factor": 1.0},
}
_CKD_EPI_2021_COEFFICIENT = 142.0
_CKD_EPI_2021_HIGH_EXPONENT = -1.200
_CKD_EPI_2021_AGE_BASE = 0.9938
_CKD_EPI_ADULT_AGE_YEARS = 18


def egfr_ckd_epi_2021(creatinine_mg_dl: float, age_years: float, sex: Literal["female", "male"]) -> float:
    """Estimated glomerular filtration rate (mL/min/1.73 m²), CKD-EPI 2021 creatinine equation.

    Used for the contrast-medium (angiography) kidney-risk rule of the work-up.

    Raises
    ------
    UnitsError
        Creatinine not positive and finite.
    InputError
        Age under 18 years (the equation is for adults) or a sex other than female/male.

    Examples
    --------
    >>> round(egfr_ckd_epi_2021(1.0, 50, "female"), 1)  # hand calculation in the test module
    68.6
    """
    if not math.isfinite(creatinine_mg_dl) or creatinine_mg_dl <= 0.0:
        raise UnitsError(f"creatinine_mg_dl = {creatinine_mg_dl!r} mg/dL must be > 0 for the eGFR")
    if not math.isfinite(age_years) or age_years < _CKD_EPI_ADULT_AGE_YEARS:
        raise InputError(f"age {age_years!r} years: CKD-EPI 2021 is defined for adults (≥ 18 years)")
    if sex not in CKD_EPI_2021:
        raise InputError(f"sex {sex!r}: CKD-EPI 2021 needs 'female' or 'male'")
    c = CKD_EPI_2021[sex]
    ratio = creatinine_mg_dl / c["kappa"]
    return (
        _CKD_EPI_2021_COEFFICIENT
        * min(ratio, 1.0) ** c["alpha"]
        * max(ratio, 1.0) ** _CKD_EPI_2021_HIGH_EXPONENT
        * _CKD_EPI_2021_AGE_BASE**age_years
        * c["sex_factor"]
    )
