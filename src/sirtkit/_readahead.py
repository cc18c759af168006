"""Inflate gzip-encoded NRRD data, now or ahead in a background thread (standard library only).

An NRRD file with ``encoding: gzip`` and its data attached after the header is one gzip member after the
first blank line. :func:`inflate_attached_gzip` inflates it in one pass into one buffer (pynrrd inflates in
1 MB pieces into a growing ``bytearray`` and copies it once more when it slices off the byte skip: two
extra copies of every image). :func:`sirtkit.imaging.files.read_nrrd_checked` uses it and hands the inflated
bytes to pynrrd as raw data, so that pynrrd still parses the header and builds the array.

:func:`start` does the same in a daemon thread (zlib releases the GIL), for the image commands, which start
reading their inputs before they import anything else (issue 9); :func:`take` hands the result over. This
module imports only the standard library so that the ``sirtkit`` command can start reading on its first
line, before NumPy is loaded.

Every path that is not plainly one attached gzip member — other encodings, a detached ``data file``, line
or byte skips, a header without a blank line, a damaged or truncated stream — returns ``None``, and the
caller reads the file with pynrrd as before (with pynrrd's own error for a damaged file).
"""

from __future__ import annotations

import os
import threading
import zlib
from concurrent.futures import Future
from pathlib import Path

__all__ = ["IMAGE_COMMANDS", "WORKER_PRELOAD", "command_paths", "discard", "file_key", "inflate_attached_gzip", "start", "start_for_command",
           "take"]

# A header longer than this is not a plain NRRD header (Slicer segmentations carry a few kB of key=value
# lines); the reader then falls back to pynrrd.
_MAX_HEADER_BYTES = 1 << 20
_GZIP_WBITS = zlib.MAX_WBITS | 16  # gzip wrapper only, as pynrrd's decompressobj
_SKIP_FIELDS = ("line skip", "lineskip", "byte skip", "byteskip")
_DETACHED_FIELDS = ("data file", "datafile")

Key = tuple[str, int, int, int]
Inflated = tuple[int, bytes]  # (offset of the data in the file, the inflated data)

# The commands that read images (and write dose maps and figures): their process gets the worker, the
# allocator settings and the read-ahead of .nrrd files named on the command line.
IMAGE_COMMANDS = ("dose", "predict", "compare", "demo")
# What the image commands' worker process (sirtkit._concurrent.start_worker) imports while the command reads
# its inputs: it draws the report figures (matplotlib, ≈ 0.45 s to import) while the command writes its data
# files. (It also ran the VSV convolution in one version, so that the command never imported SciPy's FFT:
# sending the activity and the dose through the pipe and the task's fresh FFT buffers cost more than the
# import saved — dose 3.2 vs 2.6 s, interleaved runs.)
WORKER_PRELOAD = ("numpy", "matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg",
                  "sirtkit.report.plots_dose", "sirtkit.report.render")

_AHEAD: dict[Key, Future[Inflated | None]] = {}
_LOCK = threading.Lock()


def file_key(path: Path) -> Key | None:
    """(resolved path, inode, size, modification time): a file changed since is another key."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)


# Bytes per value of the NRRD type names (NRRD format specification, "type"), for the size hint only.
_TYPE_BYTES = {
    "signed char": 1, "int8": 1, "int8_t": 1, "uchar": 1, "unsigned char": 1, "uint8": 1, "uint8_t": 1,
    "short": 2, "short int": 2, "signed short": 2, "signed short int": 2, "int16": 2, "int16_t": 2,
    "ushort": 2, "unsigned short": 2, "unsigned short int": 2, "uint16": 2, "uint16_t": 2,
    "int": 4, "signed int": 4, "int32": 4, "int32_t": 4, "uint": 4, "unsigned int": 4, "uint32": 4,
    "uint32_t": 4, "float": 4, "longlong": 8, "long long": 8, "long long int": 8, "signed long long": 8,
    "signed long long int": 8, "int64": 8, "int64_t": 8, "ulonglong": 8, "unsigned long long": 8,
    "unsigned long long int": 8, "uint64": 8, "uint64_t": 8, "double": 8,
}
_DEFAULT_BUFFER = 1 << 16


def _expected_bytes(fields: dict[str, str]) -> int:
    """The data size the header announces (a buffer-size hint: a wrong one only costs a copy)."""
    try:
        count = 1
        for n in fields.get("sizes", "").split():
            count *= int(n)
        size = count * _TYPE_BYTES[fields.get("type", "").lower()]
    except (KeyError, ValueError):
        return _DEFAULT_BUFFER
    return size if 0 < size < 1 << 36 else _DEFAULT_BUFFER


def _plain_gzip_header(header: bytes) -> dict[str, str] | None:
    """The NRRD header's fields if they say: gzip encoding, data attached, no line or byte skip."""
    fields: dict[str, str] = {}
    for raw in header.split(b"\n")[1:]:  # the first line is the NRRD magic
        line = raw.decode("ascii", "replace").strip()
        if not line or line.startswith("#") or ":=" in line:
            continue
        field, sep, value = line.partition(":")
        if not sep:
            continue
        field, value = field.strip().lower(), value.strip()
        if field in _DETACHED_FIELDS or (field in _SKIP_FIELDS and value != "0"):
            return None
        fields[field] = value
    return fields if fields.get("encoding", "").lower() in ("gzip", "gz") else None


