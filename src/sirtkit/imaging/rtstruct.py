"""DICOM RTSTRUCT: read and validate planar contours, and rasterise them on the image they were drawn on.

Interpretation (documented for users in ``docs/imaging.md``, "RTSTRUCT rasterisation"):

* **Which contours.** ``CLOSED_PLANAR`` and ``CLOSED_PLANAR_XOR`` contours make volumes; ``POINT``,
  ``OPEN_PLANAR`` and ``OPEN_NONPLANAR`` contours enclose nothing and are skipped (noted). A closed
  contour with fewer than three points, or with zero area, encloses nothing and is skipped (noted).
* **Validation.** Every used contour must have Contour Data (3006,0050) with a positive multiple of three
  finite numbers. Contour Data that a writer had to store as VR UN (over 64 KB in explicit VR) is decoded
  as the data dictionary says (DS, backslash-separated decimal strings). A malformed contour refuses the
  whole file with :class:`DicomInputError` naming the file, the ROI and the contour — never the
  coordinates themselves.
* **Planes and slabs.** All contours of one ROI must be parallel planes (points within
  :data:`PLANARITY_TOLERANCE_MM` of their plane). Contours whose planes lie within
  :data:`PLANE_MERGE_TOLERANCE_MM` form one contour plane. Each plane stands for a slab along the plane
  normal: Contour Slab Thickness (3006,0044) when the file gives it, otherwise the ROI's plane spacing (the
  smallest distance between consecutive contour planes of the ROI, as dicompyler-core computes a
  structure's thickness; for a one-plane ROI the image's slice spacing along the normal). A slab never
  reaches past half-way to the neighbouring plane, so slabs do not overlap, and a gap wider than the plane
  spacing is not bridged. Contour Offset Vector (3006,0045) shifts a contour's plane when given.
* **Inside a plane.** A voxel belongs to the ROI when its centre lies in the slab of a plane and its
  projection onto that plane (along the normal) is inside the plane's region. The region of a plane:
  ``CLOSED_PLANAR`` contours nested inside another contour of the plane are holes, contours nested in a
  hole are islands again (depth parity; this is what planning systems mean when they export a hole as an
  inner contour), separate or overlapping contours add (union); ``CLOSED_PLANAR_XOR`` contours are combined
  by exclusive or (PS3.3 C.8.8.6.3). Inside a polygon means crossing-number (even-odd) inside; a voxel
  centre exactly on an edge counts on the left/upper edge, not on the right/lower one, so that two
  polygons sharing an edge never both claim a voxel.
* **Grid.** Masks are computed on the image the contours were drawn on (:func:`find_drawing_image`), on
  its voxel spacing and orientation, each ROI cropped to the box holding it; contours need not lie on its
  slices and may be tilted against them (gantry tilt, sagittal or coronal contours): the slab test is
  done per voxel.

References
----------
DICOM PS3.3 C.8.8.6 (ROI Contour Module), C.8.8.6.2 (Contour Slab Thickness), C.8.8.6.3 (inner and outer
contours). dicompyler-core ``dicomparser.CalculatePlaneThickness`` (structure thickness from plane spacing).
"""

from __future__ import annotations

import logging
import os
import warnings as _warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.multival import MultiValue

from sirtkit.errors import DicomInputError, GeometryError, InputError
from sirtkit.imaging.volume import Volume
from sirtkit.text import dicom_text

__all__ = [
    "MAX_SEARCH_FILES",
    "PLANARITY_TOLERANCE_MM",
    "PLANE_MERGE_TOLERANCE_MM",
    "Contour",
    "Roi",
    "RtStructMasks",
    "StructureSet",
    "find_drawing_image",
    "rasterise_structure_set",
    "read_rtstruct",
    "read_structure_set",
]

logger = logging.getLogger(__name__)

# Contour points may lie this far from the plane of their ROI (mm). Planning systems write coordinates to
# 0.01 mm or better (DS ≤ 16 characters); 0.25 mm is a quarter of the thinnest clinical CT slice (1 mm
# class) and far above rounding, so only truly non-planar or non-parallel contours are refused.
PLANARITY_TOLERANCE_MM = 0.25
# Contours whose planes are closer than this are on one plane (rounding of coordinates, ≤ 0.01 mm).
PLANE_MERGE_TOLERANCE_MM = 0.05
# Slab edges are half-open [low, high); this allowance (mm) absorbs float rounding of slice positions so
# a voxel centre exactly half-way between two contour planes belongs to exactly one of them.
_SLAB_EDGE_EPSILON_MM = 1e-4
# Consecutive contour planes further apart than this many plane spacings leave a gap (not bridged).
_GAP_FACTOR = 1.5
# Searching a folder for the referenced image series stops after this many files (no hang on a big tree).
MAX_SEARCH_FILES = 5000
# At most this many characters of a foreign error text go into a message.
_MAX_DETAIL_CHARS = 160
# ROI Name is VR LO (PS3.5 6.2: at most 64 characters); longer names are shortened so messages stay bounded.
_MAX_NAME_CHARS = 64
# |coordinate| above this (mm) is not a position in a patient (100 m): a damaged value, refused.
_MAX_COORDINATE_MM = 1.0e5
# Vertices sampled per contour to decide whether it lies inside another contour of the plane.
_NESTING_SAMPLES = 33
# A contour enclosing less than this (mm²) is treated as a line or a point (no plane, no area).
_MIN_AREA_MM2 = 1e-6
_CLOSED_TYPES = {"CLOSED_PLANAR": False, "CLOSED_PLANAR_XOR": True}
_NOT_VOLUME_TYPES = {"POINT", "OPEN_PLANAR", "OPEN_NONPLANAR"}
_CONTOUR_DATA = 0x30060050
_NUMBER_OF_POINTS = 0x30060046


