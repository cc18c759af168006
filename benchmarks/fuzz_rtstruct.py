"""Mutation fuzzer for the RTSTRUCT reader (issue 10): damaged structure sets must be read or refused.

Usage::

    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/fuzz_rtstruct.py [--n 10000] [--seed 0] [--slow-s 5]

A clean RTSTRUCT (liver with a hole on 9 planes, a tumour, two-island lungs, 40-point contours) is mutated
1–3 times per case: an element anywhere in the file deleted, a sequence emptied or duplicated, a value
replaced by damaged raw bytes written as VR UN (empty, NaN, ±inf, 1e400, text, binary, 70 KB of digits), or
one contour's points shuffled, shifted off its plane, tilted, or scaled by 1e6. Each case is read with
``read_rtstruct`` and put on a PET-like grid with ``load_segmentation``.

Outcome per case: *read* (masks), *refused* (an ``InputError``, message ≤ 600 characters) or *internal
error* (anything else, or a longer message); a case taking longer than ``--slow-s`` counts as a hang.
Prints a Markdown summary and one JSON line; exit status 1 on any internal error or hang.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.uid import generate_uid

from sirtkit.errors import InputError
from sirtkit.imaging import Volume, load_segmentation, read_rtstruct
from sirtkit.imaging.phantom import write_rtstruct_dicom

DAMAGED = [b"", b"nan", b"-inf", b"1e400", b"\\\\\\", b"abc", b"-1", b"0", b"1.2.3", b"\x00\xff" * 10, b"1" * 70000]
MAX_MESSAGE_CHARS = 600


def _circle(radius: float, z: float, centre: tuple[float, float] = (0.0, 0.0), n: int = 40) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.stack([centre[0] + radius * np.cos(t), centre[1] + radius * np.sin(t), np.full(n, z)], axis=1)


def _elements(ds: pydicom.Dataset) -> list[tuple[pydicom.Dataset, int]]:
    """(dataset, tag) of every element, sequences included, in pydicom's walk order."""
    out: list[tuple[pydicom.Dataset, int]] = []
    ds.walk(lambda parent, el: out.append((parent, el.tag)))
    return out


def _contour_items(ds: pydicom.Dataset) -> list[pydicom.Dataset]:
    return [c for roi in ds.get("ROIContourSequence") or [] for c in roi.get("ContourSequence") or []]


def _mutate(ds: pydicom.Dataset, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.25:
            items = _contour_items(ds)
            if not items:
                continue
            item = rng.choice(items)
            try:
                pts = np.asarray([float(v) for v in item.ContourData], dtype=np.float64).reshape(-1, 3)
            except Exception:
                continue
            how = rng.randrange(4)
            if how == 0:
                pts = pts[rng.sample(range(len(pts)), len(pts))]
            elif how == 1:
                pts[rng.randrange(len(pts)), 2] += rng.choice([0.1, 1.0, 50.0])
            elif how == 2:
                pts[:, 2] += 0.3 * pts[:, 1]
            else:
                pts *= 1e6
            item.ContourData = [f"{v:.6g}" for v in pts.ravel()]
            continue
        targets = _elements(ds)
        parent, tag = rng.choice(targets)
        if tag not in parent:
            continue
        if kind < 0.45:
            del parent[tag]
        elif parent[tag].VR == "SQ":
            parent[tag].value = [] if rng.random() < 0.5 else list(parent[tag].value) * 2
        else:
            value = rng.choice(DAMAGED)
            parent[tag] = RawDataElement(tag, "UN", len(value), value, 0, False, True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slow-s", type=float, default=5.0)
    parser.add_argument("--progress", type=int, default=0, help="print running counts every N cases (stderr)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    frame = generate_uid()
    ct = Volume.from_spacing(np.zeros((24, 48, 48), np.float32), (1.5, 1.0, 1.0), (-23.5, -23.5, -17.25),
                             frame_of_reference_uid=frame)
    pet = Volume.from_spacing(np.zeros((10, 14, 14), np.float32), (4.0, 4.0, 4.0), (-26.0, -26.0, -18.0),
                              frame_of_reference_uid=frame)
    planes = np.arange(-6.0, 6.1, 1.5)
    rois = {
        "Liver": [c for z in planes for c in (_circle(12.0, z), _circle(3.0, z, (4.0, 0.0)))],
        "Tumor": [_circle(3.0, z, (-5.0, -5.0)) for z in planes[2:6]],
        "Lungs": [c for z in planes for c in (_circle(4.0, z, (-15.0, 12.0)), _circle(4.0, z, (15.0, 12.0)))],
    }
    counts = {"read": 0, "refused": 0, "internal error": 0, "hang": 0}
    failures: list[str] = []
    longest = 0.0
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        source = write_rtstruct_dicom(Path(tmp) / "clean.dcm", rois, frame_of_reference_uid=frame)
        base = pydicom.dcmread(source)
        start = time.perf_counter()
        for n in range(args.n):
            ds = copy.deepcopy(base)
            try:
                _mutate(ds, rng)
                path = Path(tmp) / "case.dcm"
                ds.save_as(path)
            except Exception:
                continue  # pydicom cannot write this mutation: not an input a reader can meet
            t0 = time.perf_counter()
            try:
                read_rtstruct(path, images=[ct], search_folders=[])
                load_segmentation(path, pet, images=[ct])
                outcome = "read"
            except InputError as err:
                outcome = "refused" if len(str(err)) <= MAX_MESSAGE_CHARS else "internal error"
                if outcome != "refused":
                    failures.append(f"case {n}: message of {len(str(err))} characters")
            except Exception as err:
                outcome = "internal error"
                failures.append(f"case {n}: {type(err).__name__}: {str(err)[:200]}\n"
                                + "".join(traceback.format_exc(limit=4)))
            elapsed = time.perf_counter() - t0
            longest = max(longest, elapsed)
            if elapsed > args.slow_s:
                counts["hang"] += 1
                failures.append(f"case {n}: {elapsed:.1f} s")
            counts[outcome] += 1
            if args.progress and (n + 1) % args.progress == 0:
                print(json.dumps({"cases": n + 1, **counts, "longest_s": round(longest, 3)}), file=sys.stderr,
                      flush=True)
        total_s = time.perf_counter() - start
    print(f"| cases | read | refused (InputError) | internal errors | hangs (> {args.slow_s:g} s) | longest case |")
    print("|---|---|---|---|---|---|")
    print(f"| {sum(counts.values())} | {counts['read']} | {counts['refused']} | {counts['internal error']} | "
          f"{counts['hang']} | {longest:.2f} s |")
    for failure in failures[:20]:
        print(failure, file=sys.stderr)
    print(json.dumps({"seed": args.seed, **counts, "longest_s": round(longest, 3), "total_s": round(total_s, 1)}))
    return 1 if counts["internal error"] or counts["hang"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
