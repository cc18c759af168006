"""Radioactive decay between timezone-aware datetimes, and cumulated activity.

``A(t) = A(t₀) · exp(−ln 2 · (t − t₀) / T½)``. Times must carry a timezone: a naive datetime is
refused, because a clock-change or a vial calibrated in another zone (TheraSphere labels are in
US Eastern time) silently shifts the decay by hours.

Examples
--------
>>> from datetime import datetime, timezone, timedelta
>>> t0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
>>> round(decay_activity(5.0, t0, t0 + timedelta(hours=64.1)), 6)
2.5
"""

from __future__ import annotations

import math
from datetime import datetime

from sirtkit.errors import InputError
from sirtkit.physics.nuclides import Y90, Nuclide

__all__ = [
    "cumulated_activity_gbq_h",
    "decay_activity",
    "decay_factor",
    "elapsed_hours",
    "require_aware",
    "time_to_reach_h",
]


def require_aware(moment: datetime, name: str) -> datetime:
    """Return ``moment`` if it has a timezone, else raise :class:`InputError` naming the field."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise InputError(
            f"{name} = {moment.isoformat()} has no timezone: write it with an offset, "
            "e.g. 2026-03-02T09:30:00+01:00, so that decay is computed over the true interval"
        )
    return moment


def elapsed_hours(start: datetime, end: datetime) -> float:
    """Hours from ``start`` to ``end`` (negative if ``end`` is earlier); both must be timezone-aware."""
    require_aware(start, "start time")
    require_aware(end, "end time")
    return (end - start).total_seconds() / 3600.0


def decay_factor(elapsed_h: float, nuclide: Nuclide = Y90) -> float:
    """Fraction of activity left after ``elapsed_h`` hours (> 1 for negative times: decay back).

    References: CLINICAL.md §5, decay factors for T½ = 64.1 h (24 h → 0.77142, 70 h → 0.46910).

    >>> round(decay_factor(70.0), 6)
    0.469096
    """
    return math.exp(-nuclide.decay_constant_per_h * elapsed_h)


def decay_activity(activity: float, from_time: datetime, to_time: datetime, nuclide: Nuclide = Y90) -> float:
    """Activity at ``to_time`` given ``activity`` at ``from_time`` (any unit; same unit out)."""
    return activity * decay_factor(elapsed_hours(from_time, to_time), nuclide)


def time_to_reach_h(activity_start: float, activity_target: float, nuclide: Nuclide = Y90) -> float:
    """Hours of decay for ``activity_start`` to fall to ``activity_target`` (negative if it must grow).

    >>> round(time_to_reach_h(5.0, 2.6284), 2)
    59.47
    """
    if activity_start <= 0 or activity_target <= 0:
        raise InputError("activities must be positive to compute a decay time")
    return math.log(activity_start / activity_target) / nuclide.decay_constant_per_h


def cumulated_activity_gbq_h(
    activity_gbq: float, nuclide: Nuclide = Y90, duration_h: float = math.inf
) -> float:
    """Time-integrated activity Ã = A₀ · τ · (1 − e^(−λt)), GBq·h, physical decay only.

    With ``duration_h`` infinite (permanent implant) this is A₀ · T½ / ln 2.

    >>> round(cumulated_activity_gbq_h(1.0), 3)
    92.477
    """
    if duration_h < 0:
        raise InputError(f"duration_h = {duration_h} must not be negative")
    fraction = 1.0 if math.isinf(duration_h) else -math.expm1(-nuclide.decay_constant_per_h * duration_h)
    return activity_gbq * nuclide.mean_life_h * fraction
