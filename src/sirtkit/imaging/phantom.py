"""Synthetic SIRT phantom with an exact, hand-calculable activity distribution, and a DICOM writer.

:func:`make_phantom` builds a CT, an activity map (Bq/mL at administration) and masks on one grid:
an elliptic-cylinder body, an ellipsoidal liver on the patient's right, two spherical hot tumours
inside the liver, and two ellipsoidal lungs above it. The administered activity ``A`` is split
exactly over voxels: the lungs hold ``A·LSF`` uniformly, the liver ``A·(1 − LSF)`` with tumour
concentration ``T/N ×`` the normal-liver concentration:
``c_normal = A_liver / (V_normal + T/N · V_tumour)``, ``c_tumour = T/N · c_normal`` (partition
model, Ho et al., Eur J Nucl Med 1996;23:947). The exact activity per VOI is in
:attr:`Phantom.voi_activity_mbq`.

:func:`write_phantom_dicom` writes the phantom as real DICOM: a CT series (int16 + rescale), a PET
series (per-slice RescaleSlope, Units BQML or CNTS, radiopharmaceutical module) or a multi-frame NM
object (DetectorInformationSequence geometry, optional negative SpacingBetweenSlices), sharing one
FrameOfReferenceUID.

Examples
--------
>>> ph = make_phantom(shape=(16, 24, 24), spacing_mm=(16.0, 16.0, 16.0))
>>> round(ph.activity.total() / 1e9, 9) == ph.administered_activity_gbq
True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from sirtkit.errors import InputError
from sirtkit.imaging.files import atomic_write
from sirtkit.imaging.volume import Volume
from sirtkit.physics.decay import decay_factor
from sirtkit.physics.nuclides import Y90
from sirtkit.units import BQ_PER_GBQ, BQ_PER_MBQ, S_PER_H

__all__ = [
    "PHANTOM_ADMINISTRATION_TIME",
    "PHANTOM_HU",
    "RTSTRUCT_CONTOUR_MUTATIONS",
    "ContouredPhantom",
    "Phantom",
    "PET_VENDORS",
    "make_contoured_phantom",
    "make_phantom",
    "mutate_rtstruct_contour",
    "reorient_phantom",
    "write_ct_pet_dicom",
    "write_enhanced_pet",
    "write_phantom_dicom",
    "write_rtstruct_dicom",
]

logger = logging.getLogger(__name__)

# Fixed administration time of the phantom (Central European Time, UTC+1).
PHANTOM_ADMINISTRATION_TIME = datetime(2026, 3, 2, 10, 0, 0, tzinfo=timezone(timedelta(hours=1)))

# Typical CT numbers (HU) of the tissues: ICRU Report 46 soft-tissue / lung densities as seen on
# contrast-free CT (liver ~60, soft tissue ~40, inflated lung ~ −850, air −1000).
PHANTOM_HU: dict[str, float] = {"air": -1000.0, "body": 40.0, "liver": 60.0, "tumor": 45.0, "lung": -850.0}
# CT noise of the phantom (HU, one standard deviation): a typical abdominal CT at ~10 mGy CTDIvol.
PHANTOM_CT_NOISE_HU = 10.0

# Geometry in coordinates normalised to the half-extent of the default field of view
# (x: 192 mm, y: 192 mm, z: 128 mm), so that the phantom scales with the grid.
# Each entry: centre (x, y, z) and semi-axes (x, y, z), normalised; LPS (x → patient left).
_DEFAULT_HALF_EXTENT_MM = np.array([192.0, 192.0, 128.0])
_BODY = ((0.0, 0.0), (170.0 / 192.0, 115.0 / 192.0))  # elliptic cylinder in x–y, all slices
_ELLIPSOIDS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "liver": ((-60.0, 0.0, -30.0), (90.0, 70.0, 60.0)),
    "tumor_1": ((-80.0, -10.0, -40.0), (20.0, 20.0, 20.0)),
    "tumor_2": ((-30.0, 20.0, -10.0), (12.0, 12.0, 12.0)),
    "lung_right": ((-80.0, 10.0, 85.0), (55.0, 70.0, 40.0)),
    "lung_left": ((80.0, 10.0, 85.0), (55.0, 70.0, 40.0)),
}

# Y-90 radionuclide code (SNOMED CT 14691008, DICOM CID 4020; DICOM.md §2) and microsphere agent.
_Y90_CODE = ("14691008", "SCT", "^90^Yttrium")
_PET_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.128"  # Positron Emission Tomography Image Storage (PS3.4 B.5)
_CT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
_NM_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.20"  # Nuclear Medicine Image Storage
# PET export styles of the three large vendors (quirks written by write_phantom_dicom(vendor=...)):
# "ge": Manufacturer GE, private scan date-time (0009,100D) of creator GEMS_PETD_01 holding the true scan
#       start while SeriesTime/AcquisitionTime carry the (later) post-processing time (QIBA SUV pseudo-code);
# "siemens": AcquisitionDateTime per bed position (two beds, 10 min apart), SeriesTime = reconstruction
#       time after the scan (QIBA: use the earliest acquisition time when SeriesTime is later);
# "philips": Units CNTS with the activity-concentration factor (7053,1009) and the SUV factor (7053,1000)
#       (Philips PET/CT conformance statement; DICOM.md §2).
PET_VENDORS = ("generic", "ge", "siemens", "philips")
_VENDOR_MANUFACTURER = {"generic": "sirtkit", "ge": "GE MEDICAL SYSTEMS", "siemens": "SIEMENS",
                        "philips": "Philips Medical Systems"}
# GE post-processing time after the scan start written by the "ge" style (SeriesTime, AcquisitionTime).
_GE_POSTPROCESSING_DELAY = timedelta(hours=3)
# Siemens style: reconstruction finished after the scan; second bed position starts 10 min after the first.
_SIEMENS_RECON_DELAY = timedelta(minutes=45)
_SIEMENS_BED_DURATION = timedelta(minutes=10)
# Largest stored PET value per slice (int16 range 32767, with margin for rounding).
_PET_STORED_MAX = 32000
# Largest NM count per voxel written by the phantom (uint16).
_NM_COUNTS_MAX = 30000


@dataclass(frozen=True)
class Phantom:
    """A synthetic patient: CT, activity (Bq/mL at administration) and masks on one grid.

    Attributes
    ----------
    ct
        CT in HU.
    activity
        Activity concentration at ``administration_time``, Bq/mL.
    masks
        ``"liver"`` (including tumours), ``"tumor_1"``, ``"tumor_2"``, ``"lung"`` (both lungs),
        ``"body"``.
    administered_activity_gbq
        Total activity in the phantom, GBq.
    administration_time
        Aware datetime the activity refers to.
    voi_activity_mbq
        Exact activity per VOI (``liver``, ``tumor_1``, ``tumor_2``, ``normal_liver``, ``lung``), MBq.
    lung_shunt_fraction, tumor_to_normal_ratio
        The values the phantom was built with.
    """

    ct: Volume
    activity: Volume
    masks: dict[str, Volume]
    administered_activity_gbq: float
    administration_time: datetime
    voi_activity_mbq: dict[str, float] = field(default_factory=dict)
    lung_shunt_fraction: float = 0.0
    tumor_to_normal_ratio: float = 1.0


def _ellipsoid(points: np.ndarray, centre: np.ndarray, semi: np.ndarray) -> np.ndarray:
    return np.sum(((points - centre) / semi) ** 2, axis=-1) <= 1.0


def make_phantom(
    *,
    shape: tuple[int, int, int] = (64, 96, 96),
    spacing_mm: tuple[float, float, float] = (4.0, 4.0, 4.0),
    administered_activity_gbq: float = 2.0,
    tumor_to_normal_ratio: float = 5.0,
    lung_shunt_fraction: float = 0.05,
    seed: int | None = 0,
) -> Phantom:
    """Build the analytic phantom (see the module docstring for the activity split).

    Parameters
    ----------
    shape
        Grid shape (slices, rows, columns); axial, slices along +z.
    spacing_mm
        Voxel spacing (slice, row, column), mm. The anatomy scales with the field of view.
    administered_activity_gbq
        Total activity, GBq (> 0).
    tumor_to_normal_ratio
        Tumour-to-normal-liver activity concentration ratio (≥ 0).
    lung_shunt_fraction
        Fraction (0–1) of the activity in the lungs.
    seed
        Seed of the CT noise (``None``: fresh randomness). The activity has no noise.

    Raises
    ------
    InputError
        For non-positive activity, a ratio < 0, a fraction outside [0, 1), or a grid too coarse to
        hold every organ.
    """
    if not administered_activity_gbq > 0:
        raise InputError(f"administered_activity_gbq = {administered_activity_gbq} must be positive")
    if tumor_to_normal_ratio < 0:
        raise InputError(f"tumor_to_normal_ratio = {tumor_to_normal_ratio} must not be negative")
    if not 0.0 <= lung_shunt_fraction < 1.0:
        raise InputError(f"lung_shunt_fraction = {lung_shunt_fraction} must be in [0, 1)")
    nk, nj, ni = shape
    sk, sj, si = spacing_mm
    origin = (-(ni - 1) / 2.0 * si, -(nj - 1) / 2.0 * sj, -(nk - 1) / 2.0 * sk)
    frame = generate_uid(entropy_srcs=["sirtkit phantom frame of reference", str(shape), str(spacing_mm)])
    template = Volume.from_spacing(np.zeros(shape, np.float32), spacing_mm, origin, frame_of_reference_uid=frame)
    kk, jj, ii = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    pts = template.index_to_patient(np.stack([kk, jj, ii], axis=-1).astype(np.float64))
    half = np.array([ni * si, nj * sj, nk * sk]) / 2.0
    scale = half / _DEFAULT_HALF_EXTENT_MM  # mm of this grid per mm of the default grid, per axis
    body_centre, body_semi = _BODY
    body = np.sum(((pts[..., :2] - np.array(body_centre)) / (np.array(body_semi) * half[:2])) ** 2, axis=-1) <= 1.0
    regions = {
        name: _ellipsoid(pts, np.array(c) * scale, np.array(s) * scale) & body
        for name, (c, s) in _ELLIPSOIDS.items()
    }
    liver = regions["liver"]
    tumor_1 = regions["tumor_1"] & liver
    tumor_2 = regions["tumor_2"] & liver & ~tumor_1
    lung = (regions["lung_right"] | regions["lung_left"]) & ~liver
    normal = liver & ~tumor_1 & ~tumor_2
    for name, region in (("liver", normal), ("tumor_1", tumor_1), ("tumor_2", tumor_2), ("lung", lung)):
        if not region.any():
            raise InputError(f"the phantom grid {shape} × {spacing_mm} mm is too coarse: {name} has no voxel")
    vv = template.voxel_volume_ml
    a_bq = administered_activity_gbq * BQ_PER_GBQ
    a_lung = a_bq * lung_shunt_fraction
    a_liver = a_bq - a_lung
    v_normal = normal.sum() * vv
    v_tumor = (tumor_1.sum() + tumor_2.sum()) * vv
    c_normal = a_liver / (v_normal + tumor_to_normal_ratio * v_tumor)
    c_tumor = tumor_to_normal_ratio * c_normal
    c_lung = a_lung / (lung.sum() * vv)
    activity = np.zeros(shape, np.float64)
    activity[normal] = c_normal
    activity[tumor_1 | tumor_2] = c_tumor
    activity[lung] = c_lung
    voi = {
        "liver": float(a_liver / BQ_PER_MBQ),
        "tumor_1": float(c_tumor * tumor_1.sum() * vv / BQ_PER_MBQ),
        "tumor_2": float(c_tumor * tumor_2.sum() * vv / BQ_PER_MBQ),
        "normal_liver": float(c_normal * v_normal / BQ_PER_MBQ),
        "lung": float(a_lung / BQ_PER_MBQ),
    }
    rng = np.random.default_rng(seed)
    ct = np.full(shape, PHANTOM_HU["air"], np.float32)
    ct[body] = PHANTOM_HU["body"]
    ct[liver] = PHANTOM_HU["liver"]
    ct[tumor_1 | tumor_2] = PHANTOM_HU["tumor"]
    ct[lung] = PHANTOM_HU["lung"]
    ct[body] += rng.normal(0.0, PHANTOM_CT_NOISE_HU, int(body.sum())).astype(np.float32)
    ct = np.rint(ct)
    admin = PHANTOM_ADMINISTRATION_TIME
    masks = {
        name: template.with_array(m, quantity="mask", unit="1")
        for name, m in (("liver", liver), ("tumor_1", tumor_1), ("tumor_2", tumor_2), ("lung", lung), ("body", body))
    }
    return Phantom(
        ct=template.with_array(ct, quantity="ct", unit="HU"),
        activity=template.with_array(
            activity, quantity="activity_concentration", unit="Bq/mL",
            metadata={"reference_datetime": admin, "modality": "PT"},
        ),
        masks=masks,
        administered_activity_gbq=float(administered_activity_gbq),
        administration_time=admin,
        voi_activity_mbq=voi,
        lung_shunt_fraction=float(lung_shunt_fraction),
        tumor_to_normal_ratio=float(tumor_to_normal_ratio),
    )


def _regrid(volume: Volume, array: np.ndarray, affine: np.ndarray) -> Volume:
    return Volume(array, affine, quantity=volume.quantity, unit=volume.unit,
                  frame_of_reference_uid=volume.frame_of_reference_uid, metadata=dict(volume.metadata))


def reorient_phantom(phantom: Phantom, *, tilt_deg: float = 0.0, feet_first: bool = False) -> Phantom:
    """The same phantom on a tilted and/or feet-first grid, as a scanner would store it.

    ``feet_first`` keeps the patient where it is but stores the image as a feet-first-supine (FFS)
    acquisition does: columns run to the patient's right (ImageOrientationPatient row cosine −x) and
    slices run from head to feet (normal −z) — the same physical activity in another index order.
    ``tilt_deg`` then rotates the whole grid (and the patient with it) about the left–right axis through
    the grid centre, like a SPECT reconstruction on a tilted detector orbit. Every volume (CT, activity,
    masks) gets the same geometry, so doses computed on any of them agree.
    """
    def convert(volume: Volume) -> Volume:
        array = np.asarray(volume.array)
        affine = np.array(volume.affine)
        if feet_first:
            nk, _nj, ni = volume.shape
            origin = volume.index_to_patient((nk - 1, 0, ni - 1))
            array = array[::-1, :, ::-1]
            affine[:3, 0] = -affine[:3, 0]
            affine[:3, 2] = -affine[:3, 2]
            affine[:3, 3] = origin
        if tilt_deg:
            angle = np.deg2rad(tilt_deg)
            rotation = np.eye(4)
            rotation[1:3, 1:3] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
            centre = volume.index_to_patient((np.asarray(volume.shape) - 1) / 2.0)
            to_centre, back = np.eye(4), np.eye(4)
            to_centre[:3, 3], back[:3, 3] = -centre, centre
            affine = back @ rotation @ to_centre @ affine
        return _regrid(volume, np.ascontiguousarray(array), affine)

    return replace(phantom, ct=convert(phantom.ct), activity=convert(phantom.activity),
                   masks={name: convert(m) for name, m in phantom.masks.items()})


# ---------------------------------------------------------------------------------------------- DICOM
def _da(moment: datetime) -> str:
    return moment.strftime("%Y%m%d")


def _tm(moment: datetime) -> str:
    return moment.strftime("%H%M%S.%f")


def _tz_offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _base_dataset(
    sop_class: str, modality: str, study: Mapping[str, str], series_uid: str, series_number: int,
    moment: datetime, write_timezone: bool, *, manufacturer: str = "sirtkit", patient_position: str = "HFS",
) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.Modality = modality
    ds.PatientName = "Phantom^Liver"
    ds.PatientID = "SIRTKIT-PHANTOM"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.PatientWeight = 70.0
    ds.StudyInstanceUID = study["study"]
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = _da(moment)
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = _tm(moment)
    if write_timezone:
        ds.TimezoneOffsetFromUTC = _tz_offset(moment)
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.FrameOfReferenceUID = study["frame"]
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = manufacturer
    ds.ManufacturerModelName = "phantom"
    ds.PatientPosition = patient_position
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    return ds


def _geometry(ds: pydicom.Dataset, volume: Volume) -> None:
    direction = volume.direction
    sk, sj, si = volume.spacing_mm
    ds.ImageOrientationPatient = [float(v) for v in (*direction[:, 2], *direction[:, 1])]
    ds.PixelSpacing = [float(sj), float(si)]
    ds.SliceThickness = float(sk)
    ds.Rows, ds.Columns = volume.shape[1], volume.shape[2]


def _save(ds: pydicom.Dataset, path: Path) -> None:
    atomic_write(path, lambda tmp: ds.save_as(tmp, enforce_file_format=True))


def _patient_position(volume: Volume) -> str:
    """HFS, or FFS when the slices run from head to feet with columns to the patient's right."""
    direction = volume.direction
    return "FFS" if direction[2, 0] < 0 and direction[0, 2] < 0 else "HFS"


