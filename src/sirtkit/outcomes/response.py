"""Tumour response: RECIST 1.1, mRECIST, EASL, WHO, Choi and modified Choi as data-driven criteria.

The criteria differ only in *what* is summed over the target lesions (longest diameter, product of two
perpendicular diameters, the viable/enhancing part of either) and in their thresholds, so each is one
row of :data:`CRITERIA` and one classifier serves them all. The overall (time-point) response combines
target, non-target and new lesions as in Eisenhauer 2009 Table 4 (Table 5 when there are no target
lesions); the best overall response follows RECIST 1.1 §4.4 with optional confirmation (Table 3).

Lymph nodes (RECIST 1.1 §3.1): a node's entry is its **short axis**; it counts as "gone" for CR when the
short axis is below 10 mm, and its short axis stays in the sum even then.

>>> target_response(100.0, 60.0, 72.0)   # +20 % and +12 mm over the nadir (CLINICAL.md W15)
<Response.PD: 'PD'>
>>> target_response(30.0, 20.0, 24.0)    # +20 % but only +4 mm: the 5 mm rule keeps SD
<Response.SD: 'SD'>

References
----------
Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised RECIST guideline
(version 1.1). Eur J Cancer 2009;45:228–247.
Lencioni R, Llovet JM. Modified RECIST (mRECIST) assessment for hepatocellular carcinoma.
Semin Liver Dis 2010;30:52–60.
Bruix J et al. (EASL) J Hepatol 2001;35:421–430. Miller AB et al. (WHO) Cancer 1981;47:207–214.
Choi H et al. J Clin Oncol 2007;25:1753–1759; modified Choi: Smith AD et al. AJR 2010;194:157–165.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sirtkit.errors import InputError

__all__ = [
    "CRITERIA",
    "MEASURE_COLUMNS",
    "RECIST_BASELINE_MAX_AGE_DAYS",
    "RECIST_MAX_TARGETS",
    "RECIST_MAX_TARGETS_PER_ORGAN",
    "RECIST_MEASURABLE_LESION_MM",
    "RECIST_MEASURABLE_NODE_SHORT_AXIS_MM",
    "RECIST_NODE_NORMAL_SHORT_AXIS_MM",
    "RESPONSE_ORDER",
    "Criteria",
    "NonTargetStatus",
    "Response",
    "assess_timepoints",
    "assess_timepoints_by_criteria",
    "best_overall_response",
    "best_overall_responses",
    "get_criteria",
    "overall_response",
    "response_baselines",
    "select_targets",
    "target_response",
    "target_selection_issues",
]


class Response(enum.StrEnum):
    """Time-point or best overall response category."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    #: Only non-target disease at baseline and neither CR nor PD (Eisenhauer 2009 Table 5).
    NON_CR_NON_PD = "NN"
    PD = "PD"
    NE = "NE"


class NonTargetStatus(enum.StrEnum):
    """Response of the non-target lesions at one time point (RECIST 1.1 §4.3.2)."""

    CR = "CR"
    NON_CR_NON_PD = "NN"
    PD = "PD"
    NE = "NE"
    #: No non-target lesion was recorded at baseline.
    NONE = "none"


#: Ranking used for "best" response: lower is better (RECIST 1.1 §4.4).
RESPONSE_ORDER: dict[Response, int] = {
    Response.CR: 0, Response.PR: 1, Response.SD: 2, Response.NON_CR_NON_PD: 2, Response.PD: 4, Response.NE: 5,
}

#: A lymph node with a short axis < 10 mm is normal (RECIST 1.1 §3.1, Eisenhauer 2009 p. 230).
RECIST_NODE_NORMAL_SHORT_AXIS_MM = 10.0
#: A measurable (non-nodal) lesion has a longest diameter >= 10 mm on CT (RECIST 1.1 §3.1.1, Eisenhauer 2009
#: p. 230; slice thickness <= 5 mm).
RECIST_MEASURABLE_LESION_MM = 10.0
#: A pathological lymph node is measurable (may be a target) with a short axis >= 15 mm; 10 to < 15 mm it is a
#: non-target (RECIST 1.1 §3.1.1 and §3.1.2, Eisenhauer 2009 p. 230).
RECIST_MEASURABLE_NODE_SHORT_AXIS_MM = 15.0
#: At most 5 target lesions in total ... (RECIST 1.1 §3.3.1, Eisenhauer 2009 p. 231).
RECIST_MAX_TARGETS = 5
#: ... and at most 2 per organ; all lymph nodes together count as one organ (RECIST 1.1 §3.3.1).
RECIST_MAX_TARGETS_PER_ORGAN = 2
#: Baseline imaging "as close as possible to the treatment start and never more than 4 weeks before the
#: beginning of the treatment" (RECIST 1.1 §3.2, Eisenhauer 2009 p. 230): older baselines are flagged.
RECIST_BASELINE_MAX_AGE_DAYS = 28.0

Measure = Literal["diameter", "product", "viable_diameter", "viable_product"]


@dataclass(frozen=True)
class Criteria:
    """One response criterion as data.

    Attributes
    ----------
    name : str
        Key in :data:`CRITERIA`.
    measure : {"diameter", "product", "viable_diameter", "viable_product"}
        What is summed over target lesions.
    pr_change_fraction : float
        Change from baseline (negative) at or below which the size criterion of PR is met.
    pd_change_fraction : float
        Change from the nadir (positive) at or above which PD is met.
    pd_absolute_mm : float or None
        Extra absolute increase of the sum over the nadir needed for PD (RECIST 1.1: 5 mm).
    density_pr_change_fraction : float or None
        Choi: decrease of mean attenuation (HU) from baseline that also gives PR.
    density_and_size : bool
        Modified Choi: PR needs *both* the size and the density decrease.
    node_short_axis_rule : bool
        Nodes count as gone below 10 mm short axis (RECIST 1.1); otherwise a lesion is gone at 0.
    source : str
        Citation of the thresholds.
    """

    name: str
    measure: Measure
    pr_change_fraction: float
    pd_change_fraction: float
    pd_absolute_mm: float | None
    density_pr_change_fraction: float | None
    density_and_size: bool
    node_short_axis_rule: bool
    source: str


