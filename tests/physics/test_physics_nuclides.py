"""Nuclide constants re-derived from maintained nuclear-data packages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sirtkit.errors import InputError
from sirtkit.physics.nuclides import (
    HO166,
    TC99M,
    Y90,
    Y90_DOSE_CONSTANT_ICRP107_GY_KG_PER_GBQ,
    Y90_DOSE_CONSTANT_THERASPHERE_IFU_GY_KG_PER_GBQ,
    dose_constant_from_energy,
    get_nuclide,
)


def _icrp107_mean_electron_energy_mev(name: str) -> float:
    icrp = pytest.importorskip("icrp107_database")
    total = 0.0
    for kind in ("beta-", "IE", "auger"):
        spectrum = icrp.get_icrp107_spectrum(name, kind)
        total += float(np.dot(spectrum["energies"], spectrum["weights"]))
    return total


@pytest.mark.parametrize("nuclide", [Y90, HO166, TC99M])
def test_half_lives_match_radioactivedecay(nuclide):
    """Reference: radioactivedecay 0.6.1 (ICRP-107 decay data). Tolerance 0.1 % (CLINICAL.md §1)."""
    rd = pytest.importorskip("radioactivedecay")
    assert nuclide.half_life_h == pytest.approx(rd.Nuclide(nuclide.name).half_life("h"), rel=1e-3)


def test_y90_dose_constant_from_icrp107():
    """Reference: ICRP-107 Y-90 beta mean energy 0.932905 MeV, T½ 64.1 h → 49.76 Gy·kg/GBq.

    The conventional 49.67 Gy·kg/GBq (EANM 2022) must agree within 0.5 % (issue requirement).
    """
    energy = _icrp107_mean_electron_energy_mev("Y-90")
    assert energy == pytest.approx(0.9331, abs=5e-4)
    derived = dose_constant_from_energy(energy, Y90.half_life_h)
    assert derived == pytest.approx(Y90_DOSE_CONSTANT_ICRP107_GY_KG_PER_GBQ, rel=1e-3)
    assert Y90.dose_constant_gy_kg_per_gbq == pytest.approx(derived, rel=5e-3)


def test_y90_constants_of_clinical_md():
    """Reference: CLINICAL.md §1 / W25: K(0.9312 MeV, 64.1 h) = 49.669; K(0.9367, 64.1 h) = 49.963."""
    assert dose_constant_from_energy(0.9312, 64.1) == pytest.approx(49.669, abs=1e-3)
    assert dose_constant_from_energy(0.9367, 64.1) == pytest.approx(49.963, abs=1e-3)
    assert pytest.approx(49.963, rel=1e-3) == Y90_DOSE_CONSTANT_THERASPHERE_IFU_GY_KG_PER_GBQ


def test_ho166_dose_constant_against_icrp107():
    """Reference: ICRP-107 Ho-166 electrons (beta + IC + Auger) 0.6963 MeV, T½ 26.8 h → 15.53 Gy·kg/GBq.

    The published 15.87 Gy·kg/GBq (JNM 2016;57(S2):199) counts part of the photon energy as well and
    is 2.2 % higher; the 0.5 % agreement asked for cannot hold for Ho-166, so this test pins both the
    derivation (0.1 %) and the documented gap (within 2.5 %).
    """
    energy = _icrp107_mean_electron_energy_mev("Ho-166")
    assert energy == pytest.approx(HO166.mean_beta_energy_mev, rel=1e-3)
    derived = dose_constant_from_energy(energy, HO166.half_life_h)
    assert derived == pytest.approx(15.53, rel=1e-3)
    assert HO166.dose_constant_gy_kg_per_gbq / derived - 1.0 == pytest.approx(0.022, abs=0.003)


def test_get_nuclide_spellings():
    assert get_nuclide("Y90") is Y90
    assert get_nuclide("ho-166") is HO166
    with pytest.raises(InputError, match="unknown nuclide"):
        get_nuclide("Lu-177")


def test_mean_life():
    assert Y90.mean_life_h == pytest.approx(64.1 / math.log(2))
