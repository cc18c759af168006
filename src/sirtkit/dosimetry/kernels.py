"""Y-90 and Ho-166 voxel S-value (VSV) kernels: published tables and a generator for any grid spacing.

Two sources of kernels, both in mGy/(MBq·s) (MIRD Pamphlet 17 formalism, uniform source voxel →
mean absorbed dose in the target voxel):

* **Tables** — Lanconelli et al. 2012 Monte-Carlo (DOSXYZnrc) S-values of Y-90 in ICRU soft tissue
  and compact bone, 13 cubic voxel sizes (2.21–9.28 mm), shipped in
  ``sirtkit/data/vsv_lanconelli_y90`` (octant 0..5 mirrored to 11×11×11).
* **Generator** — for any (also anisotropic) spacing. A radial energy-deposition profile ``j(r)``
  (fraction of the emitted energy absorbed per mm of radius around a point source, i.e. the Y-90
  dose-point kernel times ``4πr²ρ``) is integrated over every source/target voxel pair exactly by
  trilinear splatting of spherical-shell samples (see :mod:`sirtkit.dosimetry._radial`); the sum of
  ``S·m`` therefore equals ``E_mean × ∫₀^R j(r) dr`` by construction (energy conserved). ``j(r)`` is
  the non-negative, smooth piecewise-constant profile (0.25 mm bins, 0–12 mm soft tissue; 0.2 mm bins,
  0–8 mm bone) fitted by least squares to *all 13 Lanconelli tables at once*
  (:mod:`sirtkit.dosimetry._dpk_fit`, stored in ``dpk_fit_<tissue>.csv``). It reproduces the tables
  within 0.7 % at S000 and S001 at every tabulated size.
* **Ho-166** (generator only; no published table is shipped) — ``j(r)`` built from the ICRP-107 Ho-166
  beta spectrum (+ internal-conversion and Auger lines) by the scaled-kernel method (Berger 1971):
  a scaled monoenergetic profile ``F(r/R_CSDA(E))`` fitted once on the Y-90 profile above is summed over
  the Ho-166 spectrum (:mod:`sirtkit.dosimetry._dpk_fit`, stored in
  ``sirtkit/data/vsv_ho166/dpk_ho166_soft.csv``). The kernel carries the energy of the published Ho-166
  dose constant (15.87 Gy·kg/GBq), so that VSV and LDM agree in uniform activity. Soft tissue only.

Validity: the profile is constrained by voxels of 2.21–9.28 mm; kernels for spacings below ~2 mm
extrapolate the sub-millimetre shape of ``j`` (energy still conserved).

References
----------
.. [Lanconelli2012] Lanconelli N, Pacilio M, Lo Meo S, et al. A free database of radionuclide voxel
   S values for the dosimetry of nonuniform activity distributions. Phys Med Biol 2012;57:517–533.
   Files as distributed in MGHPhysicsResearch/MIRDCalculation (MIT licence).
.. [MIRD17] Bolch WE, Bouchet LG, Robertson JS, et al. MIRD Pamphlet No. 17: the dosimetry of
   nonuniform activity distributions — radionuclide S values at the voxel level. J Nucl Med
   1999;40:11S–36S.

Examples
--------
>>> k = load_lanconelli_table(4.8)
>>> k.shape, round(float(k.s_mgy_per_mbq_s[5, 5, 5]), 3), round(float(k.s_mgy_per_mbq_s[5, 5, 6]), 4)
((11, 11, 11), 0.573, 0.0763)
>>> g = generate_kernel((4.8, 4.8, 4.8))
>>> abs(float(g.s_mgy_per_mbq_s[g.centre]) / 0.573 - 1) < 0.03
True
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np

from sirtkit.dosimetry._radial import splat_radial_profile
from sirtkit.errors import InputError, UnitsError
from sirtkit.physics.nuclides import (
    HO166,
    Y90_MEAN_BETA_ENERGY_ICRP107_MEV,
    dose_constant_from_energy,
)
from sirtkit.units import BQ_PER_MBQ, J_PER_MEV

__all__ = [
    "HO166_KERNEL_ENERGY_MEV",
    "HO166_PROFILE_RADIUS_MM",
    "KERNEL_DENSITY_G_PER_ML",
    "KERNEL_ENERGY_MEV",
    "KERNEL_MEAN_ENERGY_MEV",
    "KERNEL_NUCLIDES",
    "LANCONELLI_VOXEL_SIZES_MM",
    "TABLE_MATCH_TOLERANCE_FRACTION",
    "energy_per_mbq_s_mj",
    "Kernel",
    "KernelSource",
    "Tissue",
    "generate_kernel",
    "get_kernel",
    "load_lanconelli_table",
    "radial_energy_profile",
]

logger = logging.getLogger(__name__)

Tissue = Literal["soft", "bone"]
KernelSource = Literal["auto", "table", "generated"]

# Cubic voxel sizes (mm) of the Lanconelli 2012 Y-90 tables [Lanconelli2012, Table 1].
LANCONELLI_VOXEL_SIZES_MM: tuple[float, ...] = (
    2.21, 2.33, 2.4, 3.0, 3.59, 3.9, 4.0, 4.42, 4.8, 5.0, 6.0, 6.8, 9.28,
)
# Media of the tables: ICRU soft tissue 1.04 g/cm³ and ICRU compact bone 1.85 g/cm³
# [Lanconelli2012 §2]; Σ S·m of the shipped tables gives 1.037–1.039 and 1.847–1.851 (tested).
KERNEL_DENSITY_G_PER_ML: dict[str, float] = {"soft": 1.04, "bone": 1.85}
# Mean beta energy per Y-90 decay used for energy bookkeeping of the kernels: ICRP-107 0.932905 MeV.
KERNEL_MEAN_ENERGY_MEV = Y90_MEAN_BETA_ENERGY_ICRP107_MEV
# Ho-166: the energy per decay equivalent to the published dose constant 15.87 Gy·kg/GBq (JNM
# 2016;57(S2):199) at T½ 26.8 h = 0.7115 MeV: the ICRP-107 electron energy (0.6963 MeV) plus the 2.2 %
# that constant attributes to locally absorbed photons. The photon part is given the electron kernel's
# shape (an approximation: it changes voxel doses by ≤ 2.2 % and VOI means not at all).
HO166_KERNEL_ENERGY_MEV = HO166.mean_beta_energy_mev * HO166.dose_constant_gy_kg_per_gbq / (
    dose_constant_from_energy(HO166.mean_beta_energy_mev, HO166.half_life_h))
# Energy per decay carried by the kernels of each nuclide (Σ S·m = E × absorbed fraction).
KERNEL_ENERGY_MEV: dict[str, float] = {"Y-90": KERNEL_MEAN_ENERGY_MEV, "Ho-166": HO166_KERNEL_ENERGY_MEV}
KERNEL_NUCLIDES: tuple[str, ...] = tuple(KERNEL_ENERGY_MEV)
# Extent of the Ho-166 profile: 1.2 × the CSDA range of its 1.854 MeV end-point electrons in soft tissue
# (0.90 g/cm² ESTAR / 1.04 g/cm³ = 8.7 mm, the "maximum tissue penetration 8.7 mm" quoted for Ho-166
# microspheres, Smits et al. Lancet Oncol 2012;13:1025) → 10.5 mm.
HO166_PROFILE_RADIUS_MM = 10.5
_HO166_DIR = "vsv_ho166"
# "auto" uses a table when the isotropic spacing is within 0.5 % of a table size (brief/design rule).
TABLE_MATCH_TOLERANCE_FRACTION = 0.005
# Default kernel radius: the extent of the fitted profile (soft tissue 12 mm ≥ Y-90 maximum range of
# 11 mm in tissue, SIR-Spheres package insert; compact bone 8 mm ≈ 11 mm × 1.04/1.85 + margin).
DEFAULT_RADIUS_MM: dict[str, float] = {"soft": 12.0, "bone": 8.0}
_TABLE_DIR = "vsv_lanconelli_y90"
_TABLE_OCTANT = 6  # rows i, j, k = 0..5


def energy_per_mbq_s_mj(nuclide: str = "Y-90") -> float:
    """Energy carried by the kernels per MBq·s (mJ): E × 1e6 decays × J/MeV × 1e3 mJ/J."""
    return _kernel_energy_mev(nuclide) * J_PER_MEV * BQ_PER_MBQ * 1.0e3


def _kernel_energy_mev(nuclide: str) -> float:
    if nuclide not in KERNEL_ENERGY_MEV:
        raise InputError(f"no voxel S-value kernels for {nuclide}: sirtkit has kernels for {', '.join(KERNEL_NUCLIDES)}")
    return KERNEL_ENERGY_MEV[nuclide]


@dataclass(frozen=True, eq=False)
class Kernel:
    """A voxel S-value kernel, centred in an odd-shaped array.

    Attributes
    ----------
    s_mgy_per_mbq_s
        S-values in mGy/(MBq·s), shape odd along each axis, source voxel at the centre; read-only.
    spacing_mm
        Voxel spacing (slice, row, column), mm.
    tissue
        Medium of the kernel, ``"soft"`` or ``"bone"``.
    source
        Provenance, e.g. ``"Lanconelli 2012 table 4.8 mm"`` or ``"generated (DPK fit) ..."``.
    nuclide
        Nuclide the kernel is for (``"Y-90"`` or ``"Ho-166"``).
    density_g_per_ml
        Density of the kernel's medium, g/mL (the ``ρ_water`` of density scaling).
    """

    s_mgy_per_mbq_s: np.ndarray
    spacing_mm: tuple[float, float, float]
    tissue: str
    source: str
    nuclide: str = "Y-90"
    density_g_per_ml: float = KERNEL_DENSITY_G_PER_ML["soft"]

    def __post_init__(self) -> None:
        arr = np.array(self.s_mgy_per_mbq_s, dtype=np.float64, copy=True)
        if arr.ndim != 3 or any(n % 2 == 0 for n in arr.shape):
            raise InputError(f"a kernel needs a 3-D array of odd shape, got {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise UnitsError("kernel S-values must be finite and non-negative")
        arr.setflags(write=False)
        object.__setattr__(self, "s_mgy_per_mbq_s", arr)
        object.__setattr__(self, "spacing_mm", tuple(float(s) for s in self.spacing_mm))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape."""
        a, b, c = self.s_mgy_per_mbq_s.shape
        return (int(a), int(b), int(c))

    @property
    def centre(self) -> tuple[int, int, int]:
        """Index of the source voxel."""
        a, b, c = self.shape
        return (a // 2, b // 2, c // 2)

    @property
    def voxel_mass_kg(self) -> float:
        """Mass of one voxel of the kernel's medium, kg."""
        vol_ml = float(np.prod(self.spacing_mm)) / 1000.0
        return vol_ml * self.density_g_per_ml / 1000.0

    def absorbed_energy_fraction(self) -> float:
        """Σ S·m over the kernel divided by the mean energy emitted per decay (1.0 = all absorbed)."""
        total_mj = float(self.s_mgy_per_mbq_s.sum()) * self.voxel_mass_kg
        return total_mj / energy_per_mbq_s_mj(self.nuclide)


def _table_name(voxel_mm: float, tissue: str) -> str:
    return f"90Y{voxel_mm:g}mm{tissue}.txt"


def _match_table_size(voxel_mm: float) -> float | None:
    for size in LANCONELLI_VOXEL_SIZES_MM:
        if abs(voxel_mm / size - 1.0) <= TABLE_MATCH_TOLERANCE_FRACTION:
            return size
    return None


def _check_tissue(tissue: str) -> None:
    if tissue not in KERNEL_DENSITY_G_PER_ML:
        raise InputError(f"tissue = {tissue!r} is not available: use 'soft' or 'bone'")


@functools.lru_cache(maxsize=32)
def _load_table_cached(size: float, tissue: str) -> Kernel:
    text = (resources.files("sirtkit") / "data" / _TABLE_DIR / _table_name(size, tissue)).read_text(
        encoding="latin-1"
    )
    octant = np.zeros((_TABLE_OCTANT,) * 3)
    seen = 0
    for line in text.splitlines()[2:]:
        parts = line.split()
        if not parts:
            continue
        i, j, k = (int(p) for p in parts[:3])
        octant[i, j, k] = float(parts[3])
        seen += 1
    if seen != _TABLE_OCTANT**3:
        raise InputError(f"kernel table {_table_name(size, tissue)} has {seen} rows, expected 216")
    idx = np.abs(np.arange(-(_TABLE_OCTANT - 1), _TABLE_OCTANT))
    full = octant[np.ix_(idx, idx, idx)]
    return Kernel(
        full,
        (size, size, size),
        tissue,
        f"Lanconelli 2012 table {size:g} mm {tissue}",
        density_g_per_ml=KERNEL_DENSITY_G_PER_ML[tissue],
    )


def load_lanconelli_table(voxel_mm: float, tissue: Tissue = "soft") -> Kernel:
    """Load a Lanconelli 2012 Y-90 S-value table as an 11×11×11 kernel.

    Parameters
    ----------
    voxel_mm
        Cubic voxel size, mm; must match one of :data:`LANCONELLI_VOXEL_SIZES_MM` within 0.5 %.
    tissue
        ``"soft"`` (ICRU soft tissue, 1.04 g/mL) or ``"bone"`` (ICRU compact bone, 1.85 g/mL).

    Returns
    -------
    Kernel
        S-values in mGy/(MBq·s); the file's octant (0..5) mirrored to 11×11×11.

    Raises
    ------
    InputError
        If no table has this voxel size, or the tissue is unknown.

    References
    ----------
    Lanconelli N et al., Phys Med Biol 2012;57:517–533.

    Examples
    --------
    >>> round(float(load_lanconelli_table(3.0).s_mgy_per_mbq_s[5, 5, 5]), 2)
    1.59
    """
    _check_tissue(tissue)
    size = _match_table_size(float(voxel_mm))
    if size is None:
        raise InputError(
            f"no Lanconelli table for voxel_mm = {voxel_mm!r}: tables exist for "
            f"{', '.join(f'{s:g}' for s in LANCONELLI_VOXEL_SIZES_MM)} mm; use generate_kernel for other spacings"
        )
    return _load_table_cached(size, tissue)


@functools.lru_cache(maxsize=8)
def radial_energy_profile(tissue: str = "soft", nuclide: str = "Y-90") -> tuple[np.ndarray, np.ndarray]:
    """The radial energy-deposition profile ``j(r)`` of a nuclide in a medium.

    Y-90: fitted to the Lanconelli 2012 tables (soft tissue, compact bone). Ho-166: from its ICRP-107
    spectrum by the scaled-kernel method (soft tissue only).

    Returns
    -------
    tuple of numpy.ndarray
        ``(edges_mm, profile_per_mm)``: bin edges (n + 1) and the fraction of the emitted energy
        absorbed per mm of radius in each bin (n); read-only.
    """
    _check_tissue(tissue)
    _kernel_energy_mev(nuclide)
    if nuclide == "Ho-166":
        if tissue != "soft":
            raise InputError("Ho-166 kernels exist for soft tissue only: use tissue='soft'")
        path = resources.files("sirtkit") / "data" / _HO166_DIR / "dpk_ho166_soft.csv"
    else:
        path = resources.files("sirtkit") / "data" / _TABLE_DIR / f"dpk_fit_{tissue}.csv"
    text = path.read_text(encoding="utf-8")
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith("#")]
    data = np.array([[float(x) for x in row] for row in rows[1:]])
    edges = np.append(data[:, 0], data[-1, 1])
    profile = data[:, 2].copy()
    edges.setflags(write=False)
    profile.setflags(write=False)
    return edges, profile


