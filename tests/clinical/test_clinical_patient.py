"""The PatientWorkup input model: units, plausibility and strictness."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from sirtkit.clinical.patient import PatientWorkup


def _validate(**data: Any) -> PatientWorkup:
    return PatientWorkup.model_validate({"patient_id": "P", **data})


def test_unit_pairs_are_filled() -> None:
    """Bilirubin 17.1 µmol/L = 1 mg/dL; albumin 40 g/L = 4 g/dL; creatinine 88.4 µmol/L = 1 mg/dL (units.py)."""
    p = _validate(labs={"bilirubin": "17.1 µmol/L", "albumin_g_l": 40.0, "creatinine_umol_l": 88.4})
    assert p.labs.bilirubin_mg_dl == pytest.approx(1.0, rel=1e-12)
    assert p.labs.albumin_g_dl == pytest.approx(4.0, rel=1e-12)
    assert p.labs.creatinine_mg_dl == pytest.approx(1.0, rel=1e-12)
    q = _validate(labs={"bilirubin_mg_dl": 2.0, "albumin_g_dl": 3.5})
    assert q.labs.bilirubin_umol_l == pytest.approx(34.2, rel=1e-12)
    assert q.labs.albumin_g_l == pytest.approx(35.0, rel=1e-12)


@pytest.mark.parametrize(
    ("labs", "field", "text"),
    [
        ({"albumin_g_dl": 35.0}, "labs.albumin_g_dl", "looks like g/L"),
        ({"albumin_g_l": 3.5}, "labs.albumin_g_l", "looks like g/dL"),
        ({"bilirubin_mg_dl": -0.1}, "labs.bilirubin_mg_dl", "≥ 0"),
        ({"bilirubin_mg_dl": 120.0}, "labs.bilirubin_mg_dl", "looks like µmol/L"),
        ({"creatinine_mg_dl": 80.0}, "labs.creatinine_mg_dl", "looks like µmol/L"),
        ({"inr": 0.0}, "labs.inr", "plausible"),
        ({"bilirubin_mg_dl": 1.0, "bilirubin": "40 umol/L"}, "labs", "disagree"),
        ({"granulocytes_10e9_l": -1.0}, "labs.granulocytes_10e9_l", "≥ 0"),
    ],
)
def test_impossible_labs_refused_with_field_named(labs: dict[str, float], field: str, text: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        _validate(labs=labs)
    err = info.value.errors()[0]
    assert ".".join(str(p) for p in err["loc"]) == field
    assert text in err["msg"]


def test_both_units_consistent_accepted() -> None:
    p = _validate(labs={"bilirubin_mg_dl": 1.2, "bilirubin": "20.5 µmol/L"})
    assert p.labs.bilirubin_umol_l == pytest.approx(20.5, rel=1e-12)  # the value written with its unit wins


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"liver": {"tumour_burden_fraction": 35.0}}, "percentage"),
        ({"maa": {"lung_shunt_fraction": 12.0}}, "percentage"),
        ({"height_cm": 1.8}, "metres"),
        ({"weight_kg": 900.0}, "kilograms"),
        ({"ecog": 6}, "less than or equal to 5"),
        ({"liver": {"ascites": "gross"}}, "none"),
        ({"history": {"prior_sirt_lung_doses_gy": [-3.0]}}, "≥ 0 Gy"),
    ],
)
def test_bad_values_refused(data: dict[str, Any], text: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=text):
        _validate(**data)


def test_unknown_fields_forbidden() -> None:
    """extra='forbid': a misspelt field is an error, never silently ignored."""
    with pytest.raises(pydantic.ValidationError, match="bilirubin"):
        _validate(labs={"bilirubine_mg_dl": 1.0})
    with pytest.raises(pydantic.ValidationError):
        PatientWorkup.model_validate({"labs": {}})  # patient_id required


def test_transaminase_ratios() -> None:
    p = _validate(labs={"ast_u_l": 200.0, "ast_uln_u_l": 40.0})
    assert p.labs.ast_x_uln == pytest.approx(5.0)
    assert p.labs.alt_x_uln is None


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [("bilirubin_umol_l", 1.5, "bilirubin: 1.5 mg/dL"), ("bilirubin_umol_l", 0.7, "bilirubin: 0.7 mg/dL"),
     ("creatinine_umol_l", 0.8, "creatinine: 0.8 mg/dL")],
)
def test_mg_dl_typed_into_si_field_is_refused(field, value, hint):
    """A bilirubin of 1.5 typed into the µmol/L field would read as 0.09 mg/dL and silently pass the
    > 2 mg/dL contraindication (found by trying the CLI as a new user); it must be refused with a hint."""
    with pytest.raises(pydantic.ValidationError, match=hint):
        PatientWorkup.model_validate({"patient_id": "X", "labs": {field: value}})


# --- issue 8 item 8: laboratory values carry their unit; ambiguous bare numbers are refused --------------


def test_mg_dl_bilirubin_typed_into_the_umol_field_is_refused_not_passed() -> None:
    """Issue 8: bilirubin 3.1 (mg/dL) typed into the µmol/L field read as 0.18 mg/dL and the > 2 mg/dL
    contraindication disappeared. 3.1 is plausible in both units, so it is refused with both readings."""
    with pytest.raises(pydantic.ValidationError) as info:
        _validate(labs={"bilirubin_umol_l": 3.1})
    msg = info.value.errors()[0]["msg"]
    assert "ambiguous" in msg and "3.1 mg/dL" in msg and "bilirubin: 3.1 µmol/L" in msg


@pytest.mark.parametrize(("text", "mg_dl"), [
    ("3.1 mg/dL", 3.1), ("53 µmol/L", 53 / 17.1), ("53 umol/l", 53 / 17.1), ("53µmol/L", 53 / 17.1),
    ("0.6", 0.6), (0.6, 0.6), (120, 120 / 17.1),
])
def test_bilirubin_with_its_unit_or_an_unambiguous_number(text: object, mg_dl: float) -> None:
    """17.1 µmol/L per mg/dL (units.BILIRUBIN_UMOL_L_PER_MG_DL); 0.6 is plausible only as mg/dL, 120 only as µmol/L."""
    p = _validate(labs={"bilirubin": text})
    assert p.labs.bilirubin_mg_dl == pytest.approx(mg_dl, rel=1e-12)
    assert p.labs.bilirubin_umol_l == pytest.approx(mg_dl * 17.1, rel=1e-12)
    assert p.labs.bilirubin is None  # stored once, in the unit-named fields


@pytest.mark.parametrize(("field", "value", "text"), [
    ("bilirubin", 3.1, "ambiguous"), ("bilirubin", 12, "ambiguous"), ("creatinine", 20, "ambiguous"),
    ("platelets", 1500, "ambiguous"), ("granulocytes", 50, "ambiguous"),
    ("bilirubin", "3 mmol/L", "unknown unit"), ("bilirubin", "1,5 mg/dL", "decimal point"),
    ("bilirubin", "60 mg/dL", "plausible range"), ("albumin", "0.5 g/dL", "plausible range"), ("bilirubin", "abc", "number"),
    ("platelets", "150000 x10^9/L", "looks like /µL"),
])
def test_unit_carrying_values_refused_with_a_hint(field: str, value: object, text: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=text):
        _validate(labs={field: value})


@pytest.mark.parametrize(("labs", "expected"), [
    ({"granulocytes": 1200}, 1.2), ({"granulocytes": "1200/µL"}, 1.2), ({"granulocytes": "1.2 G/L"}, 1.2),
    ({"granulocytes": "1.2 x10^9/L"}, 1.2), ({"granulocytes": 4.1}, 4.1),
])
def test_granulocytes_per_microlitre_are_converted(labs: dict[str, object], expected: float) -> None:
    """Issue 8: granulocytes given per µL (1200) passed the < 1.5 × 10⁹/L rule; 1200/µL = 1.2 × 10⁹/L."""
    assert _validate(labs=labs).labs.granulocytes_10e9_l == pytest.approx(expected, rel=1e-12)


def test_per_microlitre_count_in_the_10e9_field_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="granulocytes: 1200 /µL"):
        _validate(labs={"granulocytes_10e9_l": 1200})
    with pytest.raises(pydantic.ValidationError, match="platelets: 150000 /µL"):
        _validate(labs={"platelets_10e9_l": 150000})


def test_one_analyte_given_two_ways_must_agree() -> None:
    with pytest.raises(pydantic.ValidationError, match="disagree"):
        _validate(labs={"bilirubin": "3.1 mg/dL", "bilirubin_mg_dl": 0.6})
    p = _validate(labs={"creatinine": "88.4 µmol/L", "creatinine_mg_dl": 1.0})
    assert p.labs.creatinine_umol_l == pytest.approx(88.4, rel=1e-12)


# --- prior liver irradiation (earlier SIRT, PRRT, EBRT) ----------------------------------------------------


def test_prior_liver_irradiation_courses_set_the_flags() -> None:
    p = _validate(history={"prior_liver_irradiation": [
        {"kind": "prrt", "agent": "Lu-177 DOTATATE", "cycles": 4, "activity_gbq": 29.6, "date": "2025-03-10"},
        {"kind": "sirt", "agent": "Y-90 resin", "lung_dose_gy": 6.5, "whole_liver": False},
    ]})
    h = p.history
    assert (h.prior_prrt, h.prior_sirt, h.prior_liver_ebrt) == (True, True, False)
    assert h.prior_sirt_lung_doses_gy == [6.5]
    assert h.prior_liver_irradiation_any is True
    none = _validate(history={"prior_liver_irradiation": []}).history
    assert (none.prior_prrt, none.prior_sirt, none.prior_liver_ebrt, none.prior_liver_irradiation_any) == (
        False, False, False, False)


@pytest.mark.parametrize(("history", "text"), [
    ({"prior_prrt": False, "prior_liver_irradiation": [{"kind": "prrt"}]}, "prior_prrt is false"),
    ({"prior_sirt": True, "prior_liver_irradiation": []}, "prior_sirt is true"),
    ({"prior_sirt": True, "prior_sirt_lung_doses_gy": []}, "make them agree"),
    ({"prior_liver_irradiation": [{"kind": "prrt", "lung_dose_gy": 3.0}]}, "belongs to SIRT"),
    ({"prior_liver_irradiation": [{"kind": "sirt", "lung_dose_gy": 3.0}], "prior_sirt_lung_doses_gy": [1, 2]},
     "2 dose"),
    ({"prior_liver_irradiation": [{"kind": "gamma-knife"}]}, "kind"),
])
def test_contradictory_prior_irradiation_is_refused(history: dict[str, object], text: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=text):
        _validate(history=history)


@pytest.mark.parametrize("data", [
    {"ecog": True}, {"age_years": True}, {"labs": {"inr": True}}, {"labs": {"bilirubin": True}},
    {"maa": {"lung_shunt_fraction": True}}, {"history": {"prior_sirt_lung_doses_gy": [True]}},
])
def test_true_false_is_never_read_as_a_number(data: dict[str, Any]) -> None:
    """Found by the input fuzzer: pydantic's lax mode read `ecog: yes` (YAML true) as ECOG 1 and
    `lung_shunt_fraction: true` as a 100 % shunt."""
    with pytest.raises(pydantic.ValidationError, match="not true/false"):
        _validate(**data)
