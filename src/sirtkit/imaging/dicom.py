"""Read CT, PET and NM (SPECT) DICOM series into a :class:`Volume` with its quantity and unit.

Conventions followed (shared design note DICOM.md §2; DICOM PS3.3 C.7.6.2, C.8.9, C.8.4):

* **Geometry.** Single-frame slices are sorted by their position along the slice normal
  ``row cosine × column cosine``; the slice step is the mean difference of consecutive
  ImagePositionPatient values, which must be uniform (a missing slice is refused). NM multi-frame
  objects take ImagePositionPatient/ImageOrientationPatient from DetectorInformationSequence
  (0054,0022) and stack frames along ``SpacingBetweenSlices × normal`` — its sign sets the direction
  (GE writes negative values; dcm2niix issue #885) — with SliceThickness as fallback.
* **Values.** RescaleSlope/Intercept applied per slice in float64 (slopes vary per slice on GE and
  Siemens PET; an int16 × slope product without a float cast loses the fraction, Slicer
  PETDICOMExtension PR #27). CT → ``"ct"``/``"HU"``. PET ``BQML`` → Bq/mL; ``CNTS`` (Philips) ×
  private activity-concentration factor (7053,1009) → Bq/mL, refused without it; ``GML`` (SUV) refused.
  NM has no Units: a Real World Value Mapping (0040,9096) to UCUM ``Bq/ml`` gives Bq/mL, else counts.
* **Time.** ``metadata["reference_datetime"]`` is the time the values are decay-corrected to:
  DecayCorrection ``START`` → series start (the earliest AcquisitionDateTime when SeriesTime is later,
  as Siemens writes; QIBA SUV pseudo-code), ``ADMIN`` → RadiopharmaceuticalStartDateTime, ``NONE`` →
  acquisition start. Times take their timezone from the DT offset, else TimezoneOffsetFromUTC
  (0008,0201), else the caller's ``assume_timezone``; a PET with none of these is refused.
* **Nuclide.** A PET whose RadionuclideHalfLife is more than 1 % from Y-90's 230 760 s while the
  radiopharmaceutical says Y-90 (or ``expected_nuclide="Y-90"``) is refused: the scanner applied the
  decay and positron branching of another nuclide (usually F-18, 6586 s).

Examples
--------
>>> import tempfile
>>> from sirtkit.imaging.phantom import make_phantom, write_phantom_dicom
>>> ph = make_phantom(shape=(16, 24, 24), spacing_mm=(16.0, 16.0, 16.0))
>>> with tempfile.TemporaryDirectory() as d:
...     pet = read_dicom_series(write_phantom_dicom(ph, Path(d))["pet"])
>>> pet.quantity, pet.unit, pet.metadata["decay_correction"]
('activity_concentration', 'Bq/mL', 'START')
"""

from __future__ import annotations

import logging
import re
import warnings
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from sirtkit.errors import DicomInputError, UnitsError
from sirtkit.imaging.volume import Volume
from sirtkit.physics.nuclides import Y90, get_nuclide

__all__ = [
    "HALF_LIFE_TOLERANCE_FRACTION",
    "NON_IMAGE_MODALITIES",
    "SLICE_SPACING_TOLERANCE_FRACTION",
    "read_dicom_series",
]

logger = logging.getLogger(__name__)

