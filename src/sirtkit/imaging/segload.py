"""Read a segmentation for a workflow: masks on their own grid and on the dose grid, volumes compared.

:func:`load_segmentation` is what the image workflows (``dose``, ``predict``, ``compare``) call. Unlike
:func:`sirtkit.imaging.read_segmentation` it returns its caveats as text, so that they reach the
workflow's warnings (JSON, report) instead of only the log:

* segments that are empty in the file, or RTSTRUCT ROIs without contours, outside the image, or
  enclosing no voxel centre (not used);
* every VOI's volume on its own grid (the file's grid; for an RTSTRUCT the image the contours were drawn
  on) against its volume on the dose grid: a change of more than :data:`VOI_VOLUME_CHANGE_WARNING_FRACTION`
  is a warning (the dose-grid VOI is what the doses are computed on);
* for an RTSTRUCT also the contours' own (planimetric) volume against the rasterised one.

Examples
--------
>>> VOI_VOLUME_CHANGE_WARNING_FRACTION
0.05
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sirtkit.errors import GeometryError
from sirtkit.imaging.resample import resample_to
from sirtkit.imaging.segmentation import (
    masks_onto,
    read_segmentation,
    read_segmentation_on_grid,
    read_segmentation_volumes_on_grid,
)
from sirtkit.imaging.volume import Volume

__all__ = ["VOI_VOLUME_CHANGE_WARNING_FRACTION", "LoadedSegmentation", "VoiVolume", "load_segmentation",
           "on_common_grid"]

# A VOI whose volume on the dose grid differs from its volume on its own grid by more than 5 % is reported
# as a warning: the dose metrics then describe a visibly different structure. sirtkit convention [K] for
# "more than a few per cent" (issue 7). The covered-fraction ≥ 0.5 resampling rule is unbiased on average,
# but a single small VOI can lose or gain a shell of voxels: a 20 mm sphere on 4 mm voxels comes out −8 %
# (tests/imaging/test_imaging_rtstruct.py) and the 0.2 mL "Tumor 3" of sample patient 1 on its PET grid
# −36 %, so small tumours get this warning by design; liver and lungs stay within ~1–2 %.
VOI_VOLUME_CHANGE_WARNING_FRACTION = 0.05


@dataclass(frozen=True)
class VoiVolume:
    """Volume of one VOI on its own grid, on the dose grid and (RTSTRUCT) from its contours, mL."""

    name: str
    own_grid_ml: float
    dose_grid_ml: float
    contour_ml: float | None = None

    @property
    def change_fraction(self) -> float | None:
        """(dose grid − own grid) / own grid; ``None`` for an empty VOI."""
        return None if self.own_grid_ml <= 0 else (self.dose_grid_ml - self.own_grid_ml) / self.own_grid_ml


@dataclass(frozen=True)
class LoadedSegmentation:
    """Masks on the dose grid and on their own grid, with volumes, notes and warnings."""

    masks: dict[str, Volume]
    native: dict[str, Volume]  # empty when loaded with ``keep_native=False``
    volumes: tuple[VoiVolume, ...]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _is_rtstruct(path: Path) -> bool:
    if path.name.lower().endswith((".nrrd", ".nhdr", ".nii", ".nii.gz")):
        return False
    import pydicom  # DICOM files only (start-up time of NRRD workflows)

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
    except Exception:  # read_segmentation reports unreadable files with the right message
        return False
    return str(ds.get("Modality", "")) == "RTSTRUCT"


def load_segmentation(
    path: str | Path,
    grid: Volume,
    *,
    labels: Mapping[int, str] | None = None,
    images: Sequence[Volume] = (),
    keep_native: bool = True,
) -> LoadedSegmentation:
    """Read ``path`` on its own grid, put it on ``grid`` and compare the volumes.

    Parameters
    ----------
    path
        Any segmentation :func:`sirtkit.imaging.read_segmentation` reads.
    grid
        The dose (emission) grid.
    labels
        Label maps: ``{value: name}``.
    images
        RTSTRUCT: images that may be the one the contours were drawn on (the CT given with ``--ct``).
    keep_native
        Keep the masks on their own grid (:attr:`LoadedSegmentation.native`; image-based planning measures
        compartment volumes on them). For a ``.seg.nrrd`` or a label map they cover only the box holding
        every labelled voxel (one lattice for all; volumes and set operations are unchanged). ``False`` keeps only their volumes: for a ``.seg.nrrd`` or a label map
        no own-grid mask is built at all (the volumes are counted per label value), which is what a dose
        needs — the same volumes, warnings and dose-grid masks, without 8 full-size masks of the sample
        patient (≈ 0.3 s and 230 MB).

    Raises
    ------
    InputError
        As :func:`sirtkit.imaging.read_segmentation` (RTSTRUCT: drawing image not found, malformed contour).
    GeometryError
        Grids do not overlap, frames of reference differ. (A VOI that vanishes on ``grid`` is kept empty
        and reported as a warning; the workflow skips it or refuses when it is the liver.)
    """
    p = Path(path)
    notes: list[str] = []
    warnings: list[str] = []
    contour_ml: dict[str, float] = {}
    on_dose_grid: dict[str, Volume] | None = None
    is_rtstruct = p.is_file() and _is_rtstruct(p)
    if not keep_native and not is_rtstruct:
        try:
            own_ml, on_dose_grid = read_segmentation_volumes_on_grid(p, grid, labels=labels)
        except GeometryError:  # a segment vanishes on the dose grid: the path below keeps it empty and warns
            pass
        else:
            return _loaded(p, grid, on_dose_grid, {}, own_ml, contour_ml, notes, warnings)
    if is_rtstruct:
        from sirtkit.imaging.rtstruct import read_rtstruct

        result = read_rtstruct(p, images=images, target=grid)
        native = dict(result.masks)
        notes += result.notes
        warnings += result.warnings
        contour_ml = dict(result.contour_volumes_ml)
    else:  # one decoding of the file for both grids (sirtkit.imaging.segmentation.read_segmentation_on_grid)
        try:
            native, on_dose_grid = read_segmentation_on_grid(p, grid, labels=labels, crop_native=True)
        except GeometryError:  # a segment vanishes on the dose grid: handled (kept empty, reported) below
            native = read_segmentation(p, labels=labels)
    if on_dose_grid is not None:
        masks = {n: m for n, m in on_dose_grid.items() if n in native}
    else:
        try:
            present = {n: m for n, m in native.items() if m.array.any()}
            masks = masks_onto(present, grid, source=str(p)) if present else {}
        except GeometryError:
            # masks_onto refuses a segment that vanishes on the dose grid; here such a VOI stays (empty) and is
            # reported below, so the workflow warns and skips it. Real geometry errors (frames of reference,
            # grids that do not overlap) are raised again by resample_to.
            masks = {name: resample_to(mask, grid) for name, mask in native.items() if mask.array.any()}
    own_ml = {n: float(np.count_nonzero(m.array)) * m.voxel_volume_ml for n, m in native.items()}
    return _loaded(p, grid, masks, native if keep_native else {}, own_ml, contour_ml, notes, warnings)


def _loaded(p: Path, grid: Volume, masks: Mapping[str, Volume], native: Mapping[str, Volume],
            own_ml: Mapping[str, float], contour_ml: Mapping[str, float], notes: list[str],
            warnings: list[str]) -> LoadedSegmentation:
    """Drop segments empty in the file (warned), compare each VOI's volume on its own and on the dose grid."""
    for name in [n for n, ml in own_ml.items() if ml <= 0.0]:
        warnings.append(f"Segment {name!r} of {p.name} is empty and is not used.")
    kept = [n for n, ml in own_ml.items() if ml > 0.0]
    volumes = []
    for name in kept:
        own = own_ml[name]
        on_grid = float(np.count_nonzero(masks[name].array)) * grid.voxel_volume_ml
        volume = VoiVolume(name, own, on_grid, contour_ml.get(name))
        volumes.append(volume)
        change = volume.change_fraction
        if on_grid == 0.0 and own > 0.0:
            warnings.append(
                f"VOI {name!r} ({own:.2f} mL on its own grid) has no voxel on the dose grid (voxels of "
                f"{grid.voxel_volume_ml:.3f} mL): smaller than half a voxel or outside the image; it gets no dose "
                "figures.")
        elif change is not None and abs(change) > VOI_VOLUME_CHANGE_WARNING_FRACTION:
            warnings.append(
                f"VOI {name!r}: {on_grid:.1f} mL on the dose grid, {own:.1f} mL on its own grid ({100 * change:+.0f} %, "
                f"more than {100 * VOI_VOLUME_CHANGE_WARNING_FRACTION:.0f} %): its doses describe a visibly "
                "different volume (partial voxels of a coarse dose grid); interpret them with care.")
        drawn = contour_ml.get(name)
        if drawn is not None and drawn > 0 and abs(own - drawn) / drawn > VOI_VOLUME_CHANGE_WARNING_FRACTION:
            warnings.append(
                f"VOI {name!r}: the contours enclose {drawn:.1f} mL, the rasterised mask {own:.1f} mL "
                f"({100 * (own - drawn) / drawn:+.0f} %): the image it was rasterised on is too coarse for it, or "
                "the contours overlap.")
    return LoadedSegmentation({n: masks[n] for n in kept}, {n: native[n] for n in kept if n in native},
                              tuple(volumes), tuple(notes), tuple(warnings))


