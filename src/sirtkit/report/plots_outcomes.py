"""Outcome figures for the cohort report: Kaplan–Meier with band and at-risk table, forest plot, waterfall,
swimmer and dose–response (logistic curve + ROC).

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no global state, safe
in threads and servers); :func:`figure_png` renders it to PNG bytes.

>>> from sirtkit.outcomes.survival import kaplan_meier
>>> fig = km_figure([kaplan_meier([1, 2, 3, 4], [1, 0, 1, 1], label="all")], title="OS")
>>> figure_png(fig)[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sirtkit.outcomes.doseresponse import roc_curve
from sirtkit.outcomes.survival import KaplanMeier
from sirtkit.report._literal import literal_text

__all__ = [
    "RESPONSE_COLOURS",
    "dose_response_figure",
    "figure_png",
    "forest_figure",
    "km_figure",
    "swimmer_figure",
    "waterfall_figure",
]

#: Colour of each response category (colour-blind-safe Okabe–Ito palette).
RESPONSE_COLOURS: dict[str, str] = {"CR": "#009E73", "PR": "#56B4E9", "SD": "#F0E442", "NN": "#E6C229",
                                    "PD": "#D55E00", "NE": "#999999"}
_LINE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_MAX_CENSOR_MARKS = 150
#: Lesions drawn in the dose–response scatter (a seeded sample beyond this; every lesion enters the fits).
_MAX_SCATTER_POINTS = 5000


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render ``fig`` as PNG bytes (margins are set when the figure is built: no tight bounding box, which
    would draw every figure twice).

    The figures are opaque (white background), so the PNG is written as RGB when every pixel's alpha is 255:
    the same pixels as matplotlib's RGBA PNG, a quarter less to compress, and WeasyPrint embeds it in the PDF
    without splitting off an alpha mask (a decode and two re-encodes per figure).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    img = Image.fromarray(np.ascontiguousarray(rgba[..., :3]) if bool((rgba[..., 3] == 255).all()) else rgba)
    buf = io.BytesIO()
    img.save(buf, format="png", dpi=(dpi, dpi))
    return buf.getvalue()


def _margins(fig: Figure, left: float, right: float, bottom: float, top: float, **kw: float) -> None:
    """Fixed margins in inches (labels, titles, legends and annotations outside the axes fit in them)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1.0 - right / w, bottom=bottom / h, top=1.0 - top / h, **kw)


