"""Toxicity: CTCAE v5.0 grading of the laboratory adverse events relevant to SIRT, REILD, tables.

Laboratory terms are graded from the value, the laboratory's limits of normal and, where CTCAE v5.0 says
so, the patient's baseline (an abnormal baseline moves the grade-1 boundary to a multiple of baseline).
Clinical terms (fatigue, ascites, pneumonitis, ulcer ...) are recorded as the grade the clinician gave;
the template stores the grade, not the text.

Grade boundaries (the value must be *above* the lower bound of a grade for "increased" terms and
*below* it for "decreased" terms):

>>> grade_lab("bilirubin", 2.0, uln=1.2)       # 1.67 × ULN → >1.5–3.0 × ULN
2
>>> grade_lab("ast", 50.0, uln=40.0, baseline=60.0)   # abnormal baseline: 50 < 1.5 × 60
0
>>> grade_lab("platelets", 60.0, lln=150.0)    # <75–50 × 10⁹/L
2

References
----------
National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) v5.0, 27 Nov 2017
(Investigations / Metabolism SOCs); liver-test rows as tabulated in WJH 2026 Table 1 (CLINICAL.md §9).
Braat MNGA et al. / van Roekel C (thesis, pp. 38–39): REILD definition and hepatotoxicity grading.
Sangro B et al. Liver disease induced by radioembolization of liver tumors: description and possible risk
factors. Cancer 2008;112:1538–1546: the REILD rule of :func:`detect_reild`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sirtkit.errors import InputError, UnitsError
from sirtkit.units import LAB_QUANTITIES, unit_key

__all__ = [
    "BRAAT_HEPATOTOXICITY_GRADES",
    "CTCAE_GENERIC_GRADES",
    "LAB_RULES",
    "REILD_BILIRUBIN_MG_PER_DL",
    "REILD_DEFINITION",
    "REILD_ONSET_MAX_DAYS",
    "SANGRO_REILD_DEFINITION",
    "LabRule",
    "detect_reild",
    "grade_lab",
    "grade_labs",
    "lab_toxicity",
    "toxicity_table",
]

#: CTCAE v5.0 generic grade descriptions (NCI CTCAE v5.0, "Grades"; CLINICAL.md §9).
CTCAE_GENERIC_GRADES: dict[int, str] = {
    1: "Mild; asymptomatic or mild symptoms; clinical or diagnostic observations only; intervention not indicated",
    2: "Moderate; minimal, local or noninvasive intervention indicated; limiting age-appropriate instrumental ADL",
    3: "Severe or medically significant but not immediately life-threatening; hospitalization indicated; "
       "limiting self care ADL",
    4: "Life-threatening consequences; urgent intervention indicated",
    5: "Death related to AE",
}

#: Radioembolization-induced liver disease (Braat et al. 2017, as cited in van Roekel, thesis p. 38).
REILD_DEFINITION = (
    "Symptomatic post-radioembolization deterioration in the liver's synthetic, excretory and detoxifying "
    "functions, characterised by jaundice and development or increase of ascites, hyperbilirubinaemia and "
    "hypoalbuminaemia, developing at least 2 weeks to 4 months after radioembolization, in the absence of tumour "
    "progression or biliary obstruction (Braat MNGA et al., 2017)."
)

#: REILD as Sangro et al. defined it (Cancer 2008;112:1538–1546): a clinical picture of jaundice and ascites
#: appearing 4 to 8 weeks after radioembolization, in the absence of tumour progression or bile-duct
#: occlusion (veno-occlusive disease on histology). This is the rule :func:`detect_reild` applies to the data.
SANGRO_REILD_DEFINITION = (
    "Jaundice and ascites appearing within 2 months after radioembolization (observed 4 to 8 weeks after "
    "treatment), in the absence of tumour progression or bile-duct occlusion (Sangro B et al., Cancer "
    "2008;112:1538-1546)."
)
#: Onset window after each SIRT session (days): Sangro 2008 saw the picture 4–8 weeks after treatment and
#: defined it within the first 1–2 months; 2 months (61 days) is the end of the window used here.
REILD_ONSET_MAX_DAYS = 61.0
#: Jaundice as total bilirubin >= 3 mg/dL (51.3 µmol/L). [K] The operational laboratory threshold used for
#: REILD in the same group's later series (Gil-Alzugaray et al., Hepatology 2013;57:1078–1087); it equals
#: the CTCAE v5 grade-3 boundary for a ULN of 1 mg/dL. Configurable in :func:`detect_reild`.
REILD_BILIRUBIN_MG_PER_DL = 3.0
#: Total bilirubin spellings → factor to mg/dL: the work-up's accepted units (sirtkit.units, 17.1 µmol/L per
#: mg/dL) and mg/L, which some laboratory exports use.
_BILIRUBIN_UNITS = {**LAB_QUANTITIES["bilirubin"].units, "mg/l": 0.1}
#: Toxicity terms recording bile-duct occlusion (CTCAE v5 "Bile duct stenosis"; free-text synonym).
BILE_DUCT_TERMS = ("bile_duct_stenosis", "biliary_obstruction")
#: Toxicity term recording ascites (CTCAE v5 "Ascites"), any grade.
ASCITES_TERM = "ascites"


def detect_reild(labs: pd.DataFrame, toxicities: pd.DataFrame, treatments: pd.DataFrame,
                 progression_dates: pd.Series | None = None, *,
                 bilirubin_mg_per_dl: float = REILD_BILIRUBIN_MG_PER_DL,
                 onset_max_days: float = REILD_ONSET_MAX_DAYS) -> pd.DataFrame:
    """Radioembolization-induced liver disease detected from laboratory values and recorded events (Sangro 2008).

    A patient has REILD after a SIRT session when, within ``onset_max_days`` after it, both a total bilirubin
    >= ``bilirubin_mg_per_dl`` (jaundice) and an ``ascites`` adverse event (any grade) are recorded, and
    neither tumour progression (``progression_dates``, any source) nor bile-duct occlusion (a
    ``bile_duct_stenosis`` or ``biliary_obstruction`` event) is recorded between that session and the later
    of the two findings (:data:`SANGRO_REILD_DEFINITION`).

    Parameters
    ----------
    labs : DataFrame
        Template ``labs`` (``test == "bilirubin"`` rows with ``unit`` mg/dL, mg/L or µmol/L).
    toxicities : DataFrame
        Template ``toxicities`` (``term``, ``date``).
    treatments : DataFrame
        Template ``treatments`` (``treatment_date`` of every session).
    progression_dates : Series, optional
        Date of the first progression per patient (index ``patient_id``).
    bilirubin_mg_per_dl, onset_max_days : float
        The thresholds (defaults :data:`REILD_BILIRUBIN_MG_PER_DL`, :data:`REILD_ONSET_MAX_DAYS`).

    Returns
    -------
    DataFrame
        One row per patient with both findings after a session: ``patient_id``, ``sirt_date``,
        ``bilirubin_date``, ``bilirubin_mg_per_dl`` (highest in the window), ``ascites_date``, ``onset_date``
        (the later finding), ``reild`` (True when no exclusion applies) and ``excluded_by`` (``progression``,
        ``bile_duct_occlusion`` or empty). ``attrs["bilirubin_rows_without_unit"]`` counts bilirubin rows that
        could not be assessed (unit missing or unknown).

    Examples
    --------
    >>> tr = pd.DataFrame({"patient_id": ["a"], "treatment_date": pd.to_datetime(["2020-01-01"])})
    >>> lb = pd.DataFrame({"patient_id": ["a"], "date": pd.to_datetime(["2020-02-05"]), "test": ["bilirubin"],
    ...                    "value": [60.0], "unit": ["µmol/L"]})
    >>> tx = pd.DataFrame({"patient_id": ["a"], "date": pd.to_datetime(["2020-02-10"]), "term": ["ascites"]})
    >>> r = detect_reild(lb, tx, tr)
    >>> bool(r["reild"].iloc[0]), round(float(r["bilirubin_mg_per_dl"].iloc[0]), 2)
    (True, 3.51)
    """
    cols = ["patient_id", "sirt_date", "bilirubin_date", "bilirubin_mg_per_dl", "ascites_date", "onset_date",
            "reild", "excluded_by"]
    bil = labs[labs["test"] == "bilirubin"][["patient_id", "date", "value", "unit"]]
    keys = bil["unit"].astype(object).map(lambda u: unit_key(u) if isinstance(u, str) else "")
    factor = keys.map(_BILIRUBIN_UNITS)
    n_unknown = int(factor.isna().sum())
    bil = bil.assign(mg_dl=bil["value"].to_numpy(float) * factor.to_numpy(float)).dropna(subset=["mg_dl"])
    bil = bil[bil["mg_dl"] >= bilirubin_mg_per_dl - 1e-9]
    tox = toxicities[["patient_id", "date", "term"]]
    asc = tox[tox["term"] == ASCITES_TERM]
    sess = treatments[["patient_id", "treatment_date"]].rename(columns={"treatment_date": "sirt_date"})
    window = pd.Timedelta(days=onset_max_days)

    def in_window(df: pd.DataFrame) -> pd.DataFrame:
        j = df.merge(sess, on="patient_id")
        return j[(j["date"] >= j["sirt_date"]) & (j["date"] <= j["sirt_date"] + window)]

    b = in_window(bil).sort_values("mg_dl", ascending=False).groupby(["patient_id", "sirt_date"]).agg(
        bilirubin_date=("date", "min"), bilirubin_mg_per_dl=("mg_dl", "max"))
    a = in_window(asc).groupby(["patient_id", "sirt_date"]).agg(ascites_date=("date", "min"))
    both = b.join(a, how="inner").reset_index()
    if both.empty:
        out = pd.DataFrame({c: [] for c in cols})
        out.attrs["bilirubin_rows_without_unit"] = n_unknown
        return out
    both["onset_date"] = both[["bilirubin_date", "ascites_date"]].max(axis=1)
    excluded = np.full(len(both), "", dtype=object)
    occl = tox[tox["term"].isin(BILE_DUCT_TERMS)].merge(both[["patient_id", "sirt_date", "onset_date"]],
                                                        on="patient_id")
    occl = occl[(occl["date"] >= occl["sirt_date"]) & (occl["date"] <= occl["onset_date"])]
    key = list(zip(both["patient_id"], both["sirt_date"], strict=True))
    occl_keys = set(zip(occl["patient_id"], occl["sirt_date"], strict=True))
    excluded[[k in occl_keys for k in key]] = "bile_duct_occlusion"
    if progression_dates is not None:
        prog = both["patient_id"].map(progression_dates)
        progressed = (prog.notna() & (prog <= both["onset_date"])).to_numpy(bool)
        excluded[progressed] = "progression"
    both["excluded_by"] = excluded
    both["reild"] = excluded == ""
    out = both.sort_values(["patient_id", "reild", "sirt_date"], ascending=[True, False, True]).groupby(
        "patient_id", as_index=False).first()[cols]
    out.attrs["bilirubin_rows_without_unit"] = n_unknown
    return out.reset_index(drop=True)


#: Hepatotoxicity grading after radioembolization (Braat et al. 2017; van Roekel thesis p. 39).
BRAAT_HEPATOTOXICITY_GRADES: dict[int, str] = {
    0: "None",
    1: "Minor: transaminases, ALP or GGT increase up to CTCAE grade 1",
    2: "Moderate, self-limiting",
    3: "REILD treated non-invasively (diuretics, ursodeoxycholic acid, steroids)",
    4: "REILD needing invasive treatment (paracentesis, transfusion, dialysis, TIPS)",
    5: "Fatal REILD",
}


@dataclass(frozen=True)
class LabRule:
    """CTCAE v5.0 grading of one laboratory term.

    ``direction = "increased"``: grade g ≥ 1 when value > ``uln_multiples[g-1]`` × ULN (normal baseline)
    or > ``baseline_multiples[g-1]`` × baseline (baseline above ULN).
    ``direction = "decreased"``: grade 1 below LLN, grade g ≥ 2 below ``absolute_limits[g-2]`` (canonical unit).
    """

    term: str
    test: str
    direction: Literal["increased", "decreased"]
    uln_multiples: tuple[float, ...] = ()
    baseline_multiples: tuple[float, ...] = ()
    absolute_limits: tuple[float, ...] = ()
    unit: str = ""
    source: str = "NCI CTCAE v5.0 (2017)"


#: The laboratory rules (CTCAE v5.0; liver tests also in WJH 2026 Table 1, CLINICAL.md §9).
LAB_RULES: dict[str, LabRule] = {r.test: r for r in (
    LabRule("blood_bilirubin_increased", "bilirubin", "increased", (1.0, 1.5, 3.0, 10.0), (1.0, 1.5, 3.0, 10.0)),
    LabRule("ast_increased", "ast", "increased", (1.0, 3.0, 5.0, 20.0), (1.5, 3.0, 5.0, 20.0)),
    LabRule("alt_increased", "alt", "increased", (1.0, 3.0, 5.0, 20.0), (1.5, 3.0, 5.0, 20.0)),
    LabRule("alkaline_phosphatase_increased", "alp", "increased", (1.0, 2.5, 5.0, 20.0), (2.0, 2.5, 5.0, 20.0)),
    LabRule("ggt_increased", "ggt", "increased", (1.0, 2.5, 5.0, 20.0), (2.0, 2.5, 5.0, 20.0)),
    # Hypoalbuminemia: G1 <LLN–3 g/dL; G2 <3–2 g/dL; G3 <2 g/dL (G4 is clinical, not a value).
    LabRule("hypoalbuminemia", "albumin", "decreased", absolute_limits=(3.0, 2.0), unit="g/dL"),
    # Platelet count decreased: G1 <LLN–75; G2 <75–50; G3 <50–25; G4 <25 × 10⁹/L.
    LabRule("platelet_count_decreased", "platelets", "decreased", absolute_limits=(75.0, 50.0, 25.0),
            unit="10^9/L"),
    # Lymphocyte count decreased: G1 <LLN–0.8; G2 <0.8–0.5; G3 <0.5–0.2; G4 <0.2 × 10⁹/L.
    LabRule("lymphocyte_count_decreased", "lymphocytes", "decreased", absolute_limits=(0.8, 0.5, 0.2),
            unit="10^9/L"),
)}

#: Unit conversions to the canonical unit of the absolute-limit rules.
_UNIT_FACTORS: dict[str, dict[str, float]] = {
    "albumin": {"g/dl": 1.0, "g/l": 0.1},
    "platelets": {"10^9/l": 1.0, "g/l": 1.0, "x10^9/l": 1.0, "10^3/ul": 1.0, "10^3/µl": 1.0},
    "lymphocytes": {"10^9/l": 1.0, "g/l": 1.0, "x10^9/l": 1.0, "10^3/ul": 1.0, "10^3/µl": 1.0},
}


#: Relative tolerance at grade boundaries so that 1.5 × 1.2 = 1.8 (binary 1.7999…) is not "above" 1.8.
_REL_TOL = 1e-9


def _rule(test: str) -> LabRule:
    key = str(test).lower()
    if key not in LAB_RULES:
        raise InputError(f"no CTCAE grading rule for lab test {test!r}; graded tests: {', '.join(LAB_RULES)}")
    return LAB_RULES[key]


def _factor(test: str, unit: str | None) -> float:
    if test not in _UNIT_FACTORS:
        return 1.0
    if unit is None:
        return 1.0
    key = unit_key(str(unit))
    if key not in _UNIT_FACTORS[test]:
        raise UnitsError(f"{test} unit {unit!r} not recognised; use one of {', '.join(_UNIT_FACTORS[test])}")
    return _UNIT_FACTORS[test][key]


def _grade_arrays(rule: LabRule, value: np.ndarray, uln: np.ndarray, lln: np.ndarray,
                  baseline: np.ndarray) -> np.ndarray:
    grade = np.zeros(value.shape, dtype=int)
    if rule.direction == "increased":
        abnormal_base = np.isfinite(baseline) & (baseline > uln)
        for mult_n, mult_b in zip(rule.uln_multiples, rule.baseline_multiples, strict=True):
            limit = np.where(abnormal_base, mult_b * baseline, mult_n * uln)
            grade += (value > limit * (1.0 + _REL_TOL)).astype(int)
        grade = np.where(np.isfinite(value) & np.isfinite(uln), grade, -1)
    else:
        grade += (np.isfinite(lln) & (value < lln * (1.0 - _REL_TOL))).astype(int)
        # a value under an absolute limit is at least that grade even when LLN is missing
        for g, lim in enumerate(rule.absolute_limits, start=2):
            grade = np.where(value < lim * (1.0 - _REL_TOL), np.maximum(grade, g), grade)
        grade = np.where(np.isfinite(value), grade, -1)
    return grade


def grade_lab(test: str, value: float, *, uln: float | None = None, lln: float | None = None,
              baseline: float | None = None, unit: str | None = None) -> int:
    """CTCAE v5.0 grade (0–4) of one laboratory value.

    Parameters
    ----------
    test : str
        ``bilirubin``, ``ast``, ``alt``, ``alp``, ``ggt``, ``albumin``, ``platelets``, ``lymphocytes``.
    value : float
        The value (any unit for ULN-based tests, as long as ``uln``/``baseline`` share it).
    uln, lln : float, optional
        The laboratory's limits of normal (``uln`` needed for "increased" terms).
    baseline : float, optional
        Pre-treatment value; an abnormal baseline (> ULN) switches to the baseline-relative limits.
    unit : str, optional
        For albumin (g/dL or g/L) and counts (10^9/L).

    Raises
    ------
    InputError
        On an unknown test, a missing ULN, or a negative value.
    """
    rule = _rule(test)
    if value < 0:
        raise InputError(f"{test} value {value} is negative")
    if rule.direction == "increased" and (uln is None or uln <= 0):
        raise InputError(f"{test}: give the laboratory's upper limit of normal (uln > 0) to grade it")
    f = _factor(rule.test, unit)
    g = _grade_arrays(rule, np.array([value * f]), np.array([np.nan if uln is None else uln * f]),
                      np.array([np.nan if lln is None else lln * f]),
                      np.array([np.nan if baseline is None else baseline * f]))
    return int(g[0])


def grade_labs(labs: pd.DataFrame, first_sirt_date: pd.Series) -> pd.DataFrame:
    """Grade every graded laboratory row of the template ``labs`` table.

    The baseline of a patient and test is the last value on or before the first SIRT date; rows after SIRT
    use it for the abnormal-baseline limits, baseline rows are graded against the limits of normal.

    Returns
    -------
    DataFrame
        The graded rows with ``term``, ``grade`` (0–4), ``baseline_value``, ``after_sirt`` (bool), grouped by
        test (in order of first appearance), input order within a test.
    """
    return _grade_labs(labs, first_sirt_date, by_test=True)


def _grade_labs(labs: pd.DataFrame, first_sirt_date: pd.Series, *, by_test: bool) -> pd.DataFrame:
    """:func:`grade_labs`; rows in input order when not ``by_test`` (no reordered copy of ~1 million rows)."""
    cols = ["patient_id", "date", "test", "value", "unit", "uln", "lln"]
    mask = labs["test"].isin(list(LAB_RULES)).to_numpy(bool)
    df = pd.DataFrame({c: labs[c][mask] for c in cols}, copy=False)  # one copy of the rows (not loc + copy)
    df["first_sirt_date"] = df["patient_id"].map(first_sirt_date)
    df["after_sirt"] = (df["date"] > df["first_sirt_date"]).astype(bool)
    # Patient and test as one integer key (grouping and joining on two text columns costs ~1 s at a million rows;
    # the last pre-SIRT value per key is the same rows in the same order).
    pcode = pd.factorize(df["patient_id"])[0].astype(np.int64)
    tcode, tests = pd.factorize(df["test"])
    key = pd.Series(pcode * max(len(tests), 1) + tcode, index=df.index)
    before = ~df["after_sirt"]
    pre = df.loc[before, ["date", "value"]].assign(key=key[before]).sort_values("date").groupby("key")["value"].last()
    df["baseline_value"] = key.map(pre).astype(float)
    # Baseline rows are graded against the limits of normal only.
    df["baseline_value"] = df["baseline_value"].where(df["after_sirt"])
    if df.empty:
        return df.assign(term=pd.Series(dtype=object), grade=pd.Series(dtype=int))
    # Rows grouped by test in order of first appearance (rows in input order within a test), graded per test
    # into two whole-length arrays: one reordered copy of the table instead of a copy per test and a concat.
    term = np.empty(len(df), dtype=object)
    grade = np.zeros(len(df), dtype=int)
    order = np.argsort(tcode, kind="stable")  # factorize codes: tests in order of first appearance
    for test, idx in zip(tests, np.split(order, np.cumsum(np.bincount(tcode, minlength=len(tests)))[:-1]),
                         strict=True):
        rule = LAB_RULES[str(test)]
        part = df.iloc[idx]
        factor = np.ones(len(part))
        if rule.test in _UNIT_FACTORS:  # one conversion factor per distinct unit text
            units = part["unit"].astype(object).where(part["unit"].notna(), "").to_numpy(object)
            codes, uniq = pd.factorize(units)
            factor = np.array([_factor(rule.test, str(u) or None) for u in uniq], dtype=float)[codes]
        value = part["value"].to_numpy(float) * factor
        grade[idx] = _grade_arrays(rule, value, part["uln"].to_numpy(float) * factor,
                                   part["lln"].to_numpy(float) * factor, part["baseline_value"].to_numpy(float) * factor)
        term[idx] = rule.term
    df["term"] = term
    df["grade"] = grade
    return df.iloc[order].reset_index(drop=True) if by_test else df


def lab_toxicity(labs: pd.DataFrame, first_sirt_date: pd.Series) -> pd.DataFrame:
    """Worst post-SIRT CTCAE grade per patient and laboratory term, only where it worsened from baseline.

    Returns
    -------
    DataFrame
        ``patient_id``, ``term``, ``grade`` (≥ 1), ``baseline_grade``.
    """
    g = _grade_labs(labs, first_sirt_date, by_test=False)  # grouped below: the row order does not matter
    if g.empty:
        return pd.DataFrame(columns=["patient_id", "term", "grade", "baseline_grade"])
    base = g[~g["after_sirt"]].groupby(["patient_id", "term"])["grade"].max().rename("baseline_grade")
    post = g[g["after_sirt"]].groupby(["patient_id", "term"])["grade"].max().rename("grade")
    t = pd.concat([post, base], axis=1).dropna(subset=["grade"])
    t["baseline_grade"] = t["baseline_grade"].fillna(0).astype(int)
    t["grade"] = t["grade"].astype(int)
    t = t[(t["grade"] >= 1) & (t["grade"] > t["baseline_grade"])]
    return t.reset_index()


def toxicity_table(events: pd.DataFrame, n_patients: int) -> pd.DataFrame:
    """Adverse events by term: patients with the term at any grade, at each grade and at grade ≥ 3.

    Each patient counts once per term, at the worst grade. Percentages are recomputed from counts over
    ``n_patients``. The first row, ``any_adverse_event``, counts patients with any term.

    Parameters
    ----------
    events : DataFrame
        ``patient_id``, ``term``, ``grade`` (1–5).
    n_patients : int
        Denominator (all treated patients).

    Examples
    --------
    >>> ev = pd.DataFrame({"patient_id": ["a", "a", "b"], "term": ["fatigue", "fatigue", "ascites"],
    ...                    "grade": [1, 3, 2]})
    >>> t = toxicity_table(ev, 4)
    >>> row = t.set_index("term").loc["fatigue"]
    >>> int(row["any_grade_n"]), int(row["grade3plus_n"]), float(row["grade3plus_percent"])
    (1, 1, 25.0)
    """
    if n_patients < 1:
        raise InputError("n_patients must be >= 1")
    worst = events.groupby(["patient_id", "term"])["grade"].max().reset_index()
    any_ev = worst.groupby("patient_id")["grade"].max().reset_index().assign(term="any_adverse_event")
    worst = pd.concat([any_ev, worst], ignore_index=True)
    rows = []
    for term, part in worst.groupby("term", sort=False):
        grades = part["grade"].astype(int).to_numpy()
        row: dict[str, object] = {"term": term, "any_grade_n": int(grades.size)}
        for k in range(1, 6):
            row[f"grade{k}_n"] = int((grades == k).sum())
        row["grade3plus_n"] = int((grades >= 3).sum())
        row["any_grade_percent"] = 100.0 * grades.size / n_patients
        row["grade3plus_percent"] = 100.0 * int((grades >= 3).sum()) / n_patients
        rows.append(row)
    t = pd.DataFrame(rows)
    if t.empty:
        return pd.DataFrame(columns=["term", "any_grade_n", "any_grade_percent", "grade3plus_n",
                                     "grade3plus_percent"])
    first = t[t["term"] == "any_adverse_event"]
    rest = t[t["term"] != "any_adverse_event"].sort_values(["any_grade_n", "term"], ascending=[False, True])
    return pd.concat([first, rest], ignore_index=True)
