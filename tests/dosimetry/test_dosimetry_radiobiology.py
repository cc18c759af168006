"""BED, EQD2, EUD, TCP, NTCP (CLINICAL.md §11.5 and §12 worked examples)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sirtkit.dosimetry import (
    RADIOBIOLOGY_PARAMETERS,
    bed_permanent_implant,
    effective_dose_lkb,
    eqd2,
    eud,
    ntcp_lkb,
    tcp_logistic,
    tcp_poisson,
)
from sirtkit.errors import UnitsError


def test_w16_tumour_bed() -> None:
    """W16: 100 Gy, α/β 10 Gy, T_rep 1.5 h, T½ 64.1 h → BED 122.87 Gy, EQD2 102.39 Gy."""
    p = RADIOBIOLOGY_PARAMETERS["tumour"]
    kw = {"alpha_beta_gy": p.alpha_beta_gy, "repair_half_time_h": p.repair_half_time_h}
    assert bed_permanent_implant(100.0, **kw) == pytest.approx(122.87, abs=0.005)
    assert eqd2(100.0, **kw) == pytest.approx(102.39, abs=0.005)


def test_w17_normal_liver_bed() -> None:
    """W17: 40 Gy, α/β 2.5 Gy, T_rep 2.5 h → BED 64.02 Gy, EQD2 35.57 Gy; MGH α/β 2.75 → 61.84 Gy."""
    p = RADIOBIOLOGY_PARAMETERS["normal_liver"]
    assert bed_permanent_implant(40.0, alpha_beta_gy=p.alpha_beta_gy, repair_half_time_h=2.5) == pytest.approx(
        64.02, abs=0.005
    )
    assert eqd2(40.0, alpha_beta_gy=2.5, repair_half_time_h=2.5) == pytest.approx(35.57, abs=0.005)
    assert bed_permanent_implant(40.0, alpha_beta_gy=2.75, repair_half_time_h=2.5) == pytest.approx(61.84, abs=0.005)


def test_bed_vectorised() -> None:
    doses = np.array([[0.0, 40.0], [100.0, 1000.0]])
    bed = bed_permanent_implant(doses, alpha_beta_gy=10.0, repair_half_time_h=1.5)
    assert isinstance(bed, np.ndarray) and bed.shape == (2, 2)
    assert bed[0, 0] == 0.0 and bed[1, 0] == pytest.approx(122.87, abs=0.005)
    with pytest.raises(UnitsError):
        bed_permanent_implant(-1.0, alpha_beta_gy=10.0, repair_half_time_h=1.5)


def test_w20_eud() -> None:
    """W20: α = 0.01 Gy⁻¹, doses {50, 100, 150} Gy equal volumes → EUD 91.83 Gy (mean 100)."""
    assert eud([50.0, 100.0, 150.0], 0.01) == pytest.approx(91.83, abs=0.005)
    assert eud(np.full(7, 80.0), 0.3) == pytest.approx(80.0)  # uniform dose → EUD = dose
    # Weights: voxel 150 Gy with twice the volume equals listing it twice.
    assert eud([50.0, 100.0, 150.0], 0.01, weights=[1, 1, 2]) == pytest.approx(eud([50, 100, 150, 150], 0.01))
    assert eud([1000.0, 2000.0], 0.27) == pytest.approx(1000.0 + np.log(2) / 0.27, rel=1e-6)  # no underflow


def test_w24_ntcp_lkb() -> None:
    """W24: NTCP(D_eff = TD50) = 0.5 for any m; D_eff 60, TD50 93, m 0.28 → Φ(−1.2673) = 0.1025
    (checked: scipy.special.ndtr gives 0.102527)."""
    for m in (0.1, 0.28, 0.5):
        assert ntcp_lkb(93.0, td50_gy=93.0, m=m) == pytest.approx(0.5)
    assert ntcp_lkb(60.0, td50_gy=93.0, m=0.28) == pytest.approx(0.1025, abs=5e-5)
    # Vector input with n = 1: D_eff is the mean dose.
    assert ntcp_lkb([30.0, 90.0], td50_gy=93.0, m=0.28) == pytest.approx(ntcp_lkb(60.0, td50_gy=93.0, m=0.28))
    assert effective_dose_lkb([10.0, 40.0], n=0.5) == pytest.approx(((10**2 + 40**2) / 2) ** 0.5)


def test_tcp() -> None:
    """Logistic TCP is 0.5 at D50 (Dewaraja 2020 AD50 292 Gy); Poisson TCP = exp(−N₀ e^{−αD}) uniform."""
    assert tcp_logistic(292.0, d50_gy=292.0, gamma50=2.0) == 0.5
    out = tcp_logistic(np.array([0.0, 146.0, 584.0]), d50_gy=292.0, gamma50=1.0)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [0.0, 1 / 17, 16 / 17])
    assert tcp_poisson([100.0, 100.0], alpha_per_gy=0.1, clonogens=1e4) == pytest.approx(np.exp(-1e4 * np.exp(-10)))


@settings(max_examples=40, deadline=None)
@given(
    doses=st.lists(st.floats(min_value=0.0, max_value=1500.0, allow_nan=False), min_size=1, max_size=30),
    alpha=st.floats(min_value=0.001, max_value=0.5),
)
def test_eud_between_min_and_mean(doses: list[float], alpha: float) -> None:
    """Niemierko EUD lies between the minimum and the mean dose (Jensen's inequality)."""
    value = eud(doses, alpha)
    assert min(doses) - 1e-6 <= value <= float(np.mean(doses)) + 1e-6 * max(1.0, max(doses))


@settings(max_examples=40, deadline=None)
@given(d=st.floats(min_value=0.0, max_value=2000.0), ab=st.floats(min_value=1.0, max_value=20.0))
def test_bed_at_least_dose_and_eqd2_consistent(d: float, ab: float) -> None:
    bed = float(bed_permanent_implant(d, alpha_beta_gy=ab, repair_half_time_h=2.0))
    assert bed >= d
    assert float(eqd2(d, alpha_beta_gy=ab, repair_half_time_h=2.0)) == pytest.approx(bed / (1 + 2 / ab))
