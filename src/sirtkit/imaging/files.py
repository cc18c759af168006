"""Read and write image files: NRRD, NIfTI and DICOM (series or single file).

``read_volume`` dispatches on the path: ``.nrrd``/``.nhdr`` (pynrrd), ``.nii``/``.nii.gz`` (nibabel),
a folder or any other file (DICOM, :func:`sirtkit.imaging.dicom.read_dicom_series`).
``write_volume`` writes NRRD or NIfTI atomically (temporary file in the same folder, then rename).

NRRD geometry is honoured from the ``space``, ``space directions`` and ``space origin`` fields
(teem NRRD format specification, http://teem.sourceforge.net/nrrd/format.html). Anatomical spaces
(LPS, RAS, LAS) are converted to LPS; other spaces (``scanner-xyz``, ``3D-right-handed``) are refused
because they do not say which way the patient lies.

Examples
--------
>>> import tempfile, numpy as np
>>> v = Volume.from_spacing(np.arange(24.0).reshape(2, 3, 4), spacing_mm=(2.0, 1.0, 1.0),
...                         quantity="dose", unit="Gy")
>>> with tempfile.TemporaryDirectory() as d:
...     back = read_volume(write_volume(v, Path(d) / "dose.nrrd"))
>>> back.same_grid(v), back.quantity, back.unit
(True, 'dose', 'Gy')
"""

from __future__ import annotations

import io
import logging
import math
import struct
import zlib
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any

import nrrd
import numpy as np

from sirtkit import _readahead
from sirtkit._files import atomic_write as _atomic_write
from sirtkit.errors import GeometryError, InputError
from sirtkit.imaging.volume import Volume

__all__ = ["CORRUPT_FILE_ERRORS", "NRRD_SPACE_TO_LPS", "atomic_write", "check_plausible_grid", "discard_prefetched",
           "prefetch_nrrd", "read_nrrd_checked",
           "read_volume", "write_volume"]

# What the decoders raise for a truncated or corrupt file (gzip stream cut short: EOFError; damaged
# deflate data: zlib.error; short header: struct.error; short data: OSError/ValueError). Readers turn
# them into an InputError naming the file: a damaged file is the user's to fix, not a bug.
CORRUPT_FILE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, zlib.error, struct.error, ValueError, StopIteration, OverflowError, MemoryError,
)

logger = logging.getLogger(__name__)

# Sign flips that turn each anatomical NRRD space into LPS (NRRD format specification, "space" field).
NRRD_SPACE_TO_LPS: dict[str, tuple[float, float, float]] = {
    "left-posterior-superior": (1.0, 1.0, 1.0),
    "lps": (1.0, 1.0, 1.0),
    "right-anterior-superior": (-1.0, -1.0, 1.0),
    "ras": (-1.0, -1.0, 1.0),
    "left-anterior-superior": (1.0, -1.0, 1.0),
    "las": (1.0, -1.0, 1.0),
}

# Plausibility of a grid read from NRRD/NIfTI headers (not clinical thresholds): a voxel wider than 1 m
# cannot image a patient, and an origin 100 m from the scanner's isocentre is a damaged header (a flipped
# byte in a float32 turns 20 mm into 1e37 mm). Such files are refused, naming the file.
MAX_PLAUSIBLE_SPACING_MM = 1000.0
MAX_PLAUSIBLE_ORIGIN_MM = 100_000.0
# Largest image read (voxels): 2⁳¹, eight times a 1024×1024×256 CT; a header claiming more is damaged, and
# reading it would exhaust memory before failing.
MAX_VOXELS = 2**31

