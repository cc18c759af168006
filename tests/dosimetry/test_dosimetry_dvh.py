"""DVH and dose metrics (CLINICAL.md §11.3)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sirtkit.dosimetry import compute_dvh, dose_at_volume, dose_metrics, volume_at_dose
from sirtkit.errors import GeometryError, InputError, UnitsError
from sirtkit.imaging import Volume


def _dose(values: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Volume:
    return Volume.from_spacing(np.asarray(values, np.float32).reshape(1, 1, -1), spacing, quantity="dose", unit="Gy")


def _all(v: Volume) -> Volume:
    return v.with_array(np.ones(v.shape, bool), quantity="mask", unit="1")


def test_w21_metrics() -> None:
    """CLINICAL.md W21: 10 equal voxels 10…100 Gy → D70 40, D50 60, V50 60 %, mean 55 Gy."""
    dose = _dose(np.arange(10, 101, 10))
    m = dose_metrics(dose, _all(dose), name="tumour", v_thresholds_gy=(50, 100, 205))
    assert m.d70_gy == 40.0 and m.d50_gy == 60.0
    assert m.v_percent[50.0] == 60.0 and m.v_percent[100.0] == 10.0 and m.v_percent[205.0] == 0.0
    assert m.mean_gy == pytest.approx(55.0)
    assert (m.min_gy, m.max_gy, m.d2_gy, m.d98_gy, m.d90_gy) == (10.0, 100.0, 100.0, 10.0, 20.0)
    assert m.volume_ml == pytest.approx(0.010) and m.mass_g == pytest.approx(0.0103)
    assert m.n_voxels == 10


def test_mass_weighted_mean() -> None:
    """Mean = Σ m_i D_i / Σ m_i: two voxels 10 and 40 Gy with densities 1 and 3 → 32.5 Gy."""
    dose = _dose(np.array([10.0, 40.0]))
    rho = dose.with_array(np.array([1.0, 3.0]).reshape(1, 1, 2), quantity="density", unit="g/mL")
    m = dose_metrics(dose, _all(dose), density_g_per_ml=rho)
    assert m.mean_gy == pytest.approx(32.5)
    assert m.mass_g == pytest.approx(4.0 * 0.001)
    dvh = compute_dvh(dose, _all(dose), density_g_per_ml=rho)
    assert dvh.mass_weighted
    assert dvh.volume_fraction[np.searchsorted(dvh.dose_bins_gy, 20.0)] == pytest.approx(0.75)


def test_dvh_shape_and_values() -> None:
    dose = _dose(np.arange(10, 101, 10))
    dvh = compute_dvh(dose, _all(dose), name="t")
    assert dvh.dose_bins_gy[0] == 0.0 and dvh.volume_fraction[0] == 1.0
    assert np.all(np.diff(dvh.volume_fraction) <= 0)
    assert np.all(np.diff(dvh.dose_bins_gy) == pytest.approx(0.1))
    assert dvh.dose_bins_gy[-1] >= 100.0 and dvh.volume_fraction[-1] == 0.0
    i50 = int(np.argmin(np.abs(dvh.dose_bins_gy - 50.0)))
    assert dvh.volume_percent()[i50] == pytest.approx(60.0)


def test_dvh_high_dose_dynamic_range() -> None:
    """A 1500 Gy tumour voxel next to 0.5 Gy voxels: bins of 0.1 Gy cover the whole range."""
    dose = _dose(np.array([0.5, 0.5, 1500.0]))
    dvh = compute_dvh(dose, _all(dose))
    assert dvh.dose_bins_gy[-1] >= 1500.0
    assert dvh.volume_fraction[np.searchsorted(dvh.dose_bins_gy, 1000.0)] == pytest.approx(1 / 3)


def test_dvh_refusals() -> None:
    dose = _dose(np.arange(5.0))
    with pytest.raises(InputError, match="'liver' is empty"):
        compute_dvh(dose, dose.with_array(np.zeros(dose.shape, bool)), name="liver")
    with pytest.raises(InputError, match="boolean"):
        compute_dvh(dose, dose.with_array(np.ones(dose.shape, np.uint8)), name="liver")
    other = Volume.from_spacing(np.ones((1, 1, 5), bool), (2.0, 1.0, 1.0), quantity="mask")
    with pytest.raises(GeometryError, match="resample"):
        compute_dvh(dose, other, name="liver")
    with pytest.raises(UnitsError):
        compute_dvh(dose, _all(dose), bin_width_gy=0.5)
    with pytest.raises(UnitsError, match="Gy"):
        compute_dvh(dose.with_array(dose.array, unit="mGy"), _all(dose))


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(min_value=0.0, max_value=2000.0, allow_nan=False), min_size=1, max_size=60),
    x=st.floats(min_value=0.01, max_value=1.0),
)
def test_dx_vx_inverse(values: list[float], x: float) -> None:
    """D_x and V_x are inverse: at least x of the volume gets ≥ D_x, and less than x gets more than D_x."""
    arr = np.asarray(values)
    d_x = dose_at_volume(arr, x)
    assert volume_at_dose(arr, d_x) >= x * 100.0 - 1e-6
    assert np.count_nonzero(arr > d_x) / arr.size < x + 1e-9


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.floats(min_value=0.0, max_value=500.0, allow_nan=False), min_size=1, max_size=40))
def test_dvh_monotone_from_100_percent(values: list[float]) -> None:
    dose = _dose(np.asarray(values))
    dvh = compute_dvh(dose, _all(dose))
    assert dvh.volume_fraction[0] == 1.0
    assert np.all(np.diff(dvh.volume_fraction) <= 1e-12)
    assert np.all((dvh.volume_fraction >= 0) & (dvh.volume_fraction <= 1))
