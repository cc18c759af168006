"""Label layers put onto an emission grid once per layer (`labels_onto`), and boolean masks resampled
with integer sub-voxel counts, give exactly the masks of the floating-point rule they replace (the
covered-fraction map of each full-resolution mask, inside when ≥ 0.5 − 1e-9).

Tolerance: none — every voxel of every segment must agree (the paths sample the same sub-voxel points;
counting them in integers decides k/N ≥ 0.5 exactly).
"""

from __future__ import annotations

import numpy as np
import pytest

from sirtkit.errors import GeometryError
from sirtkit.imaging import (
    Volume,
    masks_onto,
    read_segmentation,
    read_volume,
    resample_to,
    sample_path,
    write_volume,
)
from sirtkit.imaging.resample import MASK_FRACTION_THRESHOLD, labels_onto


def _float_rule(mask: Volume, reference: Volume) -> np.ndarray:
    """The mask rule as it was computed before (float fraction map, 1e-9 rounding allowance)."""
    return resample_to(mask, reference, interpolation="fraction").array >= MASK_FRACTION_THRESHOLD - 1e-9


@pytest.mark.parametrize(("image", "seg"), [("patient_1_pet", "patient_1_seg"), ("patient_2_spect", "patient_2_seg")])
def test_bundled_samples_identical_to_per_segment_resampling(image: str, seg: str) -> None:
    """PET sample (512×512×112 MR-grid .seg.nrrd, 2 layers, 8 segments) and MAA SPECT sample (4 layers,
    7 segments, SPECT slices stacked inferior-first): same masks, same names and order, same geometry,
    same volumes (voxel counts) as resampling every full-resolution mask."""
    reference = read_volume(sample_path(image))
    fast = read_segmentation(sample_path(seg), reference=reference)
    native = read_segmentation(sample_path(seg))
    old = masks_onto(native, reference, source=str(sample_path(seg)))
    assert list(fast) == list(old)
    for name in old:
        assert fast[name].same_grid(reference)
        assert fast[name].is_mask and fast[name].frame_of_reference_uid == old[name].frame_of_reference_uid
        assert fast[name].metadata == old[name].metadata
        expected = _float_rule(native[name], reference)
        assert np.array_equal(fast[name].array, expected), name
        assert np.array_equal(old[name].array, expected), name


@pytest.mark.parametrize("seed", range(6))
def test_random_label_maps_on_shifted_and_scaled_grids(seed: int) -> None:
    """Random blobs on a fine grid, target grids coarser/finer, shifted by fractions of a voxel (also exact
    half-voxel alignments, where covered fractions of exactly 0.5 occur)."""
    rng = np.random.default_rng(seed)
    shape = (18, 30, 26)
    labels = np.zeros(shape, np.uint8)
    for value in (1, 2, 3, 7):
        centre = rng.uniform(3, np.array(shape) - 3)
        radius = rng.uniform(1.0, 5.0)
        k, j, i = np.indices(shape)
        labels[((k - centre[0]) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2) < radius**2] = value
    src = Volume.from_spacing(labels, spacing_mm=(1.5, 0.8, 0.9), origin_mm=(0.0, 0.0, 0.0))
    spacing = tuple(float(s) for s in rng.choice([0.4, 1.5, 1.6, 2.7, 3.0, 4.5], size=3))
    origin = tuple(float(o) for o in rng.choice([-0.75, -0.4, 0.0, 0.25, 0.5, 1.1], size=3))
    ref = Volume.from_spacing(np.zeros((12, 14, 13)), spacing_mm=spacing, origin_mm=origin)
    fast = labels_onto(src, [1, 2, 3, 4, 7], ref)
    assert 4 not in fast  # absent values are left out
    for value in (1, 2, 3, 7):
        mask = src.with_array(labels == value)
        expected = _float_rule(mask, ref)
        got = fast.get(value, np.zeros(ref.shape, bool))
        assert np.array_equal(got, expected), (seed, value)
        assert np.array_equal(resample_to(mask, ref).array, expected), (seed, value)


