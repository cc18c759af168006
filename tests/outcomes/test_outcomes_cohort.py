"""Cohort template: reading CSV/Excel, validation messages with sheet/row/column, derived end points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sirtkit.errors import InputError
from sirtkit.outcomes.cohort import (
    DAYS_PER_MONTH,
    TABLES,
    CohortData,
    CohortValidationError,
    derive_endpoints,
    read_cohort,
    validate_cohort,
    write_cohort,
    write_template,
)
from sirtkit.outcomes.literature import SERIES, compare_with_literature, literature_table, recomputed_rates
from sirtkit.outcomes.synthetic import synthetic_cohort


def _raw(small: CohortData) -> dict[str, pd.DataFrame]:
    out = {}
    for name in TABLES:
        df = small.table(name).copy()
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c]):
                df[c] = df[c].dt.strftime("%Y-%m-%d")
        out[name] = df.astype(object).where(df.notna(), None)
    return out


def test_round_trip_csv_and_xlsx(tmp_path: Path, small_cohort: CohortData) -> None:
    """write → read gives the same tables (CSV folder and Excel)."""
    small = synthetic_cohort(15, rng=2)
    for target in (tmp_path / "csv", tmp_path / "c.xlsx"):
        write_cohort(small, target)
        back = read_cohort(target)
        for name in TABLES:
            a, b = small.table(name).reset_index(drop=True), back.table(name).reset_index(drop=True)
            assert list(a.columns) == list(b.columns), name
            assert len(a) == len(b), name
            for c in a.columns:
                if a[c].dtype.kind == "f":
                    np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-12)
                else:
                    assert a[c].astype(str).tolist() == b[c].astype(str).tolist(), (name, c)
    assert not list(tmp_path.glob(".*")), "temporary files left behind"


def test_validation_names_sheet_row_column() -> None:
    small = synthetic_cohort(5, rng=3)
    raw = _raw(small)
    raw["patients"].loc[1, "child_pugh_class"] = "D"
    raw["patients"].loc[2, "ecog"] = "1.5"
    raw["treatments"].loc[0, "treatment_date"] = "31/31/2020"
    raw["measurements"].loc[3, "diameter_mm"] = "big"
    raw["labs"].loc[0, "uln"] = None
    raw["events"].loc[0, "patient_id"] = "GHOST"
    with pytest.raises(CohortValidationError) as exc:
        validate_cohort(raw, source="x.xlsx")
    text = str(exc.value)
    where = {(i.sheet, i.row, i.column) for i in exc.value.issues}
    assert ("patients", 3, "child_pugh_class") in where
    assert ("patients", 4, "ecog") in where
    assert ("treatments", 2, "treatment_date") in where
    assert ("measurements", 5, "diameter_mm") in where
    assert ("events", 2, "patient_id") in where
    assert any(i.sheet == "labs" and i.column == "uln" for i in exc.value.issues)
    assert "x.xlsx" in text and "use one of A, B, C" in text and "YYYY-MM-DD" in text


def test_validation_cross_table_and_missing() -> None:
    raw = _raw(synthetic_cohort(4, rng=4))
    raw["treatments"] = raw["treatments"][raw["treatments"]["patient_id"] != raw["patients"]["patient_id"][0]]
    raw["measurements"].loc[0, "lesion_id"] = "L99"
    raw["patients"] = pd.concat([raw["patients"], raw["patients"].iloc[[1]]], ignore_index=True)
    del raw["events"]
    with pytest.raises(CohortValidationError) as exc:
        validate_cohort(raw)
    msgs = [str(i) for i in exc.value.issues]
    assert any("has no row in treatments" in m for m in msgs)
    assert any("L99" in m and "lesions sheet" in m for m in msgs)
    assert any("duplicate row" in m and "row 6" in m for m in msgs)
    with pytest.raises(CohortValidationError, match="patients: sheet/table is missing"):
        validate_cohort({"treatments": raw["treatments"]})


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_cohort(tmp_path / "nope.xlsx")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="unsupported"):
        read_cohort(tmp_path / "a.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no <table>\.csv"):
        read_cohort(tmp_path / "empty")
    (tmp_path / "bad.xlsx").write_text("not a zip")
    with pytest.raises(InputError, match="Excel"):
        read_cohort(tmp_path / "bad.xlsx")


def test_template_has_every_column(tmp_path: Path) -> None:
    p = write_template(tmp_path / "t.xlsx")
    sheets = pd.read_excel(p, sheet_name=None)
    for name, spec in TABLES.items():
        assert list(sheets[name].columns) == [c.name for c in spec.columns]
    assert len(sheets["README"]) == sum(len(s.columns) for s in TABLES.values())
    with pytest.raises(CohortValidationError):  # empty template: patients have no rows but that is fine;
        validate_cohort({"treatments": sheets["treatments"]})


def test_endpoints_hand_computed() -> None:
    """Patient a: SIRT 2020-01-01, hepatic progression 2020-07-01 (182 d), death 2021-01-01 (366 d).
    Patient b: SIRT 2020-01-01, extrahepatic progression 2020-04-01, last follow-up 2020-12-31 (365 d)."""
    tables = {
        "patients": pd.DataFrame({"patient_id": ["a", "b"]}),
        "treatments": pd.DataFrame({"patient_id": ["a", "b", "a"], "treatment_date": ["2020-01-01", "2020-01-01",
                                                                                       "2020-02-01"],
                                    "device": ["glass", "resin", "glass"]}),
        "events": pd.DataFrame({"patient_id": ["a", "a", "b", "b"],
                                "date": ["2020-07-01", "2021-01-01", "2020-04-01", "2020-12-31"],
                                "event": ["hepatic_progression", "death", "extrahepatic_progression",
                                          "last_follow_up"]}),
    }
    ep = derive_endpoints(validate_cohort(tables)).set_index("patient_id")
    assert ep.loc["a", "n_treatments"] == 2
    assert ep.loc["a", "os_months"] == pytest.approx(366 / DAYS_PER_MONTH)
    assert ep.loc["a", "os_event"] == 1 and ep.loc["b", "os_event"] == 0
    assert ep.loc["b", "os_months"] == pytest.approx(365 / DAYS_PER_MONTH)
    assert ep.loc["a", "pfs_months"] == pytest.approx(182 / DAYS_PER_MONTH)
    assert ep.loc["b", "pfs_months"] == pytest.approx(91 / DAYS_PER_MONTH)
    assert ep.loc["b", "hpfs_event"] == 0 and ep.loc["b", "hpfs_months"] == pytest.approx(365 / DAYS_PER_MONTH)
    assert ep.loc["a", "ttp_event"] == 1


def test_endpoint_before_sirt_is_refused() -> None:
    tables = {"patients": pd.DataFrame({"patient_id": ["a"]}),
              "treatments": pd.DataFrame({"patient_id": ["a"], "treatment_date": ["2020-01-01"], "device": ["glass"]}),
              "events": pd.DataFrame({"patient_id": ["a"], "date": ["2019-12-01"], "event": ["death"]})}
    with pytest.raises(InputError, match=r"events, row 2, column date: death \(2019-12-01\) before the first SIRT"):
        derive_endpoints(validate_cohort(tables))


def test_synthetic_is_seeded_and_valid() -> None:
    a = synthetic_cohort(30, rng=9)
    b = synthetic_cohort(30, rng=9)
    for name in TABLES:
        pd.testing.assert_frame_equal(a.table(name), b.table(name))
    c = synthetic_cohort(30, rng=10)
    assert not a.measurements.equals(c.measurements)
    assert a.n_patients == 30
    assert a.patients["patient_id"].str.startswith("SYN").all()
    with pytest.raises(InputError):
        synthetic_cohort(0)


def test_literature_recomputed_from_counts() -> None:
    """CLINICAL.md §10: JGH 2017 DCR 32/36 = 88.9 %; Frilling institutional ORR 14/24, DCR 21/24; Braat 16/91 %."""
    jgh = recomputed_rates(SERIES["jgh2017"])["dcr"]
    assert round(jgh.percent, 1) == 88.9  # type: ignore[union-attr]
    fr = recomputed_rates(SERIES["frilling2019_institutional"])
    assert fr["orr"].percent == pytest.approx(100 * 14 / 24)  # type: ignore[union-attr]
    assert fr["dcr"].percent == pytest.approx(87.5)  # type: ignore[union-attr]
    assert recomputed_rates(SERIES["braat2019"]) == {"orr": 16.0, "dcr": 91.0}
    assert recomputed_rates(SERIES["devcic2014"]) == {"orr": 50.0, "dcr": 86.0}
    t = literature_table()
    assert len(t) == len(SERIES) and t["citation"].str.len().gt(10).all()
    cmp_ = compare_with_literature({"n": 10, "orr_percent": 40.0})
    assert cmp_.iloc[0]["series"] == "this cohort" and len(cmp_) == len(SERIES) + 1


def test_template_dropdowns(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    ws = load_workbook(write_template(tmp_path / "t.xlsx"))["patients"]
    formulas = {dv.formula1 for dv in ws.data_validations.dataValidation}
    assert '"A,B,C"' in formulas and '"true,false"' in formulas


def test_unreadable_csv(tmp_path: Path) -> None:
    d = tmp_path / "c"
    d.mkdir()
    (d / "patients.csv").write_bytes(b"patient_id\n\xff\xfe\x00bad")
    with pytest.raises(InputError, match="UTF-8"):
        read_cohort(d)


def test_xlsx_writer_keeps_formula_like_text_as_text(tmp_path: Path) -> None:
    """Issue 8 item 16 (OWASP "CSV Injection"): openpyxl stores text starting with '=' as a formula that a
    spreadsheet would run; write_cohort keeps it as text, and it reads back exactly (tolerance: exact)."""
    import dataclasses

    import openpyxl

    from sirtkit.outcomes.cohort import read_cohort, write_cohort
    from sirtkit.outcomes.synthetic import synthetic_cohort

    data = synthetic_cohort(5, rng=3)
    hostile = '=HYPERLINK("http://example.invalid","x")'
    patients = data.table("patients").copy()
    old = patients.loc[0, "patient_id"]
    tables = {}
    for field in dataclasses.fields(data):
        frame = getattr(data, field.name)
        if isinstance(frame, pd.DataFrame) and "patient_id" in frame.columns:
            frame = frame.copy()
            frame["patient_id"] = frame["patient_id"].replace(old, hostile)
        tables[field.name] = frame
    hostile_data = dataclasses.replace(data, **tables)
    path = write_cohort(hostile_data, tmp_path / "c.xlsx")
    cell = openpyxl.load_workbook(path)["patients"]["A2"]
    assert (cell.value, cell.data_type) == (hostile, "s")
    assert hostile in set(read_cohort(path).table("patients")["patient_id"])
