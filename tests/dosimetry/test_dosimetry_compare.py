"""Predicted vs delivered dose: per-VOI differences and the 3-D gamma index."""

from __future__ import annotations

import numpy as np
import pytest

from sirtkit.dosimetry import compare_doses, gamma_index
from sirtkit.errors import GeometryError, InputError
from sirtkit.imaging import Volume


def _gaussian_dose(
    shift_mm: tuple[float, float, float] = (0.0, 0.0, 0.0), spacing: float = 1.0, sigma_mm: float = 4.0
) -> Volume:
    """A smooth 3-D Gaussian dose (peak 200 Gy, σ 4 mm) on a 24³ grid, centre shifted by ``shift_mm``."""
    n = 24
    ax = np.arange(n) * spacing
    k, j, i = np.meshgrid(ax, ax, ax, indexing="ij")
    c = (n - 1) * spacing / 2
    r2 = (k - c - shift_mm[0]) ** 2 + (j - c - shift_mm[1]) ** 2 + (i - c - shift_mm[2]) ** 2
    return Volume.from_spacing(200.0 * np.exp(-r2 / (2 * sigma_mm**2)), (spacing,) * 3, quantity="dose", unit="Gy")


def test_gamma_identical_is_zero() -> None:
    ref = _gaussian_dose()
    res = gamma_index(ref, ref)
    assert res.pass_rate == 1.0 and res.pass_rate_percent == 100.0
    g = res.gamma.array
    assert np.nanmax(g) == 0.0
    assert res.n_evaluated == int(np.count_nonzero(ref.array >= 20.0))
    assert np.isnan(g[ref.array < 20.0]).all()


@pytest.mark.parametrize("shift", [1.0, 2.0, 3.0])
def test_gamma_pure_shift_passes_when_dta_covers_it(shift: float) -> None:
    """Analytic case: evaluated = reference shifted by s mm. With DTA = s every point finds its exact
    dose at distance s → γ ≤ 1 everywhere (pass 100 %); with DTA < s and a tight dose criterion it fails."""
    ref = _gaussian_dose()
    ev = _gaussian_dose((0.0, 0.0, shift))
    assert gamma_index(ref, ev, dose_percent=1.0, distance_mm=shift).pass_rate == 1.0
    assert gamma_index(ref, ev, dose_percent=1.0, distance_mm=shift / 2).pass_rate < 0.9


def test_gamma_subvoxel_shift() -> None:
    """Half-voxel shift (1 mm on a 2 mm grid, σ 8 mm), DTA 1.5 mm: the grid search has no offset within
    1.5 mm, the sub-voxel search (0.5 mm steps, trilinear; interpolation error ≤ h²/8·max|D''| = 1.6 Gy,
    so γ ≤ sqrt((1/1.5)² + (1.6/6)²) = 0.72 at the true offset) finds it."""
    ref = _gaussian_dose(spacing=2.0, sigma_mm=8.0)
    ev = _gaussian_dose((0.0, 1.0, 0.0), spacing=2.0, sigma_mm=8.0)
    coarse = gamma_index(ref, ev, dose_percent=3.0, distance_mm=1.5)
    fine = gamma_index(ref, ev, dose_percent=3.0, distance_mm=1.5, subvoxel_steps=4)
    assert fine.pass_rate == 1.0
    assert float(np.nanmax(fine.gamma.array)) < 0.8
    assert fine.pass_rate > coarse.pass_rate


def test_gamma_dose_difference() -> None:
    """A uniform +2 % global dose error passes 3 %/3 mm and fails 1 %/0.5 mm (no spatial help)."""
    ref = _gaussian_dose()
    ev = ref.with_array(ref.array + 0.02 * 200.0)
    assert gamma_index(ref, ev).pass_rate == 1.0
    assert gamma_index(ref, ev, dose_percent=1.0, distance_mm=0.5).pass_rate < 0.05


def test_compare_doses() -> None:
    pred = _gaussian_dose()
    deli = pred.with_array(pred.array * 1.1)
    mask = np.zeros(pred.shape, bool)
    mask[8:16, 8:16, 8:16] = True
    masks = {"tumour": pred.with_array(mask, quantity="mask", unit="1")}
    (diff,) = compare_doses(pred, deli, masks)
    assert diff.name == "tumour"
    assert diff.mean_difference_percent == pytest.approx(10.0, rel=1e-9)
    assert diff.delivered_d70_gy == pytest.approx(1.1 * diff.predicted_d70_gy)
    assert diff.volume_ml == pytest.approx(0.512)
    with pytest.raises(InputError, match="'empty'"):
        compare_doses(pred, deli, {"empty": pred.with_array(np.zeros(pred.shape, bool))})
    other = Volume.from_spacing(pred.array, (2.0, 2.0, 2.0), quantity="dose", unit="Gy")
    with pytest.raises(GeometryError):
        compare_doses(pred, other, masks)
    with pytest.raises(GeometryError):
        gamma_index(pred, other)
