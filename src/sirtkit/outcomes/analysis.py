"""The whole cohort analysis in one pure function: baseline table, response, toxicity, markers, survival,
prognostic factors, dose–response and the literature side-by-side.

Every table is a DataFrame (written to CSV by the report) and every headline number is in
:meth:`CohortAnalysis.summary` (written to JSON), so a report never computes anything itself.

>>> from sirtkit.outcomes.synthetic import synthetic_cohort
>>> a = analyse_cohort(synthetic_cohort(60, rng=3), n_bootstrap=20)
>>> a.summary()["n_patients"]
60
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sirtkit._concurrent import ChildTask, concurrency_enabled, run_in_child
from sirtkit.errors import InputError
from sirtkit.outcomes import doseresponse, literature, markers, rates, response, survival, toxicity
from sirtkit.outcomes.cohort import ENDPOINT_DEFINITIONS, CohortData, derive_endpoints, hepatic_lesions
from sirtkit.outcomes.rates import Proportion
from sirtkit.progress import ProgressCallback, report

__all__ = ["COVARIATES", "ENDPOINTS", "HEPATIC_TOXICITY_TERMS", "CohortAnalysis", "Covariate", "analyse_cohort"]

logger = logging.getLogger(__name__)

#: Time-to-event end points (CLINICAL.md §8): key → label.
ENDPOINTS: dict[str, str] = {"os": "Overall survival", "pfs": "Progression-free survival",
                             "hpfs": "Hepatic progression-free survival"}

#: Landmark times reported for every KM curve (months).
LANDMARK_MONTHS = (12.0, 24.0, 36.0)

#: Lesion-level response used for dose–response: ≥ 30 % decrease of the lesion's diameter from baseline at
#: any follow-up (the RECIST 1.1 PR threshold applied per lesion; Eisenhauer 2009) [K convention].
LESION_RESPONSE_DECREASE_FRACTION = 0.30

#: Factors with Kaplan–Meier curves and a log-rank test for OS (CLINICAL.md §7.2; device of the first session).
STRATA = ("child_pugh_class", "lymph_node_metastases", "device")

#: Terms counted as hepatic toxicity for normal-liver dose–toxicity (CLINICAL.md §9).
HEPATIC_TOXICITY_TERMS = frozenset({
    "reild", "hepatic_failure", "ascites", "blood_bilirubin_increased", "ast_increased", "alt_increased",
    "alkaline_phosphatase_increased", "hypoalbuminemia"})

#: Grade at or above which a toxicity counts as the dose–toxicity outcome (CTCAE v5 severe).
SEVERE_GRADE = 3

#: Most measurement rows for which the dose–response and the other criteria run in forked workers during the
#: analysis. Each worker builds its own merged copies of the measurements: at 50 000 synthetic patients
#: (732 000 rows) the two added ≈ 0.7 GB (proportional set size) to the ≈ 0.6 GB of the analysis, so larger
#: cohorts run them inline and stay within the 1 GB of issue 9. 10 000 patients have ≈ 146 000 rows.
WORKER_MAX_MEASUREMENTS = 300_000

#: Fewest events per estimated coefficient for a regression to be fitted and its interval reported: 10
#: events per variable (Peduzzi P et al., J Clin Epidemiol 1995;48:1503–1510 for Cox models; Peduzzi et al.
#: 1996;49:1373–1379 for logistic regression, where the events are the rarer outcome).
MIN_EVENTS_PER_VARIABLE = 10


@dataclass(frozen=True)
class Covariate:
    """A 0/1 prognostic factor derived from a patients column (CLINICAL.md §7.2)."""

    name: str
    column: str
    label: str
    values: tuple[object, ...] = ()
    above: float | None = None


#: Prognostic factors tried in the Cox models (CLINICAL.md §7.2; each is 1 when the condition holds).
COVARIATES: tuple[Covariate, ...] = (
    Covariate("child_pugh_b_or_c", "child_pugh_class", "Child-Pugh B/C (vs A)", values=("B", "C")),
    Covariate("lymph_node_metastases", "lymph_node_metastases", "Lymph-node metastases", values=(True,)),
    Covariate("ecog_1_or_more", "ecog", "ECOG ≥ 1 (vs 0)", above=0.5),
    Covariate("extrahepatic_disease", "extrahepatic_disease", "Extrahepatic disease", values=(True,)),
    Covariate("tumour_burden_over_25_percent", "hepatic_tumour_burden_percent", "Hepatic tumour burden > 25 %",
              above=25.0),
    Covariate("grade_g3", "tumour_grade", "WHO grade G3 (vs G1/G2)", values=("G3",)),
    Covariate("pancreatic_primary", "primary_site", "Pancreatic primary", values=("pancreas",)),
    Covariate("prior_prrt", "prior_prrt", "Prior PRRT", values=(True,)),
)


@dataclass
class CohortAnalysis:
    """Results of :func:`analyse_cohort` (tables are DataFrames; see :meth:`tables` and :meth:`summary`)."""

    n_patients: int
    criteria: str
    baseline: pd.DataFrame
    treatments: pd.DataFrame
    endpoints: pd.DataFrame
    timepoints: pd.DataFrame
    best_response: pd.DataFrame
    rates: rates.ResponseRates
    rates_by_criteria: pd.DataFrame
    toxicity: pd.DataFrame
    markers: pd.DataFrame
    marker_table: pd.DataFrame
    symptoms: pd.DataFrame
    symptom_table: pd.DataFrame
    km: dict[str, survival.KaplanMeier]
    km_strata: dict[str, dict[str, survival.KaplanMeier]]
    logrank: pd.DataFrame
    survival_table: pd.DataFrame
    cox_univariable: pd.DataFrame
    cox_multivariable: pd.DataFrame
    lesion_doses: pd.DataFrame
    dose_response: dict[str, Any]
    liver_toxicity: pd.DataFrame
    dose_toxicity: dict[str, Any]
    literature: pd.DataFrame
    swimmer: pd.DataFrame
    response_baselines: pd.DataFrame = field(default_factory=pd.DataFrame)
    reild: pd.DataFrame = field(default_factory=pd.DataFrame)
    reild_rate: Proportion | None = None
    symptom_rate: Proportion | None = None
    confirmation_min_days: float | None = None
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by file stem (CSV export)."""
        return {
            "baseline_characteristics": self.baseline, "treatments_summary": self.treatments,
            "endpoints": self.endpoints, "response_timepoints": self.timepoints,
            "best_response": self.best_response, "response_rates": self.rates_by_criteria,
            "toxicity": self.toxicity, "marker_responses": self.markers, "marker_table": self.marker_table,
            "symptom_responses": self.symptoms, "symptom_table": self.symptom_table,
            "survival": self.survival_table, "logrank": self.logrank, "cox_univariable": self.cox_univariable,
            "cox_multivariable": self.cox_multivariable, "lesion_doses": self.lesion_doses,
            "liver_dose_toxicity": self.liver_toxicity, "literature_comparison": self.literature,
            "swimmer": self.swimmer, "response_baselines": self.response_baselines, "reild": self.reild,
        }

    def summary(self) -> dict[str, Any]:
        """Headline numbers (JSON-ready after :func:`sirtkit.serialize.to_jsonable`)."""
        km = {k: {"n": v.n, "events": v.n_events_total, "median_months": v.median,
                  "median_ci_months": list(v.median_ci)} for k, v in self.km.items()}
        sources = {ep: {str(k): int(v) for k, v in self.endpoints[f"{ep}_source"].value_counts().sort_index().items()}
                   for ep in ENDPOINTS if f"{ep}_source" in self.endpoints.columns}
        return {
            "n_patients": self.n_patients, "criteria": self.criteria,
            "confirmation_min_days": self.confirmation_min_days,
            "best_response_counts": self.rates.counts,
            "orr": self.rates.orr, "dcr": self.rates.dcr, "survival": km,
            "endpoint_definitions": {k: v.replace("the chosen criteria", self.criteria)
                                     for k, v in ENDPOINT_DEFINITIONS.items()},
            "endpoint_event_sources": sources,
            "dose_response": self.dose_response, "dose_toxicity": self.dose_toxicity,
            "not_evaluable_for_response": (int((~self.response_baselines["evaluable"]).sum())
                                           if len(self.response_baselines) else None),
            "reild": self.reild_rate, "reild_rule": toxicity.SANGRO_REILD_DEFINITION,
            "symptom_response": self.symptom_rate,
            "warnings": self.warnings,
        }


