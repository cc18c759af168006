"""SIRT eligibility: a generic, three-valued rule engine over a cited rule set kept as data.

The rules live in ``sirtkit/data/rules/nelm_sirt_v1.yaml`` (one citation per rule). This module knows
the *variables* a rule may test (name, unit, kind) and how to read them from a
:class:`~sirtkit.clinical.patient.PatientWorkup`; it has no per-rule logic.

Every rule is evaluated and gets a status:

- ``fired`` — the condition holds (the ``why`` text shows value vs threshold);
- ``passed`` — the condition is known not to hold;
- ``unknown`` — a value the decision needs is missing (never counted as a pass);
- ``not_applicable`` — the rule is for another device than the planned one.

Conditions combine with Kleene three-valued logic: ``all`` is false as soon as one part is known false,
``any`` is true as soon as one part is known true; otherwise a missing value makes the result unknown.
When no device is planned every device-specific rule is evaluated (the conservative choice).

Overall verdict (documented choice):

1. ``contraindicated`` — any contraindication rule fired;
2. ``incomplete`` — otherwise, any contraindication rule is unknown (eligibility cannot be established);
3. ``caution`` — otherwise, any caution rule fired or is unknown ("caution — data missing");
4. ``eligible`` — every applicable rule passed.

Examples
--------
>>> from sirtkit.clinical.patient import PatientWorkup
>>> result = evaluate_eligibility(PatientWorkup(patient_id="P0"))
>>> result.verdict, len(result.evaluations) > 20
('incomplete', True)
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from sirtkit._yaml import YamlRefused, load_yaml_text
from sirtkit.clinical.patient import DeviceName, PatientWorkup
from sirtkit.clinical.scores import albi, child_pugh, egfr_ckd_epi_2021
from sirtkit.errors import InputError

__all__ = [
    "DEFAULT_RULE_SET",
    "VARIABLES",
    "Condition",
    "EligibilityResult",
    "Rule",
    "RuleEvaluation",
    "RuleSet",
    "RuleStatus",
    "Variable",
    "Verdict",
    "evaluate_eligibility",
    "load_rule_set",
    "patient_facts",
]

logger = logging.getLogger(__name__)

DEFAULT_RULE_SET = "nelm_sirt_v1"

RuleStatus = Literal["fired", "passed", "unknown", "not_applicable"]
Outcome = Literal["contraindicated", "caution"]
Verdict = Literal["eligible", "caution", "contraindicated", "incomplete"]
Operator = Literal[">", ">=", "<", "<=", "==", "!=", "in"]
Fact = float | int | bool | str | None


@dataclass(frozen=True)
class Variable:
    """A quantity a rule may test: its unit (numbers), kind and, for categories, the allowed values."""

    name: str
    kind: Literal["number", "boolean", "category"]
    unit: str | None
    source: str
    categories: tuple[Any, ...] = ()


# The variables a rule set may use, the unit its thresholds must be written in, and where each comes from.
VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable("bilirubin_mg_dl", "number", "mg/dL", "labs.bilirubin_mg_dl (or bilirubin_umol_l)"),
        Variable("albumin_g_dl", "number", "g/dL", "labs.albumin_g_dl (or albumin_g_l)"),
        Variable("inr", "number", "1", "labs.inr"),
        Variable("creatinine_mg_dl", "number", "mg/dL", "labs.creatinine_mg_dl (or creatinine_umol_l)"),
        Variable("ast_x_uln", "number", "xULN", "labs.ast_u_l and labs.ast_uln_u_l"),
        Variable("alt_x_uln", "number", "xULN", "labs.alt_u_l and labs.alt_uln_u_l"),
        Variable("granulocytes_10e9_l", "number", "10^9/L", "labs.granulocytes_10e9_l (or labs.granulocytes with its unit)"),
        Variable("platelets_10e9_l", "number", "10^9/L", "labs.platelets_10e9_l (or labs.platelets with its unit)"),
        Variable(
            "egfr_ml_min_1_73m2", "number", "mL/min/1.73m2",
            "labs.creatinine_mg_dl (or labs.creatinine with its unit), age_years and sex (female/male): CKD-EPI 2021",
        ),
        Variable("ecog", "number", "grade", "ecog"),
        Variable("encephalopathy_grade", "number", "grade", "liver.encephalopathy_grade"),
        Variable("tumour_burden_fraction", "number", "fraction", "liver.tumour_burden_fraction"),
        Variable("lung_shunt_fraction", "number", "fraction", "maa.lung_shunt_fraction"),
        Variable("planned_lung_dose_gy", "number", "Gy", "maa.planned_lung_dose_gy"),
        Variable(
            "cumulative_lung_dose_gy", "number", "Gy",
            "maa.planned_lung_dose_gy + sum(history.prior_sirt_lung_doses_gy)",
        ),
        Variable(
            "child_pugh_class", "category", None,
            "labs.bilirubin, labs.albumin, labs.inr, liver.ascites, liver.encephalopathy_grade",
            ("A", "B", "C"),
        ),
        Variable("albi_grade", "category", None, "labs.bilirubin and labs.albumin", (1, 2, 3)),
        Variable("ascites", "category", None, "liver.ascites", ("none", "slight", "moderate")),
        Variable(
            "extrahepatic_disease", "category", None, "disease.extrahepatic_disease",
            ("none", "limited", "disseminated"),
        ),
        Variable("clinical_liver_failure", "boolean", None, "liver.clinical_liver_failure"),
        Variable("portal_vein_thrombosis", "boolean", None, "liver.portal_vein_thrombosis"),
        Variable("bilioenteric_anastomosis", "boolean", None, "history.bilioenteric_anastomosis"),
        Variable("prior_biliary_intervention", "boolean", None, "history.prior_biliary_intervention"),
        Variable("prior_sphincterotomy", "boolean", None, "history.prior_sphincterotomy"),
        Variable("prior_prrt", "boolean", None, "history.prior_prrt (or history.prior_liver_irradiation)"),
        Variable("prior_sirt", "boolean", None, "history.prior_sirt (or history.prior_liver_irradiation)"),
        Variable("prior_liver_ebrt", "boolean", None,
                 "history.prior_liver_ebrt (or history.prior_liver_irradiation)"),
        Variable("capecitabine_within_2_months", "boolean", None, "history.capecitabine_within_2_months"),
        Variable("pregnant", "boolean", None, "history.pregnant (False when sex is 'male')"),
        Variable("pulmonary_insufficiency", "boolean", None, "history.pulmonary_insufficiency"),
        Variable("uncorrectable_gi_deposition", "boolean", None, "maa.uncorrectable_gi_deposition"),
    )
}

_DEVICES: tuple[str, ...] = ("any", "glass", "resin", "holmium")


# ------------------------------------------------------------------------------------- rule-set model


class Condition(BaseModel):
    """A leaf test ``variable operator threshold [unit]`` or a combination ``all`` / ``any``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variable: str | None = None
    operator: Operator | None = None
    threshold: float | int | bool | str | list[str | int] | None = None
    unit: str | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None

    @pydantic.model_validator(mode="after")
    def _check(self) -> Condition:
        is_leaf = self.variable is not None
        parts = [p for p in (is_leaf, self.all is not None, self.any is not None) if p]
        if len(parts) != 1:
            raise ValueError("a condition is exactly one of: a leaf (variable/operator/threshold), 'all' or 'any'")
        if not is_leaf:
            children = self.all if self.all is not None else self.any
            if not children:
                raise ValueError("'all'/'any' needs at least one condition")
            return self
        variable = VARIABLES.get(self.variable or "")
        if variable is None:
            raise ValueError(f"unknown variable {self.variable!r}; known: {', '.join(sorted(VARIABLES))}")
        if self.operator is None or self.threshold is None:
            raise ValueError(f"condition on {self.variable!r} needs an operator and a threshold")
        if variable.kind == "number":
            if isinstance(self.threshold, bool | str | list) or self.operator in ("in",):
                raise ValueError(f"{self.variable!r} is a number: use <, <=, >, >=, ==, != and a numeric threshold")
            if self.unit != variable.unit:
                raise ValueError(
                    f"threshold unit for {self.variable!r} must be {variable.unit!r} (given {self.unit!r})"
                )
        elif variable.kind == "boolean":
            if self.operator not in ("==", "!=") or not isinstance(self.threshold, bool):
                raise ValueError(f"{self.variable!r} is true/false: use '==' with threshold true or false")
        else:
            values = self.threshold if isinstance(self.threshold, list) else [self.threshold]
            if self.operator not in ("==", "!=", "in") or (self.operator == "in") != isinstance(self.threshold, list):
                raise ValueError(f"{self.variable!r} is a category: use '==' / '!=' with a value or 'in' with a list")
            bad = [v for v in values if v not in variable.categories]
            if bad:
                raise ValueError(f"{self.variable!r} has no value(s) {bad}; allowed: {list(variable.categories)}")
        return self