def _short(text: object) -> str:
    s = str(text)
    return s if len(s) <= _MAX_DETAIL_CHARS else s[:_MAX_DETAIL_CHARS] + "…"


# ---------------------------------------------------------------------------------------------- parse
@dataclass(frozen=True)
class Contour:
    """One closed planar contour: points in LPS mm (N, 3), already shifted by its offset vector."""

    points_mm: np.ndarray
    xor: bool = False
    slab_thickness_mm: float | None = None
    index: int = 0


@dataclass(frozen=True)
class Roi:
    """One ROI of a structure set with its closed contours."""

    number: int
    name: str
    contours: tuple[Contour, ...]


@dataclass(frozen=True)
class StructureSet:
    """What an RTSTRUCT file says, validated (no voxels yet)."""

    path: Path
    frame_of_reference_uids: tuple[str, ...]
    referenced_series_uids: tuple[str, ...]
    referenced_sop_uids: frozenset[str]
    rois: tuple[Roi, ...]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _numbers(value: Any) -> list[str]:
    """Decimal-string items of a DS value however pydicom holds it (raw bytes, UN bytes, list, scalar)."""
    if value is None:
        return []
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("ascii", errors="replace").strip(" \x00")
        return [] if text == "" else text.split("\\")
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value]
    text = str(value)
    return [] if text.strip() == "" else [text]


def _contour_points(item: pydicom.Dataset, where: str) -> np.ndarray:
    """Contour Data (3006,0050) as an (N, 3) float array, validated; bytes (VR UN) decoded as DS."""
    if _CONTOUR_DATA not in item:
        raise DicomInputError(f"{where} has no Contour Data (3006,0050); re-export the structure set")
    element = item.get_item(_CONTOUR_DATA)
    raw_value = getattr(element, "value", None)
    parts = _numbers(raw_value)
    if not parts:
        raise DicomInputError(f"{where}: Contour Data (3006,0050) is empty; re-export the structure set")
    if len(parts) % 3 != 0:
        raise DicomInputError(
            f"{where}: Contour Data (3006,0050) holds {len(parts)} numbers, not a multiple of 3 (x, y, z per "
            "point): the file is damaged; re-export the structure set")
    try:
        values = np.array([p.strip() for p in parts], dtype=np.float64)
    except ValueError:
        bad = next(n for n, p in enumerate(parts) if not _is_number(p))
        raise DicomInputError(
            f"{where}: Contour Data (3006,0050) value {bad + 1} of {len(parts)} is not a number "
            f"({_short(repr(parts[bad].strip()[:24]))}); re-export the structure set") from None
    finite = np.isfinite(values)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise DicomInputError(
            f"{where}: Contour Data (3006,0050) value {bad + 1} of {len(parts)} is {float(values[bad])} (not finite); "
            "re-export the structure set")
    if np.max(np.abs(values)) > _MAX_COORDINATE_MM:
        bad = int(np.argmax(np.abs(values)))
        raise DicomInputError(
            f"{where}: Contour Data (3006,0050) value {bad + 1} of {len(parts)} is {float(values[bad]):.3g} mm, "
            f"beyond ±{_MAX_COORDINATE_MM:.0e} mm: not a position in a patient; re-export the structure set")
    return values.reshape(-1, 3)


def _is_number(text: str) -> bool:
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


def _optional_float(item: pydicom.Dataset, keyword: str, where: str) -> float | None:
    if keyword not in item:
        return None
    parts = _numbers(item.get_item(keyword).value)
    if not parts:
        return None
    try:
        value = float(parts[0])
    except ValueError:
        raise DicomInputError(f"{where}: {keyword} is not a number; remove it or re-export") from None
    if not np.isfinite(value) or value <= 0:
        raise DicomInputError(f"{where}: {keyword} = {value!r} must be a positive finite thickness in mm")
    return value


def _offset(item: pydicom.Dataset, where: str) -> np.ndarray | None:
    if "ContourOffsetVector" not in item:
        return None
    parts = _numbers(item.get_item("ContourOffsetVector").value)
    try:
        vec = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        raise DicomInputError(f"{where}: Contour Offset Vector (3006,0045) is not 3 numbers") from None
    if vec.shape != (3,) or not np.all(np.isfinite(vec)):
        raise DicomInputError(f"{where}: Contour Offset Vector (3006,0045) is not 3 finite numbers")
    return vec


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise DicomInputError(f"{what} = {_short(repr(value))[:40]} is not an integer") from None


