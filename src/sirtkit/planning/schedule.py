"""Treatment-day logistics: vial choice and timing, resin draw fraction, decay tables, delivered activity.

All datetimes must be timezone-aware (a naive one is refused; TheraSphere labels are in US Eastern time).
Intervals and time steps are computed in UTC (:mod:`sirtkit.physics.decay`), so a table over a
daylight-saving change keeps true 6-hour steps.

- Glass: at a planned infusion time the vial must hold ``A_req`` (the activity to prepare, which already
  includes the expected residual): the activity needed at calibration is ``A_req/DF(t)``; the order is the
  smallest stock vial with ``V_cal·DF(t) ≥ A_req``; each vial reaches ``A_req`` at
  ``t_cal + (T½/ln 2)·ln(V_cal/A_req)`` (CLINICAL.md §5, W8).
- Resin: the dose is drawn from a 3 GBq vial: fraction ``A_req/(V_cal·DF(t))``.
- Delivered activity: ``A_del = A_pre·DF(t_pre→t_adm) − A_res·DF(t_res→t_adm)`` (the residual is decay
  corrected *back* to administration, ×exp(+λΔt)).

References
----------
CLINICAL.md §5 (TheraSphere PI vial sizes; SIR-Spheres PI; Hoang JVIR 2019 residuals).

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> cal = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
>>> order = choose_glass_vial(2.6284, cal + timedelta(hours=70), cal)
>>> round(order.activity_needed_at_calibration_gbq, 4), order.vial_size_gbq
(5.6031, 7.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sirtkit.errors import InputError
from sirtkit.physics.decay import add_hours, decay_factor, elapsed_hours, require_aware, time_to_reach_h
from sirtkit.physics.nuclides import Y90, Nuclide
from sirtkit.planning.devices import get_device
from sirtkit.units import require_positive

__all__ = [
    "DecayRow",
    "DeliveredActivity",
    "GlassVialOption",
    "GlassVialOrder",
    "ResinDraw",
    "choose_glass_vial",
    "decay_table",
    "delivered_activity",
    "resin_draw",
]

_GLASS = get_device("glass")
# Two decay-table times closer than one second are the same row.
_SAME_TIME_H = 1.0 / 3600.0
_RESIN = get_device("resin")


@dataclass(frozen=True)
class DecayRow:
    """Activity at one time of a decay table."""

    time: datetime
    hours_from_reference: float
    decay_factor: float
    activity_gbq: float
    event: str = ""


@dataclass(frozen=True)
class GlassVialOption:
    """When a stock glass vial holds the required activity."""

    vial_size_gbq: float
    hours_after_calibration: float
    time: datetime
    within_window: bool


@dataclass(frozen=True)
class GlassVialOrder:
    """Glass vial for a planned infusion time, with the alternatives (infusion time per vial size)."""

    activity_required_gbq: float
    infusion_time: datetime
    calibration_time: datetime
    hours_after_calibration: float
    decay_factor: float
    activity_needed_at_calibration_gbq: float
    vial_size_gbq: float | None
    vial_activity_at_infusion_gbq: float | None
    excess_fraction: float | None
    infusion_within_window: bool
    options: tuple[GlassVialOption, ...]


@dataclass(frozen=True)
class ResinDraw:
    """Activity to draw from a resin vial at the infusion time."""

    activity_required_gbq: float
    vial_activity_at_calibration_gbq: float
    vial_activity_at_infusion_gbq: float
    hours_after_calibration: float
    decay_factor: float
    fraction_of_vial: float
    sufficient: bool
    within_window: bool


@dataclass(frozen=True)
class DeliveredActivity:
    """Delivered activity from the prepared and the residual measurement, at administration time."""

    administration_time: datetime
    prepared_activity_at_administration_gbq: float
    residual_activity_at_administration_gbq: float
    activity_delivered_gbq: float
    residual_fraction: float


def _in_window(hours: float, start_h: float | None, end_h: float | None) -> bool:
    return (start_h is None or hours >= start_h) and (end_h is None or hours <= end_h)


def decay_table(
    activity_gbq: float,
    reference_time: datetime,
    start: datetime,
    end: datetime,
    step_h: float = 12.0,
    nuclide: Nuclide = Y90,
    *,
    events: Mapping[str, datetime] | None = None,
) -> tuple[DecayRow, ...]:
    """Activity from ``start`` to ``end`` (inclusive when on the grid) every ``step_h`` hours.

    ``activity_gbq`` is the activity at ``reference_time`` (e.g. the vial calibration). Each of
    ``events`` (label → time, e.g. the planned infusion) gets its own row at its exact time, marked with
    its label, in time order — also outside ``start``–``end``. Times are in ``start``'s zone.

    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    >>> rows = decay_table(3.0, t0, t0, t0 + timedelta(hours=24), step_h=24)
    >>> [round(r.activity_gbq, 4) for r in rows]
    [3.0, 2.3143]
    >>> rows = decay_table(3.0, t0, t0, t0 + timedelta(hours=24), step_h=24,
    ...                    events={"infusion": t0 + timedelta(hours=17, minutes=30)})
    >>> [(r.hours_from_reference, r.event) for r in rows]
    [(0.0, ''), (17.5, 'infusion'), (24.0, '')]
    """
    require_positive(activity_gbq, "activity_gbq")
    require_positive(step_h, "step_h")
    require_aware(reference_time, "reference_time")
    span = elapsed_hours(start, end)
    if span < 0:
        raise InputError(f"decay table end {end.isoformat()} is before start {start.isoformat()}")
    n = math.floor(span / step_h + 1e-9) + 1
    if n > 10_000:
        raise InputError(f"decay table would have {n} rows: use a larger step_h")
    rows = []
    for i in range(n):
        t = add_hours(start, i * step_h)
        h = elapsed_hours(reference_time, t)
        df = decay_factor(h, nuclide)
        rows.append(DecayRow(t, h, df, activity_gbq * df))
    tz = start.tzinfo
    for label, moment in (events or {}).items():
        h = elapsed_hours(reference_time, moment)
        same = next((i for i, row in enumerate(rows) if abs(row.hours_from_reference - h) < _SAME_TIME_H), None)
        if same is not None:  # an event on an existing row (grid or another event) marks that row
            old = rows[same]
            rows[same] = DecayRow(old.time, old.hours_from_reference, old.decay_factor, old.activity_gbq,
                                  f"{old.event} / {label}" if old.event else label)
            continue
        df = decay_factor(h, nuclide)
        rows.append(DecayRow(require_aware(moment, label).astimezone(tz), h, df, activity_gbq * df, label))
    rows.sort(key=lambda row: row.hours_from_reference)
    return tuple(rows)


def choose_glass_vial(
    activity_required_gbq: float,
    infusion_time: datetime,
    calibration_time: datetime,
    vial_sizes_gbq: tuple[float, ...] = _GLASS.vial_sizes_gbq,
    *,
    usable_from_h: float | None = _GLASS.usable_from_h,
    usable_until_h: float | None = _GLASS.usable_until_h,
    nuclide: Nuclide = Y90,
) -> GlassVialOrder:
    """Smallest glass vial holding ``activity_required_gbq`` at ``infusion_time``, and when each vial would.

    ``activity_required_gbq`` is the activity to prepare (vial activity at administration; includes the
    expected residual). ``vial_size_gbq`` is ``None`` if even the largest vial is too small at that time.

    References
    ----------
    TheraSphere PI (3, 5, 7, 10, 15, 20 GBq); CLINICAL.md §5 and W8 (DF(70 h) = 0.469096 → 5.6031 GBq at
    calibration; a 5 GBq vial reaches 2.6284 GBq at t_cal + 59.47 h).
    """
    require_positive(activity_required_gbq, "activity_required_gbq")
    require_aware(infusion_time, "infusion_time")
    require_aware(calibration_time, "vial calibration_time")
    if not vial_sizes_gbq:
        raise InputError("no vial sizes given")
    hours = elapsed_hours(calibration_time, infusion_time)
    df = decay_factor(hours, nuclide)
    needed = activity_required_gbq / df
    chosen = next((v for v in sorted(vial_sizes_gbq) if v * df >= activity_required_gbq), None)
    options = []
    for v in sorted(vial_sizes_gbq):
        if v < activity_required_gbq:
            continue
        h = time_to_reach_h(v, activity_required_gbq, nuclide)
        options.append(GlassVialOption(v, h, add_hours(calibration_time, h),
                                       _in_window(h, usable_from_h, usable_until_h)))
    at_infusion = None if chosen is None else chosen * df
    excess = None if at_infusion is None else at_infusion / activity_required_gbq - 1.0
    return GlassVialOrder(
        activity_required_gbq=activity_required_gbq, infusion_time=infusion_time, calibration_time=calibration_time,
        hours_after_calibration=hours, decay_factor=df, activity_needed_at_calibration_gbq=needed,
        vial_size_gbq=chosen, vial_activity_at_infusion_gbq=at_infusion, excess_fraction=excess,
        infusion_within_window=_in_window(hours, usable_from_h, usable_until_h), options=tuple(options),
    )


def resin_draw(
    activity_required_gbq: float,
    infusion_time: datetime,
    calibration_time: datetime,
    vial_activity_at_calibration_gbq: float = _RESIN.vial_sizes_gbq[0],
    *,
    usable_from_h: float | None = _RESIN.usable_from_h,
    usable_until_h: float | None = _RESIN.usable_until_h,
    nuclide: Nuclide = Y90,
) -> ResinDraw:
    """Fraction of a resin vial to draw so that the syringe holds ``activity_required_gbq`` at infusion.

    ``sufficient`` is False when the vial holds less than required at that time (fraction > 1).

    >>> from datetime import datetime, timedelta, timezone
    >>> cal = datetime(2026, 3, 2, 18, tzinfo=timezone.utc)
    >>> d = resin_draw(1.5971, cal + timedelta(hours=16), cal)
    >>> round(d.fraction_of_vial, 4), d.sufficient
    (0.6329, True)
    """
    require_positive(activity_required_gbq, "activity_required_gbq")
    require_positive(vial_activity_at_calibration_gbq, "vial_activity_at_calibration_gbq")
    require_aware(infusion_time, "infusion_time")
    require_aware(calibration_time, "vial calibration_time")
    hours = elapsed_hours(calibration_time, infusion_time)
    df = decay_factor(hours, nuclide)
    vial_now = vial_activity_at_calibration_gbq * df
    fraction = activity_required_gbq / vial_now
    return ResinDraw(activity_required_gbq, vial_activity_at_calibration_gbq, vial_now, hours, df, fraction,
                     fraction <= 1.0, _in_window(hours, usable_from_h, usable_until_h))


def delivered_activity(
    prepared_activity_gbq: float,
    prepared_time: datetime,
    administration_time: datetime,
    residual_activity_gbq: float,
    residual_time: datetime,
    nuclide: Nuclide = Y90,
) -> DeliveredActivity:
    """Delivered activity at administration from the prepared (pre-) and residual (post-) measurements.

    ``A_del = A_pre·DF(t_pre→t_adm) − A_res·DF(t_res→t_adm)``; ``DF(t_res→t_adm) > 1`` because the residual is
    measured after administration. ``residual_fraction = A_res(t_adm)/A_pre(t_adm)``.

    Raises
    ------
    InputError
        Residual larger than the prepared activity (check the measurements and their times).

    >>> from datetime import datetime, timedelta, timezone
    >>> t = datetime(2026, 3, 4, 10, tzinfo=timezone.utc)
    >>> d = delivered_activity(2.0, t, t, 0.02, t)
    >>> round(d.activity_delivered_gbq, 6), round(d.residual_fraction, 6)
    (1.98, 0.01)
    """
    require_positive(prepared_activity_gbq, "prepared_activity_gbq")
    require_positive(residual_activity_gbq, "residual_activity_gbq", allow_zero=True)
    pre = prepared_activity_gbq * decay_factor(elapsed_hours(prepared_time, administration_time), nuclide)
    res = residual_activity_gbq * decay_factor(elapsed_hours(residual_time, administration_time), nuclide)
    if res > pre:
        raise InputError(
            f"residual activity at administration ({res:.4g} GBq) exceeds the prepared activity ({pre:.4g} GBq): "
            "check the residual measurement, its unit and its time"
        )
    return DeliveredActivity(administration_time, pre, res, pre - res, res / pre)