class Rule(BaseModel):
    """One cited eligibility rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    condition: Condition
    outcome: Outcome
    devices: list[Literal["any", "glass", "resin", "holmium"]] = Field(min_length=1)
    message: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    advice: str | None = None

    def applies_to(self, device: DeviceName | None) -> bool:
        """True if the rule applies to ``device`` (every rule applies when no device is planned)."""
        return device is None or "any" in self.devices or device in self.devices


class RuleSet(BaseModel):
    """A versioned list of rules with unique ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_set: str
    version: int
    title: str
    rules: list[Rule] = Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule id(s): {', '.join(dupes)}")
        return self


def load_rule_set(source: str | Path = DEFAULT_RULE_SET) -> RuleSet:
    """Load and validate a rule set: a packaged name (``"nelm_sirt_v1"``) or a path to a YAML file.

    Raises
    ------
    InputError
        If the file is missing, is not YAML, or a rule names an unknown variable, a wrong unit or an
        impossible category (the message names the rule).

    Examples
    --------
    >>> load_rule_set().rule_set
    'nelm_sirt'
    """
    if isinstance(source, Path) or source.endswith((".yaml", ".yml")):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"rule set {path}: file not found; give a YAML rule-set file")
        text = path.read_text(encoding="utf-8")
        label = str(path)
    else:
        return _load_packaged(source)
    return _parse_rule_set(text, label)