def _step(km: KaplanMeier, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.r_[0.0, km.time], np.r_[1.0, values]


@literal_text
def km_figure(curves: Sequence[KaplanMeier], *, title: str, xlabel: str = "Months since first SIRT",
              at_risk_step: float | None = None, p_value: float | None = None) -> Figure:
    """Kaplan–Meier curves with confidence bands, censoring marks and a number-at-risk table.

    Parameters
    ----------
    curves : sequence of KaplanMeier
        One per group.
    title : str
        Figure title.
    xlabel : str
        Time axis label (unit included).
    at_risk_step : float, optional
        Spacing of the at-risk columns (default: 6 months up to 60, 12 beyond).
    p_value : float, optional
        Log-rank p-value printed on the plot.
    """
    tmax = max(float(k.time.max()) for k in curves)
    step = at_risk_step or (6.0 if tmax <= 60 else 12.0)
    ticks = np.arange(0.0, tmax + 1e-9, step)
    n_rows = len(curves)
    fig = Figure(figsize=(7.5, 4.6 + 0.25 * n_rows))
    gs = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.35 + 0.3 * n_rows], hspace=0.35)
    ax = fig.add_subplot(gs[0])
    lines, labels = [], []
    for i, km in enumerate(curves):
        c = _LINE_COLOURS[i % len(_LINE_COLOURS)]
        x, y = _step(km, km.survival)
        lines += ax.step(x, y, where="post", color=c, lw=1.8)
        labels.append(f"{km.label} (n={km.n}, events={km.n_events_total})")
        _, lo = _step(km, np.nan_to_num(km.ci_low, nan=0.0))
        _, hi = _step(km, np.nan_to_num(km.ci_high, nan=1.0))
        ax.fill_between(x, lo, hi, step="post", color=c, alpha=0.18, lw=0)
        cens = km.n_censored > 0
        ct, cs = km.time[cens], km.survival[cens]
        if ct.size > _MAX_CENSOR_MARKS:
            keep = np.linspace(0, ct.size - 1, _MAX_CENSOR_MARKS).astype(int)
            ct, cs = ct[keep], cs[keep]
        ax.plot(ct, cs, "|", color=c, ms=5, mew=0.8)
    ax.set_xlim(0, tmax * 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(ticks)
    ax.set_ylabel("Survival probability")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.axhline(0.5, color="0.6", lw=0.8, ls=":")
    ax.legend(lines, labels, loc="upper right", fontsize=8, frameon=False)  # explicit: an arm may start with "_"
    if p_value is not None:
        ax.text(0.02, 0.04, f"log-rank p {_fmt_p(p_value)}", transform=ax.transAxes, fontsize=9)
    _margins(fig, 0.75, 0.25, 0.15, 0.4)
    tab = fig.add_subplot(gs[1], sharex=ax)
    tab.set_ylim(-0.5, n_rows - 0.5)
    tab.axis("off")
    tab.text(-0.01, 1.02, "Number at risk", transform=tab.transAxes, fontsize=8, weight="bold")
    for i, km in enumerate(curves):
        row = n_rows - 1 - i
        for t, nr in zip(ticks, km.at_risk(ticks), strict=True):
            tab.text(t, row, str(int(nr)), ha="center", va="center", fontsize=8,
                     color=_LINE_COLOURS[i % len(_LINE_COLOURS)])
    return fig


def _fmt_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


@literal_text
def forest_figure(table: pd.DataFrame, *, title: str = "Hazard ratios for overall survival") -> Figure:
    """Forest plot of hazard ratios (columns ``label``, ``hazard_ratio``, ``ci_low``, ``ci_high``, ``p_value``)."""
    n = len(table)
    fig = Figure(figsize=(7.5, 1.2 + 0.42 * max(n, 1)))
    ax = fig.add_subplot(1, 1, 1)
    if n == 0:
        ax.text(0.5, 0.5, "no covariate could be fitted", ha="center", va="center")
        ax.axis("off")
        return fig
    y = np.arange(n)[::-1]
    hr = table["hazard_ratio"].to_numpy(float)
    lo = table["ci_low"].to_numpy(float)
    hi = table["ci_high"].to_numpy(float)
    ax.hlines(y, lo, hi, color="#0072B2", lw=1.6)
    ax.plot(hr, y, "s", color="#0072B2", ms=6)
    ax.axvline(1.0, color="0.4", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(table["label"].astype(str).tolist(), fontsize=8)
    ax.set_xlabel("Hazard ratio (95 % CI), log scale")
    ax.set_title(title)
    finite = np.r_[lo[np.isfinite(lo)], hi[np.isfinite(hi)], 1.0]
    ax.set_xlim(max(finite.min() / 1.3, 1e-3), min(finite.max() * 1.3, 1e3))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
    for yy, h, lw_, hw, p in zip(y, hr, lo, hi, table["p_value"].to_numpy(float), strict=True):
        ax.annotate(f"{h:.2f} ({lw_:.2f}–{hw:.2f}), p {_fmt_p(p)}", xy=(1.02, yy), xycoords=("axes fraction", "data"),
                    va="center", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    label_in = 0.07 * max((len(str(x)) for x in table["label"]), default=10)
    _margins(fig, min(max(label_in, 1.0), 3.0), 2.3, 0.55, 0.4)
    return fig


def waterfall_figure(best: pd.DataFrame, *, pr_threshold_percent: float = -30.0,
                     pd_threshold_percent: float = 20.0) -> Figure:
    """Waterfall of the best change of the target sum (%) per patient, coloured by best overall response."""
    df = best.dropna(subset=["best_change_fraction"]).sort_values("best_change_fraction", ascending=False)
    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    n = len(df)
    if n == 0:
        ax.text(0.5, 0.5, "no patient with measured target lesions at follow-up", ha="center", va="center")
        ax.axis("off")
        return fig
    pct = 100.0 * df["best_change_fraction"].to_numpy(float)
    colours = [RESPONSE_COLOURS.get(str(r), "#999999") for r in df["best_response"]]
    x = np.arange(n)
    if n <= 400:
        ax.bar(x, pct, width=0.85, color=colours, linewidth=0)
    else:
        segs = np.stack([np.column_stack([x, np.zeros(n)]), np.column_stack([x, pct])], axis=1)
        ax.add_collection(LineCollection(segs, colors=colours,  # type: ignore[arg-type]  # (n, 2, 2) array
                                         linewidths=max(0.2, 400 / n)))
        ax.set_xlim(-1, n)
        ax.set_ylim(min(pct.min(), -100) * 1.05, max(pct.max(), 25) * 1.05)
    ax.axhline(pr_threshold_percent, color="0.3", lw=0.8, ls="--")
    ax.axhline(pd_threshold_percent, color="0.3", lw=0.8, ls=":")
    ax.axhline(0, color="0.2", lw=0.6)
    ax.set_xticks([])
    ax.set_xlabel(f"Patients (n = {n}), ordered by best change")
    ax.set_ylabel("Best change of target sum before PD (%)")
    ax.set_title("Waterfall plot of best response")
    present = [k for k in RESPONSE_COLOURS if k in set(df["best_response"].astype(str))]
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=RESPONSE_COLOURS[k], label=k) for k in present], fontsize=8, frameon=False,
              loc="lower left", ncols=len(present))
    _margins(fig, 0.85, 0.2, 0.45, 0.4)
    return fig