def _covariate_frame(patients: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"patient_id": patients["patient_id"]})
    for c in COVARIATES:
        if c.column not in patients.columns or patients[c.column].isna().all():
            continue
        col = patients[c.column]
        if c.above is not None:
            v = pd.to_numeric(col, errors="coerce").astype(float)
            out[c.name] = np.where(v.isna(), np.nan, (v > c.above).astype(float))
        else:
            v = col.astype(object)
            out[c.name] = np.where(col.isna(), np.nan, v.isin(list(c.values)).astype(float))
    return out


def _baseline_table(data: CohortData) -> pd.DataFrame:
    p = data.patients
    n = len(p)
    rows: list[dict[str, Any]] = [{"characteristic": "Patients", "level": "", "n": n, "percent": 100.0,
                                   "summary": str(n)}]
    for col in ("age_years", "ki67_percent", "hepatic_tumour_burden_percent"):
        v = pd.to_numeric(p[col], errors="coerce").dropna()
        if len(v):
            q1, med, q3 = np.percentile(v, [25, 50, 75])
            rows.append({"characteristic": col, "level": "median (IQR)", "n": len(v), "percent": None,
                         "summary": f"{med:.1f} ({q1:.1f}–{q3:.1f})"})
    for col in ("sex", "primary_site", "tumour_grade", "ecog", "child_pugh_class", "lymph_node_metastases",
                "extrahepatic_disease", "prior_prrt", "carcinoid_syndrome"):
        counts = p[col].astype(object).where(p[col].notna(), "missing").astype(str).value_counts()
        for level, k in sorted(counts.items()):
            rows.append({"characteristic": col, "level": level, "n": int(k), "percent": 100.0 * k / n,
                         "summary": f"{int(k)} ({100.0 * k / n:.1f} %)"})
    return pd.DataFrame(rows)