# Header keys sirtkit writes into NRRD files so that quantity and unit survive a round trip.
_NRRD_QUANTITY_KEY = "sirtkit_quantity"
_NRRD_UNIT_KEY = "sirtkit_unit"
_NRRD_FOR_KEY = "sirtkit_frame_of_reference_uid"


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for ending in (".seg.nrrd", ".nii.gz", ".nrrd", ".nhdr", ".nii"):
        if name.endswith(ending):
            return ending
    return path.suffix.lower()


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file that keeps the final suffix (writers pick the format from it).

    See :func:`sirtkit._files.atomic_write`.
    """
    return _atomic_write(path, write, suffix=_suffix(Path(path)))


def nrrd_geometry(header: dict[str, Any], path: Path) -> tuple[np.ndarray, list[int]]:
    """LPS affine (for the spatial axes in C order) and the indices of the non-spatial header axes.

    Returns the 4×4 affine mapping (k, j, i) → LPS and the list of header-axis positions (in file order,
    fastest first) that are not spatial (``kinds`` list/vector axes, whose space direction is ``none``).
    """
    space = str(header.get("space", "")).strip().lower()
    if not space:
        raise GeometryError(
            f"{path}: NRRD header has no 'space' field, so its orientation is unknown; re-save it with "
            "'space: left-posterior-superior' (3D Slicer and SimpleITK do this)"
        )
    if space not in NRRD_SPACE_TO_LPS:
        raise GeometryError(
            f"{path}: NRRD space {space!r} is not an anatomical patient space sirtkit can convert to LPS; "
            f"use one of {sorted(NRRD_SPACE_TO_LPS)}"
        )
    flips = np.array(NRRD_SPACE_TO_LPS[space])
    directions = np.asarray(header.get("space directions"), dtype=np.float64)
    if directions.ndim != 2 or directions.shape[1] != 3:
        raise GeometryError(f"{path}: NRRD 'space directions' missing or not 3-D: {header.get('space directions')}")
    non_spatial = [n for n in range(directions.shape[0]) if not np.all(np.isfinite(directions[n]))]
    spatial = [n for n in range(directions.shape[0]) if n not in non_spatial]
    if len(spatial) != 3:
        raise GeometryError(f"{path}: expected 3 spatial axes in the NRRD header, found {len(spatial)}")
    origin = np.asarray(header.get("space origin", (0.0, 0.0, 0.0)), dtype=np.float64)
    if origin.shape != (3,) or not np.all(np.isfinite(origin)):
        raise GeometryError(f"{path}: NRRD 'space origin' is not a finite 3-vector: {header.get('space origin')}")
    # Header axis order is fastest first (i, j, k); the Volume wants (k, j, i) columns.
    vec_i, vec_j, vec_k = (directions[n] * flips for n in spatial)
    affine = np.eye(4)
    affine[:3, 0] = vec_k
    affine[:3, 1] = vec_j
    affine[:3, 2] = vec_i
    affine[:3, 3] = origin * flips
    return affine, non_spatial


def prefetch_nrrd(path: str | Path) -> None:
    """Start inflating an attached-gzip ``.nrrd`` file in a background thread (returns at once).

    The next :func:`read_nrrd_checked` of the same, unchanged file (same inode, size and modification
    time) takes the inflated data instead of inflating it again, with the same checks, arrays and errors
    (:mod:`sirtkit._readahead`). The image commands call this for their inputs first thing, so that the
    inflation (zlib releases the GIL) runs on the second core while they import their modules (issue 9).
    Does nothing for other files or without concurrency (``SIRTKIT_SERIAL=1``).
    """
    from sirtkit._concurrent import concurrency_enabled

    p = Path(path)
    if concurrency_enabled() and p.suffix.lower() == ".nrrd":
        _readahead.start(p)


def discard_prefetched() -> None:
    """Forget files read ahead and never read (their buffers are freed when their threads end)."""
    _readahead.discard()


def read_nrrd_checked(path: Path, what: str = "NRRD file") -> tuple[np.ndarray, dict[str, Any]]:
    """``nrrd.read`` (C order) after checking the header: the voxel count is bounded, and a detached
    ``data file`` must be a regular file beside the header (never a device such as /dev/zero, a pipe, or a
    file elsewhere on the system). Every failure is an InputError naming the file. Attached gzip data is
    inflated in one pass (:mod:`sirtkit._readahead`, or taken from a read-ahead of the unchanged file) and
    handed to pynrrd as raw data: the same array as ``nrrd.read``, without its two extra copies."""
    try:
        return _read_nrrd_raw(path)
    except InputError:
        raise
    except (nrrd.NRRDError, KeyError, TypeError, *CORRUPT_FILE_ERRORS) as err:  # empty: StopIteration; bad type: KeyError
        raise InputError(
            f"{path}: cannot read {what} ({str(err)[:200] or 'empty file, or it ends early'}); check that it is "
            "complete and uncorrupted"
        ) from err


def _read_nrrd_raw(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """The header checks and the data of :func:`read_nrrd_checked`, errors not yet worded."""
    ahead = _readahead.take(path)
    with path.open("rb") as fh:
        header = nrrd.read_header(fh)
        offset = fh.tell()
    sizes = [int(n) for n in np.atleast_1d(header.get("sizes", []))]
    if not sizes or any(n < 1 for n in sizes) or math.prod(sizes) > MAX_VOXELS:
        raise InputError(f"{path}: NRRD sizes {sizes} are not a plausible image (1 to {MAX_VOXELS} voxels): the header "
                         "is damaged or the file is not an image; export it again")
    data_file = header.get("data file") or header.get("datafile")
    if data_file is not None:
        files = data_file if isinstance(data_file, list) else [str(data_file)]
        for name in files:
            if str(name).startswith("LIST"):
                raise InputError(f"{path}: NRRD 'data file: LIST' (several data files) is not supported: save it "
                                 "again as one .nrrd (3D Slicer: Save, NRRD)")
            target = (path.parent / str(name)).resolve()
            if target.parent != path.parent.resolve() or not target.is_file():
                raise InputError(
                    f"{path}: NRRD 'data file: {name}' must name a regular file in the same folder as the "
                    "header; keep the .nhdr and its .raw/.raw.gz together"
                )
    inflated = None
    if str(header.get("encoding", "")).lower() in ("gzip", "gz") and data_file is None:
        if ahead is not None:
            from sirtkit._concurrent import import_while_waiting

            import_while_waiting(ahead.done)  # the command's queued imports, while the file is still inflating
            inflated = ahead.result()
        else:
            inflated = _readahead.inflate_attached_gzip(path)
    if inflated is not None and inflated[0] == offset:  # the data starts where pynrrd's header ends
        raw = {**header, "encoding": "raw"}
        data = nrrd.read_data(raw, io.BytesIO(inflated[1]), None, index_order="C")
        if data.nbytes == len(inflated[1]):  # else (too much data) pynrrd below reports the size mismatch
            return data, header
    return nrrd.read(str(path), index_order="C")


def _read_nrrd(path: Path, quantity: str | None, unit: str | None) -> Volume:
    data, header = read_nrrd_checked(path)
    affine, non_spatial = nrrd_geometry(header, path)
    if non_spatial:
        raise GeometryError(
            f"{path}: NRRD has {data.ndim} axes (a list or vector axis); read multi-layer segmentations "
            "with sirtkit.imaging.read_segmentation"
        )
    try:
        volume = Volume(
            np.asarray(data),
            affine,
            quantity=quantity or str(header.get(_NRRD_QUANTITY_KEY, "unknown")),
            unit=unit or str(header.get(_NRRD_UNIT_KEY, "1")),
            frame_of_reference_uid=header.get(_NRRD_FOR_KEY) or None,
            metadata={"source_files": [str(path)]},
        )
    except InputError as err:
        raise type(err)(f"{path}: {err}") from err
    return check_plausible_grid(volume, path)


def check_plausible_grid(volume: Volume, path: Path) -> Volume:
    """Return ``volume`` if its voxel size and origin are physically plausible, else raise GeometryError."""
    spacing = np.asarray(volume.spacing_mm, dtype=np.float64)
    origin = volume.affine[:3, 3]
    if not np.all(spacing <= MAX_PLAUSIBLE_SPACING_MM):
        raise GeometryError(
            f"{path}: voxel size {spacing.tolist()} mm is not plausible (over {MAX_PLAUSIBLE_SPACING_MM:g} mm); "
            "the header is damaged or in other units: export the image again"
        )
    if not np.all(np.abs(origin) <= MAX_PLAUSIBLE_ORIGIN_MM):
        raise GeometryError(
            f"{path}: image origin {origin.tolist()} mm is not plausible (over {MAX_PLAUSIBLE_ORIGIN_MM:g} mm "
            "from the scanner origin); the header is damaged: export the image again"
        )
    return volume


def _read_nifti(path: Path, quantity: str | None, unit: str | None) -> Volume:
    import nibabel as nib  # imported for NIfTI files only (start-up time of the other commands)

    from sirtkit.imaging.convert import volume_from_nifti

    try:
        image = nib.load(str(path))
    except Exception as err:  # nibabel raises several unrelated types for bad files
        raise InputError(f"{path}: cannot read NIfTI file ({err}); check that it is complete") from err
    if not isinstance(image, nib.Nifti1Image | nib.Nifti2Image):
        raise InputError(f"{path}: not a NIfTI image (nibabel read it as {type(image).__name__})")
    try:
        # nibabel reads the voxels lazily, here: a truncated or damaged file fails now.
        volume = volume_from_nifti(
            image, quantity=quantity or "unknown", unit=unit or "1", metadata={"source_files": [str(path)]}
        )
    except InputError as err:
        raise type(err)(f"{path}: {err}") from err
    except CORRUPT_FILE_ERRORS as err:
        raise InputError(
            f"{path}: cannot read the NIfTI image data ({type(err).__name__}: {str(err)[:200] or 'file ends early'}); "
            "the file is truncated or damaged: copy or export it again"
        ) from err
    return check_plausible_grid(volume, path)


def read_volume(
    path: str | Path,
    *,
    quantity: str | None = None,
    unit: str | None = None,
    assume_timezone: tzinfo | None = None,
    series_instance_uid: str | None = None,
    expected_nuclide: str | None = None,
    modalities: tuple[str, ...] | None = None,
    choose_hint: str = "choose one by its SeriesInstanceUID",
) -> Volume:
    """Read an image file or DICOM series into a Volume (LPS, mm).

    Parameters
    ----------
    path
        ``.nrrd``/``.nhdr``, ``.nii``/``.nii.gz``, a DICOM file, or a folder holding one DICOM series.
    quantity, unit
        What the values are (e.g. ``"activity_concentration"``, ``"Bq/mL"``). NRRD and NIfTI files do not
        say; give them (DICOM readers set them from the tags, and these arguments then override nothing
        but must agree when given).
    assume_timezone, series_instance_uid, expected_nuclide, modalities, choose_hint
        Passed to :func:`sirtkit.imaging.dicom.read_dicom_series` for DICOM input.

    Returns
    -------
    Volume

    Raises
    ------
    InputError
        If the path does not exist or the file cannot be read.
    GeometryError
        If the orientation is missing or not convertible to LPS.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder; check the path (relative paths start at {Path.cwd()})")
    suffix = _suffix(p)
    if p.is_file() and suffix in (".nrrd", ".nhdr", ".seg.nrrd"):
        return _read_nrrd(p, quantity, unit)
    if p.is_file() and suffix in (".nii", ".nii.gz"):
        return _read_nifti(p, quantity, unit)
    from sirtkit.imaging.dicom import read_dicom_series

    volume = read_dicom_series(p, series_instance_uid=series_instance_uid, assume_timezone=assume_timezone,
                               expected_nuclide=expected_nuclide, modalities=modalities,
                               choose_hint=choose_hint)
    for name, given, found in (("quantity", quantity, volume.quantity), ("unit", unit, volume.unit)):
        if given is not None and given != found:
            raise InputError(
                f"{p}: the DICOM tags say {name} = {found!r}, but {given!r} was requested; leave {name} out "
                "for DICOM input or convert the values explicitly"
            )
    return volume


