"""Doses as actually infused and delivered are checked against the same limits as the plan.

Found by trying the CLI as a new user: a residual measurement with a prepared activity 5.7× the plan,
or a glass vial infused whole well before its calibration time, gave lung doses above 30 Gy with no
check and exit 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sirtkit.workflows.planning import PlanCase, run_plan

CASES = Path(__file__).resolve().parents[2] / "examples" / "cases"


def _case(name: str, **changes: object) -> PlanCase:
    doc = yaml.safe_load((CASES / name).read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = doc
        *path, last = dotted.split(".")
        for key in path:
            node = node[key]
        node[last] = value
    return PlanCase.model_validate(doc)


def test_delivered_activity_far_above_plan_fails_lung_limit():
    """Reference: lung dose = 49.67 Gy·kg/GBq × A_del × LSF / 1 kg (CLINICAL.md §3) with A_del ≈ 14.65 GBq
    far above 30 Gy; the delivered checks must FAIL and the plan must not pass."""
    result = run_plan(_case("nelm_glass_mird_residual.yaml", **{"residual.prepared_activity_gbq": 15.0}))
    names = {c.name: c.status.value for c in result.checks}
    assert names["delivered_lung_dose_session"] == "fail"
    assert names["delivered_vs_planned_activity"] == "warn"
    assert not result.passes_hard_limits


def test_nominal_residual_passes():
    result = run_plan(_case("nelm_glass_mird_residual.yaml"))
    names = {c.name: c.status.value for c in result.checks}
    assert names["delivered_lung_dose_session"] == "pass"
    assert names["delivered_vs_planned_activity"] == "pass"
    assert result.passes_hard_limits


def test_whole_glass_vial_infused_is_checked():
    """A glass vial infused 45 h before its calibration holds ~2.8× the planned activity; the doses as
    infused are computed and checked (whole normal-liver limit 75 Gy, EANM 2022 Tab 2), and infusing
    before the vial's calibration is outside its window: a hard failure."""
    result = run_plan(_case("nelm_glass_partition_right_lobe.yaml",
                            **{"schedule.planned_infusion": "2026-02-27T15:00:00-05:00"}))
    assert result.infused_plan is not None
    assert result.infused_plan.activity_delivered_gbq > 2 * result.plan.activity_delivered_gbq
    infused = {c.name: c.status.value for c in result.checks if c.name.startswith("as_infused_")}
    ratio = result.infused_plan.activity_delivered_gbq / result.plan.activity_delivered_gbq
    whole = next(c for c in result.checks if c.name == "as_infused_whole_normal_liver_dose")
    assert whole.measured == pytest.approx(result.plan.whole_normal_liver_dose_gy * ratio, rel=1e-12)
    assert infused["as_infused_tumour_dose_target"] == "pass"
    assert {c.name: c.status.value for c in result.checks}["vial_window_start"] == "fail"
    assert not result.passes_hard_limits


def test_perfused_volume_in_litres_is_refused():
    """perfused_volume_ml: 1.0 (litres typed as mL) gave a 0.003 GBq plan and 117 293 Gy as delivered."""
    import pytest

    from sirtkit.errors import UnitsError

    with pytest.raises((UnitsError, ValueError), match="litres"):
        _case("nelm_glass_mird_residual.yaml", **{"territories": [{"name": "right lobe", "perfused_volume_ml": 1.0}]})
