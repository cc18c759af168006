"""The cohort template (tables, columns, units), reading it from CSV or Excel, validating it and deriving
the time-to-event end points.

A cohort is eight tables, one sheet each in an ``.xlsx`` workbook or one ``<table>.csv`` each in a folder:
``patients``, ``treatments``, ``lesions``, ``measurements``, ``labs``, ``toxicities``, ``symptoms``,
``events`` (see ``docs/cohort-template.md`` and :data:`TABLES`). Validation collects *every* problem and
names the sheet, the spreadsheet row (the header is row 1) and the column of each.

Time origin of every end point is the **first SIRT date** of the patient (CLINICAL.md §8): OS = death of
any cause; PFS = first progression (any site) or death; hepatic PFS = first intrahepatic progression or
death; TTP = first progression. Progression comes from imaging (first time point with overall response PD
by the chosen criteria, RECIST 1.1 by default; the liver-only assessment for hepatic PFS) and from the
``events`` sheet, the earliest date winning (:func:`derive_endpoints`, :data:`ENDPOINT_DEFINITIONS`).
OS is censored at the latest ``last_follow_up`` event, or else at the latest date recorded for the patient;
PFS, hepatic PFS and TTP at the last tumour assessment (latest imaging date).

>>> sorted(TABLES)[:3]
['events', 'labs', 'lesions']
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sirtkit._files import atomic_write, default_mode
from sirtkit.errors import InputError
from sirtkit.outcomes.response import (
    assess_timepoints,
    response_baselines,
    select_targets,
    target_selection_issues,
)

__all__ = [
    "DAYS_PER_MONTH",
    "ENDPOINT_DEFINITIONS",
    "ENDPOINT_SOURCES",
    "EVENT_SOURCES",
    "HEPATIC_ORGAN",
    "TABLES",
    "CohortData",
    "CohortValidationError",
    "ColumnSpec",
    "Issue",
    "TableSpec",
    "derive_endpoints",
    "hepatic_lesions",
    "read_cohort",
    "validate_cohort",
    "write_cohort",
    "write_template",
]

logger = logging.getLogger(__name__)

#: Mean Gregorian month in days (365.25 / 12), used to report times in months.
DAYS_PER_MONTH = 365.25 / 12.0

Kind = Literal["id", "str", "date", "float", "int", "bool", "category"]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a template table."""

    name: str
    kind: Kind
    required: bool
    description: str
    allowed: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class TableSpec:
    """One table (sheet / CSV file) of the template."""

    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnSpec:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)


C = ColumnSpec
_PID = C("patient_id", "id", True, "Pseudonymous patient identifier (no names, no hospital numbers)")

#: CTCAE v5.0 terms most relevant after SIRT (CLINICAL.md §9); other terms are accepted as free text.
TOXICITY_TERMS = (
    "fatigue", "nausea", "vomiting", "abdominal_pain", "anorexia", "fever", "ascites", "hepatic_failure",
    "reild", "gastric_ulcer", "duodenal_ulcer", "cholecystitis", "pancreatitis", "pneumonitis",
    "hepatic_infection", "blood_bilirubin_increased", "ast_increased", "alt_increased",
    "alkaline_phosphatase_increased", "hypoalbuminemia", "platelet_count_decreased",
    "lymphocyte_count_decreased", "post_embolization_syndrome",
)

#: Laboratory tests of the template and the units accepted for those graded on absolute values.
LAB_TESTS = ("bilirubin", "ast", "alt", "alp", "ggt", "albumin", "platelets", "lymphocytes", "cga", "5hiaa")

