"""`sirtkit cohort` CLI: report (default command), template, synthetic, JSON output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sirtkit.cli import app

runner = CliRunner()


@pytest.mark.slow
def test_template_synthetic_and_report_json(tmp_path: Path) -> None:
    r = runner.invoke(app, ["cohort", "template", "--out", str(tmp_path / "t")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "t" / "cohort_template.xlsx").exists()
    r = runner.invoke(app, ["cohort", "synthetic", "--n", "30", "--seed", "2", "--out", str(tmp_path / "s.xlsx"),
                            "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["result"]["n_patients"] == 30
    r = runner.invoke(app, ["cohort", str(tmp_path / "s.xlsx"), "--out", str(tmp_path / "rep"), "--no-pdf",
                            "--bootstrap", "20", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["kind"] == "cohort_report" and doc["result"]["n_patients"] == 30
    assert doc["result"]["files"]["html"].endswith("report.html")


def test_human_output(tmp_path: Path) -> None:
    runner.invoke(app, ["cohort", "synthetic", "--n", "25", "--out", str(tmp_path / "s")])
    r = runner.invoke(app, ["cohort", "report", str(tmp_path / "s"), "--out", str(tmp_path / "rep"), "--no-pdf",
                            "--bootstrap", "20"])
    assert r.exit_code == 0, r.output
    assert "ORR" in r.output and "report.html" in r.output


def test_bad_input_exit_2(tmp_path: Path) -> None:
    r = runner.invoke(app, ["cohort", str(tmp_path / "missing.xlsx"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "not found" in " ".join(r.output.split())
    runner.invoke(app, ["cohort", "template", "--out", str(tmp_path / "t")])
    r = runner.invoke(app, ["cohort", str(tmp_path / "t" / "cohort_template.xlsx"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "no patients" in " ".join(r.output.split())
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "patients.csv").write_text("patient_id,child_pugh_class\nP1,D\n")
    r = runner.invoke(app, ["cohort", str(tmp_path / "bad"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    flat = " ".join(r.output.split())
    assert "patients, row 2, column child_pugh_class" in flat and "treatments: sheet/table is missing" in flat