# RadionuclideHalfLife must be within 1 % of the expected nuclide's half-life (Y-90: 64.1 h = 230 760 s,
# ICRP-107); F-18 (6586 s) or Ga-68 set-ups differ by > 90 %. DICOM.md §2.
HALF_LIFE_TOLERANCE_FRACTION = 0.01
# Consecutive slice steps may differ from their mean by at most 1 % of the spacing (or 0.01 mm): a
# missing slice doubles one step. Reconstructed CT/PET positions are exact to ~1e-3 mm.
SLICE_SPACING_TOLERANCE_FRACTION = 0.01
_SLICE_SPACING_TOLERANCE_MM = 0.01
# Orientation cosines of all slices must agree to 1e-4 (same tolerance as Volume.same_grid).
_ORIENTATION_TOLERANCE = 1e-4
# Modalities in a folder that are not image series (skipped when collecting images).
NON_IMAGE_MODALITIES = frozenset({"SEG", "RTSTRUCT", "RTDOSE", "RTPLAN", "RTRECORD", "SR", "PR", "KO", "REG", "DOC"})
# Philips PET: activity-concentration scale factor, private tag (7053,1009) (DICOM.md §2; Philips
# PET/CT DICOM conformance statement). (7053,1000) is the SUV factor.
PHILIPS_ACTIVITY_SCALE_TAG = (0x7053, 0x1009)
_Y90_TEXT = re.compile(r"(\by\s*-?\s*90\b|\b90\s*-?\s*y\b|yttrium|\^90\^y)", re.IGNORECASE)
_Y90_SCT_CODE = "14691008"  # SNOMED CT "Yttrium-90" (DICOM CID 4020)
_PET_UNITS = {"BQML": 1.0}
_MEDIA_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"  # DICOMDIR (PS3.10), skipped in folders
_UCUM_BQ_PER_ML = {"Bq/ml", "Bq/mL", "BQML"}


# ------------------------------------------------------------------------------------------ files
def _dicom_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DicomInputError(f"{path}: folder holds no files; give the folder of one DICOM series")
    return files


def _read(path: Path) -> pydicom.Dataset | None:
    """Read one file; None for non-DICOM files, DicomInputError for broken DICOM files."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path)
        for w in caught:
            logger.warning("%s: %s", path, w.message)
    except InvalidDicomError:
        logger.info("%s: not a DICOM file; skipped", path)
        return None
    except Exception as err:  # pydicom raises many types for truncated or corrupt files
        raise DicomInputError(
            f"{path}: cannot read this DICOM file ({type(err).__name__}: {err}); it is truncated or corrupt — "
            "copy it again from the PACS or remove it from the folder"
        ) from err
    return ds


def _pixels(ds: pydicom.Dataset) -> np.ndarray:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            array = np.asarray(ds.pixel_array)
        for w in caught:
            logger.warning("%s: %s", ds.filename, w.message)
    except Exception as err:
        raise DicomInputError(
            f"{ds.filename}: cannot decode the pixel data ({type(err).__name__}: {err}); the file is truncated "
            "or uses a compression without a decoder — copy it again or export it uncompressed"
        ) from err
    return array


# ------------------------------------------------------------------------------------------- time
def _tz_from_offset(text: str) -> tzinfo | None:
    m = re.fullmatch(r"\s*([+-])(\d{2})(\d{2})\s*", text)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes))


def _parse_tm(text: str) -> time | None:
    text = text.strip()
    m = re.fullmatch(r"(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?", text)
    if not m:
        return None
    frac = (m.group(4) or "0").ljust(6, "0")
    return time(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), int(frac))


def _parse_da(text: str) -> date | None:
    text = text.strip()
    return datetime.strptime(text, "%Y%m%d").date() if re.fullmatch(r"\d{8}", text) else None


def _parse_dt(text: str) -> tuple[datetime | None, tzinfo | None]:
    """DT value → (naive datetime, tz from the offset or None)."""
    text = text.strip()
    m = re.fullmatch(r"(\d{8})(\d{2,6}(?:\.\d{1,6})?)?([+-]\d{4})?", text)
    if not m:
        return None, None
    day = _parse_da(m.group(1))
    moment = _parse_tm(m.group(2)) if m.group(2) else time(0)
    if day is None or moment is None:
        return None, None
    return datetime.combine(day, moment), (_tz_from_offset(m.group(3)) if m.group(3) else None)


class _Clock:
    """Turns DICOM DA/TM/DT into aware datetimes with the series' timezone rule."""

    def __init__(self, ds: pydicom.Dataset, assume_timezone: tzinfo | None) -> None:
        self.file_tz = _tz_from_offset(str(ds.get("TimezoneOffsetFromUTC", "")))
        self.assume = assume_timezone
        self.unknown = False

    def aware(self, naive: datetime | None, own_tz: tzinfo | None = None) -> datetime | None:
        if naive is None:
            return None
        tz = own_tz or self.file_tz or self.assume
        if tz is None:
            self.unknown = True
            return None
        return naive.replace(tzinfo=tz)

    def da_tm(self, da: Any, tm: Any) -> datetime | None:
        day = _parse_da(str(da or ""))
        moment = _parse_tm(str(tm or ""))
        if day is None or moment is None:
            return None
        return self.aware(datetime.combine(day, moment))


