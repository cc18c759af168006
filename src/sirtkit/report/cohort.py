"""Render a :class:`~sirtkit.outcomes.analysis.CohortAnalysis` as an HTML + PDF report with every number also
as JSON and CSV.

The output folder holds ``report.html`` (self-contained: figures inlined as base64 PNG), ``report.pdf``
(WeasyPrint, optional extra ``pdf``), ``summary.json``, ``tables/*.csv`` and ``figures/*.png``. Everything is
written into a temporary folder beside the target and moved into place at the end, so a failed run never
leaves a half-written report.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from sirtkit import __version__
from sirtkit._concurrent import concurrency_enabled, run_in_child
from sirtkit._outdir import staged_output
from sirtkit.outcomes.analysis import MIN_EVENTS_PER_VARIABLE, CohortAnalysis
from sirtkit.outcomes.markers import DEFAULT_MARKER_RULE, DEFAULT_SYMPTOM_RULE
from sirtkit.outcomes.toxicity import (
    REILD_BILIRUBIN_MG_PER_DL,
    REILD_DEFINITION,
    REILD_ONSET_MAX_DAYS,
    SANGRO_REILD_DEFINITION,
)
from sirtkit.progress import ProgressCallback, report
from sirtkit.report import plots_outcomes as plots
from sirtkit.report.render import html_to_pdf
from sirtkit.serialize import to_jsonable
from sirtkit.text import csv_cell
from sirtkit.units import BILIRUBIN_UMOL_L_PER_MG_DL

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["LABELS", "REPORT_MARKER", "CohortReportFiles", "render_cohort_html", "write_cohort_report"]

logger = logging.getLogger(__name__)

#: File that marks a folder as a sirtkit cohort report (only such folders are replaced).
REPORT_MARKER = "summary.json"
_TEMPLATE = "cohort.html.j2"


@dataclass(frozen=True)
class CohortReportFiles:
    """Paths of the written report."""

    folder: Path
    html: Path
    pdf: Path | None
    summary_json: Path
    tables: tuple[Path, ...]
    figures: tuple[Path, ...]


#: Human labels of table columns and of the variable names that appear as values (characteristics,
#: items, factors, quantities); anything not listed is shown by :func:`_human`.
LABELS: dict[str, str] = {
    "characteristic": "Characteristic", "level": "Level", "n": "n", "summary": "Value", "item": "Item",
    "criteria": "Criteria", "test": "Test", "term": "Adverse event", "endpoint": "End point", "label": "",
    "events": "Events", "median_months": "Median (months)", "median_ci_low_months": "Median 95 % CI low (months)",
    "median_ci_high_months": "Median 95 % CI high (months)", "factor": "Factor", "chi2": "χ²", "df": "df",
    "p_value": "p", "groups": "Groups", "covariate": "Covariate", "hazard_ratio": "Hazard ratio",
    "ci_low": "95 % CI low", "ci_high": "95 % CI high", "coef": "Coefficient (log HR)", "se": "SE",
    "note": "Note", "quantity": "Quantity", "value": "Value",
    "orr_n": "ORR n", "orr_percent": "ORR (%)", "orr_ci_low_percent": "ORR 95 % CI low (%)",
    "orr_ci_high_percent": "ORR 95 % CI high (%)", "dcr_n": "DCR n", "dcr_percent": "DCR (%)",
    "dcr_ci_low_percent": "DCR 95 % CI low (%)", "dcr_ci_high_percent": "DCR 95 % CI high (%)",
    "any_grade_n": "Any grade n", "any_grade_percent": "Any grade (%)", "grade3plus_n": "Grade ≥ 3 n",
    "grade3plus_percent": "Grade ≥ 3 (%)", **{f"grade{k}_n": f"Grade {k} n" for k in range(1, 6)},
    "median_os_months": "Median OS (months)", "median_pfs_months": "Median PFS (months)",
    "os_3y_percent": "OS at 3 years (%)", "n_treated": "Patients treated",
    # values: characteristics, treatment items, factors, tests
    "Patients": "Patients", "age_years": "Age (years)", "ki67_percent": "Ki-67 index (%)",
    "hepatic_tumour_burden_percent": "Hepatic tumour burden (%)", "sex": "Sex", "primary_site": "Primary site",
    "tumour_grade": "WHO grade", "ecog": "ECOG performance status", "child_pugh_class": "Child–Pugh class",
    "lymph_node_metastases": "Lymph-node metastases", "extrahepatic_disease": "Extrahepatic disease",
    "prior_prrt": "Prior PRRT", "carcinoid_syndrome": "Carcinoid syndrome", "device": "Device",
    "Sessions": "SIRT sessions", "activity_gbq": "Delivered activity (GBq)",
    "normal_liver_dose_gy": "Normal-liver mean dose (Gy)", "cga": "Chromogranin A", "5hiaa": "5-HIAA",
    "carcinoid_syndrome_test": "Carcinoid syndrome", "any_adverse_event": "Any adverse event",
    "recist1.1": "RECIST 1.1", "mrecist": "mRECIST", "easl": "EASL", "who": "WHO", "choi": "Choi",
    "modified_choi": "modified Choi", "os": "Overall survival",
    # dose–response / dose–toxicity quantities
    "n_lesions": "Lesions with dose and follow-up", "n_responding": "Responding lesions",
    "lesion_response_rule": "Lesion response rule", "logistic_intercept": "Logistic intercept",
    "logistic_slope_per_log_gy": "Logistic slope (per ln Gy)", "logistic_slope_ci": "Slope 95 % CI",
    "logistic_p_value": "Slope p", "d50_gy": "D50 (Gy)", "d50_ci_gy": "D50 95 % CI (Gy)",
    "d50_note": "D50 note", "auc": "AUC", "auc_ci": "AUC 95 % CI (bootstrap)",
    "youden_threshold_gy": "Youden dose threshold (Gy)", "youden_threshold_ci_gy": "Threshold 95 % CI (Gy)",
    "sensitivity": "Sensitivity", "specificity": "Specificity", "n_bootstrap": "Bootstrap resamples",
    "n_patients": "Patients", "n_events": "Patients with the outcome", "logistic_slope_per_gy": "Logistic slope (per Gy)",
    "odds_ratio_per_gy": "Odds ratio per Gy", "dose_at_10_percent_risk_gy": "Dose at 10 % risk (Gy)",
    "dose_at_10_percent_risk_ci_gy": "Dose at 10 % risk, 95 % CI (Gy)",
    "dose_at_10_percent_risk_note": "Dose at 10 % risk, note", "outcome": "Outcome",
}

#: Columns whose values are variable names to be shown with :data:`LABELS`.
_VALUE_COLUMNS = frozenset({"characteristic", "item", "factor", "test", "term", "criteria", "quantity",
                            "endpoint"})


def _human(name: str) -> str:
    """Label of a column or variable name: :data:`LABELS`, else a readable form of the name."""
    if name in LABELS:
        return LABELS[name]
    text = str(name)
    for suffix, unit in (("_percent", " (%)"), ("_months", " (months)"), ("_gy", " (Gy)"), ("_n", " n")):
        if text.endswith(suffix):
            text = text[: -len(suffix)] + unit
            break
    if text.startswith("survival_") and text.endswith("m"):
        return f"Survival at {text[len('survival_'):-1]} months"
    text = text.replace("_", " ")
    return text[:1].upper() + text[1:]


def _fmt_cell(col: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NA or v is pd.NaT:
        return "–"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        f = float(v)
        if "p_value" in col:
            return "< 0.001" if f < 0.001 else f"{f:.3f}"
        if "percent" in col:
            return f"{f:.1f}"
        if col.startswith("survival_"):
            return f"{100 * f:.1f} %"
        if f == int(f) and abs(f) < 1e9 and col in ("n", "events"):
            return str(int(f))
        return f"{f:.2f}"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    return str(v)


def _html_table(df: pd.DataFrame, columns: list[str] | None = None, *, why_empty: str = "not available") -> Markup:
    """An HTML table with human labels; its header row is a ``<thead>``, repeated on every PDF page."""
    if df is None or df.empty:
        return Markup(f'<p class="note">{escape(why_empty)}</p>')
    cols = [c for c in (columns or list(df.columns)) if c in df.columns]
    head = "".join(f'<th class="{"text" if df[c].dtype == object else ""}">{escape(_human(c))}'
                   "</th>" for c in cols)
    body = []
    for row in df[cols].itertuples(index=False):
        cells = []
        for c, v in zip(cols, row, strict=True):
            cls = "text" if isinstance(v, str) else ""
            if c in _VALUE_COLUMNS and isinstance(v, str):
                v = _human(v)
            elif c == "level" and v in ("True", "False"):
                v = "yes" if v == "True" else "no"
            cells.append(f'<td class="{cls}">{escape(_fmt_cell(c, v))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")  # escaped


def _ci(low: float | None, high: float | None, scale: float = 1.0, digits: int = 1) -> str:
    if low is None or high is None:
        return "–"
    return f"{scale * low:.{digits}f}–{scale * high:.{digits}f}"


def _headline(a: CohortAnalysis) -> list[tuple[str, str, str]]:
    rows = [
        (f"Objective response ({a.criteria})", f"{a.rates.orr.count}/{a.rates.orr.total} ({a.rates.orr.percent:.1f} %)",
         _ci(a.rates.orr.ci_low, a.rates.orr.ci_high, 100) + " %"),
        (f"Disease control ({a.criteria})", f"{a.rates.dcr.count}/{a.rates.dcr.total} ({a.rates.dcr.percent:.1f} %)",
         _ci(a.rates.dcr.ci_low, a.rates.dcr.ci_high, 100) + " %"),
    ]
    for km in a.km.values():
        med = "not reached" if km.median is None else f"{km.median:.1f} months"
        lo, hi = km.median_ci
        ci = f"{'–' if lo is None else f'{lo:.1f}'} to {'NR' if hi is None else f'{hi:.1f}'}"
        rows.append((f"Median {km.label.lower()} ({km.n_events_total} events / {km.n})", med, ci))
    if a.symptom_rate is not None:
        p = a.symptom_rate
        rows.append(("Symptomatic response, carcinoid syndrome (complete or improved)",
                     f"{p.count}/{p.total} ({p.percent:.1f} %)", _ci(p.ci_low, p.ci_high, 100) + " %"))
    if a.reild_rate is not None:
        p = a.reild_rate
        rows.append(("REILD detected from labs and events (Sangro 2008)", f"{p.count}/{p.total} ({p.percent:.1f} %)",
                     _ci(p.ci_low, p.ci_high, 100) + " %"))
    dr = a.dose_response
    if "youden_threshold_gy" in dr:
        rows.append(("Tumour-dose threshold for lesion response (Youden)", f"{dr['youden_threshold_gy']:.0f} Gy",
                     _ci(dr["youden_threshold_ci_gy"][0], dr["youden_threshold_ci_gy"][1], digits=0) + " Gy"))
        rows.append(("AUC of tumour dose for lesion response", f"{dr['auc']:.2f}", _ci(dr["auc_ci"][0], dr["auc_ci"][1], digits=2)))
    return rows


#: Labels of the end-point definitions shown above the survival table.
_DEFINITION_LABELS = {"os": "OS", "pfs": "PFS", "hpfs": "Hepatic PFS", "censoring": "Censoring"}


def _endpoint_definitions_html(a: CohortAnalysis) -> Markup:
    """The OS/PFS/hepatic PFS definitions (CLINICAL.md §8, RECIST 1.1) and the event sources of this cohort."""
    summary = a.summary()
    items = [f"<li><b>{escape(_DEFINITION_LABELS.get(k, k))}</b>: {escape(v)}</li>"
             for k, v in summary["endpoint_definitions"].items()]
    counts = []
    for ep, by_source in summary["endpoint_event_sources"].items():
        parts = ", ".join(f"{escape(src)} {n}" for src, n in by_source.items())
        counts.append(f"{escape(_DEFINITION_LABELS.get(ep, ep))}: {parts}")
    src = ("<li><b>Event sources in this cohort</b> (imaging = overall PD, imaging_hepatic = liver-only PD, "
           "other names = events sheet; ties joined by +): " + "; ".join(counts) + "</li>") if counts else ""
    return Markup(f'<p class="note">End-point definitions (time origin: first SIRT date):</p>'
                  f'<ul class="note">{"".join(items)}{src}</ul>')  # every text escaped above


def _kv_table(d: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for k, v in d.items():
        if isinstance(v, list | tuple):
            v = " – ".join(_fmt_cell(k, x) for x in v) if any(x is not None for x in v) else "not reported"
        rows.append({"quantity": k, "value": v if isinstance(v, str) else _fmt_cell(k, v)})
    return pd.DataFrame(rows)


def _not_fitted(a: CohortAnalysis, prefix: str) -> str:
    """The caveat that explains why a section has no table (too few events), or a generic note."""
    return next((w for w in a.warnings if w.startswith(prefix)), "not available")


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


#: Figures drawn by the forked child process while the parent draws the Kaplan–Meier curves (the child's
#: share grows with the cohort: waterfall and swimmer have a bar per patient).
_CHILD_FIGURES = frozenset({"forest", "waterfall", "swimmer", "dose_response"})


def _figure_builders(a: CohortAnalysis) -> dict[str, Callable[[], Figure]]:
    """Every figure of the report by name, in report order, as a function that builds it."""
    lr: dict[str, float] = ({str(f): float(p) for f, p in zip(a.logrank["factor"], a.logrank["p_value"],
                                                               strict=True)} if len(a.logrank) else {})
    builders: dict[str, Callable[[], Figure]] = {}
    for key, km in a.km.items():
        builders[f"km_{key}"] = partial(plots.km_figure, [km], title=km.label)
    for factor, curves in a.km_strata.items():
        builders[f"km_os_by_{factor}"] = partial(plots.km_figure, list(curves.values()),
                                                 title=f"Overall survival by {_human(factor)}", p_value=lr.get(factor))
    forest_src = a.cox_multivariable if len(a.cox_multivariable) else a.cox_univariable
    builders["forest"] = lambda: plots.forest_figure(forest_src)
    builders["waterfall"] = lambda: plots.waterfall_figure(a.best_response)
    builders["swimmer"] = lambda: plots.swimmer_figure(a.swimmer)
    builders["dose_response"] = lambda: plots.dose_response_figure(a.lesion_doses, a.dose_response)
    return builders


def _figures(a: CohortAnalysis, progress: ProgressCallback | None = None, *,
             names: Collection[str] | None = None) -> dict[str, bytes]:
    """PNG bytes of the report's figures (only ``names`` when given), in report order."""
    figs: dict[str, bytes] = {}
    builders = _figure_builders(a)
    wanted = [k for k in builders if names is None or k in names]
    for i, key in enumerate(wanted):
        report(progress, i / max(len(wanted), 1), f"figure {key}")
        figs[key] = plots.figure_png(builders[key]())
    return figs


