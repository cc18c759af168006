"""Cohort workflow: examples, synthetic writer and the end-to-end report from a workbook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sirtkit.errors import InputError
from sirtkit.outcomes.cohort import CohortValidationError, read_cohort
from sirtkit.workflows.cohort import run_cohort_report, write_cohort_examples, write_synthetic_cohort


@pytest.mark.slow
def test_examples_and_report(tmp_path: Path) -> None:
    paths = write_cohort_examples(tmp_path / "ex")
    assert [p.name for p in paths] == ["cohort_template.xlsx", "cohort_example.xlsx"]
    seen: list[float] = []
    res = run_cohort_report(paths[1], tmp_path / "out", pdf=False, n_bootstrap=20,
                            progress=lambda f, m: seen.append(f))
    assert res.files.html.exists()
    assert seen[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in seen)
    s = res.summary()
    assert s["n_patients"] == 40 and s["files"]["pdf"] is None
    assert json.loads(res.files.summary_json.read_text())["result"]["n_patients"] == 40


def test_synthetic_writer(tmp_path: Path) -> None:
    p = write_synthetic_cohort(tmp_path / "c", 12, 3)
    assert read_cohort(p).n_patients == 12
    with pytest.raises(InputError, match=r"\.xlsx"):
        write_synthetic_cohort(tmp_path / "c.csv", 5, 1)


def test_invalid_workbook_writes_nothing(tmp_path: Path) -> None:
    paths = write_cohort_examples(tmp_path / "ex")
    with pytest.raises(InputError, match="no patients"):
        run_cohort_report(paths[0], tmp_path / "out", pdf=False)  # the empty template is valid but has no rows
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "patients.csv").write_text("patient_id,ecog\nP1,7\n")
    (bad / "treatments.csv").write_text("patient_id,treatment_date,device\nP1,2020-01-01,glass\n")
    with pytest.raises(CohortValidationError, match="patients, row 2, column ecog"):
        run_cohort_report(bad, tmp_path / "out", pdf=False)
    assert not (tmp_path / "out").exists()
