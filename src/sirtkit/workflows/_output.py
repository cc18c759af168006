"""Write a set of result files so that nothing half-written is ever left behind.

Files are written into a hidden staging folder beside the destination and moved into place only
when every file has been written; on any error the staging folder is removed and the destination is
left as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sirtkit.errors import InputError

__all__ = ["staged_output"]


@contextmanager
def staged_output(out_dir: Path) -> Iterator[Path]:
    """Yield a staging folder; on success move its files into ``out_dir`` (created if needed)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} exists and is not a folder: give a folder path")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    except OSError as err:
        raise InputError(f"cannot write results to {out_dir}: {err.strerror or err}; give a folder you can "
                         "write to (--out)") from None
    try:
        yield stage
        out_dir.mkdir(exist_ok=True)
        for item in sorted(stage.rglob("*")):
            target = out_dir / item.relative_to(stage)
            if item.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(item, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
