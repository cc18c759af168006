"""Issue 8 (planning items 1–7): guideline limits by quantity, objectives, tighten-only limits, devices,
timelines, daylight-saving time and the plan sheet — each test would have caught the reported problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from sirtkit.errors import InputError
from sirtkit.planning.checks import CheckStatus
from sirtkit.workflows.planning import PlanCase, load_case, run_plan, write_plan_sheet

CASES = Path(__file__).resolve().parents[2] / "examples" / "cases"


def _doc(name: str) -> dict[str, Any]:
    return yaml.safe_load((CASES / name).read_text(encoding="utf-8"))


def _case(name: str, **changes: Any) -> PlanCase:
    doc = _doc(name)
    for dotted, value in changes.items():
        node = doc
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is _DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return PlanCase.model_validate(doc)


_DELETE = object()
RIGHT = "nelm_glass_partition_right_lobe.yaml"
RESIN = "nelm_resin_bsa_bilobar.yaml"


def _checks(result: Any) -> dict[str, Any]:
    return {c.name: c for c in result.checks}


# --- item 1: limits mapped to the quantity they name -----------------------------------------------

def test_glass_75_gy_applies_to_whole_normal_liver() -> None:
    """EANM 2022 Tab 2: 75 Gy bounds the whole normal liver (perfused + non-perfused). Right-lobe example:
    perfused normal 0.886 kg, non-perfused 1650−1100 mL = 0.5665 kg; whole = perfused dose × 0.886/1.4525."""
    result = run_plan(load_case(CASES / RIGHT))
    plan = result.plan
    assert plan is not None and plan.whole_normal_liver_dose_gy is not None
    assert result.nonperfused_normal_liver_mass_kg == pytest.approx(0.5665, abs=1e-9)
    assert plan.whole_normal_liver_dose_gy == pytest.approx(
        plan.perfused_normal_liver_dose_gy * 0.8858 / (0.8858 + 0.5665), rel=1e-9)
    checks = _checks(result)
    assert checks["whole_normal_liver_dose"].threshold == 75.0
    assert "perfused_normal_liver_dose" not in checks  # glass: no perfused limit unless reserve < 30 %


def test_compromise_selects_the_limit() -> None:
    """Bilirubin > 1.1 mg/dL → 50 Gy whole normal liver (glass); prior chemotherapy → 30 Gy perfused (resin)."""
    high = run_plan(_case(RIGHT, **{"liver_function.total_bilirubin_mg_per_dl": 1.8}))
    assert high.thresholds["whole_normal_liver_dose"].value == 50.0
    assert high.liver_compromise
    resin = run_plan(_case(RESIN, **{"method": "partition", "territories": [{
        "name": "whole liver", "compartments": [
            {"name": "T", "kind": "tumour", "volume_ml": 360, "counts": 9e5},
            {"name": "NL", "kind": "normal_liver", "volume_ml": 1440, "counts": 6e5}]}],
        "liver_function.prior_chemotherapy": True, "objective": "maximise"}))
    assert resin.thresholds["perfused_normal_liver_dose"].value == 30.0
    assert resin.plan is not None
    assert resin.plan.perfused_normal_liver_dose_gy == pytest.approx(30.0, rel=1e-9)


def test_bilirubin_read_as_in_the_work_up() -> None:
    """QA finding 3: the plan reads bilirubin with the work-up's parser (sirtkit.units.parse_lab_value).
    17 in the mg/dL field is a contraindication (> 2 mg/dL, rule bilirubin_gt_2): a WARN that also gives the
    µmol/L reading (17/17.1 = 0.99 mg/dL, tol 0.01); '17 µmol/L' with its unit is the normal 0.994 mg/dL; a
    bare 3.1 is ambiguous and refused as in the work-up; mg/dL and µmol/L given both must agree."""
    from sirtkit.clinical.patient import Labs
    from sirtkit.errors import UnitsError

    bare = run_plan(_case(RIGHT, **{"liver_function.total_bilirubin_mg_per_dl": 17}))
    warn = _checks(bare)["bilirubin_contraindication"]
    assert warn.status == CheckStatus.WARN and "bilirubin_gt_2" in warn.message and "0.99 mg/dL" in warn.message
    assert Labs(bilirubin_mg_dl=17).bilirubin_mg_dl == 17  # the work-up reads the same field the same way
    si = _case(RIGHT, **{"liver_function.total_bilirubin_mg_per_dl": _DELETE,
                         "liver_function.total_bilirubin": "17 µmol/L"})
    assert si.liver_function.total_bilirubin_mg_per_dl == pytest.approx(17 / 17.1, rel=1e-9)
    assert si.liver_function.total_bilirubin_mg_per_dl == Labs(bilirubin="17 µmol/L").bilirubin_mg_dl
    assert "bilirubin_contraindication" not in _checks(run_plan(si))
    with pytest.raises((pydantic.ValidationError, UnitsError), match="ambiguous"):
        _case(RIGHT, **{"liver_function.total_bilirubin_mg_per_dl": _DELETE, "liver_function.total_bilirubin": 3.1})
    with pytest.raises((pydantic.ValidationError, UnitsError), match="disagree"):
        _case(RIGHT, **{"liver_function.total_bilirubin": "17 µmol/L"})  # beside 0.7 mg/dL
    with pytest.raises((pydantic.ValidationError, UnitsError), match="plausible"):
        _case(RIGHT, **{"liver_function.total_bilirubin_mg_per_dl": 300})


def test_low_hepatic_reserve_adds_perfused_limit() -> None:
    """Glass, hepatic reserve < 30 % (stated or derived): normal perfused liver < 120 Gy (EANM Tab 2 **)."""
    result = run_plan(_case(RIGHT, **{"liver.volume_ml": 1300}))  # reserve (1300−1100)/1300 = 15 %
    assert result.hepatic_reserve_fraction == pytest.approx(200 / 1300, rel=1e-9)
    assert result.thresholds["perfused_normal_liver_dose"].value == 120.0


def test_nonperfused_liver_given_directly() -> None:
    result = run_plan(_case(RIGHT, **{"liver.volume_ml": _DELETE, "liver.nonperfused_volume_ml": 300}))
    assert result.nonperfused_normal_liver_source == "given"
    assert result.nonperfused_normal_liver_mass_kg == pytest.approx(0.309, rel=1e-9)


def test_lobectomy_minimum_normal_liver_target() -> None:
    """Glass radiation lobectomy: normal perfused liver ≥ 88 Gy is a target (EANM Tab 2 **)."""
    result = run_plan(_case(RIGHT, intent="radiation_lobectomy"))
    assert result.thresholds["normal_liver_dose_target"].value == 88.0
    assert result.plan is not None and result.plan.perfused_normal_liver_dose_gy is not None
    assert result.plan.perfused_normal_liver_dose_gy >= 88.0 - 1e-9


# --- item 2: objective, window, lower bound -------------------------------------------------------

def test_right_lobe_example_warns_below_perfused_lower_bound() -> None:
    """The bundled right-lobe plan lands on the tumour target with 72.7 Gy to the perfused volume, below
    the EANM 80–150 Gy range: it now warns and shows where it sits in the activity window."""
    result = run_plan(load_case(CASES / RIGHT))
    low = _checks(result)["perfused_dose_range_low"]
    assert low.status is CheckStatus.WARN and low.measured == pytest.approx(72.73, abs=0.01)
    window = result.activity_window
    assert window is not None and window["position"] == pytest.approx(0.0, abs=1e-9)
    assert window["first_limit"] == "whole_normal_liver_limit"
    assert window["first_limit_prepared_gbq"] > window["efficacy_reached_prepared_gbq"]


def test_objective_maximise_and_stated_dose() -> None:
    top = run_plan(_case(RIGHT, objective="maximise"))
    assert top.plan is not None and top.plan.whole_normal_liver_dose_gy == pytest.approx(75.0, rel=1e-9)
    assert top.activity_window is not None and top.activity_window["position"] == pytest.approx(1.0, rel=1e-9)
    aim = run_plan(_case(RIGHT, objective="stated_dose", stated_dose_gy=250.0))
    assert aim.plan is not None and aim.plan.tumour_dose_min_gy == pytest.approx(250.0, rel=1e-9)
    with pytest.raises(pydantic.ValidationError, match="stated_dose_gy"):
        _case(RIGHT, objective="stated_dose")
    with pytest.raises(pydantic.ValidationError, match="no normal-liver limit"):
        _case("nelm_glass_mird_residual.yaml", objective="maximise")
    with pytest.raises(pydantic.ValidationError, match="prescribes the activity"):
        _case(RESIN, objective="maximise")
    mird = run_plan(_case("nelm_glass_mird_residual.yaml", objective="stated_dose", stated_dose_gy=130.0))
    assert mird.plan is not None and mird.plan.perfused_dose_min_gy == pytest.approx(130.0, rel=1e-9)


# --- item 3: defaults that cannot be removed, limits that can -------------------------------------

def test_null_target_means_none() -> None:
    """`tumour_target_gy: null` silently kept the default 189 Gy; now it means no tumour target."""
    result = run_plan(_case(RIGHT, targets={"tumour_target_gy": None}, objective="maximise"))
    assert "tumour_dose_target" not in result.thresholds
    assert result.plan is not None and result.plan.binding_constraint.value == "whole_normal_liver_limit"


@pytest.mark.parametrize("field", ["expected_residual_fraction", "lung.mass_kg", "objective"])
def test_null_that_would_keep_a_default_is_refused(field: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=field.replace(".", r"\.") + ": null"):
        _case(RIGHT, **{field: None})


@pytest.mark.parametrize("value", [float("inf"), None, float("nan")])
def test_lung_limit_cannot_be_removed(value: float | None) -> None:
    """`lung_dose_gy: .inf` disabled the 30 Gy hard limit; null and non-finite values are refused."""
    with pytest.raises(pydantic.ValidationError, match="lung_dose_gy"):
        _case(RIGHT, limits={"lung_dose_gy": value})


def test_limits_tighten_freely_and_lift_only_with_override() -> None:
    tight = run_plan(_case(RIGHT, limits={"lung_dose_gy": 20.0, "whole_normal_liver_dose_gy": 60.0}))
    assert tight.thresholds["lung_dose_session"].value == 20.0
    assert tight.thresholds["whole_normal_liver_dose"].value == 60.0
    with pytest.raises(pydantic.ValidationError, match="tightened, not lifted"):
        _case(RIGHT, limits={"lung_dose_gy": 35.0})
    lifted = run_plan(_case(RIGHT, overrides={"lung_dose_gy": {
        "value_gy": 35.0, "reason": "tumour board 2026-02-27: single session, no prior lung dose"}}))
    assert lifted.thresholds["lung_dose_session"].value == 35.0
    assert lifted.thresholds["lung_dose_session"].source.startswith("OVERRIDE")
    assert "tumour board" in lifted.overrides["lung_dose_gy"]["reason"]
    with pytest.raises(pydantic.ValidationError, match="reason"):
        _case(RIGHT, overrides={"lung_dose_gy": {"value_gy": 35.0, "reason": "ok"}})


# --- item 4: devices --------------------------------------------------------------------------------

def test_resin_nominal_vial_is_flagged() -> None:
    """Without a dose-calibrator reading the resin vial is assumed to hold 3 GBq ± 10 % (SIR-Spheres PI)."""
    nominal = run_plan(_case(RESIN, **{"schedule.vial_assay": _DELETE}))
    flag = _checks(nominal)["vial_activity_measured"]
    assert flag.status is CheckStatus.WARN and "±10 %" in flag.message
    measured = run_plan(load_case(CASES / RESIN))
    assert "vial_activity_measured" not in _checks(measured)
    assert measured.resin_draw is not None and measured.vial_activity_source.startswith("dose calibrator")


def test_holmium_logistics_as_for_y90() -> None:
    """Ho-166: ordered activity decayed (T½ 26.8 h) to the infusion, decay table, residual → delivered, and
    the scout's own doses (0.25 GBq: liver 15.87·0.25·(1−LSF)/1.5 kg)."""
    result = run_plan(load_case(CASES / "nelm_holmium_scout.yaml"))
    vial = result.holmium_vial
    assert vial is not None and vial.decay_factor == pytest.approx(0.5 ** (4.0 / 26.8), rel=1e-9)
    assert any("planned infusion" in r.event for r in result.decay_table)
    assert result.delivered is not None and result.delivered_plan is not None
    assert result.scout is not None
    assert result.scout["liver_dose_gy"] == pytest.approx(15.87 * 0.25 * (1 - result.lung_shunt_fraction) / 1.5,
                                                          rel=1e-9)


