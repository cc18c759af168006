"""Radioactive decay between timezone-aware datetimes, and cumulated activity.

``A(t) = A(t₀) · exp(−ln 2 · (t − t₀) / T½)``. Times must carry a timezone: a naive datetime is
refused, because a clock-change or a vial calibrated in another zone (TheraSphere labels are in
US Eastern time) silently shifts the decay by hours.

All time arithmetic of sirtkit happens here, in UTC: :func:`elapsed_hours` and :func:`add_hours`
convert to UTC first. Python subtracts two datetimes that share one ``tzinfo`` object by their wall
clocks, ignoring a daylight-saving change between them (over the European spring change a real 46 h
interval counts as 47 h, −1.1 % in Y-90 activity); converting to UTC first gives the true interval.
:func:`localize` reads a local wall-clock time in an IANA zone (``Europe/Amsterdam``) as printed on a
vial label, refusing times that do not exist or are ambiguous at a clock change.

Examples
--------
>>> from datetime import datetime, timezone, timedelta
>>> t0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
>>> round(decay_activity(5.0, t0, t0 + timedelta(hours=64.1)), 6)
2.5
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sirtkit.errors import InputError
from sirtkit.physics.nuclides import Y90, Nuclide

__all__ = [
    "MAX_DECAY_HALF_LIVES",
    "add_hours",
    "cumulated_activity_gbq_h",
    "decay_activity",
    "decay_factor",
    "elapsed_hours",
    "localize",
    "require_aware",
    "time_to_reach_h",
    "to_utc",
    "zone",
]

# Decay over more than this many half-lives (either way) is refused: 2^±200 ≈ 1e±60 is far beyond any
# clinical interval (Y-90: 1.5 years) yet well inside float range, so a date typed decades off is an
# InputError naming the interval instead of an OverflowError or a division by a decay factor of 0.
MAX_DECAY_HALF_LIVES = 200.0


def require_aware(moment: datetime, name: str) -> datetime:
    """Return ``moment`` if it has a timezone, else raise :class:`InputError` naming the field."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise InputError(
            f"{name} = {moment.isoformat()} has no timezone: write it with an offset, "
            "e.g. 2026-03-02T09:30:00+01:00, so that decay is computed over the true interval"
        )
    return moment


def to_utc(moment: datetime, name: str = "time") -> datetime:
    """``moment`` (timezone-aware) as a UTC datetime."""
    return require_aware(moment, name).astimezone(UTC)


def elapsed_hours(start: datetime, end: datetime) -> float:
    """True hours from ``start`` to ``end`` (negative if ``end`` is earlier), computed in UTC.

    Both must be timezone-aware. Across a daylight-saving change the result is the physical interval,
    not the wall-clock difference:

    >>> ams = zone("Europe/Amsterdam")
    >>> elapsed_hours(datetime(2026, 3, 28, 12, tzinfo=ams), datetime(2026, 3, 30, 11, tzinfo=ams))
    46.0
    """
    return (to_utc(end, "end time") - to_utc(start, "start time")).total_seconds() / 3600.0


def add_hours(moment: datetime, hours: float) -> datetime:
    """``moment`` plus ``hours`` of real time, expressed in ``moment``'s time zone (arithmetic in UTC).

    >>> ams = zone("Europe/Amsterdam")
    >>> add_hours(datetime(2026, 3, 29, 0, tzinfo=ams), 6).isoformat()
    '2026-03-29T07:00:00+02:00'
    """
    tz = require_aware(moment, "time").tzinfo
    return (to_utc(moment) + timedelta(hours=hours)).astimezone(tz)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (e.g. ``Europe/Amsterdam``, ``America/New_York``).

    Raises
    ------
    InputError
        Unknown zone name (the message shows the expected form).
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"time zone {name!r} is not an IANA zone name: write e.g. Europe/Amsterdam or "
                         "America/New_York (the zone of the clock the time was read from)") from None


def localize(moment: datetime, zone_name: str, name: str = "time") -> datetime:
    """A naive local wall-clock time read in the IANA zone ``zone_name``, as an aware datetime.

    An aware ``moment`` is returned unchanged. A local time that does not exist (skipped at the spring
    change) or occurs twice (autumn change) is refused: write it with its UTC offset instead.

    >>> localize(datetime(2026, 3, 2, 18), "Europe/Amsterdam").isoformat()
    '2026-03-02T18:00:00+01:00'
    """
    if moment.tzinfo is not None and moment.tzinfo.utcoffset(moment) is not None:
        return moment
    tz = zone(zone_name)
    first, second = moment.replace(tzinfo=tz, fold=0), moment.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        # Either a gap (the wall time does not exist) or a fold (it exists twice): both are ambiguous.
        round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        what = "does not exist (clocks skip it)" if round_trip != moment else "occurs twice (clocks go back)"
        raise InputError(f"{name} = {moment.isoformat()} in {zone_name} {what} at a daylight-saving change: "
                         "write it with its UTC offset, e.g. 2026-10-25T02:30:00+01:00")
    return first


def decay_factor(elapsed_h: float, nuclide: Nuclide = Y90) -> float:
    """Fraction of activity left after ``elapsed_h`` hours (> 1 for negative times: decay back).

    References: CLINICAL.md §5, decay factors for T½ = 64.1 h (24 h → 0.77142, 70 h → 0.46910).

    Raises
    ------
    InputError
        ``elapsed_h`` not finite or longer than :data:`MAX_DECAY_HALF_LIVES` half-lives (a date typed
        years off): the physics is not wrong, the input is.

    >>> round(decay_factor(70.0), 6)
    0.469096
    """
    if not math.isfinite(elapsed_h) or abs(elapsed_h) > MAX_DECAY_HALF_LIVES * nuclide.half_life_h:
        raise InputError(
            f"a decay interval of {elapsed_h:.6g} h ({elapsed_h / 24 / 365.25:.3g} years) is more than "
            f"{MAX_DECAY_HALF_LIVES:g} half-lives of {nuclide.name}: check the dates and their years"
        )
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
