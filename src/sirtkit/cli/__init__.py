"""The ``sirtkit`` command-line application (Typer + rich).

Each command lives in its own module (``sirtkit.cli.<command>``) with a ``register(app)`` function, and
is imported only when it runs: ``sirtkit workup`` never imports the imaging, dosimetry or plotting stack,
and ``sirtkit --help`` lists every command from the table :data:`COMMANDS` without importing any of them
(``tests/cli/test_cli_startup.py`` checks that the table matches the commands' own help). Commands print
readable output by default and a stable JSON document with ``--json`` (see ``docs/cli-plan.md``).

Output to a closed pipe (``sirtkit ... | head``) is dropped quietly and the command ends with its own
exit status (:class:`_PipeGuard`).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import signal
import sys
from difflib import get_close_matches
from typing import Any

# One OpenBLAS thread, set before NumPy and SciPy load OpenBLAS (this module is the console script's entry):
# sirtkit's BLAS calls are tiny (3 × 3 geometry, p × p Cox information matrices), and after each call
# OpenBLAS's worker threads busy-wait, taking the second core from the work sirtkit runs there itself
# (FFT threads, the read-ahead and worker processes of sirtkit._concurrent): ≈ 10 % of a dose command's
# CPU time went to that spinning (perf, issue 9). A value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _interrupted_while_starting(signum: int, frame: object) -> None:
    """Ctrl-C before the command runs (while its modules import): end quietly with status 130 (128 + SIGINT),
    as the command does once it runs, instead of Python's traceback from inside an import. Nothing has been
    written yet; the worker process and read-ahead threads end with the process."""
    os.write(2, b"sirtkit: interrupted\n")
    os._exit(130)


if os.path.basename(sys.argv[0]) == "sirtkit" and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_while_starting)  # main() restores Python's handler

from sirtkit import _readahead  # noqa: E402 - standard library only

# An image command starts reading its inputs now, before NumPy and Typer load (sirtkit._readahead).
_readahead.start_for_command(sys.argv)

import typer  # noqa: E402 - after the read-ahead has started
from typer.core import TyperCommand, TyperGroup  # noqa: E402

from sirtkit import __version__  # noqa: E402
from sirtkit.cli._help import hide_flag_types  # noqa: E402

__all__ = ["COMMANDS", "app", "main"]


# name → (module, help shown by `sirtkit --help`), in display order. The help must equal the command's own
# (its docstring; for `cohort` the group's help), which a test checks, so listing needs no import.
COMMANDS: dict[str, tuple[str, str]] = {
    "workup": ("sirtkit.cli.workup", "Scores (BSA, Child-Pugh, ALBI, MELD, ECOG) and SIRT eligibility for one patient."),
    "plan": ("sirtkit.cli.plan",
             "Plan the activity of a SIRT treatment from a case file and check it against safety limits."),
    "predict": ("sirtkit.cli.predict",
                "Measure compartments on the images, plan the activity under the device/intent limits, and\n"
                "compute the predicted dose map (MAA scaled to the planned activity). Exit 1 if a hard limit fails."),
    "dose": ("sirtkit.cli.dose", "Compute a voxel dose map with DVHs, metrics, pictures and an HTML report."),
    "compare": ("sirtkit.cli.compare",
                "Compare a predicted and a delivered dose map: per-VOI differences, DVHs and a 3-D gamma index."),
    "demo": ("sirtkit.cli.demo",
             "Run the main job on the bundled sample patients: MAA-SPECT plan + Y-90 PET dosimetry."),
    "cohort": ("sirtkit.cli.cohort",
               "Cohort outcomes: `sirtkit cohort DATA.xlsx --out DIR` writes the report (HTML, PDF, JSON, CSV); "
               "`template` and `synthetic` write input files."),
}


def load_command(name: str) -> Any:
    """Import ``sirtkit.cli.<name>`` and return its click command (as Typer builds it)."""
    module = importlib.import_module(COMMANDS[name][0])
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    module.register(holder)
    group = typer.main.get_group(holder)
    return group.get_command(None, name)  # type: ignore[arg-type]  # TyperGroup ignores the context


class _LazyGroup(TyperGroup):
    """The root group: commands are imported on first use; the help listing uses :data:`COMMANDS`."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:
            return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name][1])
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return self._click_resolve_command(ctx, args)
        except typer.BadParameter:
            raise
        except Exception as err:  # click's UsageError: suggest a known command for a typo
            matches = get_close_matches(args[0], list(COMMANDS)) if args else []
            if matches and hasattr(err, "message"):
                err.message = err.message.rstrip(".") + ". Did you mean " + ", ".join(map(repr, matches)) + "?"
            raise


hide_flag_types()  # flags show no "<bool>" value in --help (sirtkit.cli._help)
app = typer.Typer(
    name="sirtkit",
    cls=_LazyGroup,
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


class _PipeGuard:
    """Wrap ``sys.stdout`` / ``sys.stderr``: once the reader has closed the pipe, output goes to os.devnull.

    ``sirtkit ... | head`` closes the pipe after a few lines. The Python documentation's recipe
    (docs.python.org/3/library/signal.html, "Note on SIGPIPE") points the file descriptor at
    ``os.devnull`` so that later writes and the interpreter's final flush cannot fail again. sirtkit does
    that on the first ``BrokenPipeError`` and lets the command run to its end, so the exit status is the
    command's own: 0 done, 1 a hard clinical limit is broken, 2 bad input. Neither the shell's 141
    (128 + SIGPIPE, which ``set -o pipefail`` scripts read as a failure) nor click's 1 (which in sirtkit
    means "a hard limit is broken"). Every file is written before anything is printed, so nothing is lost.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._divert()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._divert()

    def _divert(self) -> None:
        from sirtkit.cli._console import silence_stream

        silence_stream(self._stream)
        with contextlib.suppress(BrokenPipeError):
            self._stream.flush()  # what was buffered for the closed pipe goes to os.devnull now

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main() -> None:
    """Console-script entry point (output to a closed pipe: see :class:`_PipeGuard`).

    The process ends when :func:`main` returns or raises ``SystemExit``. Before it does, the objects
    alive at that point are frozen out of the cyclic garbage collector (:func:`gc.freeze`): the
    interpreter's shutdown then does not walk them again in its final collections, which took ≈ 0.6 s
    after a dose command (matplotlib, SciPy and pydicom hold several hundred thousand tracked objects;
    ``gc.freeze`` is documented for exactly this). Shutdown itself is unchanged — atexit handlers,
    logging's flush, module teardown and the release of every object by reference counting all still
    run — and every output file was closed and renamed into place before the command returned, and
    stdout/stderr are flushed here first, so nothing is left unwritten (unlike ``os._exit``).
    """
    # A command allocates hundreds of thousands of container objects while importing its stack and few
    # reference cycles: the cyclic collector runs less often (documented tuning, gc.set_threshold), which
    # saved ≈ 0.05–0.1 s of CPU in a dose command (issue 9). Cycles are still collected.
    gc.set_threshold(50_000, 20, 100)
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C is KeyboardInterrupt again (exit 130)
    from sirtkit import _concurrent

    _concurrent.enable()  # this process is the command's own: background reads, imports and workers
    if _readahead.start_for_command(sys.argv, command_process=True):  # image command: inputs read ahead
        from sirtkit.cli._common import prewarm_image_command

        prewarm_image_command()
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _PipeGuard(stdout), _PipeGuard(stderr)
    try:
        app()
    finally:
        _concurrent.stop_worker()  # the image commands' figure worker, if one was started
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = stdout, stderr
        gc.freeze()
