"""Reading NRRD data: attached gzip data inflated in one pass (`sirtkit._readahead`), now or ahead in a
thread (`prefetch_nrrd`, the image commands' read-ahead). Reference: `nrrd.read` of the same file — the
same array (values, dtype, shape, writeable), the same header, the same errors; never a changed file.
Tolerance: none (exact equality).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import nrrd
import numpy as np
import pytest

from sirtkit import _readahead
from sirtkit.errors import InputError
from sirtkit.imaging import Volume, read_volume, sample_path, write_volume
from sirtkit.imaging.files import discard_prefetched, prefetch_nrrd, read_nrrd_checked


@pytest.fixture(autouse=True)
def _concurrent(monkeypatch: pytest.MonkeyPatch) -> None:
    from sirtkit import _concurrent

    monkeypatch.setattr(_concurrent, "_enabled", True)  # as the CLI's entry point does
    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    discard_prefetched()


def _same_as_pynrrd(path: Path) -> None:
    ours, header = read_nrrd_checked(path)
    ref, ref_header = nrrd.read(str(path), index_order="C")
    assert ours.dtype == ref.dtype and ours.shape == ref.shape and np.array_equal(ours, ref)
    assert ours.flags.writeable
    assert header.keys() == ref_header.keys()


@pytest.mark.parametrize("name", ["patient_1_pet", "patient_1_seg", "patient_2_spect", "patient_2_seg"])
def test_bundled_samples_read_as_pynrrd_reads_them(name: str) -> None:
    path = sample_path(name)
    assert _readahead.inflate_attached_gzip(path) is not None  # the one-pass path is taken
    _same_as_pynrrd(path)
    prefetch_nrrd(path)
    assert _readahead._AHEAD
    _same_as_pynrrd(path)
    assert not _readahead._AHEAD


def _write(path: Path, data: np.ndarray, **options: object) -> Path:
    nrrd.write(str(path), data, index_order="C", **options)
    return path


@pytest.mark.parametrize(("dtype", "options"), [
    (np.float32, {}),
    (np.dtype(">i2"), {}),
    (np.uint16, {"header": {"encoding": "raw"}}),
    (np.float64, {"header": {"encoding": "gzip", "space": "left-posterior-superior"}}),
    (np.int8, {"compression_level": 1}),
])
def test_synthetic_files_read_as_pynrrd_reads_them(tmp_path: Path, dtype: np.dtype, options: dict) -> None:
    rng = np.random.default_rng(3)
    data = (rng.random((3, 5, 7, 2)) * 100).astype(dtype)
    _same_as_pynrrd(_write(tmp_path / "a.nrrd", data, **options))


def test_detached_byte_skipped_and_overlong_data_fall_back_to_pynrrd(tmp_path: Path) -> None:
    """A detached .nhdr, a byte skip, and a gzip stream holding more data than the sizes: pynrrd's own
    result or error, unchanged."""
    data = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    nhdr = _write(tmp_path / "d.nhdr", data, detached_header=True)
    _same_as_pynrrd(nhdr)
    path = tmp_path / "long.nrrd"
    good = _write(tmp_path / "g.nrrd", data)
    head, _, _ = good.read_bytes().partition(b"\n\n")
    path.write_bytes(head + b"\n\n" + gzip.compress(np.arange(80, dtype=np.int16).tobytes()))
    assert _readahead.inflate_attached_gzip(path) is not None
    with pytest.raises(InputError, match="Size of the data does not equal"):
        read_nrrd_checked(path)
    skipped = tmp_path / "skip.nrrd"
    skipped.write_bytes(head.replace(b"encoding: gzip", b"encoding: gzip\nbyte skip: 4") + b"\n\n"
                        + gzip.compress(b"\0\0\0\0" + data.tobytes()))
    assert _readahead.inflate_attached_gzip(skipped) is None  # pynrrd reads it, whatever it makes of it
    with pytest.raises(Exception) as ref:
        nrrd.read(str(skipped), index_order="C")
    with pytest.raises(InputError) as ours:
        read_nrrd_checked(skipped)
    assert str(ref.value) in str(ours.value)


def test_a_file_changed_after_prefetch_is_read_again(tmp_path: Path) -> None:
    """Written again after the read-ahead started (new inode/mtime/size): the new content is read."""
    path = write_volume(Volume.from_spacing(np.zeros((4, 4, 4), np.float32), spacing_mm=(1, 1, 1)), tmp_path / "a.nrrd",
                        compress=True)
    prefetch_nrrd(path)
    os.replace(write_volume(Volume.from_spacing(np.ones((5, 4, 4), np.float32), spacing_mm=(1, 1, 1)),
                            tmp_path / "b.nrrd", compress=True), path)
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
    assert read_volume(good).array.shape == (4, 4, 4)


def test_serial_mode_and_other_files_are_not_prefetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sample_path("patient_1_pet")
    monkeypatch.setenv("SIRTKIT_SERIAL", "1")
    prefetch_nrrd(path)
    assert not _readahead._AHEAD
    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    prefetch_nrrd(tmp_path / "missing.nrrd")
    prefetch_nrrd(tmp_path / "image.nii.gz")
    assert not _readahead._AHEAD


def test_start_for_command_only_in_the_sirtkit_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's first line starts reading its .nrrd arguments only when the process is `sirtkit`,
    the command reads images, and SIRTKIT_SERIAL is not set."""
    from sirtkit import _concurrent

    pet, seg = str(sample_path("patient_1_pet")), str(sample_path("patient_1_seg"))
    monkeypatch.setattr(_concurrent, "reuse_freed_memory", lambda: None)  # not in the test process
    for argv in (["pytest", "dose", pet], ["/x/bin/sirtkit", "cohort", pet], ["sirtkit", "--help"]):
        _readahead.start_for_command(argv)
        assert not _readahead._AHEAD, argv
    monkeypatch.setenv("SIRTKIT_SERIAL", "1")
    _readahead.start_for_command(["sirtkit", "dose", pet])
    assert not _readahead._AHEAD
    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    _readahead.start_for_command(["/venv/bin/sirtkit", "dose", pet, "-s", seg, "--ct=missing.nrrd", "-o", "out"])
    assert len(_readahead._AHEAD) == 2
    discard_prefetched()
