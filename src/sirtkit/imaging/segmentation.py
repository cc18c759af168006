"""Segmentations in and out: boolean masks on a :class:`Volume` grid.

Readers (all return ``{name: boolean mask Volume}``):

* **3D Slicer ``.seg.nrrd``** — single- or multi-layer: segment ``N`` is the voxels of layer
  ``Segment<N>_Layer`` equal to ``Segment<N>_LabelValue``; its name is ``Segment<N>_Name``
  (Slicer "Segmentation labelmap file format", slicer.readthedocs.io, "Segmentations" module).
* **Label-map NRRD/NIfTI** — one mask per non-zero label; names from ``labels={value: name}``, else
  ``"label_<value>"``.
* **DICOM SEG** — via highdicom (``segread`` / ``Segmentation.get_volume``).
* **DICOM RTSTRUCT** — contours rasterised on the image they were drawn on (found by its series UID
  among ``images``/``reference`` or in the RTSTRUCT's folder), each contour plane a slab, nested
  contours holes, then resampled like any other mask (:mod:`sirtkit.imaging.rtstruct`). The conversion
  is lossy by nature (DICOM.md §3).

With ``reference``, every mask is resampled onto the reference grid (:func:`resample_to` rule: covered
fraction ≥ 0.5). A mask that is non-empty before and empty after resampling raises
:class:`GeometryError` naming the segment.

Writers: :func:`write_dicom_seg` (highdicom BINARY SEG with coded semantics), :func:`masks_to_labelmap`.

Examples
--------
>>> standard_voi_name("Tumor 1"), standard_voi_name("whole liver normal"), standard_voi_name("xyz")
('tumor', 'normal_liver', None)
"""

from __future__ import annotations

import logging
import re
import sqlite3
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sirtkit.errors import DicomInputError, GeometryError, InputError
from sirtkit.imaging.files import check_plausible_grid, nrrd_geometry, read_nrrd_checked, read_volume
from sirtkit.imaging.resample import labels_onto, resample_to
from sirtkit.imaging.volume import Volume, require_same_grid

if TYPE_CHECKING:  # pydicom and highdicom are imported where DICOM is read or written (start-up time)
    import pydicom

__all__ = [
    "masks_onto",
    "STANDARD_VOI_NAMES",
    "VOI_CODES",
    "VOI_CODE_VALUES",
    "masks_to_labelmap",
    "read_segmentation",
    "read_segmentation_on_grid",
    "standard_voi_name",
    "write_dicom_seg",
]

logger = logging.getLogger(__name__)

# Canonical VOI roles and the free-text names (normalised: lower case, "_"/"-" → space, trailing
# numbers removed) that mean them. Order matters: the first role whose name list matches wins.
STANDARD_VOI_NAMES: dict[str, tuple[str, ...]] = {
    "perfused_normal_liver": ("perfused normal", "perfused normal liver", "perfused normal tissue",
                              "perfused non tumoral liver", "perfused healthy liver"),
    "normal_liver": ("normal liver", "normal tissue", "whole liver normal", "healthy liver", "nontumoral liver",
                     "non tumoral liver", "non tumour liver", "non tumor liver", "liver normal", "normal"),
    "perfused": ("perfused", "perfused volume", "perfused territory", "perfused liver", "treated volume",
                 "treatment volume", "perfusion territory", "territory", "target volume"),
    "liver": ("liver", "whole liver", "total liver", "liver total", "liver whole"),
    "tumor": ("tumor", "tumour", "tumors", "tumours", "lesion", "lesions", "metastasis", "metastases", "met",
              "mets", "neoplasm", "gtv", "nelm", "hcc"),
    "lung": ("lung", "lungs", "left lung", "right lung", "lung left", "lung right", "lung l", "lung r",
             "both lungs", "lungs total"),
    "body": ("body", "external", "outline", "skin", "patient", "body contour"),
    "gallbladder": ("gallbladder", "gall bladder"),
    "stomach": ("stomach",),
}

