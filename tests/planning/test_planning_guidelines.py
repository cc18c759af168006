"""Guideline thresholds mapped to the quantity they name; objectives and the activity window.

References: Weber M et al., EANM procedure guideline, EJNMMI 2022;49:1682 (PMC8940802) Table 2 (glass) and
Table 3 (resin, modified from Levillain et al. EJNMMI 2021). Issue 8 items 1–2.
"""

from __future__ import annotations

import pytest

from sirtkit.errors import InputError
from sirtkit.planning.checks import CheckStatus, default_thresholds, evaluate_checks, plan_quantities
from sirtkit.planning.methods import Compartment, Constraint, Territory, plan_multicompartment, plan_partition
from sirtkit.planning.targets import GUIDELINE_THRESHOLDS, LiverState, select_thresholds

K = 49.67


def _row(device: str, check: str, intent: str = "palliative", liver: LiverState | None = None) -> tuple[str, float]:
    row = select_thresholds(device, intent, liver or LiverState())[check]
    return row.quantity, row.value_gy


def test_eanm_table_2_glass_quantities() -> None:
    """EANM 2022 Tab 2: whole normal liver < 75 Gy (50 if bilirubin > 1.1 mg/dL); normal perfused liver
    < 120 Gy only with hepatic reserve < 30 %; ≥ 88 Gy normal perfused liver for lobectomy; perfused volume
    80–150 Gy (unilobar/bilobar), 140–150 (lobectomy), > 400 (segmentectomy); mCRC tumour ≥ 189 Gy."""
    assert _row("glass", "whole_normal_liver_dose") == ("whole_normal_liver_dose", 75.0)
    assert _row("glass", "whole_normal_liver_dose", liver=LiverState(total_bilirubin_mg_per_dl=1.2)) == (
        "whole_normal_liver_dose", 50.0)
    assert _row("glass", "whole_normal_liver_dose", liver=LiverState(total_bilirubin_mg_per_dl=1.1))[1] == 75.0
    assert "perfused_normal_liver_dose" not in select_thresholds("glass", "palliative", LiverState())
    assert _row("glass", "perfused_normal_liver_dose", liver=LiverState(hepatic_reserve_fraction=0.25)) == (
        "perfused_normal_liver_dose", 120.0)
    assert "perfused_normal_liver_dose" not in select_thresholds(
        "glass", "palliative", LiverState(hepatic_reserve_fraction=0.30))
    assert _row("glass", "normal_liver_dose_target", "radiation_lobectomy") == ("perfused_normal_liver_dose", 88.0)
    assert _row("glass", "whole_normal_liver_dose", "radiation_lobectomy")[1] == 75.0
    assert _row("glass", "perfused_dose_range_low")[1] == 80.0
    assert _row("glass", "perfused_dose_range_high")[1] == 150.0
    assert _row("glass", "perfused_dose_range_low", "radiation_lobectomy")[1] == 140.0
    assert _row("glass", "perfused_dose_target", "radiation_segmentectomy")[1] == 400.0
    assert "whole_normal_liver_dose" not in select_thresholds("glass", "radiation_segmentectomy", LiverState())
    assert _row("glass", "tumour_dose_target") == ("tumour_dose", 189.0)


def test_eanm_table_3_resin_quantities() -> None:
    """EANM 2022 Tab 3 (Levillain 2021): normal perfused liver < 40 Gy, < 30 Gy pretreated/compromised;
    > 70 Gy for lobectomy; perfused volume > 150 Gy segmentectomy; mCRC tumour > 100 Gy; no whole-liver row."""
    assert _row("resin", "perfused_normal_liver_dose") == ("perfused_normal_liver_dose", 40.0)
    for liver in (LiverState(prior_chemotherapy=True), LiverState(cirrhosis=True), LiverState(prior_prrt=True),
                  LiverState(total_bilirubin_mg_per_dl=2.0)):
        assert _row("resin", "perfused_normal_liver_dose", liver=liver)[1] == 30.0
    assert _row("resin", "normal_liver_dose_target", "radiation_lobectomy") == ("perfused_normal_liver_dose", 70.0)
    assert _row("resin", "perfused_dose_target", "radiation_segmentectomy")[1] == 150.0
    assert _row("resin", "tumour_dose_target")[1] == 100.0
    assert "whole_normal_liver_dose" not in select_thresholds("resin", "palliative", LiverState())


def test_every_row_is_cited_and_named() -> None:
    for row in GUIDELINE_THRESHOLDS:
        assert row.source and row.check and row.value_gy > 0


def test_compromise_reasons_listed() -> None:
    state = LiverState(total_bilirubin_mg_per_dl=1.5, prior_prrt=True)
    assert state.compromised and len(state.compromise_reasons) == 2
    assert not LiverState(total_bilirubin_mg_per_dl=0.9).compromised


