"""sirtkit: open, tested radioembolization (Y-90 / Ho-166 SIRT) planning, dosimetry and outcomes.

The public API is listed in ``__all__``; sub-packages have their own curated ``__all__``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
