"""``sirtkit demo``: plan and post-treatment dosimetry on the bundled sample patients."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from sirtkit.cli._common import console, emit_json, handle_errors, progress_bar

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command("demo")
    @handle_errors
    def demo(
        out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Folder for the reports."),
        pdf: bool = typer.Option(False, "--pdf", help="Also write PDF reports (needs the pdf extra)."),
        json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty --out folder that sirtkit did not write."),
    ) -> None:
        """Run the main job on the bundled sample patients: MAA-SPECT plan + Y-90 PET dosimetry."""
        from sirtkit.cli.dose import render_dose_table
        from sirtkit.workflows.demo import DEMO_ASSUMPTIONS, run_demo

        with progress_bar("demo", enabled=not json_out) as callback:
            result = run_demo(out, pdf=pdf, progress=callback, force=force)
        if json_out:
            emit_json("demo", {"plan": result.plan.summary(), "posttreatment": result.posttreatment.summary(),
                               "files": {k: str(v) for k, v in result.files.items()}})
            return
        console.rule("[bold]1. Pre-treatment plan — sample patient 2 (Tc-99m MAA SPECT)")
        render_image_plan(result.plan)
        console.rule("[bold]2. Post-treatment dosimetry — sample patient 1 (Y-90 PET)")
        render_dose_table(result.posttreatment)
        console.rule("[bold]Assumptions")
        for line in DEMO_ASSUMPTIONS:
            console.print(f"• {line}")
        console.print(f"\nReports: [bold]{result.files['plan_html']}[/] and [bold]{result.files['post_html']}[/]")


def render_image_plan(result: object) -> None:
    """Print the plan summary, compartment table and checks of an :class:`ImagePlanResult`."""
    from sirtkit.workflows.imageplan import ImagePlanResult, non_target_warnings, plan_sections

    assert isinstance(result, ImagePlanResult)
    colours = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "UNKNOWN": "yellow"}
    for section in plan_sections(result):
        if section["title"] == "Decay table":
            continue
        table = Table(title=section["title"], header_style="bold", show_header=section["header"] is not None)
        header = section["header"] or ["", ""]
        for h in header:
            table.add_column(h, justify="left" if h in ("", "Compartment", "Kind", "Check", "Source") else "right")
        for row in section["rows"]:
            cells = [str(c) for c in row]
            if section["title"] == "Safety checks":
                cells[1] = f"[{colours.get(cells[1], 'white')}]{cells[1]}[/]"
            table.add_row(*cells)
        console.print(table)
    for failure in result.plan.hard_failures:
        console.print(f"[bold red]FAIL:[/] {failure}")
    for warning in [*result.warnings, *non_target_warnings(result)]:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
