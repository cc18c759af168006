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

The ratio of the two and the peak memory of ``sirtkit cohort`` are printed against the goals of issue 9
(ratio ≤ 10 at 10 000 and 50 000 patients, peak memory < 1 GB at 50 000) as a Markdown table, with the load
average, then one JSON line with every number. Exit status 1 when a goal is missed.

``sirtkit cohort`` runs parts of its work in forked worker processes (``sirtkit._concurrent``), so its memory
is that of a process tree: the goal is checked on the **peak of the summed proportional set size (PSS)** of the
process and all its descendants, sampled every 50 ms from ``/proc/<pid>/smaps_rollup`` (shared pages counted
once). The largest single process (``wait4`` rusage ``ru_maxrss``, which covers reaped descendants too) is
printed beside it.

``--compare SRC`` also times a second source tree (``PYTHONPATH=SRC``, e.g. ``git archive main src`` unpacked)
in the same loop — baseline, compared tree, this tree, baseline — for before/after tables measured together.
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
_WRITE = ("import sys\nfrom sirtkit.workflows.cohort import write_synthetic_cohort\n"
          "write_synthetic_cohort(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))\n")


def _tree_pss_kb(root: int) -> int:
    """Summed ``Pss`` (KiB) of ``root`` and its descendants (Linux ``/proc``; 0 where unreadable)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    pids, total = [root], 0
    for pid in pids:  # grows while iterating: breadth-first over the tree
        pids.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
        except OSError:
            continue
    return total


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, int]:
    """Wall seconds, peak RSS of the largest process (GB), peak summed PSS of the process tree (GB), exit status."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak_pss = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak_pss = max(peak_pss, _tree_pss_kb(proc.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        print(err[-2000:], file=sys.stderr)
    # ru_maxrss is in KiB on Linux
    return wall, usage.ru_maxrss * 1024 / 1e9, peak_pss * 1024 / 1e9, proc.returncode


def bench_one(n: int, seed: int, *, pdf: bool, xlsx: bool, bootstrap: int, repeats: int,
              compare: str | None = None) -> list[dict[str, object]]:
    """Time baseline and ``sirtkit cohort`` for one cohort size (alternating, ``repeats`` times each).

    One row for this tree, and one first for the ``compare`` source tree when given.
    """
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / ("cohort.xlsx" if xlsx else "cohort")
        t = time.perf_counter()
        # Written by a child process: this process must stay small, because Linux reports as a child's peak
        # memory (ru_maxrss) at least the parent's resident size when it was forked — generating 50 000
        # patients here made every measured peak about 1 GB whatever sirtkit itself used.
        subprocess.run([sys.executable, "-c", _WRITE, str(src), str(n), str(seed)], check=True)
        t_write = time.perf_counter() - t
        base_cmd = [sys.executable, "-c", _READ_XLSX if xlsx else _READ_CSV, str(src)]
        cli = [sys.executable, "-c", _SIRTKIT, "cohort", str(src), "--out", str(Path(tmp) / "report"),
               "--bootstrap", str(bootstrap), "--json"] + ([] if pdf else ["--no-pdf"])
        trees: list[tuple[str, dict[str, str] | None]] = [("this tree", None)]
        if compare:
            trees.insert(0, (compare, {**os.environ, "PYTHONPATH": str(Path(compare).resolve())}))
        base: list[float] = []
        runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name, _ in trees}
        rc = 0
        for _ in range(repeats):
            base.append(_run(base_cmd)[0])
            for name, env in trees:
                runs[name].append(_run(cli, env))
            base.append(_run(base_cmd)[0])  # the baseline before and after each run: a loaded machine drifts
            base.append(_run(base_cmd)[0])
        size_mb = sum(p.stat().st_size for p in Path(src).rglob("*") if p.is_file()) / 1e6 if not xlsx else \
            src.stat().st_size / 1e6
    base_s = sorted(base)[len(base) // 2]
    rows = []
    for name, got in runs.items():
        walls = sorted(r[0] for r in got)
        full_s = walls[len(walls) // 2]
        rc = max(r[3] for r in got)
        rows.append({"code": name, "n_patients": n, "input": "xlsx" if xlsx else "csv", "input_mb": round(size_mb, 1),
                     "pdf": pdf, "bootstrap": bootstrap, "repeats": repeats,
                     "write_input_s (not timed)": round(t_write, 1), "read_with_pandas_s": round(base_s, 2),
                     "sirtkit_cohort_s": round(full_s, 2), "sirtkit_cohort_runs_s": [round(w, 2) for w in walls],
                     "ratio": round(full_s / base_s, 2), "peak_rss_gb": round(max(r[1] for r in got), 3),
                     "peak_pss_sum_gb": round(max(r[2] for r in got), 3), "exit_status": rc})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the Markdown table and the JSON line; 1 if a goal is missed."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--no-pdf", action="store_true")
    ap.add_argument("--xlsx", action="store_true", help="read from an .xlsx workbook instead of CSV files")
    ap.add_argument("--compare", metavar="SRC", help="also time this source tree (PYTHONPATH), in the same loop")
    args = ap.parse_args(argv)
    load_before = os.getloadavg()
    rows = [row for n in args.n for row in bench_one(n, args.seed, pdf=not args.no_pdf, xlsx=args.xlsx,
                                                     bootstrap=args.bootstrap, repeats=args.repeats,
                                                     compare=args.compare)]
    load_after = os.getloadavg()
    ok = True
    print("| patients | code | read CSVs with pandas (s) | whole `sirtkit cohort` (s) | ratio (goal ≤ 10) | "
          "peak memory, process tree PSS (GB) | largest process RSS (GB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ratio_ok = float(r["ratio"]) <= RATIO_GOAL and r["exit_status"] == 0  # type: ignore[arg-type]
        mem_goal = int(r["n_patients"]) < 50_000 or float(r["peak_pss_sum_gb"]) < PEAK_MEMORY_GOAL_GB  # type: ignore[call-overload,arg-type]
        if r["code"] == "this tree":
            ok &= ratio_ok and mem_goal
        mem_txt = f"{r['peak_pss_sum_gb']}" + (f" (goal < {PEAK_MEMORY_GOAL_GB:g}: {'met' if mem_goal else 'MISSED'})"
                                              if int(r["n_patients"]) >= 50_000 else "")  # type: ignore[call-overload]
        print(f"| {r['n_patients']} | {r['code']} | {r['read_with_pandas_s']} | {r['sirtkit_cohort_s']} "
              f"{r['sirtkit_cohort_runs_s']} | {r['ratio']} ({'met' if ratio_ok else 'MISSED'}) | {mem_txt} | "
              f"{r['peak_rss_gb']} |")
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} CPUs; "
          f"Python {platform.python_version()}")
    print(json.dumps({"rows": rows, "load_before": load_before, "load_after": load_after,
                      "cpus": os.cpu_count()}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
