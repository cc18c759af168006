"""Benchmark: the whole ``sirtkit cohort`` process on a synthetic CSV cohort, against reading its CSVs with pandas.

Usage::

    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/bench_cohort.py [--n 10000 50000] [--seed 1] [--no-pdf]
        [--xlsx] [--bootstrap 1000] [--repeats 1]

For each size the synthetic cohort is written first (not timed) as a CSV folder (or ``.xlsx`` with ``--xlsx``).
Then, in the same run and alternating, two fresh processes are timed as whole processes (interpreter start
included in both):

* baseline: ``python -c "import pandas; pandas.read_csv(f) for every <table>.csv"`` — reading the input, the
  part no cohort tool can skip (run three times around each ``sirtkit cohort`` run; the median is used);
* ``sirtkit cohort DATA --out DIR`` (read + validate, analyse, tables, figures, HTML and PDF).

The ratio of the two and the peak resident memory of the ``sirtkit cohort`` process (``wait4`` rusage,
``ru_maxrss``) are printed against the goals of issue 9 (ratio ≤ 10 at 10 000 and 50 000 patients, peak
memory < 1 GB at 50 000) as a Markdown table, with the load average, then one JSON line with every number.
Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

#: Goals of issue 9: whole ``sirtkit cohort`` within this ratio of reading its CSVs with pandas.
RATIO_GOAL = 10.0
#: Goal of issue 9: peak memory of ``sirtkit cohort`` at 50 000 patients (GB).
PEAK_MEMORY_GOAL_GB = 1.0

_READ_CSV = ("import sys, pandas as pd\n"
             "from pathlib import Path\n"
             "for f in sorted(Path(sys.argv[1]).glob('*.csv')): pd.read_csv(f)\n")
_READ_XLSX = "import sys, pandas as pd\npd.read_excel(sys.argv[1], sheet_name=None, engine='calamine')\n"
_SIRTKIT = "import sys\nfrom sirtkit.cli import main\nsys.argv = ['sirtkit', *sys.argv[1:]]\nmain()\n"


def _run(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (GB) and exit status of one child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        print(err[-2000:], file=sys.stderr)
    return wall, usage.ru_maxrss * 1024 / 1e9, proc.returncode  # ru_maxrss is in KiB on Linux


def bench_one(n: int, seed: int, *, pdf: bool, xlsx: bool, bootstrap: int, repeats: int) -> dict[str, object]:
    """Time baseline and ``sirtkit cohort`` for one cohort size (alternating, ``repeats`` times each)."""
    from sirtkit.workflows.cohort import write_synthetic_cohort

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / ("cohort.xlsx" if xlsx else "cohort")
        t = time.perf_counter()
        write_synthetic_cohort(src, n, seed)
        t_write = time.perf_counter() - t
        base_cmd = [sys.executable, "-c", _READ_XLSX if xlsx else _READ_CSV, str(src)]
        cli = [sys.executable, "-c", _SIRTKIT, "cohort", str(src), "--out", str(Path(tmp) / "report"),
               "--bootstrap", str(bootstrap), "--json"] + ([] if pdf else ["--no-pdf"])
        base, full, rss, rc = [], [], [], 0
        for _ in range(repeats):
            b = _run(base_cmd)
            f = _run(cli)
            b2 = _run(base_cmd)  # the baseline before and after each run: a loaded machine drifts
            b3 = _run(base_cmd)
            base.extend([b[0], b2[0], b3[0]])
            full.append(f[0])
            rss.append(f[1])
            rc = rc or f[2] or b[2]
        size_mb = sum(p.stat().st_size for p in Path(src).rglob("*") if p.is_file()) / 1e6 if not xlsx else \
            src.stat().st_size / 1e6
    base_s, full_s = sorted(base)[len(base) // 2], sorted(full)[len(full) // 2]
    return {"n_patients": n, "input": "xlsx" if xlsx else "csv", "input_mb": round(size_mb, 1), "pdf": pdf,
            "bootstrap": bootstrap, "repeats": repeats, "write_input_s (not timed)": round(t_write, 1),
            "read_with_pandas_s": round(base_s, 2), "sirtkit_cohort_s": round(full_s, 2),
            "ratio": round(full_s / base_s, 2), "peak_rss_gb": round(max(rss), 3), "exit_status": rc}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the Markdown table and the JSON line; 1 if a goal is missed."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--no-pdf", action="store_true")
    ap.add_argument("--xlsx", action="store_true", help="read from an .xlsx workbook instead of CSV files")
    args = ap.parse_args(argv)
    load_before = os.getloadavg()
    rows = [bench_one(n, args.seed, pdf=not args.no_pdf, xlsx=args.xlsx, bootstrap=args.bootstrap,
                      repeats=args.repeats) for n in args.n]
    load_after = os.getloadavg()
    ok = True
    print("| patients | read CSVs with pandas (s) | whole `sirtkit cohort` (s) | ratio (goal ≤ 10) | "
          "peak memory (GB) |")
    print("|---|---|---|---|---|")
    for r in rows:
        ratio_ok = float(r["ratio"]) <= RATIO_GOAL and r["exit_status"] == 0  # type: ignore[arg-type]
        mem_goal = int(r["n_patients"]) < 50_000 or float(r["peak_rss_gb"]) < PEAK_MEMORY_GOAL_GB  # type: ignore[call-overload,arg-type]
        ok &= ratio_ok and mem_goal
        mem_txt = f"{r['peak_rss_gb']}" + (f" (goal < {PEAK_MEMORY_GOAL_GB:g}: {'met' if mem_goal else 'MISSED'})"
                                          if int(r["n_patients"]) >= 50_000 else "")  # type: ignore[call-overload]
        print(f"| {r['n_patients']} | {r['read_with_pandas_s']} | {r['sirtkit_cohort_s']} | {r['ratio']} "
              f"({'met' if ratio_ok else 'MISSED'}) | {mem_txt} |")
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} CPUs; "
          f"Python {platform.python_version()}")
    print(json.dumps({"rows": rows, "load_before": load_before, "load_after": load_after,
                      "cpus": os.cpu_count()}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
