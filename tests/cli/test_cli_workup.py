"""`sirtkit workup`: exit statuses, messages and the stable JSON document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    for text in ("BSA Du Bois", "Child-Pugh", "ALBI", "MELD", "ECOG", "biliary_abscess_risk", "FIRED",
                 "prophylactic antibiotics", "Braat"):
        assert text in out, text


def test_incomplete_names_missing_inputs_once() -> None:
    """Each missing input is listed once (not again in a summary or on stderr)."""
    result = runner.invoke(app, ["workup", str(EXAMPLES / "nelm_incomplete_missing_labs.yaml")],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 2
    for field in ("labs.granulocytes_10e9_l", "maa.lung_shunt_fraction", "liver.clinical_liver_failure"):
        assert result.output.count(field) == 1, field
    assert "Missing inputs" in result.output


def test_incomplete_json_names_missing_inputs_on_stderr() -> None:
    """With --json stdout holds only the document; stderr names what to provide."""
    result = runner.invoke(app, ["workup", str(EXAMPLES / "nelm_incomplete_missing_labs.yaml"), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["result"]["eligibility"]["verdict"] == "incomplete"
    assert "labs.granulocytes_10e9_l" in result.stderr


def _evaluations(name: str) -> list[dict[str, Any]]:
    doc = json.loads(runner.invoke(app, ["workup", str(EXAMPLES / name), "--json"]).stdout)
    evaluations: list[dict[str, Any]] = doc["result"]["eligibility"]["evaluations"]
    return evaluations


def _rule_rows(lines: list[str]) -> list[str]:
    """First word of each unindented line: rule rows start at column 0, their details are indented."""
    return [line.split()[0] for line in lines if line.strip() and not line.startswith(" ")]


def _run80(*args: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["workup", *args], env={"COLUMNS": "80"})
    return result.exit_code, result.output.splitlines()


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_80_columns_no_line_wider(name: str) -> None:
    _, lines = _run80(str(EXAMPLES / name), "--all")
    assert max(len(line) for line in lines) <= 80


@pytest.mark.parametrize(
    "name", ["nelm_contraindicated_bilirubin_ascites.yaml", "nelm_incomplete_missing_labs.yaml",
             "nelm_caution_whipple_prrt.yaml"],
)
def test_80_columns_rule_ids_and_outcomes_in_full(name: str) -> None:
    """At 80 columns every fired/unknown rule id is printed whole, on one line with its whole outcome."""
    _, lines = _run80(str(EXAMPLES / name))
    shown = [e for e in _evaluations(name) if e["status"] in ("fired", "unknown")]
    assert shown
    for e in shown:
        rows = [line.split() for line in lines if line.startswith(e["rule_id"] + " ")]
        assert len(rows) == 1, e["rule_id"]
        assert e["outcome"] in rows[0], (e["rule_id"], rows[0])


def test_80_columns_contraindicated_lists_every_fired_rule_and_verdict_first() -> None:
    code, lines = _run80(str(EXAMPLES / "nelm_contraindicated_bilirubin_ascites.yaml"))
    assert code == 1
    assert lines[0] == "Verdict: CONTRAINDICATED — 3 contraindications, 8 cautions, 0 unknown"
    scores = next(i for i, line in enumerate(lines) if line.startswith("Scores"))
    rules = next(i for i, line in enumerate(lines) if line.startswith("Rules"))
    assert 0 < scores < rules
    out = "\n".join(lines)
    fired = [e["rule_id"] for e in _evaluations("nelm_contraindicated_bilirubin_ascites.yaml")
             if e["status"] == "fired"]
    assert {"bilirubin_gt_2", "child_pugh_c", "ascites", "albumin_lt_3_with_tumour_gt_50"} <= set(fired)
    for rule_id in fired:
        assert rule_id in out.split(), rule_id
    assert "bilirubin_mg_dl = 3.1 mg/dL > 2 mg/dL" in out  # value vs threshold
    assert "23 rules passed, 4 not applicable (--all to list them)" in out
    assert "Verdict" not in out.split("\n", 1)[1]  # said once, first


def test_only_fired_and_unknown_rules_without_all() -> None:
    name = "nelm_contraindicated_bilirubin_ascites.yaml"
    _, lines = _run80(str(EXAMPLES / name))
    first_words = _rule_rows(lines)
    for e in _evaluations(name):
        listed = e["rule_id"] in first_words
        assert listed == (e["status"] in ("fired", "unknown")), e["rule_id"]


def test_all_lists_every_rule() -> None:
    name = "nelm_contraindicated_bilirubin_ascites.yaml"
    code, lines = _run80(str(EXAMPLES / name), "--all")
    assert code == 1
    first_words = _rule_rows(lines)
    for e in _evaluations(name):
        assert first_words.count(e["rule_id"]) == 1, e["rule_id"]
    out = "\n".join(lines)
    for heading in ("FIRED", "PASSED", "NOT APPLICABLE"):
        assert heading in [line.strip() for line in lines], heading
    assert "23 rules passed, 4 not applicable" in out
    assert "--all to list them" not in out


def test_sources_are_numbered_notes() -> None:
    _, lines = _run80(str(EXAMPLES / "nelm_caution_whipple_prrt.yaml"))
    out = "\n".join(lines)
    assert "Sources" in out
    assert "[3] Braat AJAT et al. CVIR 2019;43:246" in out


def test_eligible_is_short() -> None:
    code, lines = _run80(str(EXAMPLES / "nelm_eligible_midgut.yaml"))
    assert code == 0
    assert lines[0] == "Verdict: ELIGIBLE — 0 contraindications, 0 cautions, 0 unknown"
    assert len(lines) < 20
    assert "34 rules passed, 4 not applicable (--all to list them)" in lines


def test_field_typo_suggests_the_field(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("patient_id: X\necgo: 1\n", encoding="utf-8")
    result = runner.invoke(app, ["workup", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert "unknown field 'ecgo': did you mean 'ecog'?" in result.output


def test_empty_file_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["workup", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert "the file is empty" in result.output
    assert "NoneType" not in result.output


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


def test_mg_dl_bilirubin_in_the_umol_field_exits_2_with_a_hint(tmp_path: Path) -> None:
    """Issue 8 item 8: 'bilirubin_umol_l: 3.1' (a mg/dL value) was accepted and the contraindication vanished."""
    path = tmp_path / "p.yaml"
    path.write_text("patient_id: X\nlabs:\n  bilirubin_umol_l: 3.1\n", encoding="utf-8")
    result = runner.invoke(app, ["workup", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "labs.bilirubin_umol_l" in result.output and "ambiguous" in result.output
    assert "p.yaml" in result.output


def test_bilirubin_with_its_unit_fires_the_contraindication(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("patient_id: X\nlabs:\n  bilirubin: 3.1 mg/dL\n  granulocytes: 1200/µL\n", encoding="utf-8")
    result = runner.invoke(app, ["workup", str(path), "--json"])
    doc = json.loads(result.stdout)
    fired = {e["rule_id"] for e in doc["result"]["eligibility"]["evaluations"] if e["status"] == "fired"}
    assert {"bilirubin_gt_2", "granulocytes_lt_1_5"} <= fired
    assert result.exit_code == 1