@functools.lru_cache(maxsize=8)
def _load_packaged(name: str) -> RuleSet:
    resource = resources.files("sirtkit").joinpath("data", "rules", f"{name}.yaml")
    if not resource.is_file():
        raise InputError(f"no packaged rule set named {name!r}; the default is {DEFAULT_RULE_SET!r}")
    return _parse_rule_set(resource.read_text(encoding="utf-8"), f"packaged rule set {name}")


def _parse_rule_set(text: str, label: str) -> RuleSet:
    try:
        data = load_yaml_text(text)
    except YamlRefused as err:
        line = f" line {err.problem_mark.line + 1}:" if err.problem_mark is not None else ""
        raise InputError(f"{label}:{line} {err.problem}") from None
    except yaml.YAMLError as err:
        raise InputError(f"{label}: not valid YAML ({err})") from None
    try:
        return RuleSet.model_validate(data)
    except pydantic.ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise InputError(f"{label}: invalid rule set: {problems}") from None


# ------------------------------------------------------------------------------------- facts


def patient_facts(patient: PatientWorkup) -> dict[str, Fact]:
    """Every :data:`VARIABLES` entry read from ``patient`` (``None`` = unknown).

    Derived values: Child-Pugh class and ALBI grade (None unless every input is known),
    AST/ALT × ULN, eGFR by CKD-EPI 2021 (adults with sex female or male; unknown otherwise), cumulative lung dose (planned + previous SIRT; unknown unless both are known, ``[]``
    meaning no previous SIRT), pregnancy (False for sex ``"male"``).
    """
    labs, liver, hist, maa = patient.labs, patient.liver, patient.history, patient.maa
    cp_class: str | None = None
    if (
        labs.bilirubin_mg_dl is not None and labs.albumin_g_dl is not None and labs.inr is not None
        and liver.ascites is not None and liver.encephalopathy_grade is not None
    ):
        cp_class = child_pugh(
            labs.bilirubin_mg_dl, labs.albumin_g_dl, labs.inr, liver.ascites, liver.encephalopathy_grade,
            cholestatic_disease=liver.cholestatic_liver_disease,
        ).child_pugh_class
    albi_grade: int | None = None
    if labs.bilirubin_umol_l is not None and labs.albumin_g_l is not None and labs.bilirubin_umol_l > 0:
        albi_grade = albi(labs.bilirubin_umol_l, labs.albumin_g_l).albi_grade
    cumulative: float | None = None
    if maa.planned_lung_dose_gy is not None and hist.prior_sirt_lung_doses_gy is not None:
        cumulative = maa.planned_lung_dose_gy + math.fsum(hist.prior_sirt_lung_doses_gy)
    pregnant = False if patient.sex == "male" else hist.pregnant
    egfr: float | None = None
    if (
        labs.creatinine_mg_dl is not None and labs.creatinine_mg_dl > 0 and patient.age_years is not None
        and patient.age_years >= 18 and patient.sex in ("female", "male")
    ):
        egfr = egfr_ckd_epi_2021(labs.creatinine_mg_dl, patient.age_years,
                                 "female" if patient.sex == "female" else "male")
    facts: dict[str, Fact] = {
        "bilirubin_mg_dl": labs.bilirubin_mg_dl,
        "albumin_g_dl": labs.albumin_g_dl,
        "inr": labs.inr,
        "creatinine_mg_dl": labs.creatinine_mg_dl,
        "ast_x_uln": labs.ast_x_uln,
        "alt_x_uln": labs.alt_x_uln,
        "granulocytes_10e9_l": labs.granulocytes_10e9_l,
        "platelets_10e9_l": labs.platelets_10e9_l,
        "egfr_ml_min_1_73m2": egfr,
        "ecog": patient.ecog,
        "encephalopathy_grade": liver.encephalopathy_grade,
        "tumour_burden_fraction": liver.tumour_burden_fraction,
        "lung_shunt_fraction": maa.lung_shunt_fraction,
        "planned_lung_dose_gy": maa.planned_lung_dose_gy,
        "cumulative_lung_dose_gy": cumulative,
        "child_pugh_class": cp_class,
        "albi_grade": albi_grade,
        "ascites": liver.ascites,
        "extrahepatic_disease": patient.disease.extrahepatic_disease,
        "clinical_liver_failure": liver.clinical_liver_failure,
        "portal_vein_thrombosis": liver.portal_vein_thrombosis,
        "bilioenteric_anastomosis": hist.bilioenteric_anastomosis,
        "prior_biliary_intervention": hist.prior_biliary_intervention,
        "prior_sphincterotomy": hist.prior_sphincterotomy,
        "prior_prrt": hist.prior_prrt,
        "prior_sirt": hist.prior_sirt,
        "prior_liver_ebrt": hist.prior_liver_ebrt,
        "capecitabine_within_2_months": hist.capecitabine_within_2_months,
        "pregnant": pregnant,
        "pulmonary_insufficiency": hist.pulmonary_insufficiency,
        "uncorrectable_gi_deposition": maa.uncorrectable_gi_deposition,
    }
    return facts


