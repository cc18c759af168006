"""Eligibility engine and the packaged NELM rule set: every rule fires, passes and is unknown as designed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sirtkit.clinical.eligibility import (
    VARIABLES,
    EligibilityResult,
    RuleSet,
    evaluate_eligibility,
    load_rule_set,
    patient_facts,
)
from sirtkit.clinical.patient import PatientWorkup
from sirtkit.errors import InputError

MakePatient = Callable[..., PatientWorkup]

# For every rule of nelm_sirt_v1: changes to the complete (eligible) patient that make it fire.
FIRING_CHANGES: dict[str, dict[str, Any]] = {
    "bilirubin_gt_2": {"labs.bilirubin_mg_dl": 2.5},
    "bilirubin_gt_1_2": {"labs.bilirubin_mg_dl": 1.5},
    "albumin_lt_3_with_tumour_gt_50": {"labs.albumin_g_dl": 2.9, "liver.tumour_burden_fraction": 0.55},
    "albumin_le_3_5": {"labs.albumin_g_dl": 3.5},
    "child_pugh_c": {"labs.bilirubin_mg_dl": 3.5, "labs.albumin_g_dl": 2.5, "labs.inr": 2.5},
    "child_pugh_b": {"labs.bilirubin_mg_dl": 2.5, "labs.albumin_g_dl": 3.0},
    "albi_grade_3": {"labs.bilirubin_mg_dl": 5.0, "labs.albumin_g_dl": 2.0},
    "ascites": {"liver.ascites": "slight"},
    "clinical_liver_failure": {"liver.clinical_liver_failure": True},
    "encephalopathy": {"liver.encephalopathy_grade": 1},
    "transaminases_gt_5_uln": {"labs.alt_u_l": 201.0},
    "ecog_gt_2": {"ecog": 3},
    "ecog_ge_1": {"ecog": 1},
    "granulocytes_lt_1_5": {"labs.granulocytes_10e9_l": 1.2},
    "tumour_burden_gt_70_glass": {"liver.tumour_burden_fraction": 0.75},
    "tumour_burden_gt_70_impaired_function": {"liver.tumour_burden_fraction": 0.75, "labs.albumin_g_dl": 3.2},
    "tumour_burden_gt_50": {"liver.tumour_burden_fraction": 0.55},
    "tumour_burden_gt_25": {"liver.tumour_burden_fraction": 0.30},
    "extrahepatic_disseminated": {"disease.extrahepatic_disease": "disseminated"},
    "extrahepatic_limited": {"disease.extrahepatic_disease": "limited"},
    "lsf_gt_20_resin": {"maa.lung_shunt_fraction": 0.22},
    "lung_dose_gt_30": {"maa.planned_lung_dose_gy": 31.0},
    "cumulative_lung_dose_gt_50": {"maa.planned_lung_dose_gy": 26.0, "history.prior_sirt_lung_doses_gy": [25.0]},
    "uncorrectable_gi_deposition": {"maa.uncorrectable_gi_deposition": True},
    "pulmonary_insufficiency_glass": {"history.pulmonary_insufficiency": True},
    "pulmonary_insufficiency": {"history.pulmonary_insufficiency": True},
    "biliary_abscess_risk": {"history.bilioenteric_anastomosis": True},
    "prior_prrt": {"history.prior_prrt": True},
    "prior_liver_ebrt_resin": {"history.prior_liver_ebrt": True},
    "prior_liver_ebrt": {"history.prior_liver_ebrt": True},
    "capecitabine_within_2_months_resin": {"history.capecitabine_within_2_months": True},
    "portal_vein_thrombosis_resin": {"liver.portal_vein_thrombosis": True},
    "portal_vein_thrombosis": {"liver.portal_vein_thrombosis": True},
    "pregnancy": {"history.pregnant": True},
    "inr_ge_1_8": {"labs.inr": 1.8},
    "platelets_lt_20": {"labs.platelets_10e9_l": 15.0},
    "egfr_lt_30": {"labs.creatinine_mg_dl": 3.0},  # female, 60 y: CKD-EPI 2021 eGFR 17 mL/min/1.73 m²
    "prior_sirt": {"history.prior_sirt": True, "history.prior_sirt_lung_doses_gy": [5.0]},
}

# For every rule: input path(s) whose removal makes the rule unknown on the complete patient. Compound rules
# need every part that is known false removed (Kleene logic: a known-false part of an AND decides it).
UNKNOWN_REMOVALS: dict[str, str | tuple[str, ...]] = {
    "bilirubin_gt_2": "labs.bilirubin_mg_dl",
    "bilirubin_gt_1_2": "labs.bilirubin_mg_dl",
    "albumin_le_3_5": "labs.albumin_g_dl",
    "child_pugh_c": "labs.inr",
    "child_pugh_b": "liver.ascites",
    "albi_grade_3": "labs.albumin_g_dl",
    "ascites": "liver.ascites",
    "clinical_liver_failure": "liver.clinical_liver_failure",
    "encephalopathy": "liver.encephalopathy_grade",
    "ecog_gt_2": "ecog",
    "ecog_ge_1": "ecog",
    "granulocytes_lt_1_5": "labs.granulocytes_10e9_l",
    "tumour_burden_gt_70_glass": "liver.tumour_burden_fraction",
    "tumour_burden_gt_70_impaired_function": ("liver.tumour_burden_fraction", "labs.albumin_g_dl"),
    "tumour_burden_gt_50": "liver.tumour_burden_fraction",
    "tumour_burden_gt_25": "liver.tumour_burden_fraction",
    "albumin_lt_3_with_tumour_gt_50": ("liver.tumour_burden_fraction", "labs.albumin_g_dl"),
    "extrahepatic_disseminated": "disease.extrahepatic_disease",
    "extrahepatic_limited": "disease.extrahepatic_disease",
    "lsf_gt_20_resin": "maa.lung_shunt_fraction",
    "lung_dose_gt_30": "maa.planned_lung_dose_gy",
    "cumulative_lung_dose_gt_50": "history.prior_sirt_lung_doses_gy",
    "uncorrectable_gi_deposition": "maa.uncorrectable_gi_deposition",
    "pulmonary_insufficiency_glass": "history.pulmonary_insufficiency",
    "pulmonary_insufficiency": "history.pulmonary_insufficiency",
    "biliary_abscess_risk": "history.prior_sphincterotomy",
    "prior_prrt": "history.prior_prrt",
    "prior_liver_ebrt_resin": "history.prior_liver_ebrt",
    "prior_liver_ebrt": "history.prior_liver_ebrt",
    "capecitabine_within_2_months_resin": "history.capecitabine_within_2_months",
    "portal_vein_thrombosis_resin": "liver.portal_vein_thrombosis",
    "portal_vein_thrombosis": "liver.portal_vein_thrombosis",
    "inr_ge_1_8": "labs.inr",
    "platelets_lt_20": "labs.platelets_10e9_l",
    "egfr_lt_30": "labs.creatinine_mg_dl",
    "prior_sirt": "history.prior_sirt_lung_doses_gy",
    "pregnancy": "history.pregnant",
    "transaminases_gt_5_uln": "labs.alt_u_l",
}


def _status(result: EligibilityResult, rule_id: str) -> str:
    return next(e.status for e in result.evaluations if e.rule_id == rule_id)


def test_every_packaged_rule_is_cited_and_covered() -> None:
    """Each rule has a citation and a message, and this test module exercises it (fire and unknown)."""
    rules = load_rule_set()
    ids = {r.id for r in rules.rules}
    assert ids == set(FIRING_CHANGES) == set(UNKNOWN_REMOVALS)
    for rule in rules.rules:
        assert rule.citation.strip() and rule.message.strip()


def test_complete_patient_is_eligible(make_patient: MakePatient) -> None:
    """All data given and normal → every rule passed, verdict eligible."""
    result = evaluate_eligibility(make_patient())
    assert {e.status for e in result.evaluations} == {"passed"}
    assert result.verdict == "eligible"
    assert result.missing_variables == ()


@pytest.mark.parametrize("rule_id", sorted(FIRING_CHANGES))
def test_each_rule_fires(make_patient: MakePatient, rule_id: str) -> None:
    result = evaluate_eligibility(make_patient(FIRING_CHANGES[rule_id]))
    evaluation = next(e for e in result.evaluations if e.rule_id == rule_id)
    assert evaluation.status == "fired", evaluation.why
    assert evaluation.why  # value vs threshold is shown
    expected = "contraindicated" if evaluation.outcome == "contraindicated" else "caution"
    assert result.verdict == expected or (expected == "caution" and result.verdict == "contraindicated")
    if evaluation.outcome == "contraindicated":
        assert rule_id in result.contraindications


@pytest.mark.parametrize("rule_id", sorted(UNKNOWN_REMOVALS))
def test_each_rule_unknown_when_data_missing(make_patient: MakePatient, rule_id: str) -> None:
    """Missing data never passes: the rule is unknown and the verdict is not 'eligible'."""
    paths = UNKNOWN_REMOVALS[rule_id]
    result = evaluate_eligibility(make_patient(remove=(paths,) if isinstance(paths, str) else paths))
    assert _status(result, rule_id) == "unknown"
    assert result.verdict != "eligible"
    assert result.missing_variables


def test_fired_why_shows_value_and_threshold(make_patient: MakePatient) -> None:
    result = evaluate_eligibility(make_patient({"labs.bilirubin_mg_dl": 3.1}))
    e = next(e for e in result.evaluations if e.rule_id == "bilirubin_gt_2")
    assert e.why == "bilirubin_mg_dl = 3.1 mg/dL > 2 mg/dL"
    assert e.values == {"bilirubin_mg_dl": 3.1}


@pytest.mark.parametrize(
    ("changes", "rule_id"),
    [
        ({"labs.bilirubin_mg_dl": 2.0}, "bilirubin_gt_2"),
        ({"labs.bilirubin_mg_dl": 1.2}, "bilirubin_gt_1_2"),
        ({"labs.albumin_g_dl": 3.51}, "albumin_le_3_5"),
        ({"maa.lung_shunt_fraction": 0.20}, "lsf_gt_20_resin"),
        ({"maa.planned_lung_dose_gy": 30.0}, "lung_dose_gt_30"),
        ({"maa.planned_lung_dose_gy": 25.0, "history.prior_sirt_lung_doses_gy": [25.0]}, "cumulative_lung_dose_gt_50"),
        ({"liver.tumour_burden_fraction": 0.70}, "tumour_burden_gt_70_glass"),
        ({"labs.granulocytes_10e9_l": 1.5}, "granulocytes_lt_1_5"),
        ({"ecog": 2}, "ecog_gt_2"),
        ({"labs.alt_u_l": 200.0}, "transaminases_gt_5_uln"),
    ],
)
def test_thresholds_are_exclusive_at_the_limit(make_patient: MakePatient, changes: dict, rule_id: str) -> None:
    """A value exactly at a '>'/'<' limit does not fire (e.g. bilirubin 2.0 mg/dL, LSF 0.20, lung 30 Gy)."""
    assert _status(evaluate_eligibility(make_patient(changes)), rule_id) == "passed"


def test_three_valued_all_known_false_part_passes(make_patient: MakePatient) -> None:
    """(albumin < 3 AND tumour > 50 %): albumin missing but tumour 15 % → known false → passed."""
    result = evaluate_eligibility(make_patient(remove=("labs.albumin_g_dl",)))
    assert _status(result, "albumin_lt_3_with_tumour_gt_50") == "passed"
    assert _status(result, "albumin_le_3_5") == "unknown"


def test_three_valued_any_known_true_part_fires(make_patient: MakePatient) -> None:
    """(biliary flags OR ...): one flag true and the others missing → fired."""
    patient = make_patient(
        {"history.bilioenteric_anastomosis": True},
        remove=("history.prior_biliary_intervention", "history.prior_sphincterotomy"),
    )
    e = next(e for e in evaluate_eligibility(patient).evaluations if e.rule_id == "biliary_abscess_risk")
    assert e.status == "fired"
    assert e.advice is not None and "antibiotic" in e.advice


def test_verdict_contraindicated_beats_incomplete(make_patient: MakePatient) -> None:
    result = evaluate_eligibility(make_patient({"labs.bilirubin_mg_dl": 3.1}, remove=("ecog",)))
    assert result.verdict == "contraindicated"
    assert "ecog" in result.missing_variables


def test_verdict_incomplete_when_contraindication_unknown(make_patient: MakePatient) -> None:
    result = evaluate_eligibility(make_patient(remove=("labs.granulocytes_10e9_l",)))
    assert result.verdict == "incomplete"
    assert "granulocytes_lt_1_5" in result.unknown_rules
    assert "labs.granulocytes_10e9_l" in result.summary


def test_verdict_caution_when_only_caution_data_missing(make_patient: MakePatient) -> None:
    """Only AST/ALT missing: the IFU high-risk rule is unknown → 'caution' (data missing), never eligible."""
    result = evaluate_eligibility(make_patient(remove=("labs.ast_u_l", "labs.alt_u_l")))
    assert result.verdict == "caution"
    assert result.cautions == ()
    assert "data missing" in result.summary


def test_device_applicability(make_patient: MakePatient) -> None:
    """LSF 22 %: contraindicated for resin; not applicable for glass (glass is limited by lung dose)."""
    patient = make_patient({"maa.lung_shunt_fraction": 0.22})
    assert evaluate_eligibility(patient, device="resin").verdict == "contraindicated"
    glass = evaluate_eligibility(patient, device="glass")
    assert _status(glass, "lsf_gt_20_resin") == "not_applicable"
    assert glass.verdict == "eligible"
    assert evaluate_eligibility(make_patient({"planned_device": "glass", "maa.lung_shunt_fraction": 0.22})).verdict == (
        "eligible")
    # no device planned → every device rule is evaluated (conservative)
    assert evaluate_eligibility(patient).verdict == "contraindicated"


def test_pregnancy_not_asked_for_male(make_patient: MakePatient) -> None:
    patient = make_patient({"sex": "male"}, remove=("history.pregnant",))
    assert patient_facts(patient)["pregnant"] is False
    assert evaluate_eligibility(patient).verdict == "eligible"
    female = make_patient(remove=("history.pregnant",))
    assert evaluate_eligibility(female).verdict == "incomplete"


def test_si_units_give_same_result(make_patient: MakePatient) -> None:
    """Bilirubin 51.3 µmol/L = 3.0 mg/dL and albumin 30 g/L = 3.0 g/dL: same facts as conventional units."""
    si = make_patient({"labs.bilirubin_umol_l": 51.3, "labs.albumin_g_l": 30.0},
                      remove=("labs.bilirubin_mg_dl", "labs.albumin_g_dl"))
    conv = make_patient({"labs.bilirubin_mg_dl": 3.0, "labs.albumin_g_dl": 3.0})
    f_si, f_conv = patient_facts(si), patient_facts(conv)
    assert f_si["bilirubin_mg_dl"] == pytest.approx(f_conv["bilirubin_mg_dl"], rel=1e-12)
    assert f_si["child_pugh_class"] == f_conv["child_pugh_class"] == "B"
    assert evaluate_eligibility(si).verdict == evaluate_eligibility(conv).verdict


def test_all_variables_provided(make_patient: MakePatient) -> None:
    assert set(patient_facts(make_patient())) == set(VARIABLES)


# --------------------------------------------------------------------------------------- rule-set loader

_VALID = """
rule_set: test
version: 1
title: t
rules:
  - id: r1
    condition: {variable: bilirubin_mg_dl, operator: ">", threshold: 2.0, unit: mg/dL}
    outcome: contraindicated
    devices: [any]
    message: m
    citation: c
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_custom_rule_set_from_file(tmp_path: Path, make_patient: MakePatient) -> None:
    rules = load_rule_set(_write(tmp_path, _VALID))
    assert isinstance(rules, RuleSet)
    result = evaluate_eligibility(make_patient({"labs.bilirubin_mg_dl": 2.1}), rules)
    assert (result.verdict, result.rule_set, len(result.evaluations)) == ("contraindicated", "test", 1)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("variable: bilirubin_mg_dl", "variable: bilirubin", "unknown variable"),
        ("unit: mg/dL", "unit: umol/L", "must be 'mg/dL'"),
        ("citation: c", "citation: ''", "citation"),
        ("outcome: contraindicated", "outcome: maybe", "outcome"),
        ("devices: [any]", "devices: [laser]", "devices"),
        (
            "{variable: bilirubin_mg_dl, operator: \">\", threshold: 2.0, unit: mg/dL}",
            "{variable: extrahepatic_disease, operator: \"==\", threshold: widespread}",
            "no value",
        ),
        (
            "{variable: bilirubin_mg_dl, operator: \">\", threshold: 2.0, unit: mg/dL}",
            "{variable: prior_prrt, operator: \">\", threshold: true}",
            "true/false",
        ),
    ],
)
def test_rule_set_loader_refuses_bad_rules(tmp_path: Path, old: str, new: str, match: str) -> None:
    assert old in _VALID
    with pytest.raises(InputError, match=match):
        load_rule_set(_write(tmp_path, _VALID.replace(old, new)))


def test_rule_set_loader_refuses_duplicates_and_missing(tmp_path: Path) -> None:
    dup = _VALID + _VALID.split("rules:\n", 1)[1]
    with pytest.raises(InputError, match="duplicate rule id"):
        load_rule_set(_write(tmp_path, dup))
    with pytest.raises(InputError, match="file not found"):
        load_rule_set(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="no packaged rule set"):
        load_rule_set("nelm_sirt_v99")