# ------------------------------------------------------------------------------------------ public
def read_dicom_series(
    path: str | Path,
    *,
    series_instance_uid: str | None = None,
    assume_timezone: tzinfo | None = None,
    expected_nuclide: str | None = None,
) -> Volume:
    """Read one CT, PET or NM series (a folder, or a single file) into a Volume.

    Parameters
    ----------
    path
        Folder (searched recursively) holding the series, or one DICOM file (e.g. an NM multi-frame).
    series_instance_uid
        Which series to read when the folder holds several.
    assume_timezone
        Timezone of DICOM times that carry none (no DT offset, no TimezoneOffsetFromUTC), e.g.
        ``zoneinfo.ZoneInfo("Europe/Amsterdam")``. Required for such PET series.
    expected_nuclide
        E.g. ``"Y-90"``: refuse a PET whose RadionuclideHalfLife does not match.

    Returns
    -------
    Volume
        Values in float64 (PET/NM) or float32 (CT), LPS affine, FrameOfReferenceUID, and metadata keys
        ``modality``, ``series_instance_uid``, ``study_instance_uid``, ``patient_id``,
        ``decay_correction``, ``reference_datetime``, ``radiopharmaceutical_start``,
        ``radionuclide_total_dose_bq``, ``radionuclide_half_life_s``, ``source_files`` (None when absent).

    Raises
    ------
    DicomInputError
        No image series, several series without a choice (UIDs listed), truncated/corrupt file (named),
        missing or duplicate slices, mixed orientations, wrong half-life, unknown timezone (PET).
    UnitsError
        PET Units CNTS without the Philips factor, GML (SUV) or unknown units.
    InputError
        If ``path`` does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise DicomInputError(f"{p}: no such file or folder")
    datasets: list[pydicom.Dataset] = []
    for f in _dicom_files(p):
        ds = _read(f)
        if ds is None or str(ds.get("Modality", "")) in NON_IMAGE_MODALITIES:
            continue
        if "PixelData" not in ds:
            sop_class = str(getattr(ds.get("file_meta"), "MediaStorageSOPClassUID", ""))
            if sop_class == _MEDIA_DIRECTORY_SOP_CLASS or "DirectoryRecordSequence" in ds:
                continue
            raise DicomInputError(
                f"{f}: DICOM file without pixel data (Modality {ds.get('Modality', 'missing')!r}); it is truncated "
                "or not an image — copy it again from the PACS or remove it from the folder"
            )
        datasets.append(ds)
    if not datasets:
        raise DicomInputError(f"{p}: no DICOM image (CT, PT, NM) found; point to the folder of the image series")
    series = _choose_series(p, datasets, series_instance_uid)
    first = series[0]
    if "PerFrameFunctionalGroupsSequence" in first:
        raise DicomInputError(
            f"{first.filename}: enhanced multi-frame {first.get('Modality')} objects are not supported; export "
            "the series as classic single-frame images (e.g. dcmtk or the scanner's export option)"
        )
    if int(first.get("NumberOfFrames", 1)) > 1:
        if len(series) > 1:
            raise DicomInputError(
                f"{p}: series {first.SeriesInstanceUID} has {len(series)} multi-frame files; give one file"
            )
        array, affine = _multiframe_geometry(first)
        arrays = [array]
    else:
        series, affine = _stack_geometry(series)
        arrays = [_pixels(ds)[np.newaxis] for ds in series]
    modality = str(first.get("Modality", ""))
    values, quantity, unit = _values(series, arrays, modality)
    metadata = _metadata(series, modality, assume_timezone, expected_nuclide)
    frame = str(first.FrameOfReferenceUID) if "FrameOfReferenceUID" in first else None
    return Volume(values, affine, quantity=quantity, unit=unit, frame_of_reference_uid=frame, metadata=metadata)


def _choose_series(path: Path, datasets: list[pydicom.Dataset], uid: str | None) -> list[pydicom.Dataset]:
    groups: dict[str, list[pydicom.Dataset]] = defaultdict(list)
    for ds in datasets:
        groups[str(ds.get("SeriesInstanceUID", ""))].append(ds)
    if uid is not None:
        if uid not in groups:
            raise DicomInputError(f"{path}: no series {uid}; the folder holds {_describe(groups)}")
        return groups[uid]
    if len(groups) > 1:
        raise DicomInputError(
            f"{path}: the folder holds {len(groups)} image series: {_describe(groups)}; pass "
            "series_instance_uid=... (or --series-uid) to choose one, or put each series in its own folder"
        )
    return next(iter(groups.values()))


def _describe(groups: dict[str, list[pydicom.Dataset]]) -> str:
    return "; ".join(
        f"{uid} ({items[0].get('Modality', '?')}, {items[0].get('SeriesDescription', '')!s}, {len(items)} files)"
        for uid, items in groups.items()
    )


def _floats(value: Any, n: int, what: str, ds: pydicom.Dataset) -> np.ndarray:
    try:
        arr = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DicomInputError(f"{ds.filename}: {what} = {value!r} is not {n} numbers") from err
    if arr.shape != (n,):
        raise DicomInputError(f"{ds.filename}: {what} = {value!r} must have {n} values")
    return arr


def _in_plane(ds: pydicom.Dataset, orientation: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row cosine, column cosine, normal) unit vectors and PixelSpacing [row, column] of a slice."""
    if orientation is None:
        raise DicomInputError(f"{ds.filename}: ImageOrientationPatient (0020,0037) is missing")
    iop = _floats(orientation, 6, "ImageOrientationPatient (0020,0037)", ds)
    row_cos, col_cos = iop[:3], iop[3:]
    normal = np.cross(row_cos, col_cos)
    if np.linalg.norm(normal) < 0.5:
        raise DicomInputError(f"{ds.filename}: ImageOrientationPatient {iop.tolist()} is degenerate")
    return row_cos, col_cos, normal / np.linalg.norm(normal)