@literal_text
def swimmer_figure(swimmer: pd.DataFrame, *, max_patients: int = 40) -> Figure:
    """Swimmer plot: follow-up bar per patient with first response, progression and death marks.

    Shows the ``max_patients`` with the longest follow-up (the title says how many of how many).
    """
    df = swimmer.sort_values("os_months", ascending=False).head(max_patients).iloc[::-1]
    n = len(df)
    fig = Figure(figsize=(7.5, 1.2 + 0.16 * max(n, 1)))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(n)
    ax.barh(y, df["os_months"].to_numpy(float), color="#BBBBBB", height=0.7)
    resp = df["first_response_months"].to_numpy(float)
    ax.plot(resp, y, "o", color=RESPONSE_COLOURS["PR"], ms=4, label="first CR/PR")
    prog = np.where(df["pfs_event"].to_numpy(int) == 1, df["pfs_months"].to_numpy(float), np.nan)
    ax.plot(prog, y, "D", color=RESPONSE_COLOURS["PD"], ms=4, label="progression")
    dead = df["os_event"].to_numpy(int) == 1
    ax.plot(df["os_months"].to_numpy(float)[dead], y[dead], "x", color="black", ms=5, label="death")
    alive = ~dead
    ax.plot(df["os_months"].to_numpy(float)[alive], y[alive], ">", color="#009E73", ms=4, label="alive (censored)")
    ax.set_yticks(y)
    ax.set_yticklabels(df["patient_id"].astype(str).tolist(), fontsize=6)
    ax.set_xlabel("Months since first SIRT")
    ax.set_title(f"Swimmer plot ({n} of {len(swimmer)} patients, longest follow-up)", pad=18)
    ax.legend(fontsize=7, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4)
    ax.grid(axis="x", alpha=0.3)
    _margins(fig, 0.85, 0.2, 0.45, 0.65)
    return fig


def dose_response_figure(lesions: pd.DataFrame, summary: Mapping[str, Any]) -> Figure:
    """Lesion response against tumour absorbed dose (logistic fit on log dose) and the ROC curve.

    Parameters
    ----------
    lesions : DataFrame
        ``tumour_dose_gy`` and ``responded`` (0/1) per lesion.
    summary : mapping
        The ``dose_response`` dict of the analysis (logistic coefficients, Youden threshold, AUC).
    """
    fig = Figure(figsize=(9.0, 3.8))
    ax1 = fig.add_subplot(1, 2, 1)
    ax2 = fig.add_subplot(1, 2, 2)
    if len(lesions) == 0 or not summary:
        for ax in (ax1, ax2):
            ax.text(0.5, 0.5, "not enough lesions with dose and response", ha="center", va="center")
            ax.axis("off")
        return fig
    dose = lesions["tumour_dose_gy"].to_numpy(float)
    y = lesions["responded"].to_numpy(int)
    rng = np.random.default_rng(0)
    shown = (np.sort(rng.choice(y.size, _MAX_SCATTER_POINTS, replace=False)) if y.size > _MAX_SCATTER_POINTS
             else np.arange(y.size))  # a seeded sample of the points is drawn; the fits use every lesion
    jitter = rng.uniform(-0.04, 0.04, shown.size)
    alpha = 0.5 if shown.size < 2000 else 0.15
    ax1.scatter(dose[shown], y[shown] + jitter, s=8, alpha=alpha, color="#0072B2", lw=0,
                label=None if shown.size == y.size else f"{shown.size} of {y.size} lesions shown")
    if "logistic_slope_per_log_gy" in summary:
        grid = np.geomspace(max(dose.min(), 1e-3), dose.max(), 200)
        p = 1.0 / (1.0 + np.exp(-(summary["logistic_intercept"] + summary["logistic_slope_per_log_gy"]
                                  * np.log(grid))))
        ax1.plot(grid, p, color="#D55E00", lw=2, label="logistic fit")
    if "youden_threshold_gy" in summary:
        t = summary["youden_threshold_gy"]
        lo, hi = summary["youden_threshold_ci_gy"]
        ax1.axvspan(lo, hi, color="0.85", zorder=0)
        ax1.axvline(t, color="0.3", ls="--", lw=1, label=f"Youden {t:.0f} Gy ({lo:.0f}–{hi:.0f})")
    ax1.set_xscale("log")
    ax1.set_xlabel("Tumour absorbed dose (Gy), log scale")
    ax1.set_ylabel("Lesion response (1 = yes)")
    ax1.set_title("Lesion response vs tumour dose")
    ax1.legend(fontsize=7, frameon=True, loc="upper left")
    roc = roc_curve(dose, y)
    ax2.plot(roc.fpr, roc.tpr, color="#0072B2", lw=1.8)
    ax2.plot([0, 1], [0, 1], color="0.6", ls=":")
    if "sensitivity" in summary:
        ax2.plot(1 - summary["specificity"], summary["sensitivity"], "o", color="#D55E00")
    lo_a, hi_a = summary.get("auc_ci", [np.nan, np.nan])
    ax2.set_title(f"ROC: AUC {roc.auc:.2f} ({lo_a:.2f}–{hi_a:.2f})")
    ax2.set_xlabel("1 − specificity")
    ax2.set_ylabel("Sensitivity")
    ax2.set_aspect("equal")
    _margins(fig, 0.7, 0.2, 0.55, 0.4, wspace=0.35)
    return fig
