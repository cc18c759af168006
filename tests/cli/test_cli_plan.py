"""`sirtkit plan`: exit statuses 0/1/2, messages, JSON document; files only with --out (the plan sheet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sirtkit.cli import app

CASES = Path(__file__).resolve().parents[2] / "examples" / "cases"
runner = CliRunner()
ENV = {"COLUMNS": "220"}


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("nelm_resin_bsa_bilobar.yaml", 0),
        ("nelm_glass_partition_right_lobe.yaml", 0),
        ("nelm_glass_segmentectomy.yaml", 0),
        ("nelm_multicompartment_two_tumours.yaml", 0),
        ("nelm_holmium_scout.yaml", 0),
        ("nelm_glass_mird_residual.yaml", 0),
        ("nelm_resin_high_lsf_refused.yaml", 1),
    ],
)
def test_exit_codes(name: str, code: int) -> None:
    result = runner.invoke(app, ["plan", str(CASES / name)], env=ENV)
    assert result.exit_code == code, result.output


def test_human_output_tables() -> None:
    result = runner.invoke(app, ["plan", str(CASES / "nelm_glass_partition_right_lobe.yaml")], env=ENV)
    for text in ("activity to prepare (GBq)", "binding constraint", "tumour_target", "Checks", "pass",
                 "Glass vial order", "Decay table"):
        assert text in result.output, text


def test_refusal_message_says_which_limit() -> None:
    result = runner.invoke(app, ["plan", str(CASES / "nelm_resin_high_lsf_refused.yaml")], env=ENV)
    assert result.exit_code == 1
    assert "refused" in result.output and "contraindicated" in result.output and "FAIL" in result.output


def test_json_document() -> None:
    """The stable document of docs/cli-plan.md."""
    result = runner.invoke(app, ["plan", "--json", str(CASES / "nelm_glass_mird_residual.yaml")], env=ENV)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "plan"
    res = doc["result"]
    for key in ("patient_id", "device", "method", "plan", "checks", "passes_hard_limits", "glass_vial",
                "decay_table", "delivered", "delivered_plan", "thresholds"):
        assert key in res, key
    assert res["plan"]["activity_prepared_gbq"] == pytest.approx(2.6284, abs=5e-5)
    assert res["plan"]["binding_constraint"] == "perfused_target"
    assert {c["status"] for c in res["checks"]} <= {"pass", "warn", "fail", "unknown"}


def test_json_refused_still_emits_document_and_exit_1() -> None:
    result = runner.invoke(app, ["plan", "--json", str(CASES / "nelm_resin_high_lsf_refused.yaml")], env=ENV)
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["result"]["plan"] is None and doc["result"]["passes_hard_limits"] is False


def test_bad_input_exit_2_and_no_files(tmp_path: Path) -> None:
    bad = tmp_path / "case.yaml"
    bad.write_text("patient_id: X\ndevice: glass\nmethod: mird\nlung: {shunt_fraction: 0.05}\n"
                   "territories: [{name: r, perfused_mass_kg: 1030}]\n", encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    result = runner.invoke(app, ["plan", str(bad)], env=ENV)
    assert result.exit_code == 2
    assert "grams" in result.output and "perfused_mass_kg" in result.output
    assert sorted(tmp_path.iterdir()) == before
    missing = runner.invoke(app, ["plan", str(tmp_path / "none.yaml")], env=ENV)
    assert missing.exit_code == 2 and "not found" in missing.output


def test_out_writes_plan_sheet(tmp_path: Path) -> None:
    """`--out` writes the plan sheet to sign (HTML + PDF); `--no-pdf` only the HTML (issue 8 item 7)."""
    out = tmp_path / "sheet"
    result = runner.invoke(app, ["plan", str(CASES / "nelm_glass_partition_right_lobe.yaml"), "--out", str(out)],
                           env=ENV)
    assert result.exit_code == 0, result.output
    assert (out / "plan_sheet.html").is_file() and (out / "plan_sheet.pdf").is_file()
    html_only = tmp_path / "html"
    result = runner.invoke(app, ["plan", str(CASES / "nelm_resin_bsa_bilobar.yaml"), "--out", str(html_only),
                                 "--no-pdf"], env=ENV)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in html_only.iterdir() if not p.name.startswith(".")) == ["plan_sheet.html"]


def test_out_refuses_a_foreign_folder_without_force(tmp_path: Path) -> None:
    """The sheet replaces its folder as a whole: a folder sirtkit did not write needs --force (exit 2 first)."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("not sirtkit's", encoding="utf-8")
    case = str(CASES / "nelm_glass_partition_right_lobe.yaml")
    result = runner.invoke(app, ["plan", case, "--out", str(out), "--no-pdf"], env=ENV)
    assert result.exit_code == 2
    assert (out / "notes.txt").is_file() and not (out / "plan_sheet.html").exists()
    result = runner.invoke(app, ["plan", case, "--out", str(out), "--no-pdf", "--force"], env=ENV)
    assert result.exit_code == 0, result.output
    assert (out / "plan_sheet.html").is_file() and not (out / "notes.txt").exists()


def test_refused_plan_sheet_still_written_with_failures(tmp_path: Path) -> None:
    out = tmp_path / "refused"
    result = runner.invoke(app, ["plan", str(CASES / "nelm_resin_high_lsf_refused.yaml"), "--out", str(out),
                                 "--no-pdf"], env=ENV)
    assert result.exit_code == 1
    assert "contraindicated" in (out / "plan_sheet.html").read_text(encoding="utf-8")


def test_exact_infusion_row_in_terminal_table() -> None:
    """The decay table had only 6-hourly rows with the nearest one marked; the exact time is its own row."""
    result = runner.invoke(app, ["plan", str(CASES / "nelm_glass_partition_right_lobe.yaml")], env=ENV)
    assert "2026-03-03T15:00-05:00 ← planned infusion" in result.output


def test_null_lung_limit_is_exit_2(tmp_path: Path) -> None:
    text = (CASES / "nelm_glass_partition_right_lobe.yaml").read_text(encoding="utf-8")
    case = tmp_path / "case.yaml"
    case.write_text(text + "limits: {lung_dose_gy: .inf}\n", encoding="utf-8")
    result = runner.invoke(app, ["plan", str(case)], env=ENV)
    assert result.exit_code == 2
    assert "lung_dose_gy" in result.output


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.glob("*.yaml")))
def test_plan_tables_readable_at_80_columns(case: str) -> None:
    """QA finding 12: at 80 columns the Territories table wrapped its per-constraint activities into fragments
    ("tumour_… 1.710, lung_li… 20.133") and cut names. Every table now fits uncropped and every constraint
    name is printed whole, one per row."""
    result = runner.invoke(app, ["plan", str(CASES / case)], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code in (0, 1), result.output
    lines = result.output.splitlines()
    assert all(line.endswith(("┓", "┐")) for line in lines if line.startswith(("┏", "┌")))
    territories = [line for line in lines if line.startswith("│") and "_limit" in line]
    assert all("…" not in line for line in territories)
