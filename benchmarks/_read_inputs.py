"""The floor of a dose command: a process that only reads its inputs onto the emission grid.

``python benchmarks/_read_inputs.py EMISSION.nrrd SEGMENTATION.seg.nrrd``: reads the emission image and
the (multi-layer) segmentation with pynrrd and NumPy only, and puts every segmentation layer onto the
emission grid by nearest neighbour — the least any dosimetry tool must do before it can compute a dose.
It does not import sirtkit, so the floor is the same whichever sirtkit version is measured against it.
"""

from __future__ import annotations

import sys

import nrrd
import numpy as np


def _affine(header: dict) -> tuple[np.ndarray, list[int]]:
    """4×4 C-order index (k, j, i) → LPS mm, and the header axes that are not spatial."""
    directions = np.asarray(header["space directions"], dtype=np.float64)
    spatial = [n for n, row in enumerate(directions) if np.all(np.isfinite(row))]
    non_spatial = [n for n in range(len(directions)) if n not in spatial]
    a = np.eye(4)
    for col, n in enumerate(reversed(spatial)):  # C order: slowest header axis first
        a[:3, col] = directions[n]
    a[:3, 3] = np.asarray(header["space origin"], dtype=np.float64)
    return a, non_spatial


def main() -> None:
    emission, header = nrrd.read(sys.argv[1], index_order="C")
    emission = np.asarray(emission, dtype=np.float32)
    e_aff, _ = _affine(header)
    labels, sheader = nrrd.read(sys.argv[2], index_order="C")
    s_aff, non_spatial = _affine(sheader)
    labels = np.moveaxis(labels, labels.ndim - 1 - non_spatial[0], 0) if non_spatial else labels[np.newaxis]
    t2s = np.linalg.inv(s_aff) @ e_aff  # emission index → segmentation index (axis-aligned samples)
    idx, valid = [], []
    for axis in range(3):
        coords = np.rint(t2s[axis, axis] * np.arange(emission.shape[axis]) + t2s[axis, 3]).astype(np.int64)
        ok = (coords >= 0) & (coords < labels.shape[axis + 1])
        idx.append(np.where(ok, coords, 0))
        valid.append(ok)
    inside = valid[0][:, None, None] & valid[1][None, :, None] & valid[2][None, None, :]
    on_grid = [np.where(inside, layer[np.ix_(*idx)], 0) for layer in labels]
    total = sum(int(np.count_nonzero(layer)) for layer in on_grid)
    print(emission.shape, len(on_grid), total)


if __name__ == "__main__":
    main()
