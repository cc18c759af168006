"""NRRD/NIfTI reading and writing, and the bundled sample images."""

from __future__ import annotations

import re
from pathlib import Path

import nrrd
import numpy as np
import pytest
from numpy.testing import assert_allclose

from sirtkit.errors import GeometryError, InputError
from sirtkit.imaging import Volume, read_volume, sample_path, write_volume


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.nrrd"
    with pytest.raises(InputError, match=r"nope\.nrrd"):
        read_volume(missing)


def test_unknown_suffix_refused_on_write(tmp_path: Path) -> None:
    vol = Volume.from_spacing(np.zeros((2, 2, 2)), spacing_mm=(1, 1, 1))
    with pytest.raises(InputError, match=r"\.mha"):
        write_volume(vol, tmp_path / "x.mha")


def test_ras_nrrd_converted_to_lps(tmp_path: Path) -> None:
    """A RAS NRRD: x and y of directions and origin change sign (NRRD spec, 'space')."""
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)  # C order (k, j, i)
    header = {
        "space": "right-anterior-superior",
        "space directions": np.diag([1.5, 2.0, 3.0]),
        "space origin": np.array([10.0, 20.0, 30.0]),
    }
    path = tmp_path / "ras.nrrd"
    nrrd.write(str(path), data, header, index_order="C")
    vol = read_volume(path, quantity="dose", unit="Gy")
    assert_allclose(vol.origin_mm, (-10.0, -20.0, 30.0))
    assert_allclose(vol.index_to_patient((1, 2, 3)), (-10.0 - 4.5, -20.0 - 4.0, 33.0))
    assert vol.array[1, 2, 3] == data[1, 2, 3]


def test_non_anatomical_space_refused(tmp_path: Path) -> None:
    header = {"space": "scanner-xyz", "space directions": np.eye(3), "space origin": np.zeros(3)}
    path = tmp_path / "scanner.nrrd"
    nrrd.write(str(path), np.zeros((2, 2, 2)), header, index_order="C")
    with pytest.raises(GeometryError, match="scanner-xyz"):
        read_volume(path)


def test_no_half_written_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that dies half-way leaves neither the target nor its temporary file behind."""
    import nibabel  # sirtkit.imaging.files imports it when a NIfTI is written

    def broken_save(image: object, filename: str) -> None:
        Path(filename).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(nibabel, "save", broken_save)
    vol = Volume.from_spacing(np.zeros((2, 2, 2)), spacing_mm=(1, 1, 1))
    with pytest.raises(InputError, match=r"cannot write .*bad\.nii\.gz: disk full"):
        write_volume(vol, tmp_path / "bad.nii.gz")
    assert list(tmp_path.iterdir()) == []


def test_sample_pet_is_plausible() -> None:
    """patient_1 PET: 256×256×89, 2.344×2.344×2.78 mm, Bq/mL; ~1400 MBq administered (PROVENANCE.md).

    Reading speed is measured by benchmarks/bench_dose_workflow.py, not asserted here.
    """
    pet = read_volume(sample_path("patient_1_pet"), quantity="activity_concentration", unit="Bq/mL")
    assert pet.shape == (89, 256, 256)
    assert_allclose(pet.spacing_mm, (2.78, 2.34375, 2.34375), rtol=1e-6)
    total_mbq = pet.total() / 1e6
    assert 300 < total_mbq < 3000


def test_sample_spect_has_negative_z() -> None:
    spect = read_volume(sample_path("patient_2_spect"), quantity="counts", unit="counts")
    assert spect.shape == (160, 128, 128)
    assert_allclose(spect.direction[:, 0], (0.0, 0.0, -1.0))
    assert_allclose(spect.spacing_mm, (2.5, 4.418156, 4.418156), rtol=1e-6)


def test_unknown_sample_refused() -> None:
    with pytest.raises(InputError, match="patient_1_pet"):
        sample_path("patient_3")  # type: ignore[arg-type]


def test_empty_nrrd_is_a_clear_input_error(tmp_path):
    """An empty file made pynrrd raise StopIteration, which reached users as an internal error."""
    from sirtkit.errors import InputError
    from sirtkit.imaging import read_segmentation, read_volume

    empty = tmp_path / "empty.nrrd"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_volume(empty)
    with pytest.raises(InputError, match="empty file"):
        read_segmentation(empty)


# --- issue 8 item 15: a truncated or damaged file is the user's (InputError naming it), not a bug -----


def _small_volume() -> Volume:
    rng = np.random.default_rng(0)
    return Volume.from_spacing(rng.random((8, 16, 16)) * 1000.0, spacing_mm=(4.0, 4.0, 4.0),
                               quantity="activity_concentration", unit="Bq/mL")


@pytest.mark.parametrize("name", ["a.nrrd", "raw.nrrd", "a.nii.gz", "a.nii"])
@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
def test_truncated_image_file_is_an_input_error_naming_it(tmp_path: Path, name: str, fraction: float) -> None:
    source = write_volume(_small_volume(), tmp_path / name, compress=name != "raw.nrrd")
    cut = tmp_path / f"cut_{name}"
    data = source.read_bytes()
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(InputError, match=re.escape(f"cut_{name}")):
        read_volume(cut)


def test_damaged_gzip_stream_in_nrrd_is_an_input_error(tmp_path: Path) -> None:
    """Flipped bytes inside the deflate stream (zlib.error before the fix)."""
    source = write_volume(_small_volume(), tmp_path / "a.nrrd")
    data = bytearray(source.read_bytes())
    body = data.index(b"\n\n") + 2
    for k in range(body + 20, min(len(data) - 8, body + 60)):
        data[k] ^= 0xFF
    bad = tmp_path / "bad.nrrd"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"bad\.nrrd"):
        read_volume(bad)


@pytest.mark.parametrize(("extra", "text"), [
    ("data file: /dev/zero", "same folder"),          # found by the input fuzzer: read until memory ran out
    ("data file: ../elsewhere.raw", "same folder"),
    ("data file: LIST", "not supported"),
])
def test_nrrd_detached_data_must_be_a_file_beside_the_header(tmp_path: Path, extra: str, text: str) -> None:
    source = write_volume(_small_volume(), tmp_path / "a.nrrd", compress=False)
    data = source.read_bytes()
    split = data.index(b"\n\n")
    bad = tmp_path / "bad.nrrd"
    bad.write_bytes(data[:split] + f"\n{extra}".encode() + data[split:])
    with pytest.raises(InputError, match=rf"bad\.nrrd.*{text}"):
        read_volume(bad)


def test_nrrd_claiming_too_many_voxels_is_refused_before_reading(tmp_path: Path) -> None:
    source = write_volume(_small_volume(), tmp_path / "a.nrrd", compress=False)
    bad = tmp_path / "huge.nrrd"
    bad.write_bytes(source.read_bytes().replace(b"sizes: 16 16 8", b"sizes: 100000 100000 8"))
    with pytest.raises(InputError, match=r"huge\.nrrd: NRRD sizes"):
        read_volume(bad)
