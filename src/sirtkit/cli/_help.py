"""Help-text fixes for Typer's rich help.

Typer 0.29 shows a type column for every option, so on/off flags read ``--pdf <bool>`` — as if they took a
value, while ``--pdf true`` is refused ("unexpected extra argument"). Flags take no value: their type column
is left empty (an explicit ``metavar`` still wins).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

__all__ = ["hide_flag_types"]  # and VOI_ROLE_HELP, built on first use (module __getattr__)


def __getattr__(name: str) -> str:
    """``VOI_ROLE_HELP``, the ``--voi-role`` help: the roles come from the one table segment names are read
    with. Built on first use (PEP 562): the table lives in the imaging package, which ``sirtkit --help`` and
    ``sirtkit workup`` do not load (NumPy)."""
    if name != "VOI_ROLE_HELP":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from sirtkit.imaging.segmentation import STANDARD_VOI_NAMES

    return ("SEGMENT=ROLE, repeatable; ROLE: " + ", ".join(sorted(STANDARD_VOI_NAMES)) + ", other "
            "(e.g. 'label_1=liver', 'Normal Tissue=normal_liver').")


_original = TyperOption.display_type_rich


def _display_type_rich(self: TyperOption, ctx: Any) -> str | None:
    if self.is_flag and self.metavar is None:
        return None
    return _original(self, ctx)


def hide_flag_types() -> None:
    """Install the flag rule (idempotent)."""
    TyperOption.display_type_rich = _display_type_rich  # type: ignore[method-assign]
