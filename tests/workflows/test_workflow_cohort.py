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


def test_forked_workers_write_what_serial_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9: the analysis, its dose–response and other-criteria workers, the tables and the figures run in
    forked processes; every table, summary.json and figure is byte-identical to the inline (serial) run."""
    from sirtkit import _concurrent

    src = write_synthetic_cohort(tmp_path / "cohort", 150, 4)
    monkeypatch.setattr(_concurrent, "_enabled", True)  # as the sirtkit command does (_concurrent.enable)
    assert _concurrent.concurrency_enabled()
    forked = run_cohort_report(src, tmp_path / "forked", pdf=False, n_bootstrap=50)
    monkeypatch.setenv("SIRTKIT_SERIAL", "1")
    assert not _concurrent.concurrency_enabled()
    serial = run_cohort_report(src, tmp_path / "serial", pdf=False, n_bootstrap=50)
    assert [p.name for p in forked.files.tables] == [p.name for p in serial.files.tables]
    assert [p.name for p in forked.files.figures] == [p.name for p in serial.files.figures]
    for a, b in zip([*forked.files.tables, *forked.files.figures, forked.files.summary_json],
                    [*serial.files.tables, *serial.files.figures, serial.files.summary_json], strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert forked.analysis.warnings == serial.analysis.warnings
    assert forked.analysis.rates_by_criteria.equals(serial.analysis.rates_by_criteria)


def test_validation_error_survives_the_worker_process() -> None:
    """The cohort is read in a forked worker: its validation error is pickled back with every issue."""
    import pickle

    from sirtkit.outcomes.cohort import Issue

    err = CohortValidationError([Issue("patients", 2, "ecog", "must be 0–4"), Issue("treatments", None, None,
                                                                                  "sheet/table is missing")])
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is CohortValidationError and str(back) == str(err) and back.issues == err.issues


def test_report_marker_matches_the_report() -> None:
    """The workflow checks the output folder with the report's marker before importing the report stack."""
    from sirtkit.report.cohort import REPORT_MARKER
    from sirtkit.workflows import cohort as wf

    assert wf._REPORT_MARKER == REPORT_MARKER
