"""Dose–response: logistic regression (own IRLS maximum likelihood, Wald CI), ROC/AUC and the Youden
threshold with a seeded bootstrap CI.

Used for per-lesion tumour absorbed dose against response and normal-liver dose against toxicity.
No NELM-specific dose threshold is established (CLINICAL.md §4.4): the threshold found here describes
the cohort analysed and is not a prescription.

>>> fit = logistic_fit([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1])
>>> round(fit.slope, 3)
1.214

References
----------
McCullagh P, Nelder JA. Generalized Linear Models, 2nd ed. 1989 (IRLS, Wald intervals).
Hanley JA, McNeil BJ. Radiology 1982;143:29 (AUC = Mann–Whitney U / n₁n₀). Youden WJ. Cancer 1950;3:32.
Efron B, Tibshirani R. An Introduction to the Bootstrap. 1993 (percentile interval).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from sirtkit.errors import InputError

__all__ = ["LogisticFit", "Roc", "YoudenThreshold", "logistic_fit", "roc_curve", "youden_threshold"]

logger = logging.getLogger(__name__)

_MAX_ITER = 100
_TOL = 1e-10
#: |linear predictor| above which the fit is treated as separated (probabilities within 1e-13 of 0 or 1).
_SEPARATION_ETA = 30.0


@dataclass(frozen=True)
class LogisticFit:
    """``P(y = 1 | x) = 1 / (1 + exp(-(intercept + slope · x')))`` with ``x' = log(x)`` if ``log_x``."""

    intercept: float
    slope: float
    covariance: np.ndarray
    n: int
    n_events: int
    log_x: bool
    converged: bool
    confidence: float = 0.95

    @property
    def slope_se(self) -> float:
        """Standard error of the slope."""
        return float(np.sqrt(self.covariance[1, 1]))

    @property
    def slope_ci(self) -> tuple[float, float]:
        """Wald interval of the slope."""
        z = stats.norm.ppf(0.5 + self.confidence / 2.0)
        return self.slope - z * self.slope_se, self.slope + z * self.slope_se

    @property
    def slope_p_value(self) -> float:
        """Two-sided Wald p-value of the slope."""
        return float(2.0 * stats.norm.sf(abs(self.slope / self.slope_se)))

    @property
    def odds_ratio(self) -> float:
        """Odds ratio per unit of x (per e-fold of x when ``log_x``)."""
        return float(np.exp(self.slope))

    def predict(self, x: npt.ArrayLike) -> np.ndarray:
        """Predicted probability at ``x``."""
        xx = np.asarray(x, dtype=float)
        xx = np.log(xx) if self.log_x else xx
        return special.expit(self.intercept + self.slope * xx)

    def x_at_probability(self, probability: float = 0.5) -> tuple[float, float, float]:
        """x at which the fitted probability equals ``probability`` (e.g. D50), with a delta-method CI.

        Returns
        -------
        tuple of float
            ``(x, ci_low, ci_high)``; for ``log_x`` the interval is computed on log x and exponentiated.
        """
        if not 0 < probability < 1:
            raise InputError(f"probability {probability} must lie in (0, 1)")
        if self.slope == 0:
            raise InputError("slope is 0: the probability does not depend on x")
        logit = np.log(probability / (1 - probability))
        t = (logit - self.intercept) / self.slope
        grad = np.array([-1.0 / self.slope, -(logit - self.intercept) / self.slope ** 2])
        se = float(np.sqrt(grad @ self.covariance @ grad))
        z = stats.norm.ppf(0.5 + self.confidence / 2.0)
        lo, hi = t - z * se, t + z * se
        if self.log_x:
            return float(np.exp(t)), float(np.exp(lo)), float(np.exp(hi))
        return float(t), float(lo), float(hi)


def logistic_fit(x: npt.ArrayLike, y: npt.ArrayLike, *, log_x: bool = False,
                 confidence: float = 0.95) -> LogisticFit:
    """Maximum-likelihood logistic regression of a 0/1 outcome on one covariate (IRLS / Newton).

    Parameters
    ----------
    x : array-like of float
        Covariate (e.g. tumour absorbed dose in Gy); must be > 0 when ``log_x``.
    y : array-like of int
        Outcome 0/1 (e.g. lesion response).
    log_x : bool
        Regress on ``log(x)``.
    confidence : float
        Level of the Wald intervals.

    Raises
    ------
    InputError
        With fewer than 3 observations, an outcome without both 0 and 1, a constant x, non-positive x
        with ``log_x``, or complete separation (no finite maximum likelihood estimate).
    """
    xx = np.asarray(x, dtype=float)
    yy = np.asarray(y, dtype=float)
    keep = np.isfinite(xx) & np.isfinite(yy)
    xx, yy = xx[keep], yy[keep]
    if xx.size < 3:
        raise InputError(f"logistic fit needs >= 3 observations with x and y; got {xx.size}")
    if not np.all(np.isin(yy, (0.0, 1.0))):
        raise InputError("logistic fit: y must be 0 or 1")
    if yy.min() == yy.max():
        raise InputError("logistic fit: the outcome has a single value; need both 0 and 1")
    if log_x:
        if np.any(xx <= 0):
            raise InputError("logistic fit on log(x): every x must be > 0")
        xx = np.log(xx)
    if np.ptp(xx) == 0:
        raise InputError("logistic fit: x is constant")
    design = np.column_stack([np.ones_like(xx), xx])
    beta = np.array([np.log(yy.mean() / (1 - yy.mean())), 0.0])
    converged = False
    ll_old = -np.inf
    for _ in range(_MAX_ITER):
        eta = design @ beta
        p = special.expit(eta)
        w = np.clip(p * (1 - p), 1e-12, None)
        info = design.T @ (design * w[:, None])
        score = design.T @ (yy - p)
        step = np.linalg.solve(info, score)
        # step halving keeps the likelihood increasing
        for _h in range(30):
            nb = beta + step
            neta = design @ nb
            ll = float(np.sum(yy * neta - np.logaddexp(0.0, neta)))
            if ll >= ll_old - 1e-12:
                break
            step = step / 2.0
        beta = nb
        if abs(ll - ll_old) < _TOL * (1 + abs(ll)):
            converged = True
            ll_old = ll
            break
        ll_old = ll
    eta = design @ beta
    if np.max(np.abs(eta)) > _SEPARATION_ETA and np.all((eta > 0) == (yy == 1)):
        raise InputError("logistic fit: complete separation (one x threshold splits the outcome perfectly); "
                         "no finite estimate exists — report the ROC threshold instead")
    p = special.expit(eta)
    info = design.T @ (design * (p * (1 - p))[:, None])
    cov = np.linalg.inv(info)
    if not converged:
        logger.warning("logistic fit did not converge in %d iterations", _MAX_ITER)
    return LogisticFit(intercept=float(beta[0]), slope=float(beta[1]), covariance=cov, n=int(xx.size),
                       n_events=int(yy.sum()), log_x=log_x, converged=converged, confidence=confidence)


@dataclass(frozen=True)
class Roc:
    """Receiver operating characteristic: a positive call is ``score >= threshold``."""

    thresholds: np.ndarray
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float
    n_positive: int
    n_negative: int


def _check_binary(scores: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[
        np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=float)
    keep = np.isfinite(s) & np.isfinite(y)
    s, y = s[keep], y[keep]
    if not np.all(np.isin(y, (0.0, 1.0))):
        raise InputError("ROC: labels must be 0 or 1")
    if y.sum() == 0 or y.sum() == y.size:
        raise InputError("ROC needs both positive (1) and negative (0) labels")
    return s, y.astype(bool)


def _auc(s: np.ndarray, y: np.ndarray) -> float:
    ranks = stats.rankdata(s)
    n1 = int(y.sum())
    n0 = y.size - n1
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def roc_curve(scores: npt.ArrayLike, labels: npt.ArrayLike) -> Roc:
    """ROC curve and AUC (ties handled by mid-ranks, AUC = P(score₊ > score₋) + ½ P(tie)).

    Examples
    --------
    >>> roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]).auc
    0.75
    """
    s, y = _check_binary(scores, labels)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    distinct = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]
    tp = np.cumsum(y_sorted)[distinct]
    fp = (distinct + 1) - tp
    n1, n0 = int(y.sum()), int((~y).sum())
    thresholds = np.r_[np.inf, s_sorted[distinct]]
    return Roc(thresholds=thresholds, fpr=np.r_[0.0, fp / n0], tpr=np.r_[0.0, tp / n1], auc=_auc(s, y),
               n_positive=n1, n_negative=n0)


@dataclass(frozen=True)
class YoudenThreshold:
    """The score maximising sensitivity + specificity − 1, with bootstrap percentile CIs."""

    threshold: float
    sensitivity: float
    specificity: float
    youden_j: float
    ci_low: float
    ci_high: float
    auc: float
    auc_ci_low: float
    auc_ci_high: float
    n_bootstrap: int
    confidence: float


def _youden(s: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    roc = roc_curve(s, y)
    j = roc.tpr - roc.fpr
    i = int(np.argmax(j[1:]) + 1)
    return float(roc.thresholds[i]), float(roc.tpr[i]), float(1.0 - roc.fpr[i])


def _weighted_youden_auc(starts: np.ndarray, values: np.ndarray, w_pos: np.ndarray,
                         w_neg: np.ndarray) -> tuple[float, float]:
    """Youden threshold and AUC of a resample given as per-observation counts on pre-sorted scores."""
    return _grouped_youden_auc(values, np.add.reduceat(w_pos, starts), np.add.reduceat(w_neg, starts))


def _grouped_youden_auc(values: np.ndarray, gp: np.ndarray, gn: np.ndarray) -> tuple[float, float]:
    """Youden threshold and AUC from per-tie-group positive / negative counts (groups by descending score)."""
    n1, n0 = gp.sum(), gn.sum()
    tp, fp = np.cumsum(gp), np.cumsum(gn)
    i = int(np.argmax(tp / n1 - fp / n0))
    neg_below = n0 - fp
    auc = float(np.sum(gp * (neg_below + 0.5 * gn)) / (n1 * n0))
    return float(values[i]), auc


def youden_threshold(scores: npt.ArrayLike, labels: npt.ArrayLike, *,
                     n_bootstrap: int = 1000, confidence: float = 0.95,
                     rng: np.random.Generator | int | None = None) -> YoudenThreshold:
    """Youden-optimal threshold of ``scores`` for ``labels`` with a percentile bootstrap CI.

    Parameters
    ----------
    scores : array-like of float
        E.g. tumour absorbed dose (Gy); a positive call is ``score >= threshold``.
    labels : array-like of int
        1 = positive (e.g. responding lesion).
    n_bootstrap : int
        Bootstrap resamples (stratified by label, so each has both classes).
    confidence : float
        Level of the percentile intervals.
    rng : Generator, int or None
        Seed or generator (results are reproducible for a given seed).

    Examples
    --------
    >>> t = youden_threshold([10, 20, 30, 40, 50, 60], [0, 0, 0, 1, 1, 1], n_bootstrap=50, rng=0)
    >>> t.threshold, t.sensitivity, t.specificity
    (40.0, 1.0, 1.0)
    """
    s, y = _check_binary(scores, labels)
    if n_bootstrap < 10:
        raise InputError(f"n_bootstrap = {n_bootstrap}: use at least 10 (1000 recommended)")
    g = np.random.default_rng(rng)
    thr, sens, spec = _youden(s, y)
    # Resampling = integer weights on the observations; sort once, group ties once.
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    starts = np.r_[0, np.flatnonzero(np.diff(s_sorted)) + 1]
    values = s_sorted[starts]
    pos_idx = np.flatnonzero(y_sorted)
    neg_idx = np.flatnonzero(~y_sorted)
    # Tie group of each positive / negative observation: a resample's per-group counts are then one bincount
    # of the drawn indices' groups, the same integers as summing per-observation weights group by group
    # (``_weighted_youden_auc``), without two observation-length weight arrays per resample.
    group = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, s.size]))
    pos_group, neg_group = group[pos_idx], group[neg_idx]
    n_groups = starts.size
    boot_t = np.empty(n_bootstrap)
    boot_a = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        gp = np.bincount(pos_group[g.integers(0, pos_idx.size, pos_idx.size)], minlength=n_groups)
        gn = np.bincount(neg_group[g.integers(0, neg_idx.size, neg_idx.size)], minlength=n_groups)
        boot_t[b], boot_a[b] = _grouped_youden_auc(values, gp.astype(float), gn.astype(float))
    a = (1.0 - confidence) / 2.0
    return YoudenThreshold(threshold=thr, sensitivity=sens, specificity=spec, youden_j=sens + spec - 1.0,
                           ci_low=float(np.quantile(boot_t, a)), ci_high=float(np.quantile(boot_t, 1 - a)),
                           auc=_auc(s, y), auc_ci_low=float(np.quantile(boot_a, a)),
                           auc_ci_high=float(np.quantile(boot_a, 1 - a)), n_bootstrap=n_bootstrap,
                           confidence=confidence)
