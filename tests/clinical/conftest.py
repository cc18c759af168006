"""Shared fixtures of the clinical tests: a complete, eligible work-up built in code."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from sirtkit.clinical.patient import PatientWorkup

COMPLETE_PATIENT: dict[str, Any] = {
    "patient_id": "T-001",
    "age_years": 60,
    "sex": "female",
    "height_cm": 170.0,
    "weight_kg": 70.0,
    "ecog": 0,
    "labs": {
        "bilirubin_mg_dl": 0.7, "albumin_g_dl": 4.2, "inr": 1.0, "creatinine_mg_dl": 0.8,
        "ast_u_l": 30.0, "ast_uln_u_l": 40.0, "alt_u_l": 30.0, "alt_uln_u_l": 40.0,
        "platelets_10e9_l": 250.0, "granulocytes_10e9_l": 4.0,
    },
    "liver": {
        "ascites": "none", "encephalopathy_grade": 0, "clinical_liver_failure": False,
        "tumour_burden_fraction": 0.15, "portal_vein_thrombosis": False,
    },
    "disease": {"primary_site": "midgut", "extrahepatic_disease": "none"},
    "history": {
        "bilioenteric_anastomosis": False, "prior_biliary_intervention": False, "prior_sphincterotomy": False,
        "prior_prrt": False, "prior_liver_ebrt": False, "prior_sirt_lung_doses_gy": [],
        "capecitabine_within_2_months": False, "pregnant": False, "pulmonary_insufficiency": False,
    },
    "maa": {"lung_shunt_fraction": 0.05, "planned_lung_dose_gy": 5.0, "uncorrectable_gi_deposition": False},
}


def build_patient(changes: dict[str, Any] | None = None, remove: tuple[str, ...] = ()) -> PatientWorkup:
    """The complete patient with dotted-path ``changes`` applied and ``remove`` paths deleted."""
    data = copy.deepcopy(COMPLETE_PATIENT)
    for path, value in (changes or {}).items():
        *parents, leaf = path.split(".")
        node = data
        for p in parents:
            node = node[p]
        node[leaf] = value
    for path in remove:
        *parents, leaf = path.split(".")
        node = data
        for p in parents:
            node = node[p]
        node.pop(leaf, None)
    return PatientWorkup.model_validate(data)


@pytest.fixture
def make_patient() -> Callable[..., PatientWorkup]:
    """Factory: ``make_patient({"labs.bilirubin_mg_dl": 3.0}, remove=("ecog",))``."""
    return build_patient
