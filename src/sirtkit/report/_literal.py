"""Text from files and forms drawn literally in every sirtkit figure.

Names in figures come from outside: segment and ROI names from segmentations, patient IDs and arm names
from cohort spreadsheets, the patient ID of a plan. matplotlib reads two ``$`` in a text as mathtext, so a
name such as ``Tumour $\\frac{1$`` stopped the command at its figures (``ValueError`` from the mathtext
parser) and ``$x$`` was drawn as a formula; and a legend collected from labels drops every label that starts
with ``_`` (``_liver`` had a curve without a name). sirtkit's own figure texts use Unicode (γ, ≤, –), never
mathtext, so:

* :func:`literal_text` builds a figure that shows such names with ``text.parse_math`` off (matplotlib's
  documented switch, read when a text is created: tick labels set from names, legends and titles are
  covered; texts matplotlib creates itself while drawing, such as a log axis's ``10²`` labels, keep their
  mathtext — a figure with a log axis and no names, like the dose–response figure, is not wrapped);
* legends of user-named curves are given their handles and labels explicitly (no ``_`` filtering).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["literal_text", "literal_texts"]


@contextlib.contextmanager
def literal_texts() -> Iterator[None]:
    """matplotlib texts created (or drawn) inside are literal: no mathtext."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        yield


def literal_text(build: Callable[P, R]) -> Callable[P, R]:
    """Decorator for a function that builds or draws a figure: every text in it is literal."""

    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with literal_texts():
            return build(*args, **kwargs)

    return wrapper
