"""Output folders written as a whole: staged, swapped in atomically, never mixed, cleaned up when interrupted.

Every command that writes a result folder (``dose``, ``predict``, ``compare``, ``demo``, ``cohort``) goes
through :func:`staged_output`:

* The files are written into a hidden staging folder beside the target (``.NAME.staging-PID-<random>``).
* When every file is written, a manifest :data:`MANIFEST_NAME` (sirtkit version, kind of result, creation
  time, file list) is added and the staging folder **replaces the target folder as a whole**: on Linux with
  one atomic ``renameat2(RENAME_EXCHANGE)``, elsewhere with two renames. Files of an earlier run are never
  left beside the new ones, and two runs into one folder cannot mix their file sets (the last one wins).
* A target that exists, is not empty and holds no manifest (so was not written by sirtkit) is refused
  (:class:`~sirtkit.errors.InputError`, CLI exit 2) unless ``force=True`` (``--force``). So is a sirtkit
  folder that also holds files or folders its manifest does not list (a user's notes, a scanned signed
  sheet): replacing the folder would delete them, so they are named and ``--force`` is needed. Even with force,
  a folder that contains the working directory, the home folder or a filesystem root is refused.
* On any error, ``KeyboardInterrupt`` (SIGINT) or SIGTERM the staging folder is removed and the target is
  left as it was. Staging and swap-out folders left by a run that died without cleaning up (SIGKILL, power
  loss) are removed by the next run into the same target once their process no longer exists.
* Writers nested inside an active staging (``demo`` writes a plan and a dose report into one folder) get the
  same staging folder back, so the outermost call decides the whole file set.

>>> import tempfile, pathlib
>>> base = pathlib.Path(tempfile.mkdtemp())
>>> with staged_output(base / "out") as stage:
...     _ = (stage / "a.txt").write_text("new")
>>> sorted(p.name for p in (base / "out").iterdir())
['.sirtkit-output.json', 'a.txt']
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import json
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from sirtkit._files import default_mode
from sirtkit.errors import InputError

__all__ = ["MANIFEST_NAME", "check_output_folder", "is_sirtkit_output", "remove_stale_staging", "staged_output"]

log = logging.getLogger(__name__)

#: Manifest that marks a folder as written by sirtkit (only such folders are replaced without ``force``).
MANIFEST_NAME = ".sirtkit-output.json"
_STAGING_RE = re.compile(r"^\.(?P<name>.+)\.(?:staging|old)-(?P<pid>\d+)-[A-Za-z0-9_]+$")
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100  # linux/fcntl.h
_active_stages: set[Path] = set()
_lock = threading.Lock()


def is_sirtkit_output(folder: Path, legacy_markers: tuple[str, ...] = ()) -> bool:
    """True when ``folder`` holds the sirtkit manifest (or one of ``legacy_markers`` of older versions)."""
    return (folder / MANIFEST_NAME).is_file() or any((folder / m).is_file() for m in legacy_markers)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Remove staging / swap-out folders of ``out_dir`` whose process no longer runs; return what was removed."""
    out_dir = Path(out_dir)
    removed: list[Path] = []
    parent = out_dir.parent
    if not parent.is_dir():
        return removed
    for item in parent.iterdir():
        match = _STAGING_RE.match(item.name)
        if not match or match.group("name") != out_dir.name or not item.is_dir():
            continue
        if _pid_alive(int(match.group("pid"))):
            continue
        shutil.rmtree(item, ignore_errors=True)
        log.info("removed %s, left by an interrupted sirtkit run", item)
        removed.append(item)
    return removed


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False when not supported."""
    try:  # the C library the interpreter runs on (find_library would start ldconfig on every swap)
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def _protected(out_dir: Path) -> str | None:
    """Why ``out_dir`` may never be replaced, even with force (None when it may)."""
    resolved = out_dir.resolve()
    if resolved == Path(resolved.anchor):
        return "it is a filesystem root"
    with contextlib.suppress(RuntimeError, KeyError):
        if resolved == Path.home().resolve():
            return "it is your home folder"
    cwd = Path.cwd().resolve()
    if cwd == resolved or resolved in cwd.parents:
        return "it contains the current working folder"
    return None


def check_output_folder(out_dir: str | os.PathLike[str], *, force: bool = False,
                        legacy_markers: tuple[str, ...] = ()) -> None:
    """Refuse, before any work is done, an ``--out`` that :func:`staged_output` would refuse.

    Raises
    ------
    InputError
        ``out_dir`` is a file, or a non-empty folder sirtkit did not write (without ``force``), or protected.
    """
    _check_target(Path(out_dir), force, legacy_markers)


_FOREIGN_SHOWN = 5  # foreign items named in the refusal message


def _not_in_manifest(out_dir: Path) -> list[str]:
    """Files and folders under a sirtkit ``out_dir`` that its manifest does not list (topmost ones, sorted).

    A manifest that cannot be read lists nothing, so every item but the manifest is foreign — the folder is
    then refused without ``--force``, never emptied. A folder marked only by a legacy marker (no manifest,
    older versions) has no file list to compare with and is replaced as before.
    """
    if not (out_dir / MANIFEST_NAME).is_file():
        return []
    listed: set[str] = set()
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        doc = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        listed = {str(f) for f in doc.get("files", [])}
    parents = {str(Path(*Path(f).parts[:i])) for f in listed for i in range(1, len(Path(f).parts))}
    foreign: list[str] = []
    for root, dirs, files in os.walk(out_dir):
        rel_root = Path(root).relative_to(out_dir)
        keep = []
        for d in sorted(dirs):
            rel = str(rel_root / d)
            if rel in parents and not (Path(root) / d).is_symlink():
                keep.append(d)
            else:
                foreign.append(rel + "/")
        dirs[:] = keep
        for f in sorted(files):
            rel = str(rel_root / f)
            if rel not in listed and rel != MANIFEST_NAME:
                foreign.append(rel)
    return sorted(foreign)


def _check_target(out_dir: Path, force: bool, legacy_markers: tuple[str, ...]) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file, not a folder: give a folder path")
    if not out_dir.is_dir():
        return
    try:
        empty = not any(out_dir.iterdir())
    except OSError as err:
        raise InputError(f"--out {out_dir}: cannot list the folder ({err.strerror or err}); give a folder you "
                         "can write to") from None
    if empty:
        return
    if is_sirtkit_output(out_dir, legacy_markers):
        foreign = _not_in_manifest(out_dir)
        if not foreign:
            return
        if not force:
            shown = ", ".join(foreign[:_FOREIGN_SHOWN]) + (f" and {len(foreign) - _FOREIGN_SHOWN} more"
                                                           if len(foreign) > _FOREIGN_SHOWN else "")
            raise InputError(
                f"--out {out_dir} was written by sirtkit but also holds {len(foreign)} item(s) that sirtkit did not "
                f"write (not in {MANIFEST_NAME}): {shown}. Replacing the folder would delete them: move them out, "
                "give another --out, or add --force to replace the folder with them")
    elif not force:
        raise InputError(
            f"--out {out_dir} is not empty and was not written by sirtkit (no {MANIFEST_NAME}): its contents "
            "would be replaced as a whole; give a new or empty folder, or add --force to replace it")
    reason = _protected(out_dir)
    if reason:
        raise InputError(f"--out {out_dir}: refusing to replace this folder even with --force: {reason}; "
                         "give a dedicated results folder")


@contextmanager
def _terminate_as_exception(state: dict[str, Any]) -> Iterator[None]:
    """While active (main thread only), SIGTERM raises :class:`SystemExit` (143) instead of killing at once.

    While ``state["defer"]`` is true (the folder swap), SIGTERM and SIGINT are remembered in
    ``state["pending"]`` and acted on by the caller once the swap is complete.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_term = signal.getsignal(signal.SIGTERM)
    previous_int = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: FrameType | None) -> None:
        if state.get("defer"):
            state["pending"] = signum
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def _write_manifest(stage: Path, kind: str, extra: dict[str, Any] | None) -> None:
    from sirtkit import __version__

    files = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file())
    manifest = {
        "written_by": "sirtkit", "sirtkit_version": __version__, "kind": kind,
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "files": files, **(extra or {}),
    }
    (stage / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")


@contextmanager
def staged_output(out_dir: str | os.PathLike[str], *, force: bool = False, kind: str = "results",
                  legacy_markers: tuple[str, ...] = (), manifest: dict[str, Any] | None = None) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``out_dir`` as a whole (see the module notes).

    Parameters
    ----------
    out_dir
        Target folder (created with its parents if needed).
    force
        Replace a non-empty folder that sirtkit did not write (``--force``).
    kind
        What the folder holds, recorded in the manifest (``"dose"``, ``"plan"``, ``"cohort report"``...).
    legacy_markers
        File names that also mark a folder as sirtkit's (reports of versions before the manifest).
    manifest
        Extra JSON-ready fields for the manifest.

    Raises
    ------
    InputError
        ``out_dir`` is a file, a non-empty foreign folder without ``force``, a protected folder, or not
        writable.
    """
    out_dir = Path(out_dir)
    if out_dir.is_symlink():  # replace the folder the link points to, keep the link
        out_dir = out_dir.resolve()
    resolved = out_dir.resolve() if out_dir.exists() or out_dir.parent.exists() else out_dir.absolute()
    with _lock:
        nested = any(resolved == s or s in resolved.parents for s in _active_stages)
    if nested:  # an outer staged_output owns this folder: write straight into its staging area
        out_dir.mkdir(parents=True, exist_ok=True)
        yield out_dir
        return
    _check_target(out_dir, force, legacy_markers)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(out_dir)
        stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-{os.getpid()}-", dir=out_dir.parent))
        os.chmod(stage, default_mode(directory=True))  # mkdtemp makes 0700; results are shared
    except OSError as err:
        raise InputError(f"cannot write results to {out_dir}: {err.strerror or err}; give a folder you can "
                         "write to (--out)") from None
    stage_key = stage.resolve()
    old: Path | None = None
    try:
        state: dict[str, Any] = {"defer": False, "pending": None}
        with _terminate_as_exception(state):
            with _lock:
                _active_stages.add(stage_key)
            try:
                yield stage
            finally:
                with _lock:
                    _active_stages.discard(stage_key)
            _check_target(out_dir, force, legacy_markers)  # another run may have written meanwhile
            _write_manifest(stage, kind, manifest)
            state["defer"] = True  # the swap below is never cut in half by SIGTERM / Ctrl-C
            try:
                if out_dir.is_dir():
                    if _exchange(stage, out_dir):
                        old = stage  # the previous contents now sit at the staging path
                    else:
                        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-{os.getpid()}-", dir=out_dir.parent))
                        old.rmdir()
                        os.replace(out_dir, old)
                        os.replace(stage, out_dir)
                else:
                    os.replace(stage, out_dir)
            finally:
                state["defer"] = False
            if state["pending"] is not None:
                log.info("results written to %s; now stopping on signal %s", out_dir, state["pending"])
                if state["pending"] == signal.SIGINT:
                    raise KeyboardInterrupt
                raise SystemExit(128 + int(state["pending"]))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
