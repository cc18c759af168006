"""Case-file reading: misspelt field names get a suggestion, empty files say so.

Uses the real models (``PlanCase``, ``PatientWorkup``) so that a renamed field shows up here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from sirtkit.clinical.patient import PatientWorkup
from sirtkit.errors import InputError
from sirtkit.workflows._inputs import allowed_fields, format_validation_error, load_model, read_yaml_mapping
from sirtkit.workflows.planning import PlanCase
from sirtkit.workflows.workup import load_patient


def _plan(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "patient_id": "T-1", "device": "glass", "method": "mird", "intent": "palliative",
        "lung": {"shunt_fraction": 0.05},
        "territories": [{"name": "right lobe", "perfused_volume_ml": 1000}],
    }
    base.update(overrides)
    return base


def _message(model: type[pydantic.BaseModel], data: dict[str, Any], *, with_model: bool = True) -> str:
    with pytest.raises(pydantic.ValidationError) as info:
        model.model_validate(data)
    return format_validation_error(info.value, "case.yaml", model if with_model else None)


def _names(model: type[pydantic.BaseModel], loc: tuple[int | str, ...] = ()) -> list[str]:
    names = allowed_fields(model, loc)
    assert names is not None, loc
    return names


def test_the_real_field_names_used_here_exist() -> None:
    """Guards the tests below: the names they expect as suggestions are real fields."""
    assert "ecog" in _names(PatientWorkup)
    assert "bilirubin_mg_dl" in _names(PatientWorkup, ("labs",))
    assert "lung_shunt_fraction" in _names(PatientWorkup, ("maa",))
    assert "shunt_fraction" in _names(PlanCase, ("lung",))
    assert "name" in _names(PlanCase, ("territories", 0))
    assert "volume_ml" in _names(PlanCase, ("territories", 0, "compartments", 3))
    assert "vial_calibration" in _names(PlanCase, ("schedule",))


def test_nested_typo_suggests_the_field() -> None:
    msg = _message(PlanCase, _plan(lung={"shunt_fracton": 0.05}))
    assert "lung.shunt_fracton: unknown field 'shunt_fracton': did you mean 'shunt_fraction'?" in msg


def test_top_level_typo_suggests_the_field() -> None:
    msg = _message(PatientWorkup, {"patient_id": "P1", "ecgo": 1})
    assert "ecgo: unknown field 'ecgo': did you mean 'ecog'?" in msg
    assert "Extra inputs are not permitted" not in msg


def test_typo_inside_a_tuple_of_models_follows_the_index() -> None:
    """``territories: tuple[TerritoryInput, ...]``: the error loc is ('territories', 0, 'naem')."""
    msg = _message(PlanCase, _plan(territories=[{"naem": "right lobe", "perfused_volume_ml": 1000}]))
    assert "territories.0.naem: unknown field 'naem': did you mean 'name'?" in msg


def test_typo_two_levels_down_in_tuples() -> None:
    """territories[0].compartments[1]: tuple inside tuple, both followed by their integer index."""
    comps = [{"name": "t", "kind": "tumour", "volume_ml": 50},
             {"name": "n", "kind": "normal", "volumee_ml": 900}]
    msg = _message(PlanCase, _plan(territories=[{"name": "r", "perfused_volume_ml": 1000, "compartments": comps}]))
    assert "territories.0.compartments.1.volumee_ml: unknown field 'volumee_ml': did you mean 'volume_ml'?" in msg


def test_typo_through_optional_model() -> None:
    """``schedule: ScheduleInput | None``: the Optional is looked through."""
    msg = _message(PlanCase, _plan(schedule={"planned_infusion": "2026-03-04T10:00:00+00:00",
                                             "vial_calibraton": "2026-03-01T12:00:00+00:00"}))
    assert "did you mean 'vial_calibration'?" in msg


def test_no_close_match_lists_the_allowed_names() -> None:
    msg = _message(PatientWorkup, {"patient_id": "P1", "maa": {"lsf": 0.1}})
    assert "maa.lsf: unknown field 'lsf'; allowed here: lung_shunt_fraction, planned_lung_dose_gy, " \
           "uncorrectable_gi_deposition" in msg


def test_field_one_level_too_high_names_its_section() -> None:
    msg = _message(PatientWorkup, {"patient_id": "P1", "bilirubin_mg_dl": 0.8})
    assert "it belongs under 'labs' (labs.bilirubin_mg_dl)" in msg


def test_without_model_there_is_no_hint_but_the_field_is_named() -> None:
    """The two-argument form still works (the CLI's catch-all uses it)."""
    msg = _message(PatientWorkup, {"patient_id": "P1", "ecgo": 1}, with_model=False)
    assert msg.startswith("case.yaml: 1 problem(s):")
    assert "ecgo: unknown field 'ecgo'" in msg
    assert "did you mean" not in msg


def test_other_errors_are_unchanged() -> None:
    msg = _message(PatientWorkup, {"labs": {"albumin_g_dl": 35}})
    assert "  - patient_id: required field is missing" in msg
    assert "labs.albumin_g_dl" in msg and "looks like g/L" in msg


class _Leaf(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    activity_gbq: float = 1.0


class _Branch(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    leaves: list[_Leaf] = []
    maybe_leaves: list[_Leaf] | None = None
    named: dict[str, _Leaf] = {}
    pair: tuple[_Leaf, _Branch] | None = None


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"leaves": [{}, {"activty_gbq": 1}]}, "leaves.1.activty_gbq"),
        ({"maybe_leaves": [{"activty_gbq": 1}]}, "maybe_leaves.0.activty_gbq"),
        ({"named": {"a": {"activty_gbq": 1}}}, "named.a.activty_gbq"),
        ({"pair": [{"activty_gbq": 1}, {}]}, "pair.0.activty_gbq"),
    ],
)
def test_list_optional_dict_and_fixed_tuple_are_followed(data: dict[str, Any], where: str) -> None:
    msg = _message(_Branch, data)
    assert f"{where}: unknown field 'activty_gbq': did you mean 'activity_gbq'?" in msg


