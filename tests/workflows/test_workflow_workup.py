"""The work-up workflow: load_patient + run_workup on the example patients."""

from __future__ import annotations

from pathlib import Path

import pytest

from sirtkit.errors import InputError
from sirtkit.workflows.workup import compute_scores, load_patient, run_workup

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "patients"


@pytest.mark.parametrize(
    ("name", "verdict"),
    [
        ("nelm_eligible_midgut.yaml", "eligible"),
        ("nelm_caution_whipple_prrt.yaml", "caution"),
        ("nelm_contraindicated_bilirubin_ascites.yaml", "contraindicated"),
        ("nelm_incomplete_missing_labs.yaml", "incomplete"),
    ],
)
def test_example_patients(name: str, verdict: str) -> None:
    result = run_workup(load_patient(EXAMPLES / name))
    assert result.eligibility.verdict == verdict


def test_eligible_example_scores() -> None:
    """NELM-EX-001: 180 cm / 80 kg → BSA 1.996 m² (W1); normal labs → Child-Pugh 5 A, ALBI grade 1,
    MELD 6.43 (all values floored to 1: 10 × 0.643)."""
    s = run_workup(load_patient(EXAMPLES / "nelm_eligible_midgut.yaml")).scores
    assert s.bsa_dubois_m2 == pytest.approx(1.996, abs=1e-3)
    assert s.bsa_mosteller_m2 == pytest.approx(2.0, rel=1e-12)
    assert s.child_pugh is not None and (s.child_pugh.total_points, s.child_pugh.child_pugh_class) == (5, "A")
    assert s.albi is not None and s.albi.albi_grade == 1
    assert s.meld == pytest.approx(6.43, abs=1e-9)
    assert s.meld_rounded == 6
    assert s.missing == {}


def test_caution_example_fires_biliary_and_prrt() -> None:
    result = run_workup(load_patient(EXAMPLES / "nelm_caution_whipple_prrt.yaml"))
    assert {"biliary_abscess_risk", "prior_prrt"} <= set(result.eligibility.cautions)
    assert result.eligibility.contraindications == ()


def test_contraindicated_example() -> None:
    """Bilirubin 3.1 mg/dL + ascites: bilirubin_gt_2 and ascites fire; Child-Pugh 3+3+1+2+1 = 10 → C."""
    result = run_workup(load_patient(EXAMPLES / "nelm_contraindicated_bilirubin_ascites.yaml"))
    assert {"bilirubin_gt_2", "ascites", "child_pugh_c"} <= set(result.eligibility.contraindications)
    assert result.scores.child_pugh is not None and result.scores.child_pugh.total_points == 10


def test_incomplete_example_lists_missing() -> None:
    result = run_workup(load_patient(EXAMPLES / "nelm_incomplete_missing_labs.yaml"))
    assert "granulocytes_10e9_l" in result.eligibility.missing_variables
    assert result.scores.child_pugh is None
    assert "albumin" in result.scores.missing["child_pugh"]


def test_load_patient_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_patient(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("patient_id: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        load_patient(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n", encoding="utf-8")
    with pytest.raises(InputError, match="mapping"):
        load_patient(scalar)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("patient_id: X\nlabs: {albumin_g_dl: 35}\n", encoding="utf-8")
    with pytest.raises(InputError, match="looks like g/L"):
        load_patient(wrong)


def test_compute_scores_reports_missing() -> None:
    from sirtkit.clinical.patient import PatientWorkup

    s = compute_scores(PatientWorkup(patient_id="P"))
    assert s.bsa_dubois_m2 is None and s.meld is None and s.ecog_description is None
    assert set(s.missing) == {"bsa", "child_pugh", "albi", "meld", "ecog"}


def test_run_workup_refuses_raw_dict() -> None:
    with pytest.raises(InputError, match="load_patient"):
        run_workup({"patient_id": "P"})  # type: ignore[arg-type]