def _baseline_labs(labs: pd.DataFrame, first_sirt: pd.Series) -> list[dict[str, Any]]:
    """Median (IQR) of the last value on or before the first SIRT, per test and unit."""
    if labs.empty:
        return []
    df = labs[["patient_id", "date", "test", "value", "unit"]].copy()
    df["unit"] = df["unit"].astype("string").fillna("")
    df = df[df["date"] <= df["patient_id"].map(first_sirt)]
    last = df.sort_values("date").groupby(["patient_id", "test", "unit"], as_index=False).last()
    rows = []
    for (test, unit), part in last.groupby(["test", "unit"], sort=True):
        q1, med, q3 = np.percentile(part["value"].to_numpy(float), [25, 50, 75])
        rows.append({"characteristic": f"baseline {test}" + (f" ({unit})" if unit else ""),
                     "level": "median (IQR)", "n": len(part), "percent": None,
                     "summary": f"{med:.3g} ({q1:.3g}–{q3:.3g})"})
    return rows


def _treatment_table(data: CohortData) -> pd.DataFrame:
    t = data.treatments
    rows: list[dict[str, Any]] = [{"item": "Sessions", "level": "", "n": len(t), "summary": str(len(t))}]
    for level, k in t["device"].value_counts().sort_index().items():
        rows.append({"item": "device", "level": level, "n": int(k), "summary": f"{int(k)} ({100 * k / len(t):.1f} %)"})
    for col in ("activity_gbq", "normal_liver_dose_gy"):
        v = t[col].dropna()
        if len(v):
            q1, med, q3 = np.percentile(v, [25, 50, 75])
            rows.append({"item": col, "level": "median (IQR)", "n": len(v),
                         "summary": f"{med:.2f} ({q1:.2f}–{q3:.2f})"})
    return pd.DataFrame(rows)


def _criteria_available(measurements: pd.DataFrame) -> list[str]:
    have = {c for c in measurements.columns if measurements[c].notna().any()}
    out = []
    for name, crit in response.CRITERIA.items():
        cols = response.MEASURE_COLUMNS[crit.measure]
        if set(cols) <= have and (crit.density_pr_change_fraction is None or "attenuation_hu" in have):
            out.append(name)
    return out


def _best_for_all(patients: pd.DataFrame, tp: pd.DataFrame, confirmation_min_days: float | None) -> pd.DataFrame:
    best = response.best_overall_responses(tp, confirmation_min_days=confirmation_min_days)
    out = patients[["patient_id"]].merge(best, on="patient_id", how="left")
    out["best_response"] = out["best_response"].fillna("NE")
    return out


def _rates_row(name: str, best: pd.Series) -> dict[str, Any]:
    r = rates.response_rates(best.replace({"NN": "SD"}).tolist())
    return {"criteria": name, **{k: v for k, v in r.counts.items()}, "n": r.orr.total,
            "orr_n": r.orr.count, "orr_percent": r.orr.percent, "orr_ci_low_percent": 100 * r.orr.ci_low,
            "orr_ci_high_percent": 100 * r.orr.ci_high, "dcr_n": r.dcr.count, "dcr_percent": r.dcr.percent,
            "dcr_ci_low_percent": 100 * r.dcr.ci_low, "dcr_ci_high_percent": 100 * r.dcr.ci_high}


def _lesion_doses(data: CohortData) -> pd.DataFrame:
    les = data.lesions
    les = les[(les["role"] == "target") & les["tumour_dose_gy"].notna()][["patient_id", "lesion_id",
                                                                          "tumour_dose_gy"]]
    m = data.measurements[["patient_id", "lesion_id", "date", "diameter_mm"]].dropna()
    m = m.merge(les[["patient_id", "lesion_id"]], on=["patient_id", "lesion_id"])
    m = m.sort_values("date")
    g = m.groupby(["patient_id", "lesion_id"])
    first = g["diameter_mm"].first()
    first_date = g["date"].first()
    m = m.join(first_date.rename("d0"), on=["patient_id", "lesion_id"])
    fu_min = m[m["date"] > m["d0"]].groupby(["patient_id", "lesion_id"])["diameter_mm"].min()
    df = pd.concat([first.rename("baseline_diameter_mm"), fu_min.rename("best_diameter_mm")], axis=1).dropna()
    df = df[df["baseline_diameter_mm"] > 0]
    df["change_fraction"] = (df["best_diameter_mm"] - df["baseline_diameter_mm"]) / df["baseline_diameter_mm"]
    df["responded"] = (df["change_fraction"] <= -LESION_RESPONSE_DECREASE_FRACTION + 1e-12).astype(int)
    out = les.merge(df.reset_index(), on=["patient_id", "lesion_id"], how="inner")
    return out[out["tumour_dose_gy"] > 0].reset_index(drop=True)


