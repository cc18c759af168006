"""Cohort workflow: read + validate a cohort workbook, analyse it, write the report; template and synthetic data.

Orchestration only: the maths lives in :mod:`sirtkit.outcomes`, the rendering in :mod:`sirtkit.report.cohort`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sirtkit.errors import InputError
from sirtkit.outcomes.analysis import CohortAnalysis, analyse_cohort
from sirtkit.outcomes.cohort import read_cohort, write_cohort, write_template
from sirtkit.outcomes.synthetic import synthetic_cohort
from sirtkit.progress import ProgressCallback, report
from sirtkit.report.cohort import REPORT_MARKER, CohortReportFiles, write_cohort_report

__all__ = ["CohortReportResult", "run_cohort_report", "write_cohort_examples", "write_synthetic_cohort"]

logger = logging.getLogger(__name__)

#: Size and seed of the example written beside the template (synthetic, no patient data).
EXAMPLE_PATIENTS = 40
EXAMPLE_SEED = 1


@dataclass(frozen=True)
class CohortReportResult:
    """What :func:`run_cohort_report` produced."""

    analysis: CohortAnalysis
    files: CohortReportFiles

    def summary(self) -> dict[str, Any]:
        """Headline numbers plus the written paths (for ``--json``)."""
        f = self.files
        return {**self.analysis.summary(), "files": {
            "folder": f.folder, "html": f.html, "pdf": f.pdf, "summary_json": f.summary_json,
            "tables": list(f.tables), "figures": list(f.figures)}}


def run_cohort_report(source: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, pdf: bool = True,
                      criteria: str = "recist1.1", confirmation_min_days: float | None = None,
                      n_bootstrap: int = 1000, seed: int = 0, title: str = "SIRT cohort outcomes",
                      progress: ProgressCallback | None = None, force: bool = False) -> CohortReportResult:
    """Read ``source`` (``.xlsx`` or CSV folder), analyse it and write the report into ``out_dir``.

    ``out_dir`` is replaced as a whole; a non-empty folder sirtkit did not write is refused unless ``force``.

    Raises
    ------
    InputError
        For unreadable or invalid input (every problem with sheet, row and column) or an unusable ``out_dir``.
    MissingExtraError
        If ``pdf`` is requested and WeasyPrint is unavailable.
    """
    from sirtkit._outdir import check_output_folder

    check_output_folder(out_dir, force=force, legacy_markers=(REPORT_MARKER,))
    report(progress, 0.0, "reading")
    data = read_cohort(source)

    def sub(lo: float, hi: float) -> ProgressCallback:
        return lambda f, m: report(progress, lo + (hi - lo) * f, m)

    analysis = analyse_cohort(data, criteria=criteria, confirmation_min_days=confirmation_min_days,
                              n_bootstrap=n_bootstrap, rng=seed, progress=sub(0.1, 0.6))
    files = write_cohort_report(analysis, out_dir, pdf=pdf, title=title, source=str(source), progress=sub(0.6, 1.0),
                                force=force)
    logger.info("cohort report written to %s", files.folder)
    return CohortReportResult(analysis=analysis, files=files)


def write_synthetic_cohort(path: str | os.PathLike[str], n_patients: int = 200,
                           seed: np.random.Generator | int | None = 1) -> Path:
    """Write a synthetic cohort as ``.xlsx`` (or a CSV folder when ``path`` has no suffix)."""
    p = Path(path)
    if p.suffix and p.suffix.lower() != ".xlsx":
        raise InputError(f"{p}: write the synthetic cohort as .xlsx or to a folder (no suffix) of CSV files")
    return write_cohort(synthetic_cohort(n_patients, rng=seed), p)


def write_cohort_examples(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the empty template ``cohort_template.xlsx`` and a synthetic ``cohort_example.xlsx`` into ``out_dir``."""
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise InputError(f"{d}: is a file; give a folder")
    d.mkdir(parents=True, exist_ok=True)
    return [write_template(d / "cohort_template.xlsx"),
            write_synthetic_cohort(d / "cohort_example.xlsx", EXAMPLE_PATIENTS, EXAMPLE_SEED)]
