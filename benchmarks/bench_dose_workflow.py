"""Benchmark: the whole ``sirtkit dose`` on the bundled Y-90 PET sample (256×256×89), stage by stage.

Target (issue "Medical images in, voxel dose out"): within 3 s on 2 cores, interpreter start and imports
excluded. Baseline measured in the same run: reading the PET and segmentation files alone (the I/O no
dosimetry tool can avoid), so the ratio says how much the dosimetry adds on top of reading the inputs.

Run from the repository root::

    .venv/bin/python benchmarks/bench_dose_workflow.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sirtkit.imaging import read_segmentation, read_volume, sample_path
from sirtkit.workflows.posttreatment import DoseCase, run_dose, write_dose_outputs

TARGET_S = 3.0


def _case() -> DoseCase:
    return DoseCase(emission=sample_path("patient_1_pet"), segmentation=sample_path("patient_1_seg"),
                    delivered_activity_gbq=1.4, voi_roles={"Normal Tissue": "normal_liver"}, engine="vsv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    case = _case()
    baseline, compute, write, total = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        run_dose(case)  # warm-up: kernel cache, lazy imports
        for i in range(args.repeats):
            t0 = time.perf_counter()
            read_segmentation(case.segmentation, reference=read_volume(case.emission))
            t1 = time.perf_counter()
            result = run_dose(case)
            t2 = time.perf_counter()
            write_dose_outputs(result, Path(tmp) / f"run{i}")
            t3 = time.perf_counter()
            baseline.append(t1 - t0)
            compute.append(t2 - t1)
            write.append(t3 - t2)
            total.append(t3 - t1)
    med = statistics.median
    print("| stage | median (s) |")
    print("|---|---|")
    print(f"| baseline: read PET + segmentation onto the PET grid | {med(baseline):.2f} |")
    print(f"| run_dose (read, quantify, VSV dose, DVHs, metrics, BED) | {med(compute):.2f} |")
    print(f"| write outputs (dose NRRD, CSV, JSON, 2 PNG, HTML) | {med(write):.2f} |")
    print(f"| **whole `sirtkit dose`** | **{med(total):.2f}** (target ≤ {TARGET_S:g} s; "
          f"{med(total) / med(baseline):.1f}× the input reading) |")


if __name__ == "__main__":
    main()
