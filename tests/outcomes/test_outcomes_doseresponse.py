"""Logistic MLE, ROC/AUC and Youden threshold.

Reference: R ``glm(vs ~ mpg, family = binomial, data = mtcars)`` (widely reproduced output):
(Intercept) −8.8331 (SE 3.1623), mpg 0.4304 (SE 0.1584), Pr(>|z|) for mpg 0.00659.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from sirtkit.errors import InputError
from sirtkit.outcomes.doseresponse import logistic_fit, roc_curve, youden_threshold

MTCARS_MPG = [21.0, 21.0, 22.8, 21.4, 18.7, 18.1, 14.3, 24.4, 22.8, 19.2, 17.8, 16.4, 17.3, 15.2, 10.4, 10.4, 14.7,
              32.4, 30.4, 33.9, 21.5, 15.5, 15.2, 13.3, 19.2, 27.3, 26.0, 30.4, 15.8, 19.7, 15.0, 21.4]
MTCARS_VS = [0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1]


def test_logistic_matches_r_glm_mtcars() -> None:
    """R glm on mtcars (module docstring); tolerance 1e-4 relative on coefficients and SEs."""
    f = logistic_fit(MTCARS_MPG, MTCARS_VS)
    assert f.intercept == pytest.approx(-8.8331, rel=1e-4)
    assert f.slope == pytest.approx(0.4304, rel=2e-4)
    se = np.sqrt(np.diag(f.covariance))
    assert se[0] == pytest.approx(3.1623, rel=1e-4)
    assert se[1] == pytest.approx(0.1584, rel=5e-4)
    assert f.slope_p_value == pytest.approx(0.00659, rel=1e-2)
    assert f.converged


def test_logistic_equals_generic_optimiser() -> None:
    """Independent check: scipy minimisation of the negative log-likelihood on log dose."""
    g = np.random.default_rng(3)
    x = g.lognormal(5, 0.6, 400)
    y = (g.random(400) < 1 / (1 + np.exp(-2 * (np.log(x) - 5)))).astype(int)
    f = logistic_fit(x, y, log_x=True)

    def nll(b: np.ndarray) -> float:
        eta = b[0] + b[1] * np.log(x)
        return float(np.sum(np.logaddexp(0, eta) - y * eta))

    ref = optimize.minimize(nll, [0.0, 0.0], method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose([f.intercept, f.slope], ref, rtol=1e-4)
    d50, lo, hi = f.x_at_probability(0.5)
    assert f.predict([d50])[0] == pytest.approx(0.5, abs=1e-12)
    assert lo < d50 < hi


def test_logistic_errors() -> None:
    with pytest.raises(InputError, match="separation"):
        logistic_fit([1, 2, 3, 4, 5, 6], [0, 0, 0, 1, 1, 1])
    with pytest.raises(InputError, match="single value"):
        logistic_fit([1, 2, 3], [1, 1, 1])
    with pytest.raises(InputError, match="> 0"):
        logistic_fit([0, 2, 3], [0, 1, 1], log_x=True)
    with pytest.raises(InputError, match=">= 3"):
        logistic_fit([1, 2], [0, 1])


def test_auc_equals_mann_whitney() -> None:
    """AUC = U / (n1 n0) (Hanley & McNeil 1982), ties counted one half."""
    g = np.random.default_rng(1)
    s = np.round(g.normal(0, 1, 300), 1)
    y = (g.random(300) < 0.4).astype(int)
    u = stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
    assert roc_curve(s, y).auc == pytest.approx(u / (y.sum() * (300 - y.sum())), rel=1e-12)


def test_roc_endpoints_and_monotone() -> None:
    roc = roc_curve([1, 2, 2, 3, 5], [0, 0, 1, 1, 1])
    assert (roc.fpr[0], roc.tpr[0], roc.fpr[-1], roc.tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(roc.fpr) >= 0) and np.all(np.diff(roc.tpr) >= 0)


def test_youden_seeded_and_bootstrap_matches_plain_resampling() -> None:
    g = np.random.default_rng(5)
    x = g.lognormal(5, 0.5, 200)
    y = (g.random(200) < 1 / (1 + np.exp(-3 * (np.log(x) - 5)))).astype(int)
    a = youden_threshold(x, y, n_bootstrap=200, rng=11)
    b = youden_threshold(x, y, n_bootstrap=200, rng=11)
    assert a == b
    assert a.ci_low <= a.threshold <= a.ci_high
    assert a.auc_ci_low <= a.auc <= a.auc_ci_high
    assert a.youden_j == pytest.approx(a.sensitivity + a.specificity - 1)
    with pytest.raises(InputError, match="n_bootstrap"):
        youden_threshold(x, y, n_bootstrap=5)


def test_youden_bootstrap_identical_to_per_observation_weights() -> None:
    """The grouped bootstrap (one bincount of tie groups per resample) gives bit-identical CIs to the
    per-observation weighting it replaced (same seeded draws, integer counts summed exactly); tied doses."""
    from sirtkit.outcomes.doseresponse import _weighted_youden_auc

    g = np.random.default_rng(3)
    x = np.round(g.lognormal(4.5, 0.6, 600), -1)  # many ties
    y = (g.random(600) < 1 / (1 + np.exp(-2 * (np.log(x + 1) - 4.5)))).astype(int)
    got = youden_threshold(x, y, n_bootstrap=300, rng=7)
    # reference: the earlier loop, observation-length weights per resample
    rng = np.random.default_rng(7)
    order = np.argsort(-x, kind="stable")
    xs, ys = x[order], y[order].astype(bool)
    starts = np.r_[0, np.flatnonzero(np.diff(xs)) + 1]
    pos, neg = np.flatnonzero(ys), np.flatnonzero(~ys)
    bt, ba = np.empty(300), np.empty(300)
    for b in range(300):
        wp, wn = np.zeros(x.size), np.zeros(x.size)
        wp[pos] = np.bincount(rng.integers(0, pos.size, pos.size), minlength=pos.size)
        wn[neg] = np.bincount(rng.integers(0, neg.size, neg.size), minlength=neg.size)
        bt[b], ba[b] = _weighted_youden_auc(starts, xs[starts], wp, wn)
    assert (got.ci_low, got.ci_high) == (float(np.quantile(bt, 0.025)), float(np.quantile(bt, 0.975)))
    assert (got.auc_ci_low, got.auc_ci_high) == (float(np.quantile(ba, 0.025)), float(np.quantile(ba, 0.975)))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.integers(0, 1)), min_size=4, max_size=80))
def test_auc_symmetry(rows: list[tuple[float, int]]) -> None:
    """Swapping labels gives 1 − AUC."""
    s = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    if y.min() == y.max():
        return
    assert roc_curve(s, y).auc + roc_curve(s, 1 - y).auc == pytest.approx(1.0, abs=1e-12)
