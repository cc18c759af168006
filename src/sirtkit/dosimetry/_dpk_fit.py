"""Private: fit the Y-90 radial energy-deposition profile ``j(r)`` to the Lanconelli 2012 tables.

The voxel S-value is linear in ``j``: with ``j`` piecewise constant on radial bins, every table entry
is ``S(c; h) · ρ · h³ / E_mean = Σ_b j_b · B_b(c; h)`` where ``B_b`` is the trilinear splat of bin ``b``
(:func:`sirtkit.dosimetry._radial.splat_radial_profile`). The fit is a non-negative least-squares
problem over all 13 voxel sizes at once, in relative error (entries above 1e-4 of S000; S000 and S001
weighted ×5), with a second-difference smoothness penalty and a constraint that ``∫ j dr`` equals the
absorbed fraction of the tables themselves (Σ S·m / E_mean: 0.998 soft tissue, 0.9995 compact bone;
the rest is bremsstrahlung escaping the 11×11×11 tables).

Regenerate the shipped profiles (a few seconds)::

    python -m sirtkit.dosimetry._dpk_fit src/sirtkit/data/vsv_lanconelli_y90
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from sirtkit.dosimetry._radial import splat_radial_profile
from sirtkit.dosimetry.kernels import (
    KERNEL_DENSITY_G_PER_ML,
    LANCONELLI_VOXEL_SIZES_MM,
    _energy_per_mbq_s_mj,
    load_lanconelli_table,
)

__all__ = ["FIT_SETTINGS", "fit_radial_profile"]

# tissue: (radius_mm, bin_mm, smoothness weight, absorbed fraction within the profile)
FIT_SETTINGS: dict[str, tuple[float, float, float, float]] = {
    "soft": (12.0, 0.25, 0.3, 0.998),
    "bone": (8.0, 0.2, 0.3, 0.9995),
}
_OCTANT = 6
_RELATIVE_FLOOR = 1e-4
_NEAR_WEIGHT = 5.0
_SUM_WEIGHT = 200.0


def fit_radial_profile(tissue: str) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``j(r)`` for ``tissue`` to all 13 tables; returns ``(edges_mm, profile_per_mm)``."""
    radius, width, smooth, fraction = FIT_SETTINGS[tissue]
    edges = np.arange(0.0, radius + 1e-9, width)
    n_bins = len(edges) - 1
    rows: list[np.ndarray] = []
    targets: list[float] = []
    for size in LANCONELLI_VOXEL_SIZES_MM:
        table = load_lanconelli_table(size, tissue)  # type: ignore[arg-type]
        mass_kg = size**3 / 1.0e6 * KERNEL_DENSITY_G_PER_ML[tissue]
        centre = table.centre[0]
        target = table.s_mgy_per_mbq_s[centre:, centre:, centre:] * mass_kg / _energy_per_mbq_s_mj()
        basis = []
        for b in range(n_bins):
            unit = np.zeros(n_bins)
            unit[b] = 1.0
            splat = splat_radial_profile(edges, unit, (size, size, size), radius)
            m = splat.shape[0] // 2
            block = np.zeros((_OCTANT,) * 3)
            part = splat[m : m + _OCTANT, m : m + _OCTANT, m : m + _OCTANT]
            block[: part.shape[0], : part.shape[1], : part.shape[2]] = part
            basis.append(block)
        stack = np.stack(basis, axis=-1)
        for idx in np.ndindex(*(_OCTANT,) * 3):
            if idx != tuple(sorted(idx)) or target[idx] < _RELATIVE_FLOOR * target[0, 0, 0]:
                continue
            weight = 1.0 / target[idx] * (_NEAR_WEIGHT if idx in ((0, 0, 0), (0, 0, 1)) else 1.0)
            rows.append(stack[idx] * weight)
            targets.append(float(target[idx] * weight))
    penalty = np.diff(np.eye(n_bins), 2, axis=0) * smooth
    total = np.full((1, n_bins), width * _SUM_WEIGHT)
    a_matrix = np.vstack([np.array(rows), penalty, total])
    rhs = np.concatenate([np.array(targets), np.zeros(len(penalty)), [fraction * _SUM_WEIGHT]])
    profile, _ = nnls(a_matrix, rhs, maxiter=20 * n_bins)
    return edges, profile


def _main(folder: str) -> None:  # pragma: no cover - developer tool
    for tissue in FIT_SETTINGS:
        edges, profile = fit_radial_profile(tissue)
        lines = [
            f"# Y-90 radial energy-deposition profile j(r), {tissue} tissue "
            f"(density {KERNEL_DENSITY_G_PER_ML[tissue]} g/mL)",
            "# fraction of the mean emitted beta energy (ICRP-107 0.932905 MeV) absorbed per mm of radius",
            "# fitted to the 13 Lanconelli 2012 tables by sirtkit.dosimetry._dpk_fit (non-negative least squares)",
            "r_low_mm,r_high_mm,profile_per_mm",
        ]
        lines += [f"{lo:.3f},{hi:.3f},{v:.8e}" for lo, hi, v in zip(edges[:-1], edges[1:], profile, strict=True)]
        Path(folder, f"dpk_fit_{tissue}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    _main(sys.argv[1])
