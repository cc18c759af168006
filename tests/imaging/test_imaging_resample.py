"""Resampling rules, tested on analytic shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sirtkit.errors import GeometryError
from sirtkit.imaging import Volume, overlap_fraction, resample_to


def _sphere(radius_mm: float, spacing_mm: float, half_extent_mm: float, direction: np.ndarray | None = None) -> Volume:
    n = round(2 * half_extent_mm / spacing_mm)
    origin = -(n - 1) / 2.0 * spacing_mm
    grid = Volume.from_spacing(np.zeros((n, n, n), bool), (spacing_mm,) * 3, (origin,) * 3, direction=direction)
    if direction is not None:
        centre_idx = (np.array(grid.shape) - 1) / 2.0
        grid = Volume(grid.array, _recentre(grid.affine, centre_idx))
    k, j, i = np.meshgrid(*(np.arange(s) for s in grid.shape), indexing="ij")
    pts = grid.index_to_patient(np.stack([k, j, i], axis=-1).astype(float))
    return grid.with_array(np.linalg.norm(pts, axis=-1) <= radius_mm, quantity="mask")


def _recentre(affine: np.ndarray, centre_idx: np.ndarray) -> np.ndarray:
    out = affine.copy()
    out[:3, 3] = -affine[:3, :3] @ centre_idx
    return out


def _rotation(angle_deg: float) -> np.ndarray:
    t = np.deg2rad(angle_deg)
    rz = np.array([[np.cos(t), -np.sin(t), 0.0], [np.sin(t), np.cos(t), 0.0], [0.0, 0.0, 1.0]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(t), -np.sin(t)], [0.0, np.sin(t), np.cos(t)]])
    return rz @ rx


SPHERE_RADIUS_MM = 20.0
SPHERE_VOLUME_MM3 = 4.0 / 3.0 * math.pi * SPHERE_RADIUS_MM**3  # 33 510 mm³


def test_fraction_of_fine_sphere_on_coarse_grid_conserves_volume() -> None:
    """Reference: analytic sphere volume 4/3·π·20³ = 33 510 mm³.

    Source: 1 mm voxels (digitised volume within 0.5 %); target: 4 mm voxels. The covered fractions
    must sum to the source volume within 0.5 %, and the ≥ 0.5 mask must be within 5 % of it.
    """
    fine = _sphere(SPHERE_RADIUS_MM, 1.0, 32.0)
    fine_mm3 = fine.array.sum() * 1.0
    assert fine_mm3 == pytest.approx(SPHERE_VOLUME_MM3, rel=5e-3)
    coarse = Volume.from_spacing(np.zeros((16, 16, 16)), (4.0,) * 3, (-30.0,) * 3)
    frac = resample_to(fine, coarse, interpolation="fraction")
    assert frac.quantity == "fraction"
    assert frac.array.sum() * 64.0 == pytest.approx(fine_mm3, rel=5e-3)
    mask = resample_to(fine, coarse)
    assert mask.is_mask
    assert mask.array.sum() * 64.0 == pytest.approx(SPHERE_VOLUME_MM3, rel=0.05)
    nearest = resample_to(fine, coarse, interpolation="nearest")
    assert nearest.is_mask


def test_coarse_sphere_on_fine_grid_keeps_its_voxels() -> None:
    """Up-sampling a 4 mm mask onto a 1 mm grid keeps its digitised volume (within 2 %)."""
    coarse = _sphere(SPHERE_RADIUS_MM, 4.0, 32.0)
    fine = Volume.from_spacing(np.zeros((64, 64, 64)), (1.0,) * 3, (-31.5,) * 3)
    up = resample_to(coarse, fine)
    assert up.array.sum() * 1.0 == pytest.approx(coarse.array.sum() * 64.0, rel=0.02)


def test_oblique_target_grid_conserves_sphere_volume() -> None:
    """The general (non-parallel axes) path: a rotated 3 mm grid; volume within 5 % of 33 510 mm³."""
    fine = _sphere(SPHERE_RADIUS_MM, 1.0, 32.0)
    rot = _rotation(30.0)
    target = Volume.from_spacing(np.zeros((20, 20, 20)), (3.0,) * 3, direction=rot @ np.eye(3)[:, ::-1])
    target = Volume(target.array, _recentre(target.affine, np.array([9.5, 9.5, 9.5])))
    frac = resample_to(fine, target, interpolation="fraction")
    assert frac.array.sum() * 27.0 == pytest.approx(fine.array.sum(), rel=0.01)
    mask = resample_to(fine, target)
    assert mask.array.sum() * 27.0 == pytest.approx(SPHERE_VOLUME_MM3, rel=0.05)


@settings(max_examples=15, deadline=None)
@given(
    a=st.floats(-5, 5), b=st.floats(-5, 5), c=st.floats(-5, 5),
    shift=st.tuples(st.floats(-3, 3), st.floats(-3, 3), st.floats(-3, 3)),
)
def test_linear_interpolation_is_exact_for_a_linear_field(a: float, b: float, c: float,
                                                         shift: tuple[float, float, float]) -> None:
    """Trilinear interpolation reproduces any linear function inside the source grid."""
    src = Volume.from_spacing(np.zeros((12, 12, 12)), (2.0, 2.0, 2.0))
    k, j, i = np.meshgrid(*(np.arange(12),) * 3, indexing="ij")
    pts = src.index_to_patient(np.stack([k, j, i], -1).astype(float))
    field = a * pts[..., 0] + b * pts[..., 1] + c * pts[..., 2]
    src = src.with_array(field)
    target = Volume.from_spacing(np.zeros((6, 6, 6)), (1.5, 1.5, 1.5), origin_mm=tuple(4.0 + s for s in shift))
    out = resample_to(src, target)
    tk, tj, ti = np.meshgrid(*(np.arange(6),) * 3, indexing="ij")
    tpts = target.index_to_patient(np.stack([tk, tj, ti], -1).astype(float))
    assert_allclose(out.array, a * tpts[..., 0] + b * tpts[..., 1] + c * tpts[..., 2], atol=1e-9)


def test_fill_value_outside_source() -> None:
    src = Volume.from_spacing(np.ones((4, 4, 4)), (1.0, 1.0, 1.0))
    target = Volume.from_spacing(np.zeros((4, 4, 8)), (1.0, 1.0, 1.0))
    out = resample_to(src, target, fill_value=-7.0)
    assert out.array[0, 0, 0] == 1.0 and out.array[0, 0, 7] == -7.0


def test_frame_of_reference_mismatch_refused() -> None:
    a = Volume.from_spacing(np.zeros((2, 2, 2)), (1, 1, 1), frame_of_reference_uid="1.2.3")
    b = Volume.from_spacing(np.zeros((2, 2, 2)), (1, 1, 1), frame_of_reference_uid="1.2.4")
    with pytest.raises(GeometryError, match=r"1\.2\.3"):
        resample_to(a, b)


def test_no_overlap_refused() -> None:
    a = Volume.from_spacing(np.ones((2, 2, 2)), (1, 1, 1))
    b = Volume.from_spacing(np.zeros((2, 2, 2)), (1, 1, 1), origin_mm=(100.0, 0.0, 0.0))
    assert overlap_fraction(a, b) == 0.0
    with pytest.raises(GeometryError, match="do not overlap"):
        resample_to(a, b)


def test_overlap_fraction_half_and_full() -> None:
    a = Volume.from_spacing(np.zeros((10, 10, 10)), (1, 1, 1))
    b = Volume.from_spacing(np.zeros((20, 20, 20)), (1, 1, 1), origin_mm=(-5.0, -5.0, -5.0))
    assert overlap_fraction(a, b) == 1.0
    assert overlap_fraction(b, a) == pytest.approx(0.125)