# Coded semantics for DICOM SEG (DICOM.md §3; codes from SNOMED CT as used in DICOM PS3.16 CID 7150/7151).
# role → (category, type), each (code value, coding scheme designator, code meaning). Unlisted roles use the
# "Tissue" category/type, as 3D Slicer does. As pydicom ``Code`` objects they are :data:`VOI_CODES` and
# ``_TISSUE``, built on first use (importing pydicom's code dictionaries costs ~0.3 s at start-up).
CodeTriplet = tuple[str, str, str]
_ORGAN_CODE: CodeTriplet = ("91772007", "SCT", "Organ")
_ABNORMAL_CODE: CodeTriplet = ("49755003", "SCT", "Morphologically Abnormal Structure")
_TISSUE_CODE: CodeTriplet = ("85756007", "SCT", "Tissue")
_LIVER_CODE: CodeTriplet = ("10200004", "SCT", "Liver")
VOI_CODE_VALUES: dict[str, tuple[CodeTriplet, CodeTriplet]] = {
    "liver": (_ORGAN_CODE, _LIVER_CODE),
    "normal_liver": (_ORGAN_CODE, _LIVER_CODE),
    "perfused": (_ORGAN_CODE, _LIVER_CODE),
    "perfused_normal_liver": (_ORGAN_CODE, _LIVER_CODE),
    "tumor": (_ABNORMAL_CODE, ("108369006", "SCT", "Neoplasm")),
    "lung": (_ORGAN_CODE, ("39607008", "SCT", "Lung")),
    "gallbladder": (_ORGAN_CODE, ("28231008", "SCT", "Gallbladder")),
}

if TYPE_CHECKING:
    from pydicom.sr.coding import Code

    VOI_CODES: dict[str, tuple[Code, Code]]
    _TISSUE: Code


def __getattr__(name: str) -> Any:
    """``VOI_CODES`` and ``_TISSUE`` as pydicom ``Code`` objects, made on first access (PEP 562)."""
    if name in ("VOI_CODES", "_TISSUE"):
        from pydicom.sr.coding import Code

        globals()["VOI_CODES"] = {role: (Code(*cat), Code(*kind)) for role, (cat, kind) in VOI_CODE_VALUES.items()}
        globals()["_TISSUE"] = Code(*_TISSUE_CODE)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def voi_codes(name: str, role: str | None = None) -> tuple[Code, Code]:
    """(property category, property type) codes of a VOI for DICOM SEG and SR: by its standard name, else by
    the role it was given (``--voi-role``), else Tissue. One rule for both objects, so that an SR finding and
    the SEG segment it points at are coded alike."""
    key = standard_voi_name(name) or role or ""
    codes = globals().get("VOI_CODES") or __getattr__("VOI_CODES")  # built once, on first use
    tissue = globals()["_TISSUE"]
    return codes.get(key, (tissue, tissue))


_SLICER_SEGMENT_KEY = re.compile(r"^Segment(\d+)_Name$")


def _normalise_name(name: str) -> str:
    text = re.sub(r"[_\-.,;:()#]+", " ", name.strip().lower())
    text = re.sub(r"\s*\d+\s*$", "", text)
    text = re.sub(r"^\d+\s*", "", text)
    return re.sub(r"\s+", " ", text).strip()


def standard_voi_name(name: str) -> str | None:
    """Canonical VOI role of a free-text segment name, or ``None`` if it is not recognised.

    Case-insensitive; ``_`` and ``-`` count as spaces and a trailing number is dropped, so
    ``"Tumor 1"``, ``"tumour_12"`` and ``"TUMOR"`` are all ``"tumor"``. Roles: ``liver``, ``tumor``,
    ``lung``, ``perfused``, ``normal_liver``, ``perfused_normal_liver``, ``body``, ``gallbladder``,
    ``stomach`` (table :data:`STANDARD_VOI_NAMES`).

    Examples
    --------
    >>> standard_voi_name("Liver"), standard_voi_name("Lung_Left"), standard_voi_name("perfused volume")
    ('liver', 'lung', 'perfused')
    """
    key = _normalise_name(name)
    for role, names in STANDARD_VOI_NAMES.items():
        if key in names:
            return role
    return None


