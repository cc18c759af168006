"""Vial choice, resin draw, decay table and delivered activity (CLINICAL.md §5, W8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sirtkit.errors import InputError
from sirtkit.physics.decay import decay_factor
from sirtkit.planning.schedule import choose_glass_vial, decay_table, delivered_activity, resin_draw

CAL = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))


def test_w8_glass_vial_and_timing() -> None:
    """W8 (T½ 64.1 h): DF(70 h) = 0.469096; 2.6284 GBq at t_cal + 70 h needs 5.6031 GBq at calibration (→ the
    7 GBq stock vial); a 5 GBq vial reaches 2.6284 GBq at t_cal + 59.47 h."""
    assert decay_factor(70.0) == pytest.approx(0.469096, abs=5e-7)
    order = choose_glass_vial(2.6284, CAL + timedelta(hours=70), CAL)
    assert order.decay_factor == pytest.approx(0.469096, abs=5e-7)
    assert order.activity_needed_at_calibration_gbq == pytest.approx(5.6031, abs=5e-4)
    assert order.vial_size_gbq == 7.0
    five = next(o for o in order.options if o.vial_size_gbq == 5.0)
    assert five.hours_after_calibration == pytest.approx(59.47, abs=5e-3)
    assert [o.vial_size_gbq for o in order.options] == [3.0, 5.0, 7.0, 10.0, 15.0, 20.0]


def test_glass_no_vial_large_enough() -> None:
    order = choose_glass_vial(15.0, CAL + timedelta(hours=200), CAL)
    assert order.vial_size_gbq is None
    assert order.vial_activity_at_infusion_gbq is None


def test_resin_draw_fraction_and_window() -> None:
    """Resin: fraction = A_req/(3 GBq · DF(t)); DF(24 h) = 0.77142; usable up to 24 h after calibration."""
    draw = resin_draw(1.5, CAL + timedelta(hours=24), CAL)
    assert draw.decay_factor == pytest.approx(0.77142, abs=5e-6)
    assert draw.fraction_of_vial == pytest.approx(1.5 / (3.0 * 0.77142), rel=1e-5)
    assert draw.sufficient and draw.within_window
    late = resin_draw(2.9, CAL + timedelta(hours=30), CAL)
    assert not late.sufficient and not late.within_window


def test_naive_datetime_refused() -> None:
    with pytest.raises(InputError, match="offset"):
        resin_draw(1.5, datetime(2026, 3, 2, 10, 0), CAL)


def test_decay_table_rows() -> None:
    """CLINICAL.md §5 decay factors: 24 h 0.77142, 48 h 0.59509, 72 h 0.45906."""
    rows = decay_table(1.0, CAL, CAL, CAL + timedelta(hours=72), step_h=24.0)
    assert [round(r.activity_gbq, 5) for r in rows] == [1.0, 0.77142, 0.59509, 0.45906]
    with pytest.raises(InputError, match="before start"):
        decay_table(1.0, CAL, CAL, CAL - timedelta(hours=1))


def test_delivered_activity_residual_decayed_back() -> None:
    """A_del = A_pre·DF(t_pre→t_adm) − A_res·DF(t_res→t_adm); the residual measured 1 h after administration
    is corrected back with exp(+λ·1 h) = 1/0.98924."""
    t_adm = CAL + timedelta(hours=70)
    d = delivered_activity(2.63, t_adm - timedelta(hours=2), t_adm, 0.03, t_adm + timedelta(hours=1))
    pre = 2.63 * decay_factor(2.0)
    res = 0.03 / decay_factor(1.0)
    assert d.activity_delivered_gbq == pytest.approx(pre - res, rel=1e-12)
    assert d.residual_activity_at_administration_gbq == pytest.approx(0.03 / 0.98924, rel=1e-5)
    assert d.residual_fraction == pytest.approx(res / pre, rel=1e-12)


def test_residual_larger_than_prepared_refused() -> None:
    with pytest.raises(InputError, match="exceeds the prepared"):
        delivered_activity(1.0, CAL, CAL, 2.0, CAL)


def test_decay_table_exact_event_rows() -> None:
    """Issue 8 item 7: the exact infusion time is its own row (not the nearest 6-hour row); an event on a grid
    time marks that row instead of duplicating it."""
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    rows = decay_table(3.0, t0, t0, t0 + timedelta(hours=24), step_h=6,
                       events={"infusion": t0 + timedelta(hours=8, minutes=20), "check": t0 + timedelta(hours=12)})
    events = [(r.hours_from_reference, r.event) for r in rows if r.event]
    assert events == [(pytest.approx(8 + 1 / 3, abs=1e-12), "infusion"), (12.0, "check")]
    assert len(rows) == 6
    infusion = next(r for r in rows if r.event == "infusion")
    assert infusion.activity_gbq == pytest.approx(3.0 * 0.5 ** ((8 + 1 / 3) / 64.1), rel=1e-12)
