"""Benchmark: a synthetic 10 000-patient cohort → full cohort report (HTML, optionally PDF).

Usage::

    .venv/bin/python benchmarks/bench_cohort.py --n 10000 --seed 1 [--no-pdf] [--xlsx] [--bootstrap 1000]

The synthetic cohort is written first (not timed) as a CSV folder (or .xlsx with ``--xlsx``); the timed part
is what ``sirtkit cohort DATA --out DIR`` does: read + validate, analyse, write tables, figures, HTML and PDF.
Prints one JSON line with the stage timings in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

from sirtkit.outcomes.analysis import analyse_cohort
from sirtkit.outcomes.cohort import read_cohort
from sirtkit.report.cohort import write_cohort_report
from sirtkit.workflows.cohort import write_synthetic_cohort


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the timings as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--no-pdf", action="store_true")
    ap.add_argument("--xlsx", action="store_true", help="read from an .xlsx workbook instead of CSV files")
    ap.add_argument("--limit-s", type=float, default=30.0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / ("cohort.xlsx" if args.xlsx else "cohort")
        t = time.perf_counter()
        write_synthetic_cohort(src, args.n, args.seed)
        t_write = time.perf_counter() - t
        t0 = time.perf_counter()
        data = read_cohort(src)
        t1 = time.perf_counter()
        analysis = analyse_cohort(data, n_bootstrap=args.bootstrap, rng=0)
        t2 = time.perf_counter()
        files = write_cohort_report(analysis, Path(tmp) / "report", pdf=not args.no_pdf, source=str(src))
        t3 = time.perf_counter()
        out = {
            "n_patients": data.n_patients, "n_lesions": len(data.lesions), "n_measurements": len(data.measurements),
            "input": "xlsx" if args.xlsx else "csv", "pdf": not args.no_pdf, "bootstrap": args.bootstrap,
            "write_input_s (not timed)": round(t_write, 2), "read_validate_s": round(t1 - t0, 2),
            "analyse_s": round(t2 - t1, 2), "report_s": round(t3 - t2, 2), "total_s": round(t3 - t0, 2),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "html_mb": round(files.html.stat().st_size / 1e6, 2),
        }
    print(json.dumps(out))
    return 0 if out["total_s"] <= args.limit_s else 1


if __name__ == "__main__":
    sys.exit(main())
