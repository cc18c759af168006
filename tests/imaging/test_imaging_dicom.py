"""DICOM series reading: the phantom written as real DICOM and read back, and every refusal."""

from __future__ import annotations

import shutil
from datetime import timedelta, timezone
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from numpy.testing import assert_allclose

from sirtkit.errors import DicomInputError, UnitsError
from sirtkit.imaging import read_dicom_series, read_volume, resample_to
from sirtkit.imaging.phantom import Phantom, write_phantom_dicom
from sirtkit.physics.decay import decay_factor

PET_INT16_MAX = 32000  # the writer's per-slice stored maximum: precision is peak/32000 per slice


def _pet_tolerance(reference: np.ndarray) -> float:
    return float(reference.max()) / PET_INT16_MAX  # one stored step of the hottest slice


def test_ct_round_trip(small_phantom: Phantom, phantom_pet_dicom: dict[str, Path]) -> None:
    """CT int16 + RescaleIntercept −1024 → HU exactly (the phantom HU are integers)."""
    ct = read_dicom_series(phantom_pet_dicom["ct"])
    assert (ct.quantity, ct.unit) == ("ct", "HU")
    assert ct.same_grid(small_phantom.ct)
    assert_allclose(ct.array, small_phantom.ct.array, atol=0.0)
    assert ct.frame_of_reference_uid == small_phantom.ct.frame_of_reference_uid
    assert ct.metadata["modality"] == "CT" and len(ct.metadata["source_files"]) == small_phantom.ct.shape[0]
    # SimpleITK reads the same series to the same geometry
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(f) for f in ct.metadata["source_files"]])
    img = reader.Execute()
    assert_allclose(img.TransformIndexToPhysicalPoint((3, 4, 5)), ct.index_to_patient((5, 4, 3)), atol=1e-4)


def test_pet_round_trip_start_decay_correction(small_phantom: Phantom, phantom_pet_dicom: dict[str, Path]) -> None:
    """PET BQML, per-slice RescaleSlope, DecayCorrection START, scan 2 h after administration.

    Reference: values = A_admin(Bq/mL) · exp(−ln2 · 2 h / 64.1 h) = A_admin · 0.978606; within one
    stored step (slice peak / 32000) per voxel.
    """
    pet = read_dicom_series(phantom_pet_dicom["pet"])
    assert (pet.quantity, pet.unit) == ("activity_concentration", "Bq/mL")
    assert pet.same_grid(small_phantom.activity)
    expected = small_phantom.activity.array * decay_factor(2.0)
    assert decay_factor(2.0) == pytest.approx(0.978606, rel=1e-6)
    assert_allclose(pet.array, expected, atol=_pet_tolerance(expected))
    slopes = {float(pydicom.dcmread(f, stop_before_pixels=True).RescaleSlope) for f in pet.metadata["source_files"]}
    assert len(slopes) > 3  # slopes really vary per slice
    meta = pet.metadata
    admin = small_phantom.administration_time
    assert meta["decay_correction"] == "START"
    assert meta["reference_datetime"] == admin + timedelta(hours=2)
    assert meta["radiopharmaceutical_start"] == admin
    assert meta["radionuclide_half_life_s"] == pytest.approx(230760.0)
    assert meta["radionuclide_total_dose_bq"] == pytest.approx(2.0e9)
    assert meta["patient_id"] and meta["series_instance_uid"] and meta["study_instance_uid"]
    assert pet.total() == pytest.approx(2.0e9 * decay_factor(2.0), rel=1e-4)


def test_pet_admin_decay_correction(small_phantom: Phantom, tmp_path: Path) -> None:
    out = write_phantom_dicom(small_phantom, tmp_path, decay_correction="ADMIN")
    pet = read_dicom_series(out["pet"])
    assert pet.metadata["reference_datetime"] == small_phantom.administration_time
    assert_allclose(pet.array, small_phantom.activity.array, atol=_pet_tolerance(small_phantom.activity.array))


def test_philips_cnts_with_and_without_private_factor(small_phantom: Phantom, tmp_path: Path) -> None:
    """CNTS × (7053,1009) = Bq/mL; without the private tag the values are counts (patient-relative use only)
    and the reason names the tag, so absolute quantification refuses them."""
    with_tag = write_phantom_dicom(small_phantom, tmp_path / "a", as_counts=True, philips_activity_scale=2.5)
    pet = read_dicom_series(with_tag["pet"])
    expected = small_phantom.activity.array * decay_factor(2.0)
    assert_allclose(pet.array, expected, atol=_pet_tolerance(expected))
    without = read_dicom_series(write_phantom_dicom(small_phantom, tmp_path / "b", as_counts=True)["pet"])
    assert (without.quantity, without.unit) == ("counts", "counts")
    assert "7053,1009" in without.metadata["unit_problem"]


def test_f18_half_life_refused(small_phantom: Phantom, tmp_path: Path) -> None:
    """Y-90 radiopharmaceutical with an F-18 half-life (6586 s): decay and branching were wrong."""
    out = write_phantom_dicom(small_phantom, tmp_path, pet_half_life_s=6586.0)
    with pytest.raises(DicomInputError, match="6586"):
        read_dicom_series(out["pet"])


