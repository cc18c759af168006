"""Time arithmetic in UTC, IANA zones, and refusal of implausible intervals (issue 8 items 5–6)."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from sirtkit.errors import InputError
from sirtkit.physics import HO166, Y90
from sirtkit.physics.decay import add_hours, decay_activity, decay_factor, elapsed_hours, localize, zone


def test_spring_change_counts_real_hours() -> None:
    """Europe/Amsterdam springs forward 2026-03-29 02:00 → 03:00. 28 Mar 12:00 CET (11:00Z) to 30 Mar
    11:00 CEST (09:00Z) is 46 h; Python's same-zone subtraction gives 47 h, −1.1 % Y-90 activity."""
    ams = zone("Europe/Amsterdam")
    start, end = datetime(2026, 3, 28, 12, tzinfo=ams), datetime(2026, 3, 30, 11, tzinfo=ams)
    assert (end - start).total_seconds() / 3600 == 47.0  # the pitfall, documented
    assert elapsed_hours(start, end) == pytest.approx(46.0, abs=1e-12)
    assert decay_activity(1.0, start, end) == pytest.approx(math.exp(-Y90.decay_constant_per_h * 46.0), rel=1e-12)


def test_add_hours_over_autumn_change() -> None:
    """Autumn change 2026-10-25 03:00 CEST → 02:00 CET: 24 real hours after 00:00 is 23:00 the same day."""
    ams = zone("Europe/Amsterdam")
    t = add_hours(datetime(2026, 10, 25, 0, tzinfo=ams), 24.0)
    assert (t.day, t.hour) == (25, 23)
    assert elapsed_hours(datetime(2026, 10, 25, 0, tzinfo=ams), t) == pytest.approx(24.0, abs=1e-12)


def test_localize_refuses_gap_and_fold() -> None:
    with pytest.raises(InputError, match="does not exist"):
        localize(datetime(2026, 3, 29, 2, 30), "Europe/Amsterdam", "schedule.vial_calibration")
    with pytest.raises(InputError, match="occurs twice"):
        localize(datetime(2026, 10, 25, 2, 30), "Europe/Amsterdam")
    assert localize(datetime(2026, 3, 1, 12), "America/New_York").utcoffset().total_seconds() == -5 * 3600
    with pytest.raises(InputError, match="IANA"):
        zone("CEST+2")


@pytest.mark.parametrize("hours", [1e6, -1e6, math.inf, math.nan])
def test_decades_are_refused_not_crashing(hours: float) -> None:
    """A date typed decades off gave OverflowError (exp of a huge number) or ZeroDivisionError."""
    with pytest.raises(InputError, match=r"half-lives|check the dates"):
        decay_factor(hours)
    assert decay_factor(150 * HO166.half_life_h, HO166) > 0
