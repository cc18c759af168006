"""PFS and hepatic PFS from imaging (RECIST 1.1 PD) and the events sheet, hand-computed.

Every patient has the first SIRT on 2020-01-01. Days from 2020-01-01: 2020-04-01 = 91, 2020-07-01 = 182,
2020-09-01 = 244, 2020-10-01 = 274, 2021-01-01 = 366, 2021-06-30 = 546. Months = days / (365.25 / 12).

RECIST 1.1 (Eisenhauer 2009 §4.3): target PD = sum >= 20 % above the nadir *and* >= 5 mm above it; a new
lesion or unequivocal non-target progression is PD. Hepatic PD = the same criteria on the liver lesions only.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sirtkit.outcomes.analysis import analyse_cohort
from sirtkit.outcomes.cohort import DAYS_PER_MONTH, ENDPOINT_DEFINITIONS, derive_endpoints, validate_cohort

SIRT = "2020-01-01"

# (patient, lesion, role, organ, is_lymph_node)
LESIONS = [
    ("A", "L1", "target", "liver", False),
    ("B", "L1", "target", "liver", False),
    ("B", "N1", "new", "bone", False),
    ("C", "L1", "target", "liver", False),
    ("D", "L1", "target", "liver", False),
    ("D", "L2", "non_target", "liver", False),
    ("D", "L3", "non_target", "lymph_node", True),
    ("E", "L1", "target", "liver", False),
    ("E", "N1", "new", None, False),
    ("F", "L1", "target", "liver", False),
]
# (patient, lesion, date, diameter_mm, non_target_status)
MEASUREMENTS = [
    # A: 50 → 40 (SD, nadir 40) → 60 mm: +20 mm = +50 % over the nadir → PD on 2020-07-01 (day 182)
    ("A", "L1", "2019-12-20", 50.0, None), ("A", "L1", "2020-04-01", 40.0, None),
    ("A", "L1", "2020-07-01", 60.0, None),
    # B: liver target 40 → 30 → 30 → 31 (never PD); new bone lesion on 2020-07-01 → overall PD, not hepatic
    ("B", "L1", "2019-12-15", 40.0, None), ("B", "L1", "2020-04-01", 30.0, None),
    ("B", "L1", "2020-07-01", 30.0, None), ("B", "N1", "2020-07-01", 12.0, None),
    ("B", "L1", "2020-10-01", 31.0, None),
    # C: 30 → 20 (PR) → 22 mm (+2 mm: SD); no event → censored at the last imaging 2020-10-01 (day 274)
    ("C", "L1", "2019-12-01", 30.0, None), ("C", "L1", "2020-04-01", 20.0, None),
    ("C", "L1", "2020-10-01", 22.0, None),
    # D: target stable; liver non-target unequivocal progression on 2020-07-01 (hepatic PD); the nodal
    #    non-target is still present
    ("D", "L1", "2019-12-10", 40.0, None), ("D", "L2", "2019-12-10", None, "present"),
    ("D", "L3", "2019-12-10", None, "present"),
    ("D", "L1", "2020-04-01", 41.0, None), ("D", "L2", "2020-04-01", None, "present"),
    ("D", "L3", "2020-04-01", None, "present"),
    ("D", "L1", "2020-07-01", 41.0, None), ("D", "L2", "2020-07-01", None, "progression"),
    ("D", "L3", "2020-07-01", None, "present"),
    # E: new lesion without organ on 2020-04-01 → PD for PFS, never hepatic (site unknown)
    ("E", "L1", "2019-12-20", 25.0, None), ("E", "L1", "2020-04-01", 25.0, None),
    ("E", "N1", "2020-04-01", 10.0, None), ("E", "L1", "2020-07-01", 25.0, None),
    # F: scans before SIRT show PD (30 → 40 mm); after SIRT stable vs that nadir → pre-SIRT PD ignored
    ("F", "L1", "2019-10-01", 30.0, None), ("F", "L1", "2019-12-20", 40.0, None),
    ("F", "L1", "2020-04-01", 33.0, None),
]
EVENTS = [
    ("A", "2020-09-01", "progression"), ("A", "2021-01-01", "death"),
    ("B", "2021-01-01", "last_follow_up"),
    ("C", "2021-06-30", "last_follow_up"),
    ("D", "2021-01-01", "death"),
    ("E", "2021-01-01", "last_follow_up"),
    ("F", "2020-09-01", "hepatic_progression"), ("F", "2021-01-01", "last_follow_up"),
]


def _tables() -> dict[str, pd.DataFrame]:
    pids = sorted({r[0] for r in LESIONS})
    return {
        "patients": pd.DataFrame({"patient_id": pids}),
        "treatments": pd.DataFrame({"patient_id": pids, "treatment_date": SIRT, "device": "glass"}),
        "lesions": pd.DataFrame(LESIONS, columns=["patient_id", "lesion_id", "role", "organ", "is_lymph_node"]),
        "measurements": pd.DataFrame(MEASUREMENTS, columns=["patient_id", "lesion_id", "date", "diameter_mm",
                                                            "non_target_status"]),
        "events": pd.DataFrame(EVENTS, columns=["patient_id", "date", "event"]),
    }


@pytest.fixture(scope="module")
def ep() -> pd.DataFrame:
    return derive_endpoints(validate_cohort(_tables())).set_index("patient_id")


def _m(days: int) -> float:
    return pytest.approx(days / DAYS_PER_MONTH, rel=1e-12)  # type: ignore[no-any-return]


def test_imaging_pd_before_clinical_progression(ep: pd.DataFrame) -> None:
    """A: imaging PD 2020-07-01 (day 182) precedes the recorded clinical progression 2020-09-01 (day 244)."""
    a = ep.loc["A"]
    assert a["imaging_pd_date"] == pd.Timestamp("2020-07-01")
    assert a["pfs_event"] == 1 and a["pfs_months"] == _m(182)
    assert a["pfs_source"] == "imaging+imaging_hepatic"
    assert a["hpfs_event"] == 1 and a["hpfs_months"] == _m(182) and a["hpfs_source"] == "imaging_hepatic"
    assert a["ttp_months"] == _m(182)
    assert a["os_event"] == 1 and a["os_months"] == _m(366) and a["os_source"] == "death"


def test_extrahepatic_only_pd(ep: pd.DataFrame) -> None:
    """B: new bone lesion → PFS event at day 182; liver-only assessment SD → hepatic PFS censored at the
    last imaging 2020-10-01 (day 274); OS censored at the last follow-up 2021-01-01 (day 366)."""
    b = ep.loc["B"]
    assert b["pfs_event"] == 1 and b["pfs_months"] == _m(182) and b["pfs_source"] == "imaging"
    assert pd.isna(b["hepatic_imaging_pd_date"])
    assert b["hpfs_event"] == 0 and b["hpfs_months"] == _m(274) and b["hpfs_source"] == "censored"
    assert b["hpfs_date"] == pd.Timestamp("2020-10-01")
    assert b["os_event"] == 0 and b["os_months"] == _m(366)


def test_censored_at_last_imaging(ep: pd.DataFrame) -> None:
    """C: no PD, no event: PFS and hepatic PFS censored at the last assessment 2020-10-01 (day 274), not at
    the last follow-up 2021-06-30 (day 546, which censors OS)."""
    c = ep.loc["C"]
    assert c["last_assessment_date"] == pd.Timestamp("2020-10-01")
    for key in ("pfs", "hpfs", "ttp"):
        assert c[f"{key}_event"] == 0 and c[f"{key}_months"] == _m(274), key
        assert c[f"{key}_source"] == "censored"
    assert c["os_event"] == 0 and c["os_months"] == _m(546)


def test_hepatic_non_target_progression_and_death(ep: pd.DataFrame) -> None:
    """D: liver non-target progression at day 182 is hepatic PD (PFS and hPFS); death at day 366 is later."""
    d = ep.loc["D"]
    assert d["pfs_months"] == _m(182) and d["pfs_source"] == "imaging+imaging_hepatic"
    assert d["hpfs_months"] == _m(182) and d["hpfs_source"] == "imaging_hepatic"
    assert d["os_months"] == _m(366)


def test_new_lesion_without_site_is_not_hepatic(ep: pd.DataFrame) -> None:
    """E: a new lesion without organ ends PFS (day 91) but not hepatic PFS (censored at day 182)."""
    e = ep.loc["E"]
    assert e["pfs_months"] == _m(91) and e["pfs_source"] == "imaging"
    assert e["hpfs_event"] == 0 and e["hpfs_months"] == _m(182)


def test_pre_sirt_pd_ignored_events_sheet_used(ep: pd.DataFrame) -> None:
    """F: PD on the 2019-12-20 scan (before SIRT) is not an end point; after SIRT 33 mm vs nadir 30 mm is
    +10 % (SD); the hepatic_progression event on 2020-09-01 (day 244) ends PFS and hepatic PFS."""
    f = ep.loc["F"]
    assert pd.isna(f["imaging_pd_date"])
    assert f["pfs_months"] == _m(244) and f["pfs_source"] == "hepatic_progression"
    assert f["hpfs_months"] == _m(244) and f["hpfs_source"] == "hepatic_progression"


def test_death_without_progression_ends_pfs_not_ttp() -> None:
    """Death at day 182 without PD: PFS and hPFS events (source death); TTP censored at the last imaging."""
    t = _tables()
    t["events"] = pd.DataFrame({"patient_id": ["C"], "date": ["2020-07-01"], "event": ["death"]})
    t["measurements"] = t["measurements"][t["measurements"]["date"] < "2020-05-01"]
    ep = derive_endpoints(validate_cohort(t)).set_index("patient_id")
    c = ep.loc["C"]
    assert c["pfs_event"] == 1 and c["pfs_months"] == _m(182) and c["pfs_source"] == "death"
    assert c["hpfs_source"] == "death"
    assert c["ttp_event"] == 0 and c["ttp_months"] == _m(91)


def test_events_only_cohort_keeps_follow_up_censoring() -> None:
    """Without any imaging the last follow-up is the last assessment (previous behaviour kept)."""
    t = _tables()
    del t["measurements"], t["lesions"]
    ep = derive_endpoints(validate_cohort(t)).set_index("patient_id")
    assert ep.loc["C", "pfs_months"] == _m(546) and ep.loc["C", "pfs_event"] == 0
    assert ep.loc["A", "pfs_months"] == _m(244) and ep.loc["A", "pfs_source"] == "progression"


def test_invariants(ep: pd.DataFrame) -> None:
    """PFS <= hepatic PFS (every hepatic event is a PFS event) and PFS <= OS for every patient."""
    assert (ep["pfs_months"] <= ep["hpfs_months"] + 1e-12).all()
    assert (ep["pfs_months"] <= ep["os_months"] + 1e-12).all()
    assert set(ep["pfs_event"]) <= {0, 1}


def test_analysis_reports_definitions_and_sources() -> None:
    """The summary carries the definitions (RECIST 1.1, Eisenhauer 2009) and the event-source counts; a
    lesion without organ gives a caveat."""
    a = analyse_cohort(validate_cohort(_tables()), n_bootstrap=10)
    s = a.summary()
    assert "Eisenhauer" in s["endpoint_definitions"]["pfs"] and "recist1.1" in s["endpoint_definitions"]["pfs"]
    assert "death of any cause" in s["endpoint_definitions"]["os"]
    assert "intrahepatic" in s["endpoint_definitions"]["hpfs"]
    assert s["endpoint_event_sources"]["pfs"]["imaging"] == 2
    assert any("no organ" in w for w in a.warnings)
    assert set(ENDPOINT_DEFINITIONS) == {"os", "pfs", "hpfs", "censoring"}
    assert {"pfs_source", "hpfs_source", "imaging_pd_date"} <= set(a.endpoints.columns)