def write_phantom_dicom(
    phantom: Phantom,
    folder: Path,
    *,
    modality: Literal["PET", "NM"] = "PET",
    pet_half_life_s: float = 230760.0,
    decay_correction: str = "START",
    acquisition_delay_h: float = 2.0,
    as_counts: bool = False,
    philips_activity_scale: float | None = None,
    nm_negative_spacing: bool = False,
    nm_real_world_bq_ml: bool = False,
    write_timezone: bool = True,
    vendor: str = "generic",
    radiopharmaceutical_time_only: bool = False,
) -> dict[str, Path]:
    """Write the phantom as DICOM: a CT series plus a PET series or an NM multi-frame object.

    Parameters
    ----------
    phantom
        From :func:`make_phantom` (optionally :func:`reorient_phantom`: the grid's orientation is written as
        it is, feet-first grids with PatientPosition FFS).
    folder
        Output folder; ``ct/`` and ``pet/`` or ``nm/`` are created inside.
    modality
        ``"PET"`` (one file per slice) or ``"NM"`` (one multi-frame file).
    pet_half_life_s
        RadionuclideHalfLife written (Y-90: 230760 s; give 6586 to mimic a scan set up as F-18).
    decay_correction
        ``"START"`` (values at series start), ``"ADMIN"`` (at administration) or ``"NONE"``.
    acquisition_delay_h
        Hours from administration to the start of the emission scan (days later: 72 etc.).
    as_counts
        PET: write Units ``CNTS`` (Philips style) instead of ``BQML``; stored values are Bq/mL divided
        by ``philips_activity_scale`` (default 1), and the private tag (7053,1009) is written only when
        ``philips_activity_scale`` is given.
    nm_negative_spacing
        NM: write a negative SpacingBetweenSlices (GE style): frames stacked along −normal.
    nm_real_world_bq_ml
        NM: add a Real World Value Mapping to Bq/ml (quantitative SPECT).
    write_timezone
        Write TimezoneOffsetFromUTC and offsets in DT values (False mimics scanners that do not).
    vendor
        PET export style, one of :data:`PET_VENDORS` (quirks listed there). ``"philips"`` implies
        ``as_counts`` with the private factors (activity factor 2.5 unless given).
    radiopharmaceutical_time_only
        Write only RadiopharmaceuticalStartTime (TM, no date), as older scanners do.

    Returns
    -------
    dict[str, pathlib.Path]
        ``{"ct": folder/"ct", "pet": folder/"pet"}`` or ``{"ct": ..., "nm": folder/"nm/nm.dcm"}``.
    """
    if decay_correction not in ("START", "ADMIN", "NONE"):
        raise InputError(f"decay_correction = {decay_correction!r}; use START, ADMIN or NONE")
    if modality not in ("PET", "NM"):
        raise InputError(f"modality = {modality!r}; use 'PET' or 'NM'")
    if vendor not in PET_VENDORS:
        raise InputError(f"vendor = {vendor!r}; use one of {', '.join(PET_VENDORS)}")
    if vendor == "philips":
        as_counts = True
        philips_activity_scale = philips_activity_scale or 2.5
    folder = Path(folder)
    frame = phantom.ct.frame_of_reference_uid or generate_uid()
    study = {"study": generate_uid(), "frame": frame}
    admin = phantom.administration_time
    scan_start = admin + timedelta(hours=acquisition_delay_h)
    position = _patient_position(phantom.activity)
    out: dict[str, Path] = {"ct": _write_ct(phantom.ct, folder / "ct", study, admin - timedelta(minutes=30),
                                            write_timezone, position)}
    decay_to_scan = decay_factor(acquisition_delay_h, Y90)
    activity = np.asarray(phantom.activity.array, np.float64)
    values = activity if decay_correction == "ADMIN" else activity * decay_to_scan
    options = _EmissionOptions(write_timezone=write_timezone, vendor=vendor, time_only=radiopharmaceutical_time_only,
                               patient_position=position)
    if modality == "PET":
        out["pet"] = _write_pet(
            phantom, values, folder / "pet", study, scan_start, pet_half_life_s, decay_correction,
            as_counts, philips_activity_scale, options,
        )
    else:
        out["nm"] = _write_nm(
            phantom, values, folder / "nm" / "nm.dcm", study, scan_start, nm_negative_spacing,
            nm_real_world_bq_ml, options,
        )
    return out


