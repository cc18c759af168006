"""Cumulative dose–volume histograms and dose metrics per volume of interest (VOI).

Definitions (CLINICAL.md §11.3):

* ``D_x`` — minimum dose to the hottest x % of the VOI: sort the voxel doses descending and take
  element ``ceil(x·N) − 1`` (no interpolation; x as a fraction, N voxels). Volume-based (equal voxels).
* ``V_y`` — percentage of the VOI volume receiving ≥ y Gy.
* Mean dose — mass-weighted ``Σ m_i D_i / Σ m_i`` with a density map; with a scalar density or none,
  all voxels weigh the same and this is the plain mean.
* Cumulative DVH — ``volume_fraction[b]`` = fraction of the VOI (mass fraction when a density map is
  given) with dose ≥ ``dose_bins_gy[b]``; bins start at 0 Gy (fraction 1) with width ≤ 0.1 Gy up to
  the maximum dose.

Examples
--------
>>> import numpy as np
>>> from sirtkit.imaging import Volume
>>> dose = Volume.from_spacing(np.arange(10, 101, 10, dtype=np.float32).reshape(1, 1, 10), (1, 1, 1),
...                            quantity="dose", unit="Gy")
>>> mask = dose.with_array(np.ones((1, 1, 10), bool), quantity="mask", unit="1")
>>> m = dose_metrics(dose, mask, name="tumour", v_thresholds_gy=(50,))
>>> m.d70_gy, m.d50_gy, m.v_percent[50.0], m.mean_gy
(40.0, 60.0, 60.0, 55.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sirtkit.dosimetry.engines import LIVER_DENSITY_G_PER_ML
from sirtkit.errors import InputError, UnitsError
from sirtkit.imaging.volume import Volume, require_same_grid

__all__ = [
    "DEFAULT_V_THRESHOLDS_GY",
    "MAX_DVH_BIN_WIDTH_GY",
    "DoseMetrics",
    "Dvh",
    "compute_dvh",
    "dose_at_volume",
    "dose_metrics",
    "volume_at_dose",
]

# DVH bins at most 0.1 Gy wide (SIRT tumour doses exceed 1000 Gy; CLINICAL.md §11.3).
MAX_DVH_BIN_WIDTH_GY = 0.1
# Default V_y thresholds (Gy): V20/V40 normal liver, V70/V100/V120/V150 tumour, V205 glass tumour
# target (EANM 2022 Tables 2–3; DOSISPHERE-01; CLINICAL.md §4, §11.3).
DEFAULT_V_THRESHOLDS_GY: tuple[float, ...] = (20, 40, 70, 100, 120, 150, 205)
# Bins are capped so that a corrupt (e.g. 1e9 Gy) voxel cannot exhaust memory.
_MAX_BINS = 5_000_000
# Guard against x·N landing a hair above an integer in floating point (0.7 × 10 = 7.000000000000001).
_CEIL_GUARD = 1e-9


@dataclass(frozen=True, eq=False)
class Dvh:
    """Cumulative DVH of one VOI.

    Attributes
    ----------
    name
        VOI name.
    dose_bins_gy
        Dose at each bin edge, starting at 0 Gy, increasing.
    volume_fraction
        Fraction (0–1) of the VOI receiving ≥ the bin dose; starts at 1, non-increasing.
    volume_ml
        VOI volume, mL.
    mass_weighted
        True when ``volume_fraction`` is a mass fraction (density map given).
    """

    name: str
    dose_bins_gy: np.ndarray
    volume_fraction: np.ndarray
    volume_ml: float
    mass_weighted: bool = False

    def volume_percent(self) -> np.ndarray:
        """``volume_fraction`` in percent."""
        return self.volume_fraction * 100.0


@dataclass(frozen=True)
class DoseMetrics:
    """Dose statistics of one VOI (Gy, mL, g, %)."""

    name: str
    volume_ml: float
    mass_g: float
    mean_gy: float
    min_gy: float
    max_gy: float
    d2_gy: float
    d50_gy: float
    d70_gy: float
    d90_gy: float
    d98_gy: float
    v_percent: dict[float, float] = field(default_factory=dict)
    n_voxels: int = 0
    std_gy: float = 0.0
    density_note: str = ""


def _voi_values(
    dose: Volume, mask: Volume, name: str, density_g_per_ml: float | Volume | None
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Dose values inside the mask, per-voxel densities (map only) and the scalar density used."""
    if dose.unit != "Gy":
        raise UnitsError(f"the dose map is in {dose.unit!r}: DVHs need absorbed dose in 'Gy'")
    if not mask.is_mask:
        raise InputError(
            f"VOI {name!r}: the mask has dtype {mask.array.dtype}; pass a boolean mask Volume "
            "(e.g. labelmap.with_array(labelmap.array == label))"
        )
    require_same_grid(dose, mask, f"mask of VOI {name!r}")
    sel = np.asarray(mask.array, dtype=bool)
    n = int(np.count_nonzero(sel))
    if n == 0:
        raise InputError(f"VOI {name!r} is empty on the dose grid: check the segmentation and its resampling")
    values = np.asarray(dose.array)[sel].astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise UnitsError(f"VOI {name!r}: the dose map has NaN or infinite values inside the VOI")
    if isinstance(density_g_per_ml, Volume):
        require_same_grid(dose, density_g_per_ml, "density map")
        if density_g_per_ml.unit != "g/mL":
            raise UnitsError(f"the density map is in {density_g_per_ml.unit!r}; it must be in 'g/mL'")
        rho = np.asarray(density_g_per_ml.array)[sel].astype(np.float64)
        if not np.all(np.isfinite(rho)) or np.any(rho <= 0):
            raise UnitsError(f"VOI {name!r}: density must be finite and > 0 g/mL inside the VOI")
        return values, rho, float(np.mean(rho))
    rho_scalar = LIVER_DENSITY_G_PER_ML if density_g_per_ml is None else float(density_g_per_ml)
    if not math.isfinite(rho_scalar) or rho_scalar <= 0:
        raise UnitsError(f"density_g_per_ml = {density_g_per_ml!r} must be a positive density in g/mL")
    return values, None, rho_scalar


