"""Private: turn a radial energy-deposition profile into voxel S-values (trilinear splatting).

For a uniform source voxel and a target voxel on an orthogonal grid of spacing ``h``, the mean
energy fraction absorbed in the target voxel is ``f(c) = ∫ p(w) g(w − c) dw``, where ``p`` is the
point-source energy-deposition density and ``g(u) = Π_i max(0, 1 − |u_i|/h_i)`` is the overlap of a
voxel with its shifted copy (the autocorrelation of two boxes). ``g`` is exactly the trilinear
interpolation "hat": averaging over sample points ``x ~ p`` and splatting each one trilinearly onto
the voxel-centre lattice gives ``f`` for every offset at once, and ``Σ_c g(x − c) = 1`` means the
absorbed energy is conserved exactly by construction.

The radial profile is ``j(r)`` (fraction of the emitted energy absorbed per mm of radius). Points
are placed on spherical shells (radial midpoint rule) with Fibonacci directions, a fixed seeded
rotation per shell (no randomness between runs), and the result is symmetrised over the reflections
(and, for isotropic grids, permutations) of the grid.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["splat_radial_profile"]

# Sampling density: shells at most this thick (mm) and at most a quarter of the smallest spacing;
# directions per shell so that the sphere gets about this many points per voxel face (h_min²).
_MAX_SHELL_MM = 0.05
_POINTS_PER_FACE = 6.0
_MIN_DIRECTIONS = 64
_SEED = 20120101  # fixed seed: kernels are reproducible bit for bit


def _fibonacci_directions(n: int) -> np.ndarray:
    """n nearly uniform unit vectors (Fibonacci / golden-angle lattice), shape (n, 3)."""
    idx = np.arange(n, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * idx / n
    rho = np.sqrt(np.maximum(0.0, 1.0 - z * z))
    phi = idx * (math.pi * (3.0 - math.sqrt(5.0)))
    return np.stack([z, rho * np.cos(phi), rho * np.sin(phi)], axis=1)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A random 3×3 rotation matrix (QR of a Gaussian matrix, sign-fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def splat_radial_profile(
    edges_mm: np.ndarray,
    profile_per_mm: np.ndarray,
    spacing_mm: tuple[float, float, float],
    radius_mm: float,
) -> np.ndarray:
    """Energy fraction per voxel offset for a piecewise-constant radial profile.

    Parameters
    ----------
    edges_mm
        Radial bin edges (mm), increasing from 0.
    profile_per_mm
        ``j`` in each bin: fraction of the emitted energy absorbed per mm of radius.
    spacing_mm
        Grid spacing (slice, row, column), mm.
    radius_mm
        Profile truncation radius (mm): energy beyond it is dropped.

    Returns
    -------
    numpy.ndarray
        float64 array of odd shape ``2·M + 1`` per axis (``M = floor(radius/h) + 1``) holding the
        absorbed fraction per target voxel for a unit source voxel at the centre; its sum equals
        ``∫_0^radius j(r) dr``.
    """
    h = np.asarray(spacing_mm, dtype=np.float64)
    half = np.floor(radius_mm / h).astype(int) + 1
    shape = tuple(int(2 * m + 1) for m in half)
    dr = min(_MAX_SHELL_MM, float(h.min()) / 4.0)
    n_shells = max(1, math.ceil(radius_mm / dr))
    dr = radius_mm / n_shells
    radii = (np.arange(n_shells) + 0.5) * dr
    bins = np.searchsorted(edges_mm, radii, side="right") - 1
    inside = (bins >= 0) & (bins < len(profile_per_mm))
    weights = np.where(inside, profile_per_mm[np.clip(bins, 0, len(profile_per_mm) - 1)], 0.0) * dr

    rng = np.random.default_rng(_SEED)
    counts = np.maximum(
        _MIN_DIRECTIONS, np.ceil(_POINTS_PER_FACE * 4.0 * math.pi * radii**2 / float(h.min()) ** 2)
    ).astype(int)
    # One direction set per distinct count, each shell rotated differently.
    points = []
    point_w = []
    for r, n, w in zip(radii, counts, weights, strict=True):
        if w <= 0.0:
            continue
        dirs = _fibonacci_directions(int(n)) @ _random_rotation(rng).T
        points.append(dirs * r)
        point_w.append(np.full(int(n), w / n))
    if not points:
        return np.zeros(shape)
    xyz = np.concatenate(points)
    wts = np.concatenate(point_w)

    u = xyz / h + half  # continuous lattice index, centre voxel at ``half``
    base = np.floor(u).astype(np.int64)
    frac = u - base
    out = np.zeros(int(np.prod(shape)))
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.int64)
    for corner in itertools.product((0, 1), repeat=3):
        c = np.asarray(corner)
        wc = wts * np.prod(np.where(c == 1, frac, 1.0 - frac), axis=1)
        flat = (base + c) @ strides
        out += np.bincount(flat, weights=wc, minlength=out.size)
    kernel = out.reshape(shape)
    return symmetrise(kernel, spacing_mm)


def symmetrise(kernel: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """Average over the grid's reflections (and axis permutations of equal spacing), then mirror one
    octant so that the result is *exactly* reflection-symmetric (the FFT engine relies on it)."""
    acc = np.zeros_like(kernel)
    for flips in itertools.product((False, True), repeat=3):
        axes = tuple(a for a, f in enumerate(flips) if f)
        acc += np.flip(kernel, axis=axes) if axes else kernel
    acc /= 8.0
    sp = np.round(np.asarray(spacing_mm, dtype=np.float64), 6)
    perms = [p for p in itertools.permutations(range(3)) if np.array_equal(sp[list(p)], sp)]
    if len(perms) > 1:  # axes of equal spacing have equal extent, so these transposes keep the shape
        acc = sum((np.transpose(acc, p) for p in perms), start=np.zeros_like(acc)) / len(perms)
    half = [n // 2 for n in acc.shape]
    octant = acc[half[0] :, half[1] :, half[2] :]
    if len(perms) > 1:  # exact permutation symmetry of the octant too
        octant = sum((np.transpose(octant, p) for p in perms), start=np.zeros_like(octant)) / len(perms)
    idx = [np.abs(np.arange(-h, h + 1)) for h in half]
    return np.ascontiguousarray(octant[np.ix_(*idx)])
