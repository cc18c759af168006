"""Survival against R's survival package on datasets bundled with lifelines.

References (R 4.x, survival 3.x):

- ``survfit(Surv(time, status) ~ 1, data = lung)``: n = 228, events = 165, median 310, 0.95LCL 285, 0.95UCL 363.
- ``summary(survfit(...), times = 365)``: survival 0.409, lower 0.345, upper 0.486 (conf.type "log").
- ``survdiff(Surv(time, status) ~ sex, data = lung)``: sex=1 N 138 O 112 E 91.6; sex=2 N 90 O 53 E 73.4;
  Chisq = 10.3 on 1 df, p = 0.00131.
- ``coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = rossi)`` (Fox & Weisberg,
  "Cox Proportional-Hazards Regression for Survival Data in R", appendix): coef fin −0.37942, age −0.05744,
  race 0.31390, wexp −0.14980, mar −0.43370, paro −0.08487, prio 0.09150; se(coef) fin 0.19138,
  age 0.02200, race 0.30799, wexp 0.21222, mar 0.38187, paro 0.19576, prio 0.02865; likelihood-ratio
  test 33.27 on 7 df.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung, load_rossi

from sirtkit.errors import InputError
from sirtkit.outcomes.survival import (
    cox_regression,
    kaplan_meier,
    logrank_test,
    survival_at,
    univariable_cox,
)


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    return load_lung()


def test_km_lung_median_and_ci_match_r(lung: pd.DataFrame) -> None:
    """R survfit lung: median 310 (285–363), 165 events of 228; exact day values."""
    km = kaplan_meier(lung["time"], lung["status"])
    assert (km.n, km.n_events_total) == (228, 165)
    assert km.median == 310.0
    assert km.median_ci == (285.0, 363.0)


def test_km_lung_one_year_survival_matches_r(lung: pd.DataFrame) -> None:
    """R summary(fit, times = 365): 0.409 (0.345–0.486), n.risk 65; tolerance 5e-4 absolute (R prints 3 d.p.)."""
    row = survival_at(kaplan_meier(lung["time"], lung["status"]), [365]).iloc[0]
    assert row["survival"] == pytest.approx(0.409, abs=5e-4)
    assert row["ci_low"] == pytest.approx(0.345, abs=5e-4)
    assert row["ci_high"] == pytest.approx(0.486, abs=5e-4)
    assert row["n_at_risk"] == 65


def test_km_matches_lifelines_estimate_and_loglog_band(lung: pd.DataFrame) -> None:
    """Our estimator equals lifelines' product limit; the log-log band equals lifelines' default band."""
    km = kaplan_meier(lung["time"], lung["status"], conf_type="log-log")
    kmf = KaplanMeierFitter().fit(lung["time"], lung["status"])
    sf = kmf.survival_function_.iloc[1:, 0].to_numpy()
    np.testing.assert_allclose(km.survival, sf, rtol=1e-12)
    ci = kmf.confidence_interval_.iloc[1:].to_numpy()
    ok = np.isfinite(km.ci_low) & (km.survival > 0)
    np.testing.assert_allclose(km.ci_low[ok], ci[ok, 0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(km.ci_high[ok], ci[ok, 1], rtol=1e-9, atol=1e-12)


def test_logrank_lung_sex_matches_r(lung: pd.DataFrame) -> None:
    """R survdiff: chi-square 10.3 (1 df), p 0.00131; O/E 112/91.6 and 53/73.4. Tolerance 1e-3 relative."""
    lr = logrank_test(lung["time"], lung["status"], lung["sex"])
    assert lr.df == 1
    assert lr.chi2 == pytest.approx(10.3267, rel=1e-3)
    assert lr.p_value == pytest.approx(0.00131, rel=1e-2)
    g = lr.groups.set_index("group")
    assert g.loc["1", "observed"] == 112 and g.loc["2", "observed"] == 53
    assert g.loc["1", "expected"] == pytest.approx(91.6, abs=0.05)
    assert g.loc["2", "expected"] == pytest.approx(73.4, abs=0.05)


def test_logrank_equals_lifelines_three_groups(lung: pd.DataFrame) -> None:
    """Our k-group statistic equals lifelines.statistics.multivariate_logrank_test (ph.ecog 0/1/2)."""
    from lifelines.statistics import multivariate_logrank_test

    d = lung.dropna(subset=["ph.ecog"])
    d = d[d["ph.ecog"] < 3]
    ours = logrank_test(d["time"], d["status"], d["ph.ecog"])
    ref = multivariate_logrank_test(d["time"], d["ph.ecog"], d["status"])
    assert ours.df == 2
    assert ours.chi2 == pytest.approx(ref.test_statistic, rel=1e-9)


def test_cox_rossi_matches_r() -> None:
    """R coxph on rossi (Efron ties): coefficients to 1e-3 relative, se to 1e-3, LR test 33.27."""
    rossi = load_rossi()
    res = cox_regression(rossi, "week", "arrest", ["fin", "age", "race", "wexp", "mar", "paro", "prio"])
    coef = {r.covariate: r.coef for r in res.rows}
    se = {r.covariate: r.se for r in res.rows}
    ref = {"fin": (-0.37942, 0.19138), "age": (-0.05744, 0.02200), "race": (0.31390, 0.30799),
           "wexp": (-0.14980, 0.21222), "mar": (-0.43370, 0.38187), "paro": (-0.08487, 0.19576),
           "prio": (0.09150, 0.02865)}
    for k, (c, s) in ref.items():
        assert coef[k] == pytest.approx(c, rel=1e-3, abs=2e-5)
        assert se[k] == pytest.approx(s, rel=1e-3, abs=2e-5)
    assert res.log_likelihood_ratio == pytest.approx(33.27, abs=0.01)
    fin = next(r for r in res.rows if r.covariate == "fin")
    assert fin.hazard_ratio == pytest.approx(np.exp(-0.37942), rel=1e-3)
    assert fin.ci_low < fin.hazard_ratio < fin.ci_high
    assert (res.n, res.n_events) == (432, 114)


def test_univariable_skips_constant() -> None:
    rossi = load_rossi().assign(const=1)
    out = univariable_cox(rossi, "week", "arrest", ["fin", "const"])
    assert list(out) == ["fin"]


def test_cox_errors() -> None:
    rossi = load_rossi()
    with pytest.raises(InputError, match="not in the data"):
        cox_regression(rossi, "week", "arrest", ["nope"])
    with pytest.raises(InputError, match="event"):
        cox_regression(rossi.assign(arrest=0), "week", "arrest", ["fin"])


def test_km_input_errors() -> None:
    with pytest.raises(InputError, match=">= 0"):
        kaplan_meier([-1, 2], [1, 1])
    with pytest.raises(InputError, match="1 \\(event\\)"):
        kaplan_meier([1, 2], [2, 1])
    with pytest.raises(InputError, match="two groups"):
        logrank_test([1, 2], [1, 1], ["a", "a"])


def test_median_midpoint_rule_when_curve_equals_half() -> None:
    """S = 0.5 exactly over [2, 3): R takes the midpoint (2 + 3)/2 = 2.5."""
    km = kaplan_meier([1, 2, 3, 4], [0, 1, 1, 0])
    # S: t1 1.0 (censor), t2 2/3, t3 1/3 → median 3 (no exact 0.5)
    assert km.median == 3.0
    km2 = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    assert km2.median == 2.5


def test_no_median_when_curve_stays_above_half() -> None:
    km = kaplan_meier([1, 2, 3, 4, 5], [1, 0, 0, 0, 0])
    assert km.median is None
    assert km.median_ci[1] is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.1, 100), st.integers(0, 1)), min_size=2, max_size=60))
def test_km_invariants(rows: list[tuple[float, int]]) -> None:
    """Survival is non-increasing in [0, 1]; the band brackets the estimate; at-risk counts decrease."""
    d = [r[0] for r in rows]
    e = [r[1] for r in rows]
    km = kaplan_meier(d, e)
    assert np.all(np.diff(km.survival) <= 1e-12)
    assert np.all((km.survival >= 0) & (km.survival <= 1))
    ok = np.isfinite(km.ci_low)
    assert np.all(km.ci_low[ok] <= km.survival[ok] + 1e-12)
    assert np.all(km.ci_high[ok] >= km.survival[ok] - 1e-12)
    assert np.all(np.diff(km.n_at_risk) < 0)
    assert km.at_risk([0.0])[0] == len(rows)


def _lifelines_tight(df: pd.DataFrame, t: str, e: str, cov: list[str]) -> pd.DataFrame:
    """lifelines CoxPHFitter (Efron) with a tight stopping rule, as the reference fitter."""
    from lifelines import CoxPHFitter

    cph = CoxPHFitter()
    cph.fit(df[[t, e, *cov]], duration_col=t, event_col=e, fit_options={"precision": 1e-12})
    return cph.summary


@pytest.mark.parametrize("dataset", ["rossi", "lung", "synthetic"])
def test_vectorised_efron_equals_lifelines(dataset: str) -> None:
    """The vectorised Efron Newton–Raphson equals lifelines' CoxPHFitter (Efron ties) on the validation data.

    rossi (432 subjects, many tied weeks), lung (complete cases, 167) and a synthetic 2 000-patient cohort
    (binary covariates, times in whole days: heavy ties). Tolerance: coefficients 1e-7 absolute, standard
    errors 1e-7 relative, log-likelihood-ratio statistic 1e-6 absolute (lifelines run to precision 1e-12).
    """
    if dataset == "rossi":
        df, t, e = load_rossi(), "week", "arrest"
        cov = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    elif dataset == "lung":
        df, t, e = load_lung().dropna(), "time", "status"
        cov = ["age", "sex", "ph.ecog", "ph.karno", "pat.karno", "meal.cal", "wt.loss"]
    else:
        from sirtkit.outcomes.analysis import _covariate_frame
        from sirtkit.outcomes.cohort import derive_endpoints
        from sirtkit.outcomes.synthetic import synthetic_cohort

        data = synthetic_cohort(2000, rng=4)
        df = derive_endpoints(data).merge(_covariate_frame(data.patients), on="patient_id").dropna(
            subset=["child_pugh_b_or_c", "lymph_node_metastases", "ecog_1_or_more", "prior_prrt"])
        t, e = "os_months", "os_event"
        cov = ["child_pugh_b_or_c", "lymph_node_metastases", "ecog_1_or_more", "prior_prrt"]
    ours = cox_regression(df, t, e, cov)
    ref = _lifelines_tight(df.astype({e: float}), t, e, cov)
    via_lifelines = cox_regression(df, t, e, cov, method="lifelines")
    for row in ours.rows:
        assert row.coef == pytest.approx(ref.loc[row.covariate, "coef"], abs=1e-7)
        assert row.se == pytest.approx(ref.loc[row.covariate, "se(coef)"], rel=1e-7)
        assert row.p_value == pytest.approx(ref.loc[row.covariate, "p"], rel=1e-5, abs=1e-12)
    assert ours.log_likelihood_ratio == pytest.approx(via_lifelines.log_likelihood_ratio, abs=1e-6)
    assert ours.concordance == pytest.approx(via_lifelines.concordance, abs=1e-9)


def test_efron_divergent_group_without_events_reports_no_interval() -> None:
    """A covariate whose group has no event: the likelihood is monotone, the coefficient diverges; no
    interval, a warning that says why."""
    df = pd.DataFrame({"t": np.arange(1.0, 41.0), "e": [1] * 20 + [0] * 20, "x": [0] * 20 + [1] * 20})
    res = cox_regression(df, "t", "e", ["x"])
    assert np.isnan(res.rows[0].ci_low) and np.isnan(res.rows[0].ci_high)
    assert res.warnings and "did not converge" in res.warnings[0]
