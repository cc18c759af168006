"""Read CT, PET and NM (SPECT) DICOM series into a :class:`Volume` with its quantity and unit.

A series is validated **as a whole, in one place** (:func:`_validate_series`) before anything is
stacked: a file a PACS or an export script can really produce either reads correctly, is repaired
with a note, or is refused with a :class:`~sirtkit.errors.DicomInputError` that names the file and
the attribute. Nothing downstream (quantification, RTDOSE and SEG writers) has to re-check it.

Conventions followed (shared design note DICOM.md §2; DICOM PS3.3 C.7.6.2, C.8.9, C.8.4):

* **Series identity.** Every slice must carry the same SOP Class (a CT, PET or NM image storage
  class), Modality, Study, Series and Frame of Reference UIDs, PatientID, matrix size and pixel
  encoding. A missing Modality is repaired from the SOP Class (noted); a missing SOP Class from the
  file meta information. Type 2 attributes that writers copy (StudyID, StudyDate, StudyTime, ...)
  may be absent: they are listed in ``metadata["missing_type2"]`` for the writers to fill empty.
* **Geometry** is decided by ImagePositionPatient (never by InstanceNumber). Single-frame slices are
  sorted by their position along the slice normal ``row cosine × column cosine``; the slice step is
  the mean difference of consecutive positions, which must be uniform (a missing slice is refused).
  Orientation cosines must be unit and orthogonal, every position, spacing and thickness finite, and
  spacings plausible (:data:`PLAUSIBLE_SPACING_MM`). InstanceNumber is cross-checked against the
  position order; a disagreement is a warning in ``metadata["read_warnings"]``. NM multi-frame
  objects take ImagePositionPatient/ImageOrientationPatient from DetectorInformationSequence
  (0054,0022) (a tilted detector gives a tilted grid) and stack frames along
  ``SpacingBetweenSlices × normal`` — its sign sets the direction (GE writes negative values;
  dcm2niix issue #885) — with SliceThickness as fallback.
* **Pixels.** BitsStored is cross-checked against the stored values: a slice whose pixel data use
  bits that its BitsStored masks away is refused; a BitsStored that differs between slices but
  truncates nothing is a warning.
* **Values.** RescaleSlope/Intercept applied per slice in float64 (slopes vary per slice on GE and
  Siemens PET; an int16 × slope product without a float cast loses the fraction, Slicer
  PETDICOMExtension PR #27). A PET slice without RescaleSlope (Type 1 in the PET Image module,
  PS3.3 C.8.9.4), or with a zero, negative or non-finite slope, is refused: quantification from it
  would be silently wrong by the missing factor. CT → ``"ct"``/``"HU"``. PET ``BQML`` → Bq/mL;
  ``CNTS`` (Philips) × private activity-concentration factor (7053,1009) → Bq/mL (the SUV factor
  (7053,1000) is never used for activity); ``CNTS`` without the factor, ``PROPCNTS`` or ``CPS`` →
  counts (usable for patient-relative quantification only, the reason is in
  ``metadata["unit_problem"]``); ``GML`` (SUV) and other units refused. NM has no Units: a Real World
  Value Mapping (0040,9096) to UCUM ``Bq/ml`` gives Bq/mL, else counts.
* **Time.** ``metadata["reference_datetime"]`` is the time the values are decay-corrected to:
  DecayCorrection ``START`` → scan start, ``ADMIN`` → RadiopharmaceuticalStartDateTime, ``NONE`` →
  acquisition start. The scan start is GE's private scan date-time (0009,100D) of creator
  ``GEMS_PETD_01`` when present (GE post-processing rewrites SeriesTime), else the series start, else
  the earliest AcquisitionDateTime / AcquisitionDate+Time when SeriesTime is later (Siemens) — the
  QIBA SUV pseudo-code order. Times take their timezone from the DT offset, else
  TimezoneOffsetFromUTC (0008,0201), else the caller's ``assume_timezone`` (an IANA zone applies its
  own daylight-saving rule on that date). Nothing here refuses a series for missing timing: without a
  timezone, or with a time-only RadiopharmaceuticalStartTime (TM has no date, so a scan days later
  cannot be placed), the times stay ``None`` and ``metadata["timing_problem"]`` says why; only
  absolute quantification needs them.
* **Nuclide.** A PET/NM whose RadionuclideHalfLife is more than 1 % from the declared (code or name)
  or expected nuclide's half-life is refused: the scanner applied the decay and positron branching of
  another nuclide (usually F-18, 6586 s). A declared nuclide other than the expected one is refused.
* **Messages** quote attribute values through :func:`_brief`, so a 24 MB value cannot flood a
  terminal. Elements read as VR UN are decoded by the data dictionary (pydicom's
  ``replace_un_with_known_vr``) and private ones are decoded here.

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
import math
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag

from sirtkit.errors import DicomInputError, InputError, UnitsError
from sirtkit.imaging.volume import Volume
from sirtkit.physics.nuclides import Nuclide, get_nuclide

__all__ = [
    "HALF_LIFE_TOLERANCE_FRACTION",
    "IMAGE_SOP_CLASSES",
    "NON_IMAGE_MODALITIES",
    "PLAUSIBLE_SPACING_MM",
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
# Orientation cosines of all slices must agree to 1e-4 (same tolerance as Volume.same_grid); each
# cosine vector must be unit and the two orthogonal to 1e-3 (DICOM writes them with ~6 digits).
_ORIENTATION_TOLERANCE = 1e-4
_ORTHONORMAL_TOLERANCE = 1e-3
# Plausible pixel spacing and slice step of a clinical CT, PET or SPECT: 0.05 mm (micro-CT is not a
# clinical input) to 50 mm (bremsstrahlung SPECT matrices are coarsest at ~10 mm; the doctest phantom
# uses 16 mm). Outside this range the number is a unit or encoding error, not a voxel size.
PLAUSIBLE_SPACING_MM = (0.05, 50.0)
# Modalities in a folder that are not image series (skipped when collecting images).
NON_IMAGE_MODALITIES = frozenset({"SEG", "RTSTRUCT", "RTDOSE", "RTPLAN", "RTRECORD", "SR", "PR", "KO", "REG", "DOC"})
# Image storage SOP classes sirtkit reads, with the Modality each implies (PS3.4 Annex B.5).
IMAGE_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.2": "CT",  # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.1": "CT",  # Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.2": "CT",  # Legacy Converted Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.128": "PT",  # Positron Emission Tomography Image Storage
    "1.2.840.10008.5.1.4.1.1.130": "PT",  # Enhanced PET Image Storage
    "1.2.840.10008.5.1.4.1.1.128.1": "PT",  # Legacy Converted Enhanced PET Image Storage
    "1.2.840.10008.5.1.4.1.1.20": "NM",  # Nuclear Medicine Image Storage
}
_CLASSIC_PET_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.128"  # PET Image Storage: Units and DecayCorrection are Type 1
# Philips PET: activity-concentration scale factor, private tag (7053,1009); (7053,1000) is the SUV factor
# (DICOM.md §2; Philips PET/CT DICOM conformance statement, private group "Philips PET Private Group").
PHILIPS_ACTIVITY_SCALE_TAG = (0x7053, 0x1009)
PHILIPS_SUV_SCALE_TAG = (0x7053, 0x1000)
# GE PET: private scan date-time (0009,100D), creator "GEMS_PETD_01": the original scan start, which
# GE post-processing keeps while it rewrites SeriesTime (QIBA SUV pseudo-code; DICOM.md §2).
GE_PRIVATE_CREATOR = "GEMS_PETD_01"
GE_SCAN_DATETIME_TAG = (0x0009, 0x100D)
_Y90_TEXT = re.compile(r"(\by\s*-?\s*90\b|\b90\s*-?\s*y\b|yttrium|\^90\^y)", re.IGNORECASE)
_NUCLIDE_TEXT: dict[str, re.Pattern[str]] = {
    "Y-90": _Y90_TEXT,
    "Ho-166": re.compile(r"(\bho\s*-?\s*166\b|\b166\s*-?\s*ho\b|holmium|\^166\^ho)", re.IGNORECASE),
    "Tc-99m": re.compile(r"(\btc\s*-?\s*99m?\b|\b99m?\s*-?\s*tc\b|technetium|\^99m\^tc)", re.IGNORECASE),
    "F-18": re.compile(r"(\bf\s*-?\s*18\b|\b18\s*-?\s*f\b|fluor|fdg|\^18\^f)", re.IGNORECASE),
}
# SNOMED CT radionuclide codes (DICOM CID 4020): Y-90 14691008 (DICOM.md §2), F-18 77004003,
# Tc-99m 44588005, Ho-166 not in CID 4020 (matched by name).
_NUCLIDE_SCT: dict[str, str] = {"14691008": "Y-90", "77004003": "F-18", "44588005": "Tc-99m"}
# F-18 half-life (6586.2 s, ICRP-107): the nuclide a Y-90 PET is most often wrongly set up as.
_F18_HALF_LIFE_S = 6586.2
_PET_ACTIVITY_UNITS = frozenset({"BQML"})
# PET Units proportional to activity but not in Bq/mL (PS3.3 C.8.9.1.1.3): usable for relative mode only.
_PET_COUNT_UNITS = frozenset({"CNTS", "PROPCNTS", "CPS"})
_MEDIA_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"  # DICOMDIR (PS3.10), skipped in folders
_UCUM_BQ_PER_ML = {"Bq/ml", "Bq/mL", "BQML"}
# Longest attribute value quoted in a message (characters); longer values are cut with their length.
MESSAGE_VALUE_CHARS = 80
# Type 2 attributes that the DICOM writers (RTDOSE, SEG, SR) copy from the source series; when absent
# here the writers must write them empty (PS3.3 C.7.1.1 Patient, C.7.2.1 General Study, C.7.3.1 Series).
_WRITER_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyID", "StudyDate",
                 "StudyTime", "AccessionNumber", "ReferringPhysicianName", "SeriesNumber", "InstanceNumber",
                 "Manufacturer", "PositionReferenceIndicator")
# Attributes that must be identical on every slice of one series: (keyword, tag text, required).
_SERIES_CONSTANT: tuple[tuple[str, str, bool], ...] = (
    ("SOPClassUID", "(0008,0016)", True),
    ("Modality", "(0008,0060)", True),
    ("StudyInstanceUID", "(0020,000D)", True),
    ("SeriesInstanceUID", "(0020,000E)", True),
    ("FrameOfReferenceUID", "(0020,0052)", True),
    ("PatientID", "(0010,0020)", False),
    ("Rows", "(0028,0010)", True),
    ("Columns", "(0028,0011)", True),
    ("SamplesPerPixel", "(0028,0002)", True),
    ("PhotometricInterpretation", "(0028,0004)", True),
    ("BitsAllocated", "(0028,0100)", True),
    ("PixelRepresentation", "(0028,0103)", True),
)
_PET_CONSTANT: tuple[tuple[str, str, bool], ...] = (
    ("Units", "(0054,1001)", True),
    ("DecayCorrection", "(0054,1102)", True),
)


# ---------------------------------------------------------------------------------- safe accessors
def _brief(value: Any, limit: int = MESSAGE_VALUE_CHARS) -> str:
    """``repr`` of a value, cut to ``limit`` characters (a message never carries megabytes)."""
    if isinstance(value, bytes | bytearray) and len(value) > limit:
        return f"<{len(value)} bytes>"
    if isinstance(value, pydicom.multival.MultiValue | list | tuple) and len(value) > 12:
        return f"<{len(value)} values: {', '.join(str(v)[:16] for v in list(value)[:3])}, ...>"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _where(ds: pydicom.Dataset) -> str:
    return str(getattr(ds, "filename", None) or "<dataset>")


def _get(ds: pydicom.Dataset, keyword: str, tag_text: str = "") -> Any:
    """Value of ``keyword``, ``None`` when absent or empty; a value pydicom cannot parse is refused."""
    try:
        if keyword not in ds:
            return None
        with warnings.catch_warnings():  # pydicom's value-validation warnings: the checks below decide
            warnings.simplefilter("ignore")
            value = ds[keyword].value
    except Exception as err:  # malformed DS/IS/UI text, bad length, ...
        raise DicomInputError(
            f"{_where(ds)}: {keyword} {tag_text} cannot be read ({type(err).__name__}: {_brief(str(err))}); "
            "the file is damaged — export the series again"
        ) from err
    if isinstance(value, bytes | bytearray):  # VR UN that the dictionary did not resolve
        value = value.decode("ascii", "replace").strip("\x00 ")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, pydicom.multival.MultiValue | list) and len(value) == 0:
        return None
    return value


def _text(ds: pydicom.Dataset, keyword: str, tag_text: str = "") -> str | None:
    value = _get(ds, keyword, tag_text)
    return None if value is None else str(value).strip()


def _number(ds: pydicom.Dataset, keyword: str, tag_text: str) -> float | None:
    """A finite number or ``None`` when absent; non-numeric or non-finite values are refused."""
    value = _get(ds, keyword, tag_text)
    if value is None:
        return None
    if isinstance(value, pydicom.multival.MultiValue | list):
        value = value[0] if len(value) == 1 else value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DicomInputError(f"{_where(ds)}: {keyword} {tag_text} = {_brief(value)} is not a number") from None
    if not math.isfinite(number):
        raise DicomInputError(
            f"{_where(ds)}: {keyword} {tag_text} = {_brief(value)} is not finite; the file is damaged — "
            "export the series again")
    return number


def _private(ds: pydicom.Dataset, tag: tuple[int, int], creator: str | None = None) -> str | None:
    """Text of a private element (any VR, also UN bytes); ``None`` when absent or of another creator."""
    group, element = tag
    try:
        if creator is not None:
            owner = ds.get((group, element >> 8))
            owner_text = owner.value if owner is not None else None
            if isinstance(owner_text, bytes):
                owner_text = owner_text.decode("ascii", "replace")
            if owner_text is None or str(owner_text).strip("\x00 ").upper() != creator.upper():
                return None
        item = ds.get((group, element))
        if item is None:
            return None
        value = item.value
    except Exception:  # a damaged private element is ignored like an absent one
        return None
    if isinstance(value, bytes | bytearray):
        value = value.decode("ascii", "replace")
    if isinstance(value, pydicom.multival.MultiValue | list):
        value = value[0] if value else None
    text = None if value is None else str(value).strip("\x00 ")
    return text or None


# ------------------------------------------------------------------------------------------ files
def _dicom_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DicomInputError(f"{path}: folder holds no files; give the folder of one DICOM series")
    return files


# Pixel data elements, read from the file only when the series they belong to is decoded (pydicom
# ``defer_size``): a PET/CT study folder is searched for its PET without loading the CT's pixels (a 300-slice
# CT: 1.6 → 0.5 s and 218 → 70 MB, issue 9). A truncated pixel element is found, and refused naming its
# file, when its series is decoded (_pixels).
_PIXEL_TAGS = frozenset({pydicom.tag.Tag(0x7FE0, 0x0010), pydicom.tag.Tag(0x7FE0, 0x0008),
                         pydicom.tag.Tag(0x7FE0, 0x0009)})  # PixelData, FloatPixelData, DoubleFloatPixelData
_DEFER_BYTES = 64 * 1024  # values longer than this wait in the file until used (only pixel data is left waiting)


# What choosing a series reads from every file in a folder (decoded, and refused when damaged, for every file;
# everything else only for the files of the chosen series).
_SELECTION_TAGS = frozenset(pydicom.tag.Tag(k) for k in ("Modality", "SeriesInstanceUID", "SOPClassUID",
                                                        "SeriesDescription"))


def _read(path: Path) -> pydicom.Dataset | None:
    """Read one file; None for non-DICOM files, DicomInputError for broken DICOM files.

    Only what choosing a series reads is decoded here (:data:`_SELECTION_TAGS`, and the file meta); the
    caller decodes the rest of the chosen series' files (:func:`_decode_all`)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path, defer_size=_DEFER_BYTES)
        for w in caught:
            logger.warning("%s: %s", path, _brief(str(w.message), 200))
    except InvalidDicomError:
        logger.info("%s: not a DICOM file; skipped", path)
        return None
    except Exception as err:  # pydicom raises many types for truncated or corrupt files
        raise DicomInputError(
            f"{path}: cannot read this DICOM file ({type(err).__name__}: {_brief(str(err), 200)}); it is truncated "
            "or corrupt — copy it again from the PACS or remove it from the folder"
        ) from err
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        _decode_all(meta, path)
    _decode_all(ds, path, only=_SELECTION_TAGS)
    return ds