#: The supported criteria (thresholds as in CLINICAL.md §8, sources in each row).
CRITERIA: dict[str, Criteria] = {
    "recist1.1": Criteria("recist1.1", "diameter", -0.30, 0.20, 5.0, None, False, True,
                          "Eisenhauer 2009, EJC 45:228, §4.3.1"),
    "mrecist": Criteria("mrecist", "viable_diameter", -0.30, 0.20, None, None, False, True,
                        "Lencioni & Llovet 2010, Semin Liver Dis 30:52, Table 1"),
    "easl": Criteria("easl", "viable_product", -0.50, 0.25, None, None, False, False,
                     "Bruix 2001, J Hepatol 35:421 (EASL); PMC6287184 Table 4"),
    "who": Criteria("who", "product", -0.50, 0.25, None, None, False, False,
                    "Miller 1981, Cancer 47:207 (WHO); PMC6287184 Table 4"),
    "choi": Criteria("choi", "diameter", -0.10, 0.10, None, -0.15, False, False,
                     "Choi 2007, JCO 25:1753; PMC5658474 Table 2"),
    "modified_choi": Criteria("modified_choi", "diameter", -0.10, 0.10, None, -0.15, True, False,
                              "Smith 2010, AJR 194:157 (modified Choi); Radiopaedia"),
}


_CRITERIA_ALIASES = {"recist": "recist1.1", "recist_1.1": "recist1.1", "recist11": "recist1.1",
                     "modified-choi": "modified_choi", "m-recist": "mrecist"}


def get_criteria(criteria: str | Criteria) -> Criteria:
    """The :class:`Criteria` for a key of :data:`CRITERIA` (aliases such as ``"recist"`` accepted).

    >>> get_criteria("RECIST").name
    'recist1.1'
    """
    if isinstance(criteria, Criteria):
        return criteria
    key = str(criteria).strip().lower().replace(" ", "")
    key = _CRITERIA_ALIASES.get(key, key)
    if key not in CRITERIA:
        raise InputError(f"response criteria {criteria!r} unknown; use one of {', '.join(CRITERIA)}")
    return CRITERIA[key]


