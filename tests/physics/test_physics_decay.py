"""Decay and cumulated activity: worked values and invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sirtkit.errors import InputError
from sirtkit.physics import HO166, Y90
from sirtkit.physics.decay import (
    cumulated_activity_gbq_h,
    decay_activity,
    decay_factor,
    elapsed_hours,
    time_to_reach_h,
)

UTC = UTC


@pytest.mark.parametrize(
    ("hours", "expected"),
    [(1, 0.98924), (24, 0.77142), (48, 0.59509), (70, 0.46910), (72, 0.45906), (168, 0.16257)],
)
def test_decay_factors_table(hours, expected):
    """Reference: CLINICAL.md §5 decay factors for T½ = 64.1 h (5 decimals)."""
    assert decay_factor(hours) == pytest.approx(expected, abs=5e-6)


def test_w8_vial_timing():
    """Reference: CLINICAL.md W8: DF(70 h) 0.469096; 2.6284 GBq at t_cal + 70 h needs 5.6031 GBq at
    calibration; a 5 GBq vial reaches 2.6284 GBq at t_cal + 59.47 h."""
    assert decay_factor(70.0) == pytest.approx(0.469096, abs=1e-6)
    assert 2.6284 / decay_factor(70.0) == pytest.approx(5.6031, abs=1e-4)
    assert time_to_reach_h(5.0, 2.6284) == pytest.approx(59.47, abs=0.01)


def test_naive_datetimes_refused():
    aware = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with pytest.raises(InputError, match="no timezone"):
        decay_activity(1.0, datetime(2026, 3, 1, 12), aware)


def test_timezones_are_honoured():
    """A vial calibrated at 12:00 US Eastern (UTC−5 in March) decays 5 h more by 12:00 UTC+0 ... of the
    next day than a naive reading would suggest: the interval is computed on absolute time."""
    eastern = timezone(timedelta(hours=-5))
    cal = datetime(2026, 3, 1, 12, tzinfo=eastern)
    infusion = datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert elapsed_hours(cal, infusion) == pytest.approx(19.0)


@settings(max_examples=50, deadline=None)
@given(t1=st.floats(0, 500), t2=st.floats(0, 500))
def test_decay_semigroup(t1, t2):
    """Physics invariant: decay(t1) then decay(t2) equals decay(t1 + t2)."""
    assert decay_factor(t1) * decay_factor(t2) == pytest.approx(decay_factor(t1 + t2), rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(a=st.floats(0.01, 50), hours=st.floats(-200, 500))
def test_decay_round_trip(a, hours):
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    t1 = t0 + timedelta(hours=hours)
    assert decay_activity(decay_activity(a, t0, t1), t1, t0) == pytest.approx(a, rel=1e-12)


def test_cumulated_activity():
    """Ã(∞) = A₀·T½/ln2; Ã over one half-life is half of it."""
    full = cumulated_activity_gbq_h(2.0, Y90)
    assert full == pytest.approx(2.0 * 64.1 / 0.6931471805599453, rel=1e-12)
    assert cumulated_activity_gbq_h(2.0, Y90, duration_h=64.1) == pytest.approx(full / 2, rel=1e-12)
    assert cumulated_activity_gbq_h(1.0, HO166) == pytest.approx(26.8 / 0.6931471805599453, rel=1e-12)
    with pytest.raises(InputError):
        cumulated_activity_gbq_h(1.0, Y90, duration_h=-1)


def test_fraction_delivered_in_11_days():
    """Reference: SIR-Spheres PI: 94 % of the dose is delivered in 11 days (CLINICAL.md §1: 0.9424)."""
    fraction = cumulated_activity_gbq_h(1.0, Y90, duration_h=264) / cumulated_activity_gbq_h(1.0, Y90)
    assert fraction == pytest.approx(0.9424, abs=5e-4)