@functools.lru_cache(maxsize=64)
def _generate_cached(
    spacing_key: tuple[float, float, float], tissue: str, radius_mm: float, nuclide: str = "Y-90"
) -> Kernel:
    edges, profile = radial_energy_profile(tissue, nuclide)
    fraction = splat_radial_profile(edges, profile, spacing_key, radius_mm)
    density = KERNEL_DENSITY_G_PER_ML[tissue]
    voxel_mass_kg = float(np.prod(spacing_key)) / 1000.0 * density / 1000.0
    s_values = fraction * energy_per_mbq_s_mj(nuclide) / voxel_mass_kg
    spacing_txt = "×".join(f"{s:g}" for s in spacing_key)
    method = ("DPK fitted to Lanconelli 2012" if nuclide == "Y-90"
              else "ICRP-107 spectrum, scaled-kernel method")
    return Kernel(
        s_values,
        spacing_key,
        tissue,
        f"generated {nuclide} ({method}) {spacing_txt} mm {tissue}, radius {radius_mm:g} mm",
        nuclide=nuclide,
        density_g_per_ml=density,
    )


def _spacing_key(spacing_mm: tuple[float, float, float] | list[float]) -> tuple[float, float, float]:
    values = tuple(float(s) for s in spacing_mm)
    if len(values) != 3 or not all(np.isfinite(v) and v > 0 for v in values):
        raise UnitsError(f"spacing_mm = {spacing_mm!r} must be three positive finite numbers (mm)")
    a, b, c = (round(v, 3) for v in values)
    return (a, b, c)


