"""Whole-process timing shared by the command benchmarks (``bench_dose_workflow.py``, ``bench_startup.py``).

Each candidate is a complete process (interpreter start, imports, work, interpreter exit), started with
``subprocess`` and reaped with ``os.wait4`` so that its own peak RSS is known. Candidates run interleaved
(A B C, A B C, ...) so that the load of a shared machine hits them alike; ratios are the median of the
per-round ratios (paired), which is steadier than the ratio of medians on a noisy machine.

``--before-src DIR`` runs the same commands against a second source tree (for example a ``git archive``
of the code before a change) in the same rounds, so that "before" and "after" are measured side by side.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["REPO", "Candidate", "Timing", "load_average", "paired_ratio", "run_rounds", "sirtkit_argv"]

REPO = Path(__file__).resolve().parents[1]

# What the installed ``sirtkit`` console script runs (see pyproject.toml [project.scripts]).
_SIRTKIT_ENTRY = "import sys; sys.argv[0] = 'sirtkit'; from sirtkit.cli import main; sys.exit(main())"


def sirtkit_argv(*args: str) -> list[str]:
    """argv of a ``sirtkit ...`` process run by this interpreter (as the console script does)."""
    return [sys.executable, "-c", _SIRTKIT_ENTRY, *args]


@dataclass
class Candidate:
    """One process to time: its argv, the sirtkit source tree on PYTHONPATH, accepted exit statuses."""

    label: str
    argv: Sequence[str]
    src: Path = REPO / "src"
    ok_status: tuple[int, ...] = (0,)
    env: Mapping[str, str] = field(default_factory=dict)  # added to the environment (e.g. SIRTKIT_SERIAL=1)


@dataclass
class Timing:
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)  # user + system CPU time of the process
    peak_rss_mb: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def median_cpu_s(self) -> float:
        return statistics.median(self.cpu_s)

    @property
    def peak_mb(self) -> float:
        return max(self.peak_rss_mb)


def load_average() -> str:
    """The 1/5/15-minute load averages and the CPU count, for the record."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def _run_once(candidate: Candidate, cwd: Path) -> tuple[float, float, float]:
    env = {**os.environ, "PYTHONPATH": str(candidate.src), "MPLBACKEND": "Agg", "COLUMNS": "100", **candidate.env}
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(candidate.argv), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode not in candidate.ok_status:
        raise SystemExit(f"{candidate.label}: exit {proc.returncode}\n{err[-3000:]}")
    # CPU time (user + system) is disturbed far less than wall time by other processes on a shared machine
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0  # ru_maxrss: KiB on Linux


def run_rounds(candidates: Sequence[Candidate], repeats: int, cwd: Path, *, warmup: int = 1) -> dict[str, Timing]:
    """Time every candidate ``repeats`` times, interleaved, after ``warmup`` untimed rounds (disk cache)."""
    out = {c.label: Timing() for c in candidates}
    for n in range(warmup + repeats):
        for c in candidates:
            wall, cpu, rss = _run_once(c, cwd)
            if n >= warmup:
                out[c.label].wall_s.append(wall)
                out[c.label].cpu_s.append(cpu)
                out[c.label].peak_rss_mb.append(rss)
    return out


def paired_ratio(timings: Mapping[str, Timing], label: str, baseline: str, *, cpu: bool = False) -> float:
    """Median over rounds of (candidate time / baseline time in the same round); wall or CPU time."""
    a = timings[label].cpu_s if cpu else timings[label].wall_s
    b = timings[baseline].cpu_s if cpu else timings[baseline].wall_s
    return statistics.median(x / y for x, y in zip(a, b, strict=True))
