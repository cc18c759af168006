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
    p = _validate(labs={"bilirubin_umol_l": 17.1, "albumin_g_l": 40.0, "creatinine_umol_l": 88.4})
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
        ({"bilirubin_mg_dl": 1.0, "bilirubin_umol_l": 40.0}, "labs", "disagree"),
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
    p = _validate(labs={"bilirubin_mg_dl": 1.2, "bilirubin_umol_l": 20.5})
    assert p.labs.bilirubin_umol_l == 20.5


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
    [("bilirubin_umol_l", 1.5, "bilirubin_mg_dl"), ("bilirubin_umol_l", 0.7, "bilirubin_mg_dl"),
     ("creatinine_umol_l", 0.8, "creatinine_mg_dl")],
)
def test_mg_dl_typed_into_si_field_is_refused(field, value, hint):
    """A bilirubin of 1.5 typed into the µmol/L field would read as 0.09 mg/dL and silently pass the
    > 2 mg/dL contraindication (found by trying the CLI as a new user); it must be refused with a hint."""
    with pytest.raises(pydantic.ValidationError, match=hint):
        PatientWorkup.model_validate({"patient_id": "X", "labs": {field: value}})
