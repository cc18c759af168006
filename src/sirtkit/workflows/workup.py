"""Work-up workflow: read a patient file, compute the liver/performance scores and SIRT eligibility.

Examples
--------
>>> from sirtkit.clinical.patient import PatientWorkup
>>> result = run_workup(PatientWorkup(patient_id="P0", height_cm=180, weight_kg=80))
>>> round(result.scores.bsa_dubois_m2, 3), result.eligibility.verdict
(1.996, 'incomplete')
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

from sirtkit.clinical.eligibility import EligibilityResult, RuleSet, evaluate_eligibility
from sirtkit.clinical.patient import PatientWorkup
from sirtkit.clinical.scores import (
    AlbiResult,
    ChildPughResult,
    albi,
    body_surface_area_m2,
    child_pugh,
    ecog_description,
    meld_score,
)
from sirtkit.errors import InputError
from sirtkit.workflows._inputs import load_model

__all__ = ["WorkupResult", "WorkupScores", "compute_scores", "load_patient", "run_workup"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkupScores:
    """Scores computed from the work-up data; ``None`` when an input is missing (see ``missing``)."""

    bsa_dubois_m2: float | None
    bsa_mosteller_m2: float | None
    child_pugh: ChildPughResult | None
    albi: AlbiResult | None
    meld: float | None
    meld_rounded: int | None
    ecog: int | None
    ecog_description: str | None
    missing: dict[str, list[str]]


@dataclass(frozen=True)
class WorkupResult:
    """Scores and eligibility for one patient."""

    patient_id: str
    planned_device: str | None
    scores: WorkupScores
    eligibility: EligibilityResult


def load_patient(path: str | Path) -> PatientWorkup:
    """Read and validate a patient work-up YAML (or JSON) file.

    Raises
    ------
    InputError
        If the file is missing or not YAML, or holds no mapping.
        A field that is unknown, missing or out of range is named in the message, one line each.
    """
    return load_model(PatientWorkup, path, "patient work-up file")


def _missing(**values: object) -> list[str]:
    return [name for name, value in values.items() if value is None]


def compute_scores(patient: PatientWorkup) -> WorkupScores:
    """BSA (Du Bois and Mosteller), Child-Pugh, ALBI, MELD and ECOG, each where its inputs are known."""
    labs, liver = patient.labs, patient.liver
    missing: dict[str, list[str]] = {}
    bsa_d = bsa_m = None
    if patient.height_cm is not None and patient.weight_kg is not None:
        bsa_d = body_surface_area_m2(patient.height_cm, patient.weight_kg, "dubois")
        bsa_m = body_surface_area_m2(patient.height_cm, patient.weight_kg, "mosteller")
    else:
        missing["bsa"] = _missing(height_cm=patient.height_cm, weight_kg=patient.weight_kg)
    cp = None
    if (
        labs.bilirubin_mg_dl is not None and labs.albumin_g_dl is not None and labs.inr is not None
        and liver.ascites is not None and liver.encephalopathy_grade is not None
    ):
        cp = child_pugh(labs.bilirubin_mg_dl, labs.albumin_g_dl, labs.inr, liver.ascites,
                        liver.encephalopathy_grade, cholestatic_disease=liver.cholestatic_liver_disease)
    else:
        missing["child_pugh"] = _missing(
            bilirubin=labs.bilirubin_mg_dl, albumin=labs.albumin_g_dl, inr=labs.inr, ascites=liver.ascites,
            encephalopathy_grade=liver.encephalopathy_grade,
        )
    albi_result = None
    if labs.bilirubin_umol_l is not None and labs.albumin_g_l is not None and labs.bilirubin_umol_l > 0:
        albi_result = albi(labs.bilirubin_umol_l, labs.albumin_g_l)
    else:
        missing["albi"] = _missing(bilirubin=labs.bilirubin_umol_l, albumin=labs.albumin_g_l) or ["bilirubin > 0"]
    meld = None
    if labs.bilirubin_mg_dl is not None and labs.inr is not None and labs.creatinine_mg_dl is not None:
        meld = meld_score(labs.bilirubin_mg_dl, labs.inr, labs.creatinine_mg_dl,
                          dialysis_twice_in_past_week=labs.dialysis_twice_in_past_week)
    else:
        missing["meld"] = _missing(bilirubin=labs.bilirubin_mg_dl, inr=labs.inr, creatinine=labs.creatinine_mg_dl)
    if patient.ecog is None:
        missing["ecog"] = ["ecog"]
    return WorkupScores(
        bsa_dubois_m2=bsa_d,
        bsa_mosteller_m2=bsa_m,
        child_pugh=cp,
        albi=albi_result,
        meld=meld,
        # UNOS reports MELD as an integer, rounded half up.
        meld_rounded=None if meld is None else math.floor(meld + 0.5),
        ecog=patient.ecog,
        ecog_description=None if patient.ecog is None else ecog_description(patient.ecog),
        missing=missing,
    )


def run_workup(patient: PatientWorkup, rule_set: RuleSet | None = None) -> WorkupResult:
    """Compute the scores and evaluate SIRT eligibility for ``patient``."""
    if not isinstance(patient, PatientWorkup):
        raise InputError(f"run_workup needs a PatientWorkup, got {type(patient).__name__}; use load_patient()")
    scores = compute_scores(patient)
    eligibility = evaluate_eligibility(patient, rule_set)
    logger.info("work-up %s: %s", patient.patient_id, eligibility.verdict)
    return WorkupResult(
        patient_id=patient.patient_id,
        planned_device=patient.planned_device,
        scores=scores,
        eligibility=eligibility,
    )

