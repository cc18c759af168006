"""Units helpers: fractions, percentages and the messages a user sees."""

from __future__ import annotations

import pytest

from sirtkit.errors import InputError, UnitsError
from sirtkit.units import fraction_from_percent, gbq_to_mci, mci_to_gbq, require_fraction, require_positive


def test_mci_gbq():
    """Reference: 1 mCi = 37 MBq exactly; TheraSphere IFU 16.5 mCi = 0.61 GBq."""
    assert mci_to_gbq(16.5) == pytest.approx(0.6105, abs=1e-12)
    assert gbq_to_mci(mci_to_gbq(81.0)) == pytest.approx(81.0)


def test_percent_given_as_fraction_is_explained():
    with pytest.raises(UnitsError, match=r"give 0\.12 instead of 12"):
        require_fraction(12, "lung_shunt_fraction")
    with pytest.raises(InputError):
        require_fraction(float("nan"), "x")
    assert fraction_from_percent(12, "lsf") == pytest.approx(0.12)
    with pytest.raises(UnitsError):
        fraction_from_percent(120, "lsf")


def test_require_positive():
    assert require_positive(1.0, "mass_kg") == 1.0
    assert require_positive(0.0, "x", allow_zero=True) == 0.0
    with pytest.raises(UnitsError, match="mass_kg"):
        require_positive(-1.0, "mass_kg")


def test_full_disk_while_writing_is_an_output_error_naming_the_file(tmp_path) -> None:
    """ENOSPC inside an atomic write: OutputWriteError (an InputError, CLI exit 2), target untouched."""
    import errno
    from pathlib import Path

    from sirtkit._files import atomic_write
    from sirtkit.errors import OutputWriteError

    target = Path(tmp_path) / "dose.nrrd"
    target.write_text("old")

    def write(tmp: Path) -> None:
        tmp.write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputWriteError, match=r"cannot write .*dose\.nrrd: No space left on device; the disk is full"):
        atomic_write(target, write)
    assert target.read_text() == "old"
    assert [p.name for p in Path(tmp_path).iterdir()] == ["dose.nrrd"]
    assert issubclass(OutputWriteError, InputError)


def test_unwritable_folder_is_an_output_error(tmp_path) -> None:
    from pathlib import Path

    from sirtkit._files import atomic_write_bytes
    from sirtkit.errors import OutputWriteError

    blocker = Path(tmp_path) / "file"
    blocker.write_text("x")
    with pytest.raises(OutputWriteError, match=r"cannot write .*file/out\.txt"):
        atomic_write_bytes(blocker / "out.txt", b"data")