def write_volume(volume: Volume, path: str | Path, *, compress: bool = True) -> Path:
    """Write a Volume to ``.nrrd`` (gzip or raw, LPS) or ``.nii``/``.nii.gz`` (RAS), atomically.

    ``compress=False`` writes NRRD raw: float dose maps compress poorly and gzip is then the slowest
    step of a dosimetry run.

    NRRD files keep the quantity, unit and frame of reference in ``sirtkit_*`` header fields; NIfTI
    keeps geometry and values only. Boolean masks are written as uint8.

    Raises
    ------
    InputError
        If the suffix is neither NRRD nor NIfTI.
    """
    target = Path(path)
    suffix = _suffix(target)
    if suffix in (".nrrd", ".seg.nrrd"):
        return atomic_write(target, lambda tmp: _write_nrrd(volume, tmp, compress=compress))
    if suffix in (".nii", ".nii.gz"):
        import nibabel as nib

        from sirtkit.imaging.convert import volume_to_nifti

        return atomic_write(target, lambda tmp: nib.save(volume_to_nifti(volume), str(tmp)))
    raise InputError(f"{target}: cannot choose a format from suffix {suffix!r}; use .nrrd, .nii or .nii.gz")


def _write_nrrd(volume: Volume, tmp: Path, *, compress: bool = True) -> None:
    array = volume.array.astype(np.uint8) if volume.is_mask else volume.array
    aff = volume.affine
    header: dict[str, Any] = {
        "space": "left-posterior-superior",
        # fastest axis first: column (i), row (j), slice (k)
        "space directions": np.stack([aff[:3, 2], aff[:3, 1], aff[:3, 0]]),
        "space origin": aff[:3, 3].copy(),
        "kinds": ["domain", "domain", "domain"],
        "encoding": "gzip" if compress else "raw",
        _NRRD_QUANTITY_KEY: volume.quantity,
        _NRRD_UNIT_KEY: volume.unit,
    }
    if volume.frame_of_reference_uid:
        header[_NRRD_FOR_KEY] = volume.frame_of_reference_uid
    # gzip level 1: 4–5× faster than the default 9 for dose maps, files ~10 % larger.
    nrrd.write(str(tmp), np.ascontiguousarray(array), header, index_order="C", compression_level=1)