# --- item 5: timelines --------------------------------------------------------------------------------

def test_infusion_long_before_calibration_fails() -> None:
    """An infusion 218 h before vial calibration was only a warning; it is outside the vial's window."""
    result = run_plan(_case(RIGHT, **{"schedule.planned_infusion": "2026-02-20T10:00:00-05:00"}))
    assert _checks(result)["vial_window_start"].status is CheckStatus.FAIL
    assert not result.passes_hard_limits


@pytest.mark.parametrize(("changes", "match"), [
    ({"residual.administration_time": "2026-03-04T07:00:00-05:00"}, "before prepared_time"),
    ({"residual.residual_time": "1996-03-04T11:00:00-05:00"}, "before administration_time"),
    ({"schedule.vial_calibration": "2062-03-01T12:00:00-05:00"}, "check the dates"),
    ({"residual.prepared_time": "2026-02-20T08:00:00-05:00"}, "check the dates"),
])
def test_impossible_timelines_are_refused(changes: dict[str, str], match: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=match):
        _case("nelm_glass_mird_residual.yaml", **changes)


def test_decades_away_is_an_input_error_not_a_crash(tmp_path: Path) -> None:
    doc = _doc("nelm_glass_mird_residual.yaml")
    doc["schedule"]["vial_calibration"] = "1926-03-01T12:00:00-05:00"
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(InputError, match="check the dates"):
        load_case(path)


