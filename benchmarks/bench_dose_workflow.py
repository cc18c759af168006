"""Benchmark: whole ``sirtkit dose`` and ``sirtkit predict`` processes against reading their inputs.

Target (issue 9, "As fast as the data allows"): the whole ``sirtkit dose`` on the bundled Y-90 PET sample,
and the whole ``sirtkit predict`` on the bundled MAA SPECT sample, each within **1.5×** of a process that
only reads the emission image and the segmentation onto the emission grid. Whole processes: interpreter
start, imports, work, writing every output file, interpreter exit.

Measured side by side, interleaved, in one run (``_wholeproc.py``):

* **read (sirtkit)** — the baseline of the goal: a fresh interpreter that calls
  ``read_volume(emission)`` and ``read_segmentation(segmentation, reference=emission)`` and exits (the
  same readers, and the same partial-volume mask rule, the command uses);
* **floor (pynrrd)** — for the record: pynrrd + NumPy only, nearest-neighbour layers onto the emission
  grid (``_read_inputs.py``); it does not import sirtkit, so it is the same for every version measured;
* the command itself, writing all its files to a temporary folder;
* the same command with ``SIRTKIT_SERIAL=1`` (no read-ahead, background imports or figure process: what
  the second core buys).

``--before-src DIR`` adds the same read and command processes run against another source tree (for
example ``git archive <commit> src | tar -x -C /tmp/before``), measured in the same rounds.

Run from the repository root::

    .venv/bin/python benchmarks/bench_dose_workflow.py --repeats 7
    .venv/bin/python benchmarks/bench_dose_workflow.py --repeats 7 --before-src /tmp/before/src
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _wholeproc import REPO, Candidate, load_average, paired_ratio, run_rounds, sirtkit_argv

GOAL_RATIO = 1.5  # issue 9: whole command within 1.5× of reading its inputs

SAMPLES = REPO / "src" / "sirtkit" / "data" / "samples"
_COMMANDS = {
    # command: (emission, segmentation, extra arguments) — the commands of docs/dose.md
    "dose": (SAMPLES / "patient_1_pet.nrrd", SAMPLES / "patient_1_seg.seg.nrrd",
             ["--delivered-activity-gbq", "1.4", "--voi-role", "Normal Tissue=normal_liver"]),
    "predict": (SAMPLES / "patient_2_spect.nrrd", SAMPLES / "patient_2_seg.seg.nrrd",
                ["--device", "glass", "--intent", "palliative", "--lung-shunt-fraction", "0.06"]),
}
_READ = ("import sys; from sirtkit.imaging import read_segmentation, read_volume; "
         "v = read_volume(sys.argv[1]); read_segmentation(sys.argv[2], reference=v)")


def _candidates(command: str, out: Path, before: Path | None) -> list[Candidate]:
    emission, seg, extra = _COMMANDS[command]
    run = [command, str(emission), "-s", str(seg), *extra]
    ok = (0, 1) if command == "predict" else (0,)  # predict exits 1 when a hard limit fails (not on the sample)
    cands = [
        Candidate(f"{command}: floor (pynrrd)", [sys.executable, str(REPO / "benchmarks" / "_read_inputs.py"),
                                                 str(emission), str(seg)]),
        Candidate(f"{command}: read (sirtkit)", [sys.executable, "-c", _READ, str(emission), str(seg)]),
        Candidate(f"{command}: sirtkit {command}", sirtkit_argv(*run, "-o", str(out / "after")), ok_status=ok),
        Candidate(f"{command}: sirtkit {command} (serial)", sirtkit_argv(*run, "-o", str(out / "serial")),
                  ok_status=ok, env={"SIRTKIT_SERIAL": "1"}),
    ]
    if before is not None:
        cands += [
            Candidate(f"{command}: read (sirtkit, before)", [sys.executable, "-c", _READ, str(emission), str(seg)],
                      src=before),
            Candidate(f"{command}: sirtkit {command} (before)", sirtkit_argv(*run, "-o", str(out / "before")),
                      src=before, ok_status=ok),
        ]
    return cands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--commands", nargs="+", choices=sorted(_COMMANDS), default=["dose", "predict"])
    parser.add_argument("--before-src", type=Path, default=None,
                        help="a second sirtkit source tree (…/src) measured in the same rounds")
    args = parser.parse_args()
    print(f"_{load_average()} (before the run)_\n")
    with tempfile.TemporaryDirectory() as tmp:
        cands = [c for cmd in args.commands for c in _candidates(cmd, Path(tmp) / cmd, args.before_src)]
        timings = run_rounds(cands, args.repeats, Path(tmp))
    print("| process | median wall (s) | median CPU (s) | peak RSS (MB) | ratio to read (sirtkit): wall | CPU |")
    print("|---|---|---|---|---|---|")
    for cmd in args.commands:
        for c in (c for c in cands if c.label.startswith(f"{cmd}:")):
            base = f"{cmd}: read (sirtkit, before)" if "before)" in c.label else f"{cmd}: read (sirtkit)"
            t = timings[c.label]
            ratio = paired_ratio(timings, c.label, base)
            cpu = paired_ratio(timings, c.label, base, cpu=True)
            print(f"| {c.label} | {t.median_s:.2f} | {t.median_cpu_s:.2f} | {t.peak_mb:.0f} | {ratio:.2f}× | {cpu:.2f}× |")
    print()
    for cmd in args.commands:
        ratio = paired_ratio(timings, f"{cmd}: sirtkit {cmd}", f"{cmd}: read (sirtkit)")
        cpu = paired_ratio(timings, f"{cmd}: sirtkit {cmd}", f"{cmd}: read (sirtkit)", cpu=True)
        floor = paired_ratio(timings, f"{cmd}: sirtkit {cmd}", f"{cmd}: floor (pynrrd)")
        verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
        print(f"- whole `sirtkit {cmd}` / reading its inputs: **{ratio:.2f}×** wall (goal ≤ {GOAL_RATIO:g}×: "
              f"{verdict}), {cpu:.2f}× CPU; / pynrrd floor: {floor:.2f}× wall")
        if args.before_src is not None:
            old = paired_ratio(timings, f"{cmd}: sirtkit {cmd}", f"{cmd}: read (sirtkit, before)")
            was = paired_ratio(timings, f"{cmd}: sirtkit {cmd} (before)", f"{cmd}: read (sirtkit, before)")
            print(f"  - against reading as it was before (the issue's baseline): {old:.2f}× (before: {was:.2f}×)")
    print(f"\n_{load_average()} (after the run)_")


if __name__ == "__main__":
    main()
