"""The one geometry type of sirtkit: :class:`Volume`.

A ``Volume`` is a 3-D array in (slice, row, column) order plus a 4×4 affine that maps the voxel
*index* (k, j, i) of a voxel *centre* to DICOM patient coordinates (LPS, mm), a frame-of-reference
UID, and the quantity and unit of its values. It follows highdicom's ``Volume`` convention.

Other libraries' axis orders (SimpleITK (x, y, z) spacing and origin, nibabel RAS affines) are
converted at the edges, in :mod:`sirtkit.imaging.convert`, each with a round-trip test.

Examples
--------
>>> import numpy as np
>>> v = Volume.from_spacing(np.zeros((2, 3, 4), np.float32), spacing_mm=(2.5, 1.0, 1.5),
...                         origin_mm=(0.0, 0.0, 0.0), quantity="dose", unit="Gy")
>>> v.spacing_mm
(2.5, 1.0, 1.5)
>>> v.voxel_volume_ml
0.00375
>>> v.index_to_patient((1, 0, 0)).tolist()
[0.0, 0.0, 2.5]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sirtkit.errors import GeometryError

__all__ = ["Quantity", "Volume", "require_same_grid"]

# The quantities sirtkit moves around, with their canonical unit. A reader that cannot name the
# quantity says "unknown" rather than guess.
Quantity = str
CANONICAL_UNITS: dict[str, str] = {
    "activity_concentration": "Bq/mL",
    "activity": "Bq",
    "counts": "counts",
    "dose": "Gy",
    "bed": "Gy",
    "ct": "HU",
    "density": "g/mL",
    "mask": "1",
    "label": "1",
    "unknown": "1",
}

# Geometry comparisons: 1e-3 mm in position and 1e-4 in direction cosines; far below any voxel size.
POSITION_TOLERANCE_MM = 1e-3
DIRECTION_TOLERANCE = 1e-4


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D image on a grid in patient space.

    Parameters
    ----------
    array
        Values in (slice, row, column) order, shape (nk, nj, ni).
    affine
        4×4 matrix with ``affine @ [k, j, i, 1] = [x, y, z, 1]`` in LPS millimetres (voxel centres).
    quantity
        What the values are (``"activity_concentration"``, ``"counts"``, ``"dose"``, ``"ct"``,
        ``"mask"``, ...).
    unit
        Unit of the values (``"Bq/mL"``, ``"counts"``, ``"Gy"``, ``"HU"``, ``"1"``).
    frame_of_reference_uid
        DICOM FrameOfReferenceUID, or ``None`` when the source has none (NRRD, NIfTI).
    metadata
        Free provenance (source file, series UID, acquisition time, ...); never used in maths.

    Raises
    ------
    GeometryError
        If the array is not 3-D, the affine is not 4×4 with a last row (0, 0, 0, 1), or a spacing is
        zero or not finite.
    """

    array: np.ndarray
    affine: np.ndarray
    quantity: Quantity = "unknown"
    unit: str = "1"
    frame_of_reference_uid: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim != 3:
            raise GeometryError(f"a Volume needs a 3-D array, got shape {arr.shape}")
        aff = np.asarray(self.affine, dtype=np.float64)
        if aff.shape != (4, 4) or not np.all(np.isfinite(aff)):
            raise GeometryError(f"a Volume needs a finite 4×4 affine, got shape {aff.shape}")
        if not np.allclose(aff[3], (0.0, 0.0, 0.0, 1.0)):
            raise GeometryError(f"the affine's last row must be (0, 0, 0, 1), got {aff[3].tolist()}")
        spacing = np.linalg.norm(aff[:3, :3], axis=0)
        if np.any(spacing <= 0):
            raise GeometryError(f"voxel spacing must be positive in every direction, got {spacing.tolist()}")
        if abs(np.linalg.det(aff[:3, :3])) < 1e-12:
            raise GeometryError("the affine's direction vectors are degenerate (determinant 0)")
        aff.setflags(write=False)
        object.__setattr__(self, "array", arr)
        object.__setattr__(self, "affine", aff)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_spacing(
        cls,
        array: npt.ArrayLike,
        spacing_mm: Sequence[float],
        origin_mm: Sequence[float] = (0.0, 0.0, 0.0),
        direction: npt.ArrayLike | None = None,
        **kwargs: Any,
    ) -> Volume:
        """Build a Volume from spacing and origin in (slice, row, column) order.

        ``direction`` is a 3×3 matrix whose *columns* are the unit vectors (LPS) of the slice, row and
        column index axes; by default slices run along +z (S), rows along +y (P), columns along +x (L),
        the usual axial DICOM orientation.
        """
        sk, sj, si = (float(s) for s in spacing_mm)
        if direction is None:
            dirs = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]).T
        else:
            dirs = np.asarray(direction, dtype=np.float64)
            if dirs.shape != (3, 3):
                raise GeometryError(f"direction must be a 3×3 matrix, got shape {dirs.shape}")
        affine = np.eye(4)
        affine[:3, :3] = dirs * np.array([sk, sj, si])
        affine[:3, 3] = np.asarray(origin_mm, dtype=np.float64)
        return cls(np.asarray(array), affine, **kwargs)

    def with_array(
        self, array: npt.ArrayLike, *, quantity: Quantity | None = None, unit: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Volume:
        """A new Volume on the same grid with other values (and optionally another quantity/unit)."""
        arr = np.asarray(array)
        if arr.shape != self.shape:
            raise GeometryError(f"new array shape {arr.shape} differs from the grid shape {self.shape}")
        return Volume(
            arr,
            self.affine,
            quantity=self.quantity if quantity is None else quantity,
            unit=self.unit if unit is None else unit,
            frame_of_reference_uid=self.frame_of_reference_uid,
            metadata=dict(self.metadata if metadata is None else metadata),
        )

    # ------------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (slices, rows, columns)."""
        nk, nj, ni = self.array.shape
        return (int(nk), int(nj), int(ni))

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel spacing along (slice, row, column), mm."""
        sk, sj, si = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(sk), float(sj), float(si))

    @property
    def direction(self) -> np.ndarray:
        """3×3 matrix whose columns are the unit LPS vectors of the (slice, row, column) axes."""
        return np.asarray(self.affine[:3, :3] / np.array(self.spacing_mm))

    @property
    def origin_mm(self) -> tuple[float, float, float]:
        """LPS position of the centre of voxel (0, 0, 0), mm."""
        x, y, z = self.affine[:3, 3]
        return (float(x), float(y), float(z))

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (= cm³), from the affine's determinant."""
        return float(abs(np.linalg.det(self.affine[:3, :3])) / 1000.0)

    @property
    def is_mask(self) -> bool:
        """True for boolean arrays (segmentations)."""
        return bool(self.array.dtype == np.bool_)

    def index_to_patient(self, index: npt.ArrayLike) -> np.ndarray:
        """LPS mm of voxel index/indices (k, j, i); accepts shape (3,) or (n, 3)."""
        idx = np.asarray(index, dtype=np.float64)
        pts = idx.reshape(-1, 3) @ self.affine[:3, :3].T + self.affine[:3, 3]
        return pts.reshape(idx.shape)

    def patient_to_index(self, points_mm: npt.ArrayLike) -> np.ndarray:
        """Continuous voxel index (k, j, i) of LPS point(s) in mm; accepts shape (3,) or (n, 3)."""
        pts = np.asarray(points_mm, dtype=np.float64)
        inv = np.linalg.inv(self.affine)
        idx = pts.reshape(-1, 3) @ inv[:3, :3].T + inv[:3, 3]
        return idx.reshape(pts.shape)

    def corners_mm(self) -> np.ndarray:
        """LPS coordinates (8, 3) of the outer corners of the grid (voxel edges, not centres)."""
        nk, nj, ni = self.shape
        corners = np.array(
            [[k, j, i] for k in (-0.5, nk - 0.5) for j in (-0.5, nj - 0.5) for i in (-0.5, ni - 0.5)]
        )
        return self.index_to_patient(corners)

    def same_grid(self, other: Volume) -> bool:
        """True if ``other`` has the same shape and affine (within 1e-3 mm / 1e-4)."""
        if self.shape != other.shape:
            return False
        if not np.allclose(self.affine[:3, 3], other.affine[:3, 3], atol=POSITION_TOLERANCE_MM):
            return False
        return bool(np.allclose(self.affine[:3, :3], other.affine[:3, :3], atol=DIRECTION_TOLERANCE))

    # ------------------------------------------------------------------ values
    def total(self) -> float:
        """Sum of values × voxel volume when the unit is per mL, else the plain sum."""
        s = float(np.sum(self.array, dtype=np.float64))
        return s * self.voxel_volume_ml if self.unit.endswith("/mL") else s

    def __repr__(self) -> str:
        return (
            f"Volume(shape={self.shape}, spacing_mm={tuple(round(s, 4) for s in self.spacing_mm)}, "
            f"quantity={self.quantity!r}, unit={self.unit!r}, dtype={self.array.dtype}, "
            f"frame_of_reference_uid={self.frame_of_reference_uid!r})"
        )


def require_same_grid(reference: Volume, other: Volume, what: str = "volume") -> None:
    """Raise :class:`GeometryError` unless ``other`` lies on ``reference``'s grid and frame of reference.

    Frames of reference are compared only when both are known.
    """
    ref_for, oth_for = reference.frame_of_reference_uid, other.frame_of_reference_uid
    if ref_for and oth_for and ref_for != oth_for:
        raise GeometryError(
            f"the {what} is on frame of reference {oth_for}, the image on {ref_for}: register it to the "
            "image (or export the segmentation from the same study) before combining them"
        )
    if not reference.same_grid(other):
        raise GeometryError(
            f"the {what} grid (shape {other.shape}, spacing {tuple(round(s, 3) for s in other.spacing_mm)} mm, "
            f"origin {tuple(round(o, 2) for o in other.origin_mm)}) differs from the image grid (shape "
            f"{reference.shape}, spacing {tuple(round(s, 3) for s in reference.spacing_mm)} mm, origin "
            f"{tuple(round(o, 2) for o in reference.origin_mm)}): resample it with "
            "sirtkit.imaging.resample_to first"
        )