#: The template (also written by :func:`write_template` and described in docs/cohort-template.md).
TABLES: dict[str, TableSpec] = {t.name: t for t in (
    TableSpec("patients", "One row per patient: baseline characteristics and prognostic factors", (
        _PID,
        C("age_years", "float", False, "Age at first SIRT", minimum=0, maximum=120),
        C("sex", "category", False, "F or M", allowed=("F", "M")),
        C("primary_site", "category", False, "Primary tumour site",
          allowed=("pancreas", "foregut", "midgut", "hindgut", "unknown")),
        C("tumour_grade", "category", False, "WHO grade", allowed=("G1", "G2", "G3")),
        C("ki67_percent", "float", False, "Ki-67 index (%)", minimum=0, maximum=100),
        C("ecog", "int", False, "ECOG performance status 0-4", minimum=0, maximum=4),
        C("child_pugh_class", "category", False, "Child-Pugh class at baseline", allowed=("A", "B", "C")),
        C("lymph_node_metastases", "bool", False, "Lymph-node metastases at baseline (true/false)"),
        C("extrahepatic_disease", "bool", False, "Extrahepatic disease at baseline (true/false)"),
        C("hepatic_tumour_burden_percent", "float", False, "Hepatic tumour burden (% of liver volume)",
          minimum=0, maximum=100),
        C("prior_prrt", "bool", False, "PRRT before SIRT (true/false)"),
        C("carcinoid_syndrome", "bool", False, "Carcinoid syndrome at baseline (true/false)"),
    ), key=("patient_id",)),
    TableSpec("treatments", "One row per SIRT session", (
        _PID,
        C("treatment_date", "date", True, "Date of the SIRT session (YYYY-MM-DD)"),
        C("device", "category", True, "Microsphere device", allowed=("glass", "resin", "holmium")),
        C("activity_gbq", "float", False, "Delivered activity (GBq)", minimum=0, maximum=20),
        C("territory", "category", False, "Treated territory",
          allowed=("whole_liver", "right_lobe", "left_lobe", "segmental", "other")),
        C("normal_liver_dose_gy", "float", False, "Mean absorbed dose to non-tumoural liver (Gy)",
          minimum=0, maximum=1000),
    )),
    TableSpec("lesions", "One row per lesion (RECIST role fixed at baseline; new lesions with role 'new')", (
        _PID,
        C("lesion_id", "id", True, "Lesion identifier, unique within the patient"),
        C("role", "category", True, "target, non_target, new, or auto (sirtkit selects target or non_target "
          "by the RECIST 1.1 rules from the baseline diameters)", allowed=("target", "non_target", "new", "auto")),
        C("organ", "category", False, "Organ", allowed=("liver", "lymph_node", "lung", "bone", "peritoneum",
                                                         "pancreas", "other")),
        C("is_lymph_node", "bool", False, "Lesion is a lymph node (RECIST uses its short axis)"),
        C("tumour_dose_gy", "float", False, "Mean absorbed dose to the lesion from post-treatment dosimetry (Gy)",
          minimum=0, maximum=10000),
    ), key=("patient_id", "lesion_id")),
    TableSpec("measurements", "One row per lesion and imaging date (the baseline is the last assessment on or "
              "before the first SIRT, RECIST 1.1 §3.2)", (
        _PID,
        C("lesion_id", "id", True, "Lesion identifier (must exist in lesions)"),
        C("date", "date", True, "Imaging date (YYYY-MM-DD)"),
        C("diameter_mm", "float", False, "Longest diameter (mm); short axis for lymph nodes; 0 if gone",
          minimum=0, maximum=500),
        C("perpendicular_mm", "float", False, "Longest perpendicular diameter (mm), WHO", minimum=0, maximum=500),
        C("viable_diameter_mm", "float", False, "Longest enhancing (viable) diameter (mm), mRECIST/EASL",
          minimum=0, maximum=500),
        C("viable_perpendicular_mm", "float", False, "Perpendicular enhancing diameter (mm), EASL",
          minimum=0, maximum=500),
        C("attenuation_hu", "float", False, "Mean attenuation, portal-venous CT (HU), Choi",
          minimum=-1000, maximum=3000),
        C("non_target_status", "category", False, "Non-target lesions: present, absent or progression",
          allowed=("present", "absent", "progression")),
    ), key=("patient_id", "lesion_id", "date")),
    TableSpec("labs", "One row per laboratory value", (
        _PID,
        C("date", "date", True, "Sampling date (YYYY-MM-DD)"),
        C("test", "category", True, "Test name", allowed=LAB_TESTS),
        C("value", "float", True, "Value in the unit of the row", minimum=0),
        C("unit", "str", False, "Unit as reported (albumin g/dL or g/L; platelets and lymphocytes 10^9/L)"),
        C("uln", "float", False, "Upper limit of normal of the laboratory, same unit", minimum=0),
        C("lln", "float", False, "Lower limit of normal of the laboratory, same unit", minimum=0),
    )),
    TableSpec("toxicities", "One row per adverse event (CTCAE v5.0 grade)", (
        _PID,
        C("date", "date", True, "Onset date (YYYY-MM-DD)"),
        C("term", "str", True, "CTCAE term in snake_case, e.g. " + ", ".join(TOXICITY_TERMS[:6])),
        C("grade", "int", True, "CTCAE v5.0 grade 1-5", minimum=1, maximum=5),
        C("related_to_sirt", "bool", False, "Attributed to SIRT (true/false)"),
    )),
    TableSpec("symptoms", "Carcinoid-syndrome symptom diary (one row per patient and date)", (
        _PID,
        C("date", "date", True, "Date (YYYY-MM-DD)"),
        C("flushing_per_day", "float", False, "Flushing episodes per day", minimum=0, maximum=100),
        C("bowel_movements_per_day", "float", False, "Bowel movements per day", minimum=0, maximum=100),
    )),
    TableSpec("events", "Dated events for time-to-event end points", (
        _PID,
        C("date", "date", True, "Event date (YYYY-MM-DD)"),
        C("event", "category", True, "Event type", allowed=(
            "progression", "hepatic_progression", "extrahepatic_progression", "death", "last_follow_up")),
    )),
)}

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
MAX_ISSUES_SHOWN = 40


@dataclass(frozen=True)
class Issue:
    """One validation problem, located by sheet, spreadsheet row (header = row 1) and column."""

    sheet: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.sheet + (f", row {self.row}" if self.row is not None else "") + (
            f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class CohortValidationError(InputError):
    """The cohort workbook has problems; ``issues`` lists every one with sheet, row and column."""

    def __init__(self, issues: list[Issue], source: str = "cohort") -> None:
        self.issues = issues
        self.source = source
        shown = "\n".join(f"  - {i}" for i in issues[:MAX_ISSUES_SHOWN])
        more = f"\n  ... and {len(issues) - MAX_ISSUES_SHOWN} more" if len(issues) > MAX_ISSUES_SHOWN else ""
        super().__init__(f"{source}: {len(issues)} problem(s); fix them and run again "
                         f"(template: docs/cohort-template.md, `sirtkit cohort template`):\n{shown}{more}")

    def __reduce__(self) -> tuple[type[CohortValidationError], tuple[list[Issue], str], dict[str, Any]]:
        """Pickled with its issues (the cohort is read in a worker process; the error travels back to the CLI)."""
        return type(self), (self.issues, self.source), self.__dict__


@dataclass
class CohortData:
    """The validated cohort tables (pandas DataFrames with typed columns)."""

    patients: pd.DataFrame
    treatments: pd.DataFrame
    lesions: pd.DataFrame
    measurements: pd.DataFrame
    labs: pd.DataFrame
    toxicities: pd.DataFrame
    symptoms: pd.DataFrame
    events: pd.DataFrame
    source: str = field(default="memory")

    def table(self, name: str) -> pd.DataFrame:
        """The table called ``name``."""
        df: pd.DataFrame = getattr(self, name)
        return df

    @property
    def n_patients(self) -> int:
        """Number of patients."""
        return len(self.patients)


def _empty(spec: TableSpec) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=object) for c in spec.columns})


def _rows(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask)


#: ISO 8601 calendar dates, optionally with a time (``YYYY-MM-DD``, ``YYYY-MM-DDThh:mm[:ss]``): the only text
#: dates accepted (ISO 8601-1:2019 §5.2.2, §5.4.2).
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
#: Day/month/year or month/day/year text such as ``07/10/2019``: refused, the order cannot be known.
_DMY_DATE = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})$")


