"""Round trips of the axis-convention converters (Volume ↔ SimpleITK ↔ NIfTI ↔ NRRD)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from numpy.testing import assert_allclose

from sirtkit.imaging import (
    Volume,
    read_volume,
    volume_from_nifti,
    volume_from_sitk,
    volume_to_nifti,
    volume_to_sitk,
    write_volume,
)


def _rotation(angle_deg: float, axis: tuple[float, float, float]) -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    t = np.deg2rad(angle_deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


def _volumes() -> dict[str, Volume]:
    rng = np.random.default_rng(1)
    arr = rng.normal(size=(5, 6, 7)).astype(np.float32)
    axial = Volume.from_spacing(arr, spacing_mm=(2.5, 1.2, 0.8), origin_mm=(-10.0, 20.0, 30.0))
    oblique_dirs = _rotation(23.0, (1.0, 2.0, 0.5)) @ axial.direction
    oblique = Volume.from_spacing(arr, spacing_mm=(2.5, 1.2, 0.8), origin_mm=(1.0, -2.0, 3.0), direction=oblique_dirs)
    flipped = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]).T  # slices along −z (S→I)
    flipped_z = Volume.from_spacing(arr, spacing_mm=(2.5, 4.4, 4.4), origin_mm=(-280.0, -280.0, 1332.8),
                                    direction=flipped)
    return {"axial": axial, "oblique": oblique, "flipped_z": flipped_z}


@pytest.mark.parametrize("name", ["axial", "oblique", "flipped_z"])
def test_sitk_round_trip_and_point_mapping(name: str) -> None:
    """GetSpacing() is (x, y, z) while numpy is (z, y, x); physical points must agree with ITK."""
    vol = _volumes()[name]
    img = volume_to_sitk(vol)
    sk, sj, si = vol.spacing_mm
    assert img.GetSpacing() == pytest.approx((si, sj, sk))
    assert img.GetSize() == (vol.shape[2], vol.shape[1], vol.shape[0])
    for kji in [(0, 0, 0), (4, 5, 6), (1, 2, 3), (3, 0, 6)]:
        k, j, i = kji
        itk_point = img.TransformIndexToPhysicalPoint((i, j, k))
        assert_allclose(itk_point, vol.index_to_patient(kji), atol=1e-9)
        assert sitk.GetArrayViewFromImage(img)[k, j, i] == vol.array[k, j, i]
    back = volume_from_sitk(img)
    assert back.same_grid(vol)
    assert_allclose(back.affine, vol.affine, atol=1e-12)
    assert_allclose(back.array, vol.array)


@pytest.mark.parametrize("name", ["axial", "oblique", "flipped_z"])
def test_nifti_round_trip_is_ras(name: str, tmp_path: Path) -> None:
    """NIfTI affines are RAS: x and y change sign; the (i, j, k) index order is reversed."""
    vol = _volumes()[name]
    img = volume_to_nifti(vol)
    k, j, i = 2, 3, 4
    ras = nib.affines.apply_affine(img.affine, (i, j, k))
    lps = vol.index_to_patient((k, j, i))
    assert_allclose(ras, lps * np.array([-1.0, -1.0, 1.0]), atol=1e-9)
    assert np.asarray(img.dataobj)[i, j, k] == vol.array[k, j, i]
    back = volume_from_nifti(img)
    assert back.same_grid(vol)
    path = write_volume(vol, tmp_path / f"{name}.nii.gz")
    from_file = read_volume(path)
    assert from_file.same_grid(vol)
    assert_allclose(from_file.array, vol.array)


@pytest.mark.parametrize("name", ["axial", "oblique", "flipped_z"])
def test_nrrd_round_trip(name: str, tmp_path: Path) -> None:
    vol = _volumes()[name].with_array(_volumes()[name].array, quantity="dose", unit="Gy")
    path = write_volume(vol, tmp_path / f"{name}.nrrd")
    back = read_volume(path)
    assert back.same_grid(vol)
    assert_allclose(back.affine, vol.affine, atol=1e-9)
    assert_allclose(back.array, vol.array)
    assert (back.quantity, back.unit) == ("dose", "Gy")
    # and SimpleITK (an independent NRRD reader) agrees on the geometry
    img = sitk.ReadImage(str(path))
    assert_allclose(img.TransformIndexToPhysicalPoint((1, 2, 3)), vol.index_to_patient((3, 2, 1)), atol=1e-6)


def test_mask_round_trip_keeps_voxels(tmp_path: Path) -> None:
    vol = _volumes()["oblique"]
    mask = vol.with_array(vol.array > 0, quantity="mask")
    back = read_volume(write_volume(mask, tmp_path / "m.nrrd"))
    assert np.array_equal(back.array.astype(bool), mask.array)
    back_nii = volume_from_nifti(volume_to_nifti(mask))
    assert np.array_equal(back_nii.array.astype(bool), mask.array)
