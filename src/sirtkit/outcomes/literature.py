"""Published NELM radioembolization series as cited data, and a side-by-side with a cohort.

Values are transcribed from CLINICAL.md §10 (each row carries its citation). Where a paper gives counts,
the rates are **recomputed from the counts** (:func:`recomputed_rates`); percentages given without counts
are kept as published. KM medians need individual patient data, so published medians are sanity ranges
only, never test targets for a new cohort.

>>> s = SERIES["jgh2017"]
>>> round(100 * s.dcr_count / s.n_evaluable, 1)
88.9
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from sirtkit.outcomes.rates import Proportion, proportion

__all__ = ["SERIES", "PublishedSeries", "compare_with_literature", "literature_table", "recomputed_rates"]


@dataclass(frozen=True)
class PublishedSeries:
    """One published series or meta-analysis (``None`` = not reported or not retrieved)."""

    key: str
    citation: str
    design: str
    n_patients: int | None
    device: str
    criteria: str | None = None
    n_evaluable: int | None = None
    orr_count: int | None = None
    dcr_count: int | None = None
    cr_percent: float | None = None
    pr_percent: float | None = None
    sd_percent: float | None = None
    pd_percent: float | None = None
    orr_percent: float | None = None
    dcr_percent: float | None = None
    median_os_months: float | None = None
    median_pfs_months: float | None = None
    median_hepatic_pfs_months: float | None = None
    os_1y_percent: float | None = None
    os_2y_percent: float | None = None
    os_3y_percent: float | None = None
    complications: str = ""
    notes: str = ""


_MONTHS_PER_YEAR = 12.0

#: The series of CLINICAL.md §10 (keys are short names used in reports).
SERIES: dict[str, PublishedSeries] = {s.key: s for s in (
    PublishedSeries(
        "jgh2017", "J Gastroenterol Hepatol 2017;32:1617 (Changzhou/Mayo)", "retrospective", 36, "resin/glass",
        criteria="disease control at 3 months", n_evaluable=36, dcr_count=32, median_os_months=41.0,
        complications="GI ulcer 2/36 (5.6 %); fatigue 31 (86.1 %); anorexia 26 (72.2 %); nausea 15 (41.7 %)",
        notes="carcinoid symptom improvement 15/16; CgA (n=13) none/partial/complete 4/7/2; Child-Pugh p=0.008, "
              "lymph-node metastases p=0.045 for OS"),
    PublishedSeries(
        "frilling2019_institutional", "Frilling A et al. 2019 (institutional series)", "case series", 24,
        "not stated", criteria="3 months", n_evaluable=24, orr_count=14, dcr_count=21,
        complications="no grade 3/4", notes="3-y OS 77.6 %, PFS 50.4 %", os_3y_percent=77.6),
    PublishedSeries(
        "frilling2019_meta", "Frilling A et al. 2019 (meta-analysis of 27 studies, fixed effects)", "meta-analysis",
        None, "mixed", orr_percent=51.0, dcr_percent=88.0, notes="pooled ORR 51 % (47–54), DCR 88 % (85–90)"),
    PublishedSeries(
        "devcic2014", "Devcic Z et al. J Nucl Med 2014;55:1404 (meta-analysis, resin)", "meta-analysis", None,
        "resin", orr_percent=50.0, dcr_percent=86.0,
        notes="12 studies, 435 procedures; ORR 50 % (38–62), DCR 86 % (78–92); pancreatic primary: lower response"),
    PublishedSeries(
        "resin2022", "RESiN registry, BMC Cancer 2022 (s12885-022-09302-z)", "registry", 170, "resin",
        median_os_months=33.0, os_1y_percent=75.0, os_2y_percent=62.0, os_3y_percent=46.0,
        notes="mOS 33 mo (25–NR); pancreatic 42, hindgut 41, foregut 26 mo"),
    PublishedSeries(
        "zuckerman2019", "Zuckerman DA et al. J Gastrointest Oncol 2019;10:118", "retrospective", 59, "not stated",
        median_os_months=31.0, median_pfs_months=13.0, median_hepatic_pfs_months=18.0, os_1y_percent=80.4,
        os_2y_percent=65.6, complications="3 deaths from hepatic failure possibly related"),
    PublishedSeries(
        "memon2012", "Memon K et al. Int J Radiat Oncol Biol Phys 2012 (glass)", "retrospective", 40, "glass",
        criteria="WHO", cr_percent=1.2, pr_percent=62.7, orr_percent=63.9, os_1y_percent=72.5,
        os_2y_percent=62.5, os_3y_percent=45.0,
        complications="fatigue 63 %, nausea/vomiting 40 %, abdominal pain 18 %; G3 bilirubin 2, G4 1",
        notes="EASL CR 20.5 %, PR 43.4 %; median liver dose 113 Gy"),
    PublishedSeries(
        "braat2019", "Braat AJAT et al. Cardiovasc Intervent Radiol 2019;43:246 (after PRRT)", "retrospective", 44,
        "resin", criteria="RECIST 1.1 at 3 months", cr_percent=2.0, pr_percent=14.0, sd_percent=75.0,
        pd_percent=9.0, median_os_months=3.5 * _MONTHS_PER_YEAR,
        complications="clinical toxicity 26 %; RE complications 5 %; fatal REILD 1/44 (2 %)"),
)}


def recomputed_rates(series: PublishedSeries) -> dict[str, Proportion | float | None]:
    """ORR and DCR recomputed from the published counts or category percentages.

    Returns
    -------
    dict
        ``orr`` and ``dcr``: a :class:`Proportion` (with exact CI) when counts exist, a percentage when only
        category percentages exist (e.g. Braat: 2 + 14 = 16 %, 2 + 14 + 75 = 91 %), else the published value.

    Examples
    --------
    >>> r = recomputed_rates(SERIES["braat2019"])
    >>> r["orr"], r["dcr"]
    (16.0, 91.0)
    """
    out: dict[str, Proportion | float | None] = {}
    n = series.n_evaluable
    parts = (series.cr_percent, series.pr_percent, series.sd_percent)
    for name, count, pct, cats in (("orr", series.orr_count, series.orr_percent, 2),
                                   ("dcr", series.dcr_count, series.dcr_percent, 3)):
        if count is not None and n:
            out[name] = proportion(count, n)
        elif all(p is not None for p in parts[:cats]):
            out[name] = round(sum(p for p in parts[:cats] if p is not None), 10)
        else:
            out[name] = pct
    return out


def _pct(v: Proportion | float | None) -> float | None:
    if isinstance(v, Proportion):
        return v.percent
    return v


def literature_table() -> pd.DataFrame:
    """All series as a table (percentages recomputed where possible)."""
    rows = []
    for s in SERIES.values():
        r = recomputed_rates(s)
        rows.append({"series": s.key, "citation": s.citation, "design": s.design, "n": s.n_patients,
                     "device": s.device, "orr_percent": _pct(r["orr"]), "dcr_percent": _pct(r["dcr"]),
                     "median_os_months": s.median_os_months, "median_pfs_months": s.median_pfs_months,
                     "os_3y_percent": s.os_3y_percent, "complications": s.complications})
    return pd.DataFrame(rows)


def compare_with_literature(cohort: dict[str, Any], label: str = "this cohort") -> pd.DataFrame:
    """The literature table with the cohort as its first row.

    Parameters
    ----------
    cohort : dict
        Any of ``n``, ``orr_percent``, ``dcr_percent``, ``median_os_months``, ``median_pfs_months``,
        ``os_3y_percent``, ``device``.
    label : str
        Name of the cohort row.
    """
    row = {"series": label, "citation": "", "design": "analysed here", **cohort}
    return pd.DataFrame([row, *literature_table().to_dict("records")])
