"""``sirtkit compare``: predicted vs delivered dose maps → per-VOI differences, DVHs, 3-D gamma, report."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

import typer
from rich.markup import escape
from rich.table import Table

from sirtkit.cli._common import (
    console,
    emit_json,
    handle_errors,
    parse_roles,
    print_notes,
    progress_bar,
)
from sirtkit.cli._help import VOI_ROLE_HELP
from sirtkit.errors import InputError
from sirtkit.workflows._output import check_output_folder

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``compare`` command to ``app``."""

    @app.command("compare")
    @handle_errors
    def compare(
        predicted: Path = typer.Argument(..., help="Predicted dose in Gy (e.g. MAA plan): dose.nrrd, NIfTI or RTDOSE .dcm."),
        delivered: Path = typer.Argument(..., help="Delivered dose in Gy (Y-90 PET/SPECT): dose.nrrd, NIfTI or RTDOSE .dcm."),
        segmentation: Path = typer.Option(..., "--segmentation", "-s", help="Slicer .seg.nrrd, label map, SEG, RTSTRUCT."),
        ct: Path = typer.Option(None, "--ct", help="CT an RTSTRUCT was drawn on (its DICOM folder)."),
        voi_role: list[str] = typer.Option([], "--voi-role", help=VOI_ROLE_HELP),
        dose_percent: float = typer.Option(3.0, "--dose-percent", help="Gamma dose criterion, % of the maximum predicted dose."),
        distance_mm: float = typer.Option(3.0, "--distance-mm", help="Gamma distance-to-agreement, mm."),
        cutoff_percent: float = typer.Option(10.0, "--cutoff-percent", help="Gamma low-dose cut-off, % of the maximum predicted dose."),
        resample: str = typer.Option("delivered", "--resample-to", help="Common grid when the grids differ: delivered or predicted."),
        dose_unit: str = typer.Option(None, "--dose-unit", help="Gy, for files that do not store a unit (NIfTI, foreign NRRD)."),
        out: Path = typer.Option(Path("sirtkit-compare"), "--out", "-o", help="Folder for the results."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty --out folder that sirtkit did not write."),
    ) -> None:
        """Compare a predicted and a delivered dose map: per-VOI differences, DVHs and a 3-D gamma index."""
        from sirtkit.workflows.compare import CompareCase, run_compare, write_compare_outputs

        check_output_folder(out, force=force)
        if resample not in ("delivered", "predicted"):
            raise InputError(f"--resample-to {resample!r}: use delivered or predicted")
        if dose_unit not in (None, "Gy"):
            raise InputError(f"--dose-unit {dose_unit!r}: only Gy is accepted; convert the dose map to Gy first")
        case = CompareCase(
            predicted=predicted, delivered=delivered, segmentation=segmentation, ct=ct, voi_roles=parse_roles(voi_role),
            dose_percent=dose_percent, distance_mm=distance_mm, lower_dose_cutoff_percent=cutoff_percent,
            resample_to=cast(Literal["delivered", "predicted"], resample),
            dose_unit=cast(Literal["Gy"] | None, dose_unit),
        )
        with progress_bar("compare", enabled=not json_out) as callback:
            result = run_compare(case, progress=callback)
            files = write_compare_outputs(result, out, subtitle=f"{predicted} vs {delivered}", force=force)
        if json_out:
            emit_json("compare", {**result.summary(), "files": {k: str(v) for k, v in files.items()}})
            return
        render_compare_table(result)
        console.print(f"\nFiles written to [bold]{out}[/]: " + ", ".join(p.name for p in files.values()))


# Columns of the terminal table (the HTML report and compare_vois.csv carry all of them), with the short
# headers that keep them apart at 80 columns ("Differ…" twice was unreadable).
_TERMINAL_COLUMNS = {"VOI": "VOI", "Predicted mean (Gy)": "pred. mean", "Delivered mean (Gy)": "deliv. mean",
                     "Difference (Gy)": "Δ Gy", "Difference (%)": "Δ %", "Predicted D70 (Gy)": "pred. D70",
                     "Delivered D70 (Gy)": "deliv. D70", "Gamma pass (%)": "γ pass %"}


def render_compare_table(result: object) -> None:
    """Print the per-VOI comparison table, the gamma pass rate, notes and warnings of a CompareResult."""
    from sirtkit.workflows.compare import COMPARE_VOI_HEADER, CompareResult, compare_voi_row

    assert isinstance(result, CompareResult)
    keep = [COMPARE_VOI_HEADER.index(c) for c in _TERMINAL_COLUMNS]
    table = Table(title="Delivered − predicted dose per VOI (Gy; Δ = delivered − predicted)", header_style="bold")
    for n, label in enumerate(_TERMINAL_COLUMNS.values()):
        table.add_column(label, justify="left" if n == 0 else "right", overflow="fold")
    for c in result.comparisons:
        row = compare_voi_row(c)
        table.add_row(*(escape(str(row[i])) for i in keep))
    console.print(table)
    g = result.gamma
    rate = "–" if g.n_evaluated == 0 else f"{g.pass_rate_percent:.1f} %"
    console.print(
        f"Gamma pass rate ({g.dose_percent:g} %/{g.distance_mm:g} mm global, cut-off "
        f"{g.lower_dose_cutoff_percent:g} %, over the {result.gamma_region}): [bold]{rate}[/] "
        f"of {g.n_evaluated} voxels")
    print_notes(result.notes, result.warnings)
