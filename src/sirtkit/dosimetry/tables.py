"""DVH and dose-metrics CSV files (no DICOM: importing this does not import pydicom).

Both writers are atomic: they write a temporary file in the target folder and ``os.replace`` it. Text cells
are neutralised against spreadsheet formula injection (:func:`sirtkit.text.csv_row`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

import numpy as np

from sirtkit._files import atomic_write_stream
from sirtkit.dosimetry.dvh import DoseMetrics, Dvh
from sirtkit.errors import InputError
from sirtkit.text import csv_cell, csv_row

__all__ = ["write_dvh_csv", "write_metrics_csv"]


def _csv_write(path: Path, header: list[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a CSV (RFC 4180 quoting, CRLF rows); text cells neutralised by :func:`sirtkit.text.csv_row`."""
    def _write(handle: IO[bytes]) -> None:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(header)
        writer.writerows(csv_row(row) for row in rows)
        text.flush()
        text.detach()

    return atomic_write_stream(path, _write)


def _csv_field(value: str) -> str:
    """One CSV field as :mod:`csv` writes it (quoted when it holds a comma, quote or line break)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value])
    return buf.getvalue()


def write_dvh_csv(dvhs: Mapping[str, Dvh], path: str | os.PathLike[str]) -> Path:
    """Write cumulative DVHs as a long CSV: ``voi,dose_gy,volume_percent,mass_weighted``.

    Raises
    ------
    InputError
        No DVHs given.
    """
    if not dvhs:
        raise InputError("write_dvh_csv needs at least one DVH")

    # The same bytes as csv.writer row by row, built a VOI at a time: the name is quoted and neutralised
    # once, the numbers go through float formatting only (about 5× faster for ~50 000 rows).
    parts = ["voi,dose_gy,volume_percent,mass_weighted\r\n"]
    for name, dvh in dvhs.items():
        lead = _csv_field(csv_cell(name)) + ","
        tail = f",{int(dvh.mass_weighted)}\r\n"
        percent = (np.asarray(dvh.volume_fraction) * 100.0).tolist()  # the dtype's own product, as before
        doses = np.asarray(dvh.dose_bins_gy).tolist()
        parts.extend(f"{lead}{d:.4f},{v:.6f}{tail}" for d, v in zip(doses, percent, strict=True))
    body = "".join(parts).encode("utf-8")

    def _write(handle: IO[bytes]) -> None:
        handle.write(body)

    return atomic_write_stream(Path(path), _write)


def write_metrics_csv(metrics: Iterable[DoseMetrics], path: str | os.PathLike[str]) -> Path:
    """Write one row of dose metrics per VOI (V_y columns named ``v<y>_percent``)."""
    items = list(metrics)
    if not items:
        raise InputError("write_metrics_csv needs at least one DoseMetrics")
    thresholds = sorted({y for m in items for y in m.v_percent})
    header = [
        "voi", "volume_ml", "mass_g", "mean_gy", "min_gy", "max_gy",
        "d2_gy", "d50_gy", "d70_gy", "d90_gy", "d98_gy",
        *[f"v{y:g}_percent" for y in thresholds],
    ]
    rows = [
        [
            m.name, f"{m.volume_ml:.4f}", f"{m.mass_g:.4f}", f"{m.mean_gy:.4f}", f"{m.min_gy:.4f}",
            f"{m.max_gy:.4f}", f"{m.d2_gy:.4f}", f"{m.d50_gy:.4f}", f"{m.d70_gy:.4f}", f"{m.d90_gy:.4f}",
            f"{m.d98_gy:.4f}",
            *[f"{m.v_percent[y]:.4f}" if y in m.v_percent else "" for y in thresholds],
        ]
        for m in items
    ]
    return _csv_write(Path(path), header, rows)