def dose_at_volume(doses_gy: np.ndarray, volume_fraction: float) -> float:
    """``D_x``: element ``ceil(x·N) − 1`` of the doses sorted descending (x in 0–1].

    >>> dose_at_volume(np.arange(10.0, 101.0, 10.0), 0.7)
    40.0
    """
    if not 0.0 < volume_fraction <= 1.0:
        raise UnitsError(f"volume_fraction = {volume_fraction!r} must be in (0, 1] (D70 → 0.70)")
    values = np.asarray(doses_gy, dtype=np.float64).ravel()
    n = values.size
    if n == 0:
        raise InputError("D_x of an empty VOI is undefined")
    rank = max(math.ceil(volume_fraction * n - _CEIL_GUARD) - 1, 0)
    # The rank-th largest = element n−1−rank of the ascending order.
    return float(np.partition(values, n - 1 - rank)[n - 1 - rank])


def volume_at_dose(doses_gy: np.ndarray, dose_gy: float, weights: np.ndarray | None = None) -> float:
    """``V_y`` in percent: share of the voxels (or of the weights) with dose ≥ ``dose_gy``.

    >>> volume_at_dose(np.arange(10.0, 101.0, 10.0), 50.0)
    60.0
    """
    values = np.asarray(doses_gy, dtype=np.float64).ravel()
    hit = values >= dose_gy
    if weights is None:
        return float(np.count_nonzero(hit) / values.size * 100.0)
    w = np.asarray(weights, dtype=np.float64).ravel()
    return float(w[hit].sum() / w.sum() * 100.0)