def _decode_all(ds: pydicom.Dataset, path: Path, *, only: frozenset[BaseTag] | None = None) -> None:
    """Decode every element now (pydicom decodes lazily), so a damaged one is named here, not met later.

    A public element that cannot be decoded (a corrupt VR or value) refuses the file naming its tag; a
    damaged private element is dropped (logged): sirtkit reads only the private tags it knows, by value.
    ``only``: decode just these top-level tags.
    """
    for tag in list(ds.keys()):
        if tag in _PIXEL_TAGS or (only is not None and tag not in only):
            continue  # pixel data: bytes, read and checked when the series is decoded (_pixels)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                element = ds[tag]
                items = list(element.value) if element.VR == "SQ" else []
        except Exception as err:
            if tag.is_private:
                logger.info("%s: private element %s cannot be decoded; ignored", path, tag)
                del ds[tag]
                continue
            keyword = pydicom.datadict.keyword_for_tag(tag) or "element"
            raise DicomInputError(
                f"{path}: {keyword} {tag} cannot be decoded ({type(err).__name__}: {_brief(str(err), 120)}); the "
                "file is damaged — copy it again from the PACS or remove it from the folder") from err
        for item in items:
            if isinstance(item, pydicom.Dataset):
                _decode_all(item, path)


def _pixels(ds: pydicom.Dataset) -> np.ndarray:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            array = np.asarray(ds.pixel_array)
        for w in caught:
            logger.warning("%s: %s", _where(ds), _brief(str(w.message), 200))
    except Exception as err:
        raise DicomInputError(
            f"{_where(ds)}: cannot decode the pixel data ({type(err).__name__}: {_brief(str(err), 200)}); the file "
            "is truncated, its Rows/Columns/Bits attributes do not match the data, or it uses a compression "
            "without a decoder — copy it again or export it uncompressed"
        ) from err
    return array