def read_structure_set(path: str | Path) -> StructureSet:
    """Read and validate an RTSTRUCT file (contours, ROI names, references); no rasterisation.

    Raises
    ------
    DicomInputError
        Not a readable RTSTRUCT, or a contour that cannot be used (message names file, ROI, contour).
    """
    p = Path(path)
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(p)
            structure = _parse(ds, p)
        except DicomInputError:
            raise
        except Exception as err:  # pydicom and malformed sequences raise many types
            raise DicomInputError(
                f"{p}: cannot read this RTSTRUCT ({type(err).__name__}: {_short(err)}); re-export it") from err
    for w in caught:
        logger.info("%s: %s", p, _short(w.message))
    return structure


def _parse(ds: pydicom.Dataset, p: Path) -> StructureSet:
    modality = str(ds.get("Modality", ""))
    if modality != "RTSTRUCT":
        raise DicomInputError(f"{p}: Modality (0008,0060) is {_short(modality)[:20]!r}; expected RTSTRUCT")
    notes: list[str] = []
    warnings: list[str] = []
    frames: list[str] = []
    series: list[str] = []
    sops: set[str] = set()
    for ref in ds.get("ReferencedFrameOfReferenceSequence") or []:
        if "FrameOfReferenceUID" in ref:
            frames.append(str(ref.FrameOfReferenceUID))
        for study in ref.get("RTReferencedStudySequence") or []:
            for s in study.get("RTReferencedSeriesSequence") or []:
                if "SeriesInstanceUID" in s:
                    series.append(str(s.SeriesInstanceUID))
                for img in s.get("ContourImageSequence") or []:
                    if "ReferencedSOPInstanceUID" in img:
                        sops.add(str(img.ReferencedSOPInstanceUID))
    names: dict[int, str] = {}
    for n, item in enumerate(ds.get("StructureSetROISequence") or [], start=1):
        number = _int(item.get("ROINumber"), f"{p}: Structure Set ROI item {n}, ROI Number (3006,0022)")
        name = dicom_text(item.get("ROIName")) or f"ROI {number}"  # a backslash in the name made it two values
        if len(name) > _MAX_NAME_CHARS:
            warnings.append(f"ROI {number}: name longer than {_MAX_NAME_CHARS} characters (VR LO); shortened.")
            name = name[:_MAX_NAME_CHARS] + "…"
        names[number] = name
        if "ReferencedFrameOfReferenceUID" in item:
            frames.append(str(item.ReferencedFrameOfReferenceUID))
    rois: list[Roi] = []
    seen: set[int] = set()
    for n, roi in enumerate(ds.get("ROIContourSequence") or [], start=1):
        number = _int(roi.get("ReferencedROINumber"), f"{p}: ROI Contour item {n}, Referenced ROI Number (3006,0084)")
        name = names.get(number, f"ROI {number}")
        seen.add(number)
        contours: list[Contour] = []
        skipped: dict[str, int] = {}
        counted_mismatch = 0
        for c_index, item in enumerate(roi.get("ContourSequence") or [], start=1):
            where = f"{p}: ROI {name!r} (number {number}), contour {c_index}"
            kind = str(item.get("ContourGeometricType", "") or "").strip().upper()
            if kind in _NOT_VOLUME_TYPES:
                skipped[kind] = skipped.get(kind, 0) + 1
                continue
            if kind not in _CLOSED_TYPES:
                raise DicomInputError(
                    f"{where}: Contour Geometric Type (3006,0042) is {_short(kind)[:30]!r}; expected CLOSED_PLANAR "
                    "(or POINT, OPEN_PLANAR, OPEN_NONPLANAR, CLOSED_PLANAR_XOR); re-export the structure set")
            points = _contour_points(item, where)
            if _NUMBER_OF_POINTS in item:
                declared = _numbers(item.get_item(_NUMBER_OF_POINTS).value)
                if declared and declared[0].strip().lstrip("-").isdigit() and int(declared[0]) != len(points):
                    counted_mismatch += 1
            for img in item.get("ContourImageSequence") or []:
                if "ReferencedSOPInstanceUID" in img:
                    sops.add(str(img.ReferencedSOPInstanceUID))
            offset = _offset(item, where)
            if offset is not None:
                points = points + offset
            contours.append(Contour(points, _CLOSED_TYPES[kind], _optional_float(item, "ContourSlabThickness", where),
                                    c_index))
        if skipped:
            notes.append(f"ROI {name!r}: " + ", ".join(f"{v} {k} contour(s)" for k, v in sorted(skipped.items()))
                         + " enclose no volume and were not used.")
        if counted_mismatch:
            warnings.append(f"ROI {name!r}: {counted_mismatch} contour(s) whose Number of Contour Points (3006,0046) "
                            "differs from the points in Contour Data; the points in Contour Data were used.")
        rois.append(Roi(number, name, tuple(contours)))
    for number, name in names.items():
        if number not in seen:
            warnings.append(f"ROI {name!r} of {p.name} has no contours and is not used.")
    return StructureSet(p, tuple(dict.fromkeys(frames)), tuple(dict.fromkeys(series)), frozenset(sops),
                        tuple(rois), tuple(notes), tuple(warnings))


# ------------------------------------------------------------------------------------- drawing image
def _files_below(folder: Path, limit: int) -> Iterable[Path]:
    """Files under ``folder`` (sorted per directory, hidden ones skipped), at most ``limit`` of them."""
    count = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            count += 1
            if count > limit:
                logger.info("%s: stopped searching after %d files", folder, limit)
                return
            yield Path(root) / name


