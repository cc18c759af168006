"""Benchmark: VSV dose of a 256³ activity map vs the bare FFT floor and a typical open-tool baseline.

Prints a Markdown table. Run from the repository root::

    .venv/bin/python benchmarks/bench_vsv.py            # 256³, 3 repeats (median)
    .venv/bin/python benchmarks/bench_vsv.py --n 128 --repeats 5

* floor: a bare float32 ``scipy.fft.rfftn`` → ``irfftn`` of the same padded size (``workers=-1``),
  measured in the same run — no convolution can be cheaper than one forward and one inverse transform.
* sirtkit: :func:`sirtkit.dosimetry.dose_vsv` (checks, kernel spectrum, product, crop, negative check).
* baseline: ``scipy.signal.fftconvolve(float64, mode="same")``, what open tools typically call.
* peak memory: maximum resident set size of a fresh subprocess that builds the input and runs one
  ``dose_vsv`` call, minus its RSS just before the call (``resource.getrusage``).
Targets (brief): ratio to the floor ≤ 1.3; peak memory of the VSV call ≤ 0.6 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
from scipy import fft as sp_fft
from scipy.signal import fftconvolve

from sirtkit.dosimetry import dose_vsv, get_kernel
from sirtkit.dosimetry.engines import _fft_shape
from sirtkit.imaging import Volume

SPACING_MM = (4.0, 4.0, 4.0)  # a Lanconelli table size (9³ kernel)


def _activity(n: int) -> Volume:
    rng = np.random.default_rng(0)
    arr = np.zeros((n, n, n), np.float32)
    c = n // 2
    arr[c // 2 : c + c // 2, c // 2 : c + c // 2, c // 2 : c + c // 2] = 1.0e5
    arr += rng.random(arr.shape, dtype=np.float32) * 1.0e4
    return Volume.from_spacing(arr, SPACING_MM, quantity="activity_concentration", unit="Bq/mL")


def _interleaved_times(
    fns: list[Callable[[], object]], repeats: int
) -> tuple[list[list[float]], list[list[float]]]:
    """Wall and process-CPU times of each function, ``repeats`` times interleaved (A B A B ...), so that
    load from other processes on a shared machine hits all of them alike; one warm-up call each first.
    CPU time (all threads) is far less sensitive to other processes than wall time."""
    for fn in fns:
        fn()
    wall: list[list[float]] = [[] for _ in fns]
    cpu: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[i].append(time.perf_counter() - start)
            cpu[i].append(time.process_time() - start_cpu)
    return wall, cpu


_MEMORY_PROBE = """
import json, sys, tracemalloc
sys.path.insert(0, {bench_dir!r})
from bench_vsv import _activity
from sirtkit.dosimetry import dose_vsv, get_kernel

def rss_kb(field):
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith(field)).split()[1])

act = _activity({n})
get_kernel(act.spacing_mm)
with open("/proc/self/clear_refs", "w") as f:  # reset the RSS high-water mark (Linux)
    f.write("5")
before = rss_kb("VmRSS:")
tracemalloc.start()
dose = dose_vsv(act)
_, peak_traced = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps({{"before_kb": before, "hwm_kb": rss_kb("VmHWM:"), "traced_b": peak_traced}}))
"""


def _peak_memory_gb(n: int) -> tuple[float, float]:
    """(peak RSS growth during the call, peak numpy/Python allocations traced) in GB."""
    code = _MEMORY_PROBE.format(bench_dir=os.path.dirname(os.path.abspath(__file__)), n=n)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return (data["hwm_kb"] - data["before_kb"]) / 1024**2, data["traced_b"] / 1024**3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="grid size per axis (default 256)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats, median reported (default 3)")
    parser.add_argument("--skip-baseline", action="store_true", help="skip scipy.signal.fftconvolve float64")
    args = parser.parse_args()

    act = _activity(args.n)
    kernel = get_kernel(act.spacing_mm)
    fshape = _fft_shape(act.shape, kernel.shape)
    arr32 = np.asarray(act.array, np.float32)

    def floor() -> object:
        spec = sp_fft.rfftn(arr32, s=fshape, workers=-1)
        return sp_fft.irfftn(spec, s=fshape, workers=-1, overwrite_x=True)

    arr64 = arr32.astype(np.float64)
    k64 = kernel.s_mgy_per_mbq_s
    fns: list[Callable[[], object]] = [floor, lambda: dose_vsv(act)]
    if not args.skip_baseline:
        fns.append(lambda: fftconvolve(arr64, k64, mode="same"))
    times, cpu = _interleaved_times(fns, args.repeats)
    t_floor, t_vsv = statistics.median(times[0]), statistics.median(times[1])
    t_base = statistics.median(times[2]) if not args.skip_baseline else float("nan")
    ratios = [v / f for f, v in zip(times[0], times[1], strict=True)]
    rss_gb, traced_gb = _peak_memory_gb(args.n)

    print(f"VSV benchmark: {args.n}³ float32 activity, kernel {kernel.shape} ({kernel.source}), "
          f"padded FFT shape {fshape}, {os.cpu_count()} CPUs, median of {args.repeats}")
    print()
    c_floor, c_vsv = statistics.median(cpu[0]), statistics.median(cpu[1])
    c_base = statistics.median(cpu[2]) if not args.skip_baseline else float("nan")
    print("| step | wall median (s) | wall min (s) | ratio to floor (wall median / min) | CPU median (s) | ratio (CPU) |")
    print("|---|---|---|---|---|---|")
    print(f"| floor: bare float32 rfftn→irfftn {fshape} | {t_floor:.3f} | {min(times[0]):.3f} | 1.00 / 1.00 "
          f"| {c_floor:.3f} | 1.00 |")
    print(f"| sirtkit dose_vsv (float32) | {t_vsv:.3f} | {min(times[1]):.3f} | {t_vsv / t_floor:.2f} / "
          f"{min(times[1]) / min(times[0]):.2f} | {c_vsv:.3f} | {c_vsv / c_floor:.2f} |")
    if not args.skip_baseline:
        print(f"| scipy.signal.fftconvolve float64 'same' | {t_base:.3f} | {min(times[2]):.3f} | "
              f"{t_base / t_floor:.2f} / {min(times[2]) / min(times[0]):.2f} | {c_base:.3f} | {c_base / c_floor:.2f} |")
    print(f"\nPaired wall ratios (VSV/floor, same repeat): median {statistics.median(ratios):.2f}")
    print()
    peak_gb = max(rss_gb, traced_gb)
    print(f"Peak memory of one dose_vsv call (fresh process, input {arr32.nbytes / 1024**3:.3f} GB excluded): "
          f"RSS high-water growth {rss_gb:.3f} GB, traced allocations {traced_gb:.3f} GB; target ≤ 0.6 GB")
    ratio = c_vsv / c_floor
    print(f"Targets: ratio (CPU median) ≤ 1.3 → {'met' if ratio <= 1.3 else 'NOT met'}; "
          f"memory ≤ 0.6 GB → {'met' if peak_gb <= 0.6 else 'NOT met'}")


if __name__ == "__main__":
    main()
