"""Dose pictures: cumulative DVHs and dose maps overlaid on anatomy or emission slices.

Slices are shown in radiological convention (patient's right on the viewer's left, anterior up in
axial views, superior up in coronal and sagittal views) whatever the stacking direction of the grid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sirtkit.imaging.volume import Volume
from sirtkit.report._literal import literal_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["DvhCurve", "OverlayView", "OverlayViews", "draw_dose_overlay", "overlay_views", "plot_dose_overlay",
           "plot_dvh", "plot_dvh_comparison", "plot_gamma_overlay"]

# Margin around the VOIs shown in dose-map figures, mm.
CROP_MARGIN_MM = 30.0
# DVH dose axis: up to the dose received by 1 % of the hottest VOI, so that a few hot voxels do not squash
# the clinically relevant range (the full curves are in dvh.csv).
DVH_AXIS_VOLUME_FRACTION = 0.01

# (dose axis in Gy, cumulative volume fraction 0–1)
DvhCurve = tuple[np.ndarray, np.ndarray]

_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
            "#bcbd22", "#7f7f7f"]


# Fixed margins (fractions of the figure) instead of a layout engine: constrained layout measured every text
# element on each draw and took most of the figures' time (≈ 0.8 s of 1 s for the two `sirtkit dose`
# figures); these figures have a fixed set of labels, so fixed margins fit them.
_DVH_MARGINS = {"left": 0.085, "right": 0.985, "bottom": 0.115, "top": 0.925}
_SLICES_MARGINS = {"left": 0.01, "right": 0.94, "bottom": 0.03, "top": 0.86, "wspace": 0.04}
# Room below the panels for the one VOI legend (fixed margins: matplotlib's "outside" legend placement
# needs a layout engine, without one the legend covers the panels).
_SLICES_LEGEND_BOTTOM = 0.15


def _new_figure(width: float, height: float, margins: Mapping[str, float]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(**margins)
    return fig


@literal_text
def plot_dvh(curves: Mapping[str, DvhCurve], *, title: str = "Cumulative dose–volume histogram",
             thresholds_gy: Sequence[float] = ()) -> Figure:
    """Cumulative DVH of each VOI (volume % vs dose Gy), with optional vertical threshold lines."""
    fig = _new_figure(7.5, 4.6, _DVH_MARGINS)
    ax = fig.add_subplot()
    max_dose = 1.0
    lines = []
    for n, (dose_gy, fraction) in enumerate(curves.values()):
        lines += ax.plot(dose_gy, 100.0 * np.asarray(fraction), color=_COLOURS[n % len(_COLOURS)], lw=1.8)
        above = np.asarray(dose_gy)[np.asarray(fraction) > DVH_AXIS_VOLUME_FRACTION]
        if above.size:
            max_dose = max(max_dose, float(above.max()))
    for t in thresholds_gy:
        ax.axvline(t, color="0.5", ls=":", lw=1)
        ax.text(t, 101, f"{t:g} Gy", ha="center", va="bottom", fontsize=7, color="0.35")
    ax.set_xlim(0, max_dose * 1.05)
    ax.set_ylim(0, 105)
    ax.set_xlabel(f"Absorbed dose (Gy) — axis ends where every VOI is below {100 * DVH_AXIS_VOLUME_FRACTION:g} % "
                  "of its volume")
    ax.set_ylabel("Volume receiving at least this dose (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(lines, list(curves), fontsize=8, loc="upper right")  # explicit: a name may start with "_"
    return fig


@literal_text
def plot_dvh_comparison(predicted: Mapping[str, DvhCurve], delivered: Mapping[str, DvhCurve], *,
                        title: str = "Predicted (dashed) vs delivered (solid) DVH") -> Figure:
    """Predicted and delivered DVHs of the same VOIs on one plot."""
    fig = _new_figure(7.5, 4.6, _DVH_MARGINS)
    ax = fig.add_subplot()
    lines = []
    for n, name in enumerate(delivered):
        colour = _COLOURS[n % len(_COLOURS)]
        d, f = delivered[name]
        lines += ax.plot(d, 100 * np.asarray(f), color=colour, lw=1.8)
        if name in predicted:
            pd_, pf = predicted[name]
            ax.plot(pd_, 100 * np.asarray(pf), color=colour, lw=1.4, ls="--")
    ax.set_xlabel("Absorbed dose (Gy)")
    ax.set_ylabel("Volume (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(lines, list(delivered), fontsize=8)  # explicit: a name may start with "_"
    return fig


def _to_display_order(volume: Volume) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Array flipped/transposed so that axes run (S→I... ) as (superior-first slices, anterior-first rows,
    patient-right-first columns), with spacing (slice, row, column) in mm. Works for axis-aligned grids."""
    arr = np.asarray(volume.array)
    direction = volume.direction
    # For each array axis find the patient axis it runs along (0 = x/L, 1 = y/P, 2 = z/S).
    patient_axis = [int(np.argmax(np.abs(direction[:, a]))) for a in range(3)]
    order = [patient_axis.index(p) for p in (2, 1, 0)]  # array axes for z, y, x
    arr = np.transpose(arr, order)
    spacing = tuple(volume.spacing_mm[a] for a in order)
    signs = [np.sign(direction[p, a]) for p, a in zip((2, 1, 0), order, strict=True)]
    # Display wants: z decreasing along axis 0 (superior first), y increasing (anterior first),
    # x decreasing? Radiological: patient right on viewer left → x (towards patient left) increasing.
    if signs[0] > 0:
        arr = arr[::-1]
    if signs[1] < 0:
        arr = arr[:, ::-1]
    if signs[2] < 0:
        arr = arr[:, :, ::-1]
    return arr, (float(spacing[0]), float(spacing[1]), float(spacing[2]))


