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
from collections.abc import Mapping
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
    "Phantom",
    "PET_VENDORS",
    "make_phantom",
    "reorient_phantom",
    "write_enhanced_pet",
    "write_phantom_dicom",
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
