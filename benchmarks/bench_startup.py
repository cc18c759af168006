"""Benchmark: start-up of the ``sirtkit`` command line (whole processes).

Target (issue 9): ``sirtkit --help`` and ``sirtkit workup`` each start (and finish) in under **0.5 s**
— a command imports only what it uses. Measured with the bare interpreter (``python -c pass``) in the
same interleaved rounds, so the share of Python's own start-up is visible; the module count is that of
``sys.modules`` at exit (``-X importtime`` in ``docs/benchmarks.md`` says where the time goes).

Run from the repository root::

    .venv/bin/python benchmarks/bench_startup.py --repeats 9
    .venv/bin/python benchmarks/bench_startup.py --repeats 9 --before-src /tmp/before/src
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _wholeproc import REPO, Candidate, load_average, paired_ratio, run_rounds, sirtkit_argv

GOAL_S = 0.5  # issue 9: `sirtkit --help` and `sirtkit workup` start in under 0.5 s

PATIENT = REPO / "examples" / "patients" / "nelm_eligible_midgut.yaml"
_COMMANDS: dict[str, list[str]] = {
    "sirtkit --help": ["--help"],
    "sirtkit workup PATIENT": ["workup", str(PATIENT)],
    "sirtkit dose --help": ["dose", "--help"],
}
_GOALS = ("sirtkit --help", "sirtkit workup PATIENT")
_COUNT = ("import sys; sys.argv = ['sirtkit', *sys.argv[1:]]\n"
          "from sirtkit.cli import main\n"
          "try:\n    main()\nexcept SystemExit:\n    pass\n"
          "sys.__stderr__.write(f'MODULES {len(sys.modules)}\\n')")


def _module_count(args: list[str], src: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run([sys.executable, "-c", _COUNT, *args], env=env, capture_output=True, text=True,
                          check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES ")]
    return int(lines[-1].split()[1]) if lines else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before-src", type=Path, default=None,
                        help="a second sirtkit source tree (…/src) measured in the same rounds")
    args = parser.parse_args()
    print(f"_{load_average()} (before the run)_\n")
    trees = {"": REPO / "src"} | ({" (before)": args.before_src} if args.before_src else {})
    cands = [Candidate("python -c pass", [sys.executable, "-c", "pass"])]
    for suffix, src in trees.items():
        cands += [Candidate(label + suffix, sirtkit_argv(*argv), src=src) for label, argv in _COMMANDS.items()]
    with tempfile.TemporaryDirectory() as tmp:
        timings = run_rounds(cands, args.repeats, Path(tmp))
    print("| process | median wall (s) | min wall (s) | median CPU (s) | modules imported | peak RSS (MB) "
          "| × bare interpreter |")
    print("|---|---|---|---|---|---|---|")
    for c in cands:
        t = timings[c.label]
        cmd = next((argv for label, argv in _COMMANDS.items() if c.label.startswith(label)), None)
        modules = _module_count(cmd, c.src) if cmd is not None else "—"
        print(f"| {c.label} | {t.median_s:.3f} | {min(t.wall_s):.3f} | {t.median_cpu_s:.3f} | {modules} | {t.peak_mb:.0f} | "
              f"{paired_ratio(timings, c.label, 'python -c pass'):.1f}× |")
    print()
    for label in _GOALS:
        t, cpu = timings[label].median_s, timings[label].median_cpu_s
        print(f"- `{label}`: **{t:.2f} s** wall, {cpu:.2f} s CPU (goal < {GOAL_S:g} s: "
              f"{'met' if t < GOAL_S else 'NOT met'} on wall time{'' if t < GOAL_S or cpu >= GOAL_S else '; met on CPU time'})")
    print(f"\n_{load_average()} (after the run)_")


if __name__ == "__main__":
    main()
