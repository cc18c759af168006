"""Axis-convention converters between :class:`~sirtkit.imaging.volume.Volume` and other libraries.

This is the only module that knows other libraries' conventions:

* **SimpleITK** indexes voxels as (x, y, z) = (column, row, slice): ``GetSpacing()``, ``GetOrigin()``
  and the columns of ``GetDirection()`` are in that order, while ``GetArrayFromImage`` returns a
  numpy array in (z, y, x) order. Both are LPS millimetres, voxel centres, like ``Volume``.
* **NIfTI / nibabel** stores the array in (i, j, k) = (x, y, z) order and its affine maps that index
  to **RAS** millimetres: x and y have the opposite sign of DICOM LPS.

Each converter is tested by round trip (``tests/imaging/test_imaging_convert.py``), with oblique and
flipped-z affines, and against SimpleITK's ``TransformIndexToPhysicalPoint``.

Examples
--------
>>> import numpy as np
>>> v = Volume.from_spacing(np.zeros((2, 3, 4), np.float32), spacing_mm=(2.5, 1.0, 1.5))
>>> img = volume_to_sitk(v)
>>> img.GetSize(), img.GetSpacing()
((4, 3, 2), (1.5, 1.0, 2.5))
>>> volume_from_sitk(img).same_grid(v)
True
"""

from __future__ import annotations

from typing import Any

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from sirtkit.errors import GeometryError, InputError
from sirtkit.imaging.volume import Volume

__all__ = [
    "LPS_TO_RAS",
    "volume_from_nifti",
    "volume_from_sitk",
    "volume_to_nifti",
    "volume_to_sitk",
]

# DICOM LPS (x→Left, y→Posterior, z→Superior) to NIfTI RAS: negate x and y (NIfTI-1 standard, qform/sform
# "RAS+" convention; nibabel "Coordinate systems and affines" documentation).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

# (k, j, i) index order of Volume ↔ (i, j, k) = (x, y, z) index order of SimpleITK and NIfTI.
_REVERSE_AXES = np.array(
    [[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


def _sitk_array(array: np.ndarray) -> np.ndarray:
    """Array in a dtype SimpleITK accepts (booleans become uint8)."""
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    return np.ascontiguousarray(array)


def volume_to_sitk(volume: Volume) -> sitk.Image:
    """Convert a Volume to a SimpleITK image (same LPS geometry; booleans become uint8).

    Parameters
    ----------
    volume
        Volume to convert.

    Returns
    -------
    SimpleITK.Image
        Image whose ``TransformIndexToPhysicalPoint((i, j, k))`` equals
        ``volume.index_to_patient((k, j, i))``.
    """
    image = sitk.GetImageFromArray(_sitk_array(volume.array))
    sk, sj, si = volume.spacing_mm
    direction_kji = volume.direction  # columns: slice, row, column axes
    direction_xyz = direction_kji[:, ::-1]  # columns: column (x), row (y), slice (z) axes
    image.SetSpacing((si, sj, sk))
    image.SetOrigin(volume.origin_mm)
    image.SetDirection(tuple(float(v) for v in direction_xyz.ravel()))
    return image


def volume_from_sitk(
    image: sitk.Image,
    *,
    quantity: str = "unknown",
    unit: str = "1",
    frame_of_reference_uid: str | None = None,
) -> Volume:
    """Convert a 3-D, single-component SimpleITK image to a Volume.

    Parameters
    ----------
    image
        3-D scalar SimpleITK image (LPS geometry).
    quantity, unit, frame_of_reference_uid
        Stored on the Volume; SimpleITK images do not carry them.

    Returns
    -------
    Volume
        Array in (slice, row, column) order with the same geometry.

    Raises
    ------
    GeometryError
        If the image is not 3-D or has more than one component per voxel.
    """
    if image.GetDimension() != 3:
        raise GeometryError(f"expected a 3-D image, got a {image.GetDimension()}-D SimpleITK image")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise GeometryError(
            f"expected one value per voxel, got {image.GetNumberOfComponentsPerPixel()} components: "
            "split the vector image into scalar images first"
        )
    array = sitk.GetArrayFromImage(image)
    si, sj, sk = image.GetSpacing()
    direction_xyz = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    direction_kji = direction_xyz[:, ::-1]
    return Volume.from_spacing(
        array,
        spacing_mm=(sk, sj, si),
        origin_mm=image.GetOrigin(),
        direction=direction_kji,
        quantity=quantity,
        unit=unit,
        frame_of_reference_uid=frame_of_reference_uid,
    )


def volume_to_nifti(volume: Volume) -> nib.Nifti1Image:
    """Convert a Volume to a NIfTI-1 image (array in (x, y, z) order, RAS affine).

    Booleans are stored as uint8. The affine is written to both sform and qform (code 1, scanner).

    Examples
    --------
    >>> import numpy as np
    >>> v = Volume.from_spacing(np.ones((2, 3, 4), np.float32), spacing_mm=(3.0, 2.0, 1.0))
    >>> img = volume_to_nifti(v)
    >>> img.shape, img.affine[0, 0]
    ((4, 3, 2), np.float64(-1.0))
    """
    array = volume.array.astype(np.uint8) if volume.is_mask else volume.array
    data = np.ascontiguousarray(np.transpose(array, (2, 1, 0)))
    affine_ras = LPS_TO_RAS @ volume.affine @ _REVERSE_AXES
    image = nib.Nifti1Image(data, affine_ras)
    image.set_sform(affine_ras, code=1)
    image.set_qform(affine_ras, code=1)
    return image


def volume_from_nifti(img: nib.Nifti1Image, **kw: Any) -> Volume:
    """Convert a 3-D NIfTI image to a Volume (RAS→LPS, (x, y, z)→(slice, row, column)).

    Parameters
    ----------
    img
        NIfTI-1 or NIfTI-2 image with a 3-D array (a 4-D array with one volume is accepted).
    **kw
        ``quantity``, ``unit``, ``frame_of_reference_uid``, ``metadata`` passed to :class:`Volume`.

    Raises
    ------
    GeometryError
        If the image is not 3-D.
    """
    allowed = {"quantity", "unit", "frame_of_reference_uid", "metadata"}
    unknown = set(kw) - allowed
    if unknown:
        raise InputError(f"volume_from_nifti got unknown keyword(s) {sorted(unknown)}; use {sorted(allowed)}")
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise GeometryError(
            f"expected a 3-D NIfTI image, got shape {data.shape}: extract one volume (e.g. one time frame) first"
        )
    affine_lps = LPS_TO_RAS @ np.asarray(img.affine, dtype=np.float64) @ _REVERSE_AXES
    return Volume(np.ascontiguousarray(np.transpose(data, (2, 1, 0))), affine_lps, **kw)
