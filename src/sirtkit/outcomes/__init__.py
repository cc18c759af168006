"""sirtkit.outcomes: follow-up and cohort outcomes of radioembolization.

Response (RECIST 1.1, mRECIST, EASL, WHO, Choi), rates with exact intervals, CTCAE v5 toxicity, tumour
markers and carcinoid-syndrome response, survival (lifelines), dose–response, published NELM series, the
cohort template with validation, and a seeded synthetic cohort. Pure functions, no I/O except the explicit
template readers/writers in :mod:`sirtkit.outcomes.cohort`.
"""

from sirtkit.outcomes.analysis import CohortAnalysis, analyse_cohort
from sirtkit.outcomes.cohort import (
    TABLES,
    CohortData,
    CohortValidationError,
    derive_endpoints,
    read_cohort,
    validate_cohort,
    write_cohort,
    write_template,
)
from sirtkit.outcomes.doseresponse import logistic_fit, roc_curve, youden_threshold
from sirtkit.outcomes.literature import SERIES, compare_with_literature, recomputed_rates
from sirtkit.outcomes.markers import marker_category, marker_responses, symptom_responses
from sirtkit.outcomes.rates import Proportion, ResponseRates, clopper_pearson, proportion, response_rates
from sirtkit.outcomes.response import (
    CRITERIA,
    Criteria,
    NonTargetStatus,
    Response,
    assess_timepoints,
    best_overall_response,
    best_overall_responses,
    get_criteria,
    overall_response,
    target_response,
)
from sirtkit.outcomes.survival import (
    CoxResult,
    KaplanMeier,
    LogRankResult,
    cox_regression,
    kaplan_meier,
    logrank_test,
    survival_at,
    univariable_cox,
)
from sirtkit.outcomes.synthetic import synthetic_cohort
from sirtkit.outcomes.toxicity import REILD_DEFINITION, grade_lab, lab_toxicity, toxicity_table

__all__ = [
    "CRITERIA",
    "REILD_DEFINITION",
    "SERIES",
    "TABLES",
    "CohortAnalysis",
    "CohortData",
    "CohortValidationError",
    "CoxResult",
    "Criteria",
    "KaplanMeier",
    "LogRankResult",
    "NonTargetStatus",
    "Proportion",
    "Response",
    "ResponseRates",
    "analyse_cohort",
    "assess_timepoints",
    "best_overall_response",
    "best_overall_responses",
    "clopper_pearson",
    "compare_with_literature",
    "cox_regression",
    "derive_endpoints",
    "get_criteria",
    "grade_lab",
    "kaplan_meier",
    "lab_toxicity",
    "logistic_fit",
    "logrank_test",
    "marker_category",
    "marker_responses",
    "overall_response",
    "proportion",
    "read_cohort",
    "recomputed_rates",
    "response_rates",
    "roc_curve",
    "survival_at",
    "symptom_responses",
    "synthetic_cohort",
    "target_response",
    "toxicity_table",
    "univariable_cox",
    "validate_cohort",
    "write_cohort",
    "write_template",
    "youden_threshold",
]
