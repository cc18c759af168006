"""ORR/DCR with exact Clopper–Pearson intervals; percentages recomputed from counts.

References: R ``binom.test(x, n)$conf.int`` (exact Clopper–Pearson):
binom.test(16, 100) → 0.0943 – 0.2468; binom.test(32, 36) → 0.7394 – 0.9689; binom.test(0, 10) → 0 – 0.3085;
binom.test(10, 10) → 0.6915 – 1.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sirtkit.errors import InputError
from sirtkit.outcomes.rates import clopper_pearson, proportion, response_rates


@pytest.mark.parametrize(("k", "n", "lo", "hi"), [
    (16, 100, 0.09431, 0.24679), (32, 36, 0.73939, 0.96888), (0, 10, 0.0, 0.30850), (10, 10, 0.69150, 1.0),
])
def test_clopper_pearson_against_r_binom_test(k: int, n: int, lo: float, hi: float) -> None:
    """R binom.test exact intervals (values in the module docstring), tolerance 1e-4 absolute."""
    got = clopper_pearson(k, n)
    assert got[0] == pytest.approx(lo, abs=1e-4)
    assert got[1] == pytest.approx(hi, abs=1e-4)


def test_braat_2019_orr_dcr_recomputed() -> None:
    """Braat CVIR 2019 (CLINICAL.md §10): CR 2, PR 14, SD 75, PD 9 % → ORR 16 %, DCR 91 % (per 100)."""
    r = response_rates(["CR"] * 2 + ["PR"] * 14 + ["SD"] * 75 + ["PD"] * 9)
    assert r.orr.percent == pytest.approx(16.0, abs=1e-12)
    assert r.dcr.percent == pytest.approx(91.0, abs=1e-12)


def test_jgh_2017_dcr_recomputed() -> None:
    """J Gastroenterol Hepatol 2017;32:1617: DCR 32/36 = 88.9 %."""
    p = proportion(32, 36)
    assert round(p.percent, 1) == 88.9


def test_ne_handling() -> None:
    r = response_rates(["PR", "SD", "NE", "PD"])
    assert (r.orr.count, r.orr.total, r.dcr.count) == (1, 4, 2)
    r2 = response_rates(["PR", "SD", "NE", "PD"], exclude_not_evaluable=True)
    assert r2.orr.total == 3


def test_errors() -> None:
    with pytest.raises(InputError, match="not one of"):
        response_rates(["XX"])
    with pytest.raises(InputError, match="no evaluable"):
        response_rates(["NE"], exclude_not_evaluable=True)
    with pytest.raises(InputError):
        clopper_pearson(5, 3)
    with pytest.raises(InputError):
        clopper_pearson(1, 3, confidence=1.5)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 500), data=st.data())
def test_interval_contains_estimate_and_is_monotone(n: int, data: st.DataObject) -> None:
    """The exact interval contains k/n; higher confidence gives a wider interval."""
    k = data.draw(st.integers(0, n))
    lo, hi = clopper_pearson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    lo99, hi99 = clopper_pearson(k, n, 0.99)
    assert lo99 <= lo + 1e-12 and hi99 >= hi - 1e-12