def generate_kernel(
    spacing_mm: tuple[float, float, float],
    *,
    tissue: Tissue = "soft",
    radius_mm: float | None = None,
    nuclide: str = "Y-90",
) -> Kernel:
    """Generate a Y-90 or Ho-166 S-value kernel for any (also anisotropic) grid spacing.

    Parameters
    ----------
    spacing_mm
        Voxel spacing (slice, row, column), mm; rounded to 1e-3 mm (the cache key).
    tissue
        ``"soft"`` or ``"bone"``.
    radius_mm
        Truncation radius of the point kernel, mm (default: 12 mm soft tissue, 8 mm bone, the extent
        of the fitted profile; Ho-166 10.5 mm). The kernel array extends one voxel beyond it.
    nuclide
        ``"Y-90"`` (default) or ``"Ho-166"`` (soft tissue only).

    Returns
    -------
    Kernel
        S-values in mGy/(MBq·s) with ``Σ S·m = E_mean × ∫₀^R j(r) dr`` (energy conserved).

    Raises
    ------
    UnitsError
        If a spacing or the radius is not a positive finite number.

    Examples
    --------
    >>> k = generate_kernel((3.27, 2.73, 2.73))
    >>> k.shape
    (9, 11, 11)
    >>> round(k.absorbed_energy_fraction(), 3)
    0.998
    """
    _check_tissue(tissue)
    _kernel_energy_mev(nuclide)
    key = _spacing_key(spacing_mm)
    default_radius = HO166_PROFILE_RADIUS_MM if nuclide == "Ho-166" else DEFAULT_RADIUS_MM[tissue]
    radius = default_radius if radius_mm is None else float(radius_mm)
    if not np.isfinite(radius) or radius <= 0:
        raise UnitsError(f"radius_mm = {radius_mm!r} must be a positive number of millimetres")
    if min(key) < LANCONELLI_VOXEL_SIZES_MM[0]:
        logger.info("kernel for spacing %s mm extrapolates below the 2.21 mm tables", key)
    if nuclide == "Ho-166" and tissue != "soft":
        raise InputError("Ho-166 kernels exist for soft tissue only: use tissue='soft'")
    return _generate_cached(key, tissue, round(radius, 3), nuclide)


