"""Segmentation readers and writers: Slicer .seg.nrrd samples, label maps, RTSTRUCT, DICOM SEG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from sirtkit.errors import GeometryError, InputError
from sirtkit.imaging import (
    Volume,
    masks_to_labelmap,
    read_dicom_series,
    read_segmentation,
    read_volume,
    sample_path,
    standard_voi_name,
    write_dicom_seg,
    write_volume,
)
from sirtkit.imaging.phantom import Phantom

PATIENT_1_NAMES = ["Liver", "Tumor 1", "Tumor 2", "Tumor 3", "Tumor 4", "Tumor 5", "Tumor 6", "Normal Tissue"]
PATIENT_2_NAMES = ["gallbladder", "liver", "Tumor 1", "Tumor 2", "perfused volume", "whole liver normal",
                   "perfused normal"]


def _volumes_ml(masks: dict[str, Volume]) -> dict[str, float]:
    return {name: float(m.array.sum() * m.voxel_volume_ml) for name, m in masks.items()}


@pytest.mark.slow
def test_sample_patient_1_segments_on_pet_grid() -> None:
    """Patient 1: Liver, Tumor 1–6, Normal Tissue on the MRI grid; liver ≈ 1.5 L (plausible 1–3 L).

    Resampled onto the PET grid (≥ 0.5 covered-fraction rule) the volumes agree within 2 % for the
    large segments; Normal Tissue + tumours ≈ liver.
    """
    masks = read_segmentation(sample_path("patient_1_seg"))
    assert list(masks) == PATIENT_1_NAMES
    assert masks["Liver"].shape == (112, 512, 512)
    native = _volumes_ml(masks)
    print("patient 1 native (mL):", {k: round(v, 1) for k, v in native.items()})
    assert 1000 < native["Liver"] < 3000
    pet = read_volume(sample_path("patient_1_pet"), quantity="activity_concentration", unit="Bq/mL")
    on_pet = read_segmentation(sample_path("patient_1_seg"), reference=pet)
    resampled = _volumes_ml(on_pet)
    print("patient 1 on PET grid (mL):", {k: round(v, 1) for k, v in resampled.items()})
    for name in ("Liver", "Tumor 2", "Normal Tissue"):
        assert resampled[name] == pytest.approx(native[name], rel=0.02)
        assert on_pet[name].same_grid(pet)
    activity_mbq = {k: float(pet.array[m.array].sum() * pet.voxel_volume_ml / 1e6) for k, m in on_pet.items()}
    print("patient 1 activity (MBq):", {k: round(v, 1) for k, v in activity_mbq.items()})
    assert activity_mbq["Liver"] > 0.5 * pet.total() / 1e6
    assert {standard_voi_name(n) for n in masks} == {"liver", "tumor", "normal_liver"}


@pytest.mark.slow
def test_sample_patient_2_segments_on_spect_grid() -> None:
    """Patient 2: 4 layers on the CT grid; liver ≈ 1.7 L; resampled onto the SPECT grid (z = −1)."""
    spect = read_volume(sample_path("patient_2_spect"), quantity="counts", unit="counts")
    masks = read_segmentation(sample_path("patient_2_seg"), reference=spect)
    assert list(masks) == PATIENT_2_NAMES
    volumes = _volumes_ml(masks)
    print("patient 2 on SPECT grid (mL):", {k: round(v, 1) for k, v in volumes.items()})
    assert 1000 < volumes["liver"] < 3000
    assert volumes["perfused normal"] < volumes["perfused volume"] < volumes["liver"]
    assert masks["liver"].same_grid(spect)
    roles = {n: standard_voi_name(n) for n in masks}
    assert roles == {"gallbladder": "gallbladder", "liver": "liver", "Tumor 1": "tumor", "Tumor 2": "tumor",
                     "perfused volume": "perfused", "whole liver normal": "normal_liver",
                     "perfused normal": "perfused_normal_liver"}


def test_labelmap_nifti_with_names(tmp_path: Path) -> None:
    arr = np.zeros((4, 5, 6), np.uint8)
    arr[1:3, 1:4, 1:5] = 1
    arr[2, 2, 2] = 2
    lab = Volume.from_spacing(arr, (2.0, 1.0, 1.0))
    path = write_volume(lab, tmp_path / "labels.nii.gz")
    masks = read_segmentation(path, labels={1: "liver", 2: "tumor"})
    assert masks["liver"].array.sum() == 23 and masks["tumor"].array.sum() == 1
    unnamed = read_segmentation(path)
    assert sorted(unnamed) == ["label_1", "label_2"]
    with pytest.raises(InputError, match="lung"):
        read_segmentation(path, labels={1: "liver", 3: "lung"})


def test_masks_to_labelmap_round_trip(small_phantom: Phantom) -> None:
    masks = {k: small_phantom.masks[k] for k in ("liver", "tumor_1", "tumor_2")}
    labelmap, names = masks_to_labelmap(masks)
    assert names == {1: "liver", 2: "tumor_1", 3: "tumor_2"}
    assert np.array_equal(labelmap.array > 0, masks["liver"].array)
    assert np.array_equal(labelmap.array == 2, masks["tumor_1"].array)
    with pytest.raises(GeometryError, match="tumor_1"):
        masks_to_labelmap({"tumor_1": masks["tumor_1"], "liver": masks["liver"]})


@pytest.mark.parametrize(
    ("text", "role"),
    [("Tumor 1", "tumor"), ("TUMOUR_12", "tumor"), ("Liver", "liver"), ("Normal Tissue", "normal_liver"),
     ("Lung_Left", "lung"), ("lungs", "lung"), ("perfused volume", "perfused"),
     ("perfused normal", "perfused_normal_liver"), ("External", "body"), ("spleen", None)],
)
def test_standard_voi_name(text: str, role: str | None) -> None:
    assert standard_voi_name(text) == role


# ------------------------------------------------------------------------------------------ RTSTRUCT
def _rtstruct(path: Path, frame_uid: str, rois: dict[str, list[np.ndarray]]) -> Path:
    ds = pydicom.Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.481.3")
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTSTRUCT"
    ref = pydicom.Dataset()
    ref.FrameOfReferenceUID = frame_uid
    ds.ReferencedFrameOfReferenceSequence = [ref]
    ds.StructureSetROISequence = []
    ds.ROIContourSequence = []
    for number, (name, contours) in enumerate(rois.items(), start=1):
        item = pydicom.Dataset()
        item.ROINumber = number
        item.ROIName = name
        item.ReferencedFrameOfReferenceUID = frame_uid
        ds.StructureSetROISequence.append(item)
        roi = pydicom.Dataset()
        roi.ReferencedROINumber = number
        roi.ContourSequence = []
        for pts in contours:
            c = pydicom.Dataset()
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = len(pts)
            c.ContourData = [f"{v:.4f}" for v in pts.ravel()]
            roi.ContourSequence.append(c)
        ds.ROIContourSequence.append(roi)
    ds.save_as(path, enforce_file_format=True)
    return path


def _circle(radius: float, z: float, n: int = 720) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([radius * np.cos(t), radius * np.sin(t), np.full(n, z)], axis=1)


def test_rtstruct_square_circle_and_hole(tmp_path: Path) -> None:
    """Rasterisation rule: voxel centre inside the polygon, even-odd for nested contours.

    References (analytic): square 20 × 20 mm with edges between voxel centres → exactly 400 mm²
    (20 × 20 centres of a 1 mm grid); circle r = 15 mm → π·15² = 706.86 mm² (lattice-point count
    within 1 % on a 0.5 mm grid); square with a centred r = 5 mm hole → 400 − 78.54 mm² within 3 %.
    """
    frame = generate_uid()
    ref = Volume.from_spacing(np.zeros((3, 160, 160), np.float32), (2.0, 0.5, 0.5), (-39.75, -39.75, -2.0),
                              frame_of_reference_uid=frame)
    square = np.array([[-10.1, -10.1, 0.0], [9.9, -10.1, 0.0], [9.9, 9.9, 0.0], [-10.1, 9.9, 0.0]])
    path = _rtstruct(tmp_path / "rs.dcm", frame, {
        "Square": [square],
        "Circle": [_circle(15.0, 0.0)],
        "Square with hole": [square + np.array([0, 0, 2.0]), _circle(5.0, 2.0)],
    })
    masks = read_segmentation(path, reference=ref, images=[ref])  # the RTSTRUCT names no series: ref is the CT
    pixel_mm2 = 0.25
    assert masks["Square"].array.sum() * pixel_mm2 == pytest.approx(400.0, abs=1e-9)
    assert masks["Square"].array[1].sum() == masks["Square"].array.sum()  # on slice z = 0 only
    assert masks["Circle"].array.sum() * pixel_mm2 == pytest.approx(math.pi * 15.0**2, rel=0.01)
    holed = masks["Square with hole"].array
    assert holed[2].sum() * pixel_mm2 == pytest.approx(400.0 - math.pi * 25.0, rel=0.03)
    centre = ref.patient_to_index((0.0, 0.0, 2.0)).round().astype(int)
    assert not holed[tuple(centre)]
    with pytest.raises(InputError, match="--ct"):
        read_segmentation(path)
    other = Volume(ref.array, ref.affine, frame_of_reference_uid="1.2.3.4")
    with pytest.raises(InputError, match="frame of reference"):
        read_segmentation(path, reference=other, images=[other])


# ------------------------------------------------------------------------------------------ DICOM SEG
def test_dicom_seg_round_trip(small_phantom: Phantom, phantom_pet_dicom: dict[str, Path], tmp_path: Path) -> None:
    """highdicom BINARY SEG: write → read gives the same voxels, names and Liver/Neoplasm codes."""
    ct = read_dicom_series(phantom_pet_dicom["ct"])
    assert ct.same_grid(small_phantom.ct)
    sources = [pydicom.dcmread(f) for f in ct.metadata["source_files"]]
    masks = {"Liver": small_phantom.masks["liver"], "Tumor 1": small_phantom.masks["tumor_1"],
             "Lung": small_phantom.masks["lung"]}
    path = write_dicom_seg(masks, sources, tmp_path / "seg.dcm")
    back = read_segmentation(path)
    assert list(back) == list(masks)
    for name, mask in masks.items():
        assert back[name].same_grid(mask)
        assert np.array_equal(back[name].array, mask.array)
        assert back[name].frame_of_reference_uid == ct.frame_of_reference_uid
    ds = pydicom.dcmread(path)
    codes = [str(s.SegmentedPropertyTypeCodeSequence[0].CodeValue) for s in ds.SegmentSequence]
    assert codes == ["10200004", "108369006", "39607008"]
    on_ct = read_segmentation(path, reference=ct)
    assert np.array_equal(on_ct["Liver"].array, masks["Liver"].array)