def _classify(baseline: np.ndarray, nadir: np.ndarray, current: np.ndarray, all_gone: np.ndarray,
              density_change: np.ndarray, complete: np.ndarray, crit: Criteria) -> np.ndarray:
    """Vectorised target-lesion classification; returns an object array of Response values."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        change_base = np.where(baseline > 0, (current - baseline) / baseline, np.nan)
        inc_mm = current - nadir
        change_nadir = np.where(nadir > 0, inc_mm / nadir, np.where(inc_mm > 0, np.inf, 0.0))
    pd_size = change_nadir >= crit.pd_change_fraction - 1e-12
    if crit.pd_absolute_mm is not None:
        pd_size &= inc_mm >= crit.pd_absolute_mm - 1e-9
    pr_size = change_base <= crit.pr_change_fraction + 1e-12
    if crit.density_pr_change_fraction is not None:
        pr_density = density_change <= crit.density_pr_change_fraction + 1e-12
        pr_density = np.where(np.isnan(density_change), False, pr_density)
        pr = (pr_size & pr_density) if crit.density_and_size else (pr_size | pr_density)
        # Choi: size increase is PD only when the density criterion of PR is not met.
        pd_ = pd_size & ~pr_density
    else:
        pr = pr_size
        pd_ = pd_size
    out = np.empty(current.shape, dtype=object)
    out[:] = "SD"
    out[pr] = "PR"
    out[all_gone & complete] = "CR"
    out[pd_] = "PD"
    # Incomplete measurement: NE unless the measured part already proves PD (RECIST 1.1 §4.3.1 note).
    out[~complete & ~pd_] = "NE"
    out[np.isnan(current)] = "NE"
    return out


def target_response(baseline_sum: float, nadir_sum: float, current_sum: float, *, all_gone: bool = False,
                    density_change_fraction: float | None = None,
                    criteria: str | Criteria = "recist1.1") -> Response:
    """Target-lesion response at one time point from the sums (mm or mm²).

    Parameters
    ----------
    baseline_sum, nadir_sum, current_sum : float
        Sum at baseline, smallest sum so far (including baseline) and now, in the unit of the
        criterion's measure (mm for diameters, mm² for products).
    all_gone : bool
        Every target lesion has disappeared although the sum is not zero: only needed when target lymph
        nodes remain in the sum with a short axis < 10 mm (RECIST/mRECIST). A ``current_sum`` of zero means
        every target is gone by itself (RECIST 1.1 §4.3.1: CR is the disappearance of all target lesions).
    density_change_fraction : float, optional
        Choi only: change of mean target attenuation (HU) from baseline, e.g. -0.2.
    criteria : str or Criteria
        Key of :data:`CRITERIA` (``recist1.1``, ``mrecist``, ``easl``, ``who``, ``choi``, ``modified_choi``).

    Returns
    -------
    Response
        CR, PR, SD or PD.

    Raises
    ------
    InputError
        On negative sums, a nadir above the baseline or unknown criteria.

    Examples
    --------
    >>> target_response(100.0, 100.0, 70.0)
    <Response.PR: 'PR'>
    >>> target_response(100.0, 100.0, 95.0, density_change_fraction=-0.2, criteria="choi")
    <Response.PR: 'PR'>
    >>> target_response(100.0, 60.0, 0.0)   # a zero sum: every target is gone
    <Response.CR: 'CR'>
    """
    crit = get_criteria(criteria)
    if min(baseline_sum, nadir_sum, current_sum) < 0:
        raise InputError(f"lesion sums must be >= 0 (baseline {baseline_sum}, nadir {nadir_sum}, "
                         f"current {current_sum})")
    if nadir_sum > baseline_sum + 1e-9:
        raise InputError(f"nadir sum {nadir_sum} exceeds baseline sum {baseline_sum}: the nadir includes baseline")
    dens = np.array([np.nan if density_change_fraction is None else density_change_fraction])
    gone = bool(all_gone) or current_sum == 0.0
    res = _classify(np.array([baseline_sum], float), np.array([nadir_sum], float),
                    np.array([current_sum], float), np.array([gone]), dens, np.array([True]), crit)
    return Response(res[0])


# Eisenhauer 2009 Table 4 (target, non-target) → overall, when no new lesion.
_TABLE4: dict[tuple[Response, NonTargetStatus], Response] = {}
for _nt in NonTargetStatus:
    for _t in (Response.CR, Response.PR, Response.SD, Response.NE, Response.PD):
        if _t is Response.PD or _nt is NonTargetStatus.PD:
            _r = Response.PD
        elif _t is Response.CR:
            _r = Response.CR if _nt in (NonTargetStatus.CR, NonTargetStatus.NONE) else Response.PR
        elif _t is Response.PR:
            _r = Response.PR
        elif _t is Response.SD:
            _r = Response.SD
        else:
            _r = Response.NE
        _TABLE4[(_t, _nt)] = _r
# Table 5: no target lesions.
_TABLE5: dict[NonTargetStatus, Response] = {
    NonTargetStatus.CR: Response.CR, NonTargetStatus.NON_CR_NON_PD: Response.NON_CR_NON_PD,
    NonTargetStatus.NE: Response.NE, NonTargetStatus.PD: Response.PD, NonTargetStatus.NONE: Response.NE,
}


def overall_response(target: Response | None, non_target: NonTargetStatus, new_lesion: bool) -> Response:
    """Time-point response from target, non-target and new lesions (Eisenhauer 2009 Tables 4 and 5).

    Parameters
    ----------
    target : Response or None
        Target-lesion response; ``None`` when the patient had no target lesion at baseline.
    non_target : NonTargetStatus
        ``NONE`` when no non-target lesion was recorded.
    new_lesion : bool
        An unequivocal new lesion appeared.

    Examples
    --------
    >>> overall_response(Response.CR, NonTargetStatus.NON_CR_NON_PD, False)
    <Response.PR: 'PR'>
    >>> overall_response(Response.SD, NonTargetStatus.CR, True)
    <Response.PD: 'PD'>
    """
    if new_lesion:
        return Response.PD
    if target is None:
        return _TABLE5[NonTargetStatus(non_target)]
    return _TABLE4[(Response(target), NonTargetStatus(non_target))]


def best_overall_response(days: Sequence[float], responses: Sequence[Response | str], *,
                          confirmation_min_days: float | None = None,
                          sd_min_days: float = 0.0) -> Response:
    """Best overall response of one patient over time (RECIST 1.1 §4.4, Table 3).

    Parameters
    ----------
    days : sequence of float
        Days from the first treatment of each follow-up time point (not the baseline), as
        :func:`assess_timepoints` gives them with ``first_treatment``.
    responses : sequence of Response or str
        Time-point responses in the same order.
    confirmation_min_days : float, optional
        If given (RECIST 1.1: 28 days, required only when response is the primary end point of a
        non-randomised trial), CR and PR need a later time point at least this many days after with
        the same or better category and no PD in between; an unconfirmed CR/PR counts as SD.
    sd_min_days : float
        Minimum days from the start of treatment for a time point to qualify as SD (protocol-defined in
        RECIST 1.1 §4.4; default 0, i.e. any follow-up time point).

    Returns
    -------
    Response
        The best overall response; responses after the first PD are ignored.

    Examples
    --------
    >>> best_overall_response([56, 112], ["PR", "PR"], confirmation_min_days=28)
    <Response.PR: 'PR'>
    >>> best_overall_response([56, 70], ["PR", "PR"], confirmation_min_days=28)
    <Response.SD: 'SD'>
    >>> best_overall_response([56, 112], ["PD", "PR"])
    <Response.PD: 'PD'>
    """
    if len(days) != len(responses):
        raise InputError(f"days ({len(days)}) and responses ({len(responses)}) differ in length")
    order = np.argsort(np.asarray(days, dtype=float), kind="stable")
    d = [float(days[i]) for i in order]
    r = [Response(responses[i]) for i in order]
    if Response.PD in r:
        cut = r.index(Response.PD)
        d_before, r_before = d[:cut], r[:cut]
    else:
        d_before, r_before = d, r

    def confirmed(i: int, allowed: set[Response]) -> bool:
        if confirmation_min_days is None:
            return True
        return any(d_before[j] - d_before[i] >= confirmation_min_days - 1e-9 and r_before[j] in allowed
                   for j in range(i + 1, len(r_before)))

    for i, resp in enumerate(r_before):
        if resp is Response.CR and confirmed(i, {Response.CR}):
            return Response.CR
    for i, resp in enumerate(r_before):
        if resp in (Response.CR, Response.PR) and confirmed(i, {Response.CR, Response.PR}):
            return Response.PR
    sd_like = [resp for dd, resp in zip(d_before, r_before, strict=True)
               if resp in (Response.CR, Response.PR, Response.SD, Response.NON_CR_NON_PD) and dd >= sd_min_days]
    if sd_like:
        only_nn = all(x is Response.NON_CR_NON_PD for x in sd_like)
        return Response.NON_CR_NON_PD if only_nn else Response.SD
    if Response.PD in r:
        return Response.PD
    return Response.NE


#: Measurement columns multiplied per lesion for each kind of measure (template ``measurements`` sheet).
MEASURE_COLUMNS: dict[str, tuple[str, ...]] = {
    "diameter": ("diameter_mm",),
    "product": ("diameter_mm", "perpendicular_mm"),
    "viable_diameter": ("viable_diameter_mm",),
    "viable_product": ("viable_diameter_mm", "viable_perpendicular_mm"),
}


def assess_timepoints(lesions: pd.DataFrame, measurements: pd.DataFrame,
                      criteria: str | Criteria = "recist1.1", *,
                      first_treatment: pd.Series | None = None) -> pd.DataFrame:
    """Time-point responses of every patient, vectorised over the whole cohort.

    Parameters
    ----------
    lesions : DataFrame
        One row per lesion: ``patient_id``, ``lesion_id``, ``role`` (``target``, ``non_target``, ``new``),
        ``is_lymph_node`` (bool).
    measurements : DataFrame
        One row per lesion and assessment: ``patient_id``, ``lesion_id``, ``date`` (datetime64),
        ``diameter_mm`` (longest diameter; **short axis for nodes**), optional ``perpendicular_mm``,
        ``viable_diameter_mm``, ``viable_perpendicular_mm``, ``attenuation_hu`` and, for non-target
        lesions, ``non_target_status`` (``present``, ``absent``, ``progression``).
    criteria : str or Criteria
        See :data:`CRITERIA`.
    first_treatment : Series, optional
        First treatment (SIRT) date per patient, indexed by ``patient_id``. When given (the cohort analysis
        always gives it), the baseline is the **last assessment on or before the first treatment** (RECIST
        1.1 §3.2), earlier scans are ignored, ``days`` count from the first treatment, and a patient without
        a pre-treatment assessment has no time point (not evaluable; see :func:`response_baselines`).
        Without it, the earliest date of each patient is taken as the baseline and ``days`` count from it:
        use that only for data that hold nothing but a pre-treatment baseline and follow-up scans.

    Returns
    -------
    DataFrame
        One row per patient and follow-up date: ``patient_id``, ``date``, ``days`` (from the first
        treatment, or from the baseline without ``first_treatment``), ``target_sum``,
        ``baseline_sum``, ``nadir_sum``, ``change_from_baseline_fraction``, ``target_response``,
        ``non_target_response``, ``new_lesion``, ``overall_response`` (codes of :class:`Response` and
        :class:`NonTargetStatus` as plain strings, e.g. ``"PR"``, ``"NN"``).

    Raises
    ------
    InputError
        If a required column is missing.
    """
    crit = get_criteria(criteria)
    cols = MEASURE_COLUMNS[crit.measure]
    needed = {"patient_id", "lesion_id", "date", *cols}
    missing = needed - set(measurements.columns)
    if missing:
        raise InputError(f"measurements lack column(s) {', '.join(sorted(missing))} needed by {crit.name}; add them "
                         "to the measurements sheet or choose other criteria")
    lcols = {"patient_id", "lesion_id", "role", "is_lymph_node"}
    if lcols - set(lesions.columns):
        raise InputError(f"lesions lack column(s) {', '.join(sorted(lcols - set(lesions.columns)))}")
    return _assess(_prepare(lesions, measurements, first_treatment), crit)


def assess_timepoints_by_criteria(lesions: pd.DataFrame, measurements: pd.DataFrame,
                                  criteria: Sequence[str | Criteria], *,
                                  first_treatment: pd.Series | None = None) -> dict[str, pd.DataFrame]:
    """:func:`assess_timepoints` for several criteria, sharing the work that does not depend on them.

    Baselines, follow-up time points, non-target status and new lesions are computed once; only the target
    sums and their classification are repeated per criterion. Equal to calling :func:`assess_timepoints`
    once per criterion (tested).
    """
    lcols = {"patient_id", "lesion_id", "role", "is_lymph_node"}
    if lcols - set(lesions.columns):
        raise InputError(f"lesions lack column(s) {', '.join(sorted(lcols - set(lesions.columns)))}")
    prep = _prepare(lesions, measurements, first_treatment)
    out = {}
    for c in criteria:
        crit = get_criteria(c)
        missing = {"patient_id", "lesion_id", "date", *MEASURE_COLUMNS[crit.measure]} - set(measurements.columns)
        if missing:
            raise InputError(f"measurements lack column(s) {', '.join(sorted(missing))} needed by {crit.name}")
        out[crit.name] = _assess(prep, crit)
    return out


@dataclass(frozen=True)
class _Prepared:
    """The criteria-independent part of :func:`assess_timepoints` (integer patient codes)."""

    m: pd.DataFrame
    base: pd.DataFrame
    p_uniq: np.ndarray
    baseline_date: pd.Series


def _prepare(lesions: pd.DataFrame, measurements: pd.DataFrame, first_treatment: pd.Series | None) -> _Prepared:
    # Patients and lesions as integer codes: every merge and group-by below then hashes integers, not text
    # (several times faster on large cohorts); the patient IDs are restored at the end.
    n_l = len(lesions)
    p_codes, p_uniq = pd.factorize(pd.concat([lesions["patient_id"], measurements["patient_id"]],
                                             ignore_index=True).to_numpy(object))
    l_codes, _ = pd.factorize(pd.concat([lesions["lesion_id"], measurements["lesion_id"]],
                                        ignore_index=True).to_numpy(object))
    les = pd.DataFrame({"patient_id": p_codes[:n_l], "lesion_id": l_codes[:n_l],
                        "role": lesions["role"].to_numpy(object), "is_lymph_node": lesions["is_lymph_node"].to_numpy()})
    meas = measurements.drop(columns=["patient_id", "lesion_id"]).assign(patient_id=p_codes[n_l:],
                                                                         lesion_id=l_codes[n_l:])
    if first_treatment is not None:
        first_treatment = pd.Series(first_treatment.reindex(p_uniq).to_numpy(), index=np.arange(len(p_uniq)))
    m = meas.merge(les, on=["patient_id", "lesion_id"], how="inner", validate="many_to_one")
    if first_treatment is not None:
        origin = m["patient_id"].map(first_treatment)
        baseline_date = m[m["date"] <= origin].groupby("patient_id")["date"].max().rename("baseline_date")
        m = m.join(baseline_date, on="patient_id")
        m["origin"] = origin
        m = m[m["baseline_date"].notna() & (m["date"] >= m["baseline_date"])]
    else:
        baseline_date = m.groupby("patient_id")["date"].min().rename("baseline_date")
        m = m.join(baseline_date, on="patient_id")
        m["origin"] = m["baseline_date"]
    m["is_baseline"] = m["date"] == m["baseline_date"]

    # Follow-up time points of every patient (any lesion assessed after baseline).
    tp = m.loc[~m["is_baseline"], ["patient_id", "date", "baseline_date", "origin"]].drop_duplicates(
        ["patient_id", "date"])
    out = tp

    # Non-target status.
    nt = m[m["role"] == "non_target"]
    nt_base = nt[nt["is_baseline"]].groupby("patient_id")["lesion_id"].nunique().rename("n_nt")
    ntf = nt[~nt["is_baseline"]]
    status = ntf.get("non_target_status", pd.Series(index=ntf.index, dtype=object)).astype("string")
    flags = pd.DataFrame({"patient_id": ntf["patient_id"], "date": ntf["date"],
                          "prog": status == "progression", "absent": status == "absent",
                          "known": status.isin(["present", "absent", "progression"])})
    for c in ("prog", "absent", "known"):
        flags[c] = _true(flags[c])
    ntg = flags.groupby(["patient_id", "date"]).agg(prog=("prog", "any"), n_absent=("absent", "sum"),
                                                     n_known=("known", "sum")).reset_index()
    out = out.merge(ntg, on=["patient_id", "date"], how="left").join(nt_base, on="patient_id")
    n_nt = out["n_nt"].fillna(0).to_numpy(float)
    prog = _true(out["prog"])
    n_absent = out["n_absent"].fillna(0).to_numpy(float)
    n_known = out["n_known"].fillna(0).to_numpy(float)
    ntr = np.empty(len(out), dtype=object)
    ntr[:] = NonTargetStatus.NON_CR_NON_PD.value
    ntr[n_known < n_nt] = NonTargetStatus.NE.value
    ntr[(n_absent >= n_nt) & (n_nt > 0)] = NonTargetStatus.CR.value
    ntr[prog] = NonTargetStatus.PD.value
    ntr[n_nt == 0] = NonTargetStatus.NONE.value
    # Target nodes still >= 10 mm short axis make CR impossible for non-target CR too; handled by target.
    out["non_target_response"] = ntr

    # New lesions: any 'new' lesion recorded on or before the date.
    new = m[(m["role"] == "new") & ~m["is_baseline"]].groupby("patient_id")["date"].min().rename("first_new")
    out = out.join(new, on="patient_id")
    out["new_lesion"] = (out["first_new"].notna() & (out["first_new"] <= out["date"])).astype(bool)

    return _Prepared(m=m, base=out, p_uniq=p_uniq, baseline_date=baseline_date)


def _assess(prep: _Prepared, crit: Criteria) -> pd.DataFrame:
    """Target sums and responses for one criterion on top of :func:`_prepare`."""
    m, p_uniq, baseline_date = prep.m, prep.p_uniq, prep.baseline_date
    cols = MEASURE_COLUMNS[crit.measure]
    # Target lesions: role target and measured at baseline.
    keep = ["patient_id", "lesion_id", "date", "is_baseline", "is_lymph_node", *cols,
            *(["attenuation_hu"] if "attenuation_hu" in m.columns else [])]
    t = m.loc[m["role"] == "target", list(dict.fromkeys(keep))]
    value = t[cols[0]].astype(float)
    if len(cols) == 2:
        value = value * t[cols[1]].astype(float)
    t["value"] = value
    node = t["is_lymph_node"].astype(bool).to_numpy()
    if crit.node_short_axis_rule:
        gone = np.where(node, t["value"].to_numpy() < RECIST_NODE_NORMAL_SHORT_AXIS_MM,
                        t["value"].to_numpy() <= 0)
    else:
        gone = t["value"].to_numpy() <= 0
    t["gone"] = gone
    t["measured"] = t["value"].notna()
    n_targets = t[t["is_baseline"] & t["measured"]].groupby("patient_id")["lesion_id"].nunique()
    has_hu = "attenuation_hu" in t.columns
    agg_spec: dict[str, tuple[str, str]] = {"target_sum": ("value", "sum"), "n_measured": ("measured", "sum"),
                                            "all_gone": ("gone", "all")}
    if has_hu:
        agg_spec["mean_hu"] = ("attenuation_hu", "mean")
    g = t.groupby(["patient_id", "date"], sort=True).agg(**agg_spec).reset_index()
    g = g.join(n_targets.rename("n_targets"), on="patient_id").join(baseline_date, on="patient_id")
    g = g[g["n_targets"].notna()].sort_values(["patient_id", "date"]).reset_index(drop=True)
    g["complete"] = g["n_measured"] >= g["n_targets"]
    base = g[g["date"] == g["baseline_date"]].set_index("patient_id")
    g["baseline_sum"] = g["patient_id"].map(base["target_sum"])
    sums_ok = g["target_sum"].where(g["complete"])
    g["nadir_sum"] = sums_ok.groupby(g["patient_id"]).cummin()
    g["nadir_sum"] = g.groupby("patient_id")["nadir_sum"].shift(1)
    if has_hu:
        g["baseline_hu"] = g["patient_id"].map(base["mean_hu"])
        density = ((g["mean_hu"] - g["baseline_hu"]) / g["baseline_hu"].abs()).to_numpy(float)
    else:
        density = np.full(len(g), np.nan)
    fu = g["date"] > g["baseline_date"]
    nadir = g["nadir_sum"].fillna(g["baseline_sum"]).to_numpy(float)
    resp = _classify(g["baseline_sum"].to_numpy(float), nadir, g["target_sum"].to_numpy(float),
                     g["all_gone"].to_numpy(bool), density, g["complete"].to_numpy(bool), crit)
    g["target_response"] = resp
    with np.errstate(divide="ignore", invalid="ignore"):
        g["change_from_baseline_fraction"] = np.where(
            g["complete"] & (g["baseline_sum"] > 0), (g["target_sum"] - g["baseline_sum"]) / g["baseline_sum"],
            np.nan)
    tgt = g[fu][["patient_id", "date", "target_sum", "baseline_sum", "nadir_sum",
                 "change_from_baseline_fraction", "target_response"]]
    out = prep.base.merge(tgt, on=["patient_id", "date"], how="left")
    ntr = out["non_target_response"].to_numpy(object)

    has_target = out["patient_id"].isin(n_targets.index).to_numpy()
    tr = out["target_response"].to_numpy(object)
    tr = np.where(has_target & pd.isna(tr), "NE", tr)
    tr_out = tr.copy()
    tr_out[~has_target] = None
    out["target_response"] = tr_out
    out["overall_response"] = _overall_vectorised(tr, ntr, out["new_lesion"].to_numpy(bool), has_target)
    out["days"] = (out["date"] - out["origin"]).dt.days.astype(float)
    cols_out = ["patient_id", "date", "days", "target_sum", "baseline_sum", "nadir_sum",
                "change_from_baseline_fraction", "target_response", "non_target_response", "new_lesion",
                "overall_response"]
    out = out[cols_out]
    if not len(out):
        return out.assign(patient_id=out["patient_id"].astype(object)).reset_index(drop=True)
    # Sorted by patient ID text and date: the codes' rank in the sorted IDs orders rows as the text does ((patient,
    # date) is unique), without sorting a text column.
    rank = np.empty(len(p_uniq), dtype=np.int64)
    rank[np.argsort(p_uniq, kind="stable")] = np.arange(len(p_uniq))
    codes = out["patient_id"].to_numpy(np.intp)
    order = np.lexsort((out["date"].to_numpy(), rank[codes]))
    out = out.iloc[order].reset_index(drop=True)
    out["patient_id"] = p_uniq.take(codes[order])
    return out




def _overall_vectorised(tr: np.ndarray, ntr: np.ndarray, new: np.ndarray, has_target: np.ndarray) -> np.ndarray:
    """Vectorised :func:`overall_response` (same tables; tested against it)."""
    tr = tr.astype(str)
    ntr = ntr.astype(str)
    with_target = np.select(
        [(tr == "PD") | (ntr == "PD"), (tr == "CR") & np.isin(ntr, ["CR", "none"]), tr == "CR", tr == "PR",
         tr == "SD"],
        ["PD", "CR", "PR", "PR", "SD"], default="NE")
    without_target = np.select([ntr == "CR", ntr == "NN", ntr == "PD"], ["CR", "NN", "PD"], default="NE")
    out = np.where(has_target, with_target, without_target)
    return np.where(new, "PD", out).astype(object)


def _true(s: pd.Series) -> np.ndarray:
    """Boolean array with missing values as False."""
    return s.astype("boolean").fillna(False).to_numpy(bool)


def best_overall_responses(timepoints: pd.DataFrame, *, confirmation_min_days: float | None = None,
                           sd_min_days: float = 0.0) -> pd.DataFrame:
    """Best overall response and best target change per patient from :func:`assess_timepoints` output.

    Returns
    -------
    DataFrame
        ``patient_id``, ``best_response`` (str code), ``best_change_fraction`` (most negative change of
        the target sum from baseline at the assessments before the first PD — the change at the first PD
        when that is the first assessment; NaN without target lesions).
    """
    cols = ["patient_id", "best_response", "best_change_fraction"]
    if len(timepoints) == 0:
        return pd.DataFrame({c: [] for c in cols})
    # Patients as integer codes in sorted-ID order: every group-by below hashes integers, not text, and
    # groups in the same (sorted) order; the IDs are restored at the end.
    codes, ids = pd.factorize(timepoints["patient_id"].to_numpy(object), sort=True)
    tp = timepoints.assign(_patient=codes).sort_values(["_patient", "days"], kind="stable").reset_index(drop=True)
    resp = tp["overall_response"].astype(str)
    is_pd = resp == "PD"
    pid = tp["_patient"]
    pd_before = is_pd.astype(int).groupby(pid).cumsum() - is_pd.astype(int)
    first_pd_or_before = pd_before == 0  # rows up to and including the first PD
    # Best change of the target sum: the most negative change at the assessments BEFORE the first PD, as best
    # overall response is "the best response recorded ... until disease progression" (RECIST 1.1, Eisenhauer
    # et al., Eur J Cancer 2009;45:228, §4.4) — a shrinkage measured at the visit that is PD (new lesion,
    # non-target PD) is not a response and drew SD bars below −30 % in the waterfall. A patient whose first
    # assessment is already PD is shown with the change at that assessment (the usual waterfall convention:
    # Gillespie, J Adv Pract Oncol 2012;3:106), so early progressors are not left out.
    change_all = tp["change_from_baseline_fraction"].astype(float)
    best_change = change_all.where(first_pd_or_before & ~is_pd).groupby(pid).min().fillna(
        change_all.where(first_pd_or_before & is_pd).groupby(pid).min())
    if confirmation_min_days is None:
        before = first_pd_or_before & ~is_pd
        days = tp["days"].astype(float)
        rank = pd.Series(np.select([resp == "CR", resp == "PR",
                                    resp.isin(["SD", "NN"]) & (days >= sd_min_days),
                                    resp.isin(["CR", "PR"]) & (days >= sd_min_days)],
                                   [0, 1, 2, 2], default=9), index=tp.index).where(before, 9)
        best_rank = rank.groupby(pid).min()
        nn_only = (resp.eq("NN") | (rank != 2)).groupby(pid).all()
        any_pd = is_pd.groupby(pid).any()
        code = np.select([best_rank == 0, best_rank == 1, (best_rank == 2) & nn_only, best_rank == 2, any_pd],
                         ["CR", "PR", "NN", "SD", "PD"], default="NE")
        return pd.DataFrame({"patient_id": ids.take(best_rank.index.to_numpy()), "best_response": code,
                             "best_change_fraction": best_change.reindex(best_rank.index).to_numpy()})
    rows: list[tuple[object, str, float]] = []
    for key, part in tp.groupby(pid, sort=True):
        best = best_overall_response(part["days"].tolist(), part["overall_response"].tolist(),
                                     confirmation_min_days=confirmation_min_days, sd_min_days=sd_min_days)
        rows.append((ids[key], best.value, float(best_change.get(key, np.nan))))
    return pd.DataFrame(rows, columns=["patient_id", "best_response", "best_change_fraction"])


def response_baselines(measurements: pd.DataFrame, first_treatment: pd.Series, *,
                       max_age_days: float = RECIST_BASELINE_MAX_AGE_DAYS) -> pd.DataFrame:
    """The RECIST 1.1 baseline of every treated patient: the last assessment on or before the first treatment.

    Parameters
    ----------
    measurements : DataFrame
        ``patient_id`` and ``date`` (datetime64) of every lesion measurement.
    first_treatment : Series
        First treatment date per patient (index ``patient_id``); every patient here gets a row.
    max_age_days : float
        Baselines more than this many days before the first treatment are flagged (RECIST 1.1 §3.2:
        "never more than 4 weeks before the beginning of the treatment", default 28).

    Returns
    -------
    DataFrame
        ``patient_id``, ``first_treatment_date``, ``baseline_date`` (NaT when none), ``baseline_age_days``
        (days from the baseline to the first treatment), ``evaluable`` (a pre-treatment assessment
        exists), ``baseline_too_old`` (older than ``max_age_days``) and ``reason`` (why a patient is not
        evaluable, or why the baseline is flagged; empty otherwise).

    Examples
    --------
    >>> m = pd.DataFrame({"patient_id": ["a", "a", "a", "b"],
    ...                   "date": pd.to_datetime(["2020-01-01", "2020-02-20", "2020-06-01", "2020-04-01"])})
    >>> first = pd.Series(pd.to_datetime(["2020-03-01", "2020-03-01"]), index=["a", "b"])
    >>> b = response_baselines(m, first)
    >>> b["baseline_date"].dt.strftime("%Y-%m-%d").fillna("none").tolist(), b["evaluable"].tolist()
    (['2020-02-20', 'none'], [True, False])
    """
    first = pd.Series(pd.to_datetime(first_treatment.to_numpy()), index=first_treatment.index)
    m = measurements[["patient_id", "date"]]
    origin = m["patient_id"].map(first)
    base = m[m["date"] <= origin].groupby("patient_id")["date"].max()
    out = pd.DataFrame({"patient_id": first.index.to_numpy(), "first_treatment_date": first.to_numpy()})
    out["baseline_date"] = pd.to_datetime(base.reindex(first.index).to_numpy()).astype("datetime64[ns]")
    age = (out["first_treatment_date"] - out["baseline_date"]).dt.days.astype(float)
    out["baseline_age_days"] = age
    out["evaluable"] = out["baseline_date"].notna()
    out["baseline_too_old"] = (age > max_age_days).fillna(False).astype(bool)
    has_any = out["patient_id"].isin(set(m["patient_id"]))
    out["reason"] = np.select(
        [~out["evaluable"] & has_any, ~out["evaluable"], out["baseline_too_old"]],
        ["not evaluable: no tumour assessment on or before the first SIRT (RECIST 1.1 §3.2 needs a "
         "pre-treatment baseline)",
         "not evaluable: no tumour assessment recorded",
         f"baseline more than {max_age_days:g} days before the first SIRT (RECIST 1.1 §3.2: never more than "
         "4 weeks)"], default="")
    return out


def _organ_key(lesions: pd.DataFrame) -> pd.Series:
    """Organ of each lesion for the 2-per-organ rule: all lymph nodes are one organ (RECIST 1.1 §3.3.1)."""
    organ = lesions["organ"].astype("string") if "organ" in lesions.columns else pd.Series(
        pd.NA, index=lesions.index, dtype="string")
    node = lesions["is_lymph_node"].astype("boolean").fillna(False).to_numpy(bool)
    return organ.where(~node, "lymph_node")


def _baseline_size(lesions: pd.DataFrame, measurements: pd.DataFrame, baselines: pd.DataFrame) -> pd.Series:
    """Baseline ``diameter_mm`` of each lesion (NaN when not measured at the baseline date), lesion order."""
    b = baselines.set_index("patient_id")["baseline_date"]
    m = measurements[["patient_id", "lesion_id", "date", "diameter_mm"]]
    m = m[m["date"] == m["patient_id"].map(b)]
    size = m.groupby(["patient_id", "lesion_id"])["diameter_mm"].max()
    idx = pd.MultiIndex.from_frame(lesions[["patient_id", "lesion_id"]].astype(object))
    return pd.Series(size.reindex(idx).to_numpy(float), index=lesions.index)


def _measurable(size: pd.Series, node: np.ndarray) -> np.ndarray:
    limit = np.where(node, RECIST_MEASURABLE_NODE_SHORT_AXIS_MM, RECIST_MEASURABLE_LESION_MM)
    return (size.to_numpy(float) >= limit - 1e-9)


def select_targets(lesions: pd.DataFrame, measurements: pd.DataFrame, baselines: pd.DataFrame) -> pd.DataFrame:
    """Give every lesion with role ``auto`` its RECIST 1.1 role from the baseline measurements.

    Explicit ``target`` lesions are kept; the remaining target places (at most 5 per patient, at most 2 per
    organ, all lymph nodes one organ) are filled with the largest measurable ``auto`` lesions (longest
    diameter >= 10 mm; nodes short axis >= 15 mm), as RECIST 1.1 §3.3.1 asks ("lesions with the longest
    diameter ... representative of all involved organs"). Every other ``auto`` lesion becomes ``non_target``,
    except lymph nodes with a short axis < 10 mm, which are normal and not followed (role ``excluded``).

    Parameters
    ----------
    lesions : DataFrame
        ``patient_id``, ``lesion_id``, ``role``, ``is_lymph_node`` and ``organ``.
    measurements : DataFrame
        ``patient_id``, ``lesion_id``, ``date``, ``diameter_mm``.
    baselines : DataFrame
        :func:`response_baselines` output.

    Returns
    -------
    DataFrame
        A copy of ``lesions`` with no ``auto`` role left.

    Examples
    --------
    >>> les = pd.DataFrame({"patient_id": ["a"] * 4, "lesion_id": ["L1", "L2", "L3", "N1"],
    ...                     "role": ["auto"] * 4, "organ": ["liver"] * 3 + [None],
    ...                     "is_lymph_node": [False, False, False, True]})
    >>> m = pd.DataFrame({"patient_id": ["a"] * 4, "lesion_id": ["L1", "L2", "L3", "N1"],
    ...                   "date": pd.to_datetime(["2020-01-01"] * 4), "diameter_mm": [30.0, 8.0, 25.0, 16.0]})
    >>> b = response_baselines(m, pd.Series(pd.to_datetime(["2020-01-10"]), index=["a"]))
    >>> select_targets(les, m, b)["role"].tolist()
    ['target', 'non_target', 'target', 'target']
    """
    out = lesions.copy()
    auto = (out["role"].astype("string") == "auto").fillna(False).to_numpy(bool)
    if not auto.any():
        return out
    node = out["is_lymph_node"].astype("boolean").fillna(False).to_numpy(bool)
    size = _baseline_size(out, measurements, baselines)
    organ = _organ_key(out).fillna("unknown organ")
    measurable = _measurable(size, node)
    role = out["role"].astype(object).to_numpy(copy=True)
    work = pd.DataFrame({"pid": out["patient_id"].to_numpy(object), "organ": organ.to_numpy(object),
                         "size": size.to_numpy(float), "target": role == "target"}, index=out.index)
    n_t = work[work["target"]].groupby("pid").size().to_dict()
    n_to = work[work["target"]].groupby(["pid", "organ"]).size().to_dict()
    cand = work[auto & measurable].sort_values(["pid", "size"], ascending=[True, False], kind="stable")
    chosen = []
    for i, pid, org in zip(cand.index, cand["pid"], cand["organ"], strict=True):
        if n_t.get(pid, 0) < RECIST_MAX_TARGETS and n_to.get((pid, org), 0) < RECIST_MAX_TARGETS_PER_ORGAN:
            chosen.append(i)
            n_t[pid] = n_t.get(pid, 0) + 1
            n_to[(pid, org)] = n_to.get((pid, org), 0) + 1
    pos = out.index.get_indexer(pd.Index(chosen))
    role[auto] = "non_target"
    role[pos] = "target"
    normal_node = auto & node & (size.to_numpy(float) < RECIST_NODE_NORMAL_SHORT_AXIS_MM)
    role[normal_node] = "excluded"
    out["role"] = role
    return out


def target_selection_issues(lesions: pd.DataFrame, measurements: pd.DataFrame,
                            baselines: pd.DataFrame) -> list[tuple[int, str]]:
    """Target lesions that break the RECIST 1.1 selection rules, as ``(lesion row, message naming the rule)``.

    Rules (Eisenhauer 2009, RECIST 1.1): a target is measured at the baseline (§3.3.1); it is measurable —
    longest diameter >= 10 mm, a lymph node short axis >= 15 mm (§3.1.1); at most 5 targets per patient and
    at most 2 per organ, all lymph nodes one organ (§3.3.1). Non-measurable lesions are followed as
    non-targets and never enter the sum. Patients without a pre-treatment baseline are not checked (they
    are not evaluable). Only the first offending lesions of a patient beyond the limits are listed.
    """
    issues: list[tuple[int, str]] = []
    tgt_mask = (lesions["role"].astype("string") == "target").fillna(False).to_numpy(bool)
    if not tgt_mask.any():
        return issues
    evaluable = set(baselines.loc[baselines["evaluable"], "patient_id"])
    les = lesions[tgt_mask & lesions["patient_id"].isin(evaluable).to_numpy(bool)]
    if les.empty:
        return issues
    node = les["is_lymph_node"].astype("boolean").fillna(False).to_numpy(bool)
    size = _baseline_size(les, measurements, baselines)
    ok = _measurable(size, node)
    row_of = dict(zip(les.index, lesions.index.get_indexer(les.index).tolist(), strict=True))
    for i, s_mm, is_node, good in zip(les.index, size.to_numpy(float), node, ok, strict=True):
        if good:
            continue
        if np.isnan(s_mm):
            msg = ("target lesion has no diameter_mm at the baseline (the last assessment on or before the first "
                   "SIRT); RECIST 1.1 §3.3.1 measures every target at baseline — add it or make it non_target")
        elif is_node:
            msg = (f"target lymph node with a short axis of {s_mm:g} mm: RECIST 1.1 §3.1.1 needs >= "
                   f"{RECIST_MEASURABLE_NODE_SHORT_AXIS_MM:g} mm for a target (10 to < 15 mm: non_target)")
        else:
            msg = (f"target lesion of {s_mm:g} mm at baseline: RECIST 1.1 §3.1.1 needs a longest diameter >= "
                   f"{RECIST_MEASURABLE_LESION_MM:g} mm; make it non_target (role auto selects per the rules)")
        issues.append((row_of[i], msg))
    count = les.groupby("patient_id").cumcount().to_numpy() + 1
    for i, k in zip(les.index, count.tolist(), strict=True):
        if k == RECIST_MAX_TARGETS + 1:
            issues.append((row_of[i],
                           f"more than {RECIST_MAX_TARGETS} target lesions for this patient: RECIST 1.1 §3.3.1 "
                           f"allows at most {RECIST_MAX_TARGETS}; make the others non_target (or role auto)"))
    organ = _organ_key(les)
    known = organ.notna().to_numpy(bool)
    per_organ = les[known].assign(_o=organ[known]).groupby(["patient_id", "_o"]).cumcount() + 1
    organ_of = dict(zip(les.index, organ.tolist(), strict=True))
    for i, k_org in zip(per_organ.index, per_organ.tolist(), strict=True):
        if k_org == RECIST_MAX_TARGETS_PER_ORGAN + 1:
            issues.append((row_of[i],
                           f"more than {RECIST_MAX_TARGETS_PER_ORGAN} target lesions in organ {organ_of[i]!s}: "
                           f"RECIST 1.1 §3.3.1 allows at most {RECIST_MAX_TARGETS_PER_ORGAN} per organ (all lymph "
                           "nodes count as one organ); make the others non_target (or role auto)"))
    return sorted(issues)