def _pixel_spacing(ds: pydicom.Dataset) -> np.ndarray:
    if "PixelSpacing" not in ds:
        raise DicomInputError(f"{ds.filename}: PixelSpacing (0028,0030) is missing; the voxel size is unknown")
    return _floats(ds.PixelSpacing, 2, "PixelSpacing (0028,0030)", ds)


def _stack_geometry(series: list[pydicom.Dataset]) -> tuple[list[pydicom.Dataset], np.ndarray]:
    first = series[0]
    row_cos, col_cos, normal = _in_plane(first, first.get("ImageOrientationPatient"))
    spacing = _pixel_spacing(first)
    iop0 = np.concatenate([row_cos, col_cos])
    for ds in series[1:]:
        iop = _floats(ds.get("ImageOrientationPatient", []), 6, "ImageOrientationPatient (0020,0037)", ds)
        if np.max(np.abs(iop - iop0)) > _ORIENTATION_TOLERANCE:
            raise DicomInputError(
                f"mixed slice orientations in series {first.SeriesInstanceUID}: {first.filename} has "
                f"{iop0.round(4).tolist()}, {ds.filename} has {iop.round(4).tolist()}; split the series"
            )
        if (ds.Rows, ds.Columns) != (first.Rows, first.Columns) or np.max(np.abs(_pixel_spacing(ds) - spacing)) > 1e-4:
            raise DicomInputError(
                f"{ds.filename}: image size or PixelSpacing differs from {first.filename} in the same series"
            )
    positions = []
    for ds in series:
        if "ImagePositionPatient" not in ds:
            raise DicomInputError(f"{ds.filename}: ImagePositionPatient (0020,0032) is missing")
        positions.append(_floats(ds.ImagePositionPatient, 3, "ImagePositionPatient (0020,0032)", ds))
    pos = np.array(positions)
    order = np.argsort(pos @ normal, kind="stable")
    series = [series[n] for n in order]
    pos = pos[order]
    if len(series) == 1:
        thickness = float(first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 0.0)
        if thickness <= 0:
            raise DicomInputError(f"{first.filename}: single slice without SliceThickness; the voxel depth is unknown")
        step = normal * abs(thickness)
    else:
        steps = np.diff(pos, axis=0)
        distances = steps @ normal
        if np.any(distances < _SLICE_SPACING_TOLERANCE_MM):
            n = int(np.argmin(distances))
            raise DicomInputError(
                f"duplicate slice position {pos[n].round(3).tolist()} in {series[n].filename} and "
                f"{series[n + 1].filename}: the folder mixes several acquisitions or time frames; split them"
            )
        step = steps.mean(axis=0)
        spacing_mm = float(np.linalg.norm(step))
        tol = max(SLICE_SPACING_TOLERANCE_FRACTION * spacing_mm, _SLICE_SPACING_TOLERANCE_MM)
        deviation = np.linalg.norm(steps - step, axis=1)
        if np.max(deviation) > tol:
            n = int(np.argmax(deviation))
            raise DicomInputError(
                f"non-uniform slice spacing in series {first.SeriesInstanceUID}: {float(distances[n]):.3f} mm between "
                f"{series[n].filename} and {series[n + 1].filename}, median {float(np.median(distances)):.3f} mm — "
                "a slice is missing; re-export the complete series"
            )
    affine = np.eye(4)
    affine[:3, 0] = step
    affine[:3, 1] = col_cos * spacing[0]
    affine[:3, 2] = row_cos * spacing[1]
    affine[:3, 3] = pos[0]
    return series, affine