@dataclass(frozen=True)
class _EmissionOptions:
    write_timezone: bool = True
    vendor: str = "generic"
    time_only: bool = False
    patient_position: str = "HFS"


def _write_ct(ct: Volume, folder: Path, study: Mapping[str, str], moment: datetime, write_timezone: bool,
              patient_position: str = "HFS") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    series = generate_uid()
    intercept = -1024.0
    for k in range(ct.shape[0]):
        ds = _base_dataset(_CT_SOP_CLASS, "CT", study, series, 1, moment, write_timezone,
                           patient_position=patient_position)
        _geometry(ds, ct)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [float(v) for v in ct.index_to_patient((k, 0, 0))]
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = intercept
        ds.RescaleSlope = 1.0
        ds.RescaleType = "HU"
        ds.KVP = 120.0
        ds.PixelData = np.rint(ct.array[k] - intercept).astype(np.int16).tobytes()
        _save(ds, folder / f"ct_{k:04d}.dcm")
    return folder


def _radiopharmaceutical(admin: datetime, total_bq: float, half_life_s: float, write_timezone: bool,
                         time_only: bool = False) -> pydicom.Dataset:
    item = pydicom.Dataset()
    item.Radiopharmaceutical = "Y-90 microspheres"
    item.RadiopharmaceuticalStartTime = _tm(admin)
    if not time_only:
        item.RadiopharmaceuticalStartDateTime = admin.strftime("%Y%m%d%H%M%S.%f") + (
            _tz_offset(admin) if write_timezone else ""
        )
    item.RadionuclideTotalDose = f"{total_bq:.6g}"
    item.RadionuclideHalfLife = f"{half_life_s:.6g}"
    item.RadionuclidePositronFraction = "3.2e-05"
    code = pydicom.Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = _Y90_CODE
    item.RadionuclideCodeSequence = [code]
    return item


