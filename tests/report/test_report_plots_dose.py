"""Dose figures: the slice overlay's legend names every contour drawn (QA finding 8)."""

from __future__ import annotations

import numpy as np

from sirtkit.imaging.volume import Volume
from sirtkit.report.plots_dose import plot_dose_overlay


def test_overlay_legend_lists_every_contoured_voi() -> None:
    """Three VOIs, each visible in a different panel only (the legend used to come from the sagittal panel,
    so a tumour seen only on the axial slice had a contour but no legend entry). The figure legend must list
    exactly the VOIs contoured in any panel, and not one that is contoured nowhere."""
    shape = (30, 30, 30)
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    dose = np.zeros(shape, dtype=np.float32)
    dose[15, 15, 15] = 100.0  # maximum: the three panels cut through (15, 15, 15)
    liver = np.zeros(shape, dtype=bool)
    liver[10:20, 10:20, 10:20] = True  # seen in every panel
    axial_only = np.zeros(shape, dtype=bool)
    axial_only[15, 2:5, 22:25] = True  # in slice 15 only, away from row 15 and column 15
    sagittal_only = np.zeros(shape, dtype=bool)
    sagittal_only[2:5, 22:25, 15] = True  # in column 15 only
    nowhere = np.zeros(shape, dtype=bool)
    nowhere[2:4, 2:4, 2:4] = True
    grid = Volume(dose, affine, quantity="dose", unit="Gy")
    masks = {name: grid.with_array(m) for name, m in
             (("Liver", liver), ("Tumor 1", axial_only), ("Tumor 2", sagittal_only), ("Tumor 3", nowhere))}
    fig = plot_dose_overlay(grid, masks=masks, dose_max_gy=100.0)
    names = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert names == ["Liver", "Tumor 1", "Tumor 2"]
    assert not any(ax.get_legend() for ax in fig.axes)
