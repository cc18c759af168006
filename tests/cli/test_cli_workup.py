"""`sirtkit workup`: exit statuses, messages and the stable JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sirtkit.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "patients"
runner = CliRunner()


@pytest.mark.parametrize(
    ("name", "code", "verdict"),
    [
        ("nelm_eligible_midgut.yaml", 0, "ELIGIBLE"),
        ("nelm_caution_whipple_prrt.yaml", 0, "CAUTION"),
        ("nelm_contraindicated_bilirubin_ascites.yaml", 1, "CONTRAINDICATED"),
        ("nelm_incomplete_missing_labs.yaml", 2, "INCOMPLETE"),
    ],
)
def test_exit_codes_and_verdict(name: str, code: int, verdict: str) -> None:
    """Exit 0 eligible/caution, 1 contraindicated, 2 incomplete (missing data) or bad input."""
    result = runner.invoke(app, ["workup", str(EXAMPLES / name)], env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    assert f"Verdict: {verdict}" in result.output


def test_human_output_shows_scores_rules_and_advice() -> None:
    result = runner.invoke(app, ["workup", str(EXAMPLES / "nelm_caution_whipple_prrt.yaml")],
                           env={"COLUMNS": "250"})
    out = result.output
    for text in ("BSA Du Bois", "Child-Pugh", "ALBI", "MELD", "ECOG", "biliary_abscess_risk", "fired",
                 "prophylactic antibiotics", "Braat"):
        assert text in out, text


def test_incomplete_names_missing_inputs() -> None:
    result = runner.invoke(app, ["workup", str(EXAMPLES / "nelm_incomplete_missing_labs.yaml")],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert "labs.granulocytes_10e9_l" in result.output


def test_bad_input_exit_2_names_field(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("patient_id: X\nlabs:\n  albumin_g_dl: 35\n", encoding="utf-8")
    result = runner.invoke(app, ["workup", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert "labs.albumin_g_dl" in result.output
    assert "looks like g/L" in result.output


def test_missing_file_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["workup", str(tmp_path / "none.yaml")], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert "file not found" in result.output


# Keys of the JSON document (docs/workup.md); changing them is a breaking change.
TOP_KEYS = {"sirtkit_version", "kind", "result"}
RESULT_KEYS = {"patient_id", "planned_device", "scores", "eligibility"}
SCORE_KEYS = {"bsa_dubois_m2", "bsa_mosteller_m2", "child_pugh", "albi", "meld", "meld_rounded", "ecog",
              "ecog_description", "missing"}
ELIGIBILITY_KEYS = {"verdict", "rule_set", "rule_set_version", "planned_device", "evaluations", "contraindications",
                    "cautions", "unknown_rules", "missing_variables", "missing_inputs", "summary"}
EVALUATION_KEYS = {"rule_id", "status", "outcome", "condition", "values", "why", "message", "advice", "citation",
                   "devices"}


@pytest.mark.parametrize(
    ("name", "code"), [("nelm_eligible_midgut.yaml", 0), ("nelm_contraindicated_bilirubin_ascites.yaml", 1)],
)
def test_json_schema_stable(name: str, code: int) -> None:
    result = runner.invoke(app, ["workup", str(EXAMPLES / name), "--json"])
    assert result.exit_code == code
    doc = json.loads(result.stdout)
    assert set(doc) == TOP_KEYS
    assert doc["kind"] == "workup"
    res = doc["result"]
    assert set(res) == RESULT_KEYS
    assert set(res["scores"]) == SCORE_KEYS
    assert set(res["scores"]["child_pugh"]) == {"bilirubin_points", "albumin_points", "inr_points", "ascites_points",
                                                "encephalopathy_points", "total_points", "child_pugh_class"}
    assert set(res["scores"]["albi"]) == {"albi_score", "albi_grade"}
    assert set(res["eligibility"]) == ELIGIBILITY_KEYS
    for ev in res["eligibility"]["evaluations"]:
        assert set(ev) == EVALUATION_KEYS
        assert ev["status"] in {"fired", "passed", "unknown", "not_applicable"}


def test_json_values_eligible() -> None:
    doc = json.loads(runner.invoke(app, ["workup", str(EXAMPLES / "nelm_eligible_midgut.yaml"), "--json"]).stdout)
    res = doc["result"]
    assert res["eligibility"]["verdict"] == "eligible"
    assert res["scores"]["bsa_dubois_m2"] == pytest.approx(1.996, abs=1e-3)
