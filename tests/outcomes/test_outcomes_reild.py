"""REILD detected from laboratory values and events (Sangro B et al., Cancer 2008;112:1538–1546: jaundice and
ascites 4–8 weeks after radioembolization, no tumour progression, no bile-duct occlusion) and the symptomatic
response rate with its exact interval (Clopper & Pearson, Biometrika 1934)."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from sirtkit.outcomes.markers import symptom_response_rate
from sirtkit.outcomes.toxicity import detect_reild

TR = pd.DataFrame({"patient_id": ["a", "b", "c", "d", "e"],
                   "treatment_date": pd.to_datetime(["2020-01-01"] * 5)})


def _labs(rows: list[tuple[str, str, float, str | None]]) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": [r[0] for r in rows], "date": pd.to_datetime([r[1] for r in rows]),
                         "test": "bilirubin", "value": [r[2] for r in rows], "unit": [r[3] for r in rows]})


def test_rule_window_units_and_exclusions() -> None:
    """a: 3.2 mg/dL day 35 + ascites day 40 → REILD. b: 2.9 mg/dL → no jaundice. c: 55 µmol/L (3.22 mg/dL) at
    day 70 → outside the 61-day window. d: both findings but progression on day 38 → excluded. e: bile-duct
    stenosis day 30 → excluded."""
    labs = _labs([("a", "2020-02-05", 3.2, "mg/dL"), ("b", "2020-02-05", 2.9, "mg/dL"),
                  ("c", "2020-03-11", 55.0, "µmol/L"), ("d", "2020-02-05", 4.0, "mg/dL"),
                  ("e", "2020-02-05", 60.0, "umol/L")])
    tox = pd.DataFrame({"patient_id": ["a", "b", "c", "d", "e", "e"],
                        "date": pd.to_datetime(["2020-02-10"] * 5 + ["2020-01-31"]),
                        "term": ["ascites"] * 5 + ["bile_duct_stenosis"]})
    prog = pd.Series(pd.to_datetime(["2020-02-08"]), index=["d"])
    r = detect_reild(labs, tox, TR, prog).set_index("patient_id")
    assert sorted(r.index) == ["a", "d", "e"]
    assert bool(r.loc["a", "reild"]) and r.loc["a", "onset_date"] == pd.Timestamp("2020-02-10")
    assert r.loc["d", "excluded_by"] == "progression" and not r.loc["d", "reild"]
    assert r.loc["e", "excluded_by"] == "bile_duct_occlusion"
    assert r.loc["e", "bilirubin_mg_per_dl"] == pytest.approx(60.0 / 17.1, rel=1e-12)


def test_bilirubin_without_unit_is_counted_not_guessed() -> None:
    labs = _labs([("a", "2020-02-05", 3.2, None)])
    tox = pd.DataFrame({"patient_id": ["a"], "date": pd.to_datetime(["2020-02-10"]), "term": ["ascites"]})
    r = detect_reild(labs, tox, TR)
    assert r.empty and r.attrs["bilirubin_rows_without_unit"] == 1


@pytest.mark.parametrize(("k", "n"), [(13, 23), (0, 7), (7, 7), (1, 40)])
def test_symptom_rate_exact_interval(k: int, n: int) -> None:
    """Clopper–Pearson interval equals scipy's exact binomial interval (1e-9 abs)."""
    df = pd.DataFrame({"category": ["improved"] * k + ["stable"] * (n - k)})
    p = symptom_response_rate(df)
    assert p is not None and (p.count, p.total) == (k, n)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert p.ci_low == pytest.approx(ref.low, abs=1e-9) and p.ci_high == pytest.approx(ref.high, abs=1e-9)
    assert symptom_response_rate(df.iloc[:0]) is None
