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

**Other beta emitters (Ho-166) from their spectrum** — the *scaled-kernel* method (Berger, MIRD Pamphlet
No. 7, 1971; Cross et al. 1992): the energy-deposition profile of a monoenergetic electron of energy E,
expressed in the scaled distance ``x = r / R_CSDA(E)``, is nearly independent of E in the 0.1–3 MeV
range, ``j_E(r) = F(r/R(E)) / R(E)``. A beta emitter's profile is then the energy-weighted sum over its
spectrum ``N(E)`` (ICRP-107 ``b-spectra``) plus its internal-conversion and Auger lines (ICRP-107)::

    j(r) = Σ_E  N(E)·E / Σ N·E  ×  F(r / R(E)) / R(E)

``R(E)`` is the CSDA range of electrons in liquid water (NIST ESTAR) at the kernel medium's density.
``F`` (non-negative, smooth, ``∫F dx`` = the absorbed fraction 0.998) is fitted once so that the Y-90
spectrum through this formula reproduces the Y-90 profile fitted to the Lanconelli tables; applying the
same ``F`` to another spectrum gives that nuclide's profile. Regenerate the Ho-166 profile with::

    python -m sirtkit.dosimetry._dpk_fit --ho166 src/sirtkit/data/vsv_ho166
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
    energy_per_mbq_s_mj,
    load_lanconelli_table,
)

__all__ = ["FIT_SETTINGS", "csda_range_mm", "fit_radial_profile", "fit_scaled_kernel", "spectral_profile",
           "spectrum_energy_weights"]

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
        target = table.s_mgy_per_mbq_s[centre:, centre:, centre:] * mass_kg / energy_per_mbq_s_mj("Y-90")
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


# CSDA ranges of electrons in liquid water, g/cm² (NIST ESTAR, Berger MJ et al., "ESTAR, PSTAR and ASTAR:
# computer programs for calculating stopping-power and range tables", NISTIR 4999 / online database),
# rounded to 4 digits. Interpolated log-log; the medium's range in mm is R / ρ × 10.
CSDA_RANGE_WATER_G_PER_CM2: tuple[tuple[float, float], ...] = (
    (0.001, 5.2e-6), (0.01, 2.515e-4), (0.02, 8.575e-4), (0.03, 1.761e-3), (0.04, 2.938e-3),
    (0.05, 4.320e-3), (0.06, 5.892e-3), (0.08, 9.536e-3), (0.1, 1.431e-2), (0.15, 2.817e-2),
    (0.2, 4.488e-2), (0.3, 8.421e-2), (0.4, 1.288e-1), (0.5, 1.766e-1), (0.6, 2.265e-1),
    (0.8, 3.289e-1), (1.0, 4.367e-1), (1.25, 5.723e-1), (1.5, 7.075e-1), (1.75, 8.429e-1),
    (2.0, 9.785e-1), (2.5, 1.249), (3.0, 1.514),
)
# Scaled-kernel grid: x = r/R_CSDA from 0 to 1.2 in steps of 0.02 (energy beyond 1.2 R_CSDA is
# bremsstrahlung, outside the profile).
SCALED_X_MAX = 1.2
SCALED_X_STEP = 0.02
_SCALED_SMOOTH = 1.0
_SPECTRUM_POINTS = 600


def csda_range_mm(energy_mev: np.ndarray, density_g_per_ml: float) -> np.ndarray:
    """CSDA range (mm) of electrons of ``energy_mev`` in a water-like medium of the given density."""
    table = np.array(CSDA_RANGE_WATER_G_PER_CM2)
    log_r = np.interp(np.log(np.maximum(energy_mev, table[0, 0])), np.log(table[:, 0]), np.log(table[:, 1]))
    return np.exp(log_r) / density_g_per_ml * 10.0


def spectrum_energy_weights(nuclide: str) -> tuple[np.ndarray, np.ndarray]:
    """``(energies_mev, energy_weights)`` of the electrons of ``nuclide`` (ICRP-107): the beta spectrum on a
    fine grid plus internal-conversion and Auger lines; weights are fractions of the emitted electron energy."""
    import icrp107_database as icrp  # test/developer dependency only

    spec = icrp.get_icrp107_spectrum(nuclide, "b-spectra")
    e_grid, density = np.asarray(spec["energies"], float), np.asarray(spec["weights"], float)
    fine = np.linspace(0.0, float(e_grid[-1]), _SPECTRUM_POINTS + 1)
    mid = 0.5 * (fine[1:] + fine[:-1])
    n_mid = np.interp(mid, e_grid, density)
    beta = icrp.get_icrp107_spectrum(nuclide, "beta-")
    beta_energy = float(np.dot(beta["energies"], beta["weights"]))  # MeV per decay, beta-minus
    n_mid = n_mid / float(np.sum(n_mid * mid)) * beta_energy  # spectrum scaled to the beta energy per decay
    energies, weights = [mid], [n_mid * mid]
    for kind in ("IE", "auger"):
        lines = icrp.get_icrp107_spectrum(nuclide, kind)
        energies.append(np.asarray(lines["energies"], float))
        weights.append(np.asarray(lines["energies"], float) * np.asarray(lines["weights"], float))
    e_all, w_all = np.concatenate(energies), np.concatenate(weights)
    return e_all, w_all / w_all.sum()