def _check_bits_stored(ds: pydicom.Dataset, array: np.ndarray) -> None:
    """Refuse a slice whose stored values use bits that its BitsStored masks away (native encoding only)."""
    bits_allocated = int(_number(ds, "BitsAllocated", "(0028,0100)") or 0)
    bits_stored = int(_number(ds, "BitsStored", "(0028,0101)") or bits_allocated)
    if bits_stored >= bits_allocated or bits_allocated not in (8, 16, 32):
        return
    transfer = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ""))
    if transfer not in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1"):  # compressed: the codec decides
        return
    # Bits above BitsStored may legally be zero or a sign extension (PS3.5 §8.1.1); anything else there is
    # image data that the header's BitsStored would cut away (issue 10: up to 46 % dose change).
    raw = np.frombuffer(ds.PixelData, dtype=np.dtype(f"<u{bits_allocated // 8}"), count=array.size)
    high = raw >> np.asarray(bits_stored, dtype=raw.dtype)
    all_ones = (1 << (bits_allocated - bits_stored)) - 1
    if np.any((high != 0) & (high != all_ones)):
        raise DicomInputError(
            f"{_where(ds)}: BitsStored (0028,0101) = {bits_stored} but the stored pixel values use all "
            f"{bits_allocated} bits allocated: the header and the pixel data disagree (values would be cut). "
            "Export the series again; do not edit BitsStored"
        )


# ------------------------------------------------------------------------------------------- time
def _tz_from_offset(text: str) -> tzinfo | None:
    m = re.fullmatch(r"\s*([+-])(\d{2})(\d{2})\s*", text)
    if not m or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes))


def _parse_tm(text: str) -> time | None:
    text = text.strip()
    m = re.fullmatch(r"(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?", text)
    if not m:
        return None
    frac = (m.group(4) or "0").ljust(6, "0")
    try:
        return time(int(m.group(1)), int(m.group(2) or 0), min(int(m.group(3) or 0), 59), int(frac))
    except ValueError:
        return None


def _parse_da(text: str) -> date | None:
    text = text.strip()
    try:
        return datetime.strptime(text, "%Y%m%d").date() if re.fullmatch(r"\d{8}", text) else None
    except ValueError:
        return None


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
        self.file_tz = _tz_from_offset(_text(ds, "TimezoneOffsetFromUTC") or "")
        self.assume = assume_timezone
        self.unknown = False
        self.sources: set[str] = set()

    def aware(self, naive: datetime | None, own_tz: tzinfo | None = None) -> datetime | None:
        if naive is None:
            return None
        if own_tz is not None:
            self.sources.add("the offset in the DT value")
            return naive.replace(tzinfo=own_tz)
        if self.file_tz is not None:
            self.sources.add("TimezoneOffsetFromUTC (0008,0201)")
            return naive.replace(tzinfo=self.file_tz)
        if self.assume is not None:
            self.sources.add(f"the assumed timezone {self.assume}")
            return naive.replace(tzinfo=self.assume)  # ZoneInfo applies the DST rule of that date
        self.unknown = True
        return None

    def da_tm(self, da: Any, tm: Any) -> datetime | None:
        day = _parse_da(str(da or ""))
        moment = _parse_tm(str(tm or ""))
        if day is None or moment is None:
            return None
        return self.aware(datetime.combine(day, moment))

    def dt(self, value: Any) -> datetime | None:
        naive, own_tz = _parse_dt(str(value or ""))
        return self.aware(naive, own_tz)


