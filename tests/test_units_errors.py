"""Units helpers: fractions, percentages and the messages a user sees."""

from __future__ import annotations

import pytest

from sirtkit.errors import InputError, UnitsError
from sirtkit.units import fraction_from_percent, gbq_to_mci, mci_to_gbq, require_fraction, require_positive


def test_mci_gbq():
    """Reference: 1 mCi = 37 MBq exactly; TheraSphere IFU 16.5 mCi = 0.61 GBq."""
    assert mci_to_gbq(16.5) == pytest.approx(0.6105, abs=1e-12)
    assert gbq_to_mci(mci_to_gbq(81.0)) == pytest.approx(81.0)


def test_percent_given_as_fraction_is_explained():
    with pytest.raises(UnitsError, match=r"give 0\.12 instead of 12"):
        require_fraction(12, "lung_shunt_fraction")
    with pytest.raises(InputError):
        require_fraction(float("nan"), "x")
    assert fraction_from_percent(12, "lsf") == pytest.approx(0.12)
    with pytest.raises(UnitsError):
        fraction_from_percent(120, "lsf")


def test_require_positive():
    assert require_positive(1.0, "mass_kg") == 1.0
    assert require_positive(0.0, "x", allow_zero=True) == 0.0
    with pytest.raises(UnitsError, match="mass_kg"):
        require_positive(-1.0, "mass_kg")
