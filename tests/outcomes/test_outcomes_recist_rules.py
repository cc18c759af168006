"""RECIST 1.1 baseline and target-selection rules, impossible timelines and dates in cohort files (issue 8,
items 9, 10, 11 and 17).

References: Eisenhauer EA et al., Eur J Cancer 2009;45:228–247 (RECIST 1.1): §3.1.1 measurability (≥ 10 mm;
nodes ≥ 15 mm short axis), §3.2 baseline "as close as possible to the treatment start and never more than
4 weeks before", §3.3.1 at most 5 targets and 2 per organ, §4.3.1 CR = disappearance of all targets.
ISO 8601-1:2019 for dates.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from sirtkit.outcomes import response as r
from sirtkit.outcomes.analysis import analyse_cohort
from sirtkit.outcomes.cohort import CohortValidationError, validate_cohort

R = r.Response


def _tables(meas_dates: list[str], diam: list[float], *, treat: str = "2020-03-01",
            roles: list[str] | None = None, organs: list[str] | None = None,
            nodes: list[bool] | None = None, events: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """One patient 'a', one lesion per entry of ``diam`` measured at every date of ``meas_dates``."""
    n = len(diam)
    ids = [f"L{i + 1}" for i in range(n)]
    rows = [{"patient_id": "a", "lesion_id": lid, "date": d, "diameter_mm": dm}
            for d in meas_dates for lid, dm in zip(ids, diam, strict=True)]
    t = {"patients": pd.DataFrame({"patient_id": ["a"]}),
         "treatments": pd.DataFrame({"patient_id": ["a"], "treatment_date": [treat], "device": ["glass"]}),
         "lesions": pd.DataFrame({"patient_id": ["a"] * n, "lesion_id": ids, "role": roles or ["target"] * n,
                                  "organ": organs or ["liver"] * n, "is_lymph_node": nodes or [False] * n}),
         "measurements": pd.DataFrame(rows)}
    if events is not None:
        t["events"] = events
    return t


class TestBaseline:
    def test_baseline_is_last_pre_treatment_scan_and_days_count_from_treatment(self) -> None:
        """Eisenhauer 2009 §3.2: the baseline is the pre-treatment assessment closest to treatment.

        Scans 2019-06-01 (60 mm), 2020-02-20 (40 mm), SIRT 2020-03-01, follow-up 2020-06-01 (28 mm):
        against the last pre-treatment scan −30 % → PR; the earliest scan would have given −53 %.
        Days from treatment: 92 (exact, calendar days).
        """
        meas = pd.DataFrame({"patient_id": ["a"] * 3, "lesion_id": ["L1"] * 3,
                             "date": pd.to_datetime(["2019-06-01", "2020-02-20", "2020-06-01"]),
                             "diameter_mm": [60.0, 40.0, 28.0]})
        les = pd.DataFrame({"patient_id": ["a"], "lesion_id": ["L1"], "role": ["target"], "is_lymph_node": [False]})
        tp = r.assess_timepoints(les, meas, first_treatment=pd.Series(pd.to_datetime(["2020-03-01"]), index=["a"]))
        assert tp["baseline_sum"].tolist() == [40.0]
        assert tp["change_from_baseline_fraction"].iloc[0] == pytest.approx(-0.30, abs=1e-12)
        assert tp["days"].tolist() == [92.0]
        assert tp["overall_response"].tolist() == ["PR"]

    def test_no_pre_treatment_scan_is_not_evaluable_and_reported(self) -> None:
        """A patient whose first scan is after SIRT has no baseline: NE, and the report says why."""
        data = validate_cohort(_tables(["2020-04-01", "2020-07-01"], [30.0], treat="2020-03-01"))
        b = r.response_baselines(data.measurements, pd.Series(pd.to_datetime(["2020-03-01"]), index=["a"]))
        assert not b["evaluable"].iloc[0] and "no tumour assessment on or before" in b["reason"].iloc[0]
        a = analyse_cohort(data, n_bootstrap=10)
        assert a.best_response["best_response"].tolist() == ["NE"]
        assert any("not evaluable for response" in w for w in a.warnings)

    def test_stale_baseline_is_flagged(self) -> None:
        """RECIST 1.1 §3.2: baseline never more than 4 weeks (28 days) before treatment; 29 days is flagged."""
        m = pd.DataFrame({"patient_id": ["a", "b"], "date": pd.to_datetime(["2020-01-31", "2020-02-01"])})
        first = pd.Series(pd.to_datetime(["2020-02-29", "2020-02-29"]), index=["a", "b"])
        b = r.response_baselines(m, first)
        assert b["baseline_age_days"].tolist() == [29.0, 28.0]
        assert b["baseline_too_old"].tolist() == [True, False]


class TestTargetSelection:
    def test_target_below_10_mm_refused_naming_rule(self) -> None:
        with pytest.raises(CohortValidationError, match=r"lesions, row 2, column role.*9 mm.*RECIST 1.1 §3.1.1"):
            validate_cohort(_tables(["2020-02-20", "2020-06-01"], [9.0]))

    def test_node_target_below_15_mm_short_axis_refused(self) -> None:
        with pytest.raises(CohortValidationError, match=r"short axis of 14 mm.*>= 15 mm"):
            validate_cohort(_tables(["2020-02-20"], [14.0], organs=["lymph_node"], nodes=[True]))

    def test_more_than_two_per_organ_and_five_in_total_refused(self) -> None:
        with pytest.raises(CohortValidationError, match=r"more than 2 target lesions in organ liver"):
            validate_cohort(_tables(["2020-02-20"], [20.0, 21.0, 22.0]))
        organs = ["liver", "liver", "lung", "lung", "bone", "bone"]
        with pytest.raises(CohortValidationError, match=r"more than 5 target lesions"):
            validate_cohort(_tables(["2020-02-20"], [20.0] * 6, organs=organs))

    def test_auto_role_selects_per_rules(self) -> None:
        """Largest measurable first, ≤ 2 per organ (nodes one organ), ≤ 5; small lesions non-target;
        normal nodes (< 10 mm short axis) not followed."""
        diam = [50.0, 40.0, 30.0, 9.0, 20.0, 16.0, 12.0, 8.0]
        organs = ["liver", "liver", "liver", "liver", "lung", "lymph_node", "lymph_node", "lymph_node"]
        nodes = [False] * 5 + [True, True, True]
        data = validate_cohort(_tables(["2020-02-20"], diam, roles=["auto"] * 8, organs=organs, nodes=nodes))
        assert data.lesions["role"].tolist() == ["target", "target", "non_target", "non_target", "target",
                                                 "target", "non_target", "excluded"]

    def test_non_measurable_never_in_sum(self) -> None:
        """A non-target lesion's diameter never enters the target sum."""
        data = validate_cohort(_tables(["2020-02-20", "2020-06-01"], [30.0, 8.0], roles=["target", "non_target"]))
        tp = r.assess_timepoints(data.lesions, data.measurements,
                                 first_treatment=pd.Series(pd.to_datetime(["2020-03-01"]), index=["a"]))
        assert tp["baseline_sum"].tolist() == [30.0]