def _unique(name: str, taken: Mapping[str, object]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    logger.warning("segment name %r occurs more than once; renamed to %r", name, f"{name} ({n})")
    return f"{name} ({n})"


def _mask_volume(array: np.ndarray, affine: np.ndarray, frame: str | None, meta: dict[str, Any]) -> Volume:
    return Volume(np.ascontiguousarray(array, dtype=bool), affine, "mask", "1", frame, meta)


def _read_slicer_or_labelmap_nrrd(path: Path, labels: Mapping[int, str] | None, reference: Volume | None,
                                  native: dict[str, Volume] | None = None,
                                  native_volumes_ml: dict[str, float] | None = None,
                                  crop_native: bool = False) -> dict[str, Volume]:
    data, header = read_nrrd_checked(path, "NRRD segmentation")
    affine, non_spatial = nrrd_geometry(header, path)
    check_plausible_grid(Volume(np.zeros((1, 1, 1), dtype=bool), affine), path)
    if len(non_spatial) > 1:
        raise GeometryError(f"{path}: segmentation NRRD has {len(non_spatial)} non-spatial axes; expected at most 1")
    # header axis n (fastest first) is C-order array axis ndim-1-n; put the layer axis last
    data = np.moveaxis(data, data.ndim - 1 - non_spatial[0], -1) if non_spatial else data[..., np.newaxis]
    segment_ids = sorted(int(m.group(1)) for key in header if (m := _SLICER_SEGMENT_KEY.match(str(key))))
    meta_base: dict[str, Any] = {"source_files": [str(path)]}
    if segment_ids:
        segments: list[tuple[str, int, int, dict[str, Any]]] = []
        for n in segment_ids:
            name = str(header[f"Segment{n}_Name"])
            try:
                layer = int(header.get(f"Segment{n}_Layer", 0))
                value = int(header[f"Segment{n}_LabelValue"])
            except (KeyError, ValueError) as err:
                raise InputError(
                    f"{path}: segment {name!r} has no valid Segment{n}_LabelValue/_Layer header field ({err}); "
                    "re-save the segmentation with 3D Slicer ≥ 4.11"
                ) from err
            if not 0 <= layer < data.shape[-1]:
                raise InputError(f"{path}: segment {name!r} is on layer {layer}, but the file has {data.shape[-1]}")
            meta = {**meta_base, "label_value": value, "layer": layer, "segment_id": header.get(f"Segment{n}_ID")}
            segments.append((name, layer, value, meta))
        return _layer_masks(data, affine, segments, reference, str(path), native=native,
                            native_volumes_ml=native_volumes_ml, crop_native=crop_native)
    if data.shape[-1] != 1:
        raise InputError(f"{path}: a {data.ndim}-D NRRD without Segment<N>_Name fields is not a segmentation")
    return _labelmap_masks(Volume(data[..., 0], affine, metadata=meta_base), labels, reference, str(path), native,
                           native_volumes_ml, crop_native)


def _layer_masks(data: np.ndarray, affine: np.ndarray, segments: Sequence[tuple[str, int, int, dict[str, Any]]],
                 reference: Volume | None, source: str, frame: str | None = None, *,
                 native: dict[str, Volume] | None = None,
                 native_volumes_ml: dict[str, float] | None = None, crop_native: bool = False) -> dict[str, Volume]:
    """Masks of ``segments`` (name, layer, label value, metadata) of the label layers ``data[..., layer]``.

    Each layer is made contiguous once and each segment is ``layer == value``; with ``reference``, each
    layer is put onto the reference grid by :func:`labels_onto` (the mask rule of :func:`resample_to`,
    identical masks, no full-size mask per segment). With ``native`` (a dict to fill), the masks on the
    file's own grid are also made from the same decoded layers; with ``native_volumes_ml`` (a dict to
    fill), only each segment's volume on its own grid (voxels counted, no own-grid mask built: for the
    volume check of a dose, where the own-grid masks were 8 × 29 M voxels of the sample patient only to be
    counted). With ``crop_native`` the own-grid masks cover only the box holding every labelled voxel of
    the layers (one lattice for all of them, the affine's origin moved to the box): the same voxels, on a
    grid 18× smaller for the MAA sample patient's 512 × 512 × 161 MR segmentation.
    """
    if native is not None and crop_native:
        data, affine = _crop_to_labels(data, affine, sorted({seg[1] for seg in segments}))
    on_grid: dict[tuple[int, int], np.ndarray] = {}
    own_grid: dict[tuple[int, int], np.ndarray] = {}
    own_count: dict[tuple[int, int], int] = {}
    present: set[tuple[int, int]] = set()
    for layer in sorted({seg[1] for seg in segments}):
        values = sorted({seg[2] for seg in segments if seg[1] == layer})
        arr = np.ascontiguousarray(data[..., layer])
        if native is not None:
            for v in values:
                own_grid[layer, v] = arr == v
        elif native_volumes_ml is not None:
            own_count.update(((layer, v), n) for v, n in _label_counts(arr, values).items())
        if reference is None:
            for v in values:
                on_grid[layer, v] = arr == v
                present.add((layer, v))
            continue
        found = labels_onto(Volume(arr, affine, "label", "1", frame), values, reference)
        for v in values:
            if v in found:
                present.add((layer, v))
            on_grid[layer, v] = found.get(v, np.zeros(reference.shape, dtype=bool))
    if native is not None:  # in file order, each segment with its own array
        taken: set[tuple[int, int]] = set()
        for name, layer, value, meta in segments:
            mask = own_grid[layer, value]
            native[_unique(name, native)] = _mask_volume(mask.copy() if (layer, value) in taken else mask,
                                                         affine, frame, meta)
            taken.add((layer, value))
    elif native_volumes_ml is not None:
        voxel_ml = float(abs(np.linalg.det(affine[:3, :3])) / 1000.0)  # as Volume.voxel_volume_ml
        for name, layer, value, _ in segments:
            native_volumes_ml[_unique(name, native_volumes_ml)] = own_count[layer, value] * voxel_ml
    grid_affine = affine if reference is None else reference.affine
    grid_frame = frame if reference is None else (frame or reference.frame_of_reference_uid)
    masks: dict[str, Volume] = {}
    used: set[tuple[int, int]] = set()
    for name, layer, value, meta in segments:
        array = on_grid[layer, value]
        if (layer, value) in used:  # two segments with one label: each gets its own array
            array = array.copy()
        used.add((layer, value))
        if reference is not None and (layer, value) in present and not array.any():
            raise _empty_on_reference(name, source, reference)
        masks[_unique(name, masks)] = _mask_volume(array, grid_affine, grid_frame, meta)
    return masks


def _crop_to_labels(data: np.ndarray, affine: np.ndarray, layers: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """``data[..., layers]`` cropped to the box of its non-zero voxels, and the affine of that box.

    All-zero layers are returned as one voxel at the original origin (empty masks, same lattice).
    """
    from sirtkit.imaging.resample import _nonzero_range

    found = _nonzero_range(_any_label(data, layers))
    lo, hi = found if found is not None else (np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64))
    box = tuple(slice(int(a), int(b) + 1) for a, b in zip(lo, hi, strict=True))
    cropped_affine = affine.copy()
    cropped_affine[:3, 3] = affine[:3, :3] @ lo.astype(np.float64) + affine[:3, 3]
    return data[box], cropped_affine


def _any_label(data: np.ndarray, layers: Sequence[int]) -> np.ndarray:
    """Boolean 3-D map of voxels labelled in any of ``layers`` of ``data`` (layer axis last).

    When the layers are all of a C-contiguous array and fill 1, 2, 4 or 8 bytes per voxel (a Slicer
    ``.seg.nrrd`` with up to 8 uint8 layers), each voxel's labels are read as one unsigned integer: one
    contiguous comparison instead of one strided comparison per layer.

    Examples
    --------
    >>> d = np.zeros((1, 2, 2, 4), np.uint8); d[0, 1, 0, 3] = 7
    >>> _any_label(d, [0, 1, 2, 3]).tolist(), _any_label(d, [0, 1]).any()
    ([[[False, False], [True, False]]], np.False_)
    """
    width = data.shape[-1] * data.dtype.itemsize
    if (list(layers) == list(range(data.shape[-1])) and data.flags.c_contiguous and width in (1, 2, 4, 8)
            and np.issubdtype(data.dtype, np.integer)):
        return data.view(f"u{width}")[..., 0] != 0
    out = data[..., layers[0]] != 0
    for layer in layers[1:]:
        out |= data[..., layer] != 0
    return out


def _label_counts(arr: np.ndarray, values: Sequence[int]) -> dict[int, int]:
    """Number of voxels of each of ``values`` in the integer label array ``arr`` (one pass for small labels).

    Examples
    --------
    >>> _label_counts(np.array([[0, 2], [2, 5]], dtype=np.uint8), [2, 5, 7])
    {2: 2, 5: 1, 7: 0}
    """
    flat = arr.view(np.uint8).ravel() if arr.dtype == np.bool_ else arr.ravel()
    counts = _small_label_counts(flat)
    if counts is not None:
        return {v: int(counts[v]) if 0 <= v < counts.size else 0 for v in values}
    return {v: int(np.count_nonzero(flat == v)) for v in values}


# Label values are counted a block at a time: np.bincount casts its input to intp, which for a whole
# 512 × 512 × 112 uint8 layer is a 235 MB temporary (page faults cost more than the counting).
_BINCOUNT_BLOCK = 1 << 20


def _small_label_counts(flat: np.ndarray) -> np.ndarray | None:
    """Occurrences of each value 0…max of a 1-D non-negative integer array of ≤ 16-bit labels (``None`` for
    other arrays), counted block by block."""
    if not (flat.size and np.issubdtype(flat.dtype, np.integer) and flat.dtype.itemsize <= 2):
        return None
    if int(flat.min()) < 0:
        return None
    counts = np.zeros(int(flat.max()) + 1, dtype=np.int64)
    for start in range(0, flat.size, _BINCOUNT_BLOCK):
        block = np.bincount(flat[start:start + _BINCOUNT_BLOCK])
        counts[:block.size] += block
    return counts


def _present_labels(arr: np.ndarray) -> list[int]:
    """Non-zero values of an integer label array, ascending (``np.unique`` without the sort for small labels)."""
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    counts = _small_label_counts(arr.ravel())
    if counts is not None:
        return [int(v) for v in np.flatnonzero(counts) if v != 0]
    return [int(v) for v in np.unique(arr) if v != 0]


def _labelmap_masks(labelmap: Volume, labels: Mapping[int, str] | None, reference: Volume | None = None,
                    source: str = "the label map", native: dict[str, Volume] | None = None,
                    native_volumes_ml: dict[str, float] | None = None, crop_native: bool = False
                    ) -> dict[str, Volume]:
    arr = labelmap.array
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        if not np.all(np.mod(arr, 1) == 0):
            raise InputError(
                f"label map {labelmap.metadata.get('source_files')} has non-integer values: it is an image, "
                "not a segmentation"
            )
        arr = arr.astype(np.int64)
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    present = _present_labels(arr)
    if labels is not None:
        missing = [v for v in labels if v not in present]
        if missing:
            raise InputError(
                f"labels {missing} ({[labels[v] for v in missing]}) do not occur in the label map "
                f"{labelmap.metadata.get('source_files')} (present: {present}); check the mapping"
            )
    segments: list[tuple[str, int, int, dict[str, Any]]] = []
    taken: dict[str, None] = {}
    for value in present:
        if labels is not None and value not in labels:
            logger.info("label %d has no name in the mapping; skipped", value)
            continue
        name = _unique(labels[value] if labels is not None else f"label_{value}", taken)
        taken[name] = None
        segments.append((name, 0, value, {**labelmap.metadata, "label_value": value}))
    return _layer_masks(arr[..., np.newaxis], labelmap.affine, segments, reference, source,
                        labelmap.frame_of_reference_uid, native=native, native_volumes_ml=native_volumes_ml,
                        crop_native=crop_native)


def _empty_on_reference(name: str, source: str, reference: Volume) -> GeometryError:
    return GeometryError(
        f"segment {name!r} of {source} is empty on the reference grid (spacing {reference.spacing_mm} "
        "mm): it is smaller than half a voxel or lies outside the image; check the pairing of image and "
        "segmentation"
    )


# What highdicom and pydicom raise for a SEG with a missing, malformed or truncated attribute (found by the
# input fuzzer, benchmarks/fuzz_inputs.py): the file's fault, reported naming the file.
def _seg_decode_errors() -> tuple[type[BaseException], ...]:
    import pydicom

    return (AttributeError, KeyError, IndexError, TypeError, ValueError, RuntimeError, NotImplementedError,
            EOFError, OverflowError, struct.error, pydicom.errors.BytesLengthException,
            sqlite3.Error)  # highdicom indexes frames in SQLite


def _read_dicom_seg(ds: pydicom.Dataset, path: Path) -> dict[str, Volume]:
    import highdicom as hd

    try:
        seg = hd.seg.Segmentation.from_dataset(ds)
        numbers = list(seg.segment_numbers)
    except _seg_decode_errors() as err:
        raise DicomInputError(
            f"{path}: not a usable DICOM SEG ({type(err).__name__}: {str(err)[:200]}); a required attribute is "
            "missing or malformed, or the file is truncated: export the segmentation again"
        ) from err
    try:
        hvol = seg.get_volume(segment_numbers=numbers, dtype=np.uint8)
    except _seg_decode_errors() as err:
        raise DicomInputError(
            f"{path}: DICOM SEG frames do not form a regular 3-D volume ({type(err).__name__}: {str(err)[:200]}); "
            "convert it with 3D Slicer"
        ) from err
    array = np.asarray(hvol.array)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    affine = np.asarray(hvol.affine, dtype=np.float64)
    array, affine = _slices_along_normal(array, affine)
    frame = str(ds.FrameOfReferenceUID) if "FrameOfReferenceUID" in ds else None
    masks: dict[str, Volume] = {}
    for channel, number in enumerate(numbers):
        name = str(seg.get_segment_description(number).segment_label)
        meta = {"source_files": [str(path)], "segment_number": number}
        masks[_unique(name, masks)] = _mask_volume(array[..., channel] > 0, affine, frame, meta)
    return masks


def _slices_along_normal(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flip the slice axis so that slices run along row cosine × column cosine (as read_dicom_series does)."""
    normal = np.cross(affine[:3, 2], affine[:3, 1])
    if float(affine[:3, 0] @ normal) >= 0:
        return array, affine
    flipped = affine.copy()
    flipped[:3, 3] = affine[:3, 3] + affine[:3, 0] * (array.shape[0] - 1)
    flipped[:3, 0] = -affine[:3, 0]
    return np.ascontiguousarray(array[::-1]), flipped


def _read_rtstruct(path: Path, reference: Volume | None, images: Sequence[Volume]) -> dict[str, Volume]:
    """RTSTRUCT → masks on the image the contours were drawn on (:mod:`sirtkit.imaging.rtstruct`)."""
    from sirtkit.imaging.rtstruct import read_rtstruct

    result = read_rtstruct(path, images=images, target=reference)
    for message in result.warnings:
        logger.warning("%s", message)
    return result.masks


def read_segmentation(
    path: str | Path,
    reference: Volume | None = None,
    *,
    labels: Mapping[int, str] | None = None,
    images: Sequence[Volume] = (),
) -> dict[str, Volume]:
    """Read a segmentation file into ``{name: boolean mask Volume}``.

    Parameters
    ----------
    path
        ``.seg.nrrd`` (3D Slicer), label-map ``.nrrd``/``.nii``/``.nii.gz``, or a DICOM SEG / RTSTRUCT file.
    reference
        Grid to put every mask on (resampled when it differs).
    labels
        For label maps: ``{label value: name}``; values not in the mapping are skipped.
    images
        RTSTRUCT only: images that may be the one the contours were drawn on (e.g. the CT); the contours are
        rasterised on that image (found by series UID, or in the RTSTRUCT's folder) and then resampled.

    Returns
    -------
    dict[str, Volume]
        Boolean masks (quantity ``"mask"``) in file order.

    Raises
    ------
    InputError
        Missing or unreadable file, RTSTRUCT whose drawing image is not found, label mapping that does not fit.
    GeometryError
        Frames of reference differ, grids do not overlap, or a segment becomes empty on ``reference``.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such segmentation file; check the path")
    name = p.name.lower()
    if name.endswith((".nrrd", ".nhdr")):
        try:  # on the reference grid when given
            return _read_slicer_or_labelmap_nrrd(p, labels, reference)
        except GeometryError as err:  # the Volume's own checks do not know the file
            raise err if str(p) in str(err) else GeometryError(f"{p}: {err}") from err
    if name.endswith((".nii", ".nii.gz")):
        return _labelmap_masks(read_volume(p), labels, reference, str(p))
    else:
        import pydicom

        try:
            ds = pydicom.dcmread(p)
            modality = str(ds.get("Modality", ""))
        except (pydicom.errors.InvalidDicomError, OSError, EOFError, ValueError, NotImplementedError, MemoryError,
                struct.error, pydicom.errors.BytesLengthException) as err:
            raise DicomInputError(
                f"{p}: not a readable DICOM file ({type(err).__name__}: {str(err)[:200]}); give a .seg.nrrd, NIfTI, "
                "SEG or RTSTRUCT"
            ) from err
        if modality == "SEG":
            masks = _read_dicom_seg(ds, p)
        elif modality == "RTSTRUCT":
            masks = _read_rtstruct(p, reference, images)
        else:
            raise DicomInputError(f"{p}: Modality (0008,0060) is {modality[:40]!r}; expected SEG or RTSTRUCT")
    if reference is None:
        return masks
    return masks_onto(masks, reference, source=str(p))


def masks_onto(masks: Mapping[str, Volume], reference: Volume, *, source: str = "the segmentation") -> dict[
        str, Volume]:
    """Resample masks onto ``reference`` (voxel inside when at least half covered, :func:`resample_to`).

    Raises
    ------
    GeometryError
        A non-empty segment becomes empty on ``reference`` (smaller than half a voxel, or outside the image).
    """
    out: dict[str, Volume] = {}
    for seg_name, mask in masks.items():
        resampled = resample_to(mask, reference)
        if mask.array.any() and not resampled.array.any():
            raise _empty_on_reference(seg_name, source, reference)
        out[seg_name] = resampled
    return out


def read_segmentation_on_grid(path: str | Path, reference: Volume, *, labels: Mapping[int, str] | None = None,
                              crop_native: bool = False) -> tuple[dict[str, Volume], dict[str, Volume]]:
    """Masks on their own grid and on ``reference`` from one reading of the file.

    The same masks as ``read_segmentation(path, labels=labels)`` and :func:`masks_onto` of those onto
    ``reference``; for ``.seg.nrrd`` and label maps the file is decoded once and the reference-grid masks
    come from :func:`sirtkit.imaging.resample.labels_onto` (identical, without resampling each full-size
    mask). Segments empty in the file are empty (all False) on both grids. ``crop_native``: for
    ``.seg.nrrd`` and label maps, the own-grid masks cover only the box holding all labelled voxels (same
    voxels and lattice, a smaller array; every own-grid mask on that one box).

    Raises
    ------
    InputError, GeometryError
        As :func:`read_segmentation` and :func:`masks_onto`.
    """
    p = Path(path)
    native: dict[str, Volume] = {}
    on_grid = _label_file_on_grid(p, reference, labels, native=native, crop_native=crop_native)
    if on_grid is not None:
        return native, on_grid
    native = read_segmentation(p, labels=labels)
    return native, masks_onto({n: m for n, m in native.items() if m.array.any()}, reference, source=str(p))


def read_segmentation_volumes_on_grid(path: str | Path, reference: Volume, *, labels: Mapping[int, str] | None = None
                                      ) -> tuple[dict[str, float], dict[str, Volume]]:
    """Each segment's volume on its own grid (mL) and the masks on ``reference``, from one reading.

    :func:`read_segmentation_on_grid` without keeping the own-grid masks: for ``.seg.nrrd``, NRRD and
    NIfTI label maps the own-grid voxels are counted per label value in the decoded layers (one ``bincount``
    per layer) instead of building a full-size mask per segment; other formats count their own-grid
    masks. The volumes equal ``count_nonzero(mask) × voxel volume`` of those masks exactly.

    Raises
    ------
    InputError, GeometryError
        As :func:`read_segmentation_on_grid`.
    """
    p = Path(path)
    volumes: dict[str, float] = {}
    on_grid = _label_file_on_grid(p, reference, labels, native_volumes_ml=volumes)
    if on_grid is not None:
        return volumes, on_grid
    native, on_grid = read_segmentation_on_grid(p, reference, labels=labels)
    return {n: float(np.count_nonzero(m.array)) * m.voxel_volume_ml for n, m in native.items()}, on_grid


def _label_file_on_grid(p: Path, reference: Volume, labels: Mapping[int, str] | None, *,
                        native: dict[str, Volume] | None = None, native_volumes_ml: dict[str, float] | None = None,
                        crop_native: bool = False) -> dict[str, Volume] | None:
    """Masks on ``reference`` of a ``.seg.nrrd``, NRRD or NIfTI label map decoded once, filling ``native`` /
    ``native_volumes_ml`` from the same layers (see :func:`_layer_masks`); ``None`` for other formats."""
    lower = p.name.lower()
    if not (p.is_file() and lower.endswith((".nrrd", ".nhdr", ".nii", ".nii.gz"))):
        return None
    if lower.endswith((".nii", ".nii.gz")):
        return _labelmap_masks(read_volume(p), labels, reference, str(p), native, native_volumes_ml, crop_native)
    try:
        return _read_slicer_or_labelmap_nrrd(p, labels, reference, native, native_volumes_ml, crop_native)
    except GeometryError as err:  # the Volume's own checks do not know the file
        raise err if str(p) in str(err) else GeometryError(f"{p}: {err}") from err


def masks_to_labelmap(masks: Mapping[str, Volume]) -> tuple[Volume, dict[int, str]]:
    """Combine masks on one grid into a label map (uint16) and its ``{label: name}`` mapping.

    Labels are 1, 2, ... in the order of ``masks``; where masks overlap, the **later** one wins (put the
    liver before the tumours). A mask that ends up with no voxel of its own raises an error.

    Raises
    ------
    GeometryError
        If the masks are on different grids, or a mask is completely hidden by later ones.

    Examples
    --------
    >>> import numpy as np
    >>> a = Volume.from_spacing(np.ones((1, 2, 2), bool), spacing_mm=(1, 1, 1))
    >>> b = a.with_array(np.array([[[True, False], [False, False]]]))
    >>> lab, names = masks_to_labelmap({"liver": a, "tumor": b})
    >>> lab.array.tolist(), names
    ([[[2, 1], [1, 1]]], {1: 'liver', 2: 'tumor'})
    """
    if not masks:
        raise InputError("masks_to_labelmap needs at least one mask")
    items = list(masks.items())
    first = items[0][1]
    out = np.zeros(first.shape, dtype=np.uint16)
    mapping: dict[int, str] = {}
    for label, (name, mask) in enumerate(items, start=1):
        require_same_grid(first, mask, f"mask {name!r}")
        out[np.asarray(mask.array, dtype=bool)] = label
        mapping[label] = name
    for label, name in mapping.items():
        if masks[name].array.any() and not np.any(out == label):
            raise GeometryError(f"mask {name!r} is completely covered by later masks; reorder the masks")
    return Volume(out, first.affine, "label", "1", first.frame_of_reference_uid, {"labels": dict(mapping)}), mapping


def write_dicom_seg(
    masks: Mapping[str, Volume],
    source_images: Sequence[pydicom.Dataset],
    path: str | Path,
    *,
    series_description: str = "sirtkit segmentation",
    series_number: int = 900,
    roles: Mapping[str, str] | None = None,
) -> Path:
    """Write masks as a BINARY DICOM SEG; see :func:`sirtkit.imaging.dicom_out.write_dicom_seg`."""
    from sirtkit.imaging.dicom_out import write_dicom_seg as _write

    return _write(masks, source_images, path, series_description=series_description, series_number=series_number,
                  roles=roles)