def test_whole_normal_liver_limit_binds_over_non_perfused_mass() -> None:
    """Hand calculation: tumour 0.2 kg, perfused normal 1.0 kg, T/N 4, LSF 0, non-perfused normal 0.5 kg.
    Normal-liver share of the activity M_N/(T/N·M_T + M_N) = 1/1.8; whole normal liver 75 Gy ⇒
    A = 75·1.5/(49.67/1.8) = 4.0769 GBq; perfused normal liver 75·1.5/1.0 = 112.5 Gy; tumour 450 Gy.
    (Before issue 8, 75 Gy was applied to the perfused normal liver: 2.718 GBq.)"""
    plan = plan_partition(tumour_mass_kg=0.2, normal_liver_mass_kg=1.0, lung_shunt_fraction=0.0, tumour_to_normal=4.0,
                          whole_normal_liver_limit_gy=75.0, nonperfused_normal_liver_mass_kg=0.5,
                          objective="maximise")
    assert plan.activity_delivered_gbq == pytest.approx(75.0 * 1.5 * 1.8 / K, rel=1e-12)
    assert plan.whole_normal_liver_dose_gy == pytest.approx(75.0, rel=1e-12)
    assert plan.perfused_normal_liver_dose_gy == pytest.approx(112.5, rel=1e-12)
    assert plan.tumour_dose_min_gy == pytest.approx(450.0, rel=1e-12)
    assert plan.binding_constraint is Constraint.WHOLE_NORMAL_LIVER_LIMIT
    assert plan.nonperfused_normal_liver_dose_gy == 0.0


def test_whole_normal_liver_shared_by_territories() -> None:
    """Two territories share the whole-normal-liver limit: together they reach it exactly (K·ΣA_N/ΣM = 50)."""
    right = Territory("right", (Compartment("T1", "tumour", 0.1, counts=300.0),
                                Compartment("NL", "normal_liver", 0.7, counts=700.0)))
    left = Territory("left", (Compartment("T2", "tumour", 0.05, counts=100.0),
                              Compartment("NL2", "normal_liver", 0.4, counts=400.0)))
    plan = plan_multicompartment([right, left], lung_shunt_fraction=0.02, objective="maximise",
                                 whole_normal_liver_limit_gy=50.0, nonperfused_normal_liver_mass_kg=0.3)
    assert plan.whole_normal_liver_dose_gy == pytest.approx(50.0, rel=1e-9)


def test_objectives_and_window() -> None:
    """reach_targets stops at the tumour target (position 0); stated_dose aims at 250 Gy; maximise stops at
    the first limit (position 1). Tumour 0.2 kg, normal 1.0 kg, T/N 4, LSF 0.05, perfused NL limit 40 Gy."""
    common = {"tumour_mass_kg": 0.2, "normal_liver_mass_kg": 1.0, "lung_shunt_fraction": 0.05,
              "tumour_to_normal": 4.0, "tumour_target_gy": 100.0, "normal_liver_limit_gy": 40.0}
    reach = plan_partition(**common)
    assert reach.tumour_dose_min_gy == pytest.approx(100.0, rel=1e-12)
    assert reach.territories[0].window_position == pytest.approx(0.0, abs=1e-12)
    stated = plan_partition(**common, objective="stated_dose", stated_dose_gy=130.0)
    assert stated.tumour_dose_min_gy == pytest.approx(130.0, rel=1e-12)
    assert stated.binding_constraint is Constraint.STATED_DOSE
    assert stated.territories[0].window_position == pytest.approx(0.5, rel=1e-9)  # 100 → 160 Gy window
    top = plan_partition(**common, objective="maximise")
    assert top.tumour_dose_min_gy == pytest.approx(160.0, rel=1e-12)
    assert top.territories[0].window_position == pytest.approx(1.0, rel=1e-12)
    capped = plan_partition(**common, objective="stated_dose", stated_dose_gy=300.0)
    assert capped.binding_constraint is Constraint.NORMAL_LIVER_LIMIT
    with pytest.raises(InputError, match="stated_dose_gy"):
        plan_partition(**common, objective="stated_dose")


def test_maximise_needs_a_limit() -> None:
    with pytest.raises(InputError, match="nothing limits"):
        plan_partition(tumour_mass_kg=0.2, normal_liver_mass_kg=1.0, lung_shunt_fraction=0.0, tumour_to_normal=4.0,
                       objective="maximise", lung_dose_limit_gy=None, cumulative_lung_limit_gy=None)


def test_perfused_range_low_warns() -> None:
    """Issue 8 item 2: a glass plan whose perfused dose is below the EANM 80 Gy lower bound warns."""
    plan = plan_partition(tumour_mass_kg=0.247, normal_liver_mass_kg=0.886, lung_shunt_fraction=0.03,
                          tumour_counts=1.1e6, normal_liver_counts=8.4e5, tumour_target_gy=189.0)
    results = evaluate_checks(plan_quantities(plan), default_thresholds("glass", "palliative"))
    low = next(r for r in results if r.name == "perfused_dose_range_low")
    assert low.status is CheckStatus.WARN and low.measured is not None and low.measured < 80.0