def on_common_grid(masks: Mapping[str, Volume]) -> dict[str, Volume]:
    """Masks on one lattice (same spacing and orientation, e.g. RTSTRUCT ROIs cropped to their own boxes)
    padded to the box holding all of them, so that they can be combined voxel by voxel.

    Masks already on one grid are returned unchanged; masks on different lattices are resampled onto the
    first one's lattice extended to hold all of them (covered fraction ≥ 0.5).

    Examples
    --------
    >>> a = Volume.from_spacing(np.ones((1, 2, 2), bool), spacing_mm=(1, 1, 1))
    >>> b = Volume.from_spacing(np.ones((1, 1, 1), bool), spacing_mm=(1, 1, 1), origin_mm=(3.0, 0.0, 0.0))
    >>> {n: m.shape for n, m in on_common_grid({"a": a, "b": b}).items()}
    {'a': (1, 2, 4), 'b': (1, 2, 4)}
    """
    items = list(masks.items())
    if not items or all(m.same_grid(items[0][1]) for _, m in items):
        return dict(masks)
    first = items[0][1]
    corners = np.concatenate([first.patient_to_index(m.index_to_patient(np.array(
        [[k, j, i] for k in (0, m.shape[0] - 1) for j in (0, m.shape[1] - 1) for i in (0, m.shape[2] - 1)],
        dtype=np.float64))) for _, m in items])
    lo = np.floor(corners.min(axis=0) + 1e-6).astype(int)
    hi = np.ceil(corners.max(axis=0) - 1e-6).astype(int) + 1
    affine = first.affine.copy()
    affine[:3, 3] = first.index_to_patient(lo.astype(np.float64))
    template = Volume(np.zeros(tuple(int(v) for v in hi - lo), dtype=bool), affine, "mask", "1",
                      first.frame_of_reference_uid)
    out: dict[str, Volume] = {}
    for name, mask in items:
        offset = np.rint(template.patient_to_index(mask.index_to_patient((0.0, 0.0, 0.0)))).astype(int)
        aligned = np.allclose(mask.affine[:3, :3], first.affine[:3, :3], atol=1e-6) and np.allclose(
            template.index_to_patient(offset.astype(np.float64)), mask.affine[:3, 3], atol=1e-3)
        if aligned:
            array = np.zeros(template.shape, dtype=bool)
            k, j, i = (int(v) for v in offset)
            nk, nj, ni = mask.shape
            array[k:k + nk, j:j + nj, i:i + ni] = mask.array
            out[name] = Volume(array, affine, mask.quantity, mask.unit,
                               mask.frame_of_reference_uid or first.frame_of_reference_uid, dict(mask.metadata))
        else:
            out[name] = resample_to(mask, template)
    return out