def inflate_attached_gzip(path: Path) -> Inflated | None:
    """The inflated data of an attached-gzip NRRD file and where it starts, or ``None`` (see the module)."""
    try:
        with path.open("rb") as fh:
            content = fh.read()
    except OSError:
        return None
    if not content.startswith(b"NRRD"):
        return None
    end = content.find(b"\n\n", 0, _MAX_HEADER_BYTES)
    fields = _plain_gzip_header(content[:end]) if end >= 0 else None
    if fields is None:
        return None
    offset = end + 2
    try:  # one buffer of the announced size: no growing, no final copy
        data = zlib.decompress(memoryview(content)[offset:], _GZIP_WBITS, _expected_bytes(fields))
    except zlib.error:  # damaged, truncated or followed by other data: pynrrd reads (and reports) it
        return None
    return offset, data


def start(path: Path) -> None:
    """Start :func:`inflate_attached_gzip` of ``path`` in a daemon thread (once per unchanged file)."""
    key = file_key(path)
    if key is None:
        return
    future: Future[Inflated | None] = Future()
    with _LOCK:
        if key in _AHEAD:
            return
        _AHEAD[key] = future

    def run() -> None:
        try:
            future.set_result(inflate_attached_gzip(path))
        except BaseException as err:
            future.set_exception(err)

    threading.Thread(target=run, name="sirtkit-readahead", daemon=True).start()


def take(path: Path) -> Future[Inflated | None] | None:
    """The read-ahead of ``path`` if one was started for the file as it is now (then forgotten here)."""
    if not _AHEAD:
        return None
    key = file_key(path)
    with _LOCK:
        return _AHEAD.pop(key, None) if key is not None else None


def discard() -> None:
    """Forget every read-ahead not taken (their buffers are freed when their threads end)."""
    with _LOCK:
        _AHEAD.clear()


def command_paths(argv: list[str]) -> list[Path]:
    """The existing ``.nrrd`` files named in a command line (``PATH`` or ``--option=PATH``)."""
    paths = []
    for arg in argv:
        value = arg.partition("=")[2] if arg.startswith("--") else arg
        if value.lower().endswith(".nrrd") and os.path.isfile(value):
            paths.append(Path(value))
    return paths


def start_for_command(argv: list[str], *, command_process: bool = False) -> bool:
    """For an image command in the ``sirtkit`` command's own process: fork its worker process
    (:func:`sirtkit._concurrent.start_worker`, not for ``--help``), set the allocator and start reading its
    ``.nrrd`` inputs ahead — on the command's first line, before NumPy and the command line parser load.
    Returns whether ``argv`` runs an image command there (idempotent: a file already read ahead is not read
    again).

    ``command_process``: the caller is the command's entry point; otherwise the process is taken to be the
    command only when ``argv[0]`` is ``sirtkit`` (not a test or a notebook importing :mod:`sirtkit.cli`).
    No read-ahead without ``fork`` or with ``SIRTKIT_SERIAL=1`` (:func:`sirtkit._concurrent.concurrency_enabled`).
    """
    if not argv or not (command_process or Path(argv[0]).name == "sirtkit"):
        return False
    command = next((a for a in argv[1:] if not a.startswith("-")), None)
    if command not in IMAGE_COMMANDS:
        return False
    from sirtkit import _concurrent

    _concurrent.enable()
    if not any(a in ("--help", "-h") for a in argv[1:]):
        _concurrent.start_worker(WORKER_PRELOAD)  # first: forked before any thread, with a small heap
    _concurrent.reuse_freed_memory()
    if _concurrent.concurrency_enabled():
        for path in command_paths(argv[1:]):
            start(path)
    return True