def test_fixed_tuple_second_item_is_its_own_type() -> None:
    msg = _message(_Branch, {"pair": [{}, {"leavs": []}]})
    assert "pair.1.leavs: unknown field 'leavs': did you mean 'leaves'?" in msg


def test_allowed_fields_unresolvable_location_is_none() -> None:
    assert allowed_fields(PatientWorkup, ("labs", "bilirubin_mg_dl")) is None
    assert allowed_fields(PatientWorkup, ("no_such_section",)) is None


def test_load_model_suggests_for_a_file(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(
        "patient_id: T-1\ndevice: glass\nmethod: mird\nlung: {shunt_fracton: 0.05}\n"
        "territories: [{name: r, perfused_volume_ml: 1000}]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"did you mean 'shunt_fraction'\?") as info:
        load_model(PlanCase, path, "case file")
    assert str(path) in str(info.value)


def test_load_patient_suggests_ecog(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("patient_id: P1\necgo: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown field 'ecgo': did you mean 'ecog'\?"):
        load_patient(path)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file_says_so(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="the file is empty") as info:
        read_yaml_mapping(path, "case file")
    assert "NoneType" not in str(info.value)
    with pytest.raises(InputError, match="the file is empty"):
        load_model(PatientWorkup, path)


def test_non_mapping_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"must be a YAML mapping .* got list"):
        read_yaml_mapping(path)


# --- issue 8 item 14: alias bombs, deep nesting and duplicate keys are refused (exit 2), not run ------

# The 313-byte "billion laughs" document of the issue: 9 aliases per level, 7 levels → 9^7 ≈ 4.8 million
# strings once expanded (PyYAML builds it with shared lists, then validation walks all of them).
_ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
)


@pytest.mark.parametrize(("text", "expected"), [
    (_ALIAS_BOMB, "alias bomb"),
    ("patient_id: P1\nx: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 50 levels"),
    ("patient_id: P1\nx: &a [*a]\n", "recursive"),
    ("patient_id: P1\n" + "".join(f"k{i}: &a{i} 1\n" for i in range(101)) + "l: ["
     + ",".join(f"*a{i}" for i in range(101)) + "]\n", "more than 100 aliases"),
])
def test_yaml_bombs_and_deep_nesting_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=expected) as info:
        read_yaml_mapping(path)
    assert str(path) in str(info.value) and "line" in str(info.value)


def test_duplicate_key_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "patient.yaml"
    path.write_text("patient_id: P1\nmaa:\n  lung_shunt_fraction: 0.05\n  lung_shunt_fraction: 0.5\n")
    with pytest.raises(InputError, match=r"line 4, column 3: duplicate key 'lung_shunt_fraction' \(first given on line 3\)"):
        load_patient(path)


def test_merge_keys_and_a_few_aliases_still_work(tmp_path: Path) -> None:
    """YAML merge keys override by design (not a duplicate); ordinary anchors are fine."""
    path = tmp_path / "case.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 5\ne: *b\n")
    assert read_yaml_mapping(path) == {"base": {"x": 1, "y": 2}, "d": {"x": 5, "y": 2}, "e": {"x": 1, "y": 2}}


def test_a_huge_given_value_is_cut_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "patient.yaml"
    path.write_text("patient_id: P1\necog: \"" + "9" * 100_000 + "\"\n")
    with pytest.raises(InputError) as info:
        load_patient(path)
    assert len(str(info.value)) < 1000 and "characters)" in str(info.value)


def test_an_integer_too_long_for_python_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "patient.yaml"
    path.write_text(f"patient_id: P1\necog: {'9' * 5000}\n")
    with pytest.raises(InputError, match="line 2, column 7: the integer 99999"):
        load_patient(path)
