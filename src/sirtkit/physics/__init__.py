"""Nuclide data and decay (foundation layer: nothing clinical)."""

from sirtkit.physics.decay import (
    cumulated_activity_gbq_h,
    decay_activity,
    decay_factor,
    elapsed_hours,
    require_aware,
    time_to_reach_h,
)
from sirtkit.physics.nuclides import HO166, NUCLIDES, TC99M, Y90, Nuclide, get_nuclide

__all__ = [
    "HO166",
    "NUCLIDES",
    "TC99M",
    "Y90",
    "Nuclide",
    "cumulated_activity_gbq_h",
    "decay_activity",
    "decay_factor",
    "elapsed_hours",
    "get_nuclide",
    "require_aware",
    "time_to_reach_h",
]