def _dicom_headers(folder: Path, limit: int) -> Iterable[tuple[Path, pydicom.Dataset]]:
    for f in _files_below(folder, limit):
        try:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                ds = pydicom.dcmread(f, stop_before_pixels=True,
                                     specific_tags=["SeriesInstanceUID", "SOPInstanceUID", "Modality"])
        except Exception:  # not DICOM, or broken: not the series we look for
            continue
        yield f, ds


def _search_series(folders: Sequence[Path], series_uids: Sequence[str], sop_uids: frozenset[str],
                   limit: int) -> tuple[Path, str] | None:
    """(deepest folder holding the files, series UID) of the first referenced image series found."""
    for folder in folders:
        if not folder.is_dir():
            continue
        hits: dict[str, list[Path]] = {}
        for f, ds in _dicom_headers(folder, limit):
            if str(ds.get("Modality", "")) in ("RTSTRUCT", "RTDOSE", "RTPLAN", "SEG", "SR", "REG"):
                continue
            uid = str(ds.get("SeriesInstanceUID", ""))
            if uid in series_uids or (not series_uids and str(ds.get("SOPInstanceUID", "")) in sop_uids):
                hits.setdefault(uid, []).append(f)
        for uid in [*series_uids, *hits]:
            if uid in hits:
                files = hits[uid]
                common = Path(*Path(files[0]).parent.parts)
                for f in files[1:]:
                    while common not in f.parents:
                        common = common.parent
                return common, uid
    return None


def _default_search_folders(path: Path, images: Sequence[Volume]) -> list[Path]:
    """The RTSTRUCT's folder (and the one above when it is alone there), and the study folder of each given
    DICOM image (the folder above its series folder)."""
    here = path.parent
    folders = [here]
    others = [f for f in here.iterdir() if f.is_file() and f != path and not f.name.startswith(".")]
    if not others:
        folders.append(here.parent)
    for image in images:
        files = image.metadata.get("source_files") or []
        if image.metadata.get("series_instance_uid") and files:
            study = Path(files[0]).parent.parent
            if all(study != f and study not in f.parents for f in folders):
                folders.append(study)
    return folders


def find_drawing_image(
    structure: StructureSet,
    images: Sequence[Volume] = (),
    *,
    target: Volume | None = None,
    search_folders: Sequence[Path] | None = None,
) -> tuple[Volume, list[str], list[str]]:
    """The image the contours were drawn on: (volume, notes, warnings).

    Order: a given image (``images``, then ``target``) whose SeriesInstanceUID is the referenced series; the
    referenced series found by header search in ``search_folders`` (default: the RTSTRUCT's folder, the
    folder above it when the RTSTRUCT is alone in its folder, and the study folder above each given DICOM
    series, e.g. the emission's); an image of ``images`` on the same frame of
    reference (with a warning when the RTSTRUCT names another series).

    Raises
    ------
    DicomInputError
        No such image: the message names the series and says to give it with ``--ct``.
    """
    from sirtkit.imaging.files import read_volume

    refs = structure.referenced_series_uids
    frames = set(structure.frame_of_reference_uids)
    notes: list[str] = []
    warnings: list[str] = []
    candidates = [*images, *([target] if target is not None else [])]
    for image in candidates:
        uid = image.metadata.get("series_instance_uid")
        if uid and uid in refs:
            notes.append(f"RTSTRUCT contours rasterised on the series they were drawn on ({_describe(image)}).")
            return image, notes, warnings
    if search_folders is None:
        search_folders = _default_search_folders(structure.path, candidates)
    if refs or structure.referenced_sop_uids:
        found = _search_series(search_folders, refs, structure.referenced_sop_uids, MAX_SEARCH_FILES)
        if found is not None:
            folder, uid = found
            image = read_volume(folder, series_instance_uid=uid)
            notes.append(f"RTSTRUCT contours rasterised on the series they were drawn on, found in {folder} "
                         f"({_describe(image)}).")
            return image, notes, warnings
    for image in images:
        frame = image.frame_of_reference_uid
        if frames and frame and frame not in frames:
            continue
        if refs:
            warnings.append(
                f"{structure.path.name} names series {_uids(refs)} as the image its contours were drawn on; "
                f"they were rasterised on the given image ({_describe(image)}) instead, on the same frame of "
                "reference. Check the per-VOI volume comparison.")
        else:
            notes.append(f"RTSTRUCT names no image series; contours rasterised on the given image ({_describe(image)}).")
        return image, notes, warnings
    wanted = f"series {_uids(refs)}" if refs else "the image series its contours were drawn on (not named in the file)"
    where = ", ".join(str(f) for f in search_folders)
    given = ""
    if images:
        given = (" The given image is on frame of reference "
                 f"{_uids([str(images[0].frame_of_reference_uid)])}, the RTSTRUCT on {_uids(sorted(frames)) or 'none'}.")
    raise DicomInputError(
        f"{structure.path}: an RTSTRUCT holds polygons, which are rasterised on the image they were drawn on: "
        f"{wanted}, not found among the given images or in {where} (at most {MAX_SEARCH_FILES} files searched)."
        f"{given} Give that CT with --ct (its DICOM "
        "folder), or put its folder next to the RTSTRUCT.")