def _multiframe_geometry(ds: pydicom.Dataset) -> tuple[np.ndarray, np.ndarray]:
    image_type = [str(v).upper() for v in ds.get("ImageType", [])]
    if str(ds.get("Modality", "")) == "NM" and len(image_type) > 2 and image_type[2] in ("TOMO", "GATED TOMO",
                                                                                      "STATIC", "DYNAMIC",
                                                                                      "WHOLE BODY"):
        raise DicomInputError(
            f"{ds.filename}: NM ImageType {image_type} holds projections, not a reconstructed volume; export the "
            "reconstruction (ImageType RECON TOMO)"
        )
    detector = ds.get("DetectorInformationSequence")
    source = detector[0] if detector else ds
    orientation = source.get("ImageOrientationPatient", ds.get("ImageOrientationPatient"))
    position = source.get("ImagePositionPatient", ds.get("ImagePositionPatient"))
    if position is None:
        raise DicomInputError(
            f"{ds.filename}: no ImagePositionPatient in DetectorInformationSequence (0054,0022) or at top level; "
            "the volume cannot be placed in patient space"
        )
    row_cos, col_cos, normal = _in_plane(ds, orientation)
    spacing = _pixel_spacing(ds)
    if ds.get("SpacingBetweenSlices") not in (None, ""):
        step_mm = float(ds.SpacingBetweenSlices)
    elif ds.get("SliceThickness") not in (None, ""):
        step_mm = float(ds.SliceThickness)
        logger.info("%s: no SpacingBetweenSlices; using SliceThickness %.3f mm", ds.filename, step_mm)
    else:
        raise DicomInputError(f"{ds.filename}: neither SpacingBetweenSlices (0018,0088) nor SliceThickness; slice step unknown")
    if step_mm == 0:
        raise DicomInputError(f"{ds.filename}: SpacingBetweenSlices is 0")
    array = _pixels(ds)
    if array.ndim != 3:
        raise DicomInputError(f"{ds.filename}: expected frames × rows × columns pixel data, got shape {array.shape}")
    affine = np.eye(4)
    affine[:3, 0] = normal * step_mm
    affine[:3, 1] = col_cos * spacing[0]
    affine[:3, 2] = row_cos * spacing[1]
    affine[:3, 3] = _floats(position, 3, "ImagePositionPatient (0020,0032)", ds)
    return array, affine