def _orientation_labels(axes: Sequence[Axes]) -> None:
    """R/L on the axial, R/L and S/I on the coronal, A/P and S/I on the sagittal view (radiological)."""
    marks = [(("R", 0.01, 0.5), ("L", 0.97, 0.5), ("A", 0.5, 0.96), ("P", 0.5, 0.01)),
             (("R", 0.01, 0.5), ("L", 0.97, 0.5), ("S", 0.5, 0.96), ("I", 0.5, 0.01)),
             (("A", 0.01, 0.5), ("P", 0.97, 0.5), ("S", 0.5, 0.96), ("I", 0.5, 0.01))]
    for ax, view in zip(axes, marks, strict=True):
        for text, x, y in view:
            ax.text(x, y, text, transform=ax.transAxes, color="w", fontsize=9, va="bottom" if y < 0.5 else "top",
                    ha="left" if x < 0.5 else ("right" if x > 0.5 else "center"), fontweight="bold")


@dataclass(frozen=True)
class OverlayView:
    """One panel of the dose-map figure: 2-D slices through the cropped dose grid, in display order."""

    label: str
    aspect: float
    dose: np.ndarray
    background: np.ndarray | None
    masks: tuple[np.ndarray, ...]  # one boolean slice per name of OverlayViews.mask_names


@dataclass(frozen=True)
class OverlayViews:
    """What :func:`draw_dose_overlay` draws: the three slices, the colour scale and the VOI names (in the
    order that picks their colours). Small (2-D), so it can be sent to the figure worker process."""

    views: tuple[OverlayView, ...]
    mask_names: tuple[str, ...]
    with_legend: bool
    vmax: float
    full_max: float


