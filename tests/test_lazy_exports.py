"""The lazily exported packages (`sirtkit.imaging`, `sirtkit.dosimetry`, PEP 562) list each public name three
times — `TYPE_CHECKING` imports, `_LAZY`, `__all__` — and mypy cannot see a name left out of `_LAZY`: every
name in `__all__` must resolve, and every lazy name must be public."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["sirtkit.imaging", "sirtkit.dosimetry"])
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module._LAZY) <= set(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