def _rescale(ds: pydicom.Dataset, pixels: np.ndarray) -> np.ndarray:
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    return pixels.astype(np.float64) * slope + intercept


def _philips_scale(ds: pydicom.Dataset) -> float | None:
    element = ds.get(PHILIPS_ACTIVITY_SCALE_TAG)
    if element is None:
        return None
    value = element.value
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").strip("\x00 ")
    try:
        scale = float(value)
    except (TypeError, ValueError):
        return None
    return scale if scale > 0 else None


def _values(series: Sequence[pydicom.Dataset], arrays: list[np.ndarray], modality: str) -> tuple[np.ndarray, str, str]:
    first = series[0]
    if modality == "CT":
        values = np.concatenate([_rescale(ds, a) for ds, a in zip(series, arrays, strict=True)]).astype(np.float32)
        return values, "ct", "HU"
    if modality == "PT":
        units = str(first.get("Units", "")).upper()
        out = []
        for ds, a in zip(series, arrays, strict=True):
            v = _rescale(ds, a)
            if units == "CNTS":
                scale = _philips_scale(ds)
                if scale is None:
                    raise UnitsError(
                        f"{ds.filename}: PET Units (0054,1001) is CNTS (Philips) and the private activity-concentration "
                        "scale factor (7053,1009) is missing: re-export the series in BQML or with Philips private "
                        "tags kept"
                    )
                v = v * scale
            elif units == "GML":
                raise UnitsError(
                    f"{ds.filename}: PET Units (0054,1001) is GML (SUV body weight), not activity: export the "
                    "original BQML series; SUV images cannot be converted back without the exact weight, dose and times"
                )
            elif units not in _PET_UNITS:
                raise UnitsError(
                    f"{ds.filename}: PET Units (0054,1001) = {units!r} is not supported; sirtkit needs BQML "
                    "(or Philips CNTS with (7053,1009))"
                )
            out.append(v)
        return np.concatenate(out), "activity_concentration", "Bq/mL"
    if modality == "NM":
        values = _rescale(first, arrays[0])
        for item in first.get("RealWorldValueMappingSequence", []):
            units_seq = item.get("MeasurementUnitsCodeSequence", [])
            code = str(units_seq[0].get("CodeValue", "")) if units_seq else ""
            if code in _UCUM_BQ_PER_ML:
                slope = float(item.get("RealWorldValueSlope", 1.0))
                intercept = float(item.get("RealWorldValueIntercept", 0.0))
                return arrays[0].astype(np.float64) * slope + intercept, "activity_concentration", "Bq/mL"
        return values, "counts", "counts"
    values = np.concatenate([_rescale(ds, a) for ds, a in zip(series, arrays, strict=True)])
    return values, "unknown", "1"


