"""Dose export: DICOM RT Dose (and its reader for round trips); DVH / metrics CSV files are in
:mod:`sirtkit.dosimetry.tables`, which needs no pydicom.

RTDOSE follows DICOM.md §1 (PS3.3 C.8.8.3) and what common RT readers accept:

* **Pixels:** unsigned 32-bit, ``DoseGridScaling = max/(2³²−1)`` (so > 1000 Gy Y-90 tumour voxels survive;
  a fixed 1e-7 overflows above 429 Gy).
* **Geometry:** always axial — ``ImageOrientationPatient = [1, 0, 0, 0, 1, 0]``, frames along +z,
  ``GridFrameOffsetVector`` relative to the first frame (first value 0, option (a) of PS3.3 C.8.8.3.2, which
  the standard "strongly recommends"), ``PixelSpacing = [row spacing, column spacing]``. dicompyler-core
  (``dicomparser.GetDoseGrid``) and many planning systems assume exactly this; a grid along the patient axes
  in another order or direction is reordered losslessly, a tilted / oblique / sheared grid is resampled
  (:func:`sirtkit.imaging.dicom_out.dicom_export_grid`).
* **DoseSummationType:** SIRT has no RT Plan. PS3.3 C.8.8.3 makes the Referenced RT Plan Sequence
  (300C,0002) Type 1C for PLAN, MULTI_PLAN, FRACTION, BEAM, BRACHY, FRACTION_SESSION, BEAM_SESSION,
  BRACHY_SESSION and CONTROL_POINT, and the Referenced Treatment Record Sequence (3008,0030) for RECORD.
  Without a plan reference sirtkit writes **PLAN_OVERVIEW**, which needs neither; with
  ``referenced_rt_plan`` it writes PLAN and the reference. Writing PLAN without a reference is refused.
* **Type 2 attributes** (Patient, General Study, RT Series incl. Operators' Name, Frame of Reference
  Position Reference Indicator, General Image Instance Number) are always present, empty when the reference
  lacks them or holds an invalid value; Patient / Study / Frame of Reference come from the reference image,
  Series and SOP Instance UIDs are new. DS values are written with ``DSfloat(..., auto_format=True)``
  (≤ 16 characters). ``DoseComment`` is VR LO (64 characters at most).

All writers are atomic: they write a temporary file in the target folder and ``os.replace`` it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from sirtkit._files import atomic_write_stream
from sirtkit.errors import DicomInputError, GeometryError, InputError, UnitsError
from sirtkit.imaging.dicom_out import copy_patient_study, dicom_export_grid, ds_value
from sirtkit.imaging.volume import Volume

__all__ = [
    "RTDOSE_SOP_CLASS_UID",
    "SUMMATION_TYPES_NEEDING_PLAN",
    "read_rtdose",
    "write_rtdose",
]

RTDOSE_SOP_CLASS_UID = UID("1.2.840.10008.5.1.4.1.1.481.2")  # RT Dose Storage (PS3.4 Annex B.5)
#: DoseSummationType values that make Referenced RT Plan Sequence (300C,0002) Type 1C (PS3.3 C.8.8.3).
SUMMATION_TYPES_NEEDING_PLAN = frozenset({
    "PLAN", "MULTI_PLAN", "FRACTION", "BEAM", "BRACHY", "FRACTION_SESSION", "BEAM_SESSION", "BRACHY_SESSION",
    "CONTROL_POINT"})
_SUMMATION_TYPES = SUMMATION_TYPES_NEEDING_PLAN | {"PLAN_OVERVIEW", "RECORD"}
_UINT32_MAX = 2**32 - 1
_LO_MAX_CHARS = 64  # VR LO (PS3.5 Table 6.2-1)
DoseType = Literal["PHYSICAL", "EFFECTIVE", "ERROR"]


def _dose_grid_scaling(max_dose_gy: float) -> str:
    """Smallest ≤16-character DS value s with s·(2³²−1) ≥ max dose."""
    if max_dose_gy <= 0:
        return "1"
    scaling = max_dose_gy / _UINT32_MAX
    text = str(ds_value(scaling))
    while float(text) * _UINT32_MAX < max_dose_gy:
        scaling *= 1.0 + 1e-9
        text = str(ds_value(scaling))
    return text


def write_rtdose(
    dose: Volume,
    path: str | os.PathLike[str],
    *,
    reference: pydicom.Dataset | None = None,
    dose_comment: str | None = None,
    dose_type: DoseType = "PHYSICAL",
    summation_type: str | None = None,
    referenced_rt_plan: tuple[str, str] | None = None,
    series_description: str = "sirtkit dose",
    series_number: int = 9901,
    operators_name: str = "",
) -> Path:
    """Write a dose Volume as a DICOM RT Dose file on an axial grid (see the module notes).

    Parameters
    ----------
    dose
        Dose Volume in Gy; finite and non-negative (unsigned storage would wrap negatives). Any grid: one
        along the patient axes is reordered without changing values, others are resampled (linear).
    path
        Output file.
    reference
        Dataset of the image the dose belongs to (CT or emission series): Patient, Study and
        FrameOfReferenceUID are copied from it.
    dose_comment
        DoseComment (VR LO, ≤ 64 characters); for BED/EQD2 maps name the model here.
    dose_type
        ``"PHYSICAL"`` for absorbed dose, ``"EFFECTIVE"`` for BED/EQD2 maps.
    summation_type
        DoseSummationType; default ``"PLAN"`` with ``referenced_rt_plan``, else ``"PLAN_OVERVIEW"``.
    referenced_rt_plan
        ``(SOP Class UID, SOP Instance UID)`` of an RT Plan to reference.
    series_description, series_number, operators_name
        RT Series attributes (Operators' Name is Type 2: empty by default).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    UnitsError
        Unit not Gy, negative or non-finite doses.
    GeometryError
        The reference's frame of reference differs from the dose's.
    InputError
        A summation type that needs an RT Plan without one, an unknown summation or dose type, or a
        comment longer than 64 characters.
    """
    if dose.unit != "Gy":
        raise UnitsError(f"RTDOSE stores Gy; the volume is in {dose.unit!r}")
    arr = np.asarray(dose.array, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise UnitsError("the dose map contains NaN or infinite values: RTDOSE cannot store them")
    if arr.size and arr.min() < 0:
        raise UnitsError(
            f"the dose map has negative values (minimum {arr.min():g} Gy): RTDOSE pixels are unsigned; "
            "clip or fix the dose first"
        )
    if dose_comment is not None and len(dose_comment) > _LO_MAX_CHARS:
        raise InputError(
            f"dose_comment has {len(dose_comment)} characters; DoseComment (3004,0006) is LO, at most 64: shorten it"
        )
    if dose_type not in ("PHYSICAL", "EFFECTIVE", "ERROR"):
        raise InputError(f"dose_type = {dose_type!r}: use 'PHYSICAL', 'EFFECTIVE' or 'ERROR'")
    summation = summation_type or ("PLAN" if referenced_rt_plan else "PLAN_OVERVIEW")
    if summation not in _SUMMATION_TYPES:
        raise InputError(f"DoseSummationType {summation!r} is not a defined term of PS3.3 C.8.8.3")
    if summation in SUMMATION_TYPES_NEEDING_PLAN and referenced_rt_plan is None:
        raise InputError(f"DoseSummationType {summation} requires a Referenced RT Plan Sequence (PS3.3 C.8.8.3): "
                         "give referenced_rt_plan, or use PLAN_OVERVIEW")
    if summation == "RECORD":
        raise InputError("DoseSummationType RECORD requires a Referenced Treatment Record Sequence, which sirtkit "
                         "does not write: use PLAN_OVERVIEW")
    frame_uid = dose.frame_of_reference_uid
    if reference is not None:
        ref_for = str(reference.get("FrameOfReferenceUID", "") or "")
        if ref_for and frame_uid and ref_for != frame_uid:
            raise GeometryError(
                f"the dose is on frame of reference {frame_uid}, the reference image on {ref_for}: "
                "resample the dose to the reference after registration, or export without reference"
            )
        frame_uid = ref_for or frame_uid
    if not frame_uid or not UID(frame_uid).is_valid:
        frame_uid = generate_uid()

    grid, _ = dicom_export_grid(dose.with_array(arr), interpolation="linear")
    arr = np.clip(np.asarray(grid.array, dtype=np.float64), 0.0, None)
    scaling_text = _dose_grid_scaling(float(arr.max()) if arr.size else 0.0)
    scaling = float(scaling_text)
    stored = np.clip(np.rint(arr / scaling), 0, _UINT32_MAX).astype(np.uint32)
    sk, sj, si = grid.spacing_mm
    offsets = [sk * k for k in range(grid.shape[0])]
    now = dt.datetime.now(dt.UTC)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTDOSE_SOP_CLASS_UID
    sop_uid = generate_uid()
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = RTDOSE_SOP_CLASS_UID
    ds.SOPInstanceUID = sop_uid
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    copy_patient_study(reference, ds)
    # RT Series (PS3.3 C.8.8.1)
    ds.Modality = "RTDOSE"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description[:_LO_MAX_CHARS]
    ds.OperatorsName = operators_name
    # Frame of Reference, General Equipment, General Image
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "sirtkit"
    ds.ManufacturerModelName = "sirtkit"
    ds.InstanceNumber = 1
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    # Image Plane, Image Pixel, Multi-frame
    ds.ImagePositionPatient = [ds_value(v) for v in grid.origin_mm]
    ds.ImageOrientationPatient = [ds_value(v) for v in (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)]
    ds.PixelSpacing = [ds_value(sj), ds_value(si)]
    ds.SliceThickness = ds_value(sk)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = grid.shape[1]
    ds.Columns = grid.shape[2]
    ds.BitsAllocated = 32
    ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = grid.shape[0]
    ds.FrameIncrementPointer = pydicom.tag.Tag(0x3004, 0x000C)
    # RT Dose (PS3.3 C.8.8.3)
    ds.DoseUnits = "GY"
    ds.DoseType = dose_type
    ds.DoseSummationType = summation
    if referenced_rt_plan is not None:
        item = pydicom.Dataset()
        item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = referenced_rt_plan
        ds.ReferencedRTPlanSequence = [item]
    ds.DoseGridScaling = scaling_text
    ds.GridFrameOffsetVector = [ds_value(v) for v in offsets]
    method = str(dose.metadata.get("dose_method", "voxel"))[:8]
    ds.DoseComment = dose_comment if dose_comment is not None else f"SIRT {method} dose (sirtkit); no RT Plan"
    ds.PixelData = stored.tobytes()

    def _write(handle: IO[bytes]) -> None:
        pydicom.dcmwrite(handle, ds, enforce_file_format=True)

    return atomic_write_stream(Path(path), _write)


def read_rtdose(path: str | os.PathLike[str]) -> Volume:
    """Read a DICOM RT Dose file into a float64 dose Volume (Gy).

    Raises
    ------
    DicomInputError
        Not an RTDOSE, unsupported units, missing or irregular GridFrameOffsetVector.
    """
    p = Path(path)
    try:
        ds = pydicom.dcmread(p)
    except (pydicom.errors.InvalidDicomError, OSError) as err:
        raise DicomInputError(f"{p}: cannot read as DICOM ({err})") from err
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as err:
        raise DicomInputError(f"{p}: damaged or truncated DICOM file ({type(err).__name__}: {str(err)[:200]})") from err
    try:
        return _rtdose_volume(ds, p)
    except DicomInputError:
        raise
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            NotImplementedError, RuntimeError) as err:
        # Missing or malformed attributes and truncated pixel data: the file's fault, named as such.
        raise DicomInputError(
            f"{p}: RTDOSE file is damaged or incomplete ({type(err).__name__}: {str(err)[:200]}); "
            "export it again from the planning system"
        ) from err


def _rtdose_volume(ds: pydicom.Dataset, p: Path) -> Volume:
    if ds.get("Modality") != "RTDOSE":
        raise DicomInputError(f"{p}: Modality is {ds.get('Modality')!r}, expected 'RTDOSE'")
    units = str(ds.get("DoseUnits", "")).upper()
    if units != "GY":
        raise DicomInputError(f"{p}: DoseUnits (3004,0002) is {units!r}; only 'GY' doses are read")
    scaling = float(ds.get("DoseGridScaling", 1.0))
    if not (np.isfinite(scaling) and scaling > 0):
        raise DicomInputError(f"{p}: DoseGridScaling (3004,000E) is {scaling!r}; it must be a positive number")
    pixels = np.asarray(ds.pixel_array, dtype=np.float64)
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    arr = pixels * scaling
    iop = np.asarray([float(v) for v in ds.ImageOrientationPatient])
    if iop.shape != (6,) or not np.all(np.isfinite(iop)):
        raise DicomInputError(f"{p}: ImageOrientationPatient (0020,0037) must hold 6 finite numbers")
    col_dir, row_dir = iop[:3], iop[3:]
    normal = np.cross(col_dir, row_dir)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-3):
        raise DicomInputError(f"{p}: ImageOrientationPatient (0020,0037) is not two orthogonal unit vectors")
    dy, dx = (float(v) for v in ds.PixelSpacing)
    if not (np.isfinite(dy) and np.isfinite(dx) and dy > 0 and dx > 0):
        raise DicomInputError(f"{p}: PixelSpacing (0028,0030) must be two positive numbers, got {dy!r}, {dx!r}")
    n_frames = arr.shape[0]
    if n_frames > 1:
        if "GridFrameOffsetVector" not in ds:
            raise DicomInputError(f"{p}: multi-frame RTDOSE without GridFrameOffsetVector (3004,000C)")
        offsets = np.asarray([float(v) for v in ds.GridFrameOffsetVector])
        # Option (b) of PS3.3 C.8.8.3.2 (absolute, first = ImagePositionPatient along the normal):
        # make the offsets relative to the first frame.
        offsets = offsets - offsets[0]
        steps = np.diff(offsets)
        if len(offsets) != n_frames or not np.allclose(steps, steps[0], atol=1e-3) or steps[0] == 0:
            raise DicomInputError(f"{p}: GridFrameOffsetVector is not a regular grid of {n_frames} frames")
        dz = float(steps[0])
        if not np.isfinite(dz):
            raise DicomInputError(f"{p}: GridFrameOffsetVector holds non-finite offsets")
    else:
        dz = float(ds.get("SliceThickness", 1.0) or 1.0)
    if not np.isfinite(dz) or dz == 0:
        raise DicomInputError(f"{p}: the slice spacing {dz!r} mm is not a finite, non-zero number")
    affine = np.eye(4)
    affine[:3, 0] = normal * dz
    affine[:3, 1] = row_dir * dy
    affine[:3, 2] = col_dir * dx
    affine[:3, 3] = [float(v) for v in ds.ImagePositionPatient]
    return Volume(
        arr,
        affine,
        quantity="dose" if ds.get("DoseType", "PHYSICAL") == "PHYSICAL" else "bed",
        unit="Gy",
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "")) or None,
        metadata={"source": str(p), "series_instance_uid": str(ds.get("SeriesInstanceUID", ""))},
    )