# --- item 6: daylight-saving time ---------------------------------------------------------------------

def test_iana_zone_and_spring_change() -> None:
    """Resin vial calibrated Sat 28 Mar 2026 19:00 Amsterdam (CET), infusion Sun 29 Mar 10:00 (CEST): 14 h,
    not the 15 h of the wall clocks (−1.1 % … the draw fraction would be off by the same factor)."""
    result = run_plan(_case(RESIN, timezone="Europe/Amsterdam", **{
        "schedule.planned_infusion": "2026-03-29T10:00:00", "schedule.vial_calibration": "2026-03-28T19:00:00",
        "schedule.vial_assay": {"activity_gbq": 2.9, "time": "2026-03-29T08:00:00"}}))
    assert result.resin_draw is not None
    assert result.resin_draw.hours_after_calibration == pytest.approx(14.0, abs=1e-12)
    with pytest.raises(pydantic.ValidationError, match="does not exist"):
        _case(RESIN, timezone="Europe/Amsterdam", **{"schedule.vial_calibration": "2026-03-29T02:30:00"})
    with pytest.raises(pydantic.ValidationError, match="IANA"):
        _case(RESIN, timezone="CET+1")


# --- item 7: plan sheet -------------------------------------------------------------------------------

def test_plan_sheet_html_and_pdf(tmp_path: Path) -> None:
    """The sheet names patient, device, vial lot, activities, doses, every check, the exact infusion row of
    the decay table, and signature fields; HTML and PDF appear together."""
    case = load_case(CASES / RIGHT)
    result = run_plan(case)
    written = write_plan_sheet(result, case, tmp_path / "sheet")
    html = written["html"].read_text(encoding="utf-8")
    for text in ("NELM-002", "TheraSphere", "TS-2026-0301-113", "Activity to prepare", "Whole normal liver",
                 "2026-03-03T15:00-05:00  ← planned infusion", "Approved by (treating physician)", "Signature",
                 "perfused dose range low"):
        assert text in html, text
    assert html.count("<tr class=\"bad\"") + html.count("<tr class=\"caution\"") + html.count("<tr class=\"\"") \
        >= len(result.checks)
    assert written["pdf"].read_bytes().startswith(b"%PDF")


