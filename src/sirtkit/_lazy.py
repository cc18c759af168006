"""Lazy package exports (PEP 562): a name is imported from its module on first use, then cached.

Used by the ``imaging`` and ``dosimetry`` packages so that ``sirtkit --help`` and ``sirtkit workup`` do not
import NumPy/SciPy/pydicom-heavy modules they never call (issue 9, start-up under 0.5 s).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, exporting each ``name`` from module ``names[name]``."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
