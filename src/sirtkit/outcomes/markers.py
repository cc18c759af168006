"""Tumour-marker (chromogranin A, 5-HIAA) and carcinoid-syndrome symptom response.

.. warning::
   No single consensus definition of biochemical or symptomatic response after radioembolization was
   found in a primary NET source while writing this module. The thresholds below are field conventions
   (**[K] in CLINICAL.md**): ≥ 50 % marker decrease = partial response, normalisation from above the upper
   limit of normal = complete response, ≥ 25 % increase = progression (the percentages mirror the
   partial/complete/none grouping reported for CgA and 5-HIAA in J Gastroenterol Hepatol 2017;32:1617).
   Symptom response: resolution = complete; ≥ 50 % fewer flushing episodes or ≥ 30 % fewer bowel movements
   per day = improved (the 30 % bowel-movement reduction is the response definition of the TELESTAR trial,
   Kulke MH et al., J Clin Oncol 2017;35:14). All are named, configurable rules; state the rule with results.

>>> marker_category(400.0, 150.0, uln=100.0)
'partial'
>>> marker_category(400.0, 90.0, uln=100.0)
'complete'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sirtkit.errors import InputError
from sirtkit.outcomes.rates import DEFAULT_CONFIDENCE, Proportion, proportion

__all__ = [
    "DEFAULT_MARKER_RULE",
    "DEFAULT_SYMPTOM_RULE",
    "MarkerRule",
    "SymptomRule",
    "marker_category",
    "marker_responses",
    "symptom_response_rate",
    "symptom_responses",
]


@dataclass(frozen=True)
class MarkerRule:
    """Biochemical response thresholds as fractions of the baseline value [K]."""

    partial_decrease_fraction: float = 0.50
    progression_increase_fraction: float = 0.25
    complete_requires_normalisation: bool = True
    source: str = "[K] field convention (see module docstring); J Gastroenterol Hepatol 2017;32:1617 categories"


@dataclass(frozen=True)
class SymptomRule:
    """Carcinoid-syndrome response thresholds [K]."""

    flushing_decrease_fraction: float = 0.50
    bowel_decrease_fraction: float = 0.30
    complete_max_bowel_movements_per_day: float = 3.0
    worse_increase_fraction: float = 0.50
    source: str = "[K]; bowel-movement 30 % from TELESTAR (Kulke JCO 2017;35:14)"


DEFAULT_MARKER_RULE = MarkerRule()
DEFAULT_SYMPTOM_RULE = SymptomRule()

MARKER_CATEGORIES = ("complete", "partial", "stable", "progression")


def marker_category(baseline: float, followup: float, *, uln: float | None = None,
                    rule: MarkerRule = DEFAULT_MARKER_RULE) -> str:
    """Response category of one marker from its baseline and best (lowest) follow-up value.

    Returns
    -------
    str
        ``complete`` (normalised from above ULN, and a partial decrease), ``partial``, ``stable`` or
        ``progression``.

    Raises
    ------
    InputError
        If the baseline is not positive.
    """
    if not baseline > 0:
        raise InputError(f"marker baseline {baseline} must be > 0 to compute a relative change")
    return str(_categories(np.array([baseline], float), np.array([followup], float),
                           np.array([np.nan if uln is None else uln], float), rule)[0])


def _categories(base: np.ndarray, best: np.ndarray, uln: np.ndarray, rule: MarkerRule) -> np.ndarray:
    change = (best - base) / base
    out = np.full(base.shape, "stable", dtype=object)
    out[change <= -rule.partial_decrease_fraction + 1e-12] = "partial"
    normalised = np.isfinite(uln) & (base > uln) & (best <= uln)
    out[(out == "partial") & normalised] = "complete"
    out[change >= rule.progression_increase_fraction - 1e-12] = "progression"
    return out


def marker_responses(labs: pd.DataFrame, first_sirt_date: pd.Series, test: str, *,
                     rule: MarkerRule = DEFAULT_MARKER_RULE) -> pd.DataFrame:
    """Per-patient marker response: baseline = last value on/before first SIRT; best = lowest value after.

    Parameters
    ----------
    labs : DataFrame
        Template ``labs`` table.
    first_sirt_date : Series
        First SIRT date indexed by patient_id.
    test : str
        ``cga`` or ``5hiaa`` (any test name in the table works).

    Returns
    -------
    DataFrame
        ``patient_id``, ``baseline``, ``best``, ``change_fraction``, ``category`` (patients with a positive
        baseline and at least one follow-up value).
    """
    part = labs[labs["test"] == test][["patient_id", "date", "value", "uln"]].copy()
    part["first"] = part["patient_id"].map(first_sirt_date)
    pre = part[part["date"] <= part["first"]].sort_values("date").groupby("patient_id").last()
    post = part[part["date"] > part["first"]].groupby("patient_id")["value"].min()
    df = pd.DataFrame({"baseline": pre["value"], "uln": pre["uln"]}).join(post.rename("best"), how="inner")
    df = df[df["baseline"] > 0]
    cat = _categories(df["baseline"].to_numpy(float), df["best"].to_numpy(float), df["uln"].to_numpy(float), rule)
    df["change_fraction"] = (df["best"] - df["baseline"]) / df["baseline"]
    df["category"] = cat
    df.index.name = "patient_id"
    return df.reset_index()[["patient_id", "baseline", "best", "change_fraction", "category"]]


def symptom_responses(symptoms: pd.DataFrame, first_sirt_date: pd.Series, *,
                      rule: SymptomRule = DEFAULT_SYMPTOM_RULE) -> pd.DataFrame:
    """Carcinoid-syndrome response: baseline = last diary entry on/before first SIRT; follow-up = last after.

    Returns
    -------
    DataFrame
        ``patient_id``, ``flushing_change_fraction``, ``bowel_change_fraction``, ``category``
        (``complete``, ``improved``, ``stable``, ``worse``).

    Examples
    --------
    >>> s = pd.DataFrame({"patient_id": ["a", "a"], "date": pd.to_datetime(["2020-01-01", "2020-04-01"]),
    ...                   "flushing_per_day": [6.0, 2.0], "bowel_movements_per_day": [8.0, 7.0]})
    >>> symptom_responses(s, pd.Series({"a": pd.Timestamp("2020-01-05")}))["category"].tolist()
    ['improved']
    """
    s = symptoms.copy()
    s["first"] = s["patient_id"].map(first_sirt_date)
    cols = ["flushing_per_day", "bowel_movements_per_day"]
    pre = s[s["date"] <= s["first"]].sort_values("date").groupby("patient_id")[cols].last()
    post = s[s["date"] > s["first"]].sort_values("date").groupby("patient_id")[cols].last()
    df = pre.join(post, lsuffix="_0", rsuffix="_1", how="inner")
    f0, f1 = df["flushing_per_day_0"].to_numpy(float), df["flushing_per_day_1"].to_numpy(float)
    b0, b1 = df["bowel_movements_per_day_0"].to_numpy(float), df["bowel_movements_per_day_1"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        fc = np.where(f0 > 0, (f1 - f0) / f0, np.nan)
        bc = np.where(b0 > 0, (b1 - b0) / b0, np.nan)
    cat = np.full(len(df), "stable", dtype=object)
    improved = (fc <= -rule.flushing_decrease_fraction + 1e-12) | (bc <= -rule.bowel_decrease_fraction + 1e-12)
    cat[improved] = "improved"
    complete = (np.nan_to_num(f1, nan=0.0) == 0) & (np.nan_to_num(b1, nan=0.0)
                                                    <= rule.complete_max_bowel_movements_per_day) & (
        (np.nan_to_num(f0) > 0) | (np.nan_to_num(b0) > rule.complete_max_bowel_movements_per_day))
    cat[complete] = "complete"
    worse = ((fc >= rule.worse_increase_fraction - 1e-12) | (bc >= rule.worse_increase_fraction - 1e-12)) & ~improved
    cat[worse] = "worse"
    out = pd.DataFrame({"patient_id": df.index, "flushing_change_fraction": fc, "bowel_change_fraction": bc,
                        "category": cat})
    return out.reset_index(drop=True)


#: Symptom categories counted as a symptomatic response (complete or improved, :class:`SymptomRule`).
SYMPTOM_RESPONSE_CATEGORIES = ("complete", "improved")


def symptom_response_rate(responses: pd.DataFrame, *, confidence: float = DEFAULT_CONFIDENCE) -> Proportion | None:
    """Carcinoid-syndrome response rate with its exact (Clopper–Pearson) interval.

    Responders are the patients whose category is ``complete`` or ``improved`` (:func:`symptom_responses`)
    over every patient with a baseline and a follow-up diary entry. ``None`` when no patient qualifies.

    References
    ----------
    Clopper CJ, Pearson ES. Biometrika 1934;26:404–413.

    Examples
    --------
    >>> df = pd.DataFrame({"category": ["complete", "improved", "stable", "worse"] * 5 + ["improved"] * 3})
    >>> p = symptom_response_rate(df)
    >>> p.count, p.total, round(p.ci_low, 4), round(p.ci_high, 4)
    (13, 23, 0.3449, 0.7681)
    """
    n = len(responses)
    if n == 0:
        return None
    k = int(responses["category"].isin(SYMPTOM_RESPONSE_CATEGORIES).sum())
    return proportion(k, n, confidence)