def get_kernel(
    spacing_mm: tuple[float, float, float],
    *,
    tissue: Tissue = "soft",
    source: KernelSource = "auto",
    nuclide: str = "Y-90",
) -> Kernel:
    """The kernel for a grid: a Lanconelli table when one fits, else a generated kernel.

    Parameters
    ----------
    spacing_mm
        Voxel spacing (slice, row, column), mm.
    tissue
        ``"soft"`` or ``"bone"``.
    source
        ``"auto"`` (table when the spacing is isotropic and within 0.5 % of a table size, otherwise
        generated), ``"table"`` (refuse when none fits) or ``"generated"``.
    nuclide
        ``"Y-90"`` or ``"Ho-166"`` (always generated: no Ho-166 table is shipped).

    Returns
    -------
    Kernel
        Kernel in mGy/(MBq·s). A table kernel carries the table's nominal size in ``spacing_mm``.

    Raises
    ------
    InputError
        If ``source="table"`` and no table matches, or ``source`` is unknown.

    Examples
    --------
    >>> get_kernel((4.0, 4.0, 4.0)).source
    'Lanconelli 2012 table 4 mm soft'
    >>> get_kernel((4.0, 4.0, 3.0)).source.startswith("generated")
    True
    """
    key = _spacing_key(spacing_mm)
    if source not in ("auto", "table", "generated"):
        raise InputError(f"source = {source!r}: use 'auto', 'table' or 'generated'")
    _kernel_energy_mev(nuclide)
    if nuclide != "Y-90":
        if source == "table":
            raise InputError(f"no published {nuclide} S-value table is shipped: use source='generated' or 'auto'")
        return generate_kernel(key, tissue=tissue, nuclide=nuclide)
    isotropic = max(key) / min(key) - 1.0 <= TABLE_MATCH_TOLERANCE_FRACTION
    size = _match_table_size(float(np.mean(key))) if isotropic else None
    if source == "generated" or (source == "auto" and size is None):
        return generate_kernel(key, tissue=tissue)
    if size is None:
        raise InputError(
            f"no Lanconelli table fits spacing {key} mm (tables are isotropic: "
            f"{', '.join(f'{s:g}' for s in LANCONELLI_VOXEL_SIZES_MM)} mm): use source='generated' or 'auto'"
        )
    return load_lanconelli_table(size, tissue)