def _write_pet(
    phantom: Phantom, values: np.ndarray, folder: Path, study: Mapping[str, str], start: datetime,
    half_life_s: float, decay_correction: str, as_counts: bool, philips_scale: float | None,
    options: _EmissionOptions,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    series = generate_uid()
    grid = phantom.activity
    stored_values = values / (philips_scale or 1.0) if as_counts else values
    total_bq = phantom.administered_activity_gbq * BQ_PER_GBQ
    nk = grid.shape[0]
    vendor = options.vendor
    for k in range(nk):
        ds = _base_dataset(_PET_SOP_CLASS, "PT", study, series, 2, start, options.write_timezone,
                           manufacturer=_VENDOR_MANUFACTURER[vendor], patient_position=options.patient_position)
        _geometry(ds, grid)
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.InstanceNumber = k + 1
        ds.ImageIndex = k + 1
        ds.NumberOfSlices = nk
        ds.ImagePositionPatient = [float(v) for v in grid.index_to_patient((k, 0, 0))]
        ds.PixelRepresentation = 1
        ds.SeriesType = ["STATIC", "IMAGE"]
        ds.Units = "CNTS" if as_counts else "BQML"
        ds.CountsSource = "EMISSION"
        ds.CorrectedImage = ["DECY", "ATTN", "SCAT"] if decay_correction != "NONE" else ["ATTN", "SCAT"]
        ds.DecayCorrection = decay_correction
        ds.ActualFrameDuration = 20 * 60 * 1000
        ds.FrameReferenceTime = 0.0
        ds.RadiopharmaceuticalInformationSequence = [
            _radiopharmaceutical(phantom.administration_time, total_bq, half_life_s, options.write_timezone,
                                 options.time_only)
        ]
        if vendor == "ge":
            later = start + _GE_POSTPROCESSING_DELAY
            ds.SeriesDate = ds.AcquisitionDate = _da(later)
            ds.SeriesTime = ds.AcquisitionTime = _tm(later)
            ds.add_new(0x00090010, "LO", "GEMS_PETD_01")
            ds.add_new(0x0009100D, "DT", start.strftime("%Y%m%d%H%M%S.%f"))
        elif vendor == "siemens":
            bed_start = start + (_SIEMENS_BED_DURATION if k >= nk // 2 else timedelta(0))
            recon = start + _SIEMENS_RECON_DELAY
            ds.SeriesDate, ds.SeriesTime = _da(recon), _tm(recon)
            ds.AcquisitionDate, ds.AcquisitionTime = _da(bed_start), _tm(bed_start)
            ds.AcquisitionDateTime = bed_start.strftime("%Y%m%d%H%M%S.%f") + (
                _tz_offset(bed_start) if options.write_timezone else "")
        plane = stored_values[k]
        peak = float(np.max(np.abs(plane)))
        # per-slice slope (as GE and Siemens write): each slice uses the full int16 range
        slope = peak / _PET_STORED_MAX if peak > 0 else 1.0
        ds.RescaleSlope = f"{slope:.10g}"
        ds.RescaleIntercept = 0.0
        slope_written = float(ds.RescaleSlope)
        ds.PixelData = np.rint(plane / slope_written).astype(np.int16).tobytes()
        if as_counts and philips_scale is not None:
            ds.add_new(0x70530010, "LO", "Philips PET Private Group")
            ds.add_new(0x70531009, "DS", f"{philips_scale:.10g}")
            if vendor == "philips":
                # SUV factor: SUVbw = rescaled value × factor = Bq/mL × weight (g) / decay-corrected dose (Bq)
                dose_at_scan = total_bq * decay_factor((start - phantom.administration_time).total_seconds() / S_PER_H)
                ds.add_new(0x70531000, "DS", f"{philips_scale * float(ds.PatientWeight) * 1000.0 / dose_at_scan:.10g}")
        _save(ds, folder / f"pet_{k:04d}.dcm")
    return folder


def _write_nm(
    phantom: Phantom, values: np.ndarray, path: Path, study: Mapping[str, str], start: datetime,
    negative_spacing: bool, real_world: bool, options: _EmissionOptions,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = phantom.activity
    nk = grid.shape[0]
    peak = float(values.max())
    counts_per_bq_ml = _NM_COUNTS_MAX / peak if peak > 0 else 1.0
    counts = np.rint(values * counts_per_bq_ml).astype(np.uint16)
    ds = _base_dataset(_NM_SOP_CLASS, "NM", study, generate_uid(), 3, start, options.write_timezone,
                       patient_position=options.patient_position)
    _geometry(ds, grid)
    del ds.ImageOrientationPatient  # NM: orientation and position live in DetectorInformationSequence
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.InstanceNumber = 1
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = nk
    ds.FrameIncrementPointer = [pydicom.tag.Tag(0x0054, 0x0080)]
    ds.SliceVector = list(range(1, nk + 1))
    ds.NumberOfSlices = nk
    sk = grid.spacing_mm[0]
    direction = grid.direction
    normal = np.cross(direction[:, 2], direction[:, 1])
    along = 1.0 if float(normal @ direction[:, 0]) > 0 else -1.0  # slice axis along ±(row × column)
    detector = pydicom.Dataset()
    detector.ImageOrientationPatient = [float(v) for v in (*direction[:, 2], *direction[:, 1])]
    if negative_spacing:
        # GE style: the first frame is the last slice, frames stacked the other way
        first, frames = grid.index_to_patient((nk - 1, 0, 0)), counts[::-1]
        ds.SpacingBetweenSlices = -along * sk
    else:
        first, frames = grid.index_to_patient((0, 0, 0)), counts
        ds.SpacingBetweenSlices = along * sk
    detector.ImagePositionPatient = [float(v) for v in first]
    ds.DetectorInformationSequence = [detector]
    ds.ActualFrameDuration = 20 * 1000
    ds.RadiopharmaceuticalInformationSequence = [
        _radiopharmaceutical(phantom.administration_time, phantom.administered_activity_gbq * BQ_PER_GBQ,
                             Y90.half_life_h * S_PER_H, options.write_timezone, options.time_only)
    ]
    if real_world:
        rwvm = pydicom.Dataset()
        rwvm.RealWorldValueFirstValueMapped = 0
        rwvm.RealWorldValueLastValueMapped = 65535
        rwvm.RealWorldValueSlope = 1.0 / counts_per_bq_ml
        rwvm.RealWorldValueIntercept = 0.0
        rwvm.LUTExplanation = "activity concentration"
        rwvm.LUTLabel = "BQML"
        unit = pydicom.Dataset()
        unit.CodeValue, unit.CodingSchemeDesignator, unit.CodeMeaning = "Bq/ml", "UCUM", "Becquerels/milliliter"
        rwvm.MeasurementUnitsCodeSequence = [unit]
        ds.RealWorldValueMappingSequence = [rwvm]
    ds.PixelData = np.ascontiguousarray(frames).tobytes()
    _save(ds, path)
    return path


_ENHANCED_PET_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.130"  # Enhanced PET Image Storage (PS3.4 B.5)


def write_enhanced_pet(phantom: Phantom, path: Path, *, acquisition_delay_h: float = 2.0,
                       write_timezone: bool = True) -> Path:
    """Write the phantom's activity as one Enhanced PET Image object (multi-frame, functional groups).

    Values are decay-corrected to the scan start (Enhanced PET Corrections module: DecayCorrected YES,
    DecayCorrectionDateTime (0018,9701)); each frame stores int16 with its own slope in the Pixel Value
    Transformation and Real World Value Mapping (UCUM ``Bq/ml``) functional groups (PS3.3 C.8.22, C.7.6.16.2).
    Geometry: Plane Orientation (shared) and Plane Position (per frame) functional groups.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = phantom.activity
    admin = phantom.administration_time
    start = admin + timedelta(hours=acquisition_delay_h)
    values = np.asarray(grid.array, np.float64) * decay_factor(acquisition_delay_h, Y90)
    frame = phantom.ct.frame_of_reference_uid or generate_uid()
    study = {"study": generate_uid(), "frame": frame}
    nk, nj, ni = grid.shape
    ds = _base_dataset(_ENHANCED_PET_SOP_CLASS, "PT", study, generate_uid(), 4, start, write_timezone,
                       patient_position=_patient_position(grid))
    del ds.AcquisitionDate, ds.AcquisitionTime
    stamp = start.strftime("%Y%m%d%H%M%S.%f") + (_tz_offset(start) if write_timezone else "")
    ds.AcquisitionDateTime = stamp
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.InstanceNumber = 1
    ds.NumberOfFrames = nk
    ds.Rows, ds.Columns = nj, ni
    ds.PixelRepresentation = 1
    ds.ContentQualification = "PRODUCT"
    ds.DecayCorrected = "YES"
    ds.DecayCorrectionDateTime = stamp
    ds.AttenuationCorrected = "YES"
    ds.RadiopharmaceuticalInformationSequence = [
        _radiopharmaceutical(admin, phantom.administered_activity_gbq * BQ_PER_GBQ, Y90.half_life_h * S_PER_H,
                             write_timezone)
    ]
    direction = grid.direction
    sk, sj, si = grid.spacing_mm
    shared = pydicom.Dataset()
    measures = pydicom.Dataset()
    measures.PixelSpacing = [float(sj), float(si)]
    measures.SliceThickness = float(sk)
    measures.SpacingBetweenSlices = float(sk)
    shared.PixelMeasuresSequence = [measures]
    orientation = pydicom.Dataset()
    orientation.ImageOrientationPatient = [float(v) for v in (*direction[:, 2], *direction[:, 1])]
    shared.PlaneOrientationSequence = [orientation]
    ds.SharedFunctionalGroupsSequence = [shared]
    dimension = pydicom.Dataset()
    dimension.DimensionOrganizationUID = generate_uid()
    ds.DimensionOrganizationSequence = [dimension]
    index = pydicom.Dataset()
    index.DimensionOrganizationUID = dimension.DimensionOrganizationUID
    index.DimensionIndexPointer = pydicom.tag.Tag(0x0020, 0x0032)
    index.FunctionalGroupPointer = pydicom.tag.Tag(0x0020, 0x9113)
    ds.DimensionIndexSequence = [index]
    per_frame = []
    stored = np.zeros((nk, nj, ni), np.int16)
    for k in range(nk):
        peak = float(np.max(np.abs(values[k])))
        slope = float(f"{(peak / _PET_STORED_MAX if peak > 0 else 1.0):.10g}")
        stored[k] = np.rint(values[k] / slope).astype(np.int16)
        item = pydicom.Dataset()
        position = pydicom.Dataset()
        position.ImagePositionPatient = [float(v) for v in grid.index_to_patient((k, 0, 0))]
        item.PlanePositionSequence = [position]
        content = pydicom.Dataset()
        content.DimensionIndexValues = [k + 1]
        content.FrameAcquisitionDateTime = stamp
        item.FrameContentSequence = [content]
        transform = pydicom.Dataset()
        transform.RescaleSlope = f"{slope:.10g}"
        transform.RescaleIntercept = "0"
        transform.RescaleType = "BQML"
        item.PixelValueTransformationSequence = [transform]
        rwvm = pydicom.Dataset()
        rwvm.RealWorldValueFirstValueMapped = -32768
        rwvm.RealWorldValueLastValueMapped = 32767
        rwvm.RealWorldValueSlope = slope
        rwvm.RealWorldValueIntercept = 0.0
        rwvm.LUTExplanation = "activity concentration"
        rwvm.LUTLabel = "BQML"
        unit = pydicom.Dataset()
        unit.CodeValue, unit.CodingSchemeDesignator, unit.CodeMeaning = "Bq/ml", "UCUM", "Becquerels/milliliter"
        rwvm.MeasurementUnitsCodeSequence = [unit]
        item.RealWorldValueMappingSequence = [rwvm]
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = per_frame
    ds.PixelData = stored.tobytes()
    _save(ds, path)
    return path


# ------------------------------------------------------------------ CT + PET on different grids, RTSTRUCT
_RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"  # RT Structure Set Storage (PS3.4 B.5)


def write_ct_pet_dicom(
    ct: Volume,
    activity: Volume,
    folder: Path,
    *,
    administered_activity_gbq: float,
    administration_time: datetime = PHANTOM_ADMINISTRATION_TIME,
    acquisition_delay_h: float = 2.0,
) -> dict[str, Path]:
    """Write a CT (HU) and a Y-90 PET (Bq/mL at administration) on *different* grids of one study.

    Both series share one StudyInstanceUID and FrameOfReferenceUID (a PET/CT session), as scanners write
    them: CT int16 + RescaleIntercept, PET per-slice RescaleSlope, Units BQML, decay-corrected to the
    series start. ``activity`` values refer to ``administration_time``.

    Returns
    -------
    dict[str, pathlib.Path]
        ``{"ct": folder/"ct", "pet": folder/"pet"}``.
    """
    folder = Path(folder)
    frame = ct.frame_of_reference_uid or activity.frame_of_reference_uid or generate_uid()
    study = {"study": generate_uid(), "frame": frame}
    start = administration_time + timedelta(hours=acquisition_delay_h)
    holder = Phantom(ct=ct, activity=activity, masks={}, administered_activity_gbq=administered_activity_gbq,
                     administration_time=administration_time)
    values = np.asarray(activity.array, np.float64) * decay_factor(acquisition_delay_h, Y90)
    return {
        "ct": _write_ct(ct, folder / "ct", study, administration_time - timedelta(minutes=30), True),
        "pet": _write_pet(holder, values, folder / "pet", study, start, Y90.half_life_h * S_PER_H, "START",
                          False, None, _EmissionOptions(patient_position=_patient_position(activity))),
    }


def _ds_text(value: float) -> str:
    """A DS value of at most 16 characters (DICOM PS3.5 6.2).

    (pydicom 3.0's ``DSfloat(..., auto_format=True)`` gives 17 characters for values such as
    −9.999999999999998, so the precision is reduced here until the text fits.)
    """
    for digits in range(12, 0, -1):
        text = f"{float(value):.{digits}g}"
        if len(text) <= 16:
            return text
    raise InputError(f"{value!r} cannot be written as a DICOM decimal string")


def write_rtstruct_dicom(
    path: Path,
    rois: Mapping[str, Sequence[np.ndarray]],
    *,
    ct_folder: Path | None = None,
    frame_of_reference_uid: str | None = None,
    referenced_series_uid: str | None = None,
    geometric_types: Mapping[str, str] | None = None,
) -> Path:
    """Write an RT Structure Set with ``CLOSED_PLANAR`` contours, as a planning system exports it.

    Parameters
    ----------
    path
        Output file.
    rois
        ROI name → list of contours, each an (N, 3) array of LPS mm points (first point not repeated).
    ct_folder
        The CT series the contours were drawn on: patient, study, frame of reference, series and (per
        contour, by slice position) SOP instance references are taken from it.
    frame_of_reference_uid, referenced_series_uid
        Without ``ct_folder``: the references to write (``None``: leave them out).
    geometric_types
        ROI name → Contour Geometric Type (default ``CLOSED_PLANAR``).

    Notes
    -----
    Contour Data longer than 64 KB cannot be stored as DS in explicit VR; pydicom then writes it as VR UN
    (as some planning-system exports do), which readers must decode by the data dictionary.
    """
    import warnings as _warnings

    from pydicom.sequence import Sequence as DicomSequence

    ct_headers: list[pydicom.Dataset] = []
    if ct_folder is not None:
        for f in sorted(Path(ct_folder).iterdir()):
            ct_headers.append(pydicom.dcmread(f, stop_before_pixels=True))
    first = ct_headers[0] if ct_headers else None
    frame = str(first.FrameOfReferenceUID) if first is not None else frame_of_reference_uid
    series = str(first.SeriesInstanceUID) if first is not None else referenced_series_uid
    study = str(first.StudyInstanceUID) if first is not None else generate_uid()
    moment = PHANTOM_ADMINISTRATION_TIME
    ds = _base_dataset(_RTSTRUCT_SOP_CLASS, "RTSTRUCT", {"study": study, "frame": frame or generate_uid()},
                       generate_uid(), 5, moment, True)
    for keyword in ("SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit",
                    "FrameOfReferenceUID", "PositionReferenceIndicator", "PatientPosition"):
        if keyword in ds:
            delattr(ds, keyword)
    if first is not None:
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
            setattr(ds, keyword, first.get(keyword, ""))
    ds.StructureSetLabel = "sirtkit"
    ds.StructureSetDate, ds.StructureSetTime = _da(moment), _tm(moment)
    ds.OperatorsName = ""
    ds.InstanceNumber = 1
    # slice position along the CT normal → SOP instance, for the Contour Image Sequence
    by_position: list[tuple[float, str]] = []
    normal = np.array([0.0, 0.0, 1.0])
    if first is not None:
        cosines = np.asarray(first.ImageOrientationPatient, dtype=np.float64)
        normal = np.cross(cosines[:3], cosines[3:])
        by_position = [(float(np.asarray(h.ImagePositionPatient, np.float64) @ normal), str(h.SOPInstanceUID))
                       for h in ct_headers]
    if frame is not None:
        ref_frame = pydicom.Dataset()
        ref_frame.FrameOfReferenceUID = frame
        if series is not None:
            ref_series = pydicom.Dataset()
            ref_series.SeriesInstanceUID = series
            images = []
            for h in ct_headers:
                img = pydicom.Dataset()
                img.ReferencedSOPClassUID = h.SOPClassUID
                img.ReferencedSOPInstanceUID = h.SOPInstanceUID
                images.append(img)
            ref_series.ContourImageSequence = DicomSequence(images)
            ref_study = pydicom.Dataset()
            ref_study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (RT convention)
            ref_study.ReferencedSOPInstanceUID = study
            ref_study.RTReferencedSeriesSequence = [ref_series]
            ref_frame.RTReferencedStudySequence = [ref_study]
        ds.ReferencedFrameOfReferenceSequence = [ref_frame]
    ds.StructureSetROISequence = []
    ds.ROIContourSequence = []
    ds.RTROIObservationsSequence = []
    for number, (name, contours) in enumerate(rois.items(), start=1):
        item = pydicom.Dataset()
        item.ROINumber = number
        item.ROIName = name
        if frame is not None:
            item.ReferencedFrameOfReferenceUID = frame
        item.ROIGenerationAlgorithm = "MANUAL"
        ds.StructureSetROISequence.append(item)
        roi = pydicom.Dataset()
        roi.ReferencedROINumber = number
        roi.ROIDisplayColor = [255, 0, 0]
        roi.ContourSequence = []
        for c_number, pts in enumerate(contours, start=1):
            c = pydicom.Dataset()
            c.ContourNumber = c_number
            position = float(np.mean(np.asarray(pts) @ normal))
            near = [uid for s, uid in by_position if abs(s - position) < 0.01]
            if near and ct_headers:
                img = pydicom.Dataset()
                img.ReferencedSOPClassUID = ct_headers[0].SOPClassUID
                img.ReferencedSOPInstanceUID = near[0]
                c.ContourImageSequence = [img]
            with _warnings.catch_warnings():
                # "CLOSED_PLANAR_XOR" (PS3.3 C.8.8.6.1) is 17 characters, one more than VR CS allows
                _warnings.filterwarnings("ignore", message=".*exceeds the maximum length of 16 allowed for VR CS.*")
                c.ContourGeometricType = (geometric_types or {}).get(name, "CLOSED_PLANAR")
            c.NumberOfContourPoints = len(pts)
            c.ContourData = [_ds_text(v) for v in np.asarray(pts, dtype=np.float64).ravel()]
            roi.ContourSequence.append(c)
        ds.ROIContourSequence.append(roi)
        obs = pydicom.Dataset()
        obs.ObservationNumber = number
        obs.ReferencedROINumber = number
        obs.RTROIInterpretedType = "ORGAN"
        obs.ROIInterpreter = ""
        ds.RTROIObservationsSequence.append(obs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _warnings.catch_warnings():
        # pydicom warns when it stores Contour Data over 64 KB as VR UN: that is the export being imitated.
        _warnings.filterwarnings("ignore", message=".*exceeds the size of 64 kByte.*")
        _save(ds, path)
    return path


@dataclass(frozen=True)
class ContouredPhantom:
    """A PET/CT scene with analytic contours: CT and PET on different grids, RTSTRUCT-style contours.

    Attributes
    ----------
    ct
        CT (HU) on a fine grid (thin slices), the image the contours are drawn on.
    activity
        Activity concentration (Bq/mL at administration) on a coarser PET grid with other slice positions.
    contours
        ROI name → contours on the CT planes ((N, 3) LPS mm): ``"Liver"`` (outer contour + a vessel
        hole on every slice), ``"Tumor 1"``, ``"Tumor 2"``, ``"Lungs"`` (two islands per slice).
    labelmap, labels
        The same structures as a label map on the CT grid (voxel centre inside the analytic shape; tumours
        overwrite the liver) and its ``{value: name}``.
    volumes_ml
        Analytic volume of each ROI (the liver without the vessel, tumours included).
    administered_activity_gbq
        Activity in liver + lungs.
    """

    ct: Volume
    activity: Volume
    contours: dict[str, list[np.ndarray]]
    labelmap: Volume
    labels: dict[int, str]
    volumes_ml: dict[str, float]
    administered_activity_gbq: float


# Analytic anatomy of the contoured phantom (LPS mm): liver ellipsoid with a cylindrical vessel along z
# (a hole on every liver slice), two spherical tumours in the liver, two ellipsoidal lungs above it.
_CP_LIVER = ((-40.0, 0.0, -5.0), (70.0, 55.0, 35.0))
_CP_VESSEL = ((-40.0, 12.0), 8.0)
_CP_TUMOURS = {"Tumor 1": ((-72.0, -10.0, -8.0), 15.0), "Tumor 2": ((-8.0, 18.0, 2.0), 10.0)}
# Sub-samples per axis of each PET voxel for the partial-volume activity.
_CP_SUBSAMPLES = 2
_CP_LUNGS = (((-60.0, 10.0, 55.0), (40.0, 50.0, 20.0)), ((60.0, 10.0, 55.0), (40.0, 50.0, 20.0)))


def _ellipse(centre: Sequence[float], semi: Sequence[float], z: float, n: int) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.stack([centre[0] + semi[0] * np.cos(t), centre[1] + semi[1] * np.sin(t), np.full(n, z)], axis=1)


def make_contoured_phantom(
    *,
    ct_spacing_mm: tuple[float, float, float] = (1.5, 2.0, 2.0),
    pet_spacing_mm: tuple[float, float, float] = (4.0, 4.0, 4.0),
    administered_activity_gbq: float = 2.0,
    tumor_to_normal_ratio: float = 5.0,
    lung_shunt_fraction: float = 0.05,
    points_per_contour: int = 240,
) -> ContouredPhantom:
    """Build a :class:`ContouredPhantom` (CT z from −45 to 78 mm; PET slices offset from the CT's).

    The activity is uniform per compartment (normal liver, tumours ``T/N ×`` normal, lungs with
    ``lung_shunt_fraction`` of the activity, vessel and body 0), sampled with 2 × 2 × 2 sub-voxel points per
    PET voxel (partial volume at the edges, as a reconstruction shows it).
    """
    sk, sj, si = ct_spacing_mm
    z = np.arange(-45.0, 78.0 + 1e-6, sk)
    nj, ni = round(256.0 / sj), round(256.0 / si)
    frame = generate_uid()
    ct_grid = Volume.from_spacing(np.zeros((z.size, nj, ni), np.float32), ct_spacing_mm,
                                  (-(ni - 1) / 2.0 * si, -(nj - 1) / 2.0 * sj, float(z[0])),
                                  frame_of_reference_uid=frame)
    pk, pj, pi = pet_spacing_mm
    pz = np.arange(-44.0, 78.0, pk)
    pnj, pni = round(256.0 / pj), round(256.0 / pi)
    pet_grid = Volume.from_spacing(np.zeros((pz.size, pnj, pni), np.float32), pet_spacing_mm,
                                   (-(pni - 1) / 2.0 * pi, -(pnj - 1) / 2.0 * pj, float(pz[0])),
                                   frame_of_reference_uid=frame)

    def regions(points: np.ndarray) -> dict[str, np.ndarray]:
        (lc, ls), (vc, vr) = _CP_LIVER, _CP_VESSEL
        vessel = np.sum((points[..., :2] - np.array(vc)) ** 2, axis=-1) <= vr**2
        liver = _ellipsoid(points, np.array(lc), np.array(ls)) & ~vessel
        out = {"Liver": liver}
        for name, (c, r) in _CP_TUMOURS.items():
            out[name] = np.sum((points - np.array(c)) ** 2, axis=-1) <= r**2
        out["Lungs"] = np.zeros(points.shape[:-1], dtype=bool)
        for c, s in _CP_LUNGS:
            out["Lungs"] |= _ellipsoid(points, np.array(c), np.array(s))
        return out

    kk, jj, ii = np.meshgrid(*(np.arange(n) for n in ct_grid.shape), indexing="ij")
    ct_points = ct_grid.index_to_patient(np.stack([kk, jj, ii], axis=-1).astype(np.float64))
    truth = regions(ct_points)
    labels = {1: "Liver", 2: "Tumor 1", 3: "Tumor 2", 4: "Lungs"}
    labelmap = np.zeros(ct_grid.shape, np.uint16)
    for value, name in labels.items():
        labelmap[truth[name]] = value
    body = np.sum((ct_points[..., :2] / np.array([120.0, 90.0])) ** 2, axis=-1) <= 1.0
    ct = np.where(body, PHANTOM_HU["body"], PHANTOM_HU["air"]).astype(np.float32)
    ct[truth["Liver"]] = PHANTOM_HU["liver"]
    ct[truth["Tumor 1"] | truth["Tumor 2"]] = PHANTOM_HU["tumor"]
    ct[truth["Lungs"]] = PHANTOM_HU["lung"]
    # analytic volumes (mm³ → mL): ellipsoid 4/3·π·abc minus the vessel cylinder's part inside it
    (lc, ls), (vc, vr) = _CP_LIVER, _CP_VESSEL
    u = np.linspace(-1.0, 1.0, 4001)
    zz = lc[2] + ls[2] * u
    vessel_area = np.zeros_like(u)
    # the vessel lies well inside every liver cross-section it crosses except near the poles: area of the
    # circle ∩ ellipse by fine 2-D sampling per z (0.1 mm grid: ~0.1 % of the vessel, 0.003 % of the liver)
    gx = np.arange(vc[0] - vr, vc[0] + vr, 0.1) + 0.05
    gy = np.arange(vc[1] - vr, vc[1] + vr, 0.1) + 0.05
    gxx, gyy = np.meshgrid(gx, gy, indexing="ij")
    in_circle = (gxx - vc[0]) ** 2 + (gyy - vc[1]) ** 2 <= vr**2
    for n, w in enumerate(1.0 - u**2):
        if w <= 0:
            continue
        inside = ((gxx - lc[0]) / ls[0]) ** 2 + ((gyy - lc[1]) / ls[1]) ** 2 <= w
        vessel_area[n] = np.count_nonzero(in_circle & inside) * 0.1**2
    vessel_mm3 = float(np.trapezoid(vessel_area, zz))
    volumes = {"Liver": (4.0 / 3.0 * np.pi * float(np.prod(ls)) - vessel_mm3) / 1000.0}
    for name, (_, r) in _CP_TUMOURS.items():
        volumes[name] = 4.0 / 3.0 * np.pi * r**3 / 1000.0
    volumes["Lungs"] = sum(4.0 / 3.0 * np.pi * float(np.prod(s)) for _, s in _CP_LUNGS) / 1000.0
    # contours on every CT plane that cuts a structure
    contours: dict[str, list[np.ndarray]] = {"Liver": [], "Tumor 1": [], "Tumor 2": [], "Lungs": []}
    for plane in z:
        w = 1.0 - ((plane - lc[2]) / ls[2]) ** 2
        if w > 0:
            contours["Liver"].append(_ellipse(lc, (ls[0] * np.sqrt(w), ls[1] * np.sqrt(w)), plane, points_per_contour))
            contours["Liver"].append(_ellipse(vc, (vr, vr), plane, points_per_contour // 4)[::-1])
        for name, (c, r) in _CP_TUMOURS.items():
            if abs(plane - c[2]) < r:
                rr = float(np.sqrt(r**2 - (plane - c[2]) ** 2))
                contours[name].append(_ellipse(c, (rr, rr), plane, points_per_contour // 2))
        for c, s in _CP_LUNGS:
            w = 1.0 - ((plane - c[2]) / s[2]) ** 2
            if w > 0:
                contours["Lungs"].append(_ellipse(c, (s[0] * np.sqrt(w), s[1] * np.sqrt(w)), plane, points_per_contour))
    # activity on the PET grid, sub-sampled per voxel
    offsets = (np.arange(_CP_SUBSAMPLES) + 0.5) / _CP_SUBSAMPLES - 0.5
    acc = {name: np.zeros(pet_grid.shape) for name in ("normal", "tumour", "lung")}
    pkk, pjj, pii = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in pet_grid.shape), indexing="ij")
    base = np.stack([pkk, pjj, pii], axis=-1)
    for dk in offsets:
        for dj in offsets:
            for di in offsets:
                reg = regions(pet_grid.index_to_patient(base + np.array([dk, dj, di])))
                tumour = reg["Tumor 1"] | reg["Tumor 2"]
                acc["normal"] += reg["Liver"] & ~tumour
                acc["tumour"] += tumour
                acc["lung"] += reg["Lungs"]
    vv = pet_grid.voxel_volume_ml
    frac = {k: v / _CP_SUBSAMPLES**3 for k, v in acc.items()}
    a_bq = administered_activity_gbq * BQ_PER_GBQ
    a_liver = a_bq * (1.0 - lung_shunt_fraction)
    c_normal = a_liver / (vv * (frac["normal"].sum() + tumor_to_normal_ratio * frac["tumour"].sum()))
    c_lung = a_bq * lung_shunt_fraction / (vv * frac["lung"].sum())
    activity = c_normal * frac["normal"] + tumor_to_normal_ratio * c_normal * frac["tumour"] + c_lung * frac["lung"]
    return ContouredPhantom(
        ct=ct_grid.with_array(ct, quantity="ct", unit="HU"),
        activity=pet_grid.with_array(activity, quantity="activity_concentration", unit="Bq/mL",
                                     metadata={"reference_datetime": PHANTOM_ADMINISTRATION_TIME, "modality": "PT"}),
        contours=contours,
        labelmap=ct_grid.with_array(labelmap, quantity="label", unit="1", metadata={"labels": dict(labels)}),
        labels=labels,
        volumes_ml=volumes,
        administered_activity_gbq=float(administered_activity_gbq),
    )


# Damaged Contour Data as PACS and export scripts produce it (issue 10): name → raw bytes ("delete": no
# Contour Data element at all).
RTSTRUCT_CONTOUR_MUTATIONS: dict[str, bytes | None] = {
    "missing": None,
    "not_triplets": b"1.0\\2.0\\3.0\\4.0",
    "empty": b"",
    "nan": b"1.0\\nan\\3.0",
    "infinite": b"1.0\\2.0\\inf",
    "text": b"1.0\\2.0\\abc",
}


def mutate_rtstruct_contour(source: Path, target: Path, mutation: str, *, big: bool = False) -> Path:
    """Copy an RTSTRUCT with the Contour Data of its first contour damaged (:data:`RTSTRUCT_CONTOUR_MUTATIONS`).

    The damaged value is written as VR UN raw text, as exports carry Contour Data over 64 KB; ``big`` puts
    30 000 valid numbers before the damage (about 300 KB), so a reader that quoted the value in its error
    message would print all of it.
    """
    import warnings as _warnings

    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    if mutation not in RTSTRUCT_CONTOUR_MUTATIONS:
        raise InputError(f"mutation {mutation!r}: use one of {', '.join(RTSTRUCT_CONTOUR_MUTATIONS)}")
    ds = pydicom.dcmread(source)
    item = ds.ROIContourSequence[0].ContourSequence[0]
    value = RTSTRUCT_CONTOUR_MUTATIONS[mutation]
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")  # pydicom rightly complains about the damage being made
        if value is None:
            del item.ContourData
        else:
            payload = b"\\".join([b"12.345678"] * 30000 + ([value] if value else [])) if big else value
            item[0x30060050] = RawDataElement(Tag(0x30060050), "UN", len(payload), payload, 0, False, True)
        ds.save_as(target)
    return Path(target)
