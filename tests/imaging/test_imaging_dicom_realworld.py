"""DICOM as real scanners and PACS write it: vendor quirks, and one-element mutations of a clean series.

Every case starts from the clean phantom PET series (``phantom_pet_dicom``) and changes one thing, as an
export script, PACS or scanner really does (issue 10's mutation list; issue 7's real-world inputs). The
rule for each: the series reads with the right values (and a note or warning when something was
repaired or contradicts itself), or :class:`DicomInputError`/:class:`UnitsError` names the file and the
attribute. Never another exception, never a silently different value.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pydicom
import pytest
from numpy.testing import assert_allclose
from pydicom.dataelem import DataElement

from sirtkit.errors import DicomInputError, InputError, UnitsError
from sirtkit.imaging import read_dicom_series
from sirtkit.imaging.phantom import Phantom, reorient_phantom, write_phantom_dicom
from sirtkit.physics.decay import decay_factor

PET_INT16_MAX = 32000  # the writer's per-slice stored maximum: one stored step is slice peak / 32000
# Longest message a refusal may print (characters): names, UIDs and a short quoted value, never the data.
MESSAGE_LIMIT_CHARS = 1500


def _step(reference: np.ndarray) -> float:
    return float(reference.max()) / PET_INT16_MAX


@contextmanager
def _lenient_writing() -> Iterator[None]:
    """Let tests write values pydicom would refuse (NaN, wrong VR), as broken exporters do."""
    settings = pydicom.config.settings
    before = settings.writing_validation_mode, settings.reading_validation_mode
    settings.writing_validation_mode = settings.reading_validation_mode = pydicom.config.IGNORE
    try:
        yield
    finally:
        settings.writing_validation_mode, settings.reading_validation_mode = before


def _mutated(source: Path, target: Path, mutate: Callable[[list[pydicom.Dataset]], None]) -> Path:
    """Copy the series at ``source`` to ``target`` with ``mutate`` applied to its datasets (sorted by name)."""
    shutil.copytree(source, target)
    files = sorted(target.iterdir())
    datasets = [pydicom.dcmread(f) for f in files]
    with _lenient_writing(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a > 64 kB value saved as VR UN, as pydicom and PACS do
        mutate(datasets)
        for f, ds in zip(files, datasets, strict=True):
            ds.save_as(f)
    return target


def _on_slice(n: int, change: Callable[[pydicom.Dataset], None]) -> Callable[[list[pydicom.Dataset]], None]:
    return lambda datasets: change(datasets[n])


def _on_all(change: Callable[[pydicom.Dataset], None]) -> Callable[[list[pydicom.Dataset]], None]:
    def apply(datasets: list[pydicom.Dataset]) -> None:
        for ds in datasets:
            change(ds)
    return apply


def _delete(keyword: str) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        delattr(ds, keyword)
    return change


def _set(keyword: str, vr: str, value: object) -> Callable[[pydicom.Dataset], None]:
    def change(ds: pydicom.Dataset) -> None:
        tag = pydicom.datadict.tag_for_keyword(keyword)
        assert tag is not None
        ds[tag] = DataElement(tag, vr, value)
    return change


# (id, mutation, exception, words the message must hold — the file is always named too)
REFUSED = [
    ("other frame of reference on one slice", _on_slice(5, _set("FrameOfReferenceUID", "UI", "1.2.3.4")),
     DicomInputError, "FrameOfReferenceUID"),
    ("other study on one slice", _on_slice(5, _set("StudyInstanceUID", "UI", "1.2.3.5")), DicomInputError,
     "StudyInstanceUID"),
    ("other patient on one slice", _on_slice(5, _set("PatientID", "LO", "SOMEONE-ELSE")), DicomInputError, "PatientID"),
    ("unknown SOP class on one slice", _on_slice(5, _set("SOPClassUID", "UI", "1.2.840.10008.5.1.4.1.1.7")),
     DicomInputError, "SOPClassUID"),
    ("SOP class contradicts modality", _on_slice(5, _set("Modality", "CS", "CT")), DicomInputError, "Modality"),
    ("no Columns on one slice", _on_slice(5, _delete("Columns")), DicomInputError, "Columns"),
    ("no Rows on any slice", _on_all(_delete("Rows")), DicomInputError, "Rows"),
    ("NaN SliceThickness", _on_slice(5, _set("SliceThickness", "DS", "NaN")), DicomInputError, "SliceThickness"),
    ("infinite SliceThickness", _on_slice(5, _set("SliceThickness", "DS", "inf")), DicomInputError, "SliceThickness"),
    ("negative SliceThickness", _on_slice(5, _set("SliceThickness", "DS", "-4")), DicomInputError, "SliceThickness"),
    ("zero PixelSpacing", _on_slice(5, _set("PixelSpacing", "DS", ["0", "12"])), DicomInputError, "PixelSpacing"),
    ("PixelSpacing in micrometres", _on_all(_set("PixelSpacing", "DS", ["12000", "12000"])), DicomInputError,
     "PixelSpacing"),
    ("NaN in ImagePositionPatient", _on_slice(5, _set("ImagePositionPatient", "DS", ["NaN", "0", "0"])),
     DicomInputError, "ImagePositionPatient"),
    ("ImagePositionPatient with two values", _on_slice(5, _set("ImagePositionPatient", "DS", ["0", "0"])),
     DicomInputError, "ImagePositionPatient"),
    ("non-orthogonal orientation", _on_all(_set("ImageOrientationPatient", "DS", ["1", "0", "0", "1", "0", "0"])),
     DicomInputError, "ImageOrientationPatient"),
    ("PET without RescaleSlope on one slice", _on_slice(5, _delete("RescaleSlope")), UnitsError, "RescaleSlope"),
    ("PET RescaleSlope zero", _on_slice(5, _set("RescaleSlope", "DS", "0")), UnitsError, "RescaleSlope"),
    ("PET RescaleSlope negative", _on_slice(5, _set("RescaleSlope", "DS", "-0.5")), UnitsError, "RescaleSlope"),
    ("PET without Units", _on_all(_delete("Units")), DicomInputError, "Units"),
    ("PET Units differ on one slice", _on_slice(5, _set("Units", "CS", "CNTS")), DicomInputError, "Units"),
    ("PET Units SUV", _on_all(_set("Units", "CS", "GML")), UnitsError, "GML"),
    ("PET Units unknown", _on_all(_set("Units", "CS", "NONE")), UnitsError, "Units"),
    ("BitsStored cuts the stored values", _on_slice(12, _set("BitsStored", "US", 12)), DicomInputError, "BitsStored"),
    ("no StudyInstanceUID", _on_all(_delete("StudyInstanceUID")), DicomInputError, "StudyInstanceUID"),
    ("no SOPInstanceUID on one slice", _on_slice(5, _delete("SOPInstanceUID")), DicomInputError, "SOPInstanceUID"),
    ("no FrameOfReferenceUID on one slice", _on_slice(5, _delete("FrameOfReferenceUID")), DicomInputError,
     "FrameOfReferenceUID"),
    ("huge SOP class value", _on_slice(5, _set("SOPClassUID", "UI", "1." * 50_000 + "1")), DicomInputError,
     "SOPClassUID"),
    ("pixel data cut to half a slice", _on_slice(5, lambda ds: setattr(ds, "PixelData", ds.PixelData[:1024])),
     DicomInputError, "pixel data"),
]


@pytest.mark.parametrize(("mutation", "error", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_mutation_refused_naming_file_and_attribute(phantom_pet_dicom: dict[str, Path], tmp_path: Path,
                                                    mutation: Callable[[list[pydicom.Dataset]], None],
                                                    error: type[Exception], words: str) -> None:
    """Issue 10: each mutation is refused at reading (exit 2 in the CLI), naming a file and the attribute, in
    a message of bounded length (≤ 1500 characters)."""
    folder = _mutated(phantom_pet_dicom["pet"], tmp_path / "pet", mutation)
    with pytest.raises(error) as info:
        read_dicom_series(folder)
    message = str(info.value)
    assert words in message
    assert "pet_00" in message or str(folder) in message
    assert len(message) <= MESSAGE_LIMIT_CHARS


def test_unparseable_value_refused_naming_attribute(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    """A DS value that is not a number in the file bytes (RescaleSlope "abc"): refused naming the attribute."""
    folder = tmp_path / "pet"
    shutil.copytree(phantom_pet_dicom["pet"], folder)
    victim = folder / "pet_0005.dcm"
    data = victim.read_bytes()
    at = data.index(b"\x28\x00\x53\x10DS") + 6
    length = int.from_bytes(data[at:at + 2], "little")
    victim.write_bytes(data[:at + 2] + b"abc".ljust(length) + data[at + 2 + length:])
    with pytest.raises(DicomInputError, match=r"pet_0005\.dcm: RescaleSlope"):
        read_dicom_series(folder)


def test_missing_type2_and_modality_read_and_reported(phantom_pet_dicom: dict[str, Path], small_phantom: Phantom,
                                                      tmp_path: Path) -> None:
    """A series without StudyID, StudyTime or Modality reads with the same values; what is missing is
    listed for the writers (Type 2: written empty) and the repaired Modality is noted."""
    def strip(datasets: list[pydicom.Dataset]) -> None:
        for ds in datasets:
            del ds.StudyID, ds.StudyTime, ds.Modality

    pet = read_dicom_series(_mutated(phantom_pet_dicom["pet"], tmp_path / "pet", strip))
    assert {"StudyID", "StudyTime"} <= set(pet.metadata["missing_type2"])
    assert pet.metadata["modality"] == "PT"
    assert any("Modality" in n for n in pet.metadata["read_notes"])
    expected = small_phantom.activity.array * decay_factor(2.0)
    assert_allclose(pet.array, expected, atol=_step(expected))


def test_positions_disagreeing_with_instance_numbers_warn(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    """Two slices whose positions were swapped: geometry follows ImagePositionPatient (as stated), and
    the disagreement with InstanceNumber is a warning naming both files."""
    def swap(datasets: list[pydicom.Dataset]) -> None:
        a, b = datasets[8], datasets[9]
        a.ImagePositionPatient, b.ImagePositionPatient = list(b.ImagePositionPatient), list(a.ImagePositionPatient)

    pet = read_dicom_series(_mutated(phantom_pet_dicom["pet"], tmp_path / "pet", swap))
    warning = " ".join(pet.metadata["read_warnings"])
    assert "InstanceNumber" in warning and "pet_0008" in warning and "pet_0009" in warning


def test_bits_stored_differing_but_harmless_warns(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    """One slice with BitsStored 12 whose stored values all fit in 12 bits: read as written, with a warning."""
    files = sorted(phantom_pet_dicom["pet"].iterdir())
    quiet = next(n for n, f in enumerate(files) if np.abs(pydicom.dcmread(f).pixel_array).max() < 2**11)
    pet = read_dicom_series(_mutated(phantom_pet_dicom["pet"], tmp_path / "pet",
                                     _on_slice(quiet, _set("BitsStored", "US", 12))))
    assert any("BitsStored" in w for w in pet.metadata["read_warnings"])


def test_duplicate_file_refused(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "pet"
    shutil.copytree(phantom_pet_dicom["pet"], folder)
    shutil.copy(folder / "pet_0004.dcm", folder / "copy_of_4.dcm")
    with pytest.raises(DicomInputError, match="SOPInstanceUID"):
        read_dicom_series(folder)


def test_un_encoded_slope_read_by_dictionary(phantom_pet_dicom: dict[str, Path], small_phantom: Phantom,
                                             tmp_path: Path) -> None:
    """RescaleSlope written with VR UN (as some anonymisers do): decoded by the data dictionary."""
    def to_un(ds: pydicom.Dataset) -> None:
        raw = str(ds.RescaleSlope).encode("ascii")
        ds[0x00281053] = DataElement(0x00281053, "UN", raw + b" " * (len(raw) % 2))

    pet = read_dicom_series(_mutated(phantom_pet_dicom["pet"], tmp_path / "pet", _on_all(to_un)))
    expected = small_phantom.activity.array * decay_factor(2.0)
    assert_allclose(pet.array, expected, atol=_step(expected))


@pytest.mark.parametrize("vendor", ["ge", "siemens", "philips"])
def test_vendor_pet_styles_give_the_same_activity_and_time(small_phantom: Phantom, tmp_path: Path, vendor: str) -> None:
    """GE (private scan time (0009,100D), SeriesTime 3 h later), Siemens (per-bed AcquisitionDateTime,
    SeriesTime at reconstruction), Philips (CNTS × (7053,1009), SUV factor (7053,1000) present and unused):
    values equal the phantom's activity at the scan start within one stored step, and the reference time is
    the true scan start (administration + 2 h) — QIBA SUV pseudo-code order, DICOM.md §2."""
    pet = read_dicom_series(write_phantom_dicom(small_phantom, tmp_path, vendor=vendor)["pet"])
    expected = small_phantom.activity.array * decay_factor(2.0)
    assert pet.unit == "Bq/mL"
    assert_allclose(pet.array, expected, atol=_step(expected))
    assert pet.metadata["reference_datetime"] == small_phantom.administration_time + timedelta(hours=2)


def test_time_only_injection_is_never_dated_from_the_scan(small_phantom: Phantom, tmp_path: Path) -> None:
    """Issue 7.7: RadiopharmaceuticalStartTime (TM, no date), ADMIN decay correction, scan 3 days later:
    the reader keeps the time of day only and says the date is unknown (the old reader put the injection
    on the scan's date, a silent 3-day error: 2.2× in activity)."""
    out = write_phantom_dicom(small_phantom, tmp_path, decay_correction="ADMIN", acquisition_delay_h=74.0,
                              radiopharmaceutical_time_only=True)
    pet = read_dicom_series(out["pet"])
    assert pet.metadata["radiopharmaceutical_start"] is None
    assert pet.metadata["radiopharmaceutical_start_time_only"] == small_phantom.administration_time.time().replace(
        tzinfo=None)
    assert pet.metadata["reference_datetime"] is None
    assert "without a date" in pet.metadata["timing_problem"]


@pytest.mark.parametrize(("moment", "offset_h"), [(datetime(2026, 3, 2, 10, 0), 1), (datetime(2026, 7, 1, 10, 0), 2)])
def test_naive_times_take_the_iana_zone_with_daylight_saving(small_phantom: Phantom, tmp_path: Path,
                                                             moment: datetime, offset_h: int) -> None:
    """Naive DICOM times read in Europe/Amsterdam: UTC+1 in March, UTC+2 (CEST) in July."""
    admin = moment.replace(tzinfo=timezone(timedelta(hours=offset_h)))
    phantom = replace(small_phantom, administration_time=admin)
    out = write_phantom_dicom(phantom, tmp_path, write_timezone=False)
    pet = read_dicom_series(out["pet"], assume_timezone=ZoneInfo("Europe/Amsterdam"))
    reference = pet.metadata["reference_datetime"]
    assert reference.utcoffset() == timedelta(hours=offset_h)
    assert reference == admin + timedelta(hours=2)


def test_declared_nuclide_other_than_expected_refused(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    """A PET whose radionuclide code says F-18 (SCT 77004003) read for Y-90 dosimetry: refused."""
    def to_f18(ds: pydicom.Dataset) -> None:
        item = ds.RadiopharmaceuticalInformationSequence[0]
        item.RadionuclideCodeSequence[0].CodeValue = "77004003"
        item.RadionuclideCodeSequence[0].CodeMeaning = "^18^Fluorine"
        item.Radiopharmaceutical = "Fluorodeoxyglucose"
        item.RadionuclideHalfLife = "6586.2"

    folder = _mutated(phantom_pet_dicom["pet"], tmp_path / "pet", _on_all(to_f18))
    with pytest.raises(DicomInputError, match="F-18"):
        read_dicom_series(folder, expected_nuclide="Y-90")


def test_expected_ho166_refuses_y90_series(phantom_pet_dicom: dict[str, Path]) -> None:
    with pytest.raises(DicomInputError, match="Ho-166"):
        read_dicom_series(phantom_pet_dicom["pet"], expected_nuclide="Ho-166")


@pytest.mark.parametrize(("tilt_deg", "feet_first"), [(15.0, False), (0.0, True), (-20.0, True)])
def test_nm_tilted_and_feet_first_geometry(small_phantom: Phantom, tmp_path: Path, tilt_deg: float,
                                           feet_first: bool) -> None:
    """Multi-frame NM with the detector tilted (orientation in DetectorInformationSequence) and/or stored
    feet-first: the read grid equals the written grid (affine within 1e-4 mm) and the values keep the
    phantom's proportions (RWVM Bq/ml, one count step = peak / 30000)."""
    phantom = reorient_phantom(small_phantom, tilt_deg=tilt_deg, feet_first=feet_first)
    grid = phantom.activity
    for negative in (False, True):
        nm = read_dicom_series(write_phantom_dicom(phantom, tmp_path / f"n{negative}", modality="NM",
                                                   nm_real_world_bq_ml=True, nm_negative_spacing=negative)["nm"])
        expected = grid.array * decay_factor(2.0)
        affine = np.array(grid.affine)
        if negative:  # frames stored last slice first: the same voxels in reversed slice order
            affine[:3, 3] = grid.index_to_patient((grid.shape[0] - 1, 0, 0))
            affine[:3, 0] = -affine[:3, 0]
            expected = expected[::-1]
        assert_allclose(nm.affine, affine, atol=1e-4)
        assert_allclose(nm.array, expected, atol=float(expected.max()) / 30000 + 1e-9)
    ct = read_dicom_series(write_phantom_dicom(phantom, tmp_path / "ct")["ct"])
    centre = phantom.ct.index_to_patient((12, 16, 16))
    assert_allclose(ct.array[tuple(np.rint(ct.patient_to_index(centre)).astype(int))],
                    phantom.ct.array[12, 16, 16], atol=0)


def test_relative_quantities_from_counts_units(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    """PROPCNTS (proportional counts) reads as counts, with the reason recorded for absolute refusal."""
    pet = read_dicom_series(_mutated(phantom_pet_dicom["pet"], tmp_path / "pet", _on_all(_set("Units", "CS", "PROPCNTS"))))
    assert pet.unit == "counts" and "PROPCNTS" in pet.metadata["unit_problem"]


def test_input_error_hierarchy() -> None:
    assert issubclass(DicomInputError, InputError) and issubclass(UnitsError, InputError)


@pytest.mark.parametrize(("tilt_deg", "feet_first"), [(0.0, False), (10.0, True)])
def test_enhanced_pet_read_through_highdicom(small_phantom: Phantom, tmp_path: Path, tilt_deg: float,
                                             feet_first: bool) -> None:
    """Issue 7: an Enhanced PET Image object (functional groups, per-frame slopes and Real World Value
    Mappings to Bq/ml, DecayCorrectionDateTime) is read, not refused: the same grid as the phantom
    (1e-4 mm), values within one stored step, reference time = scan start."""
    from sirtkit.imaging.phantom import write_enhanced_pet

    phantom = reorient_phantom(small_phantom, tilt_deg=tilt_deg, feet_first=feet_first)
    pet = read_dicom_series(write_enhanced_pet(phantom, tmp_path / "enhanced.dcm"))
    assert (pet.quantity, pet.unit) == ("activity_concentration", "Bq/mL")
    assert_allclose(pet.affine, phantom.activity.affine, atol=1e-4)
    expected = phantom.activity.array * decay_factor(2.0)
    assert_allclose(pet.array, expected, atol=_step(expected))
    assert pet.metadata["reference_datetime"] == phantom.administration_time + timedelta(hours=2)


def test_bits_above_bits_stored_may_be_zero_or_sign_extension() -> None:
    """PS3.5 §8.1.1: bits above BitsStored are zero or a sign extension in valid files (12-bit signed CT
    stored either way); data there (a 16-bit value under BitsStored 12) is refused."""
    from pydicom.dataset import FileMetaDataset

    from sirtkit.imaging.dicom import _check_bits_stored

    def slice_with(raw: list[int]) -> pydicom.Dataset:
        ds = pydicom.Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
        ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 16, 12, 1
        ds.PixelData = np.asarray(raw, "<u2").tobytes()
        return ds

    _check_bits_stored(slice_with([0x0C18, 0x0100, 0xFC18]), np.zeros(3))  # −1000 both ways, +256
    with pytest.raises(DicomInputError, match="BitsStored"):
        _check_bits_stored(slice_with([20000, 5]), np.zeros(2))
