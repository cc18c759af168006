"""The ``sirtkit`` command-line application (Typer + rich).

Each command lives in its own module and registers itself on :data:`app`. Commands print readable
output by default and a stable JSON document with ``--json`` (see ``docs/cli.md``).
"""

from __future__ import annotations

import logging

import typer

from sirtkit import __version__
from sirtkit.cli._help import hide_flag_types

__all__ = ["app", "main"]

hide_flag_types()  # flags show no "<bool>" value in --help (sirtkit.cli._help)
app = typer.Typer(
    name="sirtkit",
    help="Radioembolization (Y-90 / Ho-166 SIRT): work-up, planning, dosimetry and outcomes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"sirtkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what is done (to stderr)."),
) -> None:
    """sirtkit: open, tested radioembolization planning, dosimetry and outcomes."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def _register_commands() -> None:
    from sirtkit.cli import cohort, compare, demo, dose, plan, predict, workup

    for module in (workup, plan, predict, dose, compare, cohort, demo):
        module.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()