def test_plan_sheet_escapes_untrusted_text(tmp_path: Path) -> None:
    case = _case(RIGHT, patient_id="<script>x</script>")
    written = write_plan_sheet(run_plan(case), case, tmp_path / "s", pdf=False)
    html = written["html"].read_text(encoding="utf-8")
    assert "<script>x" not in html and "&lt;script&gt;" in html
    assert not (tmp_path / "s" / "plan_sheet.pdf").exists()


def test_zone_name_on_a_single_time() -> None:
    """A European centre with a TheraSphere label in US Eastern time: the label time names its own zone."""
    case = _case(RIGHT, timezone="Europe/Amsterdam", **{
        "schedule.vial_calibration": "2026-03-01T12:00 America/New_York",
        "schedule.planned_infusion": "2026-03-03T21:00:00"})
    assert case.schedule is not None and case.schedule.vial_calibration is not None
    hours = run_plan(case).glass_vial.hours_after_calibration  # type: ignore[union-attr]
    assert hours == pytest.approx(51.0, abs=1e-12)  # 17:00Z → 20:00Z two days later
    with pytest.raises(pydantic.ValidationError, match="not both"):
        _case(RIGHT, **{"schedule.vial_calibration": "2026-03-01T12:00-05:00 America/New_York"})


# --- activity plausibility (one per-nuclide limit, shared with post-treatment dosimetry) ----------------

