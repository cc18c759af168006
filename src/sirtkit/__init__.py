"""sirtkit: open, tested radioembolization (Y-90 / Ho-166 SIRT) planning, dosimetry and outcomes.

The curated public API is listed in ``__all__``; each sub-package has its own ``__all__`` with more.

- :mod:`sirtkit.clinical` — work-up scores and NELM eligibility rules;
- :mod:`sirtkit.planning` — activity planning methods, lung shunt, safety checks, vial logistics;
- :mod:`sirtkit.imaging` — the :class:`~sirtkit.imaging.Volume` type, readers, writers, resampling;
- :mod:`sirtkit.dosimetry` — LDM / VSV dose engines, DVHs, radiobiology, RTDOSE;
- :mod:`sirtkit.outcomes` — response, toxicity, survival, dose–response, cohort analysis;
- :mod:`sirtkit.workflows` — one function per clinical workflow (what the CLI calls).

Examples
--------
>>> import sirtkit
>>> round(sirtkit.Y90.dose_constant_gy_kg_per_gbq, 2)
49.67
"""

from __future__ import annotations

__version__ = "0.1.0"

from sirtkit.errors import (
    ClinicalWarning,
    ConstraintViolation,
    DicomInputError,
    GeometryError,
    InputError,
    MissingExtraError,
    SirtError,
    UnitsError,
)
from sirtkit.physics import HO166, TC99M, Y90, decay_activity, decay_factor

__all__ = [
    "HO166",
    "TC99M",
    "Y90",
    "ClinicalWarning",
    "ConstraintViolation",
    "DicomInputError",
    "GeometryError",
    "InputError",
    "MissingExtraError",
    "SirtError",
    "UnitsError",
    "__version__",
    "decay_activity",
    "decay_factor",
]