def _describe(image: Volume) -> str:
    sk, sj, si = image.spacing_mm
    modality = image.metadata.get("modality") or image.quantity
    return f"{modality}, {image.shape[0]} slices, {sj:.2f} × {si:.2f} mm pixels, {sk:.2f} mm slice spacing"


def _uids(uids: Iterable[str]) -> str:
    """At most three UIDs, each at most 64 characters (VR UI), for a message."""
    items = [u[:64] for u in uids]
    return ", ".join(items[:3]) + (f" (+{len(items) - 3} more)" if len(items) > 3 else "")


# ----------------------------------------------------------------------------------------- rasterise
@dataclass(frozen=True)
class RtStructMasks:
    """ROI masks on the drawing image's grid (cropped to the ROIs), with the contours' own volumes."""

    masks: dict[str, Volume]
    contour_volumes_ml: dict[str, float]
    drawing_image: Volume | None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


def _newell(points: np.ndarray) -> np.ndarray:
    """Area vector of a closed polygon (normal × 2·area) by Newell's method."""
    centred = points - points.mean(axis=0)
    return np.cross(centred, np.roll(centred, -1, axis=0)).sum(axis=0)


def _plane_vector(points: np.ndarray) -> np.ndarray | None:
    """Normal × 2·area of a contour (Newell); for a self-intersecting contour whose signed areas cancel
    (a figure-of-eight) the plane's unit normal × 1e-6; ``None`` when the points do not span a plane."""
    if points.shape[0] < 3:
        return None
    vector = _newell(points)
    if np.linalg.norm(vector) / 2.0 >= _MIN_AREA_MM2:
        return vector
    _, singular, vt = np.linalg.svd(points - points.mean(axis=0), full_matrices=False)
    if singular.size < 3 or singular[1] < _MIN_AREA_MM2:
        return None
    return vt[2] * _MIN_AREA_MM2