def _metadata(
    series: Sequence[pydicom.Dataset], modality: str, assume_timezone: tzinfo | None, expected_nuclide: str | None
) -> dict[str, Any]:
    first = series[0]
    clock = _Clock(first, assume_timezone)
    meta: dict[str, Any] = {
        "modality": modality,
        "series_instance_uid": str(first.get("SeriesInstanceUID", "")) or None,
        "study_instance_uid": str(first.get("StudyInstanceUID", "")) or None,
        "patient_id": str(first.get("PatientID", "")) or None,
        "series_description": str(first.get("SeriesDescription", "")) or None,
        "decay_correction": None,
        "reference_datetime": None,
        "acquisition_datetime": None,
        "radiopharmaceutical_start": None,
        "radionuclide_total_dose_bq": None,
        "radionuclide_half_life_s": None,
        "source_files": [str(ds.filename) for ds in series],
    }
    if modality not in ("PT", "NM"):
        return meta
    radio = first.get("RadiopharmaceuticalInformationSequence")
    item = radio[0] if radio else pydicom.Dataset()
    if "RadionuclideTotalDose" in item and item.RadionuclideTotalDose not in (None, ""):
        meta["radionuclide_total_dose_bq"] = float(item.RadionuclideTotalDose)
    half_life = float(item.RadionuclideHalfLife) if item.get("RadionuclideHalfLife") not in (None, "") else None
    meta["radionuclide_half_life_s"] = half_life
    _check_nuclide(first, item, half_life, expected_nuclide)
    series_dt = clock.da_tm(first.get("SeriesDate"), first.get("SeriesTime"))
    acquisitions = [clock.da_tm(ds.get("AcquisitionDate"), ds.get("AcquisitionTime")) for ds in series]
    acq = min((a for a in acquisitions if a is not None), default=None)
    start = series_dt if (series_dt is not None and (acq is None or series_dt <= acq)) else acq
    meta["acquisition_datetime"] = start
    rp_start = None
    if item.get("RadiopharmaceuticalStartDateTime"):
        naive, own_tz = _parse_dt(str(item.RadiopharmaceuticalStartDateTime))
        rp_start = clock.aware(naive, own_tz)
    elif item.get("RadiopharmaceuticalStartTime") and start is not None:
        moment = _parse_tm(str(item.RadiopharmaceuticalStartTime))
        if moment is not None:
            rp_start = datetime.combine(start.date(), moment, tzinfo=start.tzinfo)
            if rp_start > start:  # TM has no date: injection before midnight, scan after
                rp_start -= timedelta(days=1)
    meta["radiopharmaceutical_start"] = rp_start
    correction = str(first.get("DecayCorrection", "")).upper() or None
    meta["decay_correction"] = correction
    meta["reference_datetime"] = rp_start if correction == "ADMIN" else start
    if modality == "PT" and clock.unknown:
        raise DicomInputError(
            f"{first.filename}: the DICOM times have no timezone (no offset in DT values, no TimezoneOffsetFromUTC "
            "(0008,0201)); pass assume_timezone=ZoneInfo('Europe/...') (or --timezone) for the scanner's local time"
        )
    return meta


def _check_nuclide(ds: pydicom.Dataset, item: pydicom.Dataset, half_life_s: float | None, expected: str | None) -> None:
    texts = [str(item.get("Radiopharmaceutical", ""))]
    codes = item.get("RadionuclideCodeSequence", [])
    says_y90 = False
    for code in codes:
        texts.append(str(code.get("CodeMeaning", "")))
        says_y90 |= str(code.get("CodeValue", "")) == _Y90_SCT_CODE
    says_y90 |= any(_Y90_TEXT.search(t) for t in texts)
    nuclide = get_nuclide(expected) if expected is not None else (Y90 if says_y90 else None)
    if nuclide is None or half_life_s is None:
        return
    if abs(half_life_s - nuclide.half_life_s) > HALF_LIFE_TOLERANCE_FRACTION * nuclide.half_life_s:
        raise DicomInputError(
            f"{ds.filename}: RadionuclideHalfLife (0018,1075) = {half_life_s:g} s, but the radiopharmaceutical is "
            f"{nuclide.name} ({nuclide.half_life_s:g} s): the scan was set up as another nuclide (F-18 is 6586 s), "
            "so the scanner's decay correction and positron branching are wrong. Reconstruct again with the "
            f"{nuclide.name} settings"
        )