def _dose_estimate(key: str, est: tuple[float, float, float], observed: np.ndarray) -> dict[str, Any]:
    """A dose read off a fitted curve, never negative and never beyond the observed doses.

    A logistic curve on linear dose can put the dose of a given risk below 0 Gy or far outside the data;
    such a value (or interval limit) is not a dose, so it is withheld (None) and ``<key>_note`` says why.
    """
    lo_obs, hi_obs = float(np.nanmin(observed)), float(np.nanmax(observed))
    x, lo, hi = est
    out: dict[str, Any] = {f"{key}_gy": x, f"{key}_ci_gy": [lo, hi]}
    if not (np.isfinite(x) and lo_obs <= x <= hi_obs):
        out[f"{key}_gy"] = None
        out[f"{key}_ci_gy"] = [None, None]
        out[f"{key}_note"] = (f"not reported: the fitted curve reaches this risk at {x:.0f} Gy, outside the "
                              f"observed doses ({lo_obs:.0f}–{hi_obs:.0f} Gy)")
    elif not (np.isfinite(lo) and np.isfinite(hi) and lo >= lo_obs and hi <= hi_obs):
        out[f"{key}_ci_gy"] = [lo if np.isfinite(lo) and lo >= lo_obs else None,
                               hi if np.isfinite(hi) and hi <= hi_obs else None]
        out[f"{key}_note"] = (f"interval limit(s) outside the observed doses ({lo_obs:.0f}–{hi_obs:.0f} Gy) "
                              "not reported")
    return out


def _dose_response(lesions: pd.DataFrame, n_bootstrap: int, rng: np.random.Generator,
                   warnings_out: list[str]) -> dict[str, Any]:
    n_minor = int(min(lesions["responded"].sum(), (1 - lesions["responded"]).sum())) if len(lesions) else 0
    if n_minor < MIN_EVENTS_PER_VARIABLE:
        warnings_out.append(f"dose–response not computed: {n_minor} lesions in the rarer outcome (responding or "
                            f"not), fewer than {MIN_EVENTS_PER_VARIABLE} (Peduzzi et al. 1996); no interval "
                            "can be estimated")
        return {}
    out: dict[str, Any] = {"n_lesions": len(lesions), "n_responding": int(lesions["responded"].sum()),
                           "lesion_response_rule": f"diameter decrease >= {LESION_RESPONSE_DECREASE_FRACTION:.0%}"}
    try:
        fit = doseresponse.logistic_fit(lesions["tumour_dose_gy"], lesions["responded"], log_x=True)
        d50 = fit.x_at_probability(0.5)
        out.update({"logistic_intercept": fit.intercept, "logistic_slope_per_log_gy": fit.slope,
                    "logistic_slope_ci": list(fit.slope_ci), "logistic_p_value": fit.slope_p_value,
                    **_dose_estimate("d50", d50, lesions["tumour_dose_gy"].to_numpy(float))})
    except InputError as err:
        warnings_out.append(f"dose–response logistic fit: {err}")
    y = doseresponse.youden_threshold(lesions["tumour_dose_gy"], lesions["responded"], n_bootstrap=n_bootstrap,
                                      rng=rng)
    out.update({"auc": y.auc, "auc_ci": [y.auc_ci_low, y.auc_ci_high], "youden_threshold_gy": y.threshold,
                "youden_threshold_ci_gy": [y.ci_low, y.ci_high], "sensitivity": y.sensitivity,
                "specificity": y.specificity, "n_bootstrap": y.n_bootstrap})
    return out


