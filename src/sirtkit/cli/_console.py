"""The rich console of the CLI, with a broken pipe that does not change the exit status.

rich's default ``Console.on_broken_pipe`` raises ``SystemExit(1)``, so ``sirtkit plan CASE | head -1``
exited 1 — which sirtkit documents as "a hard clinical limit is broken" — and a ``set -o pipefail`` script
would report a failure that did not happen. Here a closed reader only silences the rest of the output:
the command finishes (its files are written in full) and exits with its own status.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

__all__ = ["PipeSafeConsole", "silence_stream"]


def silence_stream(stream: object) -> None:
    """Point ``stream``'s file descriptor at ``os.devnull`` (its reader is gone); ignore streams without one."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # not a real file descriptor (captured in tests)
        pass
    finally:
        os.close(devnull)


class PipeSafeConsole(Console):
    """A :class:`rich.console.Console` that goes quiet when its reader closes the pipe."""

    def on_broken_pipe(self) -> None:
        """Send the rest of this stream to ``os.devnull`` and carry on (no ``SystemExit(1)``)."""
        self.quiet = True
        silence_stream(sys.stderr if self.stderr else sys.stdout)
