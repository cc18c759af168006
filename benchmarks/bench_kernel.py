"""Benchmark: Y-90 S-value kernel generation for a new grid spacing (cold) and from the cache (warm).

Prints a Markdown table. Run from the repository root::

    .venv/bin/python benchmarks/bench_kernel.py

Target (brief): ≤ 0.5 s for a new spacing. "cold" clears the kernel cache before each call (the
fitted radial profile, a 4 kB CSV, stays loaded after the first call); "first" is the very first
call of the process including reading that profile.
"""

from __future__ import annotations

import statistics
import time

from sirtkit.dosimetry.kernels import _generate_cached, generate_kernel

SPACINGS_MM: list[tuple[float, float, float]] = [
    (3.27, 2.73, 2.73),  # typical Y-90 PET (Siemens Biograph, 2.73 mm in-plane)
    (2.0, 2.0, 2.0),  # high-resolution PET
    (4.42, 4.42, 4.42),  # SPECT 128² (also a table size)
    (4.795, 4.795, 4.795),  # SPECT, just outside the 4.8 mm table tolerance
    (5.0, 3.9, 3.9),  # anisotropic
    (1.5, 1.5, 1.5),  # sub-table resolution (extrapolated profile)
]
REPEATS = 5


def main() -> None:
    start = time.perf_counter()
    generate_kernel((3.333, 3.333, 3.333))
    first = time.perf_counter() - start
    print(f"First call in the process (includes loading the fitted profile): {first:.3f} s\n")
    print("| spacing (mm) | kernel shape | cold median (s) | cold max (s) | warm (µs) | target 0.5 s |")
    print("|---|---|---|---|---|---|")
    for spacing in SPACINGS_MM:
        cold = []
        for _ in range(REPEATS):
            _generate_cached.cache_clear()
            start = time.perf_counter()
            kernel = generate_kernel(spacing)
            cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(1000):
            generate_kernel(spacing)
        warm_us = (time.perf_counter() - start) / 1000 * 1e6
        ok = "met" if statistics.median(cold) <= 0.5 else "NOT met"
        print(f"| {' × '.join(f'{s:g}' for s in spacing)} | {kernel.shape} | {statistics.median(cold):.3f} | "
              f"{max(cold):.3f} | {warm_us:.1f} | {ok} |")


if __name__ == "__main__":
    main()
