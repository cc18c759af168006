"""Reading NRRD files ahead (`sirtkit.imaging.files.prefetch_nrrd`): the same arrays and headers, the same
errors, and never a stale file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sirtkit.errors import InputError
from sirtkit.imaging import Volume, files, read_volume, sample_path, write_volume
from sirtkit.imaging.files import discard_prefetched, prefetch_nrrd, read_nrrd_checked


@pytest.fixture(autouse=True)
def _concurrent(monkeypatch: pytest.MonkeyPatch) -> None:
    from sirtkit import _concurrent

    monkeypatch.setattr(_concurrent, "_enabled", True)  # as the CLI's entry point does
    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    discard_prefetched()


def test_prefetched_read_equals_a_direct_read() -> None:
    """The bundled PET sample: identical array (dtype, shape, values) and header; the entry is used once."""
    path = sample_path("patient_1_pet")
    direct, header = read_nrrd_checked(path)
    prefetch_nrrd(path)
    assert files._PREFETCHED
    ahead, header_ahead = read_nrrd_checked(path)
    assert not files._PREFETCHED
    assert ahead.dtype == direct.dtype and np.array_equal(ahead, direct)
    assert header_ahead.keys() == header.keys()
    assert read_volume(path).array.shape == direct.shape


def test_a_file_changed_after_prefetch_is_read_again(tmp_path: Path) -> None:
    """Written again after the read-ahead started (new inode/mtime/size): the new content is read."""
    path = write_volume(Volume.from_spacing(np.zeros((4, 4, 4), np.float32), spacing_mm=(1, 1, 1)), tmp_path / "a.nrrd")
    prefetch_nrrd(path)
    os.replace(write_volume(Volume.from_spacing(np.ones((5, 4, 4), np.float32), spacing_mm=(1, 1, 1)),
                            tmp_path / "b.nrrd"), path)
    data, _ = read_nrrd_checked(path)
    assert data.shape == (5, 4, 4) and float(data.sum()) == 80.0


def test_errors_of_a_prefetched_file_are_worded_as_without(tmp_path: Path) -> None:
    """A truncated NRRD: the same InputError text whether it was read ahead or not."""
    good = write_volume(Volume.from_spacing(np.arange(64, dtype=np.float32).reshape(4, 4, 4), spacing_mm=(1, 1, 1)),
                        tmp_path / "good.nrrd", compress=True)
    bad = tmp_path / "bad.nrrd"
    bad.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(InputError) as direct:
        read_nrrd_checked(bad, "NRRD segmentation")
    prefetch_nrrd(bad)
    with pytest.raises(InputError) as ahead:
        read_nrrd_checked(bad, "NRRD segmentation")
    assert str(ahead.value) == str(direct.value)
    assert "cannot read NRRD segmentation" in str(ahead.value)


def test_serial_mode_and_other_files_are_not_prefetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sample_path("patient_1_pet")
    monkeypatch.setenv("SIRTKIT_SERIAL", "1")
    prefetch_nrrd(path)
    assert not files._PREFETCHED
    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    prefetch_nrrd(tmp_path / "missing.nrrd")
    prefetch_nrrd(tmp_path / "image.nii.gz")
    assert not files._PREFETCHED
