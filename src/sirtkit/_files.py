"""Atomic file writing (foundation): nothing half-written, normal permissions.

Every sirtkit writer goes through :func:`atomic_write`: the content is written to a temporary file in
the target's folder and renamed over the target only when complete, so a crash, a full disk or an
interrupted run never leaves a truncated dose map or report behind. ``tempfile.mkstemp`` creates files
readable by their owner only (0600); results are shared in clinics, so the file gets the permissions a
normally created file would (0666 minus the umask).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write(folder / "a.txt", lambda tmp: tmp.write_text("ok")).read_text()
'ok'
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sirtkit.errors import InputError, OutputWriteError

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_stream", "default_mode", "output_error"]

# What to do, by errno, when an output file cannot be written.
_ADVICE = {
    errno.ENOSPC: "the disk is full: free space or write to another folder",
    errno.EDQUOT: "the disk quota is used up: free space or write to another folder",
    errno.EACCES: "no permission to write there: choose a folder you can write to",
    errno.EPERM: "no permission to write there: choose a folder you can write to",
    errno.EROFS: "the file system is read-only: write to another folder",
}


def default_mode(directory: bool = False) -> int:
    """Permissions a normally created file (0666) or folder (0777) gets under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None], *, suffix: str = "") -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` (same ``suffix``), then rename it to ``path``.

    The folder is created if needed; the temporary file is removed if ``write`` fails.

    Raises
    ------
    OutputWriteError
        The file cannot be written (full disk, no permission, read-only file system); the message names
        the file and what to do. The target is left as it was.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
        os.close(fd)
    except OSError as err:
        raise output_error(target, err) from err
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, default_mode())
        os.replace(tmp, target)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise output_error(target, err) from err
        raise
    return target


def output_error(target: Path, err: OSError) -> OutputWriteError:
    """An :class:`OutputWriteError` for ``err`` raised while writing ``target``, with advice by errno.

    >>> print(output_error(Path("out/dose.nrrd"), OSError(errno.ENOSPC, "No space left on device")))
    cannot write out/dose.nrrd: No space left on device; the disk is full: free space or write to another folder. Nothing was written.
    """
    advice = _ADVICE.get(err.errno or -1, "check the folder and the disk")
    return OutputWriteError(f"cannot write {target}: {err.strerror or err}; {advice}. Nothing was written.")


def atomic_write_stream(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(handle)`` on a binary handle of a temporary file beside ``path``, then rename it to
    ``path`` — for export writers that take a file path inside a folder the caller owns (RTDOSE, DVH and
    metrics CSV): unlike :func:`atomic_write`, the folder must exist.

    Raises
    ------
    InputError
        The folder does not exist (the message says to create it).
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(f"output folder {target.parent} does not exist: create it first")

    def write_file(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            write(handle)

    return atomic_write(target, write_file)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""

    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    return atomic_write(path, write)