def _parse_dates(s: pd.Series, blank: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates from ISO 8601 text or real spreadsheet date cells; ``(values, bad)`` with bad non-blank cells.

    Spreadsheet date cells arrive as ``datetime`` objects (openpyxl, calamine) and are taken as they are.
    Text must be ISO 8601 (``2019-10-07``); anything else, numbers included (a date cell formatted as a
    number), is refused — ``07/10/2019`` is 7 October in Europe and July 10 in the US, and a silent guess
    moves every interval of the patient by months. Each distinct cell is parsed once.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        v = pd.to_datetime(s).astype("datetime64[ns]")
        return v, pd.Series(False, index=s.index)
    codes, uniq = pd.factorize(s.to_numpy(object), use_na_sentinel=True)
    parsed = np.full(len(uniq), np.datetime64("NaT"), dtype="datetime64[ns]")
    is_text = np.array([isinstance(u, str) for u in uniq], dtype=bool)
    for k in np.flatnonzero(~is_text):
        u = uniq[k]
        if isinstance(u, _dt.date):  # datetime.datetime, datetime.date and pandas.Timestamp
            parsed[k] = pd.Timestamp(u).as_unit("ns").to_datetime64()
    if is_text.any():
        text = pd.Series([str(u).strip() for u in uniq[is_text]], dtype=object)
        got = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        rest = got.isna().to_numpy(bool)
        if rest.any():
            iso = text[rest][text[rest].str.match(_ISO_DATE)]
            if len(iso):
                got.loc[iso.index] = pd.to_datetime(iso, format="ISO8601", errors="coerce")
        parsed[np.flatnonzero(is_text)] = got.to_numpy("datetime64[ns]")
    values = parsed.take(np.maximum(codes, 0)) if len(uniq) else np.full(len(s), np.datetime64("NaT"), "M8[ns]")
    blank_np = blank.to_numpy(bool)
    values[blank_np | (codes < 0)] = np.datetime64("NaT")
    v = pd.Series(values, index=s.index, dtype="datetime64[ns]")
    bad = pd.Series(~blank_np & np.isnat(values), index=s.index)
    return v, bad


def _date_problem(value: object) -> str:
    """Why a date cell is refused, and what to write instead."""
    text = str(value).strip()
    m = _DMY_DATE.match(text)
    if m:
        a, b, y = int(m.group(1)), int(m.group(2)), m.group(3)
        year = int(y) if len(y) == 4 else None
        if 1 <= a <= 12 and 1 <= b <= 12 and a != b:
            iso1 = f"{year or y}-{b:02d}-{a:02d}"
            iso2 = f"{year or y}-{a:02d}-{b:02d}"
            return (f"{text!r} is ambiguous: day {a} of month {b} ({iso1}) or month {a}, day {b} ({iso2}); write "
                    "the date as YYYY-MM-DD (ISO 8601) or store a real date cell")
        return (f"{text!r}: day/month text is not accepted (spreadsheets read it in different orders); write "
                "YYYY-MM-DD (ISO 8601) or store a real date cell")
    if isinstance(value, int | float | np.integer | np.floating) or re.fullmatch(r"\d+(\.\d+)?", text):
        return (f"{text!r} is a number, not a date (a date cell formatted as a number?); format the cell as a "
                "date or write YYYY-MM-DD")
    return f"{text!r} is not a date; write YYYY-MM-DD (ISO 8601) or store a real date cell"


def _text_codes(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, stripped)``: each distinct cell once, stripped of surrounding whitespace (-1 = empty cell).

    Cohort columns repeat few distinct values (IDs, dates, categories), so stripping the distinct values
    instead of every cell costs one hash pass per column.
    """
    codes, uniques = pd.factorize(s.to_numpy(object), use_na_sentinel=True)
    stripped = np.array([str(u).strip() for u in uniques], dtype=object)
    return codes, stripped


def _take(stripped: np.ndarray, codes: np.ndarray, blank: np.ndarray) -> np.ndarray:
    out = stripped.take(np.maximum(codes, 0)) if stripped.size else np.full(codes.size, None, dtype=object)
    out = out.astype(object, copy=False)
    out[blank] = None
    return out


def _coerce_table(spec: TableSpec, raw: pd.DataFrame, issues: list[Issue]) -> pd.DataFrame:
    """Check columns and types of one table; return a typed copy (invalid cells become NA).

    Every cell is checked; text is stripped of surrounding whitespace (whitespace-only cells are empty).
    Text columns (IDs, categories) are object columns of ``str`` with ``None`` for empty cells (object
    columns hash and group several times faster than pandas' ``string`` dtype).
    """
    # The raw cells are only read, never modified: the raw frame with stripped column names (no copy; with
    # names that strip to the same text, the last of them is used).
    names = [str(c).strip() for c in raw.columns]
    if len(set(names)) == len(names):
        df = raw.copy(deep=False)
        df.columns = pd.Index(names)
    else:
        df = pd.DataFrame({n: raw[c] for n, c in zip(names, raw.columns, strict=True)}, index=raw.index, copy=False)
    known = {c.name for c in spec.columns}
    for extra in sorted(set(df.columns) - known):
        logger.info("%s: column %r is not in the template and is ignored", spec.name, extra)
    out = pd.DataFrame(index=df.index)
    for col in spec.columns:
        if col.name not in df.columns:
            if col.required:
                issues.append(Issue(spec.name, None, col.name, "required column is missing; add it (see the "
                                    "template)"))
            out[col.name] = pd.Series(pd.NA, index=df.index, dtype=object)
            continue
        s = df[col.name]
        v: Any
        textual = s.dtype == object or pd.api.types.is_string_dtype(s.dtype)
        numeric_kind = col.kind in ("float", "int")
        blank: pd.Series
        blank_np: np.ndarray
        if textual and not numeric_kind:
            codes, stripped = _text_codes(s)
            empty_u = np.array([isinstance(u, str) and u == "" for u in stripped], dtype=bool)
            blank_np = (codes < 0) | (empty_u.take(np.maximum(codes, 0)) if stripped.size else False)
            blank = pd.Series(blank_np, index=s.index)
        else:
            blank = s.isna().astype(bool)
        if col.kind == "date":
            v, bad = _parse_dates(s, blank)
            for r in _rows(bad.to_numpy())[:MAX_ISSUES_SHOWN]:
                issues.append(Issue(spec.name, int(r) + 2, col.name, _date_problem(s.iloc[r])))
        elif col.kind in ("id", "str"):
            v = (pd.Series(_take(stripped, codes, blank_np), index=s.index, dtype=object) if textual
                 else s.astype(str).astype(object).where(s.notna(), None))
        elif col.kind == "category":
            if not textual:
                codes, stripped = _text_codes(s.astype(object).where(s.notna()).map(
                    lambda x: x if x is None or isinstance(x, str) else str(x)))
            allowed = {a.lower(): a for a in col.allowed}
            mapped_u = np.array([allowed.get(str(u).lower()) if isinstance(u, str) else None for u in stripped],
                                dtype=object)
            bad_u = np.array([u is None for u in mapped_u], dtype=bool)
            bad_np = ~blank.to_numpy(bool) & (bad_u.take(np.maximum(codes, 0)) if stripped.size else False)
            for r in _rows(bad_np)[:MAX_ISSUES_SHOWN]:
                issues.append(Issue(spec.name, int(r) + 2, col.name,
                                    f"{s.iloc[r]!r} is not allowed; use one of {', '.join(col.allowed)}"))
            vals = _take(mapped_u, codes, blank.to_numpy(bool) | bad_np)
            v = pd.Series(vals, index=s.index, dtype=object)
        elif col.kind == "bool" and pd.api.types.is_bool_dtype(s.dtype):
            v = s.astype("boolean")
        elif col.kind == "bool":
            if not textual:
                codes, stripped = _text_codes(s.astype(object).where(s.notna()).map(
                    lambda x: x if x is None or isinstance(x, str) else str(x)))
                blank = pd.Series(codes < 0, index=s.index)
            low = [str(u).lower() for u in stripped]
            true_u = np.array([u in _TRUE for u in low], dtype=bool)
            ok_u = np.array([u in _TRUE or u in _FALSE for u in low], dtype=bool)
            cidx = np.maximum(codes, 0)
            blank_np = blank.to_numpy(bool)
            bad_np = ~blank_np & (~ok_u.take(cidx) if stripped.size else False)
            for r in _rows(bad_np)[:MAX_ISSUES_SHOWN]:
                issues.append(Issue(spec.name, int(r) + 2, col.name, f"{s.iloc[r]!r} is not true/false"))
            flags = pd.array(true_u.take(cidx) if stripped.size else np.zeros(len(s), bool), dtype="boolean")
            flags[blank_np | bad_np] = pd.NA
            v = pd.Series(flags, index=s.index)
        else:
            if textual:
                v = pd.to_numeric(s, errors="coerce")
                failed = (~blank & v.isna()).to_numpy(bool)
                if failed.any():  # whitespace-only cells are empty, not wrong
                    ws = s[failed].astype(str).str.strip() == ""
                    blank = blank.copy()
                    blank.loc[ws[ws].index] = True
            else:
                v = s.astype(float)
            v = v.astype(float)
            bad = (~blank & v.isna()).to_numpy(bool)
            for r in _rows(bad)[:MAX_ISSUES_SHOWN]:
                issues.append(Issue(spec.name, int(r) + 2, col.name, f"{s.iloc[r]!r} is not a number"))
            inf = np.isinf(v.to_numpy(float))
            for r in _rows(inf)[:MAX_ISSUES_SHOWN]:
                issues.append(Issue(spec.name, int(r) + 2, col.name, f"{s.iloc[r]!r} is not a finite number"))
            v = v.where(~inf)
            rng_bad = np.zeros(len(v), bool)
            vals_f = v.to_numpy(float)
            with np.errstate(invalid="ignore"):
                if col.minimum is not None:
                    rng_bad |= vals_f < col.minimum
                if col.maximum is not None:
                    rng_bad |= vals_f > col.maximum
            for r in _rows(rng_bad)[:MAX_ISSUES_SHOWN]:
                issues.append(Issue(spec.name, int(r) + 2, col.name,
                                    f"{v.iloc[r]} is outside {col.minimum}–{col.maximum} ({col.description})"))
            if col.kind == "int":
                frac = v.notna() & (v != np.round(v))
                for r in _rows(frac.to_numpy())[:MAX_ISSUES_SHOWN]:
                    issues.append(Issue(spec.name, int(r) + 2, col.name, f"{v.iloc[r]} is not a whole number"))
                v = v.where(~frac).round().astype("Int64")
        if col.required:
            for r in _rows(blank.to_numpy(bool))[:MAX_ISSUES_SHOWN]:
                issues.append(Issue(spec.name, int(r) + 2, col.name, "value is required but empty"))
        out[col.name] = v
    if spec.key and all(k in df.columns for k in spec.key):
        dup = out.duplicated(list(spec.key), keep="first") & out[list(spec.key)].notna().all(axis=1)
        for r in _rows(dup.to_numpy())[:MAX_ISSUES_SHOWN]:
            key = ", ".join(f"{k}={out[k].iloc[r]}" for k in spec.key)
            issues.append(Issue(spec.name, int(r) + 2, spec.key[-1], f"duplicate row ({key}); keep one"))
    if isinstance(out.index, pd.RangeIndex) and out.index.start == 0 and out.index.step == 1:
        return out  # already the default index (CSV and workbook sheets): no copy of every column
    return out.reset_index(drop=True)


def validate_cohort(tables: dict[str, pd.DataFrame], source: str = "cohort", *,
                    today: _dt.date | None = None, _consume: bool = False) -> CohortData:
    """Type-check and cross-check raw tables; return :class:`CohortData` or raise with every problem.

    Parameters
    ----------
    tables : dict of DataFrame
        Raw tables keyed by table name (missing optional tables are allowed; ``patients`` and
        ``treatments`` are required).
    source : str
        Name of the file or folder, used in messages.
    today : date, optional
        Dates after this day are refused (default: the current day).
    _consume : bool
        Internal (:func:`read_cohort`): drop each raw table from ``tables`` once typed, so that raw and typed
        copies of the large tables are not held in memory together.

    Validation refuses, besides types, ranges and links between sheets: dates that are not ISO 8601 text or
    real date cells (:func:`_parse_dates`), dates in the future, an impossible timeline (death before the
    first SIRT, more than one death, any treatment, assessment, laboratory value, event or diary entry
    after death, progression before the first SIRT) and target lesions that break the RECIST 1.1 selection
    rules (:func:`sirtkit.outcomes.response.target_selection_issues`); lesions with role ``auto`` get their
    role by those rules (:func:`sirtkit.outcomes.response.select_targets`).

    Raises
    ------
    CohortValidationError
        Listing each problem as ``sheet, row N, column C: what is wrong``.
    """
    issues: list[Issue] = []
    typed: dict[str, pd.DataFrame] = {}
    for name, spec in TABLES.items():
        if name not in tables:
            if name in ("patients", "treatments"):
                issues.append(Issue(name, None, None, "sheet/table is missing; add it (see the template)"))
            typed[name] = _coerce_table(spec, _empty(spec), [])
            continue
        typed[name] = _coerce_table(spec, tables.pop(name) if _consume else tables[name], issues)
    for extra in sorted(set(tables) - set(TABLES)):
        logger.info("sheet %r is not part of the template and is ignored", extra)

    pids = set(typed["patients"]["patient_id"].dropna())
    for name, df in typed.items():
        if name == "patients" or df.empty:
            continue
        unknown = df["patient_id"].notna() & ~df["patient_id"].isin(pids)
        for r in _rows(unknown.to_numpy())[:MAX_ISSUES_SHOWN]:
            issues.append(Issue(name, int(r) + 2, "patient_id",
                                f"patient {df['patient_id'].iloc[r]!r} is not in the patients sheet"))
    treated = set(typed["treatments"]["patient_id"].dropna())
    untreated = typed["patients"]["patient_id"].notna() & ~typed["patients"]["patient_id"].isin(treated)
    for r in _rows(untreated.to_numpy())[:MAX_ISSUES_SHOWN]:
        issues.append(Issue("patients", int(r) + 2, "patient_id",
                            f"patient {typed['patients']['patient_id'].iloc[r]!r} has no row in treatments; "
                            "the first SIRT date is the time origin"))
    meas, les = typed["measurements"], typed["lesions"]
    if not meas.empty:
        keys = pd.MultiIndex.from_frame(les[["patient_id", "lesion_id"]].astype(object))
        mkeys = pd.MultiIndex.from_frame(meas[["patient_id", "lesion_id"]].astype(object))
        unknown_lesion = ~np.asarray(mkeys.isin(keys))
        for r in _rows(unknown_lesion)[:MAX_ISSUES_SHOWN]:
            issues.append(Issue("measurements", int(r) + 2, "lesion_id",
                                f"lesion {meas['lesion_id'].iloc[r]!r} of patient {meas['patient_id'].iloc[r]!r} "
                                "is not in the lesions sheet"))
    labs = typed["labs"]
    if not labs.empty:
        needs_uln = labs["test"].isin(["bilirubin", "ast", "alt", "alp", "ggt"]) & labs["uln"].isna()
        for r in _rows(needs_uln.to_numpy())[:MAX_ISSUES_SHOWN]:
            issues.append(Issue("labs", int(r) + 2, "uln", f"{labs['test'].iloc[r]} needs the laboratory's upper "
                                "limit of normal (same unit) for CTCAE grading"))
        alb = (labs["test"] == "albumin").to_numpy(bool)
        bad_alb = np.zeros(len(labs), dtype=bool)  # only albumin rows' units are checked: strip those alone
        bad_alb[alb] = ~labs["unit"][alb].astype("string").str.strip().isin(["g/dL", "g/L"]).to_numpy(bool)
        for r in _rows(bad_alb)[:MAX_ISSUES_SHOWN]:
            issues.append(Issue("labs", int(r) + 2, "unit", f"albumin unit {labs['unit'].iloc[r]!r}: write g/dL "
                                "or g/L"))
    if not issues:
        _check_timeline(typed, issues, today or _dt.date.today())
    if not issues and not les.empty:
        first = typed["treatments"].groupby("patient_id")["treatment_date"].min()
        baselines = response_baselines(meas, first)
        typed["lesions"] = les = select_targets(les, meas, baselines)
        for r, msg in target_selection_issues(les, meas, baselines)[:MAX_ISSUES_SHOWN]:
            issues.append(Issue("lesions", r + 2, "role",
                                f"patient {les['patient_id'].iloc[r]!r}, lesion {les['lesion_id'].iloc[r]!r}: {msg}"))
    if issues:
        raise CohortValidationError(issues, source)
    return CohortData(source=source, **typed)


#: Date columns checked against the calendar and the patient's timeline, per table.
_DATE_COLUMNS = {"treatments": "treatment_date", "measurements": "date", "labs": "date", "toxicities": "date",
                 "symptoms": "date", "events": "date"}
#: Events that are progression (never before the first SIRT: progression before treatment is no end point).
_PROGRESSION_EVENTS = ("progression", "hepatic_progression", "extrahepatic_progression")


def _check_timeline(typed: dict[str, pd.DataFrame], issues: list[Issue], today: _dt.date) -> None:
    """Impossible timelines: future dates, death before SIRT or recorded twice, anything after death."""
    limit = pd.Timestamp(today)
    ev = typed["events"]
    death_rows = ev[ev["event"] == "death"]
    death = death_rows.groupby("patient_id")["date"].min()
    first = typed["treatments"].groupby("patient_id")["treatment_date"].min()
    for name, col in _DATE_COLUMNS.items():
        df = typed[name]
        if df.empty:
            continue
        d = df[col]
        future = (d > limit).to_numpy(bool)
        for r in _rows(future)[:MAX_ISSUES_SHOWN]:
            issues.append(Issue(name, int(r) + 2, col, f"{d.iloc[r]:%Y-%m-%d} is in the future (today is "
                                f"{today:%Y-%m-%d}); check the year"))
        died = df["patient_id"].map(death)
        after = (d > died).fillna(False).to_numpy(bool)
        for r in _rows(after)[:MAX_ISSUES_SHOWN]:
            issues.append(Issue(name, int(r) + 2, col, f"{d.iloc[r]:%Y-%m-%d} is after the death of patient "
                                f"{df['patient_id'].iloc[r]!r} ({died.iloc[r]:%Y-%m-%d}); check both dates"))
    if not ev.empty:
        start = ev["patient_id"].map(first)
        is_death = (ev["event"] == "death").to_numpy(bool)
        early_death = is_death & (ev["date"] < start).fillna(False).to_numpy(bool)
        for r in _rows(early_death)[:MAX_ISSUES_SHOWN]:
            issues.append(Issue("events", int(r) + 2, "date", f"death ({ev['date'].iloc[r]:%Y-%m-%d}) before the "
                                f"first SIRT ({start.iloc[r]:%Y-%m-%d}) of patient {ev['patient_id'].iloc[r]!r}: "
                                "impossible; check both dates"))
        early_pd = ev["event"].isin(_PROGRESSION_EVENTS).to_numpy(bool) & (ev["date"] < start).fillna(
            False).to_numpy(bool)
        for r in _rows(early_pd)[:MAX_ISSUES_SHOWN]:
            issues.append(Issue("events", int(r) + 2, "date", f"{ev['event'].iloc[r]} "
                                f"({ev['date'].iloc[r]:%Y-%m-%d}) before the first SIRT ({start.iloc[r]:%Y-%m-%d}): "
                                "progression before treatment is not an end point; record it only after SIRT"))
        dup_death = death_rows["patient_id"].duplicated(keep="first")
        for r in ev.index.get_indexer(dup_death[dup_death].index).tolist()[:MAX_ISSUES_SHOWN]:
            issues.append(Issue("events", r + 2, "event", f"a second death of patient {ev['patient_id'].iloc[r]!r}; "
                                "keep one death row"))


#: Workbook parsers accepted by :func:`read_cohort` (writing always uses openpyxl: drop-down lists).
ExcelEngine = Literal["calamine", "openpyxl"]


def _as_datetime(v: object) -> object:
    return v.to_pydatetime() if isinstance(v, pd.Timestamp) else v


def _read_workbook(p: Path, engine: ExcelEngine) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook as raw object columns, keyed by the stripped, lower-case sheet name.

    The calamine parser returns date cells as ``pandas.Timestamp`` where openpyxl returns
    ``datetime.datetime`` (equal values); they are converted so that the raw cells, hence validation
    messages that quote a cell, do not depend on the parser. Whitespace-only text cells come back empty
    from calamine and as the text from openpyxl; validation treats both as empty.
    """
    from python_calamine import CalamineError

    if engine not in ("calamine", "openpyxl"):
        raise InputError(f"excel_engine {engine!r} unknown; use 'calamine' or 'openpyxl'")
    try:
        sheets = pd.read_excel(p, sheet_name=None, dtype=object, engine=engine)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile, CalamineError) as err:
        raise InputError(f"{p}: cannot be read as an Excel workbook ({err}); save it as .xlsx from Excel or "
                         "LibreOffice, or export the sheets as CSV files into a folder") from None
    tables = {}
    for name, df in sheets.items():
        for c in df.columns:
            values = df[c].to_numpy()
            if values.dtype == object and any(isinstance(v, pd.Timestamp) for v in values):
                df[c] = pd.Series([_as_datetime(v) for v in values], index=df.index, dtype=object)
        tables[str(name).strip().lower()] = df
    return tables


def _read_csv_table(f: Path, spec: TableSpec) -> pd.DataFrame:
    """One CSV table: numeric columns parsed by pandas' C parser when every cell is a number, else as text.

    The fast path reads the number columns as float64 (empty cells NaN, the C parser's correctly rounded
    conversion); any cell that is not a number makes it fall back to reading every cell as text, so that
    validation names each bad cell with its row.
    """
    def read(dtype: Any) -> pd.DataFrame:
        try:
            return pd.read_csv(f, dtype=dtype, keep_default_na=False, na_values=[""])
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise InputError(f"{f}: cannot be read as a UTF-8 CSV table with a header row ({err}); "
                             "save the sheet as CSV UTF-8") from None

    numeric = {c.name: "float64" for c in spec.columns if c.kind in ("float", "int")}
    try:
        return read({**dict.fromkeys((c.name for c in spec.columns), str), **numeric}) if numeric else read(str)
    except ValueError:
        return read(str)


def read_cohort(path: str | os.PathLike[str], *, excel_engine: ExcelEngine = "calamine") -> CohortData:
    """Read and validate a cohort from an ``.xlsx`` workbook (one sheet per table) or a CSV folder.

    Parameters
    ----------
    path : path
        ``.xlsx``/``.xlsm`` workbook or folder of ``<table>.csv`` files.
    excel_engine : {"calamine", "openpyxl"}
        Parser of workbooks. ``calamine`` (Rust, default) reads a 10 000-patient workbook about 20 times
        faster than ``openpyxl``; both give the same validated tables and the same messages (tested).

    Raises
    ------
    InputError
        If the path does not exist or has another format.
    CohortValidationError
        If the content is invalid (every problem listed with sheet, row and column).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: not found; give a .xlsx workbook or a folder of CSV files")
    tables: dict[str, pd.DataFrame] = {}
    if p.is_dir():
        for name in TABLES:
            f = p / f"{name}.csv"
            if f.exists():
                tables[name] = _read_csv_table(f, TABLES[name])
        if not tables:
            raise InputError(f"{p}: no <table>.csv files found (expected {', '.join(f'{n}.csv' for n in TABLES)})")
    elif p.suffix.lower() in (".xlsx", ".xlsm"):
        tables = _read_workbook(p, excel_engine)
    else:
        raise InputError(f"{p}: unsupported file type {p.suffix!r}; give a .xlsx workbook or a folder of CSV files")
    try:
        return validate_cohort(tables, source=str(p), _consume=True)
    except InputError:
        raise
    except (TypeError, ValueError, OverflowError) as err:
        # Guard found by the input fuzzer (benchmarks/fuzz_inputs.py): a cell value the column coercion
        # does not expect (NaN in a yes/no column, 1e308 in a count) must be the user's error, naming the file.
        raise InputError(f"{p}: a cell holds a value that cannot be read for its column ({type(err).__name__}: "
                         f"{str(err)[:200]}); check the sheets for text or out-of-range numbers") from err


def _to_text_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
    return out


def _cells_as_text(sheet: Any, frame: pd.DataFrame) -> None:
    """Keep text that starts with ``=`` as text: openpyxl stores it as a formula, which a spreadsheet would
    run (formula injection, OWASP "CSV Injection"; issue 8 item 16). The cell keeps its exact text, so the
    workbook reads back unchanged."""
    for j, column in enumerate(frame.columns, start=1):
        if frame[column].dtype != object:
            continue
        for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
            if cell.data_type == "f":
                cell.data_type = "s"


def write_cohort(data: CohortData, path: str | os.PathLike[str]) -> Path:
    """Write a cohort as ``.xlsx`` (one sheet per table) or, for a path without suffix, a CSV folder.

    The file (or folder) is written beside the target and moved into place, never left half-written.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() == ".xlsx":
        def write_xlsx(tmp: Path) -> None:
            with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
                for name in TABLES:
                    frame = _to_text_frame(data.table(name))
                    frame.to_excel(xw, sheet_name=name, index=False)
                    _cells_as_text(xw.sheets[name], frame)

        return atomic_write(p, write_xlsx, suffix=".xlsx")
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{p.name}.", dir=p.parent))
    os.chmod(tmpdir, default_mode(True))
    for name in TABLES:
        _to_text_frame(data.table(name)).to_csv(tmpdir / f"{name}.csv", index=False)
    if p.exists():
        old = p.with_name(f".{p.name}.old")
        os.replace(p, old)
        os.replace(tmpdir, p)
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    else:
        os.replace(tmpdir, p)
    return p


#: Rows of the template that get drop-down lists for category and true/false columns.
TEMPLATE_VALIDATED_ROWS = 5000


def _add_dropdowns(xw: pd.ExcelWriter) -> None:
    """Excel drop-down lists for category and boolean columns of every template sheet."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    for name, spec in TABLES.items():
        ws = xw.sheets[name]
        for j, col in enumerate(spec.columns, start=1):
            if col.kind == "category":
                options = ",".join(col.allowed)
            elif col.kind == "bool":
                options = "true,false"
            else:
                continue
            letter = get_column_letter(j)
            dv = DataValidation(type="list", formula1=f'"{options}"', allow_blank=True,
                                error=f"{col.name}: use one of {options}", showErrorMessage=True)
            dv.add(f"{letter}2:{letter}{TEMPLATE_VALIDATED_ROWS + 1}")
            ws.add_data_validation(dv)


def write_template(path: str | os.PathLike[str]) -> Path:
    """Write the empty template as ``.xlsx``: headers, drop-down lists for categories, a ``README`` sheet."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)

    def write_xlsx(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
            for name, spec in TABLES.items():
                pd.DataFrame(columns=[c.name for c in spec.columns]).to_excel(xw, sheet_name=name, index=False)
            rows = [{"sheet": s.name, "column": c.name, "required": "yes" if c.required else "no",
                     "type": c.kind, "allowed": ", ".join(c.allowed),
                     "range": "" if c.minimum is None else f"{c.minimum}–{c.maximum}",
                     "description": c.description} for s in TABLES.values() for c in s.columns]
            pd.DataFrame(rows).to_excel(xw, sheet_name="README", index=False)
            _add_dropdowns(xw)

    return atomic_write(p, write_xlsx, suffix=".xlsx")


#: Organ value of the ``lesions`` sheet that makes a lesion hepatic (target, non-target or new).
HEPATIC_ORGAN = "liver"

#: Sources of a progression/death event, in the order used to list ties (``pfs_source`` etc.).
EVENT_SOURCES = ("imaging", "imaging_hepatic", "progression", "hepatic_progression", "extrahepatic_progression",
                 "death")

#: Which sources end each end point (CLINICAL.md §8; radiological PD per Eisenhauer 2009).
ENDPOINT_SOURCES: dict[str, tuple[str, ...]] = {
    "os": ("death",),
    "pfs": ("imaging", "imaging_hepatic", "progression", "hepatic_progression", "extrahepatic_progression",
            "death"),
    "hpfs": ("imaging_hepatic", "hepatic_progression", "death"),
    "ttp": ("imaging", "imaging_hepatic", "progression", "hepatic_progression", "extrahepatic_progression"),
}

#: End-point definitions as stated in the cohort report (CLINICAL.md §8; RECIST 1.1, Eisenhauer 2009).
ENDPOINT_DEFINITIONS: dict[str, str] = {
    "os": "Overall survival: first SIRT to death of any cause; alive patients censored at the last follow-up "
          "(last_follow_up event, else the latest date recorded for the patient).",
    "pfs": "Progression-free survival: first SIRT to the first of radiological progression (first follow-up "
           "time point after the first SIRT with overall response PD by the chosen criteria — RECIST 1.1: "
           ">= 20 % and >= 5 mm increase of the target sum over the nadir, unequivocal non-target progression "
           "or a new lesion; Eisenhauer et al., Eur J Cancer 2009;45:228-247 — or hepatic PD as below), "
           "progression recorded in the events sheet (progression, hepatic_progression, "
           "extrahepatic_progression) or death of any cause; earliest date wins.",
    "hpfs": "Hepatic progression-free survival: first SIRT to the first of intrahepatic radiological "
            "progression (the same criteria applied to the lesions whose organ is 'liver' only: liver "
            "target sum, liver non-target lesions, new lesions with organ 'liver'), a hepatic_progression "
            "event or death of any cause. Lesions without an organ and events 'progression' without a site "
            "never count as hepatic.",
    "censoring": "PFS, hepatic PFS and TTP without an event are censored at the last tumour assessment: the "
                 "latest imaging date of the patient (the first SIRT date if no imaging after it; the OS "
                 "censoring date if the patient has no imaging at all). Deaths after a long gap without "
                 "imaging still count as PFS events (no missed-visit rule).",
}


def _first_pd(tp: pd.DataFrame, first_sirt: pd.Series) -> pd.Series:
    """Date of the first follow-up time point with overall response PD after the first SIRT, per patient."""
    if tp is None or len(tp) == 0:
        return pd.Series(dtype="datetime64[ns]")
    t = tp[tp["overall_response"].astype(str) == "PD"]
    t = t[t["date"] > t["patient_id"].map(first_sirt)]
    return t.groupby("patient_id")["date"].min()


def hepatic_lesions(lesions: pd.DataFrame) -> pd.DataFrame:
    """Lesions with the role of every non-hepatic lesion set to ``extrahepatic``, for a liver-only assessment.

    A lesion is hepatic when its ``organ`` is ``liver`` (:data:`HEPATIC_ORGAN`); a lesion without an organ
    is *not* hepatic (hepatic PFS is never shortened by a guess about the site). The relabelled lesions
    keep their measurements, so the baseline date and the follow-up time points stay those of the
    patient, while target sum, non-target status and new lesions count the liver only.

    >>> les = pd.DataFrame({"patient_id": ["a", "a"], "lesion_id": ["L1", "N1"], "role": ["target", "new"],
    ...                     "organ": ["liver", "bone"], "is_lymph_node": [False, False]})
    >>> list(hepatic_lesions(les)["role"])
    ['target', 'extrahepatic']
    """
    out = lesions.copy()
    organ = out["organ"].astype("string") if "organ" in out.columns else pd.Series(pd.NA, index=out.index,
                                                                                     dtype="string")
    liver = (organ == HEPATIC_ORGAN).fillna(False).to_numpy(bool)
    out["role"] = np.where(liver, out["role"].astype(object), "extrahepatic")
    return out


def derive_endpoints(data: CohortData, *, criteria: str = "recist1.1",
                     timepoints: pd.DataFrame | None = None,
                     hepatic_timepoints: pd.DataFrame | None = None) -> pd.DataFrame:
    """Time-to-event end points per patient from the first SIRT date, from imaging and the events sheet.

    Radiological progression is the first follow-up time point after the first SIRT whose overall response
    is PD by ``criteria`` (:func:`sirtkit.outcomes.response.assess_timepoints`); hepatic radiological
    progression is PD of the liver-only assessment (:func:`hepatic_lesions`). Progression events of the
    ``events`` sheet are a second source; the earliest date wins. See :data:`ENDPOINT_DEFINITIONS` for the
    definitions and the censoring rule.

    Parameters
    ----------
    data : CohortData
        Validated cohort.
    criteria : str
        Response criteria of the radiological PD (key of :data:`sirtkit.outcomes.response.CRITERIA`).
    timepoints, hepatic_timepoints : DataFrame, optional
        Already computed :func:`~sirtkit.outcomes.response.assess_timepoints` output for all lesions and
        for :func:`hepatic_lesions` (computed here when not given).

    Returns
    -------
    DataFrame
        ``patient_id``, ``first_sirt_date``, ``n_treatments``, ``censor_date`` (OS), ``last_assessment_date``
        (PFS/hPFS/TTP censoring), ``imaging_pd_date``, ``hepatic_imaging_pd_date`` and for each of ``os``,
        ``pfs``, ``hpfs``, ``ttp``: ``<ep>_months`` (time from first SIRT, months of 365.25/12 days),
        ``<ep>_event`` (1 event, 0 censored), ``<ep>_date`` (event or censoring date) and ``<ep>_source``
        (the source(s) of the event among :data:`EVENT_SOURCES`, ties joined by ``+``; ``censored``).

    Raises
    ------
    InputError
        If an event or follow-up date precedes the first SIRT date, or the measurements lack the
        columns of ``criteria``.
    """
    tr = data.treatments.groupby("patient_id")["treatment_date"].agg(["min", "count"])
    tr.columns = ["first_sirt_date", "n_treatments"]
    out = data.patients[["patient_id"]].join(tr, on="patient_id")
    pids = out["patient_id"]
    first_sirt = out.set_index("patient_id")["first_sirt_date"]
    ev = data.events
    dated = [df[["patient_id", "date"]] for df in (data.events, data.measurements, data.labs, data.toxicities,
                                                    data.symptoms) if not df.empty]
    dated.append(data.treatments.rename(columns={"treatment_date": "date"})[["patient_id", "date"]])
    last_any = pd.concat(dated).groupby("patient_id")["date"].max()
    last_fu = ev[ev["event"] == "last_follow_up"].groupby("patient_id")["date"].max()
    censor = last_fu.reindex(pids).fillna(last_any.reindex(pids))
    out["censor_date"] = censor.to_numpy()

    meas = data.measurements
    if not meas.empty:
        if timepoints is None:
            timepoints = assess_timepoints(data.lesions, meas, criteria, first_treatment=first_sirt)
        if hepatic_timepoints is None:
            hepatic_timepoints = assess_timepoints(hepatic_lesions(data.lesions), meas, criteria,
                                                   first_treatment=first_sirt)
        last_img = meas.groupby("patient_id")["date"].max().reindex(pids)
        last_img = last_img.where(last_img.isna() | (last_img > first_sirt.reindex(pids)),
                                  first_sirt.reindex(pids))
    else:
        last_img = pd.Series(pd.NaT, index=pids, dtype="datetime64[ns]")
    last_assessment = last_img.fillna(censor)
    out["last_assessment_date"] = pd.to_datetime(last_assessment.to_numpy()).astype("datetime64[ns]")

    def first(kinds: tuple[str, ...]) -> pd.Series:
        return ev[ev["event"].isin(kinds)].groupby("patient_id")["date"].min().reindex(pids)

    sources: dict[str, pd.Series] = {
        "imaging": (_first_pd(timepoints, first_sirt) if timepoints is not None else
                    pd.Series(dtype="datetime64[ns]")).reindex(pids),
        "imaging_hepatic": (_first_pd(hepatic_timepoints, first_sirt) if hepatic_timepoints is not None else
                            pd.Series(dtype="datetime64[ns]")).reindex(pids),
        **{k: first((k,)) for k in ("progression", "hepatic_progression", "extrahepatic_progression", "death")},
    }
    out["imaging_pd_date"] = pd.to_datetime(sources["imaging"].to_numpy()).astype("datetime64[ns]")
    out["hepatic_imaging_pd_date"] = pd.to_datetime(sources["imaging_hepatic"].to_numpy()).astype(
        "datetime64[ns]")
    # A 'progression' event without a site counts for PFS and TTP, not for hepatic PFS (record
    # 'hepatic_progression' for that): hepatic PFS is never shortened by a guess about the site.
    start = pd.to_datetime(out["first_sirt_date"].to_numpy())
    for ep, kinds in ENDPOINT_SOURCES.items():
        frame = pd.DataFrame({k: pd.to_datetime(sources[k].to_numpy()) for k in kinds})
        event_date = frame.min(axis=1)
        has = event_date.notna().to_numpy()
        censor_at = out["censor_date"] if ep == "os" else out["last_assessment_date"]
        end = pd.to_datetime(np.where(has, event_date.to_numpy(), pd.to_datetime(censor_at.to_numpy()).to_numpy()))
        label = np.full(len(out), "", dtype=object)
        for k in kinds:
            hit = (frame[k] == event_date).fillna(False).to_numpy(bool) & has
            label = np.where(hit, np.where(label == "", k, label + "+" + k), label)
        out[f"{ep}_months"] = (end - start).days.to_numpy(float) / DAYS_PER_MONTH
        out[f"{ep}_event"] = has.astype(int)
        out[f"{ep}_date"] = end.astype("datetime64[ns]")
        out[f"{ep}_source"] = np.where(has, label, "censored")
    bad = out["os_months"] < 0
    if bad.any():
        pid = out.loc[bad, "patient_id"].iloc[0]
        raise InputError(f"patient {pid!r}: death or follow-up date precedes the first SIRT date; check the events "
                         "sheet")
    for ep in ("pfs", "hpfs", "ttp"):
        badp = out[f"{ep}_months"] < 0
        if badp.any():
            pid = out.loc[badp, "patient_id"].iloc[0]
            raise InputError(f"patient {pid!r}: a progression date precedes the first SIRT date; check the events "
                             "sheet (progression before SIRT is not an end point)")
    return out.reset_index(drop=True)