def test_gml_refused(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "gml"
    folder.mkdir()
    for f in sorted(phantom_pet_dicom["pet"].iterdir()):
        ds = pydicom.dcmread(f)
        ds.Units = "GML"
        ds.save_as(folder / f.name)
    with pytest.raises(UnitsError, match="GML"):
        read_dicom_series(folder)


def test_missing_timezone_read_without_times_unless_assumed(small_phantom: Phantom, tmp_path: Path) -> None:
    """Naive DICOM times: the series reads (relative mode needs no clock); its times stay unknown and
    ``timing_problem`` says why; with an assumed timezone they are placed."""
    out = write_phantom_dicom(small_phantom, tmp_path, write_timezone=False)
    naive = read_dicom_series(out["pet"])
    assert naive.metadata["reference_datetime"] is None
    assert "timezone" in naive.metadata["timing_problem"]
    cet = timezone(timedelta(hours=1))
    pet = read_dicom_series(out["pet"], assume_timezone=cet)
    assert pet.metadata["reference_datetime"] == small_phantom.administration_time + timedelta(hours=2)


def test_missing_slice_refused(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "gap"
    shutil.copytree(phantom_pet_dicom["ct"], folder)
    (folder / "ct_0010.dcm").unlink()
    with pytest.raises(DicomInputError, match="slice is missing"):
        read_dicom_series(folder)


def test_two_series_refused_with_uids(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(phantom_pet_dicom["ct"], folder / "ct")
    shutil.copytree(phantom_pet_dicom["pet"], folder / "pet")
    ct_uid = str(pydicom.dcmread(next((folder / "ct").iterdir())).SeriesInstanceUID)
    pet_uid = str(pydicom.dcmread(next((folder / "pet").iterdir())).SeriesInstanceUID)
    with pytest.raises(DicomInputError) as info:
        read_dicom_series(folder)
    assert ct_uid in str(info.value) and pet_uid in str(info.value)
    chosen = read_dicom_series(folder, series_instance_uid=pet_uid)
    assert chosen.unit == "Bq/mL"


def test_only_the_chosen_series_is_decoded(phantom_pet_dicom: dict[str, Path], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A PET/CT study folder read for its PET: the CT's pixel data and other attributes are never read (a
    clinical CT is hundreds of MB), so a damaged CT slice does not stop the PET; read for the CT, the same
    slice is refused by name. The PET read is the same as from its own folder."""
    import sirtkit.imaging.dicom as dicom_module

    folder = tmp_path / "study"
    shutil.copytree(phantom_pet_dicom["ct"], folder / "ct")
    shutil.copytree(phantom_pet_dicom["pet"], folder / "pet")
    victim = sorted((folder / "ct").iterdir())[3]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) - 700])  # the CT slice's pixel data cut short
    decoded: list[str] = []
    original = dicom_module._decode_all

    def spy(ds: pydicom.Dataset, path: Path, *, only: frozenset | None = None) -> None:
        if only is None:
            decoded.append(str(_modality_of(ds)))
        original(ds, path, only=only)

    monkeypatch.setattr(dicom_module, "_decode_all", spy)
    pet = read_dicom_series(folder, modalities=("PT", "NM"))
    assert set(decoded) <= {"PT", "file meta"}  # no CT slice decoded whole
    reference = read_dicom_series(folder / "pet")
    assert np.array_equal(pet.array, reference.array) and np.array_equal(pet.affine, reference.affine)
    with pytest.raises(DicomInputError, match=victim.name):
        read_dicom_series(folder, modalities=("CT",))


def _modality_of(ds: pydicom.Dataset) -> str:
    return str(ds.get("Modality", "file meta"))


def test_truncated_file_refused_by_name(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "trunc"
    shutil.copytree(phantom_pet_dicom["pet"], folder)
    victim = folder / "pet_0005.dcm"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) - 700])  # pixel data cut short
    with pytest.raises(DicomInputError, match=r"pet_0005\.dcm"):
        read_dicom_series(folder)
    victim.write_bytes(data[:300])  # header cut short
    with pytest.raises(DicomInputError, match=r"pet_0005\.dcm"):
        read_dicom_series(folder)


def test_mixed_orientation_refused(phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "orient"
    shutil.copytree(phantom_pet_dicom["ct"], folder)
    victim = folder / "ct_0003.dcm"
    ds = pydicom.dcmread(victim)
    ds.ImageOrientationPatient = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]
    ds.save_as(victim)
    with pytest.raises(DicomInputError, match="orientation"):
        read_dicom_series(folder)


def test_nm_negative_spacing_round_trip(small_phantom: Phantom, tmp_path: Path) -> None:
    """NM multi-frame, GE-style negative SpacingBetweenSlices: the first frame is the top slice.

    The volume read back has its slice axis along −z and, resampled (nearest) onto the phantom grid,
    counts proportional to the activity (rounding to integer counts: < 0.5 count per voxel).
    """
    out = write_phantom_dicom(small_phantom, tmp_path, modality="NM", nm_negative_spacing=True)
    nm = read_dicom_series(out["nm"])
    assert (nm.quantity, nm.unit) == ("counts", "counts")
    assert nm.affine[2, 0] == pytest.approx(-small_phantom.activity.spacing_mm[0])
    assert np.array_equal(nm.array[::-1].astype(bool), small_phantom.activity.array > 0)
    on_grid = resample_to(nm, small_phantom.activity, interpolation="nearest")
    activity = small_phantom.activity.array
    ratio = on_grid.array.max() / activity.max()
    assert_allclose(on_grid.array, activity * ratio, atol=0.5)
    positive = read_dicom_series(write_phantom_dicom(small_phantom, tmp_path / "pos", modality="NM")["nm"])
    assert positive.same_grid(small_phantom.activity)
    assert np.array_equal(positive.array, on_grid.array)


def test_nm_real_world_value_mapping_gives_bq_per_ml(small_phantom: Phantom, tmp_path: Path) -> None:
    out = write_phantom_dicom(small_phantom, tmp_path, modality="NM", nm_real_world_bq_ml=True)
    nm = read_volume(out["nm"])
    assert nm.unit == "Bq/mL"
    expected = small_phantom.activity.array * decay_factor(2.0)
    assert_allclose(nm.array, expected, atol=expected.max() / 30000)
