"""The calamine and openpyxl workbook parsers give identical validated cohorts and identical messages.

``read_cohort`` parses workbooks with calamine (fast) since the 10 000-patient benchmark; openpyxl was the
parser before. These tests pin the equivalence on the shipped example and template, on a cohort written
by :func:`write_cohort`, and on hand-typed workbooks with real Excel cell types (date cells, booleans,
integer-looking floats, text IDs with leading zeros, whitespace-only and empty cells, invalid values).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from sirtkit.errors import InputError
from sirtkit.outcomes.cohort import TABLES, CohortData, CohortValidationError, read_cohort, write_cohort
from sirtkit.outcomes.synthetic import synthetic_cohort

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cohort"


def _assert_same(a: CohortData, b: CohortData) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(a.table(name), b.table(name), check_exact=True, obj=name)


def _both(path: Path) -> tuple[CohortData, CohortData]:
    return read_cohort(path, excel_engine="openpyxl"), read_cohort(path, excel_engine="calamine")


@pytest.mark.parametrize("name", ["cohort_example.xlsx", "cohort_template.xlsx"])
def test_shipped_workbooks_identical(name: str) -> None:
    a, b = _both(EXAMPLES / name)
    _assert_same(a, b)
    if name == "cohort_example.xlsx":
        assert a.n_patients == 40 and len(a.measurements) > 100


def test_written_cohort_identical(tmp_path: Path) -> None:
    data = synthetic_cohort(60, rng=11)
    p = write_cohort(data, tmp_path / "c.xlsx")
    a, b = _both(p)
    _assert_same(a, b)
    for name in TABLES:  # and both equal what was written (dates as written: day precision)
        assert len(a.table(name)) == len(data.table(name)), name


def _typed_workbook(path: Path, bad: bool = False, blank_row: bool = True) -> Path:
    """A workbook typed by hand in Excel: real date/boolean/number cells, not text."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "patients"
    ws.append(["patient_id", "age_years", "sex", "ecog", "child_pugh_class", "lymph_node_metastases",
               "prior_prrt", "ki67_percent", "unknown_column"])
    ws.append(["007", 61, "f", 1.0, "A", True, "yes", 2.5, "x"])
    ws.append([12, 70.0, " M ", 0, "b", False, None, "3", None])
    ws.append(["  P3 ", None, None, None, "   ", "FALSE", "\t", None, None])
    if bad:
        ws.append(["P4", dt.datetime(2020, 1, 2), "X", 1.5, "D", "maybe", 1, "lots", None])
    tr = wb.create_sheet("Treatments ")
    tr.append(["patient_id", "treatment_date", "device", "activity_gbq"])
    tr.append(["007", dt.datetime(2020, 1, 2), "glass", 2])
    tr.append([12, dt.date(2020, 3, 4), "Resin", 1.25])
    tr.append(["P3", "2020-05-06", "glass", None])
    tr.append(["007", dt.datetime(2020, 2, 20, 14, 30), "glass", 1.0])
    if bad:
        tr.append(["P4", "31/31/2020", "glass", 25])
    ev = wb.create_sheet("events")
    ev.append(["patient_id", "date", "event"])
    ev.append(["007", dt.datetime(2021, 1, 5), "death"])
    ev.append([12, "2020-12-01", "last_follow_up"])
    if blank_row:
        ev.append([" ", None, None])
    if bad:
        ev.append(["P4", 44000, "death"])
    wb.create_sheet("notes").append(["free text", dt.datetime(2020, 1, 1)])
    wb.save(path)
    return path


def test_typed_cells_identical(tmp_path: Path) -> None:
    """Dates as date cells, IDs '007' vs number 12, booleans, 1.0 → 1, whitespace → empty: same both ways."""
    p = _typed_workbook(tmp_path / "typed.xlsx")
    with pytest.raises(CohortValidationError) as ea:
        read_cohort(p, excel_engine="openpyxl")
    with pytest.raises(CohortValidationError) as eb:
        read_cohort(p, excel_engine="calamine")
    # the whitespace-only events row is an empty required cell for both parsers
    assert [str(i) for i in ea.value.issues] == [str(i) for i in eb.value.issues]
    assert {(i.sheet, i.row, i.column) for i in ea.value.issues} == {
        ("events", 4, "patient_id"), ("events", 4, "date"), ("events", 4, "event")}


def test_typed_cells_values(tmp_path: Path) -> None:
    """The validated values themselves (not only their equality across parsers)."""
    p = _typed_workbook(tmp_path / "typed.xlsx", blank_row=False)
    a, b = _both(p)
    _assert_same(a, b)
    pat = b.patients.set_index("patient_id")
    assert list(pat.index) == ["007", "12", "P3"]
    assert pat.loc["007", "ecog"] == 1 and str(pat["ecog"].dtype) == "Int64"
    assert pat.loc["12", "sex"] == "M" and pat.loc["12", "child_pugh_class"] == "B"
    assert str(pat["lymph_node_metastases"].dtype) == "boolean"
    assert list(pat["lymph_node_metastases"]) == [True, False, False]
    assert bool(pat.loc["007", "prior_prrt"]) and pd.isna(pat.loc["P3", "prior_prrt"])
    assert pd.isna(pat.loc["P3", "child_pugh_class"])
    assert pat.loc["12", "ki67_percent"] == 3.0
    t = b.treatments
    assert list(t["treatment_date"].dt.strftime("%Y-%m-%d %H:%M")) == [
        "2020-01-02 00:00", "2020-03-04 00:00", "2020-05-06 00:00", "2020-02-20 14:30"]
    assert str(t["treatment_date"].dtype) == "datetime64[ns]"
    assert list(t["device"]) == ["glass", "resin", "glass", "glass"]
    assert list(t["activity_gbq"].fillna(-1)) == [2.0, 1.25, -1.0, 1.0]


def test_invalid_cells_same_messages(tmp_path: Path) -> None:
    """Each invalid cell is reported with the same sheet, row, column and text by both parsers."""
    p = _typed_workbook(tmp_path / "bad.xlsx", bad=True)
    msgs = {}
    for engine in ("openpyxl", "calamine"):
        with pytest.raises(CohortValidationError) as exc:
            read_cohort(p, excel_engine=engine)  # type: ignore[arg-type]
        msgs[engine] = [str(i) for i in exc.value.issues]
    assert msgs["openpyxl"] == msgs["calamine"]
    text = "\n".join(msgs["calamine"])
    for expected in ("patients, row 5, column age_years: datetime.datetime(2020, 1, 2, 0, 0) is not a number",
                     "patients, row 5, column sex: 'X' is not allowed", "row 5, column ecog: 1.5 is not a whole",
                     "row 5, column child_pugh_class: 'D'", "row 5, column lymph_node_metastases: 'maybe'",
                     "'lots' is not a number", "treatments, row 6, column treatment_date: '31/31/2020'",
                     "treatments, row 6, column activity_gbq: 25.0 is outside"):
        assert expected in text, expected


def test_unknown_engine_and_unreadable(tmp_path: Path) -> None:
    p = _typed_workbook(tmp_path / "typed.xlsx")
    with pytest.raises(InputError, match="excel_engine"):
        read_cohort(p, excel_engine="xlrd")  # type: ignore[arg-type]
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 truncated zip")
    for engine in ("openpyxl", "calamine"):
        with pytest.raises(InputError, match="cannot be read as an Excel workbook"):
            read_cohort(bad, excel_engine=engine)  # type: ignore[arg-type]
