"""DICOM output that other systems accept: export grids, source-image metadata, DICOM SEG.

Rules (shared design note DICOM.md §1 and §3; PS3.3):

* **Export grid.** RT and research readers differ in what geometry they accept. dicompyler-core, for
  example, places RTDOSE frames at ``ImagePositionPatient[2] + ImageOrientationPatient[0] ×
  GridFrameOffsetVector`` and builds its pixel look-up from the first row/column cosine only
  (``dicomparser.GetDoseGrid`` / ``GetPatientToPixelLUT``), so it is right only for axial grids.
  :func:`dicom_export_grid` therefore gives every exported dose an **axial** grid with
  ``ImageOrientationPatient = [1, 0, 0, 0, 1, 0]`` and slices along +z: a grid whose axes are already
  along the patient axes (any order and sign, e.g. feet-first or GE's reversed NM stacking) is only
  transposed and flipped (no value changes); a tilted, oblique or sheared grid (gantry tilt, NM detector
  tilt) is **resampled** onto an axis-aligned grid with the same spacings, and the note returned says so.
* **Source images as highdicom needs them.** :func:`prepare_source_images` returns metadata copies of the
  series the reader accepted, keeps only the slices that share the first slice's study, series, frame of
  reference and SOP Class (the others are named in the log), writes Type 2 attributes empty when the source
  lacks them, drops values that are not valid for their VR, and lifts an NM multi-frame's
  ImagePositionPatient / ImageOrientationPatient out of DetectorInformationSequence (0054,0022) so that
  highdicom sees a patient coordinate system. The SOP Instance UIDs referenced are the source's own.
* **SEG.** :func:`write_dicom_seg` writes a BINARY SEG from the masks' own grid (single-frame series and NM
  multi-frame alike); ContentCreatorName (Type 2) is written empty. A ``ValueError``/``TypeError`` from
  highdicom or pydicom becomes an :class:`~sirtkit.errors.InputError` naming the problem.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.valuerep import DSfloat

from sirtkit.errors import GeometryError, InputError
from sirtkit.imaging.files import atomic_write
from sirtkit.imaging.resample import resample_to
from sirtkit.imaging.volume import Volume, require_same_grid
from sirtkit.text import dicom_lo

__all__ = [
    "AXIAL_ORIENTATION",
    "PATIENT_STUDY_TYPE2",
    "HIGHDICOM_BUILD_ERRORS",
    "copy_patient_study",
    "derivation_error",
    "dicom_export_grid",
    "ds_value",
    "hd_volume",
    "is_orthogonal",
    "prepare_source_images",
    "save_derived",
    "write_dicom_seg",
]

logger = logging.getLogger(__name__)

#: ImageOrientationPatient of every exported dose grid (rows along +x, columns along +y; slices along +z).
AXIAL_ORIENTATION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
# Direction cosines within this of ±1 / 0 count as along a patient axis (same tolerance as Volume.same_grid).
_AXIS_TOLERANCE = 1e-4
#: Patient (PS3.3 C.7.1.1) and General Study (C.7.2.1) attributes of Type 1/2 copied from the source:
#: Type 2 ones are written empty when the source lacks them or holds an invalid value.
PATIENT_STUDY_TYPE2 = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "StudyID", "AccessionNumber",
)
_PATIENT_STUDY_OPTIONAL = ("IssuerOfPatientID", "StudyDescription", "PatientAge", "PatientWeight", "PatientSize")
_MAX_DS_CHARS = 16  # VR DS (PS3.5 Table 6.2-1)


def ds_value(value: float) -> DSfloat:
    """A DS value of at most 16 characters (``DSfloat(..., auto_format=True)``).

    Raises
    ------
    InputError
        For NaN or infinite values, which DS cannot hold.

    Examples
    --------
    >>> str(ds_value(1 / 3)), len(str(ds_value(-123456.789012345))), str(ds_value(-9.999999999999998))
    ('0.33333333333333', 16, '-10')
    """
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"cannot write {number} as a DICOM decimal string (DS)")
    out = DSfloat(number, auto_format=True)
    if len(str(out)) <= _MAX_DS_CHARS:
        return out
    # pydicom 3.0's auto_format can round up into one more digit (-9.999999999999998 → '-10.0000000000000',
    # 17 characters): fall back to the longest general format that fits.
    for digits in range(15, 0, -1):
        text = f"{number:.{digits}g}"
        if len(text) <= _MAX_DS_CHARS:
            return DSfloat(text)
    raise InputError(f"cannot write {number!r} as a DICOM decimal string (DS) of at most 16 characters")


def _valid(element: DataElement) -> bool:
    """True when every value of ``element`` is valid for its VR (pydicom's writing rules; DS/IS finite)."""
    values = element.value if isinstance(element.value, (list, pydicom.multival.MultiValue)) else [element.value]
    try:
        for value in values:
            if value in (None, ""):
                continue
            if element.VR in ("DS", "IS"):
                text = str(value).strip()
                if len(text) > _MAX_DS_CHARS or not math.isfinite(float(text)):
                    return False
            elif element.VR in ("FD", "FL"):
                if not math.isfinite(float(value)):
                    return False
            else:
                pydicom.valuerep.validate_value(element.VR, value, pydicom.config.RAISE)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def copy_patient_study(source: pydicom.Dataset | None, target: pydicom.Dataset) -> list[str]:
    """Copy Patient / General Study attributes from ``source``; Type 2 ones empty when absent or invalid.

    ``StudyInstanceUID`` (Type 1) is copied, or a new UID is made when the source has none. Returns the
    attributes that were written empty or replaced (for notes).
    """
    repaired: list[str] = []
    for keyword in (*PATIENT_STUDY_TYPE2, *_PATIENT_STUDY_OPTIONAL):
        element = source[keyword] if source is not None and keyword in source else None
        if element is not None and element.value not in (None, "") and _valid(element):
            target[keyword] = copy.deepcopy(element)
        elif keyword in PATIENT_STUDY_TYPE2:
            setattr(target, keyword, "")
            if element is not None and element.value not in (None, ""):
                repaired.append(keyword)
    uid = str(source.get("StudyInstanceUID", "")) if source is not None else ""
    if not uid or not pydicom.uid.UID(uid).is_valid:
        target.StudyInstanceUID = pydicom.uid.generate_uid()
        repaired.append("StudyInstanceUID")
    else:
        target.StudyInstanceUID = uid
    return repaired


# ------------------------------------------------------------------------------------------ export grid
def _axis_permutation(direction: np.ndarray) -> list[tuple[int, float]] | None:
    """For each array axis (slice, row, column): (patient axis 0=x 1=y 2=z, sign), if axis-aligned."""
    out: list[tuple[int, float]] = []
    for a in range(3):
        column = direction[:, a]
        axis = int(np.argmax(np.abs(column)))
        if abs(abs(float(column[axis])) - 1.0) > _AXIS_TOLERANCE:
            return None
        out.append((axis, float(np.sign(column[axis]))))
    if sorted(axis for axis, _ in out) != [0, 1, 2]:
        return None
    return out


def dicom_export_grid(volume: Volume, *, interpolation: Literal["linear", "nearest"] = "linear",
                      what: str = "dose") -> tuple[Volume, str | None]:
    """``volume`` on an axial grid (IOP [1,0,0,0,1,0], slices along +z) as DICOM readers expect it.

    Returns the volume and a note when it had to be resampled (``None`` when only axes were reordered
    or flipped, which changes no value).

    Examples
    --------
    >>> import numpy as np
    >>> affine = np.array([[0, 0, 1.0, 0], [0, 1.0, 0, 0], [-2.0, 0, 0, 0], [0, 0, 0, 1]])  # slices along -z
    >>> vol = Volume(np.arange(8.0).reshape(2, 2, 2), affine)
    >>> out, note = dicom_export_grid(vol)
    >>> float(out.affine[2, 0]), out.origin_mm[2], float(out.array[0, 0, 0]), note
    (2.0, -2.0, 4.0, None)
    """
    direction = volume.direction
    perm = _axis_permutation(direction)
    if perm is not None:
        # array axis a runs along patient axis perm[a][0]; target axis order is (z, y, x)
        target_axis_of = {axis: 2 - axis for axis, _ in perm}  # z→0, y→1, x→2
        order = [next(a for a in range(3) if perm[a][0] == p) for p in (2, 1, 0)]
        array = np.transpose(np.asarray(volume.array), order)
        affine = np.zeros((4, 4))
        affine[3, 3] = 1.0
        origin = np.asarray(volume.origin_mm, dtype=np.float64)
        spacing = volume.spacing_mm
        flips = []
        for new_axis, old_axis in enumerate(order):
            axis, sign = perm[old_axis]
            assert target_axis_of[axis] == new_axis
            step = spacing[old_axis]
            affine[axis, new_axis] = step
            if sign < 0:
                flips.append(new_axis)
                origin = origin + volume.affine[:3, old_axis] * (volume.shape[old_axis] - 1)
        if flips:
            array = np.flip(array, axis=tuple(flips))
        affine[:3, 3] = origin
        out = Volume(np.ascontiguousarray(array), affine, volume.quantity, volume.unit,
                     volume.frame_of_reference_uid, dict(volume.metadata))
        return out, None
    # oblique, tilted or sheared: resample onto an axis-aligned grid covering the same voxel centres
    spacing_by_axis = []
    for axis in (2, 1, 0):  # z, y, x
        best = int(np.argmax(np.abs(direction[axis, :])))
        spacing_by_axis.append(volume.spacing_mm[best])
    corners = volume.corners_mm()
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    shape = tuple(math.floor((hi[axis] - lo[axis]) / s + 1e-6) + 1
                  for axis, s in zip((2, 1, 0), spacing_by_axis, strict=True))
    affine = np.zeros((4, 4))
    affine[3, 3] = 1.0
    for new_axis, (axis, s) in enumerate(zip((2, 1, 0), spacing_by_axis, strict=True)):
        affine[axis, new_axis] = s
    affine[:3, 3] = lo
    target = Volume(np.zeros(shape, dtype=np.float32), affine, frame_of_reference_uid=volume.frame_of_reference_uid)
    out = resample_to(volume, target, interpolation=interpolation, fill_value=0.0)
    out = out.with_array(out.array, metadata=dict(volume.metadata))
    normal = np.cross(direction[:, 2], direction[:, 1])
    sheared = abs(abs(float(normal @ direction[:, 0])) - 1.0) > _AXIS_TOLERANCE
    tilt_deg = math.degrees(math.acos(min(1.0, abs(float(direction[2, 0])))))
    note = (f"The {what} grid is {'sheared (gantry/detector tilt)' if sheared else 'oblique'} "
            f"({tilt_deg:.1f}° from axial); for DICOM export it was resampled ({interpolation} interpolation) "
            f"onto an axis-aligned grid of {' × '.join(f'{s:g}' for s in spacing_by_axis)} mm, as RT readers "
            "expect; the dose figures in this report come from the original grid.")
    return out, note


# ---------------------------------------------------------------------------------------- source images
_IDENTITY_TAGS = {"StudyInstanceUID": "(0020,000D)", "SeriesInstanceUID": "(0020,000E)",
                  "SOPInstanceUID": "(0008,0018)", "SOPClassUID": "(0008,0016)"}


def _text(ds: pydicom.Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _valid_uid(text: str) -> bool:
    return bool(text) and pydicom.uid.UID(text).is_valid


def prepare_source_images(sources: Sequence[pydicom.Dataset], *,
                          frame_of_reference_uid: str | None = None) -> list[pydicom.Dataset]:
    """Metadata copies of the source series, made consistent and complete enough for highdicom.

    Slices whose study, series, frame of reference or SOP Class differ from the first slice's, and slices
    without a valid or with a repeated SOP Instance UID, are left out (logged). A missing SOP Class UID is
    taken from the file meta information. A series without a Frame of Reference UID gets
    ``frame_of_reference_uid`` (or a new UID) in the copies, so that the derived objects have one.

    Raises
    ------
    InputError
        No source image, or the series has no valid Study / Series Instance UID, or no slice is left: the
        derived objects could not reference it (the message names the attribute).
    """
    if not sources:
        raise InputError("no source images: DICOM derived objects (SEG, Parametric Map) need the DICOM series")
    first = sources[0]
    where = getattr(first, "filename", None) or "the source series"
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID"):
        if not _valid_uid(_text(first, keyword)):
            raise InputError(
                f"{where}: {keyword} {_IDENTITY_TAGS[keyword]} is missing or not a valid UID, so DICOM SEG / "
                "Parametric Map / SR cannot reference the series; fix the series' header (or export it again)")
    keys = ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "SOPClassUID")

    def sop_class(ds: pydicom.Dataset) -> str:
        return _text(ds, "SOPClassUID") or str(getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", ""))

    reference = (*(_text(first, k) for k in keys[:3]), sop_class(first))
    kept: list[pydicom.Dataset] = []
    seen: set[str] = set()
    for ds in sources:
        name = getattr(ds, "filename", None) or _text(ds, "SOPInstanceUID") or "a slice"
        values = (*(_text(ds, k) for k in keys[:3]), sop_class(ds))
        if values != reference:
            differing = [k for k, a, b in zip(keys, reference, values, strict=True) if a != b]
            logger.warning("%s: %s differs from the first slice; not referenced by the derived objects", name,
                           ", ".join(differing))
            continue
        uid = _text(ds, "SOPInstanceUID")
        if not _valid_uid(uid) or uid in seen:
            logger.warning("%s: SOPInstanceUID (0008,0018) missing, invalid or repeated; not referenced by the "
                           "derived objects", name)
            continue
        if not _valid_uid(values[3]):
            raise InputError(f"{name}: SOPClassUID (0008,0016) is missing or invalid: the derived objects cannot "
                             "reference the images")
        seen.add(uid)
        completed = _complete(ds)
        completed.SOPClassUID = values[3]
        kept.append(completed)
    if not kept:
        raise InputError(f"{where}: no slice of the series has a valid, unique SOPInstanceUID (0008,0018)")
    if not _valid_uid(reference[2]):
        frame = frame_of_reference_uid if frame_of_reference_uid and _valid_uid(frame_of_reference_uid) else (
            pydicom.uid.generate_uid())
        logger.warning("%s: no valid FrameOfReferenceUID (0020,0052); the derived objects use %s", where, frame)
        for ds in kept:
            ds.FrameOfReferenceUID = frame
    _repair_slice_thickness(kept)
    return kept


def _repair_slice_thickness(series: list[pydicom.Dataset]) -> None:
    """A missing, zero or non-finite SliceThickness becomes the slice spacing of the series' positions."""
    missing = [ds for ds in series if "SliceThickness" not in ds]
    if not missing or len(series) < 2:
        return
    try:
        iop = np.array([float(v) for v in series[0].ImageOrientationPatient])
        normal = np.cross(iop[:3], iop[3:])
        along = np.sort([float(np.dot([float(v) for v in ds.ImagePositionPatient], normal)) for ds in series])
    except (AttributeError, TypeError, ValueError):
        return
    steps = np.diff(along)
    steps = steps[steps > 1e-6]
    if steps.size == 0:
        return
    spacing = float(np.median(steps))
    for ds in missing:
        ds.SliceThickness = ds_value(spacing)
    logger.info("SliceThickness missing or not finite on %d slices; the slice spacing %.3f mm is used in the "
                "derived objects", len(missing), spacing)


def _complete(source: pydicom.Dataset) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    for element in source:
        if element.tag.group in (0x7FE0,) or element.keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
            continue
        if element.VR != "SQ" and element.value not in (None, "") and not _valid(element):
            logger.info("%s: %s has an invalid value for VR %s; left out of the derived objects' metadata",
                        getattr(source, "filename", ""), element.keyword or element.tag, element.VR)
            continue
        ds.add(copy.deepcopy(element))
    if hasattr(source, "file_meta"):
        ds.file_meta = copy.deepcopy(source.file_meta)
    copy_patient_study(source, ds)
    for keyword in ("Modality",):
        if not ds.get(keyword):
            ds.Modality = "OT"
    for keyword in ("SeriesNumber", "InstanceNumber"):
        if keyword not in ds:
            setattr(ds, keyword, None)
    for keyword in ("SliceThickness", "SpacingBetweenSlices"):
        if keyword in ds and ds[keyword].value not in (None, ""):
            try:
                ok = math.isfinite(float(ds[keyword].value)) and float(ds[keyword].value) != 0.0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                del ds[keyword]
    detector = source.get("DetectorInformationSequence")
    n_frames = int(source.get("NumberOfFrames", 1) or 1)
    if n_frames > 1 and detector and "ImagePositionPatient" not in ds:
        item = detector[0]
        for keyword in ("ImagePositionPatient", "ImageOrientationPatient"):
            if keyword in item:
                ds[keyword] = copy.deepcopy(item[keyword])
    if n_frames > 1 and "SharedFunctionalGroupsSequence" not in ds:
        _nm_functional_groups(ds, n_frames)
    return ds


def _nm_functional_groups(ds: pydicom.Dataset, n_frames: int) -> None:
    """Describe a classic NM multi-frame's frame geometry as functional groups (what highdicom reads).

    Frame k (0-based) lies at ImagePositionPatient + k · SpacingBetweenSlices · (row cosine × column cosine),
    as :func:`sirtkit.imaging.dicom.read_dicom_series` stacks it (negative spacing: GE's reversed stacking).
    """
    try:
        iop = np.array([float(v) for v in ds.ImageOrientationPatient], dtype=np.float64)
        ipp = np.array([float(v) for v in ds.ImagePositionPatient], dtype=np.float64)
        spacing = [float(v) for v in ds.PixelSpacing]
        step = float(ds.get("SpacingBetweenSlices") or ds.get("SliceThickness") or 0.0)
    except (AttributeError, TypeError, ValueError):
        return  # highdicom reports what is missing
    if iop.size != 6 or ipp.size != 3 or len(spacing) != 2 or not math.isfinite(step) or step == 0.0:
        return
    normal = np.cross(iop[:3], iop[3:])
    measures = pydicom.Dataset()
    measures.PixelSpacing = [ds_value(v) for v in spacing]
    measures.SliceThickness = ds_value(abs(step))
    measures.SpacingBetweenSlices = ds_value(abs(step))
    orientation = pydicom.Dataset()
    orientation.ImageOrientationPatient = [ds_value(v) for v in iop]
    shared = pydicom.Dataset()
    shared.PixelMeasuresSequence = [measures]
    shared.PlaneOrientationSequence = [orientation]
    ds.SharedFunctionalGroupsSequence = [shared]
    frames = []
    for k in range(n_frames):
        position = pydicom.Dataset()
        position.ImagePositionPatient = [ds_value(v) for v in ipp + k * step * normal]
        item = pydicom.Dataset()
        item.PlanePositionSequence = [position]
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = frames


# ------------------------------------------------------------------------------------------------- SEG
# What highdicom raises when it cannot derive an object (SEG, Parametric Map, SR) from the source images: a
# missing or mis-stated attribute of the series (highdicom indexes the frames in SQLite).
HIGHDICOM_BUILD_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, AttributeError, KeyError,
                                                           IndexError, sqlite3.Error)


def derivation_error(what: str, sources: Sequence[pydicom.Dataset], err: BaseException) -> InputError:
    """The error for a derived object highdicom refused: which object, which source series, why, what to do."""
    return InputError(
        f"cannot write the {what} for the source series {sources[0].get('SeriesInstanceUID', '?') if sources else '?'}: "
        f"{str(err)[:300]}; the series lacks or mis-states an attribute that {what.split(' (')[0]} needs")


def save_derived(ds: pydicom.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a derived object (highdicom-built) atomically, as a DICOM file with its meta header."""
    return atomic_write(Path(path), lambda tmp: ds.save_as(tmp, enforce_file_format=True))


def hd_volume(volume: Volume, array: np.ndarray, channels: Any = None, *,
              frame_of_reference_uid: str | None = None) -> hd.Volume:
    """``array`` on ``volume``'s grid as a highdicom volume (frame of reference: the volume's, else the given)."""
    return hd.Volume(array=array, affine=np.asarray(volume.affine, dtype=np.float64), coordinate_system="PATIENT",
                     frame_of_reference_uid=volume.frame_of_reference_uid or frame_of_reference_uid,
                     channels=channels)


def is_orthogonal(volume: Volume) -> bool:
    """Whether the grid's index axes are orthogonal (else a derived object needs it resampled first)."""
    d = volume.direction
    gram = d.T @ d
    return bool(np.allclose(gram, np.eye(3), atol=_AXIS_TOLERANCE))


def write_dicom_seg(
    masks: Mapping[str, Volume],
    source_images: Sequence[pydicom.Dataset],
    path: str | Path,
    *,
    series_description: str = "sirtkit segmentation",
    series_number: int = 900,
    roles: Mapping[str, str] | None = None,
) -> Path:
    """Write masks as a highdicom BINARY DICOM SEG referencing the source series.

    Works for single-frame series (CT, PET) and NM multi-frame objects; the masks are written on their own
    grid (resampled onto an axis-aligned grid first when that grid is sheared). Segment semantics come from
    :func:`~sirtkit.imaging.segmentation.voi_codes`: the standard name, else the segment's role in ``roles``
    (segment name → role, as ``--voi-role`` gives it), else Tissue (Liver SCT 10200004, Neoplasm SCT
    108369006, Lung SCT 39607008; categories Organ / Morphologically Abnormal Structure).

    Raises
    ------
    InputError
        No masks or source images, or highdicom cannot build the SEG from these sources (message names why).
    GeometryError
        Masks on different grids, or not in the source series' frame of reference.
    """
    from sirtkit import __version__
    from sirtkit.imaging.segmentation import voi_codes

    if not masks or not source_images:
        raise InputError("write_dicom_seg needs at least one mask and the source images")
    items = list(masks.items())
    grid = items[0][1]
    for name, mask in items:
        require_same_grid(grid, mask, f"mask {name!r}")
    sources = prepare_source_images(source_images, frame_of_reference_uid=grid.frame_of_reference_uid)
    source_for = _text(sources[0], "FrameOfReferenceUID") or None
    if grid.frame_of_reference_uid and source_for and grid.frame_of_reference_uid != source_for:
        raise GeometryError(
            f"the masks are on frame of reference {grid.frame_of_reference_uid}, the source images on {source_for}: "
            "write the SEG on the series the masks were resampled onto")
    stacked = np.stack([np.asarray(m.array, dtype=bool) for _, m in items], axis=-1)
    if not is_orthogonal(grid):
        resampled = [dicom_export_grid(m, interpolation="nearest", what="mask")[0] for _, m in items]
        grid = resampled[0]
        stacked = np.stack([np.asarray(m.array, dtype=bool) for m in resampled], axis=-1)
    frame_for = grid.frame_of_reference_uid or source_for
    grid = Volume(np.zeros(grid.shape, np.uint8), grid.affine, frame_of_reference_uid=frame_for)
    descriptions = []
    for s, (name, _) in enumerate(items, start=1):
        category, kind = voi_codes(name, (roles or {}).get(name))
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=s, segment_label=dicom_lo(name) or f"segment {s}", segmented_property_category=category,
            segmented_property_type=kind, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL))
    pixel = hd_volume(grid, stacked.astype(np.uint8), {"SegmentNumber": list(range(1, len(items) + 1))})
    try:
        seg = hd.seg.Segmentation(
            source_images=sources, pixel_array=pixel, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=series_number,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="sirtkit", manufacturer_model_name="sirtkit",
            software_versions=__version__, device_serial_number="0", series_description=series_description,
            omit_empty_frames=False, content_label="VOIS", content_description=series_description[:64],
        )
    except HIGHDICOM_BUILD_ERRORS as err:
        raise derivation_error("DICOM SEG", sources, err) from err
    seg.ContentCreatorName = ""  # Type 2 (Content Identification Macro, PS3.3 C.10.9)
    return save_derived(seg, path)