def test_zero_sum_is_complete_response_without_flag() -> None:
    """RECIST 1.1 §4.3.1: a follow-up sum of 0 mm means every target has disappeared → CR."""
    assert r.target_response(50.0, 30.0, 0.0) is R.CR
    assert r.target_response(50.0, 50.0, 0.0, criteria="who") is R.CR


class TestDatesAndTimeline:
    @pytest.mark.parametrize(("text", "needle"), [
        ("07/10/2019", "ambiguous: day 7 of month 10"),
        ("25/10/2019", "day/month text is not accepted"),
        ("10.07.2019", "ambiguous"),
        ("43750", "is a number, not a date"),
        ("2019-13-01", "is not a date"),
        ("2019-10", "is not a date"),
    ])
    def test_non_iso_text_refused(self, text: str, needle: str) -> None:
        t = _tables([], [], treat=text)
        del t["lesions"], t["measurements"]
        with pytest.raises(CohortValidationError, match=needle):
            validate_cohort(t)

    def test_iso_and_real_date_cells_accepted(self) -> None:
        for value in ("2019-10-07", "2019-10-07T08:30", dt.datetime(2019, 10, 7), pd.Timestamp("2019-10-07")):
            t = _tables([], [], treat=value)  # type: ignore[arg-type]
            del t["lesions"], t["measurements"]
            got = validate_cohort(t).treatments["treatment_date"].iloc[0]
            assert got.date() == dt.date(2019, 10, 7)

    def test_future_and_after_death_refused(self) -> None:
        ev = pd.DataFrame({"patient_id": ["a"], "date": ["2020-05-01"], "event": ["death"]})
        with pytest.raises(CohortValidationError, match=r"measurements, row 3, column date: 2020-06-01 is after the "
                                                        r"death of patient 'a' \(2020-05-01\)"):
            validate_cohort(_tables(["2020-02-20", "2020-06-01"], [30.0], events=ev))
        with pytest.raises(CohortValidationError, match=r"2020-06-01 is in the future \(today is 2020-05-15\)"):
            validate_cohort(_tables(["2020-02-20", "2020-06-01"], [30.0]), today=dt.date(2020, 5, 15))

    def test_second_death_refused(self) -> None:
        ev = pd.DataFrame({"patient_id": ["a", "a"], "date": ["2020-05-01", "2020-05-01"], "event": ["death"] * 2})
        with pytest.raises(CohortValidationError, match="a second death"):
            validate_cohort(_tables(["2020-02-20"], [30.0], events=ev))


def test_by_criteria_equals_one_call_per_criterion() -> None:
    """The shared-work path gives exactly the per-criterion results (every column, every row)."""
    from sirtkit.outcomes.synthetic import synthetic_cohort

    data = synthetic_cohort(150, rng=12)
    first = data.treatments.groupby("patient_id")["treatment_date"].min()
    names = list(r.CRITERIA)
    many = r.assess_timepoints_by_criteria(data.lesions, data.measurements, names, first_treatment=first)
    for name in names:
        one = r.assess_timepoints(data.lesions, data.measurements, name, first_treatment=first)
        pd.testing.assert_frame_equal(many[name], one)
