"""Progress reporting for long work.

Library code never prints. Long functions take ``progress: ProgressCallback | None`` and call it
with the fraction done (0–1) and a short description; the CLI turns that into a rich progress bar.

>>> seen = []
>>> report(lambda f, msg: seen.append((f, msg)), 0.5, "convolving")
>>> seen
[(0.5, 'convolving')]
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ProgressCallback", "report"]

ProgressCallback = Callable[[float, str], None]


def report(progress: ProgressCallback | None, fraction: float, message: str) -> None:
    """Call ``progress`` if given, clamping the fraction to [0, 1]."""
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), message)
