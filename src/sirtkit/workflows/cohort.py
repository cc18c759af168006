"""Cohort workflow: read + validate a cohort workbook, analyse it, write the report; template and synthetic data.

Orchestration only: the maths lives in :mod:`sirtkit.outcomes`, the rendering in :mod:`sirtkit.report.cohort`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sirtkit.errors import InputError
from sirtkit.progress import ProgressCallback, report

if TYPE_CHECKING:
    import numpy as np

    from sirtkit.outcomes.analysis import CohortAnalysis
    from sirtkit.report.cohort import CohortReportFiles

__all__ = ["CohortReportResult", "run_cohort_report", "write_cohort_examples", "write_synthetic_cohort"]

logger = logging.getLogger(__name__)

#: Size and seed of the example written beside the template (synthetic, no patient data).
EXAMPLE_PATIENTS = 40
EXAMPLE_SEED = 1
#: ``sirtkit.report.cohort.REPORT_MARKER`` (the file that marks a folder as a cohort report), here so that the
#: output folder is checked before the report stack is imported.
_REPORT_MARKER = "summary.json"


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
    from sirtkit._concurrent import concurrency_enabled, run_in_child
    from sirtkit._outdir import check_output_folder

    check_output_folder(out_dir, force=force, legacy_markers=(_REPORT_MARKER,))
    report(progress, 0.0, "reading and analysing")
    # The input is read and analysed in a forked child while this process imports the report stack
    # (matplotlib, Jinja2, WeasyPrint: ≈ 1 s); the analysis comes back pickled (≈ 0.03 s at 10 000 patients,
    # 0.3 s at 50 000). pandas and SciPy, which both need, are imported before the fork, once. Inline
    # (SIRTKIT_SERIAL=1, no fork) it all runs here, in order, with the progress display.
    import sirtkit.outcomes.analysis
    import sirtkit.outcomes.cohort  # noqa: F401

    task = run_in_child(_read_and_analyse, source, criteria=criteria, confirmation_min_days=confirmation_min_days,
                        n_bootstrap=n_bootstrap, seed=seed,
                        progress=None if concurrency_enabled() else _sub(progress, 0.0, 0.6),
                        label="cohort analysis")
    try:
        _import_report_stack(pdf=pdf)
        analysis = task.result()
    finally:
        task.cancel()  # a no-op once collected; stops the child when this process fails first (Ctrl-C)
    from sirtkit.report.cohort import write_cohort_report

    report(progress, 0.6, "report")
    files = write_cohort_report(analysis, out_dir, pdf=pdf, title=title, source=str(source),
                                progress=_sub(progress, 0.6, 1.0), force=force)
    logger.info("cohort report written to %s", files.folder)
    return CohortReportResult(analysis=analysis, files=files)


def _sub(progress: ProgressCallback | None, lo: float, hi: float) -> ProgressCallback:
    return lambda f, m: report(progress, lo + (hi - lo) * f, m)


def _read_and_analyse(source: str | os.PathLike[str], *, criteria: str, confirmation_min_days: float | None,
                      n_bootstrap: int, seed: int, progress: ProgressCallback | None) -> CohortAnalysis:
    """Read + validate ``source`` and analyse it (the validated tables are freed before the result is sent)."""
    from sirtkit.outcomes.analysis import analyse_cohort
    from sirtkit.outcomes.cohort import read_cohort

    data = read_cohort(source)
    report(progress, 1 / 6, "analysing")
    return analyse_cohort(data, criteria=criteria, confirmation_min_days=confirmation_min_days,
                          n_bootstrap=n_bootstrap, rng=seed, progress=_sub(progress, 1 / 6, 1.0))


def _import_report_stack(*, pdf: bool) -> None:
    """Import the modules that draw and lay out the report (a failing WeasyPrint fails later, when it is used)."""
    import sirtkit.report.cohort  # noqa: F401  (matplotlib, Jinja2, the outcomes classes to unpickle)

    if pdf:
        # as in sirtkit.report.render.html_to_pdf, which raises MissingExtraError (with the hint) if this fails
        with warnings.catch_warnings(), contextlib.suppress(ImportError, OSError):
            warnings.simplefilter("ignore", DeprecationWarning)
            import weasyprint  # noqa: F401


def write_synthetic_cohort(path: str | os.PathLike[str], n_patients: int = 200,
                           seed: np.random.Generator | int | None = 1) -> Path:
    """Write a synthetic cohort as ``.xlsx`` (or a CSV folder when ``path`` has no suffix)."""
    p = Path(path)
    if p.suffix and p.suffix.lower() != ".xlsx":
        raise InputError(f"{p}: write the synthetic cohort as .xlsx or to a folder (no suffix) of CSV files")
    from sirtkit.outcomes.cohort import write_cohort
    from sirtkit.outcomes.synthetic import synthetic_cohort

    return write_cohort(synthetic_cohort(n_patients, rng=seed), p)


def write_cohort_examples(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the empty template ``cohort_template.xlsx`` and a synthetic ``cohort_example.xlsx`` into ``out_dir``."""
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise InputError(f"{d}: is a file; give a folder")
    d.mkdir(parents=True, exist_ok=True)
    from sirtkit.outcomes.cohort import write_template

    return [write_template(d / "cohort_template.xlsx"),
            write_synthetic_cohort(d / "cohort_example.xlsx", EXAMPLE_PATIENTS, EXAMPLE_SEED)]