# ------------------------------------------------------------------------------------------ public
def read_dicom_series(
    path: str | Path,
    *,
    series_instance_uid: str | None = None,
    assume_timezone: tzinfo | None = None,
    expected_nuclide: str | None = None,
    modalities: Sequence[str] | None = None,
    choose_hint: str = "choose one by its SeriesInstanceUID",
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
        ``zoneinfo.ZoneInfo("Europe/Amsterdam")`` (daylight saving follows the date).
    expected_nuclide
        E.g. ``"Y-90"``: refuse a PET/NM whose declared nuclide or RadionuclideHalfLife does not match.
    modalities
        E.g. ``("PT", "NM")``: in a folder with several series, only these modalities are candidates, so a
        PET/CT export folder yields its one PET series without a UID (noted).
    choose_hint
        How the user picks a series, said when several remain (interfaces name their option).

    Returns
    -------
    Volume
        Values in float64 (PET/NM) or float32 (CT), LPS affine, FrameOfReferenceUID, and metadata keys
        ``modality``, ``series_instance_uid``, ``study_instance_uid``, ``patient_id``, ``units``,
        ``manufacturer``, ``decay_correction``, ``reference_datetime``, ``acquisition_datetime``,
        ``scan_start_source``, ``radiopharmaceutical_start``, ``radiopharmaceutical_start_time_only``,
        ``radionuclide``, ``radionuclide_total_dose_bq``, ``radionuclide_half_life_s``,
        ``timezone_source``, ``timing_problem``, ``unit_problem``, ``missing_type2``, ``read_notes``,
        ``read_warnings``, ``source_files`` (None or empty when absent).

    Raises
    ------
    DicomInputError
        No image series, several series without a choice (UIDs listed), truncated/corrupt file (named),
        a slice that disagrees with the series (file and attribute named), missing or duplicate slices,
        mixed or invalid orientations, implausible spacing, wrong half-life or nuclide.
    UnitsError
        Impossible value scaling (PET RescaleSlope missing, zero, negative), PET Units GML (SUV) or
        unknown units.
    """
    p = Path(path)
    if not p.exists():
        raise DicomInputError(f"{p}: no such file or folder")
    datasets: list[pydicom.Dataset] = []
    for f in _dicom_files(p):
        ds = _read(f)  # the chosen series is decoded whole below
        if ds is None or (_text(ds, "Modality") or "") in NON_IMAGE_MODALITIES:
            continue
        if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
            sop_class = str(getattr(ds.get("file_meta"), "MediaStorageSOPClassUID", ""))
            if sop_class == _MEDIA_DIRECTORY_SOP_CLASS or "DirectoryRecordSequence" in ds:
                continue
            raise DicomInputError(
                f"{f}: DICOM file without pixel data (Modality {_brief(_text(ds, 'Modality') or 'missing')}); it is "
                "truncated or not an image — copy it again from the PACS or remove it from the folder"
            )
        datasets.append(ds)
    if not datasets:
        raise DicomInputError(f"{p}: no DICOM image (CT, PT, NM) found; point to the folder of the image series")
    notes: list[str] = []
    series = _choose_series(p, datasets, series_instance_uid, modalities, choose_hint, notes)
    for ds in series:
        _decode_all(ds, Path(ds.filename))
    read_warnings: list[str] = []
    modality = _validate_series(series, notes, read_warnings)
    first = series[0]
    if "PerFrameFunctionalGroupsSequence" in first:
        if len(series) > 1:
            raise DicomInputError(
                f"{p}: series {_brief(_text(first, 'SeriesInstanceUID'))} has {len(series)} enhanced multi-frame "
                "files; give one file (or one folder per file)")
        values, affine, quantity, unit, unit_problem = _enhanced(first, modality, notes)
        metadata = _metadata(series, modality, assume_timezone, expected_nuclide)
        metadata.update(unit_problem=unit_problem, read_notes=notes, read_warnings=read_warnings)
        return Volume(values, affine, quantity=quantity, unit=unit, frame_of_reference_uid=_text(first,
                      "FrameOfReferenceUID"), metadata=metadata)
    if int(_number(first, "NumberOfFrames", "(0028,0008)") or 1) > 1:
        if len(series) > 1:
            raise DicomInputError(
                f"{p}: series {_brief(_text(first, 'SeriesInstanceUID'))} has {len(series)} multi-frame files; "
                "give one file"
            )
        array, affine = _multiframe_geometry(first)
        arrays = [array]
    else:
        series, affine = _stack_geometry(series, read_warnings)
        arrays = []
        for ds in series:
            pixels = _pixels(ds)
            if pixels.shape != (int(ds.Rows), int(ds.Columns)):
                raise DicomInputError(
                    f"{_where(ds)}: pixel data of shape {pixels.shape} but Rows × Columns = {ds.Rows} × {ds.Columns}")
            _check_bits_stored(ds, pixels)
            arrays.append(pixels[np.newaxis])
    values, quantity, unit, unit_problem = _values(series, arrays, modality, notes)
    if not np.all(np.isfinite(values)):
        raise DicomInputError(f"{p}: the pixel values hold NaN or infinity after rescaling; export the series again")
    metadata = _metadata(series, modality, assume_timezone, expected_nuclide)
    metadata["unit_problem"] = unit_problem
    metadata["read_notes"] = notes
    metadata["read_warnings"] = read_warnings
    frame = _text(first, "FrameOfReferenceUID")
    return Volume(values, affine, quantity=quantity, unit=unit, frame_of_reference_uid=frame, metadata=metadata)


def _choose_series(path: Path, datasets: list[pydicom.Dataset], uid: str | None, modalities: Sequence[str] | None,
                   hint: str, notes: list[str]) -> list[pydicom.Dataset]:
    groups: dict[str, list[pydicom.Dataset]] = defaultdict(list)
    for ds in datasets:
        groups[_text(ds, "SeriesInstanceUID", "(0020,000E)") or ""].append(ds)
    if uid is not None:
        if uid not in groups:
            raise DicomInputError(f"{path}: no series {_brief(uid)}; the folder holds {_describe(groups)}")
        return groups[uid]
    if len(groups) > 1 and modalities is not None:
        wanted = {uid: items for uid, items in groups.items()
                  if (_text(items[0], "Modality") or IMAGE_SOP_CLASSES.get(_text(items[0], "SOPClassUID") or "", ""))
                  in modalities}
        if len(wanted) == 1:
            chosen_uid, chosen = next(iter(wanted.items()))
            notes.append(f"The folder holds {len(groups)} series; the only {'/'.join(modalities)} series "
                         f"{_brief(chosen_uid)} was read.")
            return chosen
        if wanted:
            groups = wanted
        else:
            raise DicomInputError(
                f"{path}: the folder holds no {'/'.join(modalities)} series, only {_describe(groups)}")
    if len(groups) > 1:
        raise DicomInputError(
            f"{path}: the folder holds {len(groups)} image series: {_describe(groups)}; {hint}, or put each series "
            "in its own folder"
        )
    return next(iter(groups.values()))


def _describe(groups: dict[str, list[pydicom.Dataset]]) -> str:
    shown = list(groups.items())[:10]
    text = "; ".join(
        f"{_brief(uid) if uid else '(no SeriesInstanceUID)'} ({_brief(_text(items[0], 'Modality') or '?')}, "
        f"{_brief(_text(items[0], 'SeriesDescription') or '', 40)}, {len(items)} files)"
        for uid, items in shown
    )
    return text + (f"; and {len(groups) - len(shown)} more" if len(groups) > len(shown) else "")


# ------------------------------------------------------------------------------ series validation
def _validate_series(series: list[pydicom.Dataset], notes: list[str], read_warnings: list[str]) -> str:
    """The one place where a series is checked as a whole; returns its Modality.

    Repairs (with a note): Modality from the SOP Class, SOP Class from the file meta. Refuses, naming
    the file and the attribute: a slice whose identity attribute (SOP Class, Modality, Study, Series,
    Frame of Reference, PatientID, matrix, pixel encoding, PET Units/DecayCorrection) is missing or differs
    from the rest of the series; an unknown SOP Class; a Modality that contradicts the SOP Class; a
    duplicate SOP Instance UID.
    """
    for ds in series:
        if _text(ds, "SOPClassUID") is None:
            media = str(getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "") or "")
            if not media:
                raise DicomInputError(
                    f"{_where(ds)}: SOPClassUID (0008,0016) is missing (also in the file meta information); the "
                    "file cannot be identified as an image — export the series again")
            ds.SOPClassUID = media
            notes.append(f"{_where(ds)}: SOPClassUID taken from the file meta information (MediaStorageSOPClassUID).")
        if _text(ds, "SOPInstanceUID") is None:  # Type 1; every derived object (SEG, RTDOSE) references it
            raise DicomInputError(
                f"{_where(ds)}: SOPInstanceUID (0008,0018) is missing (Type 1); the image cannot be referenced — "
                "export the series again")
        sop_class = _text(ds, "SOPClassUID") or ""
        implied = IMAGE_SOP_CLASSES.get(sop_class)
        if implied is None:
            raise DicomInputError(
                f"{_where(ds)}: SOPClassUID (0008,0016) = {_brief(sop_class)} is not a CT, PET or NM image storage "
                "class; remove this file from the series folder or export the series again")
        modality = _text(ds, "Modality", "(0008,0060)")
        if modality is None:
            ds.Modality = implied
            notes.append(f"{_where(ds)}: Modality (0008,0060) missing; {implied} taken from the SOP Class.")
        elif modality != implied:
            raise DicomInputError(
                f"{_where(ds)}: Modality (0008,0060) = {_brief(modality)} contradicts its SOP Class ({implied} image "
                "storage); the file is damaged — export the series again")
    modality = str(series[0].Modality)
    checks = _SERIES_CONSTANT + (_PET_CONSTANT if _text(series[0], "SOPClassUID") == _CLASSIC_PET_SOP_CLASS else ())
    for keyword, tag_text, required in checks:
        values = [_get(ds, keyword, tag_text) for ds in series]
        keyed = [None if v is None else str(v) for v in values]
        present = [v for v in keyed if v is not None]
        if not present:
            if required:
                raise DicomInputError(
                    f"{_where(series[0])}: {keyword} {tag_text} is missing (required, Type 1); the series cannot be "
                    "used — export it again from the scanner or PACS")
            continue
        majority, _count = Counter(present).most_common(1)[0]
        for ds, value in zip(series, keyed, strict=True):
            if value is None and required:
                raise DicomInputError(
                    f"{_where(ds)}: {keyword} {tag_text} is missing on this slice but present on the others; "
                    "the slice is damaged — export the series again")
            if value is not None and value != majority:
                raise DicomInputError(
                    f"{_where(ds)}: {keyword} {tag_text} = {_brief(value)} differs from the rest of the series "
                    f"({_brief(majority)}): this slice belongs to another "
                    f"{'study' if keyword == 'StudyInstanceUID' else 'frame of reference' if keyword == 'FrameOfReferenceUID' else 'patient' if keyword == 'PatientID' else 'series or encoding'}"
                    "; remove it from the folder or export the series again")
    for keyword, tag_text in (("Rows", "(0028,0010)"), ("Columns", "(0028,0011)")):
        size = _number(series[0], keyword, tag_text)
        if size is None or size < 1 or size != int(size):
            raise DicomInputError(f"{_where(series[0])}: {keyword} {tag_text} = {_brief(size)} is not a positive integer")
    uids = Counter(_text(ds, "SOPInstanceUID") for ds in series)
    duplicated = [uid for uid, n in uids.items() if uid is not None and n > 1]
    if duplicated:
        files = [_where(ds) for ds in series if _text(ds, "SOPInstanceUID") == duplicated[0]][:3]
        raise DicomInputError(
            f"SOPInstanceUID {_brief(duplicated[0])} appears in {len(files)} files ({', '.join(files)}): the same "
            "image was copied twice; keep one")
    bits = Counter(str(_get(ds, "BitsStored", "(0028,0101)")) for ds in series)
    if len(bits) > 1:
        odd = [_where(ds) for ds in series if str(_get(ds, "BitsStored")) != bits.most_common(1)[0][0]][:3]
        read_warnings.append(
            f"BitsStored (0028,0101) differs between slices ({', '.join(f'{k} on {n}' for k, n in bits.items())}; "
            f"e.g. {', '.join(odd)}); the stored values were checked against it and read as written")
    return modality


def _missing_type2(ds: pydicom.Dataset) -> list[str]:
    return [k for k in _WRITER_TYPE2 if _get(ds, k) is None]


# ------------------------------------------------------------------------------------- geometry
def _floats(value: Any, n: int, what: str, ds: pydicom.Dataset) -> np.ndarray:
    try:
        arr = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DicomInputError(f"{_where(ds)}: {what} = {_brief(value)} is not {n} numbers") from err
    if arr.shape != (n,):
        raise DicomInputError(f"{_where(ds)}: {what} = {_brief(value)} must have {n} values")
    if not np.all(np.isfinite(arr)):
        raise DicomInputError(f"{_where(ds)}: {what} = {_brief(value)} holds a non-finite number")
    return arr


def _plausible(ds: pydicom.Dataset, what: str, value_mm: float) -> None:
    low, high = PLAUSIBLE_SPACING_MM
    if not low <= abs(value_mm) <= high:
        raise DicomInputError(
            f"{_where(ds)}: {what} = {value_mm:g} mm is outside the plausible {low:g}–{high:g} mm of a clinical "
            "image; the value is damaged or in another unit — export the series again")


def _in_plane(ds: pydicom.Dataset, orientation: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row cosine, column cosine, normal) unit vectors of a slice (checked unit and orthogonal)."""
    if orientation is None:
        raise DicomInputError(f"{_where(ds)}: ImageOrientationPatient (0020,0037) is missing")
    iop = _floats(orientation, 6, "ImageOrientationPatient (0020,0037)", ds)
    row_cos, col_cos = iop[:3], iop[3:]
    norms = (float(np.linalg.norm(row_cos)), float(np.linalg.norm(col_cos)))
    if max(abs(norms[0] - 1.0), abs(norms[1] - 1.0), abs(float(row_cos @ col_cos))) > _ORTHONORMAL_TOLERANCE:
        raise DicomInputError(
            f"{_where(ds)}: ImageOrientationPatient (0020,0037) = {_brief(iop.round(6).tolist())} is not two "
            "orthogonal unit vectors; the geometry is damaged — export the series again")
    row_cos, col_cos = row_cos / norms[0], col_cos / norms[1]
    normal = np.cross(row_cos, col_cos)
    return row_cos, col_cos, normal / np.linalg.norm(normal)


def _pixel_spacing(ds: pydicom.Dataset) -> np.ndarray:
    value = _get(ds, "PixelSpacing", "(0028,0030)")
    if value is None:
        raise DicomInputError(f"{_where(ds)}: PixelSpacing (0028,0030) is missing; the voxel size is unknown")
    spacing = _floats(value, 2, "PixelSpacing (0028,0030)", ds)
    for s in spacing:
        if s <= 0:
            raise DicomInputError(f"{_where(ds)}: PixelSpacing (0028,0030) = {_brief(spacing.tolist())} must be positive")
        _plausible(ds, "PixelSpacing (0028,0030)", float(s))
    return spacing


def _slice_thickness(ds: pydicom.Dataset) -> float | None:
    thickness = _number(ds, "SliceThickness", "(0018,0050)")
    if thickness is not None and thickness < 0:
        raise DicomInputError(f"{_where(ds)}: SliceThickness (0018,0050) = {thickness:g} mm is negative")
    if thickness:
        _plausible(ds, "SliceThickness (0018,0050)", thickness)
    return thickness


def _stack_geometry(series: list[pydicom.Dataset], read_warnings: list[str]) -> tuple[list[pydicom.Dataset], np.ndarray]:
    first = series[0]
    row_cos, col_cos, normal = _in_plane(first, _get(first, "ImageOrientationPatient"))
    spacing = _pixel_spacing(first)
    iop0 = np.concatenate([row_cos, col_cos])
    for ds in series:
        iop = _floats(_get(ds, "ImageOrientationPatient") or [], 6, "ImageOrientationPatient (0020,0037)", ds)
        if np.max(np.abs(iop - iop0)) > _ORIENTATION_TOLERANCE:
            raise DicomInputError(
                f"mixed slice orientations in series {_brief(_text(first, 'SeriesInstanceUID'))}: {_where(first)} "
                f"has {iop0.round(4).tolist()}, {_where(ds)} has {iop.round(4).tolist()}; split the series"
            )
        if np.max(np.abs(_pixel_spacing(ds) - spacing)) > 1e-4:
            raise DicomInputError(
                f"{_where(ds)}: PixelSpacing (0028,0030) differs from {_where(first)} in the same series")
        _slice_thickness(ds)
    positions = []
    for ds in series:
        value = _get(ds, "ImagePositionPatient", "(0020,0032)")
        if value is None:
            raise DicomInputError(f"{_where(ds)}: ImagePositionPatient (0020,0032) is missing")
        positions.append(_floats(value, 3, "ImagePositionPatient (0020,0032)", ds))
    pos = np.array(positions)
    order = np.argsort(pos @ normal, kind="stable")
    series = [series[n] for n in order]
    pos = pos[order]
    if len(series) == 1:
        thickness = _number(first, "SpacingBetweenSlices", "(0018,0088)") or _slice_thickness(first) or 0.0
        if thickness <= 0:
            raise DicomInputError(f"{_where(first)}: single slice without SliceThickness; the voxel depth is unknown")
        _plausible(first, "SliceThickness (0018,0050)", thickness)
        step = normal * abs(thickness)
    else:
        steps = np.diff(pos, axis=0)
        distances = steps @ normal
        if np.any(distances < _SLICE_SPACING_TOLERANCE_MM):
            n = int(np.argmin(distances))
            raise DicomInputError(
                f"duplicate slice position {pos[n].round(3).tolist()} in {_where(series[n])} and "
                f"{_where(series[n + 1])}: the folder mixes several acquisitions or time frames; split them"
            )
        step = steps.mean(axis=0)
        spacing_mm = float(np.linalg.norm(step))
        tol = max(SLICE_SPACING_TOLERANCE_FRACTION * spacing_mm, _SLICE_SPACING_TOLERANCE_MM)
        deviation = np.linalg.norm(steps - step, axis=1)
        if np.max(deviation) > tol:
            n = int(np.argmax(deviation))
            raise DicomInputError(
                f"non-uniform slice spacing in series {_brief(_text(first, 'SeriesInstanceUID'))}: "
                f"{float(distances[n]):.3f} mm between {_where(series[n])} and {_where(series[n + 1])}, median "
                f"{float(np.median(distances)):.3f} mm — a slice is missing; re-export the complete series"
            )
        _plausible(first, "slice step from ImagePositionPatient (0020,0032)", spacing_mm)
    _cross_check_instance_numbers(series, read_warnings)
    affine = np.eye(4)
    affine[:3, 0] = step
    affine[:3, 1] = col_cos * spacing[0]
    affine[:3, 2] = row_cos * spacing[1]
    affine[:3, 3] = pos[0]
    return series, affine


def _cross_check_instance_numbers(series: list[pydicom.Dataset], read_warnings: list[str]) -> None:
    """Warn when InstanceNumber does not run monotonically with the ImagePositionPatient order."""
    numbers: list[float] = []
    for ds in series:
        try:
            value = _number(ds, "InstanceNumber", "(0020,0013)")
        except DicomInputError:
            value = None
        if value is None:
            return  # Type 2: nothing to cross-check
        numbers.append(value)
    if len(numbers) < 3:
        return
    diffs = np.diff(np.asarray(numbers))
    if np.all(diffs > 0) or np.all(diffs < 0):
        return
    n = int(np.argmax(diffs <= 0)) if np.sum(diffs > 0) >= np.sum(diffs < 0) else int(np.argmax(diffs >= 0))
    read_warnings.append(
        f"slice order by ImagePositionPatient disagrees with InstanceNumber: {_where(series[n])} "
        f"(InstanceNumber {numbers[n]:g}) and {_where(series[n + 1])} (InstanceNumber {numbers[n + 1]:g}) are "
        "neighbours in space but not in number. sirtkit stacks by position (the geometry the scanner states); "
        "check that the images are not mislabelled before trusting the doses")


def _multiframe_geometry(ds: pydicom.Dataset) -> tuple[np.ndarray, np.ndarray]:
    image_type = [str(v).upper() for v in (_get(ds, "ImageType") or [])]
    if _text(ds, "Modality") == "NM" and len(image_type) > 2 and image_type[2] in ("TOMO", "GATED TOMO", "STATIC",
                                                                                    "DYNAMIC", "WHOLE BODY"):
        raise DicomInputError(
            f"{_where(ds)}: NM ImageType {_brief(image_type)} holds projections, not a reconstructed volume; export "
            "the reconstruction (ImageType RECON TOMO)"
        )
    detector = _get(ds, "DetectorInformationSequence", "(0054,0022)")
    if detector is not None and len(detector) > 1:
        raise DicomInputError(
            f"{_where(ds)}: DetectorInformationSequence (0054,0022) has {len(detector)} items: a reconstructed NM "
            "volume has one; export the reconstruction, not the projections")
    source = detector[0] if detector else ds
    orientation = _get(source, "ImageOrientationPatient") or _get(ds, "ImageOrientationPatient")
    position = _get(source, "ImagePositionPatient") or _get(ds, "ImagePositionPatient")
    if position is None:
        raise DicomInputError(
            f"{_where(ds)}: no ImagePositionPatient in DetectorInformationSequence (0054,0022) or at top level; "
            "the volume cannot be placed in patient space"
        )
    row_cos, col_cos, normal = _in_plane(ds, orientation)
    spacing = _pixel_spacing(ds)
    between = _number(ds, "SpacingBetweenSlices", "(0018,0088)")
    if between is not None:
        step_mm = between
    else:
        thickness = _slice_thickness(ds)
        if not thickness:
            raise DicomInputError(
                f"{_where(ds)}: neither SpacingBetweenSlices (0018,0088) nor SliceThickness (0018,0050); the slice "
                "step is unknown")
        step_mm = thickness
        logger.info("%s: no SpacingBetweenSlices; using SliceThickness %.3f mm", _where(ds), step_mm)
    if step_mm == 0:
        raise DicomInputError(f"{_where(ds)}: SpacingBetweenSlices (0018,0088) is 0")
    _plausible(ds, "SpacingBetweenSlices (0018,0088)", step_mm)
    array = _pixels(ds)
    frames = int(_number(ds, "NumberOfFrames", "(0028,0008)") or 1)
    if array.ndim != 3 or array.shape != (frames, int(ds.Rows), int(ds.Columns)):
        raise DicomInputError(
            f"{_where(ds)}: pixel data of shape {array.shape} do not match NumberOfFrames × Rows × Columns = "
            f"{frames} × {ds.Rows} × {ds.Columns}")
    _check_bits_stored(ds, array)
    affine = np.eye(4)
    affine[:3, 0] = normal * step_mm
    affine[:3, 1] = col_cos * spacing[0]
    affine[:3, 2] = row_cos * spacing[1]
    affine[:3, 3] = _floats(position, 3, "ImagePositionPatient (0020,0032)", ds)
    return array, affine


# ---------------------------------------------------------------------------- enhanced multi-frame
def _enhanced(ds: pydicom.Dataset, modality: str, notes: list[str]) -> tuple[np.ndarray, np.ndarray, str, str, str | None]:
    """Enhanced (or legacy converted) CT/PET multi-frame: values and geometry through highdicom.

    Scaling is checked here first (the functional groups hold per-frame RescaleSlope and Real World Value
    Mappings); highdicom then stacks the frames by their Plane Position functional group and applies the
    mapping. Returns values, affine, quantity, unit and the unit problem (None when Bq/mL or HU).
    """
    import highdicom as hd

    groups = list(_get(ds, "SharedFunctionalGroupsSequence") or []) + list(
        _get(ds, "PerFrameFunctionalGroupsSequence") or [])
    codes: set[str] = set()
    rescale_types: set[str] = set()
    for group in groups:
        for transform in _get(group, "PixelValueTransformationSequence") or []:
            slope = _number(transform, "RescaleSlope", "(0028,1053)")
            if slope is not None and slope <= 0 and modality == "PT":
                raise UnitsError(f"{_where(ds)}: a frame's RescaleSlope (0028,1053) = {slope:g}: an emission image "
                                 "needs a positive slope; export the series again")
            rescale_types.add((_text(transform, "RescaleType") or "").upper())
        for mapping in _get(group, "RealWorldValueMappingSequence") or []:
            units = _get(mapping, "MeasurementUnitsCodeSequence") or []
            codes.add((_text(units[0], "CodeValue") or "") if units else "")
            slope = _number(mapping, "RealWorldValueSlope", "(0040,9225)")
            if modality == "PT" and (slope is None or slope <= 0) and mapping.get("RealWorldValueLUTData") is None:
                raise UnitsError(f"{_where(ds)}: a frame's RealWorldValueSlope (0040,9225) = {_brief(slope)}: the "
                                 "factor to activity is missing or impossible; export the series again")
    real_world = modality == "PT" and bool(codes) and codes <= _UCUM_BQ_PER_ML
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            volume = hd.Image.from_dataset(ds, copy=False).get_volume(
                apply_real_world_transform=real_world, apply_modality_transform=not real_world)
    except Exception as err:  # highdicom refuses irregular frames, missing positions, ...
        raise DicomInputError(
            f"{_where(ds)}: the frames of this enhanced multi-frame {modality} object cannot be stacked into one "
            f"regular volume ({type(err).__name__}: {_brief(str(err), 200)}); export it as classic single-frame images"
        ) from err
    array = np.asarray(volume.array, dtype=np.float64)
    affine = np.array(volume.affine, dtype=np.float64)
    if array.ndim != 3:
        raise DicomInputError(f"{_where(ds)}: enhanced multi-frame object with {array.ndim} dimensions (several "
                              "channels or time frames); export one static volume")
    for axis, name in ((0, "slice step"), (1, "row spacing"), (2, "column spacing")):
        _plausible(ds, f"{name} of the functional groups", float(np.linalg.norm(affine[:3, axis])))
    normal = np.cross(affine[:3, 2], affine[:3, 1])
    if float(normal @ affine[:3, 0]) < 0 and array.shape[0] > 1:  # same order as classic series: along +normal
        affine[:3, 3] = affine[:3, 3] + affine[:3, 0] * (array.shape[0] - 1)
        affine[:3, 0] = -affine[:3, 0]
        array = array[::-1]
    if not np.all(np.isfinite(array)):
        raise DicomInputError(f"{_where(ds)}: the pixel values hold NaN or infinity after rescaling")
    notes.append(f"Enhanced multi-frame {modality} read through highdicom ({array.shape[0]} frames).")
    if modality == "CT":
        return array.astype(np.float32), affine, "ct", "HU", None
    if real_world or "BQML" in rescale_types or (_text(ds, "Units") or "").upper() == "BQML":
        return np.ascontiguousarray(array), affine, "activity_concentration", "Bq/mL", None
    problem = "enhanced PET without a Real World Value Mapping to Bq/ml or BQML rescale type: values are counts"
    notes.append(problem + " (patient-relative quantification only).")
    return np.ascontiguousarray(array), affine, "counts", "counts", problem


# --------------------------------------------------------------------------------------- values
def _rescale(ds: pydicom.Dataset, pixels: np.ndarray, modality: str) -> np.ndarray:
    slope = _number(ds, "RescaleSlope", "(0028,1053)")
    intercept = _number(ds, "RescaleIntercept", "(0028,1052)")
    if modality == "PT" and slope is None:
        raise UnitsError(
            f"{_where(ds)}: PET slice without RescaleSlope (0028,1053) (Type 1 in the PET Image module): the factor "
            "from stored values to activity is unknown, and assuming 1 is typically off by 100× or more. Export the "
            "series again with its rescale attributes")
    if slope is not None and slope <= 0 and modality in ("PT", "NM"):
        raise UnitsError(
            f"{_where(ds)}: RescaleSlope (0028,1053) = {slope:g}: an emission image needs a positive slope (a zero "
            "or negative one makes activity vanish or negative); the file is damaged — export the series again")
    if slope == 0:
        raise UnitsError(f"{_where(ds)}: RescaleSlope (0028,1053) = 0 erases every value; export the series again")
    return pixels.astype(np.float64) * (1.0 if slope is None else slope) + (intercept or 0.0)


def _philips_scale(ds: pydicom.Dataset) -> float | None:
    text = _private(ds, PHILIPS_ACTIVITY_SCALE_TAG)
    if text is None:
        return None
    try:
        scale = float(text.split("\\")[0])
    except ValueError:
        return None
    return scale if math.isfinite(scale) and scale > 0 else None


def _values(
    series: Sequence[pydicom.Dataset], arrays: list[np.ndarray], modality: str, notes: list[str],
) -> tuple[np.ndarray, str, str, str | None]:
    first = series[0]
    if modality == "CT":
        values = np.concatenate([_rescale(ds, a, modality) for ds, a in zip(series, arrays, strict=True)])
        return values.astype(np.float32), "ct", "HU", None
    if modality == "PT":
        units = (_text(first, "Units", "(0054,1001)") or "").upper()
        if units == "GML":
            raise UnitsError(
                f"{_where(first)}: PET Units (0054,1001) is GML (SUV body weight), not activity: export the original "
                "BQML series; SUV images cannot be converted back without the exact weight, dose and times")
        if units not in _PET_ACTIVITY_UNITS | _PET_COUNT_UNITS:
            raise UnitsError(
                f"{_where(first)}: PET Units (0054,1001) = {_brief(units)} is not an activity unit; sirtkit needs BQML "
                "(or Philips CNTS with (7053,1009), or counts for patient-relative quantification)")
        scales = [_philips_scale(ds) if units == "CNTS" else None for ds in series]
        as_activity = units == "BQML" or (units == "CNTS" and all(s is not None for s in scales))
        if units == "CNTS" and any(s is not None for s in scales) and not as_activity:
            odd = next(ds for ds, s in zip(series, scales, strict=True) if s is None)
            raise UnitsError(
                f"{_where(odd)}: the Philips activity-concentration factor (7053,1009) is missing or invalid on this "
                "slice but present on others; export the series again with Philips private tags kept")
        out = []
        for ds, a, scale in zip(series, arrays, scales, strict=True):
            v = _rescale(ds, a, modality)
            out.append(v * scale if scale is not None else v)
        values = np.concatenate(out)
        if as_activity:
            if units == "CNTS":
                notes.append("Philips PET in CNTS converted to Bq/mL with the private factor (7053,1009) per slice.")
            return values, "activity_concentration", "Bq/mL", None
        problem = (
            f"PET Units (0054,1001) is {units}"
            + (" (Philips) without the private activity-concentration factor (7053,1009)" if units == "CNTS" else "")
            + ": the values are proportional to activity but not in Bq/mL")
        notes.append(problem + "; read as counts (patient-relative quantification only).")
        return values, "counts", "counts", problem
    if modality == "NM":
        for item in _get(first, "RealWorldValueMappingSequence") or []:
            units_seq = _get(item, "MeasurementUnitsCodeSequence") or []
            code = (_text(units_seq[0], "CodeValue") or "") if units_seq else ""
            if code in _UCUM_BQ_PER_ML:
                slope = _number(item, "RealWorldValueSlope", "(0040,9225)")
                intercept = _number(item, "RealWorldValueIntercept", "(0040,9224)") or 0.0
                if slope is None or slope <= 0:
                    raise UnitsError(
                        f"{_where(first)}: Real World Value Mapping to Bq/ml with RealWorldValueSlope (0040,9225) = "
                        f"{_brief(slope)}: the factor to activity is missing or impossible; export the series again")
                return arrays[0].astype(np.float64) * slope + intercept, "activity_concentration", "Bq/mL", None
        return _rescale(first, arrays[0], modality), "counts", "counts", (
            "NM image without a Real World Value Mapping to Bq/ml: the values are counts")
    raise DicomInputError(f"{_where(first)}: Modality {_brief(modality)} is not CT, PT or NM")  # pragma: no cover


# ------------------------------------------------------------------------------------- metadata
def _scan_start(
    series: Sequence[pydicom.Dataset], clock: _Clock, meta: dict[str, Any],
) -> datetime | None:
    """Scan start in the QIBA order: GE private (0009,100D), series start, earliest acquisition."""
    first = series[0]
    ge = _private(first, GE_SCAN_DATETIME_TAG, GE_PRIVATE_CREATOR)
    if ge is not None:
        moment = clock.dt(ge)
        if moment is not None:
            meta["scan_start_source"] = "GE private scan date-time (0009,100D)"
            return moment
    series_dt = clock.da_tm(_get(first, "SeriesDate"), _get(first, "SeriesTime"))
    acquisitions: list[datetime] = []
    for ds in series:
        moment = clock.dt(_get(ds, "AcquisitionDateTime")) if _get(ds, "AcquisitionDateTime") else None
        if moment is None:
            moment = clock.da_tm(_get(ds, "AcquisitionDate"), _get(ds, "AcquisitionTime"))
        if moment is not None:
            acquisitions.append(moment)
    acq = min(acquisitions, default=None)
    if series_dt is not None and (acq is None or series_dt <= acq):
        meta["scan_start_source"] = "SeriesDate/SeriesTime"
        return series_dt
    if acq is not None:
        meta["scan_start_source"] = "earliest AcquisitionDate/Time (SeriesTime missing or later)"
    return acq


def _metadata(
    series: Sequence[pydicom.Dataset], modality: str, assume_timezone: tzinfo | None, expected_nuclide: str | None
) -> dict[str, Any]:
    first = series[0]
    clock = _Clock(first, assume_timezone)
    meta: dict[str, Any] = {
        "modality": modality,
        "series_instance_uid": _text(first, "SeriesInstanceUID"),
        "study_instance_uid": _text(first, "StudyInstanceUID"),
        "patient_id": _text(first, "PatientID"),
        "series_description": _text(first, "SeriesDescription"),
        "manufacturer": _text(first, "Manufacturer"),
        "units": _text(first, "Units") if modality == "PT" else None,
        "patient_position": _text(first, "PatientPosition"),
        "decay_correction": None,
        "reference_datetime": None,
        "acquisition_datetime": None,
        "scan_start_source": None,
        "radiopharmaceutical_start": None,
        "radiopharmaceutical_start_time_only": None,
        "radionuclide": None,
        "radionuclide_total_dose_bq": None,
        "radionuclide_half_life_s": None,
        "timezone_source": None,
        "timing_problem": None,
        "missing_type2": _missing_type2(first),
        "source_files": [_where(ds) for ds in series],
    }
    if modality not in ("PT", "NM"):
        return meta
    radio = _get(first, "RadiopharmaceuticalInformationSequence")
    item = radio[0] if radio else pydicom.Dataset()
    total = _number(item, "RadionuclideTotalDose", "(0018,1074)")
    meta["radionuclide_total_dose_bq"] = total if total is not None and total > 0 else None
    half_life = _number(item, "RadionuclideHalfLife", "(0018,1075)")
    meta["radionuclide_half_life_s"] = half_life
    meta["radionuclide"] = _check_nuclide(first, item, half_life, expected_nuclide)
    start = _scan_start(series, clock, meta)
    meta["acquisition_datetime"] = start
    rp_start = None
    if _get(item, "RadiopharmaceuticalStartDateTime"):
        rp_start = clock.dt(_get(item, "RadiopharmaceuticalStartDateTime"))
    elif _get(item, "RadiopharmaceuticalStartTime"):
        # TM has no date: the injection may be days before the scan. Never guess the date here; the
        # administration time given by the user supplies it (workflows check the time of day against it).
        meta["radiopharmaceutical_start_time_only"] = _parse_tm(str(_get(item, "RadiopharmaceuticalStartTime")))
    meta["radiopharmaceutical_start"] = rp_start
    correction = (_text(first, "DecayCorrection") or "").upper() or None
    meta["decay_correction"] = correction
    meta["reference_datetime"] = rp_start if correction == "ADMIN" else start
    # Enhanced PET Corrections module (PS3.3 C.8.22.5): the values are decay-corrected to this moment
    if correction is None and _get(first, "DecayCorrectionDateTime") is not None and (
            (_text(first, "DecayCorrected") or "YES").upper() == "YES"):
        meta["decay_correction"] = "DecayCorrectionDateTime"
        meta["reference_datetime"] = clock.dt(_get(first, "DecayCorrectionDateTime"))
    meta["timezone_source"] = ", ".join(sorted(clock.sources)) or None
    if clock.unknown and meta["reference_datetime"] is None:
        meta["timing_problem"] = (
            "the DICOM times have no timezone (no offset in DT values, no TimezoneOffsetFromUTC (0008,0201))")
    elif meta["reference_datetime"] is None:
        if correction == "ADMIN" and meta["radiopharmaceutical_start_time_only"] is not None:
            meta["timing_problem"] = (
                "DecayCorrection (0054,1102) is ADMIN but the injection time is a time of day without a date "
                "(RadiopharmaceuticalStartTime (0018,1072) only)")
        else:
            meta["timing_problem"] = (
                f"the series does not say when its values apply (DecayCorrection {_brief(correction)}, no usable "
                "series, acquisition or injection date and time)")
    return meta


def _declared_nuclide(item: pydicom.Dataset) -> str | None:
    texts = [_text(item, "Radiopharmaceutical") or "", _text(item, "Radionuclide") or ""]
    for code in _get(item, "RadionuclideCodeSequence") or []:
        value = _text(code, "CodeValue") or ""
        if value in _NUCLIDE_SCT:
            return _NUCLIDE_SCT[value]
        texts.append(_text(code, "CodeMeaning") or "")
    for name, pattern in _NUCLIDE_TEXT.items():
        if any(pattern.search(t) for t in texts):
            return name
    return None


def _check_nuclide(ds: pydicom.Dataset, item: pydicom.Dataset, half_life_s: float | None, expected: str | None) -> str | None:
    """The declared nuclide; refuse a declared/expected mismatch or a half-life of another nuclide."""
    declared = _declared_nuclide(item)
    expected_nuclide: Nuclide | None = get_nuclide(expected) if expected is not None else None
    if expected_nuclide is not None and declared is not None and declared != expected_nuclide.name:
        raise DicomInputError(
            f"{_where(ds)}: the radiopharmaceutical declares {declared} (RadionuclideCodeSequence / Radiopharmaceutical "
            f"(0018,0031)), but {expected_nuclide.name} was expected: check the nuclide option (--nuclide) or the "
            "series; a scan set up as another nuclide has wrong decay correction and branching")
    nuclide = expected_nuclide
    if nuclide is None and declared is not None:
        try:
            nuclide = get_nuclide(declared)
        except InputError:  # a nuclide sirtkit has no data for (F-18): no half-life check possible
            nuclide = None
    if half_life_s is None or nuclide is None:
        return declared
    if half_life_s <= 0 or abs(half_life_s - nuclide.half_life_s) > HALF_LIFE_TOLERANCE_FRACTION * nuclide.half_life_s:
        f18 = abs(half_life_s - _F18_HALF_LIFE_S) < HALF_LIFE_TOLERANCE_FRACTION * _F18_HALF_LIFE_S
        hint = " (the F-18 value)" if f18 else ""
        raise DicomInputError(
            f"{_where(ds)}: RadionuclideHalfLife (0018,1075) = {half_life_s:g} s{hint}, but the nuclide is "
            f"{nuclide.name} ({nuclide.half_life_s:g} s): the scan was set up as another nuclide, so the scanner's "
            f"decay correction and positron branching are wrong. Reconstruct again with the {nuclide.name} settings"
        )
    return declared or nuclide.name
