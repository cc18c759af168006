"""Shared fixtures of the outcomes tests (synthetic cohorts built in code, seeded)."""

from __future__ import annotations

import pandas as pd
import pytest

from sirtkit.outcomes.cohort import CohortData
from sirtkit.outcomes.synthetic import synthetic_cohort


@pytest.fixture(scope="session")
def small_cohort() -> CohortData:
    """A 120-patient synthetic cohort (seed 7)."""
    return synthetic_cohort(120, rng=7)


def make_lesion_tables(rows: list[tuple[str, str, str, bool, str, float | None, str | None]]) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """Build lesions/measurements from (patient, lesion, role, node, date, diameter_mm, non_target_status)."""
    les = {}
    meas = []
    for pid, lid, role, node, date, diam, status in rows:
        les[(pid, lid)] = {"patient_id": pid, "lesion_id": lid, "role": role, "is_lymph_node": node}
        meas.append({"patient_id": pid, "lesion_id": lid, "date": pd.Timestamp(date), "diameter_mm": diam,
                     "non_target_status": status})
    return pd.DataFrame(list(les.values())), pd.DataFrame(meas)


@pytest.fixture
def lesion_tables() -> object:
    """The :func:`make_lesion_tables` helper."""
    return make_lesion_tables
