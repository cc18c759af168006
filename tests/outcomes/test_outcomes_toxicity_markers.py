"""CTCAE v5.0 laboratory grading, toxicity tables, marker and carcinoid-syndrome response.

Reference: NCI CTCAE v5.0 (27 Nov 2017); liver tests as in CLINICAL.md §9 (WJH 2026 Table 1):
bilirubin G1 > ULN–1.5 × ULN, G2 > 1.5–3.0, G3 > 3.0–10.0, G4 > 10.0 (abnormal baseline: × baseline, G1 > 1.0–1.5);
AST/ALT G1 > ULN–3.0, G2 > 3.0–5.0, G3 > 5.0–20.0, G4 > 20.0 (abnormal baseline G1 1.5–3.0 × baseline);
ALP G1 > ULN–2.5, G2 > 2.5–5.0, G3 > 5.0–20.0, G4 > 20.0 (abnormal baseline G1 2.0–2.5 × baseline);
hypoalbuminemia G1 < LLN–3 g/dL, G2 < 3–2, G3 < 2; platelets G1 < LLN–75, G2 < 75–50, G3 < 50–25, G4 < 25 × 10⁹/L.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sirtkit.errors import InputError, UnitsError
from sirtkit.outcomes import markers, toxicity
from sirtkit.outcomes.toxicity import grade_lab


@pytest.mark.parametrize(("value", "grade"), [
    (1.2, 0), (1.21, 1), (1.8, 1), (1.81, 2), (3.6, 2), (3.61, 3), (12.0, 3), (12.1, 4)])
def test_bilirubin_grades_normal_baseline(value: float, grade: int) -> None:
    """ULN 1.2 mg/dL: boundaries 1.2, 1.8, 3.6, 12.0 (the upper end of each range belongs to the grade)."""
    assert grade_lab("bilirubin", value, uln=1.2) == grade


@pytest.mark.parametrize(("value", "grade"), [(2.0, 0), (2.1, 1), (3.1, 2), (6.1, 3), (20.1, 4)])
def test_bilirubin_abnormal_baseline_uses_baseline(value: float, grade: int) -> None:
    """Baseline 2.0 > ULN 1.2: limits 2.0, 3.0, 6.0, 20.0 mg/dL."""
    assert grade_lab("bilirubin", value, uln=1.2, baseline=2.0) == grade


@pytest.mark.parametrize(("test", "value", "grade"), [
    ("ast", 120.0, 1), ("ast", 121.0, 2), ("ast", 201.0, 3), ("ast", 801.0, 4),
    ("alt", 40.0, 0), ("alp", 300.0, 1), ("alp", 301.0, 2), ("alp", 601.0, 3)])
def test_transaminases_alp(test: str, value: float, grade: int) -> None:
    """ULN 40 (AST/ALT) and 120 U/L (ALP)."""
    uln = 120.0 if test == "alp" else 40.0
    assert grade_lab(test, value, uln=uln) == grade


def test_ast_abnormal_baseline_grade1_starts_at_1_5x_baseline() -> None:
    assert grade_lab("ast", 89.0, uln=40, baseline=60) == 0   # < 1.5 × 60 = 90
    assert grade_lab("ast", 91.0, uln=40, baseline=60) == 1
    assert grade_lab("ast", 181.0, uln=40, baseline=60) == 2  # > 3 × 60


@pytest.mark.parametrize(("value", "unit", "grade"), [
    (3.6, "g/dL", 0), (3.4, "g/dL", 1), (2.9, "g/dL", 2), (1.9, "g/dL", 3), (29.0, "g/L", 2)])
def test_hypoalbuminemia(value: float, unit: str, grade: int) -> None:
    lln = 3.5 if unit == "g/dL" else 35.0
    assert grade_lab("albumin", value, lln=lln, unit=unit) == grade


@pytest.mark.parametrize(("value", "grade"), [(160, 0), (140, 1), (74, 2), (49, 3), (24, 4)])
def test_platelets(value: float, grade: int) -> None:
    assert grade_lab("platelets", value, lln=150) == grade


def test_lab_errors() -> None:
    with pytest.raises(InputError, match="upper limit"):
        grade_lab("bilirubin", 1.0)
    with pytest.raises(InputError, match="no CTCAE"):
        grade_lab("sodium", 1.0, uln=2)
    with pytest.raises(UnitsError, match="unit"):
        grade_lab("albumin", 3.0, lln=3.5, unit="mmol/L")


def test_lab_toxicity_counts_only_worsening() -> None:
    labs = pd.DataFrame({
        "patient_id": ["a", "a", "b", "b"],
        "date": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-01-01", "2020-02-01"]),
        "test": ["bilirubin"] * 4, "value": [2.0, 2.5, 1.0, 4.0], "unit": "mg/dL", "uln": 1.2, "lln": None})
    first = pd.Series({"a": pd.Timestamp("2020-01-10"), "b": pd.Timestamp("2020-01-10")})
    t = toxicity.lab_toxicity(labs, first).set_index("patient_id")
    # a: baseline 2.0 abnormal → 2.5 is ≤ 1.5 × 2.0 → grade 1; baseline grade (2.0 > 1.5×1.2) 2 → not worse
    assert "a" not in t.index
    assert t.loc["b", "grade"] == 3 and t.loc["b", "term"] == "blood_bilirubin_increased"


def test_toxicity_table_percentages_recomputed_from_counts() -> None:
    """J Gastroenterol Hepatol 2017: GI ulcer 2/36 = 5.6 %, fatigue 31/36 = 86.1 %."""
    ev = pd.DataFrame({"patient_id": [f"p{i}" for i in range(31)] + ["p0", "p1"],
                       "term": ["fatigue"] * 31 + ["gastric_ulcer"] * 2, "grade": [1] * 31 + [3, 2]})
    t = toxicity.toxicity_table(ev, 36).set_index("term")
    assert round(t.loc["fatigue", "any_grade_percent"], 1) == 86.1
    assert round(t.loc["gastric_ulcer", "any_grade_percent"], 1) == 5.6
    assert t.loc["gastric_ulcer", "grade3plus_n"] == 1
    assert t.loc["any_adverse_event", "any_grade_n"] == 31
    assert t.loc["any_adverse_event", "grade3plus_n"] == 1
    assert t.index[0] == "any_adverse_event"
    for term, row in t.iterrows():
        assert row["any_grade_n"] == sum(row[f"grade{k}_n"] for k in range(1, 6)), term


def test_reild_and_grades_are_cited_data() -> None:
    assert "2 weeks to 4 months" in toxicity.REILD_DEFINITION
    assert set(toxicity.BRAAT_HEPATOTOXICITY_GRADES) == {0, 1, 2, 3, 4, 5}
    assert set(toxicity.CTCAE_GENERIC_GRADES) == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(("base", "best", "uln", "cat"), [
    (400, 200, 100, "partial"), (400, 201, 100, "stable"), (400, 100, 100, "complete"), (80, 30, 100, "partial"),
    (400, 500, 100, "progression"), (400, 499, 100, "stable")])
def test_marker_categories(base: float, best: float, uln: float, cat: str) -> None:
    """[K] rule: ≥ 50 % decrease partial; normalised + partial complete; ≥ 25 % increase progression."""
    assert markers.marker_category(base, best, uln=uln) == cat


def test_marker_responses_table() -> None:
    labs = pd.DataFrame({"patient_id": ["a", "a", "a", "b", "b"],
                         "date": pd.to_datetime(["2020-01-01", "2020-03-01", "2020-05-01", "2020-01-01",
                                                 "2020-03-01"]),
                         "test": ["cga"] * 5, "value": [400.0, 150.0, 90.0, 100.0, 130.0], "uln": 100.0})
    first = pd.Series({"a": pd.Timestamp("2020-01-05"), "b": pd.Timestamp("2020-01-05")})
    r = markers.marker_responses(labs, first, "cga").set_index("patient_id")
    assert r.loc["a", "category"] == "complete"
    assert r.loc["b", "category"] == "progression"
    with pytest.raises(InputError):
        markers.marker_category(0.0, 1.0)


def test_symptom_response() -> None:
    s = pd.DataFrame({"patient_id": ["a", "a", "b", "b", "c", "c"],
                      "date": pd.to_datetime(["2020-01-01", "2020-04-01"] * 3),
                      "flushing_per_day": [4.0, 0.0, 4.0, 4.0, 2.0, 4.0],
                      "bowel_movements_per_day": [6.0, 2.0, 10.0, 7.0, 5.0, 5.0]})
    first = pd.Series({k: pd.Timestamp("2020-01-05") for k in "abc"})
    r = markers.symptom_responses(s, first).set_index("patient_id")["category"].to_dict()
    assert r == {"a": "complete", "b": "improved", "c": "worse"}


def test_grade_labs_input_order_variant_has_the_same_rows() -> None:
    """``lab_toxicity`` grades without the by-test reordering (a copy of ~1 million rows at 50 000 patients);
    the graded rows are the same as :func:`grade_labs`'s, only in input order (synthetic cohort, exact)."""
    from sirtkit.outcomes.synthetic import synthetic_cohort

    data = synthetic_cohort(120, rng=3)
    first = data.treatments.groupby("patient_id")["treatment_date"].min()
    by_test = toxicity.grade_labs(data.labs, first)
    plain = toxicity._grade_labs(data.labs, first, by_test=False)
    assert len(plain) == len(by_test) > 0
    key = ["patient_id", "date", "test", "value"]
    pd.testing.assert_frame_equal(plain.sort_values(key, kind="stable").reset_index(drop=True),
                                  by_test.sort_values(key, kind="stable").reset_index(drop=True), check_exact=True)
    assert set(by_test.columns) >= {"term", "grade", "baseline_value", "after_sirt"}
