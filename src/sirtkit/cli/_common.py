"""Shared plumbing of the ``sirtkit`` command line: errors → exit status, JSON output, YAML input.

Exit status: 0 success; 1 the result breaks a hard clinical limit (for example a plan whose lung
dose exceeds 30 Gy); 2 bad input (nothing is written); 3 an unexpected internal error.

Untrusted text (patient IDs, segment and lesion names, file names, messages quoting them) reaches the
terminal only through :data:`console` / :data:`err_console`, which show control characters as visible
escapes (:func:`sirtkit.text.terminal_text`); messages are cut to :data:`sirtkit.text.MAX_MESSAGE_CHARS`
before rich lays them out (:func:`sirtkit.text.bounded`).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pydantic
import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from sirtkit import __version__
from sirtkit.cli._console import PipeSafeConsole, silence_stream
from sirtkit.errors import ConstraintViolation, InputError, MissingExtraError, SirtError
from sirtkit.progress import ProgressCallback
from sirtkit.serialize import to_jsonable
from sirtkit.text import MAX_MESSAGE_CHARS, bounded, terminal_text
from sirtkit.workflows._inputs import format_validation_error, read_yaml_mapping

__all__ = [
    "EXIT_HARD_LIMIT",
    "MAX_MESSAGE_CHARS",
    "build_from_options",
    "EXIT_INPUT",
    "EXIT_INTERNAL",
    "console",
    "emit_json",
    "err_console",
    "format_validation_error",
    "handle_errors",
    "load_yaml",
    "parse_roles",
    "parse_time",
    "print_notes",
    "print_selected_columns",
    "progress_bar",
]

EXIT_HARD_LIMIT = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3



class SafeConsole(PipeSafeConsole):
    """A rich console that shows control characters in the text it prints as visible escapes.

    Every string rich renders (``print`` arguments, table cells, titles) passes through
    :meth:`render_str`, so an escape sequence in a patient ID or segment name is printed as ``\\x1b[31m``
    instead of being obeyed by the terminal. Markup (``[bold]``) is unaffected; rich's own colour codes
    are added after this step. A closed pipe (``| head``) silences the rest of the output without changing
    the exit status (:class:`sirtkit.cli._console.PipeSafeConsole`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kwargs.get("width") is None:
            # rich freezes $COLUMNS at construction; commands are imported lazily (on first use), so the
            # width must follow the terminal / COLUMNS of each call, as rich does when none was fixed.
            self._width = None
        if kwargs.get("height") is None:
            self._height = None

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(terminal_text(text), **kwargs)


console = SafeConsole(highlight=False)
err_console = SafeConsole(stderr=True, highlight=False)

P = ParamSpec("P")
M = TypeVar("M", bound=pydantic.BaseModel)
R = TypeVar("R")


# Third-party modules an image command (dose, predict, compare, demo) imports for its dose engine and
# report: imported while the command waits for its images to be read ahead (sirtkit._concurrent.prewarm;
# issue 9). Only modules the command imports anyway; nothing here is imported by the readers.
IMAGE_COMMAND_MODULES = ("scipy.fft", "jinja2")
# ... and, when no worker process draws the figures (sirtkit._concurrent.start_worker), matplotlib as well.
WORKER_MODULES = ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.colors")


def prewarm_image_command() -> None:
    """Queue :data:`IMAGE_COMMAND_MODULES` to be imported while the command waits for its inputs, which
    :func:`sirtkit._readahead.start_for_command` started reading ahead."""
    from sirtkit._concurrent import prewarm, worker_started

    prewarm(*IMAGE_COMMAND_MODULES, *(() if worker_started() else WORKER_MODULES))


def build_from_options(model: type[M], values: dict[str, Any]) -> M:
    """Validate command-line option values as ``model``; problems name the option (``--lung-shunt-fraction``),
    not the internal field."""
    try:
        return model.model_validate(values)
    except pydantic.ValidationError as err:
        lines = [f"{err.error_count()} problem(s) with the options:"]
        for e in err.errors():
            field = str(e["loc"][0]) if e["loc"] else ""
            where = f"--{field.replace('_', '-')}" if field else "options"
            msg = "required" if e["type"] == "missing" else e["msg"].removeprefix("Value error, ")
            for name in values:
                if "_" in name:  # only multi-word field names: plain words ("ct") would hit ordinary text
                    msg = re.sub(rf"\b{re.escape(name)}\b", f"--{name.replace('_', '-')}", msg)
            lines.append(f"  - {where}: {msg}")
        raise InputError("\n".join(lines)) from None


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run a CLI command, turning sirtkit errors into a clear message and an exit status."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except pydantic.ValidationError as err:
            err_console.print(f"[bold red]error:[/] {_message(format_validation_error(err))}")
            raise typer.Exit(EXIT_INPUT) from None
        except (InputError, OSError, MissingExtraError) as err:  # OSError: the user's file or disk
            err_console.print(f"[bold red]error:[/] {_message(str(err))}")
            raise typer.Exit(EXIT_INPUT) from None
        except ConstraintViolation as err:
            err_console.print(f"[bold red]refused:[/] {_message(str(err))}")
            raise typer.Exit(EXIT_HARD_LIMIT) from None
        except SirtError as err:
            err_console.print(f"[bold red]error:[/] {_message(str(err))}")
            raise typer.Exit(EXIT_INPUT) from None
        except Exception as err:
            logging.getLogger("sirtkit.cli").debug("internal error", exc_info=True)
            err_console.print(
                f"[bold red]internal error:[/] {_message(f'{type(err).__name__}: {err}')}\n"
                "This is a bug in sirtkit, not in your input: please report it with the command you ran "
                "(run with --verbose for the traceback). Nothing was written.")
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def _message(text: str) -> str:
    """A message ready for rich markup: cut to a readable length first (a 24 MB message would take rich
    minutes to lay out), then escaped."""
    return escape(bounded(text))


def load_yaml(path: Path) -> Any:
    """Read a YAML (or JSON) mapping; a missing file or a syntax error names the file and line."""
    return read_yaml_mapping(path, "YAML file")


def print_selected_columns(title: str, header: Sequence[str], rows: Iterable[Sequence[str]],
                           columns: Sequence[str]) -> None:
    """Print ``rows`` (laid out as ``header``) as a rich table showing only ``columns``, first one left-aligned."""
    keep = [list(header).index(c) for c in columns]
    table = Table(title=title, header_style="bold")
    for n, c in enumerate(columns):
        table.add_column(c, justify="left" if n == 0 else "right")
    for row in rows:
        table.add_row(*(escape(bounded(str(row[i]))) for i in keep))
    console.print(table)


def print_notes(notes: Iterable[str], warnings: Iterable[str]) -> None:
    """Notes dimmed, warnings in yellow, one per line."""
    for note in notes:
        console.print(f"[dim]{_message(note)}[/]")
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {_message(warning)}")


def parse_roles(items: list[str]) -> dict[str, str]:
    roles: dict[str, str] = {}
    for item in items:
        name, sep, role = item.rpartition("=")
        if not sep or not name:
            raise InputError(f"--voi-role {item!r}: write SEGMENT=ROLE, e.g. 'Normal Tissue=normal_liver'")
        roles[name] = role
    return roles


def parse_time(value: str | None, option: str, zone: str | None = None) -> datetime | None:
    """An ISO date-time option. Without an offset it is read in ``zone`` (the command's ``--timezone``, an
    IANA name: daylight saving follows the date); without an offset and without a zone it is refused."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        example = "2026-03-02T09:30:00" if zone is not None else "2026-03-02T09:30:00+01:00"
        raise InputError(f"{option} {value!r} is not an ISO date-time such as {example}") from None
    if moment.tzinfo is not None:
        return moment
    if zone is None:
        raise InputError(f"{option} {value!r} has no timezone: add an offset, e.g. {value}+01:00 (or give --timezone)")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return moment.replace(tzinfo=ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone {zone!r} is not an IANA timezone name such as Europe/Amsterdam") from None


def emit_json(kind: str, payload: Any) -> None:
    """Print the stable JSON document ``{"sirtkit_version", "kind", "result"}`` to stdout."""
    doc = {"sirtkit_version": __version__, "kind": kind, "result": to_jsonable(payload)}
    try:
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `--json | head`: the reader is gone; the exit status stays the command's own
        silence_stream(sys.stdout)


class progress_bar:
    """A rich progress bar that yields a :data:`ProgressCallback`; silent when ``enabled`` is False."""

    def __init__(self, description: str, *, enabled: bool = True) -> None:
        self._enabled = enabled and err_console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[msg]}"),
            TimeElapsedColumn(), console=err_console, transient=True,
        )
        self._task = self._progress.add_task(description, total=1.0, msg="")

    def __enter__(self) -> ProgressCallback:
        if self._enabled:
            self._progress.start()

        def callback(fraction: float, message: str) -> None:
            self._progress.update(self._task, completed=fraction, msg=message)

        return callback

    def __exit__(self, *exc: object) -> None:
        if self._enabled:
            self._progress.stop()