# ------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class RuleEvaluation:
    """The result of one rule for one patient."""

    rule_id: str
    status: RuleStatus
    outcome: Outcome
    condition: str
    values: Mapping[str, Fact]
    why: str
    message: str
    advice: str | None
    citation: str
    devices: tuple[str, ...]


@dataclass(frozen=True)
class EligibilityResult:
    """Overall verdict and every rule's evaluation."""

    verdict: Verdict
    rule_set: str
    rule_set_version: int
    planned_device: DeviceName | None
    evaluations: tuple[RuleEvaluation, ...]
    contraindications: tuple[str, ...]
    cautions: tuple[str, ...]
    unknown_rules: tuple[str, ...]
    missing_variables: tuple[str, ...]
    missing_inputs: tuple[str, ...]
    summary: str


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)


def _describe(cond: Condition) -> str:
    if cond.all is not None:
        return "(" + " AND ".join(_describe(c) for c in cond.all) + ")"
    if cond.any is not None:
        return "(" + " OR ".join(_describe(c) for c in cond.any) + ")"
    unit = f" {cond.unit}" if cond.unit and cond.unit not in ("1", "grade", "fraction") else ""
    return f"{cond.variable} {cond.operator} {_format(cond.threshold)}{unit}"


def _compare(value: Fact, operator: str, threshold: Any) -> bool:
    if operator == "in":
        return value in threshold
    if operator == "==":
        return value == threshold
    if operator == "!=":
        return value != threshold
    number = float(value)  # type: ignore[arg-type]
    limit = float(threshold)
    if operator == ">":
        return number > limit
    if operator == ">=":
        return number >= limit
    if operator == "<":
        return number < limit
    return number <= limit


