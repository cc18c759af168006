"""Tissue properties used by both planning (masses from volumes) and dosimetry (LDM, density scaling).

One place, so that a plan and the dose map computed from it use the same density.

>>> LIVER_DENSITY_G_PER_ML
1.03
"""

from __future__ import annotations

__all__ = ["LIVER_DENSITY_G_PER_ML"]

# Liver (and tumour) density 1.03 g/mL: TheraSphere IFU / MIRDy90 convention (docs/design/CLINICAL.md §6,
# [K]); alternatives: 1.0 ("normal liver considered"), 0.99 (CT vs autopsy, PMC3921016), cirrhotic 1.1,
# 1.06 (Ho-166 literature). Override per case where the method allows it.
LIVER_DENSITY_G_PER_ML = 1.03
