"""The Ho-166 60 Gy whole-liver limit binds the inverse planner (a plan never fails its own limit)."""

from __future__ import annotations

import pytest

from sirtkit.planning.checks import default_thresholds, evaluate_checks, has_failures, plan_quantities
from sirtkit.planning.methods import (
    Compartment,
    Constraint,
    Territory,
    plan_holmium_standard,
    plan_multicompartment,
    plan_partition,
)
from sirtkit.planning.targets import LiverState, select_thresholds

K_HO = 15.87
# Tumour 2.5 % of a 1.5 kg liver at T/N 5: a 60 Gy normal liver gives 60·(1 + 4·0.025) = 66 Gy whole liver.
TUMOUR_KG, NORMAL_KG = 0.0375, 1.4625


def _territory(normal_limit_gy: float | None = 60.0) -> Territory:
    return Territory("whole liver", (Compartment("T1", "tumour", TUMOUR_KG, concentration_ratio=5.0),
                                     Compartment("normal liver", "normal_liver", NORMAL_KG, concentration_ratio=1.0)),
                     tumour_target_gy=400.0, normal_liver_limit_gy=normal_limit_gy)


def test_holmium_limit_row_names_the_whole_liver() -> None:
    """HEPAR I (Smits, Lancet Oncol 2012) states the MTD as 60 Gy *average whole-liver* dose: the table maps it
    to ``whole_liver_dose`` (a hard limit) and the check uses that row (exact)."""
    rows = select_thresholds("holmium", "palliative", LiverState())
    assert rows["whole_liver_dose"].quantity == "whole_liver_dose" and rows["whole_liver_dose"].kind == "limit"
    assert rows["whole_liver_dose"].value_gy == 60.0 and "HEPAR I" in rows["whole_liver_dose"].source
    th = default_thresholds("holmium", "palliative")["whole_liver_dose"]
    assert th.value == 60.0 and th.severity == "fail"


def test_the_66_gy_case_without_the_limit() -> None:
    """Reproduces the finding: normal liver at its 60 Gy limit with T/N-5 tumours (2.5 % of the liver) gives a
    whole-liver mean of 60·(1 + 4·0.025) = 66 Gy (rel 1e-9) — a plan that fails the 60 Gy Ho-166 check."""
    plan = plan_multicompartment([_territory()], lung_shunt_fraction=0.0, dose_constant_gy_kg_per_gbq=K_HO,
                                 whole_liver_mass_kg=TUMOUR_KG + NORMAL_KG)
    assert plan.whole_liver_dose_gy == pytest.approx(66.0, rel=1e-9)
    results = evaluate_checks(plan_quantities(plan), default_thresholds("holmium", "palliative"))
    assert has_failures(results)


def test_multicompartment_binds_on_the_whole_liver_limit() -> None:
    """With the whole-liver limit the planner stops at 60 Gy whole liver (rel 1e-9): normal liver 60/1.1 =
    54.545 Gy, tumour 5× that; binding constraint ``whole_liver_limit``; every hard check passes. The window's
    first limit is the whole-liver limit, 60·M/K delivered (LSF 0)."""
    mass = TUMOUR_KG + NORMAL_KG
    plan = plan_multicompartment([_territory()], lung_shunt_fraction=0.0, dose_constant_gy_kg_per_gbq=K_HO,
                                 whole_liver_limit_gy=60.0, whole_liver_mass_kg=mass)
    assert plan.binding_constraint is Constraint.WHOLE_LIVER_LIMIT
    assert plan.whole_liver_dose_gy == pytest.approx(60.0, rel=1e-9)
    assert plan.normal_liver_dose_max_gy == pytest.approx(60.0 / 1.1, rel=1e-9)
    assert plan.tumour_dose_min_gy == pytest.approx(5 * 60.0 / 1.1, rel=1e-9)
    assert plan.territories[0].first_limit == Constraint.WHOLE_LIVER_LIMIT
    assert plan.territories[0].first_limit_activity_gbq == pytest.approx(60.0 * mass / K_HO, rel=1e-9)
    results = evaluate_checks(plan_quantities(plan), default_thresholds("holmium", "palliative"))
    assert not has_failures(results)


def test_whole_liver_limit_with_lung_shunt_and_nonperfused_liver() -> None:
    """With LSF 0.1 and 0.5 kg non-perfused liver (whole liver 2.0 kg) the limit allows
    A_del = 60·2.0/(15.87·0.9) GBq (rel 1e-9); a lobar territory can then exceed 60 Gy in its own normal liver
    only through the separate perfused-normal-liver limit, which stays (it binds here at 60 Gy)."""
    plan = plan_partition(tumour_mass_kg=TUMOUR_KG, normal_liver_mass_kg=NORMAL_KG, lung_shunt_fraction=0.1,
                          tumour_to_normal=5.0, tumour_target_gy=400.0, normal_liver_limit_gy=60.0,
                          dose_constant_gy_kg_per_gbq=K_HO, whole_liver_limit_gy=60.0,
                          nonperfused_normal_liver_mass_kg=0.5)
    allowed = plan.constraint_activities_gbq[Constraint.WHOLE_LIVER_LIMIT]
    assert allowed == pytest.approx(60.0 * 2.0 / (K_HO * 0.9), rel=1e-9)
    assert plan.binding_constraint is Constraint.NORMAL_LIVER_LIMIT
    assert plan.whole_liver_dose_gy is not None and plan.whole_liver_dose_gy < 60.0


def test_holmium_standard_target_above_the_limit_is_capped() -> None:
    """The Ho-166 standard with a 90 Gy target and LSF 0 would give 90 Gy whole liver; the 60 Gy limit caps it at
    60·1.5/15.87 = 5.671 GBq (rel 1e-9, W10) with the whole-liver limit as binding constraint."""
    plan = plan_holmium_standard(liver_mass_kg=1.5, lung_shunt_fraction=0.0, target_dose_gy=90.0,
                                 whole_liver_limit_gy=60.0)
    assert plan.activity_delivered_gbq == pytest.approx(60.0 * 1.5 / K_HO, rel=1e-9)
    assert plan.binding_constraint is Constraint.WHOLE_LIVER_LIMIT
    assert plan.whole_liver_dose_gy == pytest.approx(60.0, rel=1e-9)