@pytest.mark.parametrize(("name", "dotted", "field"), [
    ("nelm_glass_mird_residual.yaml", "residual.prepared_activity_gbq", "residual.prepared_activity_gbq"),
    ("nelm_glass_mird_residual.yaml", "residual.residual_activity_gbq", "residual.residual_activity_gbq"),
    ("nelm_glass_partition_right_lobe.yaml", "schedule.vial_activity_at_calibration_gbq",
     "schedule.vial_activity_at_calibration_gbq"),
    (RESIN, "schedule.vial_assay.activity_gbq", "schedule.vial_assay.activity_gbq"),
    ("nelm_holmium_scout.yaml", "scout.activity_gbq", "scout.activity_gbq"),
    ("nelm_holmium_scout.yaml", "schedule.vial_activity_at_calibration_gbq",
     "schedule.vial_activity_at_calibration_gbq"),
])
def test_27_mci_typed_as_gbq_is_refused_in_every_activity_field(name: str, dotted: str, field: str) -> None:
    """`sirtkit plan` accepted up to 30 GBq, so 27 (mCi typed as GBq; 27 mCi = 0.999 GBq) passed while `sirtkit
    dose` refused it. Both now use ``physics.nuclides.MAX_PLAUSIBLE_ACTIVITY_GBQ`` (20 GBq for Y-90 and
    Ho-166: TheraSphere's largest vial; QuiremSpheres 6–12 GBq): the message names the field and converts."""
    changes: dict[str, Any] = {dotted: 27.0}
    if dotted == "schedule.vial_assay.activity_gbq":
        changes = {"schedule.vial_assay": {**_doc(name)["schedule"]["vial_assay"], "activity_gbq": 27.0}}
    with pytest.raises((pydantic.ValidationError, InputError)) as err:
        _case(name, **changes)
    text = str(err.value)
    assert field in text and "27 mCi = 0.999 GBq" in text and "at most 20 GBq" in text


def test_prescribed_territory_activity_is_guarded_and_limits_are_shared() -> None:
    """A territory's prescribed activity of 27 GBq is refused naming the territory; 20 GBq (the largest
    TheraSphere vial) is accepted as input (the device-maximum check then judges the plan). Planning and
    post-treatment use the very same dict object (one definition)."""
    from sirtkit.physics import nuclides
    from sirtkit.workflows.posttreatment import DoseCase

    # post-treatment refuses with the very same message (limit and MBq/mCi readings) as planning
    with pytest.raises(pydantic.ValidationError) as refused:
        DoseCase(emission="pet.nrrd", segmentation="seg.nrrd", delivered_activity_gbq=27.0)
    message = nuclides.implausible_activity_message(27.0, "delivered_activity_gbq", "Y-90")
    assert message is not None and message in str(refused.value)
    doc = _doc(RIGHT)
    doc["territories"][0]["activity_gbq"] = 27.0
    with pytest.raises((pydantic.ValidationError, InputError), match=r"territories\['.+'\]\.activity_gbq = 27 GBq"):
        PlanCase.model_validate(doc)
    doc["territories"][0]["activity_gbq"] = 20.0
    assert PlanCase.model_validate(doc).territories[0].activity_gbq == 20.0


# --- issue 10 fuzz findings: numbers a case file cannot mean ---------------------------------------

@pytest.mark.parametrize(
    ("field", "value"),
    [("lung.spect_counts.lung_counts", True), ("liver.volume_ml", 1e-320), ("liver.volume_ml", 1e300), ("liver.volume_ml", 2e12),
     ("liver_function.total_bilirubin_mg_per_dl", float("nan"))],
)
def test_booleans_and_absurd_magnitudes_are_refused(field: str, value: object) -> None:
    """The input fuzzer found `true` read as 1 and a denormal (1e-320) overflowing a later division
    (OverflowError, exit 3); both are refused at the model with the field named (sirtkit._inputmodel)."""
    with pytest.raises(pydantic.ValidationError, match=field.rsplit(".", 1)[-1]):
        _case(RIGHT, **{field: value})
