"""sirtkit.clinical: patient work-up scores and SIRT eligibility for liver metastases.

>>> from sirtkit.clinical import body_surface_area_m2
>>> round(body_surface_area_m2(180.0, 80.0), 3)
1.996
"""

from __future__ import annotations

from sirtkit.clinical.eligibility import (
    DEFAULT_RULE_SET,
    EligibilityResult,
    Rule,
    RuleEvaluation,
    RuleSet,
    evaluate_eligibility,
    load_rule_set,
    patient_facts,
)
from sirtkit.clinical.patient import PatientWorkup
from sirtkit.clinical.scores import (
    ECOG_DESCRIPTIONS,
    AlbiResult,
    ChildPughResult,
    albi,
    albi_grade,
    albi_score,
    body_surface_area_m2,
    child_pugh,
    ecog_description,
    meld_score,
)

__all__ = [
    "DEFAULT_RULE_SET",
    "ECOG_DESCRIPTIONS",
    "AlbiResult",
    "ChildPughResult",
    "EligibilityResult",
    "PatientWorkup",
    "Rule",
    "RuleEvaluation",
    "RuleSet",
    "albi",
    "albi_grade",
    "albi_score",
    "body_surface_area_m2",
    "child_pugh",
    "ecog_description",
    "evaluate_eligibility",
    "load_rule_set",
    "meld_score",
    "patient_facts",
]
