"""The whole-cohort analysis on synthetic data: internal consistency (counts ↔ percentages ↔ tables)."""

from __future__ import annotations

import numpy as np
import pytest

from sirtkit.outcomes.analysis import analyse_cohort
from sirtkit.outcomes.cohort import CohortData
from sirtkit.outcomes.rates import clopper_pearson
from sirtkit.serialize import to_jsonable


@pytest.fixture(scope="module")
def analysis(small_cohort: CohortData):  # type: ignore[no-untyped-def]
    return analyse_cohort(small_cohort, n_bootstrap=50)


def test_rates_recomputed_from_counts(analysis) -> None:  # type: ignore[no-untyped-def]
    counts = analysis.best_response["best_response"].replace({"NN": "SD"}).value_counts()
    n = analysis.n_patients
    row = analysis.rates_by_criteria.iloc[0]
    assert row["criteria"] == "recist1.1"
    orr = counts.get("CR", 0) + counts.get("PR", 0)
    dcr = orr + counts.get("SD", 0)
    assert row["orr_n"] == orr and row["dcr_n"] == dcr and row["n"] == n
    assert row["orr_percent"] == pytest.approx(100 * orr / n)
    lo, hi = clopper_pearson(int(orr), n)
    assert row["orr_ci_low_percent"] == pytest.approx(100 * lo)
    assert row["orr_ci_high_percent"] == pytest.approx(100 * hi)
    assert set(analysis.rates_by_criteria["criteria"]) == {"recist1.1", "mrecist", "easl", "who", "choi",
                                                            "modified_choi"}


def test_every_table_present_and_json_ready(analysis) -> None:  # type: ignore[no-untyped-def]
    tables = analysis.tables()
    assert {"baseline_characteristics", "toxicity", "survival", "cox_multivariable", "literature_comparison"} <= set(
        tables)
    s = to_jsonable(analysis.summary())
    assert s["n_patients"] == analysis.n_patients
    assert s["orr"]["count"] == analysis.rates.orr.count
    assert set(s["survival"]) == {"os", "pfs", "hpfs"}


def test_survival_and_cox(analysis) -> None:  # type: ignore[no-untyped-def]
    assert analysis.km["os"].n == analysis.n_patients
    assert analysis.km["os"].n_events_total == int(analysis.endpoints["os_event"].sum())
    uni = analysis.cox_univariable.set_index("covariate")
    assert "child_pugh_b_or_c" in uni.index
    assert (uni["ci_low"] < uni["hazard_ratio"]).all() and (uni["hazard_ratio"] < uni["ci_high"]).all()
    assert len(analysis.logrank) >= 1


def test_toxicity_percent_consistent(analysis) -> None:  # type: ignore[no-untyped-def]
    t = analysis.toxicity
    np.testing.assert_allclose(t["any_grade_percent"], 100 * t["any_grade_n"] / analysis.n_patients)
    np.testing.assert_allclose(t["grade3plus_percent"], 100 * t["grade3plus_n"] / analysis.n_patients)


def test_dose_response_present(analysis) -> None:  # type: ignore[no-untyped-def]
    dr = analysis.dose_response
    assert dr["n_lesions"] == len(analysis.lesion_doses)
    assert 0.5 < dr["auc"] <= 1.0
    assert dr["youden_threshold_ci_gy"][0] <= dr["youden_threshold_gy"] <= dr["youden_threshold_ci_gy"][1]


def test_reproducible(small_cohort: CohortData) -> None:
    a = analyse_cohort(small_cohort, n_bootstrap=20, rng=4)
    b = analyse_cohort(small_cohort, n_bootstrap=20, rng=4)
    assert a.dose_response == b.dose_response


def test_minimal_cohort_runs_with_caveats() -> None:
    """Only patients, treatments and events: survival works, everything else degrades to NE / caveats."""
    import pandas as pd

    from sirtkit.outcomes.cohort import validate_cohort

    t = {"patients": pd.DataFrame({"patient_id": ["a", "b", "c"]}),
         "treatments": pd.DataFrame({"patient_id": ["a", "b", "c"], "treatment_date": ["2020-01-01"] * 3,
                                     "device": ["glass"] * 3}),
         "events": pd.DataFrame({"patient_id": ["a", "b", "c"], "date": ["2020-06-01", "2021-01-01", "2020-03-01"],
                                 "event": ["death", "last_follow_up", "death"]})}
    a = analyse_cohort(validate_cohort(t), n_bootstrap=20)
    assert a.rates.counts["NE"] == 3
    assert a.km["os"].n_events_total == 2
    assert any("no lesion measurements" in w for w in a.warnings)
    assert a.literature.iloc[0]["series"] == "this cohort"


def test_confirmation_never_raises_orr(small_cohort: CohortData) -> None:
    """Requiring confirmation (RECIST 1.1: 28 days) can only lower the number of CR/PR."""
    a = analyse_cohort(small_cohort, n_bootstrap=10)
    b = analyse_cohort(small_cohort, n_bootstrap=10, confirmation_min_days=28)
    assert b.rates.orr.count <= a.rates.orr.count
    assert b.rates.dcr.count <= a.rates.dcr.count
    assert b.summary()["confirmation_min_days"] == 28


def test_workers_inline_and_forked_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9: the dose–response and other-criteria parts run in forked workers for small cohorts and inline
    above WORKER_MAX_MEASUREMENTS; both give the same analysis (same warnings in the same order)."""
    from sirtkit import _concurrent
    from sirtkit.outcomes import analysis as an
    from sirtkit.outcomes.synthetic import synthetic_cohort

    monkeypatch.setattr(_concurrent, "_enabled", True)  # as the sirtkit command does (_concurrent.enable)
    data = synthetic_cohort(120, rng=8)
    forked = an.analyse_cohort(data, n_bootstrap=40, rng=2)
    monkeypatch.setattr(an, "WORKER_MAX_MEASUREMENTS", 0)
    inline = an.analyse_cohort(data, n_bootstrap=40, rng=2)
    assert forked.warnings == inline.warnings
    assert forked.dose_response == inline.dose_response
    assert forked.rates_by_criteria.equals(inline.rates_by_criteria) and len(forked.rates_by_criteria) > 1
    assert forked.lesion_doses.equals(inline.lesion_doses)
