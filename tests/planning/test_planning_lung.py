"""Lung shunt fraction, lung mass and lung dose (CLINICAL.md §3, §6; worked examples W6, W7, W22)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sirtkit.errors import InputError, UnitsError
from sirtkit.planning.lung import (
    GLASS_LUNG_ACTIVITY_LIMIT_GBQ,
    cumulative_lung_dose_gy,
    geometric_mean_counts,
    lung_dose_gy,
    lung_mass_from_ct_kg,
    lung_mass_from_hu_kg,
    lung_shunt_fraction_from_counts,
    lung_shunt_fraction_planar,
    max_activity_for_lung_dose_gbq,
)


def test_w6_planar_lsf_geometric_mean() -> None:
    """W6 (CLINICAL.md §12): lung ant/post 50 000/40 000, liver 400 000/600 000 →
    GM 44 721.36 / 489 897.95 → LSF 0.083651."""
    assert geometric_mean_counts(50_000, 40_000) == pytest.approx(44_721.36, abs=0.01)
    assert geometric_mean_counts(400_000, 600_000) == pytest.approx(489_897.95, abs=0.01)
    assert lung_shunt_fraction_planar(50_000, 40_000, 400_000, 600_000) == pytest.approx(0.083651, abs=5e-7)


def test_w7_glass_lung_activity_limit_is_30_5_gy() -> None:
    """W7: TheraSphere contraindication 0.61 GBq to the lungs × 50 Gy·kg/GBq / 1 kg = 30.5 Gy."""
    lsf = 0.1
    dose = lung_dose_gy(GLASS_LUNG_ACTIVITY_LIMIT_GBQ / lsf, lsf, 1.0, 50.0)
    assert dose == pytest.approx(30.5, rel=1e-12)


def test_w22_lung_mass_from_ct() -> None:
    """W22: 4000 mL of lung at mean −750 HU → ρ 0.25 g/mL → 1.00 kg (Kao 2014)."""
    assert lung_mass_from_ct_kg(4000.0, -750.0) == pytest.approx(1.0, rel=1e-12)


def test_lung_density_clipped() -> None:
    """Kao 2014: ρ = (HU+1000)/1000 clipped to [0, 1.1]; air below −1000 HU gives 0, bone 1.1."""
    assert lung_mass_from_hu_kg([-1050.0, 500.0], 1000.0) == pytest.approx(1.1, rel=1e-12)
    assert lung_mass_from_ct_kg(1000.0, 400.0) == pytest.approx(1.1, rel=1e-12)


def test_spect_lsf_and_bad_counts() -> None:
    """LSF = C_L/(C_L + C_liver) (MPPG 14.a); negative or all-zero counts are refused."""
    assert lung_shunt_fraction_from_counts(60_000, 1_940_000) == pytest.approx(0.03, rel=1e-12)
    with pytest.raises(InputError, match="lung_counts"):
        lung_shunt_fraction_from_counts(-1.0, 10.0)
    with pytest.raises(InputError, match="is 0"):
        lung_shunt_fraction_from_counts(0.0, 0.0)


def test_lung_mass_refuses_non_hu() -> None:
    with pytest.raises(UnitsError, match="Hounsfield"):
        lung_mass_from_ct_kg(4000.0, -5000.0)


def test_lsf_percent_is_refused_with_hint() -> None:
    with pytest.raises(UnitsError, match="percentage"):
        lung_dose_gy(2.0, 12.0)


def test_max_activity_for_lung_dose_edges() -> None:
    """No shunt → no lung bound (inf); an exhausted cumulative budget → 0."""
    assert math.isinf(max_activity_for_lung_dose_gbq(30.0, 0.0))
    assert max_activity_for_lung_dose_gbq(-1.0, 0.1) == 0.0
    assert cumulative_lung_dose_gy(10.0, [15.0, 20.0]) == pytest.approx(45.0)


@settings(max_examples=50, deadline=None)
@given(
    limit=st.floats(1.0, 100.0),
    lsf=st.floats(0.001, 0.9),
    mass=st.floats(0.3, 2.5),
    k=st.sampled_from([49.67, 50.0, 15.87]),
)
def test_lung_limit_round_trip(limit: float, lsf: float, mass: float, k: float) -> None:
    """Invariant: the activity allowed by a lung limit gives exactly that lung dose."""
    activity = max_activity_for_lung_dose_gbq(limit, lsf, mass, k)
    assert lung_dose_gy(activity, lsf, mass, k) == pytest.approx(limit, rel=1e-10)