def analyse_cohort(data: CohortData, *, criteria: str = "recist1.1", confirmation_min_days: float | None = None,
                   n_bootstrap: int = 1000, rng: np.random.Generator | int | None = 0,
                   progress: ProgressCallback | None = None) -> CohortAnalysis:
    """Run every analysis of the cohort report.

    Parameters
    ----------
    data : CohortData
        Validated cohort (:func:`sirtkit.outcomes.cohort.read_cohort` or the synthetic generator).
    criteria : str
        Primary response criteria (key of :data:`sirtkit.outcomes.response.CRITERIA`).
    confirmation_min_days : float, optional
        Confirmation interval for CR/PR (RECIST 1.1: 28 days) or None for unconfirmed best response.
    n_bootstrap : int
        Bootstrap resamples for the dose threshold CI.
    rng : Generator, int or None
        Seed of the bootstrap (default 0: reports are reproducible).
    progress : ProgressCallback, optional
        Receives the fraction done.

    Returns
    -------
    CohortAnalysis
    """
    g = np.random.default_rng(rng)
    warn: list[str] = []
    n = data.n_patients
    if n < 1:
        raise InputError("the cohort has no patients; fill the patients sheet")
    report(progress, 0.1, "response")
    first_tx = data.treatments.groupby("patient_id")["treatment_date"].min()
    baselines = response.response_baselines(data.measurements, first_tx.reindex(data.patients["patient_id"]))
    warn.extend(_baseline_warnings(baselines))
    available = _criteria_available(data.measurements)
    criteria = response.get_criteria(criteria).name
    # Two independent parts run in forked worker processes while this one goes on (sirtkit._concurrent): the
    # lesion dose–response with its bootstrap (the only user of ``g``), and the best responses of the other
    # criteria (their time points computed there from the same input; assess_timepoints_by_criteria equals
    # one call per criterion, tested). Without fork, under SIRTKIT_SERIAL=1, or above WORKER_MAX_MEASUREMENTS
    # (each worker builds its own copies of the measurements), everything runs here, in the order it always
    # did. The results are the same either way (tested).
    workers = concurrency_enabled() and len(data.measurements) <= WORKER_MAX_MEASUREMENTS
    others = ([c for c in available if c != criteria]
              if criteria in available and not data.measurements.empty else [])
    dose_task = run_in_child(_lesion_dose_response, data, n_bootstrap, g, label="dose–response") if workers else None
    other_task = (run_in_child(_other_criteria_rates, data, others, first_tx, confirmation_min_days,
                               label="response by other criteria") if workers and others else None)
    try:
        return _analyse(data, criteria, available, others, first_tx, baselines, warn, confirmation_min_days,
                        n_bootstrap, g, other_task, dose_task, progress)
    finally:  # no-ops once collected; stop the workers when this process failed first
        for task in (dose_task, other_task):
            if task is not None:
                task.cancel()