def _evaluate(cond: Condition, facts: Mapping[str, Fact], notes: list[str], used: dict[str, Fact]) -> bool | None:
    """Kleene three-valued evaluation; ``notes`` collects 'value vs threshold' texts of the leaves."""
    if cond.all is not None or cond.any is not None:
        children = cond.all if cond.all is not None else cond.any
        assert children is not None
        results = [_evaluate(c, facts, notes, used) for c in children]
        if cond.all is not None:
            if any(r is False for r in results):
                return False
            return None if any(r is None for r in results) else True
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    name = cond.variable or ""
    value = facts.get(name)
    used[name] = value
    if value is None:
        notes.append(f"{name} missing")
        return None
    outcome = _compare(value, cond.operator or "==", cond.threshold)
    unit = f" {cond.unit}" if cond.unit and cond.unit not in ("1", "grade", "fraction") else ""
    relation = cond.operator if outcome else f"not {cond.operator}"
    notes.append(f"{name} = {_format(value)}{unit} {relation} {_format(cond.threshold)}{unit}")
    return outcome


def evaluate_eligibility(
    patient: PatientWorkup, rule_set: RuleSet | None = None, *, device: DeviceName | None = None
) -> EligibilityResult:
    """Evaluate every rule of ``rule_set`` for ``patient``.

    Parameters
    ----------
    patient : PatientWorkup
        The validated work-up data.
    rule_set : RuleSet, optional
        Defaults to the packaged ``nelm_sirt_v1`` rules.
    device : {"glass", "resin", "holmium"}, optional
        Overrides ``patient.planned_device``; with neither, every device-specific rule is evaluated.

    Returns
    -------
    EligibilityResult
        See the module docstring for the verdict rule.
    """
    rules = rule_set if rule_set is not None else load_rule_set()
    planned = device if device is not None else patient.planned_device
    facts = patient_facts(patient)
    evaluations: list[RuleEvaluation] = []
    for rule in rules.rules:
        notes: list[str] = []
        used: dict[str, Fact] = {}
        if not rule.applies_to(planned):
            status: RuleStatus = "not_applicable"
            why = f"rule is for {', '.join(rule.devices)}; planned device is {planned}"
        else:
            truth = _evaluate(rule.condition, facts, notes, used)
            status = "fired" if truth is True else ("passed" if truth is False else "unknown")
            why = "; ".join(notes)
        evaluations.append(
            RuleEvaluation(
                rule_id=rule.id, status=status, outcome=rule.outcome, condition=_describe(rule.condition),
                values=used, why=why, message=rule.message, advice=rule.advice, citation=rule.citation,
                devices=tuple(rule.devices),
            )
        )
    return _summarise(rules, planned, evaluations)


def _summarise(rules: RuleSet, planned: DeviceName | None, evaluations: Sequence[RuleEvaluation]) -> EligibilityResult:
    def ids(status: RuleStatus, outcome: Outcome) -> tuple[str, ...]:
        return tuple(e.rule_id for e in evaluations if e.status == status and e.outcome == outcome)

    contra_fired, contra_unknown = ids("fired", "contraindicated"), ids("unknown", "contraindicated")
    caution_fired, caution_unknown = ids("fired", "caution"), ids("unknown", "caution")
    unknown = tuple(e.rule_id for e in evaluations if e.status == "unknown")
    missing = tuple(sorted({n for e in evaluations if e.status == "unknown" for n, v in e.values.items() if v is None}))
    inputs = tuple(dict.fromkeys(VARIABLES[n].source for n in missing))
    verdict: Verdict
    if contra_fired:
        verdict = "contraindicated"
        summary = f"Contraindicated: {', '.join(contra_fired)}."
    elif contra_unknown:
        verdict = "incomplete"
        summary = (
            f"Incomplete: contraindication rule(s) {', '.join(contra_unknown)} cannot be evaluated; "
            f"provide {'; '.join(inputs)}."
        )
    elif caution_fired or caution_unknown:
        verdict = "caution"
        parts = []
        if caution_fired:
            parts.append(f"caution rule(s) fired: {', '.join(caution_fired)}")
        if caution_unknown:
            parts.append(f"data missing for caution rule(s): {', '.join(caution_unknown)}")
        summary = "Caution: " + "; ".join(parts) + "."
    else:
        verdict = "eligible"
        summary = "Eligible: every applicable rule passed."
    if missing:
        summary += f" Missing data: {', '.join(missing)}."
        logger.info("missing inputs: %s", "; ".join(inputs))
    logger.info("eligibility %s (%s v%d)", verdict, rules.rule_set, rules.version)
    return EligibilityResult(
        verdict=verdict, rule_set=rules.rule_set, rule_set_version=rules.version, planned_device=planned,
        evaluations=tuple(evaluations), contraindications=contra_fired, cautions=caution_fired,
        unknown_rules=unknown, missing_variables=missing, missing_inputs=inputs, summary=summary,
    )