def _spectral_matrix(nuclide: str, edges_mm: np.ndarray, density: float) -> np.ndarray:
    """M[k, b]: fraction of the nuclide's electron energy deposited in radial bin k per unit F_b (Δx)."""
    energies, weights = spectrum_energy_weights(nuclide)
    ranges = csda_range_mm(energies, density)
    x_edges = np.arange(0.0, SCALED_X_MAX + 1e-9, SCALED_X_STEP)
    lo_r, hi_r = edges_mm[:-1], edges_mm[1:]
    matrix = np.zeros((len(lo_r), len(x_edges) - 1))
    for e_weight, rng in zip(weights, ranges, strict=True):
        lo_x, hi_x = lo_r / rng, hi_r / rng  # radial bin k in scaled units for this energy
        overlap = np.clip(np.minimum(hi_x[:, None], x_edges[None, 1:]) - np.maximum(lo_x[:, None], x_edges[None, :-1]),
                          0.0, None)
        matrix += e_weight * overlap
    return matrix


def fit_scaled_kernel() -> tuple[np.ndarray, np.ndarray]:
    """Fit the scaled monoenergetic profile ``F(x)`` so that the Y-90 spectrum reproduces the shipped Y-90
    soft-tissue profile; returns ``(x_edges, F)``."""
    from sirtkit.dosimetry.kernels import radial_energy_profile

    edges, profile = radial_energy_profile("soft", "Y-90")
    density = KERNEL_DENSITY_G_PER_ML["soft"]
    fraction = FIT_SETTINGS["soft"][3]
    matrix = _spectral_matrix("Y-90", np.asarray(edges), density)
    target = np.asarray(profile) * np.diff(edges)  # energy fraction per radial bin
    n = matrix.shape[1]
    weight = 1.0 / np.maximum(target, 1e-3 * target.max())
    penalty = np.diff(np.eye(n), 2, axis=0) * _SCALED_SMOOTH
    total = np.full((1, n), SCALED_X_STEP * _SUM_WEIGHT)
    a_matrix = np.vstack([matrix * weight[:, None], penalty, total])
    rhs = np.concatenate([target * weight, np.zeros(len(penalty)), [fraction * _SUM_WEIGHT]])
    scaled, _ = nnls(a_matrix, rhs, maxiter=50 * n)
    return np.arange(0.0, SCALED_X_MAX + 1e-9, SCALED_X_STEP), scaled


def spectral_profile(nuclide: str, radius_mm: float, bin_mm: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Radial energy-deposition profile ``j(r)`` (per mm) of ``nuclide`` in soft tissue by the scaled-kernel
    method; returns ``(edges_mm, profile_per_mm)``."""
    _, scaled = fit_scaled_kernel()
    edges = np.arange(0.0, radius_mm + 1e-9, bin_mm)
    matrix = _spectral_matrix(nuclide, edges, KERNEL_DENSITY_G_PER_ML["soft"])
    return edges, matrix @ scaled / np.diff(edges)


def _main_ho166(folder: str) -> None:  # pragma: no cover - developer tool
    from sirtkit.dosimetry.kernels import HO166_PROFILE_RADIUS_MM

    edges, profile = spectral_profile("Ho-166", HO166_PROFILE_RADIUS_MM)
    lines = [
        "# Ho-166 radial energy-deposition profile j(r), soft tissue (density 1.04 g/mL)",
        "# fraction of the electron energy per decay absorbed per mm of radius",
        "# scaled-kernel method from the ICRP-107 Ho-166 beta spectrum + IE/Auger lines (sirtkit.dosimetry._dpk_fit)",
        "r_low_mm,r_high_mm,profile_per_mm",
    ]
    lines += [f"{lo:.3f},{hi:.3f},{v:.8e}" for lo, hi, v in zip(edges[:-1], edges[1:], profile, strict=True)]
    Path(folder, "dpk_ho166_soft.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


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
    if sys.argv[1] == "--ho166":
        _main_ho166(sys.argv[2])
    else:
        _main(sys.argv[1])