def _lesion_dose_response(data: CohortData, n_bootstrap: int,
                          g: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """Lesion doses and the dose–response fit with its bootstrap, and the caveats it raised (in order)."""
    warn: list[str] = []
    lesion_doses = _lesion_doses(data)
    return lesion_doses, _dose_response(lesion_doses, n_bootstrap, g, warn), warn


def _other_criteria_rates(data: CohortData, others: list[str], first_tx: pd.Series,
                          confirmation_min_days: float | None) -> list[dict[str, Any]]:
    """Response-rate rows of the criteria ``others`` (only their best responses are kept: see ``_analyse``)."""
    by_criteria = response.assess_timepoints_by_criteria(data.lesions, data.measurements, others,
                                                         first_treatment=first_tx)
    return [_rates_row(other, _best_for_all(data.patients, by_criteria.pop(other), confirmation_min_days)
                       ["best_response"]) for other in others]


def _analyse(data: CohortData, criteria: str, available: list[str], others: list[str], first_tx: pd.Series,
             baselines: pd.DataFrame, warn: list[str], confirmation_min_days: float | None, n_bootstrap: int,
             g: np.random.Generator, other_task: ChildTask[list[dict[str, Any]]] | None,
             dose_task: ChildTask[tuple[pd.DataFrame, dict[str, Any], list[str]]] | None,
             progress: ProgressCallback | None) -> CohortAnalysis:
    """The rest of :func:`analyse_cohort`, collecting the worker tasks (if any) where their results are needed."""
    n = data.n_patients
    treatments = _treatment_table(data)
    other_rows: list[dict[str, Any]] = []
    if data.measurements.empty:
        tp = pd.DataFrame(columns=["patient_id", "date", "days", "overall_response",
                                   "change_from_baseline_fraction"])
        warn.append("no lesion measurements: every best response is NE")
    elif criteria not in available:
        raise InputError(f"criteria {criteria}: the measurements sheet lacks the columns it needs "
                         f"({', '.join(response.MEASURE_COLUMNS[response.CRITERIA[criteria].measure])})")
    else:
        by_criteria = response.assess_timepoints_by_criteria(
            data.lesions, data.measurements, [criteria] if other_task is not None else [criteria, *others],
            first_treatment=first_tx)
        tp = by_criteria.pop(criteria)
        # Only the other criteria's best responses are kept (their time-point tables, ~35 MB each at 50 000
        # patients, would otherwise stay in memory through the liver-only assessment and the lab grading).
        if other_task is None:
            other_rows = [_rates_row(other, _best_for_all(data.patients, by_criteria.pop(other),
                                                          confirmation_min_days)["best_response"])
                          for other in others]
        del by_criteria
    hepatic_tp = (response.assess_timepoints(hepatic_lesions(data.lesions), data.measurements, criteria,
                                             first_treatment=first_tx)
                  if not data.measurements.empty else None)
    endpoints = derive_endpoints(data, criteria=criteria, timepoints=tp if len(tp) else None,
                                 hepatic_timepoints=hepatic_tp)
    first_sirt = endpoints.set_index("patient_id")["first_sirt_date"]
    baseline = pd.DataFrame([*_baseline_table(data).to_dict("records"), *_baseline_labs(data.labs, first_sirt)])
    warn.extend(_site_warnings(data.lesions))
    best = _best_for_all(data.patients, tp, confirmation_min_days)
    best["note"] = best["patient_id"].map(baselines.set_index("patient_id")["reason"]).fillna("").to_numpy(object)
    primary_rates = rates.response_rates(best["best_response"].replace({"NN": "SD"}).tolist())
    if other_task is not None:
        other_rows = other_task.result()
    rates_by = pd.DataFrame([_rates_row(criteria, best["best_response"]), *other_rows])

    report(progress, 0.3, "toxicity")
    lab_tox = toxicity.lab_toxicity(data.labs, first_sirt)
    clin = data.toxicities[["patient_id", "term", "grade"]].dropna()
    all_tox = pd.concat([clin.astype({"grade": int}), lab_tox[["patient_id", "term", "grade"]]], ignore_index=True)
    tox_table = toxicity.toxicity_table(all_tox, n) if len(all_tox) else pd.DataFrame()
    prog = endpoints.loc[endpoints["ttp_event"] == 1].set_index("patient_id")["ttp_date"]
    reild = toxicity.detect_reild(data.labs, data.toxicities, data.treatments, prog)
    reild_rate = rates.proportion(int(reild["reild"].sum()), n) if n else None
    if reild.attrs.get("bilirubin_rows_without_unit"):
        warn.append(f"{reild.attrs['bilirubin_rows_without_unit']} bilirubin value(s) without a unit (mg/dL, mg/L or "
                    "µmol/L) could not be assessed for REILD (jaundice = bilirubin >= "
                    f"{toxicity.REILD_BILIRUBIN_MG_PER_DL:g} mg/dL)")

    report(progress, 0.4, "markers and symptoms")
    mk = []
    for test in ("cga", "5hiaa"):
        r = markers.marker_responses(data.labs, first_sirt, test)
        mk.append(r.assign(test=test))
    marker_df = pd.concat(mk, ignore_index=True)
    marker_table = _category_table(marker_df, "test", markers.MARKER_CATEGORIES)
    sym = markers.symptom_responses(data.symptoms, first_sirt)
    sym_table = _category_table(sym.assign(test="carcinoid_syndrome"), "test",
                                ("complete", "improved", "stable", "worse"))
    sym_rate = markers.symptom_response_rate(sym)

    report(progress, 0.5, "survival")
    covs = _covariate_frame(data.patients)
    ep = endpoints.merge(covs, on="patient_id")
    raw = data.patients.set_index("patient_id")
    km: dict[str, survival.KaplanMeier] = {}
    strata: dict[str, dict[str, survival.KaplanMeier]] = {}
    lr_rows = []
    surv_rows = []
    for key, label in ENDPOINTS.items():
        k = survival.kaplan_meier(ep[f"{key}_months"], ep[f"{key}_event"], label=label)
        km[key] = k
        sa = survival.survival_at(k, LANDMARK_MONTHS)
        surv_rows.append({"endpoint": key, "label": label, "n": k.n, "events": k.n_events_total,
                          "median_months": k.median, "median_ci_low_months": k.median_ci[0],
                          "median_ci_high_months": k.median_ci[1],
                          **{f"survival_{int(t)}m": s for t, s in zip(sa["time"], sa["survival"], strict=True)}})
    first_device = data.treatments.sort_values("treatment_date").groupby("patient_id")["device"].first()
    raw = raw.assign(device=first_device.reindex(raw.index))
    for factor in STRATA:
        col = pd.Series(raw[factor].reindex(ep["patient_id"]).to_numpy(object), index=ep.index)
        col = col.where(col.notna())
        groups = [x for x in pd.unique(col) if not pd.isna(x)]
        if len(groups) < 2:
            continue
        strata[factor] = {str(gv): survival.kaplan_meier(ep.loc[col == gv, "os_months"],
                                                         ep.loc[col == gv, "os_event"], label=f"{factor}={gv}")
                          for gv in sorted(groups, key=str)}
        mask = col.notna().to_numpy()
        lr = survival.logrank_test(ep.loc[mask, "os_months"], ep.loc[mask, "os_event"], col[mask].to_numpy())
        lr_rows.append({"endpoint": "os", "factor": factor, "chi2": lr.chi2, "df": lr.df, "p_value": lr.p_value,
                        "groups": "; ".join(f"{r.group}: n={r.n}, O={r.observed:.0f}, E={r.expected:.1f}"
                                            for r in lr.groups.itertuples())})

    report(progress, 0.6, "Cox models")
    cov_names = [c.name for c in COVARIATES if c.name in covs.columns and covs[c.name].nunique() >= 2]
    uni_rows = []
    fit_names = []
    for name in cov_names:
        ok = ep[name].notna()
        n_ev = int(ep.loc[ok, "os_event"].sum())
        if n_ev < MIN_EVENTS_PER_VARIABLE:
            uni_rows.append({"covariate": name, "label": _label(name), "n": int(ok.sum()), "events": n_ev,
                             "hazard_ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan,
                             "note": f"not fitted: {n_ev} events (fewer than {MIN_EVENTS_PER_VARIABLE} per "
                                     "covariate, Peduzzi 1995)"})
        else:
            fit_names.append(name)
    for name, res in survival.univariable_cox(ep, "os_months", "os_event", fit_names,
                                              concordance=False).items():
        hr = res.rows[0]
        uni_rows.append({"covariate": name, "label": _label(name), "n": res.n, "events": res.n_events,
                         "hazard_ratio": hr.hazard_ratio, "ci_low": hr.ci_low, "ci_high": hr.ci_high,
                         "p_value": hr.p_value,
                         "note": "" if np.isfinite(hr.ci_low) else "no interval: the fit did not converge (a group "
                                                                   "without events?)"})
        warn.extend(res.warnings)
    order = {c: i for i, c in enumerate(cov_names)}
    uni_rows.sort(key=lambda r: order[str(r["covariate"])])
    multi = pd.DataFrame()
    if cov_names:
        n_ev_all = int(ep.dropna(subset=cov_names)["os_event"].sum())
        needed = MIN_EVENTS_PER_VARIABLE * len(cov_names)
        if n_ev_all < needed:
            warn.append(f"multivariable Cox not fitted: {n_ev_all} deaths among patients with every covariate, "
                        f"fewer than {MIN_EVENTS_PER_VARIABLE} per covariate ({needed} for {len(cov_names)}; "
                        "Peduzzi et al., J Clin Epidemiol 1995)")
        else:
            try:
                mres = survival.cox_regression(ep, "os_months", "os_event", cov_names, concordance=False)
                multi = mres.table().assign(label=lambda d: d["covariate"].map(_label), n=mres.n,
                                            events=mres.n_events)
                warn.extend(mres.warnings)
            except InputError as err:
                warn.append(f"multivariable Cox not fitted: {err}")

    report(progress, 0.7, "dose–response")
    if dose_task is not None:
        lesion_doses, dr, dose_warnings = dose_task.result()
        warn.extend(dose_warnings)
    else:
        lesion_doses = _lesion_doses(data)
        dr = _dose_response(lesion_doses, n_bootstrap, g, warn)
    nl = data.treatments.groupby("patient_id")["normal_liver_dose_gy"].max().rename("normal_liver_dose_gy")
    hep = all_tox[all_tox["term"].isin(HEPATIC_TOXICITY_TERMS)].groupby("patient_id")["grade"].max()
    liver_tox = pd.DataFrame({"patient_id": data.patients["patient_id"]}).join(nl, on="patient_id")
    liver_tox["worst_hepatic_grade"] = liver_tox["patient_id"].map(hep).fillna(0).astype(int)
    liver_tox["severe_hepatic_toxicity"] = (liver_tox["worst_hepatic_grade"] >= SEVERE_GRADE).astype(int)
    liver_tox = liver_tox.dropna(subset=["normal_liver_dose_gy"])
    dt: dict[str, Any] = {}
    sev = liver_tox["severe_hepatic_toxicity"]
    n_minor = int(min(sev.sum(), (1 - sev).sum())) if len(sev) else 0
    if n_minor >= MIN_EVENTS_PER_VARIABLE:
        try:
            f = doseresponse.logistic_fit(liver_tox["normal_liver_dose_gy"], sev)
            d = f.x_at_probability(0.1)
            dose_obs = liver_tox["normal_liver_dose_gy"].to_numpy(float)
            dt = {"n_patients": len(liver_tox), "n_events": f.n_events, "logistic_intercept": f.intercept,
                  "logistic_slope_per_gy": f.slope, "odds_ratio_per_gy": f.odds_ratio,
                  "logistic_slope_ci": list(f.slope_ci), "logistic_p_value": f.slope_p_value,
                  **_dose_estimate("dose_at_10_percent_risk", d, dose_obs),
                  "outcome": f"worst hepatic toxicity grade >= {SEVERE_GRADE}"}
        except InputError as err:
            warn.append(f"normal-liver dose–toxicity fit: {err}")
    else:
        warn.append(f"normal-liver dose–toxicity not computed: {n_minor} patients in the rarer outcome (severe "
                    f"hepatic toxicity or none), fewer than {MIN_EVENTS_PER_VARIABLE} (Peduzzi et al. 1996)")

    report(progress, 0.85, "literature")
    os_km = km["os"]
    lit = literature.compare_with_literature({
        "n": n, "device": ", ".join(sorted(data.treatments["device"].dropna().unique())),
        "orr_percent": primary_rates.orr.percent, "dcr_percent": primary_rates.dcr.percent,
        "median_os_months": os_km.median, "median_pfs_months": km["pfs"].median,
        "os_3y_percent": _landmark(os_km, 36.0)})
    swimmer = _swimmer(endpoints, tp)
    report(progress, 1.0, "analysis done")
    return CohortAnalysis(
        n_patients=n, criteria=criteria, baseline=baseline, treatments=treatments, endpoints=endpoints,
        timepoints=tp, best_response=best, rates=primary_rates, rates_by_criteria=rates_by, toxicity=tox_table,
        markers=marker_df, marker_table=marker_table, symptoms=sym, symptom_table=sym_table, km=km,
        km_strata=strata, logrank=pd.DataFrame(lr_rows), survival_table=pd.DataFrame(surv_rows),
        cox_univariable=pd.DataFrame(uni_rows), cox_multivariable=multi, lesion_doses=lesion_doses,
        dose_response=dr, liver_toxicity=liver_tox, dose_toxicity=dt, literature=lit, swimmer=swimmer,
        response_baselines=baselines, reild=reild, reild_rate=reild_rate, symptom_rate=sym_rate,
        confirmation_min_days=confirmation_min_days, warnings=warn)


def _baseline_warnings(baselines: pd.DataFrame) -> list[str]:
    """Caveats on response baselines: patients not evaluable, baselines older than RECIST 1.1 allows."""
    out = []
    n_ne = int((~baselines["evaluable"]).sum())
    if n_ne:
        out.append(f"{n_ne} patient(s) not evaluable for response: no tumour assessment on or before the first "
                   "SIRT (RECIST 1.1 §3.2 takes the last pre-treatment assessment as baseline); they count as NE "
                   "in the response denominators")
    n_old = int(baselines["baseline_too_old"].sum())
    if n_old:
        out.append(f"{n_old} patient(s) have a response baseline more than "
                   f"{response.RECIST_BASELINE_MAX_AGE_DAYS:g} days before the first SIRT (RECIST 1.1 §3.2: never "
                   "more than 4 weeks); their responses are kept but the baseline is flagged in "
                   "tables/response_baselines.csv")
    return out


def _site_warnings(lesions: pd.DataFrame) -> list[str]:
    """Caveat when lesions lack the organ that hepatic PFS needs."""
    if lesions.empty:
        return []
    no_site = lesions["organ"].isna() & ~lesions["is_lymph_node"].astype("boolean").fillna(False)
    if not no_site.any():
        return []
    n_new = int((no_site & (lesions["role"] == "new")).sum())
    return [f"{int(no_site.sum())} lesion(s) ({n_new} new) have no organ in the lesions sheet: they count for PFS "
            "but never for hepatic PFS; fill the organ column (liver, lymph_node, ...) to attribute their "
            "progression"]


def _label(name: str) -> str:
    return next((c.label for c in COVARIATES if c.name == name), name)


def _landmark(km: survival.KaplanMeier, months: float) -> float | None:
    v = survival.survival_at(km, [months])["survival"].iloc[0]
    return None if pd.isna(v) else 100.0 * float(v)


def _category_table(df: pd.DataFrame, by: str, categories: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for key, part in df.groupby(by, sort=True):
        n = len(part)
        row: dict[str, Any] = {by: key, "n": n}
        for c in categories:
            k = int((part["category"] == c).sum())
            row[f"{c}_n"] = k
            row[f"{c}_percent"] = 100.0 * k / n if n else None
        rows.append(row)
    return pd.DataFrame(rows)


def _swimmer(endpoints: pd.DataFrame, tp: pd.DataFrame) -> pd.DataFrame:
    """Per patient: follow-up (OS time), death, first response and first progression (months)."""
    sw = endpoints[["patient_id", "os_months", "os_event", "pfs_months", "pfs_event", "first_sirt_date"]].copy()
    if len(tp):
        t = tp.merge(sw[["patient_id", "first_sirt_date"]], on="patient_id")
        t["months"] = (t["date"] - t["first_sirt_date"]).dt.days / (365.25 / 12)
        resp = t[t["overall_response"].isin(["CR", "PR"])].groupby("patient_id")["months"].min()
        sw["first_response_months"] = sw["patient_id"].map(resp)
    else:
        sw["first_response_months"] = np.nan
    return sw.drop(columns=["first_sirt_date"])
