"""RTDOSE export and DVH/metrics CSV (DICOM.md §1 tests: write → read → same geometry, dose within
DoseGridScaling/2, FoR from the reference, SimpleITK reads the grid)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from sirtkit.dosimetry import (
    compute_dvh,
    dose_metrics,
    read_rtdose,
    write_dvh_csv,
    write_metrics_csv,
    write_rtdose,
)
from sirtkit.errors import DicomInputError, GeometryError, UnitsError
from sirtkit.imaging import Volume


def _dose_volume(direction: np.ndarray | None = None) -> Volume:
    rng = np.random.default_rng(7)
    arr = (rng.random((5, 6, 7)) * 80.0).astype(np.float32)
    arr[2, 3, 4] = 1200.0  # Y-90 tumour voxel above the 429 Gy limit of a fixed 1e-7 scaling
    return Volume.from_spacing(
        arr, (3.0, 2.5, 2.0), origin_mm=(-100.0, -50.5, 20.25), direction=direction,
        quantity="dose", unit="Gy", frame_of_reference_uid="1.2.826.0.1.3680043.8.498.1",
    )


def _reference() -> pydicom.Dataset:
    ref = pydicom.Dataset()
    ref.PatientName = "Test^Patient"
    ref.PatientID = "P001"
    ref.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    ref.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1"
    ref.StudyDate = "20260301"
    return ref


def test_rtdose_round_trip(tmp_path: Path) -> None:
    dose = _dose_volume()
    path = write_rtdose(dose, tmp_path / "dose.dcm", reference=_reference())
    ds = pydicom.dcmread(path)
    assert ds.Modality == "RTDOSE" and ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.481.2"
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (32, 32, 31, 0)
    assert ds.DoseUnits == "GY" and ds.DoseType == "PHYSICAL" and ds.DoseSummationType == "PLAN_OVERVIEW"
    assert "ReferencedRTPlanSequence" not in ds  # PLAN_OVERVIEW needs none (PS3.3 C.8.8.3)
    assert [float(v) for v in ds.PixelSpacing] == [2.5, 2.0]  # [row spacing dy, column spacing dx]
    assert [float(v) for v in ds.GridFrameOffsetVector] == [0.0, 3.0, 6.0, 9.0, 12.0]
    assert ds.FrameIncrementPointer == pydicom.tag.Tag(0x3004, 0x000C)
    assert ds.PatientID == "P001" and ds.StudyInstanceUID == "1.2.826.0.1.3680043.8.498.2"
    assert ds.FrameOfReferenceUID == "1.2.826.0.1.3680043.8.498.1"
    assert ds.SeriesInstanceUID != ds.StudyInstanceUID
    scaling = float(ds.DoseGridScaling)
    assert scaling * (2**32 - 1) >= 1200.0
    back = read_rtdose(path)
    np.testing.assert_allclose(back.affine, dose.affine, atol=1e-6)
    assert back.frame_of_reference_uid == dose.frame_of_reference_uid
    assert float(np.abs(back.array - dose.array.astype(np.float64)).max()) <= scaling / 2 * (1 + 1e-9)
    assert float(back.array.max()) == pytest.approx(1200.0, abs=scaling)


def test_rtdose_reads_in_simpleitk(tmp_path: Path) -> None:
    """SimpleITK (GDCM) sees the same grid: spacing (dx, dy, dz), origin, size (x, y, z)."""
    dose = _dose_volume()
    path = write_rtdose(dose, tmp_path / "dose.dcm")
    img = sitk.ReadImage(str(path))
    assert img.GetSize() == (7, 6, 5)
    np.testing.assert_allclose(img.GetSpacing(), (2.0, 2.5, 3.0), atol=1e-6)
    np.testing.assert_allclose(img.GetOrigin(), dose.origin_mm, atol=1e-6)
    values = sitk.GetArrayFromImage(img).astype(np.float64)
    scaling = float(pydicom.dcmread(path).DoseGridScaling)
    if values.max() > 2000.0:  # raw stored values: GDCM did not apply DoseGridScaling
        values = values * scaling
    np.testing.assert_allclose(values, dose.array, atol=scaling)


def test_rtdose_reversed_slices_round_trip(tmp_path: Path) -> None:
    """Slices stacked along −z (GE NM style): written axial with increasing offsets from 0, values unchanged
    at every voxel centre (a lossless flip)."""
    direction = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]).T
    dose = _dose_volume(direction)
    path = write_rtdose(dose, tmp_path / "rev.dcm")
    ds = pydicom.dcmread(path)
    assert [float(v) for v in ds.GridFrameOffsetVector] == [0.0, 3.0, 6.0, 9.0, 12.0]
    assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    back = read_rtdose(path)
    scaling = float(ds.DoseGridScaling)
    k, j, i = np.meshgrid(*(np.arange(n) for n in dose.shape), indexing="ij")
    centres = dose.index_to_patient(np.stack([k.ravel(), j.ravel(), i.ravel()], axis=1))
    idx = np.rint(back.patient_to_index(centres)).astype(int)
    np.testing.assert_allclose(back.index_to_patient(idx), centres, atol=1e-6)
    np.testing.assert_allclose(back.array[idx[:, 0], idx[:, 1], idx[:, 2]], dose.array.ravel(), atol=scaling)


def test_rtdose_refusals(tmp_path: Path) -> None:
    dose = _dose_volume()
    neg = dose.with_array(np.where(dose.array > 70, -1.0, dose.array))
    with pytest.raises(UnitsError, match="negative"):
        write_rtdose(neg, tmp_path / "neg.dcm")
    with pytest.raises(UnitsError):
        write_rtdose(dose.with_array(np.full(dose.shape, np.nan)), tmp_path / "nan.dcm")
    ref = _reference()
    ref.FrameOfReferenceUID = "1.2.3"
    with pytest.raises(GeometryError, match="frame of reference"):
        write_rtdose(dose, tmp_path / "for.dcm", reference=ref)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_rtdose_all_zero_and_effective(tmp_path: Path) -> None:
    dose = _dose_volume()
    zero = dose.with_array(np.zeros(dose.shape, np.float32))
    assert float(read_rtdose(write_rtdose(zero, tmp_path / "z.dcm")).array.max()) == 0.0
    bed = dose.with_array(dose.array, quantity="bed")
    path = write_rtdose(bed, tmp_path / "bed.dcm", dose_type="EFFECTIVE", dose_comment="BED, alpha/beta 10 Gy")
    ds = pydicom.dcmread(path)
    assert ds.DoseType == "EFFECTIVE" and ds.DoseComment == "BED, alpha/beta 10 Gy"
    assert read_rtdose(path).quantity == "bed"


def test_dvh_and_metrics_csv(tmp_path: Path) -> None:
    dose = Volume.from_spacing(np.arange(10, 101, 10, dtype=np.float32).reshape(1, 1, 10), (1, 1, 1), quantity="dose", unit="Gy")
    mask = dose.with_array(np.ones(dose.shape, bool), quantity="mask", unit="1")
    dvh = compute_dvh(dose, mask, name="tumour")
    path = write_dvh_csv({"tumour": dvh}, tmp_path / "dvh.csv")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0] == {"voi": "tumour", "dose_gy": "0.0000", "volume_percent": "100.000000", "mass_weighted": "0"}
    assert len(rows) == len(dvh.dose_bins_gy)
    m = dose_metrics(dose, mask, name="tumour", v_thresholds_gy=(50, 100))
    mpath = write_metrics_csv([m], tmp_path / "metrics.csv")
    with mpath.open(encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert float(row["d70_gy"]) == 40.0 and float(row["v50_percent"]) == 60.0 and float(row["mean_gy"]) == 55.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dvh.csv", "metrics.csv"]


# --- issue 8 item 15: a truncated or damaged RTDOSE is the user's file (DicomInputError, exit 2) --------


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9, 0.99])
def test_truncated_rtdose_is_an_input_error_naming_the_file(tmp_path: Path, fraction: float) -> None:
    data = write_rtdose(_dose_volume(), tmp_path / "dose.dcm", reference=_reference()).read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(DicomInputError, match=r"cut\.dcm"):
        read_rtdose(cut)


@pytest.mark.parametrize(("keyword", "value"), [
    ("ImageOrientationPatient", None), ("ImageOrientationPatient", [1, 0, 0, 0, 1]),
    ("ImageOrientationPatient", [1, 0, 0, 1, 0, 0]), ("PixelSpacing", None), ("PixelSpacing", [0, 2]),
    ("GridFrameOffsetVector", [0, 3, 6, 9, float("nan")]), ("DoseGridScaling", float("inf")),
    ("ImagePositionPatient", None), ("Rows", None),
])
def test_rtdose_with_missing_or_bad_geometry_is_an_input_error(
    tmp_path: Path, keyword: str, value: object
) -> None:
    path = write_rtdose(_dose_volume(), tmp_path / "dose.dcm", reference=_reference())
    ds = pydicom.dcmread(path)
    if value is None:
        delattr(ds, keyword)
    else:
        setattr(ds, keyword, value)
    bad = tmp_path / "bad.dcm"
    ds.save_as(bad)
    with pytest.raises(DicomInputError, match=r"bad\.dcm"):
        read_rtdose(bad)
