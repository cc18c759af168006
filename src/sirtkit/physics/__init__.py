"""Nuclide data and decay (foundation layer: nothing clinical)."""

from sirtkit.physics.decay import (
    add_hours,
    cumulated_activity_gbq_h,
    decay_activity,
    decay_factor,
    elapsed_hours,
    localize,
    require_aware,
    time_to_reach_h,
    to_utc,
)
from sirtkit.physics.nuclides import HO166, NUCLIDES, TC99M, Y90, Nuclide, get_nuclide

__all__ = [
    "HO166",
    "NUCLIDES",
    "TC99M",
    "Y90",
    "Nuclide",
    "add_hours",
    "cumulated_activity_gbq_h",
    "decay_activity",
    "decay_factor",
    "elapsed_hours",
    "get_nuclide",
    "localize",
    "require_aware",
    "time_to_reach_h",
    "to_utc",
]
