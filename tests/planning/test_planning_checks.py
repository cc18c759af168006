"""Safety checks as data: pass / warn / fail / unknown (CLINICAL.md §3, §4)."""

from __future__ import annotations

import pytest

from sirtkit.errors import InputError
from sirtkit.planning.checks import (
    CHECK_SPECS,
    CheckStatus,
    Threshold,
    default_thresholds,
    evaluate_checks,
    has_failures,
    plan_quantities,
    vial_thresholds,
)
from sirtkit.planning.devices import DEVICES, dose_constant_for, get_device
from sirtkit.planning.methods import plan_mird_single, plan_partition
from sirtkit.planning.targets import INTENT_DOSES, LiverState, intent_doses


def _status(results: tuple, name: str) -> CheckStatus:
    return next(r.status for r in results if r.name == name)


def test_lung_limits_fail_and_boundary_passes() -> None:
    """30 Gy/session is a hard limit: exactly 30 Gy passes, above fails (Radiopaedia; TheraSphere IFU)."""
    th = default_thresholds("glass", "palliative")
    at_limit = plan_mird_single(perfused_mass_kg=1.5, lung_shunt_fraction=0.3, target_dose_gy=120.0)
    results = evaluate_checks(plan_quantities(at_limit), th)
    assert _status(results, "lung_dose_session") is CheckStatus.PASS
    over = plan_mird_single(perfused_mass_kg=1.5, lung_shunt_fraction=0.3, activity_prepared_gbq=3.0)
    results = evaluate_checks(plan_quantities(over), th)
    assert _status(results, "lung_dose_session") is CheckStatus.FAIL
    assert _status(results, "lung_activity_device") is CheckStatus.FAIL
    assert has_failures(results)


def test_resin_lsf_rule_only_for_resin() -> None:
    """LSF > 0.20 fails for resin (Sirtex); the rule does not exist for glass."""
    q = {"lung_shunt_fraction": 0.24}
    assert _status(evaluate_checks(q, default_thresholds("resin", "palliative")),
                   "lung_shunt_fraction_device") is CheckStatus.FAIL
    assert all(r.name != "lung_shunt_fraction_device"
               for r in evaluate_checks(q, default_thresholds("glass", "palliative")))


def test_missing_quantity_is_unknown_never_pass() -> None:
    results = evaluate_checks({}, {"lung_dose_session": Threshold(30.0, "fail", "x")})
    assert results[0].status is CheckStatus.UNKNOWN
    assert results[0].measured is None


def test_tumour_checks_warn() -> None:
    """Tumour below target → warn; T/N < 1 → warn (partition not favourable, Kao 2013)."""
    plan = plan_partition(tumour_mass_kg=0.2, normal_liver_mass_kg=1.0, lung_shunt_fraction=0.05,
                          tumour_to_normal=0.8, normal_liver_limit_gy=75.0, tumour_target_gy=189.0)
    low_reserve = LiverState(hepatic_reserve_fraction=0.2)
    results = evaluate_checks(plan_quantities(plan), default_thresholds("glass", "palliative", low_reserve))
    assert _status(results, "tumour_dose_target") is CheckStatus.WARN
    assert _status(results, "tumour_to_normal_ratio") is CheckStatus.WARN
    assert _status(results, "perfused_normal_liver_dose") is CheckStatus.PASS


def test_single_compartment_has_no_tumour_checks() -> None:
    plan = plan_mird_single(perfused_mass_kg=1.0, lung_shunt_fraction=0.05, target_dose_gy=120.0)
    names = {r.name for r in evaluate_checks(plan_quantities(plan), default_thresholds("glass", "palliative"))}
    assert "tumour_dose_target" not in names and "tumour_to_normal_ratio" not in names
    assert "perfused_dose_target" in names


def test_whole_liver_dose_from_mass() -> None:
    """Whole-liver dose = K·A_liver/M_whole; resin > 50 Gy warns (Lam JVIR 2014)."""
    plan = plan_mird_single(perfused_mass_kg=1.0, lung_shunt_fraction=0.0, activity_prepared_gbq=2.0)
    q = plan_quantities(plan, whole_liver_mass_kg=1.5)
    assert q["whole_liver_dose_gy"] == pytest.approx(49.67 * 2.0 / 1.5, rel=1e-12)
    assert _status(evaluate_checks(q, default_thresholds("resin", "palliative")), "whole_liver_dose") is (
        CheckStatus.WARN)


def test_every_spec_has_a_threshold_somewhere() -> None:
    names = set()
    for device in DEVICES:
        for intent in ("palliative", "radiation_lobectomy"):
            names |= set(default_thresholds(device, intent)) | set(vial_thresholds(device))
    assert {s.name for s in CHECK_SPECS} <= names


def test_devices_and_intents_tables() -> None:
    """Devices as data: Hoang JVIR 2019 residuals; TheraSphere PI vial sizes; dose constants."""
    assert get_device("resin").expected_residual_fraction == 0.0301
    assert get_device("glass").expected_residual_fraction == 0.0061
    assert dose_constant_for(get_device("glass")) == 49.67
    assert dose_constant_for(get_device("glass"), "therasphere_ifu") == 50.0
    assert dose_constant_for(get_device("holmium")) == 15.87
    with pytest.raises(InputError, match="Y-90 only"):
        dose_constant_for(get_device("holmium"), "therasphere_ifu")
    with pytest.raises(InputError, match="glass, resin, holmium"):
        get_device("sirspheres")
    assert intent_doses("glass", "radiation_segmentectomy").perfused_target_gy == 400.0
    assert intent_doses("resin", "radiation_segmentectomy").perfused_target_gy == 150.0
    assert intent_doses("glass", "palliative").tumour_target_gy == 189.0
    assert {d for d, _ in INTENT_DOSES} == set(DEVICES)
    with pytest.raises(InputError, match="palliative"):
        intent_doses("glass", "curative")