def test_label_map_nrrd_and_flipped_reference(tmp_path) -> None:
    """A plain label-map NRRD read onto a grid stacked the other way round (negative slice direction)."""
    labels = np.zeros((10, 12, 12), np.uint16)
    labels[2:7, 3:9, 4:10] = 5
    labels[4:6, 5:7, 5:7] = 300
    lab = Volume.from_spacing(labels, spacing_mm=(2.0, 1.0, 1.0))
    path = write_volume(lab, tmp_path / "labels.nrrd")
    affine = np.diag([-3.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (18.0, 0.5, 0.5)
    ref = Volume(np.zeros((7, 6, 6)), affine)
    fast = read_segmentation(path, reference=ref, labels={5: "liver", 300: "tumor"})
    native = read_segmentation(path, labels={5: "liver", 300: "tumor"})
    for name in ("liver", "tumor"):
        assert np.array_equal(fast[name].array, _float_rule(native[name], ref)), name


def test_segment_lost_on_the_reference_grid_is_refused(tmp_path) -> None:
    """A one-voxel segment on a fine grid covers less than half of any coarse voxel: refused by name."""
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[5:15, 5:15, 5:15] = 1
    labels[2, 2, 2] = 2
    path = write_volume(Volume.from_spacing(labels, spacing_mm=(1.0, 1.0, 1.0)), tmp_path / "l.nrrd")
    ref = Volume.from_spacing(np.zeros((4, 4, 4)), spacing_mm=(5.0, 5.0, 5.0), origin_mm=(2.0, 2.0, 2.0))
    with pytest.raises(GeometryError, match="'small'"):
        read_segmentation(path, reference=ref, labels={1: "big", 2: "small"})


def test_one_reading_for_both_grids_equals_two() -> None:
    """`read_segmentation_on_grid` (what `load_segmentation` uses): the native masks of
    `read_segmentation` and, on the emission grid, the floating-point rule's masks — from one decoding."""
    from sirtkit.imaging.segmentation import read_segmentation_on_grid

    reference = read_volume(sample_path("patient_1_pet"))
    native, on_grid = read_segmentation_on_grid(sample_path("patient_1_seg"), reference)
    alone = read_segmentation(sample_path("patient_1_seg"))
    assert list(native) == list(alone) == list(on_grid)
    for name, mask in alone.items():
        assert native[name].same_grid(mask) and native[name].metadata == mask.metadata
        assert np.array_equal(native[name].array, mask.array), name
        assert np.array_equal(on_grid[name].array, _float_rule(mask, reference)), name


def test_one_reading_keeps_file_order_across_layers() -> None:
    """SPECT sample: segments alternate between 4 layers; both dicts keep the file's segment order."""
    from sirtkit.imaging.segmentation import read_segmentation_on_grid

    reference = read_volume(sample_path("patient_2_spect"))
    native, on_grid = read_segmentation_on_grid(sample_path("patient_2_seg"), reference)
    alone = read_segmentation(sample_path("patient_2_seg"))
    assert list(native) == list(alone) == list(on_grid)
    for name, mask in alone.items():
        assert np.array_equal(native[name].array, mask.array), name


def _load_both(path, grid, **kwargs):  # type: ignore[no-untyped-def]
    from sirtkit.imaging.segload import load_segmentation

    return load_segmentation(path, grid, **kwargs), load_segmentation(path, grid, keep_native=False, **kwargs)


@pytest.mark.parametrize(("image", "seg"), [("patient_1_pet", "patient_1_seg"), ("patient_2_spect", "patient_2_seg")])
def test_volumes_without_own_grid_masks_equal_counting_the_masks(image: str, seg: str) -> None:
    """`load_segmentation(..., keep_native=False)` (what `sirtkit dose` uses) counts own-grid voxels per label
    value instead of building each own-grid mask: the same dose-grid masks, volumes (exactly: the same
    integer counts × the same voxel volume), warnings and notes as counting the masks."""
    grid = read_volume(sample_path(image))
    full, counted = _load_both(sample_path(seg), grid)
    assert counted.native == {} and list(full.native) == list(full.masks)
    assert counted.volumes == full.volumes
    assert (counted.warnings, counted.notes) == (full.warnings, full.notes)
    assert list(counted.masks) == list(full.masks)
    for name, mask in full.masks.items():
        assert np.array_equal(counted.masks[name].array, mask.array) and counted.masks[name].same_grid(mask), name


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz"])
def test_volumes_without_own_grid_masks_label_maps_with_an_empty_and_a_lost_segment(tmp_path, suffix: str) -> None:
    """Label maps (NRRD, NIfTI): a label named but absent raises as before; a segment too small for the dose
    grid is kept empty and warned (the fallback path), identically with and without own-grid masks."""
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[5:15, 5:15, 5:15] = 1
    labels[2, 2, 2] = 2
    path = write_volume(Volume.from_spacing(labels, spacing_mm=(1.0, 1.1, 0.9)), tmp_path / f"l{suffix}")
    ref = Volume.from_spacing(np.zeros((4, 4, 4)), spacing_mm=(5.0, 5.0, 5.0), origin_mm=(2.0, 2.0, 2.0))
    full, counted = _load_both(path, ref, labels={1: "big", 2: "small"})
    assert counted.volumes == full.volumes and counted.warnings == full.warnings
    assert any("'small'" in w and "no voxel on the dose grid" in w for w in counted.warnings)
    assert np.array_equal(counted.masks["big"].array, full.masks["big"].array)
    fine = Volume.from_spacing(np.zeros((20, 20, 20)), spacing_mm=(1.0, 1.1, 0.9))
    full, counted = _load_both(path, fine, labels={1: "big", 2: "small"})
    assert counted.volumes == full.volumes and counted.warnings == full.warnings == ()
    # one voxel; NIfTI stores the spacing as float32, hence rel 1e-7
    assert counted.volumes[1].own_grid_ml == pytest.approx(1.0 * 1.1 * 0.9 / 1000, rel=1e-7)


@pytest.mark.parametrize(("image", "seg"), [("patient_1_pet", "patient_1_seg"), ("patient_2_spect", "patient_2_seg")])
def test_cropped_own_grid_masks_are_the_same_voxels(image: str, seg: str) -> None:
    """`crop_native=True` (what `sirtkit predict` measures volumes on): every own-grid mask is the uncropped
    mask's box — the same voxels at the same patient positions (affine origin moved by whole voxels), and
    the dose-grid masks are unchanged. Exact (no tolerance beyond floating-point 1e-9 mm on positions)."""
    from sirtkit.imaging.segmentation import read_segmentation_on_grid

    reference = read_volume(sample_path(image))
    full, on_full = read_segmentation_on_grid(sample_path(seg), reference)
    cropped, on_cropped = read_segmentation_on_grid(sample_path(seg), reference, crop_native=True)
    assert list(cropped) == list(full)
    first = next(iter(cropped.values()))
    assert first.array.size < next(iter(full.values())).array.size / 4
    offset = np.rint(next(iter(full.values())).patient_to_index(first.index_to_patient((0.0, 0.0, 0.0)))).astype(int)
    for name, mask in full.items():
        c = cropped[name]
        assert c.same_grid(first) and c.metadata == mask.metadata
        assert np.allclose(mask.index_to_patient(offset.astype(float)), c.affine[:3, 3], atol=1e-9)
        box = tuple(slice(o, o + n) for o, n in zip(offset, c.shape, strict=True))
        assert np.array_equal(mask.array[box], c.array), name
        assert np.count_nonzero(mask.array) == np.count_nonzero(c.array), name
        assert np.array_equal(on_full[name].array, on_cropped[name].array), name