def compute_dvh(
    dose: Volume,
    mask: Volume,
    *,
    name: str = "voi",
    bin_width_gy: float = MAX_DVH_BIN_WIDTH_GY,
    density_g_per_ml: float | Volume | None = None,
) -> Dvh:
    """Cumulative DVH of the VOI ``mask`` on ``dose``.

    Parameters
    ----------
    dose
        Dose Volume in Gy.
    mask
        Boolean mask Volume on the dose grid.
    name
        VOI name (used in messages and exports).
    bin_width_gy
        Bin width, > 0 and ≤ 0.1 Gy.
    density_g_per_ml
        A density map weights voxels by mass (mass DVH); scalars and ``None`` give the volume DVH.

    Returns
    -------
    Dvh

    Raises
    ------
    GeometryError
        The mask (or density map) is on another grid.
    InputError
        The mask is empty or not boolean.
    UnitsError
        Dose not in Gy, bad bin width or density.
    """
    if not 0.0 < bin_width_gy <= MAX_DVH_BIN_WIDTH_GY:
        raise UnitsError(f"bin_width_gy = {bin_width_gy!r} must be in (0, {MAX_DVH_BIN_WIDTH_GY}] Gy")
    values, rho, _ = _voi_values(dose, mask, name, density_g_per_ml)
    if np.any(values < 0):
        raise UnitsError(f"VOI {name!r}: negative doses (minimum {values.min():g} Gy) are not physical")
    n_bins = math.ceil(float(values.max()) / bin_width_gy) + 2
    if n_bins > _MAX_BINS:
        raise UnitsError(
            f"VOI {name!r}: maximum dose {values.max():g} Gy needs {n_bins} bins of {bin_width_gy} Gy; "
            "check the dose map (implausible) or use a wider bin"
        )
    bins = np.arange(n_bins, dtype=np.float64) * bin_width_gy
    order = np.argsort(values)
    sorted_values = values[order]
    weights = np.ones_like(values) if rho is None else rho
    cum = np.concatenate([[0.0], np.cumsum(weights[order])])
    total = cum[-1]
    below = np.searchsorted(sorted_values, bins, side="left")  # voxels with dose < bin
    fraction = (total - cum[below]) / total
    fraction[0] = 1.0
    voxel_ml = dose.voxel_volume_ml
    return Dvh(name, bins, fraction, values.size * voxel_ml, mass_weighted=rho is not None)


def dose_metrics(
    dose: Volume,
    mask: Volume,
    *,
    name: str = "voi",
    v_thresholds_gy: Sequence[float] = DEFAULT_V_THRESHOLDS_GY,
    density_g_per_ml: float | Volume | None = None,
) -> DoseMetrics:
    """Mean/min/max, D2/D50/D70/D90/D98 and V_y of one VOI.

    Parameters
    ----------
    dose
        Dose Volume in Gy.
    mask
        Boolean mask Volume on the dose grid.
    name
        VOI name.
    v_thresholds_gy
        Doses y (Gy) for which V_y (% of volume ≥ y Gy) is reported.
    density_g_per_ml
        Density map (mass-weighted mean, mass from Σ ρ·V) or scalar; ``None`` uses the liver density
        1.03 g/mL for the mass only.

    Returns
    -------
    DoseMetrics

    Raises
    ------
    GeometryError, InputError, UnitsError
        As :func:`compute_dvh`.
    """
    values, rho, rho_used = _voi_values(dose, mask, name, density_g_per_ml)
    voxel_ml = dose.voxel_volume_ml
    volume_ml = values.size * voxel_ml
    if rho is None:
        mean = float(values.mean())
        mass_g = volume_ml * rho_used
        note = (
            f"mass from {rho_used:g} g/mL (default liver density)"
            if density_g_per_ml is None
            else f"mass from {rho_used:g} g/mL"
        )
        std = float(values.std())
    else:
        mean = float(np.sum(values * rho) / np.sum(rho))
        mass_g = float(np.sum(rho) * voxel_ml)
        note = "mass-weighted with a density map"
        std = float(np.sqrt(np.sum(rho * (values - mean) ** 2) / np.sum(rho)))
    v_percent = {float(y): volume_at_dose(values, float(y)) for y in v_thresholds_gy}
    return DoseMetrics(
        name=name,
        volume_ml=volume_ml,
        mass_g=mass_g,
        mean_gy=mean,
        min_gy=float(values.min()),
        max_gy=float(values.max()),
        d2_gy=dose_at_volume(values, 0.02),
        d50_gy=dose_at_volume(values, 0.50),
        d70_gy=dose_at_volume(values, 0.70),
        d90_gy=dose_at_volume(values, 0.90),
        d98_gy=dose_at_volume(values, 0.98),
        v_percent=v_percent,
        n_voxels=int(values.size),
        std_gy=std,
        density_note=note,
    )
