"""Proportions with exact (Clopper–Pearson) confidence intervals; objective-response and disease-control rates.

Definitions (Frilling et al. 2019, NELM radioembolization systematic review): **ORR = (CR + PR) / N** and
**DCR = (CR + PR + SD) / N**, where N counts every evaluable patient (patients whose best response is NE
are kept in N unless ``exclude_not_evaluable`` is set, as the intention-to-treat denominator).

>>> p = proportion(16, 100)
>>> round(p.percent, 1), round(p.ci_low, 4), round(p.ci_high, 4)
(16.0, 0.0943, 0.2468)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scipy import stats

from sirtkit.errors import InputError

__all__ = ["DEFAULT_CONFIDENCE", "Proportion", "ResponseRates", "clopper_pearson", "proportion", "response_rates"]

#: Two-sided confidence level used for every interval unless a caller asks otherwise (convention).
DEFAULT_CONFIDENCE = 0.95

#: Response categories counted in ORR and DCR (Frilling 2019; Eisenhauer 2009, EJC 45:228).
ORR_CATEGORIES = frozenset({"CR", "PR"})
DCR_CATEGORIES = frozenset({"CR", "PR", "SD"})


def clopper_pearson(count: int, total: int, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Exact binomial (Clopper–Pearson) interval for ``count`` successes in ``total`` trials.

    Parameters
    ----------
    count, total : int
        Successes and trials, ``0 <= count <= total``, ``total >= 1``.
    confidence : float
        Two-sided level in (0, 1).

    Returns
    -------
    tuple of float
        ``(low, high)`` as fractions 0–1; ``low = 0`` when ``count = 0`` and ``high = 1`` when
        ``count = total``.

    Raises
    ------
    InputError
        If the counts are impossible or the level is outside (0, 1).

    References
    ----------
    Clopper CJ, Pearson ES. Biometrika 1934;26:404–413 (beta-quantile form).

    Examples
    --------
    >>> tuple(round(x, 4) for x in clopper_pearson(32, 36))
    (0.7394, 0.9689)
    """
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence = {confidence} must lie in (0, 1), for example 0.95")
    if total < 1 or count < 0 or count > total:
        raise InputError(f"count = {count} of total = {total}: need 0 <= count <= total and total >= 1")
    alpha = 1.0 - confidence
    low = 0.0 if count == 0 else float(stats.beta.ppf(alpha / 2.0, count, total - count + 1))
    high = 1.0 if count == total else float(stats.beta.ppf(1.0 - alpha / 2.0, count + 1, total - count))
    return low, high


@dataclass(frozen=True)
class Proportion:
    """A count out of a total with its fraction (0–1) and exact confidence interval."""

    count: int
    total: int
    fraction: float
    ci_low: float
    ci_high: float
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def percent(self) -> float:
        """The fraction as a percentage (recomputed from the counts)."""
        return 100.0 * self.count / self.total


def proportion(count: int, total: int, confidence: float = DEFAULT_CONFIDENCE) -> Proportion:
    """Build a :class:`Proportion` with its Clopper–Pearson interval (see :func:`clopper_pearson`)."""
    low, high = clopper_pearson(count, total, confidence)
    return Proportion(count=int(count), total=int(total), fraction=count / total, ci_low=low, ci_high=high,
                      confidence=confidence)


@dataclass(frozen=True)
class ResponseRates:
    """Best-response counts with ORR and DCR."""

    counts: dict[str, int]
    orr: Proportion
    dcr: Proportion


def response_rates(best_responses: Iterable[str], *, exclude_not_evaluable: bool = False,
                   confidence: float = DEFAULT_CONFIDENCE) -> ResponseRates:
    """Objective-response and disease-control rates from one best response per patient.

    Parameters
    ----------
    best_responses : iterable of str
        One of ``CR, PR, SD, PD, NE`` per patient.
    exclude_not_evaluable : bool
        Drop NE patients from the denominator (default keeps them, intention to treat).
    confidence : float
        Two-sided level of the exact intervals.

    Raises
    ------
    InputError
        On an unknown category or an empty denominator.

    Examples
    --------
    >>> r = response_rates(["CR"] * 2 + ["PR"] * 14 + ["SD"] * 75 + ["PD"] * 9)
    >>> round(r.orr.percent, 1), round(r.dcr.percent, 1)
    (16.0, 91.0)
    """
    allowed = ("CR", "PR", "SD", "PD", "NE")
    counts = dict.fromkeys(allowed, 0)
    for value in best_responses:
        key = str(value)
        if key not in counts:
            raise InputError(f"best response {value!r} is not one of {', '.join(allowed)}")
        counts[key] += 1
    total = sum(counts.values()) - (counts["NE"] if exclude_not_evaluable else 0)
    if total < 1:
        raise InputError("no evaluable patients: ORR/DCR need at least one best response other than NE")
    orr = sum(counts[c] for c in ORR_CATEGORIES)
    dcr = sum(counts[c] for c in DCR_CATEGORIES)
    return ResponseRates(counts=counts, orr=proportion(orr, total, confidence),
                         dcr=proportion(dcr, total, confidence))
