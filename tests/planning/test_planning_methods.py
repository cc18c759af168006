"""Planning methods against worked examples (CLINICAL.md §12) and physics invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sirtkit.errors import ConstraintViolation, InputError
from sirtkit.planning.methods import (
    Compartment,
    Constraint,
    Territory,
    bsa_activity_gbq,
    bsa_lsf_reduction_factor,
    plan_bsa,
    plan_holmium_standard,
    plan_mird_single,
    plan_multicompartment,
    plan_partition,
    scale_plan,
)


def test_w2_bsa_with_lsf_reduction() -> None:
    """W2: BSA 1.99640 m², f_T 0.20, whole liver → (1.9964 − 0.2) + 0.2 = 1.9964 GBq; LSF 0.12 → ×0.8 =
    1.5971 GBq (CLINICAL.md §2.1)."""
    assert bsa_activity_gbq(1.9964, 0.20) == pytest.approx(1.9964, rel=1e-12)
    plan = plan_bsa(bsa_m2=1.9964, tumour_volume_ml=360.0, liver_volume_ml=1800.0, lung_shunt_fraction=0.12)
    assert plan.activity_prepared_gbq == pytest.approx(1.5971, abs=5e-5)
    assert plan.intermediates["lsf_reduction_factor"] == 0.8
    assert plan.binding_constraint is Constraint.BSA_PRESCRIPTION


def test_bsa_lobar_variant_and_residual() -> None:
    """Lobar variant A = A_BSA · V_perf/V_liver (documented choice); prepared is the BSA activity and
    delivered = prepared × (1 − R)."""
    plan = plan_bsa(bsa_m2=1.9964, tumour_volume_ml=360.0, liver_volume_ml=1800.0, lung_shunt_fraction=0.05,
                    perfused_volume_ml=1200.0, expected_residual_fraction=0.0301)
    assert plan.activity_prepared_gbq == pytest.approx(1.9964 * 1200.0 / 1800.0, rel=1e-12)
    assert plan.activity_delivered_gbq == pytest.approx(plan.activity_prepared_gbq * (1 - 0.0301), rel=1e-12)


@pytest.mark.parametrize(
    ("lsf", "factor"),
    [(0.0, 1.0), (0.0999, 1.0), (0.10, 0.8), (0.1499, 0.8), (0.15, 0.6), (0.1999, 0.6), (0.20, 0.6)],
)
def test_bsa_lsf_bin_boundaries(lsf: float, factor: float) -> None:
    """Boundary convention (documented, [K] in CLINICAL.md §2.1): a value on a bin edge takes the higher
    reduction; exactly 0.20 is allowed (contraindication is "> 20 %")."""
    assert bsa_lsf_reduction_factor(lsf) == factor


def test_bsa_above_20_percent_is_contraindicated() -> None:
    with pytest.raises(ConstraintViolation, match="contraindicated"):
        bsa_lsf_reduction_factor(0.2001)
    with pytest.raises(ConstraintViolation):
        plan_bsa(bsa_m2=1.8, tumour_volume_ml=100.0, liver_volume_ml=1500.0, lung_shunt_fraction=0.25)


def test_bsa_refuses_tumour_larger_than_liver() -> None:
    with pytest.raises(InputError, match="include the tumours"):
        plan_bsa(bsa_m2=1.8, tumour_volume_ml=2000.0, liver_volume_ml=1500.0, lung_shunt_fraction=0.05)


def test_w3_glass_mird_therasphere_constant() -> None:
    """W3: D 120 Gy, 1000 mL × 1.03 = 1.03 kg, LSF 0.05, R 0.01, K 50 → A_prep 2.6284 GBq, A_del 2.6021 GBq,
    lung 50 × A_del × 0.05 / 1 kg = 6.505 Gy; K 49.67 → A_prep 2.6459 GBq."""
    plan = plan_mird_single(perfused_mass_kg=1.03, lung_shunt_fraction=0.05, target_dose_gy=120.0,
                            expected_residual_fraction=0.01, dose_constant_gy_kg_per_gbq=50.0)
    assert plan.activity_prepared_gbq == pytest.approx(2.6284, abs=5e-5)
    assert plan.activity_delivered_gbq == pytest.approx(2.6021, abs=5e-5)
    assert plan.lung_dose_gy == pytest.approx(6.505, abs=5e-4)
    assert plan.binding_constraint is Constraint.PERFUSED_TARGET
    plan_k = plan_mird_single(perfused_mass_kg=1.03, lung_shunt_fraction=0.05, target_dose_gy=120.0,
                              expected_residual_fraction=0.01)
    assert plan_k.activity_prepared_gbq == pytest.approx(2.6459, abs=5e-5)


def test_w23_single_compartment_forward() -> None:
    """W23: 1.8 GBq into 1.5 kg with K 49.67 → 59.60 Gy."""
    plan = plan_mird_single(perfused_mass_kg=1.5, lung_shunt_fraction=0.0, activity_prepared_gbq=1.8)
    assert plan.territories[0].perfused_dose_gy == pytest.approx(59.60, abs=5e-3)
    assert plan.binding_constraint is Constraint.PRESCRIBED_ACTIVITY


def test_mird_lung_limit_binds() -> None:
    """With LSF 0.3 a 120 Gy target needs more than the 30 Gy lung limit allows: the lung limit binds and
    the lung dose is exactly 30 Gy."""
    plan = plan_mird_single(perfused_mass_kg=1.5, lung_shunt_fraction=0.3, target_dose_gy=120.0)
    assert plan.binding_constraint is Constraint.LUNG_LIMIT
    assert plan.lung_dose_gy == pytest.approx(30.0, rel=1e-12)


def test_glass_lung_activity_limit_binds_with_heavy_lungs() -> None:
    """1.5 kg lungs: 30 Gy allows 0.906 GBq to the lungs, more than the IFU 0.61 GBq → device rule binds."""
    plan = plan_mird_single(perfused_mass_kg=1.5, lung_shunt_fraction=0.3, target_dose_gy=120.0,
                            lung_mass_kg=1.5, lung_activity_limit_gbq=0.61)
    assert plan.binding_constraint is Constraint.LUNG_ACTIVITY_LIMIT
    assert plan.lung_activity_gbq == pytest.approx(0.61, rel=1e-12)


def test_cumulative_lung_limit_binds() -> None:
    """Prior 40 Gy leaves 10 Gy of the 50 Gy cumulative limit."""
    plan = plan_mird_single(perfused_mass_kg=1.5, lung_shunt_fraction=0.1, target_dose_gy=120.0,
                            prior_lung_doses_gy=[40.0])
    assert plan.binding_constraint is Constraint.CUMULATIVE_LUNG_LIMIT
    assert plan.cumulative_lung_dose_gy == pytest.approx(50.0, rel=1e-12)


def test_w10_holmium_standard() -> None:
    """W10: Ho-166, liver 1.5 kg, 60 Gy → 60 × 1.5 / 15.87 = 5.671 GBq (≈ 3780 MBq/kg × 1.5 kg = 5.67)."""
    plan = plan_holmium_standard(liver_mass_kg=1.5, lung_shunt_fraction=0.0)
    assert plan.activity_prepared_gbq == pytest.approx(5.671, abs=5e-4)
    assert plan.activity_prepared_gbq == pytest.approx(3.780 * 1.5, rel=1e-3)
    assert plan.compartments[0].dose_gy == pytest.approx(60.0, rel=1e-12)
    assert plan.nuclide == "Ho-166"


def test_partition_counts_and_tn() -> None:
    """Kao 2013: T/N = (C_T/M_T)/(C_N/M_N); D_T = T/N · D_N; forward from NL limit
    A = D_N,lim (T/N·M_T + M_N)/(K(1 − LSF))."""
    plan = plan_partition(tumour_mass_kg=0.2, normal_liver_mass_kg=1.0, lung_shunt_fraction=0.05,
                          tumour_counts=400.0, normal_liver_counts=500.0, normal_liver_limit_gy=40.0)
    tn = (400.0 / 0.2) / (500.0 / 1.0)
    assert plan.tumour_to_normal_ratio == pytest.approx(tn, rel=1e-12)
    expected = 40.0 * (tn * 0.2 + 1.0) / (49.67 * 0.95)
    assert plan.activity_delivered_gbq == pytest.approx(expected, rel=1e-12)
    tumour, normal = plan.compartments
    assert tumour.dose_gy == pytest.approx(tn * normal.dose_gy, rel=1e-12)
    assert normal.dose_gy == pytest.approx(40.0, rel=1e-12)


def test_partition_input_errors() -> None:
    with pytest.raises(InputError, match="needs T/N"):
        plan_partition(tumour_mass_kg=0.2, normal_liver_mass_kg=1.0, lung_shunt_fraction=0.05,
                       normal_liver_limit_gy=40.0)
    with pytest.raises(InputError, match="not both"):
        plan_partition(tumour_mass_kg=0.2, normal_liver_mass_kg=1.0, lung_shunt_fraction=0.05, tumour_counts=1.0,
                       normal_liver_counts=1.0, tumour_to_normal=2.0, normal_liver_limit_gy=40.0)
    with pytest.raises(InputError, match="nothing sets the activity"):
        plan_partition(tumour_mass_kg=0.2, normal_liver_mass_kg=1.0, lung_shunt_fraction=0.05, tumour_to_normal=2.0)


def test_multicompartment_split_by_counts_and_coldest_tumour() -> None:
    """MIRDy90: A_i = A(1 − LSF) C_i/ΣC; the tumour target is met by the coldest tumour."""
    t = Territory("right", (Compartment("T1", "tumour", 0.1, counts=300.0),
                            Compartment("T2", "tumour", 0.05, counts=60.0),
                            Compartment("NL", "normal_liver", 0.8, counts=640.0)), tumour_target_gy=100.0)
    plan = plan_multicompartment([t], lung_shunt_fraction=0.04)
    doses = {c.name: c.dose_gy for c in plan.compartments}
    assert min(doses["T1"], doses["T2"]) == pytest.approx(100.0, rel=1e-12)
    total = sum(c.activity_gbq for c in plan.compartments)
    assert total == pytest.approx(plan.activity_delivered_gbq * 0.96, rel=1e-12)
    assert plan.compartments[0].activity_gbq == pytest.approx(total * 0.3, rel=1e-12)


def test_multicompartment_shared_lung_limit_scales_all_territories() -> None:
    """Two territories each within 30 Gy but together above it are scaled by the same factor."""
    right = Territory("right", (Compartment("R", "perfused_liver", 1.0),), perfused_target_gy=120.0)
    left = Territory("left", (Compartment("L", "perfused_liver", 0.5),), perfused_target_gy=120.0)
    alone = plan_multicompartment([right, left], lung_shunt_fraction=0.15, lung_dose_limit_gy=None,
                                  cumulative_lung_limit_gy=None)
    assert alone.lung_dose_gy > 30.0
    plan = plan_multicompartment([right, left], lung_shunt_fraction=0.15)
    assert plan.lung_dose_gy == pytest.approx(30.0, rel=1e-12)
    ratio = [p.activity_delivered_gbq / a.activity_delivered_gbq
             for p, a in zip(plan.territories, alone.territories, strict=True)]
    assert ratio[0] == pytest.approx(ratio[1], rel=1e-12)
    assert all(t.binding_constraint is Constraint.LUNG_LIMIT for t in plan.territories)


def test_multicompartment_rejects_mixed_counts() -> None:
    t = Territory("x", (Compartment("T", "tumour", 0.1, counts=3.0), Compartment("N", "normal_liver", 0.5)),
                  normal_liver_limit_gy=40.0)
    with pytest.raises(InputError, match="some compartments only"):
        plan_multicompartment([t], lung_shunt_fraction=0.05)


_masses = st.floats(0.01, 1.0)
_tn = st.floats(0.2, 20.0)
_lsf = st.floats(0.0, 0.3)


@settings(max_examples=60, deadline=None)
@given(m_t=_masses, m_n=st.floats(0.3, 2.0), tn=_tn, lsf=_lsf, limit=st.floats(20.0, 120.0),
       r=st.floats(0.0, 0.2))
def test_partition_round_trip(m_t: float, m_n: float, tn: float, lsf: float, limit: float, r: float) -> None:
    """Invariant: inverse (activity from limits) then forward (doses from that activity) gives the same doses;
    D_T = T/N · D_N; the binding constraint is the smallest allowed activity."""
    inverse = plan_partition(tumour_mass_kg=m_t, normal_liver_mass_kg=m_n, lung_shunt_fraction=lsf,
                             tumour_to_normal=tn, normal_liver_limit_gy=limit, expected_residual_fraction=r)
    forward = plan_partition(tumour_mass_kg=m_t, normal_liver_mass_kg=m_n, lung_shunt_fraction=lsf,
                             tumour_to_normal=tn, activity_prepared_gbq=inverse.activity_prepared_gbq,
                             expected_residual_fraction=r)
    for a, b in zip(inverse.compartments, forward.compartments, strict=True):
        assert a.dose_gy == pytest.approx(b.dose_gy, rel=1e-9)
    tumour, normal = forward.compartments
    assert tumour.dose_gy == pytest.approx(tn * normal.dose_gy, rel=1e-9)
    allowed = inverse.constraint_activities_gbq
    assert inverse.activity_delivered_gbq == pytest.approx(min(allowed.values()), rel=1e-12)
    assert allowed[inverse.binding_constraint.value] == pytest.approx(min(allowed.values()), rel=1e-12)
    assert normal.dose_gy <= limit * (1 + 1e-9)
    assert inverse.lung_dose_gy <= 30.0 * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(m_t=_masses, tn=_tn, lsf=_lsf, activity=st.floats(0.1, 10.0), factor=st.floats(0.1, 5.0))
def test_dose_linear_in_activity(m_t: float, tn: float, lsf: float, activity: float, factor: float) -> None:
    """Invariant: every dose is proportional to the activity (and scale_plan agrees with a new plan)."""
    kw = {"tumour_mass_kg": m_t, "normal_liver_mass_kg": 1.0, "lung_shunt_fraction": lsf, "tumour_to_normal": tn}
    a = plan_partition(activity_prepared_gbq=activity, **kw)
    b = plan_partition(activity_prepared_gbq=activity * factor, **kw)
    for ca, cb in zip(a.compartments, b.compartments, strict=True):
        assert cb.dose_gy == pytest.approx(factor * ca.dose_gy, rel=1e-9)
    assert b.lung_dose_gy == pytest.approx(factor * a.lung_dose_gy, rel=1e-9, abs=1e-12)
    scaled = scale_plan(a, a.activity_delivered_gbq * factor)
    for cs, cb in zip(scaled.compartments, b.compartments, strict=True):
        assert cs.dose_gy == pytest.approx(cb.dose_gy, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(m_t=_masses, tn=_tn, lsf=st.floats(0.01, 0.5), target=st.floats(50.0, 400.0), limit=st.floats(20.0, 100.0))
def test_target_and_limits_binding_is_minimum(m_t: float, tn: float, lsf: float, target: float,
                                              limit: float) -> None:
    """Invariant: with one target and limits, A = min(all) and the binding constraint is the argmin."""
    plan = plan_partition(tumour_mass_kg=m_t, normal_liver_mass_kg=1.0, lung_shunt_fraction=lsf, tumour_to_normal=tn,
                          tumour_target_gy=target, normal_liver_limit_gy=limit)
    allowed = plan.constraint_activities_gbq
    key = min(allowed, key=lambda k: allowed[k])
    assert plan.activity_delivered_gbq == pytest.approx(allowed[key], rel=1e-12)
    assert plan.binding_constraint.value == key or allowed[plan.binding_constraint.value] == pytest.approx(
        allowed[key], rel=1e-12)