def _all_figures(a: CohortAnalysis, progress: ProgressCallback | None) -> dict[str, bytes]:
    """Every figure, in report order: :data:`_CHILD_FIGURES` drawn in a forked child, the rest here meanwhile."""
    order = list(_figure_builders(a))
    child = run_in_child(_figures, a, names=_CHILD_FIGURES, label="cohort report figures")
    try:
        figs = _figures(a, progress, names=[k for k in order if k not in _CHILD_FIGURES])
        figs.update(child.result())
    finally:
        child.cancel()  # a no-op once collected; stops the child when drawing here failed
    return {k: figs[k] for k in order}


def render_cohort_html(a: CohortAnalysis, figures: dict[str, bytes], *, title: str = "SIRT cohort outcomes",
                       source: str = "") -> str:
    """The report as one self-contained HTML string (figures inlined)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("sirtkit.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    tpl = env.get_template(_TEMPLATE)
    uris = {k: _data_uri(v) for k, v in figures.items()}
    km_figs = [(k, uris[k]) for k in figures if k.startswith("km_")]
    tables = {
        "baseline": _html_table(a.baseline, ["characteristic", "level", "n", "summary"]),
        "treatments": _html_table(a.treatments),
        "rates": _html_table(a.rates_by_criteria),
        "markers": _html_table(a.marker_table),
        "symptoms": _html_table(a.symptom_table),
        "toxicity": _html_table(a.toxicity),
        "survival": _endpoint_definitions_html(a) + _html_table(
            a.survival_table.drop(columns=["endpoint"], errors="ignore")),
        "logrank": _html_table(a.logrank),
        "cox_uni": _html_table(a.cox_univariable, ["label", "n", "events", "hazard_ratio", "ci_low", "ci_high",
                                                   "p_value", "note"]),
        "cox_multi": _html_table(a.cox_multivariable, ["label", "coef", "se", "hazard_ratio", "ci_low", "ci_high",
                                                       "p_value", "n", "events"],
                                 why_empty=_not_fitted(a, "multivariable Cox not fitted")),
        "dose_response": _html_table(_kv_table(a.dose_response), why_empty=_not_fitted(a, "dose–response")),
        "dose_toxicity": _html_table(_kv_table(a.dose_toxicity),
                                     why_empty=_not_fitted(a, "normal-liver dose–toxicity")),
        "reild": _html_table(a.reild, why_empty="No patient had both findings (bilirubin and ascites) in the "
                                                "window after a SIRT session."),
        "not_evaluable": _html_table(
            a.response_baselines[a.response_baselines["reason"] != ""][
                ["patient_id", "first_treatment_date", "baseline_date", "reason"]]
            if len(a.response_baselines) else pd.DataFrame(),
            why_empty="Every patient has a pre-treatment baseline within 4 weeks of the first SIRT."),
        "literature": _html_table(a.literature.drop(columns=["citation"], errors="ignore")),
    }
    marker_rule = (f"Marker response [K, configurable]: complete = normalised and ≥ "
                   f"{DEFAULT_MARKER_RULE.partial_decrease_fraction:.0%} decrease; partial = ≥ "
                   f"{DEFAULT_MARKER_RULE.partial_decrease_fraction:.0%} decrease of the lowest post-SIRT value; "
                   f"progression = ≥ {DEFAULT_MARKER_RULE.progression_increase_fraction:.0%} increase. Symptom "
                   f"response [K]: improved = ≥ {DEFAULT_SYMPTOM_RULE.flushing_decrease_fraction:.0%} fewer flushes "
                   f"or ≥ {DEFAULT_SYMPTOM_RULE.bowel_decrease_fraction:.0%} fewer bowel movements per day.")
    return tpl.render(
        title=title, version=__version__, generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        source=source, n_patients=a.n_patients, criteria=a.criteria, confirmation=a.confirmation_min_days, warnings=a.warnings,
        headline=_headline(a), tables=tables, figures=uris, km_figures=km_figs, marker_rule=marker_rule,
        reild=REILD_DEFINITION, reild_rule=SANGRO_REILD_DEFINITION,
        # The numbers the notes print, from where they are defined (and cited).
        reild_bilirubin=f"{REILD_BILIRUBIN_MG_PER_DL:g} mg/dL "
                        f"({REILD_BILIRUBIN_MG_PER_DL * BILIRUBIN_UMOL_L_PER_MG_DL:.1f} µmol/L)",
        reild_days=f"{REILD_ONSET_MAX_DAYS:g}", min_events=MIN_EVENTS_PER_VARIABLE)


def _sub(progress: ProgressCallback | None, lo: float, hi: float) -> ProgressCallback:
    return lambda f, m: report(progress, lo + (hi - lo) * f, m)


#: Niceness of the worker that writes the tables when they are small (at most _NICE_TABLES_MAX_CELLS cells): on
#: 2 cores the figures, which the PDF waits for, go first and the tables take the core the PDF layout leaves
#: free. Larger tables are the longest task of the report (≈ 0.65 s per million cells against ≈ 3 s for the
#: figures and PDF; 1.0 million cells at 10 000 synthetic patients, 5.0 million at 50 000): they keep the
#: normal priority, or they would still be written when the PDF is done on a loaded machine.
_TABLES_NICENESS = 10
_NICE_TABLES_MAX_CELLS = 2_000_000


def _write_tables(a: CohortAnalysis, folder: Path, source: str, *, niceness: int = 0) -> list[Path]:
    """Write ``tables/*.csv`` and ``summary.json`` into ``folder``; the table paths in order.

    ``niceness`` lowers the CPU priority of a forked worker (never of the process itself, when run inline).
    """
    if niceness and concurrency_enabled():
        with contextlib.suppress(OSError, AttributeError):
            os.nice(niceness)
    table_paths = []
    for name, df in a.tables().items():
        p = folder / "tables" / f"{name}.csv"
        text_columns = df.select_dtypes(include=["object", "string"]).columns
        df = df.assign(**{c: df[c].map(csv_cell) for c in text_columns})  # formula injection (sirtkit.text)
        df.to_csv(p, index=False)
        table_paths.append(p)
    summary = to_jsonable({"sirtkit_version": __version__, "kind": "cohort_report", "source": source,
                           "result": a.summary()})
    (folder / REPORT_MARKER).write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return table_paths


def write_cohort_report(a: CohortAnalysis, out_dir: str | os.PathLike[str], *, pdf: bool = True,
                        title: str = "SIRT cohort outcomes", source: str = "",
                        progress: ProgressCallback | None = None, force: bool = False) -> CohortReportFiles:
    """Write the HTML/PDF report, ``summary.json``, ``tables/*.csv`` and ``figures/*.png`` into ``out_dir``.

    Parameters
    ----------
    a : CohortAnalysis
        Result of :func:`sirtkit.outcomes.analysis.analyse_cohort`.
    out_dir : path
        Target folder: must be absent, empty, or an earlier sirtkit output (it is replaced as a whole;
        :func:`sirtkit._outdir.staged_output`).
    pdf : bool
        Also write ``report.pdf`` (needs the ``pdf`` extra).
    force : bool
        Replace a non-empty folder that sirtkit did not write (``--force``).

    Raises
    ------
    InputError
        If ``out_dir`` is a file or a non-empty folder that sirtkit did not write (without ``force``).
    MissingExtraError
        If ``pdf`` is requested and WeasyPrint cannot be loaded.
    """
    out = Path(out_dir)
    with staged_output(out, force=force, kind="cohort report", legacy_markers=(REPORT_MARKER,)) as tmp:
        (tmp / "tables").mkdir()
        (tmp / "figures").mkdir()
        # The CSV tables and summary.json are written by a forked child (they are ≈ 3 s at 50 000 patients)
        # while this process draws the figures and lays out the HTML and PDF; both write into the staging folder.
        small = sum(df.size for df in a.tables().values()) <= _NICE_TABLES_MAX_CELLS
        tables = run_in_child(_write_tables, a, tmp, source, niceness=_TABLES_NICENESS if small else 0,
                              label="cohort report tables")
        try:
            report(progress, 0.05, "figures")
            figs = _all_figures(a, _sub(progress, 0.05, 0.5))
            fig_paths = []
            for name, png in figs.items():
                p = tmp / "figures" / f"{name}.png"
                p.write_bytes(png)
                fig_paths.append(p)
            report(progress, 0.5, "HTML")
            html = render_cohort_html(a, figs, title=title, source=source)
            (tmp / "report.html").write_text(html, encoding="utf-8")
            if pdf:
                report(progress, 0.6, "PDF")
                html_to_pdf(html, tmp / "report.pdf", base_url=str(tmp))
            report(progress, 0.9, "tables")
            table_paths = tables.result()
        finally:
            tables.cancel()  # a no-op once collected; stops the child before the staging folder is removed
        report(progress, 0.95, "moving into place")
    report(progress, 1.0, "report written")
    rel = lambda p: out / p.relative_to(tmp)  # noqa: E731
    return CohortReportFiles(folder=out, html=out / "report.html", pdf=(out / "report.pdf") if pdf else None,
                             summary_json=out / REPORT_MARKER, tables=tuple(rel(p) for p in table_paths),
                             figures=tuple(rel(p) for p in fig_paths))
