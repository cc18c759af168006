"""Names from files and forms are drawn as typed in every figure that shows them (sirtkit.report._literal).

A segment, ROI, arm or patient name holding two ``$`` was read by matplotlib as mathtext: a malformed
formula (``Tumour $\\frac{1$``) stopped the command at its figures, a well-formed one was drawn as a formula;
a legend label starting with ``_`` was dropped. Exact: the drawn texts equal the names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.text import Text

from sirtkit.imaging.volume import Volume
from sirtkit.outcomes.survival import kaplan_meier
from sirtkit.report.plots_dose import plot_dose_overlay, plot_dvh, plot_dvh_comparison
from sirtkit.report.plots_outcomes import km_figure, swimmer_figure
from sirtkit.report.render import figure_png

HOSTILE = ("Tumour $\\frac{1$", "$x^2$ lesion", "_liver")


def _texts(fig: Figure) -> set[str]:
    figure_png(fig)  # drawn without error

    return {t.get_text() for t in fig.findobj(Text)}


def test_dvh_legends_and_titles_show_names_as_typed() -> None:
    curve = (np.linspace(0.0, 50.0, 6), np.linspace(1.0, 0.0, 6))
    curves = {name: curve for name in HOSTILE}
    assert set(HOSTILE) | {"Plan $P1$"} <= _texts(plot_dvh(curves, title="Plan $P1$"))
    assert set(HOSTILE) <= _texts(plot_dvh_comparison(curves, curves))


def test_dose_overlay_legend_and_title_show_names_as_typed() -> None:
    dose = np.zeros((12, 12, 12), np.float32)
    dose[4:8, 4:8, 4:8] = 50.0
    grid = Volume(dose, np.diag([4.0, 4.0, 4.0, 1.0]), quantity="dose", unit="Gy")
    masks = {name: grid.with_array(dose > 0) for name in HOSTILE}
    assert set(HOSTILE) | {"Patient $P$"} <= _texts(plot_dose_overlay(grid, masks=masks, title="Patient $P$"))


def test_cohort_figures_show_arm_and_patient_names_as_typed() -> None:
    curves = [kaplan_meier([1, 2, 3, 4], [1, 0, 1, 1], label=name) for name in HOSTILE]
    texts = _texts(km_figure(curves, title="OS"))
    assert all(any(t.startswith(name + " (n=") for t in texts) for name in HOSTILE)
    swimmer = pd.DataFrame({"patient_id": list(HOSTILE), "os_months": [10.0, 20.0, 30.0], "os_event": [1, 0, 1],
                            "pfs_months": [5.0, 8.0, 9.0], "pfs_event": [1, 1, 0],
                            "first_response_months": [3.0, np.nan, 4.0]})
    assert set(HOSTILE) <= _texts(swimmer_figure(swimmer))