def overlay_views(dose: Volume, *, background: Volume | None = None, masks: Mapping[str, Volume] | None = None,
                  centre_index: Sequence[int] | None = None, dose_max_gy: float | None = None) -> OverlayViews:
    """Axial, coronal and sagittal slices of ``dose`` (and ``background``, ``masks``) for the dose-map figure.

    ``background`` and ``masks`` must be on the dose grid. ``centre_index`` (slice, row, column) picks
    the slices (default: the planes holding the most dose inside the VOIs, else the dose maximum).
    """
    dose_arr, spacing = _to_display_order(dose)
    bg_arr = _to_display_order(background)[0] if background is not None else None
    if centre_index is None:
        centre = np.unravel_index(int(np.argmax(dose_arr)), dose_arr.shape)
    else:
        marker = np.zeros(dose.shape, dtype=np.uint8)
        marker[tuple(int(c) for c in centre_index)] = 1
        centre = np.unravel_index(int(np.argmax(_to_display_order(dose.with_array(marker))[0])), dose_arr.shape)
    mask_arrs = {name: _to_display_order(m)[0].astype(bool) for name, m in (masks or {}).items()}
    union = np.zeros(dose_arr.shape, dtype=bool)
    for m in mask_arrs.values():
        union |= m
    if dose_max_gy:
        vmax = float(dose_max_gy)
    else:
        # Colour scale: 99th percentile inside the VOIs (noise outside must not set it), else overall.
        inside = dose_arr[union] if union.any() else dose_arr[dose_arr > 0]
        vmax = float(np.percentile(inside, 99.0)) if inside.size else 1.0
        vmax = vmax if vmax > 0 else 1.0
    crop = tuple(slice(None) for _ in range(3))
    if union.any():
        # Show the VOIs with a margin of CROP_MARGIN_MM rather than the whole field of view.
        lo = np.argwhere(union).min(axis=0)
        hi = np.argwhere(union).max(axis=0)
        margin = [int(np.ceil(CROP_MARGIN_MM / sp)) for sp in spacing]
        crop = tuple(slice(max(int(a) - mg, 0), min(int(b) + mg + 1, n))
                     for a, b, mg, n in zip(lo, hi, margin, dose_arr.shape, strict=True))
        centre = tuple(min(max(c, sl.start), sl.stop - 1) - sl.start
                       for c, sl in zip(centre, crop, strict=True))
        if centre_index is None:
            # Each view through the plane holding the most dose inside the VOIs.
            weighted = np.where(union, dose_arr, 0.0)
            centre = tuple(int(np.argmax(weighted.sum(axis=tuple(a for a in range(3) if a != axis))))
                           - crop[axis].start for axis in range(3))
        dose_arr = dose_arr[crop]
        bg_arr = bg_arr[crop] if bg_arr is not None else None
        mask_arrs = {name: m[crop] for name, m in mask_arrs.items()}
    sz, sy, sx = spacing
    cuts = [
        ("Axial", lambda a: a[centre[0]], sy / sx),
        ("Coronal", lambda a: a[:, centre[1], :], sz / sx),
        ("Sagittal", lambda a: a[:, :, centre[2]], sz / sy),
    ]
    views = tuple(
        OverlayView(label, aspect, np.ascontiguousarray(cut(dose_arr)),
                    None if bg_arr is None else np.ascontiguousarray(cut(bg_arr)),
                    tuple(np.ascontiguousarray(cut(m)) for m in mask_arrs.values()))
        for label, cut, aspect in cuts)
    return OverlayViews(views, tuple(mask_arrs), any(m.any() for m in mask_arrs.values()), vmax,
                        float(np.max(dose_arr)) if dose_arr.size else 0.0)


@literal_text
def draw_dose_overlay(views: OverlayViews, *, title: str = "Absorbed dose") -> Figure:
    """The dose-map figure of :func:`overlay_views`: three panels, VOI contours, one legend, a colour bar."""
    vmax = views.vmax
    margins = {**_SLICES_MARGINS, "bottom": _SLICES_LEGEND_BOTTOM} if views.with_legend else _SLICES_MARGINS
    fig = _new_figure(12.0, 4.8 if views.with_legend else 4.4, margins)
    axes = fig.subplots(1, 3)
    image = None
    drawn: dict[str, str] = {}  # every VOI contoured in any panel → its colour (one legend for all panels)
    for ax, view in zip(axes, views.views, strict=True):
        if view.background is not None:
            bg = view.background.astype(np.float32)
            lo, hi = np.percentile(bg, [1, 99.5]) if bg.size else (0.0, 1.0)
            ax.imshow(bg, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, aspect=view.aspect,
                      interpolation="nearest")
        d = np.ma.masked_less(view.dose.astype(np.float32), 0.02 * vmax)
        image = ax.imshow(d, cmap="turbo", vmin=0, vmax=vmax, alpha=0.65 if view.background is not None else 1.0,
                          aspect=view.aspect, interpolation="nearest")
        for n, (name, m) in enumerate(zip(views.mask_names, view.masks, strict=True)):
            sl = m.astype(np.float32)
            if sl.any():
                ax.contour(sl, levels=[0.5], colors=[_COLOURS[n % len(_COLOURS)]], linewidths=0.9)
                drawn[name] = _COLOURS[n % len(_COLOURS)]
        ax.set_title(view.label, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    _orientation_labels(axes)
    if drawn:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=drawn[name], label=name) for name in views.mask_names if name in drawn]
        fig.legend(handles=handles, fontsize=7, loc="lower center", bbox_to_anchor=(0.47, 0.0),
                   ncols=min(len(handles), 6),
                   framealpha=0.6, title="VOI contours (all panels)", title_fontsize=7)
    if image is not None:
        full_max = views.full_max
        saturated = full_max > vmax * 1.001
        label = f"Dose (Gy) — saturated ≥ {vmax:.0f} (max {full_max:.0f})" if saturated else "Dose (Gy)"
        fig.colorbar(image, ax=axes, shrink=0.85, fraction=0.03, pad=0.02, label=label,
                     extend="max" if saturated else "neither")
    fig.suptitle(title)
    return fig