def _points_in_polygon(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Crossing-number test of 2-D points (m, 2) against a polygon (n, 2); chunked over edges."""
    inside = np.zeros(points.shape[0], dtype=bool)
    a = poly
    b = np.roll(poly, -1, axis=0)
    px, py = points[:, 0][:, None], points[:, 1][:, None]
    chunk = 20000
    for start in range(0, a.shape[0], chunk):
        ay, ax = a[start:start + chunk, 1][None, :], a[start:start + chunk, 0][None, :]
        by, bx = b[start:start + chunk, 1][None, :], b[start:start + chunk, 0][None, :]
        crosses = (ay > py) != (by > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = ax + (py - ay) * (bx - ax) / (by - ay)
        inside ^= (np.count_nonzero(crosses & (px < x_at), axis=1) % 2).astype(bool)
    return inside


def _fill(pj: np.ndarray, pi: np.ndarray, j0: int, i0: int, nj: int, ni: int) -> np.ndarray:
    """Even-odd scanline fill of one polygon (vertex rows ``pj``, columns ``pi``, continuous index) on the
    window rows ``j0..j0+nj-1``, columns ``i0..i0+ni-1``: True where the voxel centre is inside."""
    aj, ai = pj, pi
    bj, bi = np.roll(pj, -1), np.roll(pi, -1)
    lo, hi = np.minimum(aj, bj), np.maximum(aj, bj)
    # an edge crosses row r when lo <= r < hi (half-open: vertices on a row are counted once)
    r_start = np.maximum(np.ceil(lo), j0).astype(np.int64)
    r_stop = np.minimum(np.ceil(hi), j0 + nj).astype(np.int64)
    counts = np.maximum(r_stop - r_start, 0)
    total = int(counts.sum())
    out = np.zeros((nj, ni), dtype=bool)
    if total == 0:
        return out
    edge = np.repeat(np.arange(aj.size), counts)
    first = np.cumsum(counts) - counts
    rows = r_start[edge] + (np.arange(total) - first[edge])
    with np.errstate(divide="ignore", invalid="ignore"):
        x = ai[edge] + (rows - aj[edge]) * (bi[edge] - ai[edge]) / (bj[edge] - aj[edge])
    # a crossing at column position x toggles every column c >= x (c = centre index)
    col = np.clip(np.ceil(x) - i0, 0, ni).astype(np.int64)
    toggles = np.bincount((rows - j0) * (ni + 1) + col, minlength=nj * (ni + 1)).reshape(nj, ni + 1)
    return (np.cumsum(toggles[:, :ni], axis=1) & 1).astype(bool)


@dataclass
class _Plane:
    position_mm: float
    contours: list[Contour]
    low_mm: float = 0.0
    high_mm: float = 0.0
    depth: list[int] = field(default_factory=list)


def _slice_spacing_along(grid: Volume, normal: np.ndarray) -> float:
    """Distance between the grid's lattice planes perpendicular to ``normal`` that are closest (mm)."""
    inv = np.linalg.inv(grid.affine[:3, :3])
    # index change per mm along the normal; the grid's planes of constant k are 1/|∇k · n| apart, etc.
    steps = [1.0 / abs(float(inv[a] @ normal)) for a in range(3) if abs(float(inv[a] @ normal)) > 1e-9]
    return float(min(steps)) if steps else float(min(grid.spacing_mm))


def _roi_planes(roi: Roi, grid: Volume, path: Path, notes: list[str]) -> tuple[np.ndarray, list[_Plane], float] | None:
    usable = []
    vectors = []
    degenerate = 0
    for c in roi.contours:
        vector = _plane_vector(c.points_mm)
        if vector is None:
            degenerate += 1
            continue
        usable.append(c)
        vectors.append(vector)
    if degenerate:
        notes.append(f"ROI {roi.name!r}: {degenerate} closed contour(s) with fewer than 3 points or all points on "
                     "one line were not used.")
    if not usable:
        return None
    reference = max(vectors, key=lambda v: float(np.linalg.norm(v)))
    normal = np.sum([v if float(v @ reference) >= 0 else -v for v in vectors], axis=0)
    normal = normal / np.linalg.norm(normal)
    positions = []
    for c in usable:
        s = c.points_mm @ normal
        centre = float(np.mean(s))
        off = float(np.max(np.abs(s - centre)))
        if off > PLANARITY_TOLERANCE_MM:
            raise GeometryError(
                f"{path}: ROI {roi.name!r}, contour {c.index}: points lie up to {off:.2f} mm off the contour's plane "
                f"(tolerance {PLANARITY_TOLERANCE_MM} mm); the contours of one ROI must be parallel planes "
                "(CLOSED_PLANAR). Re-export the structure set")
        positions.append(centre)
    order = np.argsort(positions)
    planes: list[_Plane] = []
    for idx in order:
        s = positions[idx]
        if planes and s - planes[-1].contours[-1].points_mm.mean(axis=0) @ normal <= PLANE_MERGE_TOLERANCE_MM:
            planes[-1].contours.append(usable[idx])
        else:
            planes.append(_Plane(s, [usable[idx]]))
    for plane in planes:
        plane.position_mm = float(np.mean([c.points_mm.mean(axis=0) @ normal for c in plane.contours]))
    grid_spacing = _slice_spacing_along(grid, normal)
    pos = np.array([pl.position_mm for pl in planes])
    diffs = np.diff(pos)
    spacing = float(diffs.min()) if diffs.size else grid_spacing
    gaps = int(np.count_nonzero(diffs > _GAP_FACTOR * spacing))
    if gaps:
        notes.append(f"ROI {roi.name!r}: {gaps} gap(s) between contour planes wider than its plane spacing "
                     f"({spacing:.2f} mm); gaps are not bridged.")
    if diffs.size and spacing > _GAP_FACTOR * grid_spacing:
        notes.append(f"ROI {roi.name!r}: contours every {spacing:.2f} mm on an image with {grid_spacing:.2f} mm "
                     f"slices: each contour counts for a {spacing:.2f} mm slab.")
    for n, plane in enumerate(planes):
        given = [c.slab_thickness_mm for c in plane.contours if c.slab_thickness_mm is not None]
        thickness = max(given) if given else spacing
        below = (pos[n] - pos[n - 1]) / 2.0 if n > 0 else np.inf
        above = (pos[n + 1] - pos[n]) / 2.0 if n + 1 < len(planes) else np.inf
        plane.low_mm = plane.position_mm - min(thickness / 2.0, below)
        plane.high_mm = plane.position_mm + min(thickness / 2.0, above)
        plane.depth = _nesting_depths(plane.contours, normal)
    return normal, planes, spacing


def _plane_basis(normal: np.ndarray) -> np.ndarray:
    helper = np.eye(3)[int(np.argmin(np.abs(normal)))]
    u = np.cross(normal, helper)
    u /= np.linalg.norm(u)
    return np.stack([u, np.cross(normal, u)])


def _nesting_depths(contours: list[Contour], normal: np.ndarray) -> list[int]:
    """For each contour: how many other (larger) contours of the plane contain it (most of its vertices)."""
    if len(contours) == 1:
        return [0]
    basis = _plane_basis(normal)
    flat = [c.points_mm @ basis.T for c in contours]
    areas = np.array([abs(float(np.linalg.norm(_newell(c.points_mm)))) / 2.0 for c in contours])
    lo = np.array([f.min(axis=0) for f in flat])
    hi = np.array([f.max(axis=0) for f in flat])
    depths = []
    for a, pts in enumerate(flat):
        # only larger contours whose bounding box holds this one's can contain it
        candidates = np.flatnonzero((areas > areas[a]) & np.all(lo <= lo[a] + 1e-9, axis=1)
                                    & np.all(hi >= hi[a] - 1e-9, axis=1))
        take = np.linspace(0, pts.shape[0] - 1, min(_NESTING_SAMPLES, pts.shape[0])).astype(int)
        sample = pts[take]
        depth = sum(1 for b in candidates if np.mean(_points_in_polygon(sample, flat[b])) > 0.5)
        depths.append(depth)
    return depths


def _plane_region(plane: _Plane, proj: list[np.ndarray], j0: int, i0: int, nj: int, ni: int) -> np.ndarray:
    """Region of one contour plane on a slice window (depth parity for CLOSED_PLANAR, XOR for _XOR)."""
    if len(plane.contours) == 1:
        return _fill(proj[0][:, 0], proj[0][:, 1], j0, i0, nj, ni)
    depth_map = np.full((nj, ni), -1, dtype=np.int32)
    xor_map = np.zeros((nj, ni), dtype=bool)
    order = np.argsort(plane.depth, kind="stable")
    for n in order:
        contour, points = plane.contours[n], proj[n]
        filled = _fill(points[:, 0], points[:, 1], j0, i0, nj, ni)
        if contour.xor:
            xor_map ^= filled
        else:
            depth_map[filled] = np.maximum(depth_map[filled], plane.depth[n])
    return ((depth_map >= 0) & (depth_map % 2 == 0)) ^ xor_map


def _contour_volume_ml(planes: list[_Plane]) -> float:
    total_mm3 = 0.0
    for plane in planes:
        area = 0.0
        for contour, depth in zip(plane.contours, plane.depth, strict=True):
            a = float(np.linalg.norm(_newell(contour.points_mm))) / 2.0
            area += -a if depth % 2 else a
        total_mm3 += max(area, 0.0) * (plane.high_mm - plane.low_mm)
    return total_mm3 / 1000.0


def _stacking_axis(grid: Volume, normal: np.ndarray) -> int:
    cols = [grid.affine[:3, a] / np.linalg.norm(grid.affine[:3, a]) for a in range(3)]
    scores = []
    for a in range(3):
        b, c = [x for x in range(3) if x != a]
        plane_normal = np.cross(cols[b], cols[c])
        scores.append(abs(float(plane_normal @ normal)) / float(np.linalg.norm(plane_normal)))
    return int(np.argmax(scores))


def _rasterise_roi(roi_planes: tuple[np.ndarray, list[_Plane], float], grid: Volume,
                   box: tuple[np.ndarray, np.ndarray], out: np.ndarray) -> None:
    """Fill ``out`` (the cropped grid box lo..hi of ``grid``) with the ROI."""
    normal, planes, _ = roi_planes
    lo, _hi = box
    a = _stacking_axis(grid, normal)
    perm = [a, *[x for x in range(3) if x != a]]
    # affine of the cropped grid with permuted index axes
    aff = grid.affine.copy()
    aff[:3, 3] = grid.index_to_patient(lo.astype(np.float64))
    cols = aff[:3, perm]
    origin = aff[:3, 3]
    view = np.transpose(out, perm)
    nk, nj, ni = view.shape
    n_k, n_j, n_i = (float(cols[:, x] @ normal) for x in range(3))
    s0 = float(origin @ normal)
    lows = np.array([p.low_mm for p in planes]) - _SLAB_EDGE_EPSILON_MM
    highs = np.array([p.high_mm for p in planes]) - _SLAB_EDGE_EPSILON_MM
    m = np.stack([cols[:, 1], cols[:, 2], -normal], axis=1)
    m_inv = np.linalg.inv(m)
    step = m_inv @ cols[:, 0]
    projected = [[(c.points_mm - origin) @ m_inv.T for c in p.contours] for p in planes]
    if abs(n_j) * nj + abs(n_i) * ni < _SLAB_EDGE_EPSILON_MM:
        # contour planes parallel to the image slices (the usual case): one plane per slice at most
        for k in range(nk):
            s_k = s0 + k * n_k
            p_k = int(np.searchsorted(lows, s_k, side="right")) - 1
            if p_k >= 0 and s_k < highs[p_k]:
                view[k] |= _plane_region(planes[p_k], [q[:, :2] - k * step[:2] for q in projected[p_k]], 0, 0, nj, ni)
        return
    jj = np.arange(nj, dtype=np.float64)[:, None]
    ii = np.arange(ni, dtype=np.float64)[None, :]
    in_plane = s0 + jj * n_j + ii * n_i  # s of each voxel of slice 0 of the window
    s_min, s_max = float(in_plane.min()), float(in_plane.max())
    for k in range(nk):
        shift = k * n_k
        if s_max + shift < lows[0] or s_min + shift >= highs[-1]:
            continue
        s = in_plane + shift
        idx = np.searchsorted(lows, s, side="right") - 1
        valid = idx >= 0
        valid &= s < highs[np.clip(idx, 0, None)]
        if not valid.any():
            continue
        present = np.unique(idx[valid])
        for p in present:
            pts = [q[:, :2] - k * step[:2] for q in projected[p]]
            if present.size == 1:
                view[k] |= _plane_region(planes[p], pts, 0, 0, nj, ni) & valid
                continue
            # several planes cut this slice (tilted or perpendicular contours): fill each plane only on
            # the band of voxels whose centre lies in its slab
            band = valid & (idx == p)
            rows = np.flatnonzero(band.any(axis=1))
            cols = np.flatnonzero(band.any(axis=0))
            r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            region = _plane_region(planes[p], pts, r0, c0, r1 - r0, c1 - c0)
            view[k, r0:r1, c0:c1] |= region & band[r0:r1, c0:c1]


def rasterise_structure_set(structure: StructureSet, grid: Volume) -> RtStructMasks:
    """Rasterise every ROI of ``structure`` on ``grid`` (the image the contours were drawn on).

    Returns masks on ``grid``'s lattice, each cropped to the box that holds its ROI (use
    :func:`sirtkit.imaging.segload.on_common_grid` for one shared box), the contour (planimetric) volume
    of each ROI, notes and warnings (ROIs without contours, contours outside the image, ROIs that enclose
    no voxel centre).
    """
    notes = list(structure.notes)
    warnings = list(structure.warnings)
    path = structure.path
    grid_frame = grid.frame_of_reference_uid
    if grid_frame and structure.frame_of_reference_uids and grid_frame not in structure.frame_of_reference_uids:
        raise GeometryError(
            f"{path}: RTSTRUCT is on frame of reference {_uids(structure.frame_of_reference_uids)}, the image "
            f"on {_uids([grid_frame])}; use (--ct) the image the contours were drawn on")
    shape = np.array(grid.shape)
    prepared: list[tuple[Roi, tuple[np.ndarray, list[_Plane], float], np.ndarray, np.ndarray]] = []
    for roi in structure.rois:
        if not roi.contours:
            warnings.append(f"ROI {roi.name!r} has no closed contour and is not used.")
            continue
        planes = _roi_planes(roi, grid, path, notes)
        if planes is None:
            warnings.append(f"ROI {roi.name!r} has no closed contour with an area and is not used.")
            continue
        normal, plane_list, _ = planes
        corners = []
        for pl in plane_list:
            for c in pl.contours:
                base = c.points_mm - np.outer(c.points_mm @ normal - pl.position_mm, normal)
                corners += [base + np.outer(np.full(len(base), pl.low_mm - pl.position_mm), normal),
                            base + np.outer(np.full(len(base), pl.high_mm - pl.position_mm), normal)]
        idx = grid.patient_to_index(np.concatenate(corners))
        raw_lo, raw_hi = np.floor(idx.min(axis=0)).astype(int), np.ceil(idx.max(axis=0)).astype(int)
        lo, hi = np.maximum(raw_lo, 0), np.minimum(raw_hi + 1, shape)
        if np.any(hi <= lo):
            warnings.append(f"ROI {roi.name!r} lies completely outside the image it is rasterised on "
                            f"({_describe(grid)}); it is not used.")
            continue
        vertex_idx = grid.patient_to_index(np.concatenate([c.points_mm for c in roi.contours]))
        if np.any(vertex_idx < -0.5 - 1e-6) or np.any(vertex_idx > shape - 0.5 + 1e-6):
            warnings.append(f"ROI {roi.name!r} reaches beyond the image it is rasterised on; the part outside is "
                            "lost. Use the image the contours were drawn on (--ct).")
        prepared.append((roi, planes, lo, hi))
    masks: dict[str, Volume] = {}
    volumes: dict[str, float] = {}
    for roi, planes, lo, hi in prepared:
        # each ROI on the drawing image's lattice, cropped to its own box (memory ∝ the ROI, not the CT)
        array = np.zeros(tuple(int(v) for v in hi - lo), dtype=bool)
        _rasterise_roi(planes, grid, (lo, hi), array)
        affine = grid.affine.copy()
        affine[:3, 3] = grid.index_to_patient(lo.astype(np.float64))
        name = roi.name
        if name in masks:
            n = 2
            while f"{name} ({n})" in masks:
                n += 1
            warnings.append(f"ROI name {name!r} occurs more than once; the second is called {f'{name} ({n})'!r}.")
            name = f"{name} ({n})"
        volumes[name] = _contour_volume_ml(planes[1])
        if not array.any():
            warnings.append(f"ROI {roi.name!r} encloses no voxel centre of the image it is rasterised on "
                            f"({_describe(grid)}); it is not used.")
            continue
        meta = {"source_files": [str(path)], "roi_number": roi.number}
        masks[name] = Volume(array, affine, "mask", "1", grid_frame or next(iter(structure.frame_of_reference_uids),
                                                                           None), meta)
    return RtStructMasks(masks, volumes, grid, tuple(notes), tuple(warnings))


def read_rtstruct(
    path: str | Path,
    *,
    images: Sequence[Volume] = (),
    target: Volume | None = None,
    search_folders: Sequence[Path] | None = None,
) -> RtStructMasks:
    """Read an RTSTRUCT and rasterise it on the image its contours were drawn on.

    Parameters
    ----------
    path
        The RTSTRUCT file.
    images
        Images that may be the drawing image (e.g. the CT given with ``--ct``).
    target
        The grid the masks will be resampled to (e.g. the emission image); used as the drawing image only
        when it *is* the referenced series (contours drawn on the PET/SPECT itself).
    search_folders
        Where to look for the referenced series (default: the RTSTRUCT's folder; see
        :func:`find_drawing_image`).

    Raises
    ------
    DicomInputError
        Unreadable file, malformed contour, or drawing image not found (the message says to give ``--ct``).
    GeometryError
        Non-planar or non-parallel contours of one ROI, or a drawing image on another frame of reference.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such RTSTRUCT file; check the path")
    structure = read_structure_set(p)
    image, notes, warnings = find_drawing_image(structure, images, target=target, search_folders=search_folders)
    result = rasterise_structure_set(structure, image)
    return RtStructMasks(result.masks, result.contour_volumes_ml, image, tuple(notes) + result.notes,
                         tuple(warnings) + result.warnings)
