"""Reference and boundary tests for sirtkit.clinical.scores (BSA, Child-Pugh, ALBI, MELD, ECOG)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sirtkit.clinical.scores import (
    ECOG_DESCRIPTIONS,
    albi,
    albi_grade,
    albi_score,
    body_surface_area_m2,
    child_pugh,
    ecog_description,
    meld_score,
)
from sirtkit.errors import InputError, UnitsError
from sirtkit.units import bilirubin_mg_dl_to_umol_l

# ----------------------------------------------------------------------------------------------- BSA


def test_bsa_dubois_w1() -> None:
    """W1 (CLINICAL.md §12): Du Bois, 80 kg, 180 cm → 1.996 m² (1.99640).

    Reference: clinPK R package test ``calc_bsa(80, 180) = 1.996``; Du Bois, Arch Intern Med 1916.
    """
    assert body_surface_area_m2(180.0, 80.0) == pytest.approx(1.996, abs=1e-3)
    assert body_surface_area_m2(180.0, 80.0, "dubois") == pytest.approx(1.99640, abs=5e-5)


def test_bsa_mosteller_analytic() -> None:
    """Mosteller 1987: sqrt(180·80/3600) = sqrt(4) = 2 m² exactly."""
    assert body_surface_area_m2(180.0, 80.0, formula="mosteller") == pytest.approx(2.0, rel=1e-12)


def test_bsa_dubois_metre_form_equivalent() -> None:
    """CLINICAL.md §2.1: 0.20247·H[m]^0.725·W^0.425 ≡ 0.007184·H[cm]^0.725·W^0.425 (to 4 significant digits)."""
    h_cm, w = 165.0, 62.0
    assert body_surface_area_m2(h_cm, w) == pytest.approx(0.20247 * (h_cm / 100) ** 0.725 * w**0.425, rel=2e-4)


@pytest.mark.parametrize(("height_cm", "weight_kg", "hint"), [(1.8, 80.0, "metres"), (180.0, 176.0 * 3, "kilograms"),
                                                              (float("nan"), 80.0, "centimetres")])
def test_bsa_refuses_unit_mistakes(height_cm: float, weight_kg: float, hint: str) -> None:
    with pytest.raises(UnitsError, match=hint):
        body_surface_area_m2(height_cm, weight_kg)


def test_bsa_unknown_formula() -> None:
    with pytest.raises(InputError, match="dubois, mosteller"):
        body_surface_area_m2(180.0, 80.0, "haycock")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(h=st.floats(100.0, 240.0), w=st.floats(20.0, 300.0), k=st.floats(1.01, 1.1))
def test_bsa_monotone_in_height_and_weight(h: float, w: float, k: float) -> None:
    """BSA increases with height and with weight for both formulas."""
    for f in ("dubois", "mosteller"):
        base = body_surface_area_m2(h, w, f)  # type: ignore[arg-type]
        if h * k <= 250.0:
            assert body_surface_area_m2(h * k, w, f) > base  # type: ignore[arg-type]
        if w * k <= 350.0:
            assert body_surface_area_m2(h, w * k, f) > base  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------- Child-Pugh


def test_child_pugh_w13() -> None:
    """W13: bili 2.5 mg/dL, albumin 3.0 g/dL, INR 1.5, no ascites, no HE → 2+2+1+1+1 = 7 → B."""
    r = child_pugh(2.5, 3.0, 1.5, "none", 0)
    assert (r.bilirubin_points, r.albumin_points, r.inr_points, r.ascites_points, r.encephalopathy_points) == (
        2, 2, 1, 1, 1)
    assert r.total_points == 7
    assert r.child_pugh_class == "B"


@pytest.mark.parametrize(
    ("bilirubin", "points"),
    [(0.0, 1), (1.99, 1), (2.0, 2), (2.5, 2), (3.0, 2), (3.01, 3), (20.0, 3)],
)
def test_child_pugh_bilirubin_boundaries(bilirubin: float, points: int) -> None:
    """CLINICAL.md §7.3 boundary rule: <2 → 1; 2 ≤ x ≤ 3 → 2; >3 → 3 (edges belong to the middle bin)."""
    assert child_pugh(bilirubin, 4.0, 1.0, "none", 0).bilirubin_points == points


@pytest.mark.parametrize(
    ("bilirubin", "points"), [(3.99, 1), (4.0, 2), (10.0, 2), (10.01, 3)],
)
def test_child_pugh_cholestatic_bilirubin_boundaries(bilirubin: float, points: int) -> None:
    """PBC/PSC bins: <4 → 1; 4–10 → 2; >10 → 3 (CLINICAL.md §7.3)."""
    assert child_pugh(bilirubin, 4.0, 1.0, "none", 0, cholestatic_disease=True).bilirubin_points == points


@pytest.mark.parametrize(
    ("albumin", "points"), [(4.5, 1), (3.51, 1), (3.5, 2), (2.8, 2), (2.79, 3), (1.5, 3)],
)
def test_child_pugh_albumin_boundaries(albumin: float, points: int) -> None:
    """Albumin >3.5 → 1; 2.8 ≤ x ≤ 3.5 → 2; <2.8 → 3 g/dL."""
    assert child_pugh(1.0, albumin, 1.0, "none", 0).albumin_points == points


@pytest.mark.parametrize(("inr", "points"), [(1.0, 1), (1.69, 1), (1.7, 2), (2.3, 2), (2.31, 3)])
def test_child_pugh_inr_boundaries(inr: float, points: int) -> None:
    """INR <1.7 → 1; 1.7 ≤ x ≤ 2.3 → 2; >2.3 → 3."""
    assert child_pugh(1.0, 4.0, inr, "none", 0).inr_points == points


@pytest.mark.parametrize(
    ("ascites", "he", "a_points", "he_points"),
    [("none", 0, 1, 1), ("slight", 1, 2, 2), ("slight", 2, 2, 2), ("moderate", 3, 3, 3), ("moderate", 4, 3, 3)],
)
def test_child_pugh_clinical_parameters(ascites: str, he: int, a_points: int, he_points: int) -> None:
    r = child_pugh(1.0, 4.0, 1.0, ascites, he)  # type: ignore[arg-type]
    assert (r.ascites_points, r.encephalopathy_points) == (a_points, he_points)


@pytest.mark.parametrize(
    ("args", "total", "cls"),
    [
        ((1.0, 4.0, 1.0, "none", 0), 5, "A"),
        ((2.0, 4.0, 1.0, "none", 0), 6, "A"),
        ((2.0, 3.0, 1.0, "none", 0), 7, "B"),
        ((3.5, 2.5, 1.0, "slight", 0), 10, "C"),
        ((3.5, 2.5, 1.0, "none", 0), 9, "B"),
        ((5.0, 2.0, 3.0, "moderate", 4), 15, "C"),
    ],
)
def test_child_pugh_class_boundaries(args: tuple, total: int, cls: str) -> None:
    """Class A 5–6, B 7–9, C 10–15 (Pugh 1973): class edges 6/7 and 9/10."""
    r = child_pugh(*args)
    assert (r.total_points, r.child_pugh_class) == (total, cls)


def test_child_pugh_refuses_bad_inputs() -> None:
    with pytest.raises(UnitsError, match="bilirubin_mg_dl"):
        child_pugh(-1.0, 4.0, 1.0, "none", 0)
    with pytest.raises(InputError, match="ascites"):
        child_pugh(1.0, 4.0, 1.0, "gross", 0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="West Haven"):
        child_pugh(1.0, 4.0, 1.0, "none", 5)


# ----------------------------------------------------------------------------------------------- ALBI


def test_albi_w11() -> None:
    """W11: bilirubin 10 µmol/L, albumin 40 g/L → 0.66·1 − 0.085·40 = −2.740 → grade 1 (Johnson JCO 2015)."""
    r = albi(10.0, 40.0)
    assert r.albi_score == pytest.approx(-2.740, abs=1e-9)
    assert r.albi_grade == 1


def test_albi_w12() -> None:
    """W12: bilirubin 1.2 mg/dL (20.52 µmol/L), albumin 3.5 g/dL (35 g/L) → −2.109 → grade 2."""
    r = albi(bilirubin_mg_dl_to_umol_l(1.2), 35.0)
    assert r.albi_score == pytest.approx(-2.109, abs=5e-4)
    assert r.albi_grade == 2


@pytest.mark.parametrize(
    ("score", "grade"), [(-3.5, 1), (-2.60, 1), (-2.5999, 2), (-2.0, 2), (-1.39, 2), (-1.3899, 3), (0.0, 3)],
)
def test_albi_grade_boundaries(score: float, grade: int) -> None:
    """Johnson 2015: grade 1 ≤ −2.60; grade 2 > −2.60 and ≤ −1.39; grade 3 > −1.39."""
    assert albi_grade(score) == grade


def test_albi_refuses_zero_bilirubin() -> None:
    with pytest.raises(UnitsError, match="> 0"):
        albi_score(0.0, 40.0)


@settings(max_examples=60, deadline=None)
@given(bili=st.floats(1.0, 500.0), alb=st.floats(10.0, 60.0))
def test_albi_monotone(bili: float, alb: float) -> None:
    """ALBI worsens (increases) with bilirubin and improves (decreases) with albumin."""
    assert albi_score(bili * 1.1, alb) > albi_score(bili, alb)
    assert albi_score(bili, alb + 1.0) < albi_score(bili, alb)


# ----------------------------------------------------------------------------------------------- MELD


def test_meld_w14() -> None:
    """W14: bili 2.0 mg/dL, INR 1.5, creatinine 1.0 mg/dL → 13.59 (Kamath 2001; cliot meld_score_original)."""
    expected = 10 * (0.957 * math.log(1.0) + 0.378 * math.log(2.0) + 1.120 * math.log(1.5) + 0.643)
    assert meld_score(2.0, 1.5, 1.0) == pytest.approx(13.59, abs=5e-3)
    assert meld_score(2.0, 1.5, 1.0) == pytest.approx(expected, rel=1e-12)


def test_meld_floors_caps_and_dialysis() -> None:
    """Values < 1 → 1 (so all-normal labs give 6.43); creatinine capped at 4; dialysis ≥2×/week → 4."""
    assert meld_score(0.3, 0.9, 0.5) == pytest.approx(6.43, abs=1e-12)
    assert meld_score(1.0, 1.0, 8.0) == pytest.approx(meld_score(1.0, 1.0, 4.0), rel=1e-12)
    assert meld_score(1.0, 1.0, 0.8, dialysis_twice_in_past_week=True) == pytest.approx(
        10 * (0.957 * math.log(4.0) + 0.643), rel=1e-12)


def test_meld_refuses_negative() -> None:
    with pytest.raises(UnitsError, match="creatinine_mg_dl"):
        meld_score(1.0, 1.0, -0.1)


# ----------------------------------------------------------------------------------------------- ECOG


def test_ecog_descriptions_complete() -> None:
    """Oken 1982: grades 0–5, 5 = dead."""
    assert sorted(ECOG_DESCRIPTIONS) == [0, 1, 2, 3, 4, 5]
    assert ecog_description(5) == "Dead"
    assert "bed or chair" in ecog_description(3)


@pytest.mark.parametrize("bad", [-1, 6, True])
def test_ecog_refuses_out_of_range(bad: int) -> None:
    with pytest.raises(InputError, match="0–5"):
        ecog_description(bad)


# --- eGFR, CKD-EPI 2021 (issue 8 item 8: creatinine in a cited rule) ----------------------------------


@pytest.mark.parametrize(("creatinine", "age", "sex", "expected"), [
    # Hand calculations from the published equation (Inker et al., NEJM 2021;385:1737, Table 2):
    # female 50 y, 1.0 mg/dL: 142 × (1.0/0.7)^−1.2 × 0.9938^50 × 1.012 = 142 × 0.65181 × 0.73278 × 1.012
    (1.0, 50, "female", 68.63),
    # male 60 y, 1.2 mg/dL: 142 × (1.2/0.9)^−1.2 × 0.9938^60 = 142 × 0.70805 × 0.68855
    (1.2, 60, "male", 69.23),
    # female 40 y, 0.5 mg/dL (below κ): 142 × (0.5/0.7)^−0.241 × 0.9938^40 × 1.012
    (0.5, 40, "female", 121.52),
])
def test_egfr_ckd_epi_2021_hand_calculations(creatinine: float, age: int, sex: str, expected: float) -> None:
    from sirtkit.clinical.scores import egfr_ckd_epi_2021

    assert egfr_ckd_epi_2021(creatinine, age, sex) == pytest.approx(expected, abs=0.01)  # type: ignore[arg-type]


def test_egfr_refuses_children_and_bad_values() -> None:
    from sirtkit.clinical.scores import egfr_ckd_epi_2021

    with pytest.raises(InputError, match="adults"):
        egfr_ckd_epi_2021(1.0, 12, "female")
    with pytest.raises(UnitsError):
        egfr_ckd_epi_2021(0.0, 50, "male")
    with pytest.raises(InputError, match="female"):
        egfr_ckd_epi_2021(1.0, 50, "other")  # type: ignore[arg-type]