def plot_dose_overlay(dose: Volume, *, background: Volume | None = None,
                      masks: Mapping[str, Volume] | None = None, centre_index: Sequence[int] | None = None,
                      dose_max_gy: float | None = None, title: str = "Absorbed dose") -> Figure:
    """Axial, coronal and sagittal slices of ``dose`` over ``background`` with VOI contours
    (:func:`overlay_views`, then :func:`draw_dose_overlay`).

    ``background`` and ``masks`` must be on the dose grid. ``centre_index`` (slice, row, column) picks
    the slices (default: the dose maximum).
    """
    return draw_dose_overlay(overlay_views(dose, background=background, masks=masks, centre_index=centre_index,
                                           dose_max_gy=dose_max_gy), title=title)


@literal_text
def plot_gamma_overlay(gamma: Volume, *, background: Volume | None = None,
                       region: np.ndarray | None = None, title: str = "Gamma index",
                       max_gamma: float = 2.0) -> Figure:
    """Axial, coronal and sagittal slices of a γ map (0–``max_gamma``; > 1 fails) over ``background``.

    Slices pass through the centre of the failing voxels (or of ``region``, or of the evaluated
    voxels); radiological display convention as :func:`sirtkit.report.plots_dose.plot_dose_overlay`.
    """
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm

    g = _to_display_order(gamma.with_array(np.asarray(gamma.array, dtype=np.float32)))[0]
    spacing = _to_display_order(gamma)[1]
    bg = _to_display_order(background)[0].astype(np.float32) if background is not None else None
    evaluated = np.isfinite(g)
    failing = evaluated & (g > 1.0)
    reg = _to_display_order(gamma.with_array(region))[0] if region is not None else None
    if reg is not None and reg.any():
        # Show the region with a margin of CROP_MARGIN_MM rather than the whole field of view.
        lo, hi = np.argwhere(reg).min(axis=0), np.argwhere(reg).max(axis=0)
        crop = tuple(slice(max(int(a) - math.ceil(CROP_MARGIN_MM / sp), 0), min(int(b) + math.ceil(CROP_MARGIN_MM / sp) + 1, n))
                     for a, b, sp, n in zip(lo, hi, spacing, g.shape, strict=True))
        g, evaluated, failing, reg = g[crop], evaluated[crop], failing[crop], reg[crop]
        bg = bg[crop] if bg is not None else None
    for candidate in (failing, reg, evaluated):
        if candidate is not None and np.any(candidate):
            centre = tuple(int(c) for c in np.argwhere(candidate).mean(axis=0).round())
            break
    else:
        centre = tuple(n // 2 for n in g.shape)
    sz, sy, sx = spacing
    views = [("Axial", lambda a: a[centre[0]], sy / sx), ("Coronal", lambda a: a[:, centre[1], :], sz / sx),
             ("Sagittal", lambda a: a[:, :, centre[2]], sz / sy)]
    cmap = colormaps["RdYlGn_r"].resampled(8)
    norm = BoundaryNorm(np.linspace(0.0, max_gamma, 9), cmap.N)
    fig = _new_figure(12.0, 4.4, _SLICES_MARGINS)
    axes = fig.subplots(1, 3)
    image = None
    for ax, (label, cut, aspect) in zip(axes, views, strict=True):
        if bg is not None:
            sl = cut(bg)
            lo, hi = (np.percentile(sl, [1, 99.5]) if sl.size else (0.0, 1.0))
            ax.imshow(sl, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, aspect=aspect, interpolation="nearest")
        image = ax.imshow(np.ma.masked_invalid(cut(g)), cmap=cmap, norm=norm, alpha=0.75 if bg is not None else 1.0,
                          aspect=aspect, interpolation="nearest")
        if reg is not None and cut(reg).any():
            ax.contour(cut(reg).astype(np.float32), levels=[0.5], colors=["#1f77b4"], linewidths=0.9)
        ax.set_title(label, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    _orientation_labels(axes)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.85, fraction=0.03, pad=0.02, label="γ (≤ 1 passes)")
    fig.suptitle(title)
    return fig
