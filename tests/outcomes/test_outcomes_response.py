"""RECIST 1.1 / mRECIST / EASL / WHO / Choi response — edge cases written from the publications.

Reference: Eisenhauer EA et al., Eur J Cancer 2009;45:228–247 (RECIST 1.1): §4.3.1 target lesions
(PR ≥ 30 % decrease vs baseline sum; PD ≥ 20 % increase vs the smallest sum on study *and* ≥ 5 mm absolute
increase; CR disappearance of all target lesions, nodes < 10 mm short axis); Table 4 (overall response),
Table 5 (non-target only), §4.4 / Table 3 (best overall response and confirmation).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sirtkit.errors import InputError
from sirtkit.outcomes import response as r
from sirtkit.outcomes.response import NonTargetStatus as NT
from sirtkit.outcomes.response import Response as R


class TestTargetResponseRecist:
    def test_w15_pd_needs_20_percent_and_5_mm(self) -> None:
        """CLINICAL.md W15: baseline 100, nadir 60, FU 72 mm → +20 % and +12 mm vs nadir → PD; FU 69 → SD."""
        assert r.target_response(100, 60, 72) is R.PD
        assert r.target_response(100, 60, 69) is R.PR  # still −31 % vs baseline, +15 % vs nadir

    def test_w15_five_mm_rule_keeps_sd(self) -> None:
        """W15: baseline 30, nadir 20, FU 24 → +20 % but only +4 mm → not PD (RECIST 1.1 §4.3.1)."""
        assert r.target_response(30, 20, 24) is R.SD
        assert r.target_response(30, 20, 25) is R.PD

    def test_pr_boundary_exactly_30_percent(self) -> None:
        """A decrease of exactly 30 % is PR ("at least a 30 % decrease")."""
        assert r.target_response(100, 100, 70) is R.PR
        assert r.target_response(100, 100, 70.1) is R.SD

    def test_pd_uses_nadir_not_baseline(self) -> None:
        """+25 % vs nadir (40 → 50 mm, +10 mm) is PD although −50 % vs baseline 100."""
        assert r.target_response(100, 40, 50) is R.PD

    def test_nadir_zero_reappearance_is_pd(self) -> None:
        """After all lesions vanished (nadir 0), reappearance ≥ 5 mm is PD (20 % of 0 plus 5 mm)."""
        assert r.target_response(50, 0, 5) is R.PD
        assert r.target_response(50, 0, 4) is R.PR

    def test_cr_requires_all_gone(self) -> None:
        assert r.target_response(50, 0, 0, all_gone=True) is R.CR
        assert r.target_response(50, 8, 8, all_gone=True) is R.CR  # node short axes < 10 mm remain in sum

    def test_rejects_inconsistent_sums(self) -> None:
        with pytest.raises(InputError, match="nadir"):
            r.target_response(50, 60, 40)
        with pytest.raises(InputError, match=">= 0"):
            r.target_response(-1, 0, 0)
        with pytest.raises(InputError, match="unknown"):
            r.target_response(1, 1, 1, criteria="recist2")


class TestOtherCriteria:
    def test_easl_who_thresholds(self) -> None:
        """EASL/WHO: PR ≥ 50 % decrease, PD ≥ 25 % increase (CLINICAL.md §8; PMC6287184 Table 4)."""
        for c in ("easl", "who"):
            assert r.target_response(1000, 1000, 500, criteria=c) is R.PR
            assert r.target_response(1000, 1000, 510, criteria=c) is R.SD
            assert r.target_response(1000, 800, 1000, criteria=c) is R.PD
            assert r.target_response(1000, 800, 990, criteria=c) is R.SD

    def test_mrecist_has_no_5mm_rule(self) -> None:
        """mRECIST PD: ≥ 20 % increase of the viable sum vs nadir (Lencioni 2010), no absolute rule."""
        assert r.target_response(30, 20, 24, criteria="mrecist") is R.PD

    def test_choi_size_or_density(self) -> None:
        """Choi: PR = ≥ 10 % size decrease OR ≥ 15 % HU decrease (Choi JCO 2007)."""
        assert r.target_response(100, 100, 90, criteria="choi") is R.PR
        assert r.target_response(100, 100, 95, density_change_fraction=-0.15, criteria="choi") is R.PR
        assert r.target_response(100, 100, 95, density_change_fraction=-0.10, criteria="choi") is R.SD

    def test_choi_size_increase_with_density_pr_is_not_pd(self) -> None:
        """Choi PD: ≥ 10 % size increase *and not PR by density*."""
        assert r.target_response(100, 100, 112, density_change_fraction=-0.2, criteria="choi") is R.PR
        assert r.target_response(100, 100, 112, density_change_fraction=0.0, criteria="choi") is R.PD

    def test_modified_choi_needs_both(self) -> None:
        """Modified Choi: PR needs ≥ 10 % size AND ≥ 15 % HU decrease (Smith AJR 2010)."""
        assert r.target_response(100, 100, 85, density_change_fraction=-0.1, criteria="modified_choi") is R.SD
        assert r.target_response(100, 100, 85, density_change_fraction=-0.2, criteria="modified_choi") is R.PR


class TestOverallResponseTable:
    @pytest.mark.parametrize(("target", "nt", "new", "expected"), [
        (R.CR, NT.CR, False, R.CR), (R.CR, NT.NONE, False, R.CR), (R.CR, NT.NON_CR_NON_PD, False, R.PR),
        (R.CR, NT.NE, False, R.PR), (R.PR, NT.NON_CR_NON_PD, False, R.PR), (R.PR, NT.NE, False, R.PR),
        (R.SD, NT.NON_CR_NON_PD, False, R.SD), (R.SD, NT.NE, False, R.SD), (R.NE, NT.NON_CR_NON_PD, False, R.NE),
        (R.PD, NT.CR, False, R.PD), (R.CR, NT.PD, False, R.PD), (R.CR, NT.CR, True, R.PD),
    ])
    def test_eisenhauer_table4(self, target: R, nt: NT, new: bool, expected: R) -> None:
        """Eisenhauer 2009 Table 4 (target × non-target × new lesions → overall)."""
        assert r.overall_response(target, nt, new) is expected

    @pytest.mark.parametrize(("nt", "new", "expected"), [
        (NT.CR, False, R.CR), (NT.NON_CR_NON_PD, False, R.NON_CR_NON_PD), (NT.NE, False, R.NE),
        (NT.PD, False, R.PD), (NT.CR, True, R.PD)])
    def test_eisenhauer_table5(self, nt: NT, new: bool, expected: R) -> None:
        """Eisenhauer 2009 Table 5 (non-target disease only)."""
        assert r.overall_response(None, nt, new) is expected

    def test_vectorised_equals_scalar_for_every_combination(self) -> None:
        targets = [R.CR, R.PR, R.SD, R.PD, R.NE, None]
        combos = list(itertools.product(targets, list(NT), [False, True]))
        tr = np.array(["NE" if t is None else t.value for t, _, _ in combos], dtype=object)
        nt = np.array([n.value for _, n, _ in combos], dtype=object)
        new = np.array([w for _, _, w in combos])
        has = np.array([t is not None for t, _, _ in combos])
        vec = r._overall_vectorised(tr, nt, new, has)
        scalar = [r.overall_response(t, n, w).value for t, n, w in combos]
        assert list(vec) == scalar


class TestBestOverallResponse:
    def test_best_is_best_before_progression(self) -> None:
        assert r.best_overall_response([60, 120, 180], ["SD", "PR", "PD"]) is R.PR
        assert r.best_overall_response([60, 120], ["PD", "CR"]) is R.PD

    def test_confirmation_cr_needs_later_cr(self) -> None:
        """RECIST 1.1 Table 3: CR then CR ≥ 4 weeks later → CR; CR then PR → PR."""
        assert r.best_overall_response([60, 90], ["CR", "CR"], confirmation_min_days=28) is R.CR
        assert r.best_overall_response([60, 90], ["CR", "PR"], confirmation_min_days=28) is R.PR
        assert r.best_overall_response([60, 80], ["CR", "CR"], confirmation_min_days=28) is R.SD

    def test_unconfirmed_pr_before_pd_counts_as_sd_if_long_enough(self) -> None:
        """Table 3: PR, PD → SD if the minimum SD duration is met, else PD."""
        assert r.best_overall_response([60, 120], ["PR", "PD"], confirmation_min_days=28, sd_min_days=42) is R.SD
        assert r.best_overall_response([30, 120], ["PR", "PD"], confirmation_min_days=28, sd_min_days=42) is R.PD

    def test_all_ne(self) -> None:
        assert r.best_overall_response([60], ["NE"]) is R.NE
        assert r.best_overall_response([], []) is R.NE

    def test_non_target_only(self) -> None:
        assert r.best_overall_response([60, 120], ["NN", "NN"]) is R.NON_CR_NON_PD

    def test_length_mismatch(self) -> None:
        with pytest.raises(InputError):
            r.best_overall_response([1, 2], ["CR"])


class TestAssessTimepoints:
    def test_worked_patient(self, lesion_tables) -> None:  # type: ignore[no-untyped-def]
        """Two liver targets + one node target: baseline 40+30+20(node SA) = 90 mm.

        FU1 20+10+9 = 39 mm (−56.7 % → PR, node < 10 mm but liver lesions remain);
        FU2 0+0+9 → all targets gone (node 9 < 10 mm) and non-target absent → CR;
        FU3 0+0+15 → +6 mm vs nadir 9 (+67 %) → PD.
        """
        rows = []
        for date, (a, b, c, nt) in zip(["2020-01-01", "2020-04-01", "2020-07-01", "2020-10-01"],
                                       [(40, 30, 20, "present"), (20, 10, 9, "present"), (0, 0, 9, "absent"),
                                        (0, 0, 15, "absent")], strict=True):
            rows += [("P1", "L1", "target", False, date, a, None), ("P1", "L2", "target", False, date, b, None),
                     ("P1", "N1", "target", True, date, c, None), ("P1", "X1", "non_target", False, date, None, nt)]
        les, meas = lesion_tables(rows)
        tp = r.assess_timepoints(les, meas)
        assert tp["target_sum"].tolist() == [39.0, 9.0, 15.0]
        assert tp["baseline_sum"].iloc[0] == 90.0
        assert tp["overall_response"].tolist() == ["PR", "CR", "PD"]
        assert tp["change_from_baseline_fraction"].iloc[0] == pytest.approx(-51 / 90, rel=1e-12)
        best = r.best_overall_responses(tp)
        assert best["best_response"].tolist() == ["CR"]
        assert best["best_change_fraction"].iloc[0] == pytest.approx(-81 / 90, rel=1e-12)

    def test_missing_target_is_ne_unless_pd(self, lesion_tables) -> None:  # type: ignore[no-untyped-def]
        """RECIST 1.1: a missing target makes the time point NE unless the measured ones already show PD."""
        rows = [("P1", "L1", "target", False, "2020-01-01", 20.0, None),
                ("P1", "L2", "target", False, "2020-01-01", 20.0, None),
                ("P1", "L1", "target", False, "2020-04-01", 18.0, None),
                ("P1", "L1", "target", False, "2020-07-01", 60.0, None)]
        les, meas = lesion_tables(rows)
        tp = r.assess_timepoints(les, meas)
        assert tp["overall_response"].tolist() == ["NE", "PD"]

    def test_new_lesion_is_pd(self, lesion_tables) -> None:  # type: ignore[no-untyped-def]
        rows = [("P1", "L1", "target", False, "2020-01-01", 50.0, None),
                ("P1", "L1", "target", False, "2020-04-01", 20.0, None),
                ("P1", "NEW", "new", False, "2020-04-01", 12.0, None)]
        les, meas = lesion_tables(rows)
        assert r.assess_timepoints(les, meas)["overall_response"].tolist() == ["PD"]

    def test_best_change_is_taken_before_the_first_pd(self, lesion_tables) -> None:  # type: ignore[no-untyped-def]
        """QA finding 4 (RECIST 1.1 §4.4: best response until progression; Gillespie 2012 waterfall convention).
        P1: 50 → 45 mm (−10 %, SD) → 22 mm with a new lesion (PD): best SD, best change −10 %, not the −56 %
        measured at the PD visit. P2: PD at the first assessment (50 → 65 mm, +30 %): shown with +30 %.
        P3: 50 → 30 (PR) → 70 mm (PD; +40 % from baseline): best change −40 % (tol 1e-12)."""
        rows = [("P1", "L1", "target", False, "2020-01-01", 50.0, None),
                ("P1", "L1", "target", False, "2020-04-01", 45.0, None),
                ("P1", "L1", "target", False, "2020-07-01", 22.0, None),
                ("P1", "NEW", "new", False, "2020-07-01", 12.0, None),
                ("P2", "L1", "target", False, "2020-01-01", 50.0, None),
                ("P2", "L1", "target", False, "2020-04-01", 65.0, None),
                ("P3", "L1", "target", False, "2020-01-01", 50.0, None),
                ("P3", "L1", "target", False, "2020-04-01", 30.0, None),
                ("P3", "L1", "target", False, "2020-07-01", 70.0, None)]
        les, meas = lesion_tables(rows)
        tp = r.assess_timepoints(les, meas)
        assert tp["overall_response"].tolist() == ["SD", "PD", "PD", "PR", "PD"]
        for confirmation in (None, 28.0):
            best = r.best_overall_responses(tp, confirmation_min_days=confirmation).set_index("patient_id")
            assert best.loc["P1", "best_response"] == "SD"
            assert best.loc["P1", "best_change_fraction"] == pytest.approx(-0.10, abs=1e-12)
            assert best.loc["P2", "best_change_fraction"] == pytest.approx(0.30, abs=1e-12)
            assert best.loc["P3", "best_change_fraction"] == pytest.approx(-0.40, abs=1e-12)

    def test_unequivocal_non_target_progression(self, lesion_tables) -> None:  # type: ignore[no-untyped-def]
        rows = [("P1", "L1", "target", False, "2020-01-01", 50.0, None),
                ("P1", "X", "non_target", False, "2020-01-01", None, "present"),
                ("P1", "L1", "target", False, "2020-04-01", 20.0, None),
                ("P1", "X", "non_target", False, "2020-04-01", None, "progression")]
        les, meas = lesion_tables(rows)
        assert r.assess_timepoints(les, meas)["overall_response"].tolist() == ["PD"]

    def test_non_target_only_patient(self, lesion_tables) -> None:  # type: ignore[no-untyped-def]
        rows = [("P2", "X", "non_target", False, "2020-01-01", None, "present"),
                ("P2", "X", "non_target", False, "2020-04-01", None, "present"),
                ("P2", "X", "non_target", False, "2020-07-01", None, "absent")]
        les, meas = lesion_tables(rows)
        tp = r.assess_timepoints(les, meas)
        assert tp["overall_response"].tolist() == ["NN", "CR"]
        assert tp["target_response"].isna().all()

    def test_missing_column(self, lesion_tables) -> None:  # type: ignore[no-untyped-def]
        les, meas = lesion_tables([("P1", "L1", "target", False, "2020-01-01", 50.0, None)])
        with pytest.raises(InputError, match="viable_diameter_mm"):
            r.assess_timepoints(les, meas, "mrecist")

    def test_vectorised_best_equals_scalar(self, small_cohort) -> None:  # type: ignore[no-untyped-def]
        tp = r.assess_timepoints(small_cohort.lesions, small_cohort.measurements)
        best = r.best_overall_responses(tp).set_index("patient_id")["best_response"]
        for pid, part in tp.groupby("patient_id"):
            assert best[pid] == r.best_overall_response(part["days"].tolist(),
                                                        part["overall_response"].tolist()).value


@settings(max_examples=60, deadline=None)
@given(base=st.floats(1, 500), nadir_frac=st.floats(0, 1), cur=st.floats(0, 1000))
def test_invariant_scaling_without_absolute_rule(base: float, nadir_frac: float, cur: float) -> None:
    """Criteria without an absolute rule are scale invariant (mm vs cm gives the same category)."""
    nadir = base * nadir_frac
    for c in ("who", "mrecist"):
        a = r.target_response(base, nadir, cur, criteria=c)
        b = r.target_response(base * 10, nadir * 10, cur * 10, criteria=c)
        assert a is b


@settings(max_examples=60, deadline=None)
@given(base=st.floats(10, 300), nadir_frac=st.floats(0.05, 1), grow=st.floats(0, 3))
def test_invariant_more_growth_never_better(base: float, nadir_frac: float, grow: float) -> None:
    """Monotonicity: a larger current sum never gives a better category than a smaller one."""
    nadir = base * nadir_frac
    order = {R.CR: 0, R.PR: 1, R.SD: 2, R.PD: 3}
    small = r.target_response(base, nadir, nadir * (1 + grow))
    big = r.target_response(base, nadir, nadir * (1 + grow) + 10)
    assert order[big] >= order[small]


def test_dataframe_dtype_contract(small_cohort) -> None:  # type: ignore[no-untyped-def]
    tp = r.assess_timepoints(small_cohort.lesions, small_cohort.measurements, "choi")
    assert set(tp["overall_response"]) <= {"CR", "PR", "SD", "NN", "PD", "NE"}
    assert isinstance(tp, pd.DataFrame)


def test_assess_timepoints_easl_and_choi_columns() -> None:
    """EASL on products of viable diameters; Choi with the mean attenuation of the target lesions.

    Baseline viable 40×30 = 1200 mm²; FU 28×20 = 560 mm² (−53 %) → EASL PR.
    Choi: diameter 50 → 48 mm (−4 %), HU 100 → 80 (−20 %) → PR by density; modified Choi → SD.
    """
    les = pd.DataFrame({"patient_id": ["P"], "lesion_id": ["L"], "role": ["target"], "is_lymph_node": [False]})
    meas = pd.DataFrame({"patient_id": ["P", "P"], "lesion_id": ["L", "L"],
                         "date": pd.to_datetime(["2020-01-01", "2020-04-01"]), "diameter_mm": [50.0, 48.0],
                         "viable_diameter_mm": [40.0, 28.0], "viable_perpendicular_mm": [30.0, 20.0],
                         "attenuation_hu": [100.0, 80.0]})
    easl = r.assess_timepoints(les, meas, "easl")
    assert easl["target_sum"].tolist() == [560.0] and easl["overall_response"].tolist() == ["PR"]
    assert r.assess_timepoints(les, meas, "choi")["overall_response"].tolist() == ["PR"]
    assert r.assess_timepoints(les, meas, "modified_choi")["overall_response"].tolist() == ["SD"]
    assert r.assess_timepoints(les, meas, "recist1.1")["overall_response"].tolist() == ["SD"]
    assert r.get_criteria("RECIST").name == "recist1.1"
