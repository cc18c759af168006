"""Radiobiology of permanent implants with mono-exponential physical decay (CLINICAL.md §11.5).

* BED (Dale 1985): ``BED = D · [1 + D · T_rep / ((T_rep + T½) · α/β)]`` — repair and decay half-times;
  equal to the ``λ/(μ + λ)`` form for complete decay.
* EQD2 = BED / (1 + 2/(α/β)).
* EUD (Niemierko 1997, voxel/"cell survival" form): ``EUD = −(1/α) · ln(Σ v_i e^{−α D_i} / Σ v_i)``;
  EUBED: the same with BED_i.
* TCP: logistic ``1/(1 + (D50/D)^{4γ50})``; Poisson ``exp(−N₀ Σ v_i e^{−α D_i})``.
* NTCP (Lyman 1985; Kutcher & Burman 1989): ``Φ((D_eff − TD50)/(m · TD50))``,
  ``D_eff = (Σ v_i D_i^{1/n})^n``.

Parameters come from the cited table :data:`RADIOBIOLOGY_PARAMETERS` (α/β, T_rep, α per tissue) and
:data:`DOSE_RESPONSE_ANCHORS` (published D50/BED50 values). Slopes (γ50, m) and TD50 for SIRT NTCP
are not established (CLINICAL.md §13 item 5) and must be given explicitly.

Examples
--------
>>> round(float(bed_permanent_implant(100.0, alpha_beta_gy=10.0, repair_half_time_h=1.5)), 2)
122.87
>>> round(eud([50.0, 100.0, 150.0], 0.01), 2)
91.83

References
----------
.. [Dale1985] Dale RG. The application of the linear-quadratic dose-effect equation to fractionated
   and protracted radiotherapy. Br J Radiol 1985;58:515–528.
.. [Strigari2010] Strigari L et al. Efficacy and toxicity related to treatment of hepatocellular
   carcinoma with 90Y-SIR spheres: radiobiologic considerations. J Nucl Med 2010;51:1377–1385.
.. [Cremonesi2014] Cremonesi M et al. Radioembolization of hepatic lesions from a radiobiology and
   dosimetric perspective. Front Oncol 2014;4:210.
.. [Niemierko1997] Niemierko A. Reporting and analyzing dose distributions: a concept of equivalent
   uniform dose. Med Phys 1997;24:103–110.
.. [Niemierko1999] Niemierko A. A generalized concept of equivalent uniform dose (EUD). Med Phys
   1999;26:1100.
.. [Lyman1985] Lyman JT. Complication probability as assessed from dose-volume histograms. Radiat Res
   Suppl 1985;8:S13–S19.
.. [Kutcher1989] Kutcher GJ, Burman C. Calculation of complication probability factors for non-uniform
   normal tissue irradiation: the effective volume method. Int J Radiat Oncol Biol Phys 1989;16:1623.
.. [Dewaraja2020] Dewaraja YK et al. Tumor-absorbed dose predicts progression-free survival following
   90Y radioembolization. J Nucl Med 2020;61:104–111 (AD50 292 Gy, BED50 441 Gy).
.. [Walrand2014] Walrand S et al. J Nucl Med 2014;55:1317 (PMID 24904111): normal-liver BED50 for
   toxicity, resin 93 Gy, glass 250 Gy (microscopic heterogeneity differs by device).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from sirtkit.errors import InputError, UnitsError
from sirtkit.physics.nuclides import Y90

__all__ = [
    "DOSE_RESPONSE_ANCHORS",
    "RADIOBIOLOGY_PARAMETERS",
    "DoseResponseAnchor",
    "RadiobiologyParameters",
    "bed_permanent_implant",
    "effective_dose_lkb",
    "eqd2",
    "eud",
    "ntcp_lkb",
    "tcp_logistic",
    "tcp_poisson",
]


@dataclass(frozen=True)
class RadiobiologyParameters:
    """Linear-quadratic parameters of one tissue."""

    tissue: str
    alpha_beta_gy: float
    repair_half_time_h: float
    alpha_per_gy: float | None
    source: str


# Cited defaults (CLINICAL.md §11.5): tumour α/β 10 Gy, T_rep 1.5 h; normal liver α/β 2.5 Gy, T_rep 2.5 h
# (Strigari 2010; Cremonesi 2014). α for liver tumour 0.27 Gy⁻¹ and lung 0.17 Gy⁻¹: MGH MIRDCalculation
# bioeffectRT data tables; α/β lung 1.6 Gy (MGH defaults).
RADIOBIOLOGY_PARAMETERS: dict[str, RadiobiologyParameters] = {
    "tumour": RadiobiologyParameters("tumour", 10.0, 1.5, 0.27, "Strigari 2010; Cremonesi 2014; α: MGH bioeffectRT"),
    "normal_liver": RadiobiologyParameters("normal_liver", 2.5, 2.5, None, "Strigari 2010; Cremonesi 2014"),
    "lung": RadiobiologyParameters("lung", 1.6, 2.5, 0.17, "MGH MIRDCalculation bioeffectRT defaults"),
}


@dataclass(frozen=True)
class DoseResponseAnchor:
    """A published dose level at 50 % response or toxicity (the slope is not part of the anchor)."""

    endpoint: str
    device: str
    metric: str
    value_gy: float
    source: str


DOSE_RESPONSE_ANCHORS: dict[str, DoseResponseAnchor] = {
    "tumour_response_ad50": DoseResponseAnchor(
        "tumour control (PFS)", "glass", "mean absorbed dose D50", 292.0, "Dewaraja JNM 2020;61:104"
    ),
    "tumour_response_bed50": DoseResponseAnchor(
        "tumour control (PFS)", "glass", "BED50", 441.0, "Dewaraja JNM 2020;61:104"
    ),
    "liver_toxicity_bed50_resin": DoseResponseAnchor(
        "liver toxicity", "resin", "normal-liver BED50", 93.0, "Walrand JNM 2014;55:1317"
    ),
    "liver_toxicity_bed50_glass": DoseResponseAnchor(
        "liver toxicity", "glass", "normal-liver BED50", 250.0, "Walrand JNM 2014;55:1317"
    ),
}


def _positive(value: float, name: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise UnitsError(f"{name} = {value!r} must be a positive finite number")
    return float(value)


def _doses(dose_gy: npt.ArrayLike, name: str = "dose_gy") -> np.ndarray:
    arr = np.asarray(dose_gy, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise UnitsError(f"{name} must be finite and non-negative (Gy)")
    return arr


def _weights(weights: npt.ArrayLike | None, shape: tuple[int, ...]) -> np.ndarray:
    if weights is None:
        return np.full(shape, 1.0)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != shape:
        raise InputError(f"weights shape {w.shape} differs from the doses shape {shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise UnitsError("weights (voxel volumes or masses) must be finite, non-negative and not all zero")
    return w


def bed_permanent_implant(
    dose_gy: npt.ArrayLike,
    *,
    alpha_beta_gy: float,
    repair_half_time_h: float,
    half_life_h: float = Y90.half_life_h,
) -> np.ndarray | float:
    """Biologically effective dose of a permanent implant (Dale 1985), Gy.

    Parameters
    ----------
    dose_gy
        Absorbed dose (scalar or array), Gy.
    alpha_beta_gy
        α/β of the tissue, Gy (tumour 10, normal liver 2.5).
    repair_half_time_h
        Sublethal-damage repair half-time, h (tumour 1.5, normal liver 2.5).
    half_life_h
        Physical half-life, h (Y-90 64.1).

    Returns
    -------
    float or numpy.ndarray
        BED in Gy (same shape as ``dose_gy``).

    Examples
    --------
    >>> round(float(bed_permanent_implant(40.0, alpha_beta_gy=2.5, repair_half_time_h=2.5)), 2)
    64.02
    """
    d = _doses(dose_gy)
    ab = _positive(alpha_beta_gy, "alpha_beta_gy")
    t_rep = _positive(repair_half_time_h, "repair_half_time_h")
    t_half = _positive(half_life_h, "half_life_h")
    g = t_rep / (t_rep + t_half)
    bed = d * (1.0 + d * g / ab)
    return float(bed) if bed.ndim == 0 else bed


def eqd2(
    dose_gy: npt.ArrayLike,
    *,
    alpha_beta_gy: float,
    repair_half_time_h: float,
    half_life_h: float = Y90.half_life_h,
) -> np.ndarray | float:
    """Equivalent dose in 2-Gy fractions, ``BED / (1 + 2/(α/β))``, Gy.

    >>> round(float(eqd2(100.0, alpha_beta_gy=10.0, repair_half_time_h=1.5)), 2)
    102.39
    """
    bed = np.asarray(
        bed_permanent_implant(
            dose_gy, alpha_beta_gy=alpha_beta_gy, repair_half_time_h=repair_half_time_h, half_life_h=half_life_h
        )
    )
    out = bed / (1.0 + 2.0 / alpha_beta_gy)
    return float(out) if out.ndim == 0 else out


def eud(dose_gy: npt.ArrayLike, alpha_per_gy: float, weights: npt.ArrayLike | None = None) -> float:
    """Niemierko equivalent uniform dose (voxel survival form), Gy; pass BEDs to get EUBED.

    Parameters
    ----------
    dose_gy
        Voxel doses (or BEDs), Gy.
    alpha_per_gy
        Radiosensitivity α, Gy⁻¹.
    weights
        Voxel volumes or masses (default equal).

    Returns
    -------
    float
        EUD in Gy; computed with a log-sum-exp shift so that > 1000 Gy voxels do not underflow.
    """
    d = _doses(dose_gy).ravel()
    if d.size == 0:
        raise InputError("EUD of an empty dose set is undefined")
    a = _positive(alpha_per_gy, "alpha_per_gy")
    w = _weights(None if weights is None else np.asarray(weights).ravel(), d.shape)
    x = -a * d
    shift = float(x.max())
    log_mean = shift + math.log(float(np.sum(w * np.exp(x - shift))) / float(w.sum()))
    return -log_mean / a


def tcp_logistic(dose_gy: npt.ArrayLike, *, d50_gy: float, gamma50: float) -> np.ndarray | float:
    """Logistic tumour control probability ``1 / (1 + (D50/D)^{4γ50})``.

    >>> tcp_logistic(292.0, d50_gy=292.0, gamma50=1.0)
    0.5
    """
    d = _doses(dose_gy)
    d50 = _positive(d50_gy, "d50_gy")
    g = _positive(gamma50, "gamma50")
    with np.errstate(divide="ignore"):
        ratio = np.where(d > 0, d50 / np.where(d > 0, d, 1.0), np.inf)
    out = 1.0 / (1.0 + ratio ** (4.0 * g))
    return float(out) if out.ndim == 0 else out


def tcp_poisson(
    dose_gy: npt.ArrayLike, *, alpha_per_gy: float, clonogens: float, weights: npt.ArrayLike | None = None
) -> float:
    """Poisson TCP ``exp(−N₀ Σ v_i e^{−α D_i})`` with ``v_i`` the relative voxel weights (sum 1)."""
    d = _doses(dose_gy).ravel()
    a = _positive(alpha_per_gy, "alpha_per_gy")
    n0 = _positive(clonogens, "clonogens")
    w = _weights(None if weights is None else np.asarray(weights).ravel(), d.shape)
    surviving = n0 * float(np.sum(w / w.sum() * np.exp(-a * d)))
    return math.exp(-surviving)


def effective_dose_lkb(dose_gy: npt.ArrayLike, *, n: float, weights: npt.ArrayLike | None = None) -> float:
    """Kutcher–Burman effective dose ``D_eff = (Σ v_i D_i^{1/n})^n`` (n = 1: mean dose), Gy."""
    d = _doses(dose_gy).ravel()
    vol = _positive(n, "n")
    w = _weights(None if weights is None else np.asarray(weights).ravel(), d.shape)
    v = w / w.sum()
    return float(np.sum(v * d ** (1.0 / vol)) ** vol)


def ntcp_lkb(
    dose_gy: npt.ArrayLike,
    *,
    td50_gy: float,
    m: float,
    n: float = 1.0,
    weights: npt.ArrayLike | None = None,
) -> float:
    """Lyman–Kutcher–Burman normal-tissue complication probability.

    Parameters
    ----------
    dose_gy
        Voxel doses (or BEDs, with a BED-based TD50), Gy; a scalar is taken as ``D_eff``.
    td50_gy
        Dose for 50 % complication probability (uniform irradiation), Gy.
    m
        Slope parameter.
    n
        Volume-effect parameter (1 = mean-dose organ, usual for liver).
    weights
        Voxel volumes or masses.

    Returns
    -------
    float
        ``Φ((D_eff − TD50)/(m·TD50))``.

    Examples
    --------
    >>> ntcp_lkb(93.0, td50_gy=93.0, m=0.28)
    0.5
    >>> round(ntcp_lkb(60.0, td50_gy=93.0, m=0.28), 4)
    0.1025
    """
    td50 = _positive(td50_gy, "td50_gy")
    slope = _positive(m, "m")
    d_eff = effective_dose_lkb(dose_gy, n=n, weights=weights)
    return float(ndtr((d_eff - td50) / (slope * td50)))
