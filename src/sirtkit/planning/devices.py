"""Radioembolization devices as data: glass (TheraSphere), resin (SIR-Spheres), holmium (QuiremSpheres).

One row per device, no ``if`` chains: nuclide, default dose constant, vial sizes and usable window,
default expected residual fraction, device rules (maximum LSF, maximum lung activity) and the planning
methods that apply. Values that were not verified against the current IFU are marked [K] (field
knowledge, CLINICAL.md §13) and are configurable through the case file.

References
----------
.. [TS-PI] TheraSphere Y-90 Glass Microspheres package insert (2014): dose sizes 3, 5, 7, 10, 15, 20 GBq
   at calibration; contraindication > 0.61 GBq to the lungs.
.. [SIR-PI] SIR-Spheres package insert (draft, manualzz 5163832); Selwyn et al., Med Phys 2008:
   3 GBq ± 10 % at calibration, usable up to 24 h from calibration; Sirtex approved indications:
   LSF > 20 % contraindicated.
.. [Hoang2019] Hoang et al., JVIR 2019: residual activity resin 3.01 %, glass 0.61 % (median).
.. [HoCVIR] Reinders et al., CVIR 2019 (PMC8583383, Table 4): QuiremSpheres 6–12 GBq per treatment.
.. [Prince2015] Prince JF et al., JNM 2015;56:817: Ho-166 scout dose ≈250 MBq.

Examples
--------
>>> get_device("glass").vial_sizes_gbq
(3.0, 5.0, 7.0, 10.0, 15.0, 20.0)
>>> get_device("resin").expected_residual_fraction
0.0301
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sirtkit.errors import InputError
from sirtkit.physics.nuclides import (
    HO166,
    HO166_DOSE_CONSTANT_GY_KG_PER_GBQ,
    Y90,
    Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
    Y90_DOSE_CONSTANT_THERASPHERE_IFU_GY_KG_PER_GBQ,
    Nuclide,
)
from sirtkit.planning.lung import GLASS_LUNG_ACTIVITY_LIMIT_GBQ

__all__ = [
    "DEVICES",
    "DeviceName",
    "Device",
    "DoseConstantName",
    "MethodName",
    "RESIN_MAX_LUNG_SHUNT_FRACTION",
    "dose_constant_for",
    "get_device",
]

DeviceName = Literal["glass", "resin", "holmium"]
MethodName = Literal["bsa", "mird", "partition", "multicompartment", "holmium_standard"]
DoseConstantName = Literal["default", "vendor_neutral", "therasphere_ifu"]

# Sirtex approved indications: LSF > 20 % contraindicates SIR-Spheres. CLINICAL.md §3 [S].
RESIN_MAX_LUNG_SHUNT_FRACTION = 0.20


@dataclass(frozen=True)
class Device:
    """One microsphere device and its planning rules.

    Attributes
    ----------
    name
        Short key used in case files (``glass``, ``resin``, ``holmium``).
    product
        Trade name.
    nuclide
        Radionuclide of the microspheres.
    dose_constant_gy_kg_per_gbq
        Dose constant used by default (vendor-neutral 49.67 for Y-90; 15.87 for Ho-166).
    expected_residual_fraction
        Default fraction of the prepared activity expected to remain in the vial/tubing (Hoang 2019).
    methods
        Planning methods that apply to the device.
    vial_sizes_gbq
        Stock activities at calibration (empty: activity ordered per patient).
    vial_tolerance_fraction
        Tolerance of the stated vial activity at calibration (resin ±10 %).
    usable_from_h, usable_until_h
        Window, in hours relative to the calibration time, in which a vial may be used.
    max_lung_shunt_fraction
        Device contraindication on LSF (resin 0.20), ``None`` where the device has none.
    lung_activity_limit_gbq
        Device contraindication on activity shunted to the lungs (glass 0.61 GBq), or ``None``.
    max_activity_gbq
        Largest activity one treatment can deliver (largest vial at calibration / per-dose maximum).
    citation
        Where the values come from.
    short_citation
        The same, short (for tables).
    """

    name: DeviceName
    product: str
    nuclide: Nuclide
    dose_constant_gy_kg_per_gbq: float
    expected_residual_fraction: float
    methods: tuple[MethodName, ...]
    vial_sizes_gbq: tuple[float, ...]
    vial_tolerance_fraction: float | None
    usable_from_h: float | None
    usable_until_h: float | None
    max_lung_shunt_fraction: float | None
    lung_activity_limit_gbq: float | None
    max_activity_gbq: float | None
    citation: str
    short_citation: str


DEVICES: dict[str, Device] = {
    "glass": Device(
        name="glass",
        product="TheraSphere (Boston Scientific)",
        nuclide=Y90,
        # Vendor-neutral 49.67 by default (EANM 2022); "therasphere_ifu" selects 50 to reproduce IFU numbers.
        dose_constant_gy_kg_per_gbq=Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
        expected_residual_fraction=0.0061,  # Hoang JVIR 2019: glass median residual 0.61 % [S]
        methods=("mird", "partition", "multicompartment"),
        vial_sizes_gbq=(3.0, 5.0, 7.0, 10.0, 15.0, 20.0),  # TheraSphere PI 2014 [S]
        vial_tolerance_fraction=None,
        # Usable from calibration for about 12 days [K]: CLINICAL.md §5 reports a 1–2 week window; not verified
        # (the TheraSphere package insert read for issue 8 states the dose sizes, not the window). Infusion
        # before the calibration time is outside the window (a hard failure of the vial_window_start check).
        usable_from_h=0.0,
        usable_until_h=12 * 24.0,
        max_lung_shunt_fraction=None,
        lung_activity_limit_gbq=GLASS_LUNG_ACTIVITY_LIMIT_GBQ,  # TheraSphere IFU [S]
        max_activity_gbq=20.0,  # largest stock vial at calibration [S]
        citation="TheraSphere package insert 2014; TheraSphere IFU contraindications; Hoang JVIR 2019",
        short_citation="TheraSphere PI 2014",
    ),
    "resin": Device(
        name="resin",
        product="SIR-Spheres (Sirtex Medical)",
        nuclide=Y90,
        dose_constant_gy_kg_per_gbq=Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
        expected_residual_fraction=0.0301,  # Hoang JVIR 2019: resin median residual 3.01 % [S]
        methods=("bsa", "mird", "partition", "multicompartment"),
        # 3.0 GBq ± 10 % at calibration date & time (Selwyn Med Phys 2008; SIR PI; sirtex.com "About
        # SIR-Spheres" product features, re-read for issue 8) [S]
        vial_sizes_gbq=(3.0,),
        vial_tolerance_fraction=0.10,
        usable_from_h=0.0,
        usable_until_h=24.0,  # "usable up to 24 h from the time of calibration" (SIR PI) [S]
        max_lung_shunt_fraction=RESIN_MAX_LUNG_SHUNT_FRACTION,
        lung_activity_limit_gbq=None,
        max_activity_gbq=3.0,
        citation="SIR-Spheres package insert; Selwyn Med Phys 2008; Sirtex approved indications; Hoang JVIR 2019",
        short_citation="SIR-Spheres PI",
    ),
    "holmium": Device(
        name="holmium",
        product="QuiremSpheres (Terumo/Quirem Medical)",
        nuclide=HO166,
        dose_constant_gy_kg_per_gbq=HO166_DOSE_CONSTANT_GY_KG_PER_GBQ,
        # No published residual fraction found for Ho-166 [K]: 0 unless the case gives one.
        expected_residual_fraction=0.0,
        methods=("holmium_standard", "partition", "multicompartment"),
        vial_sizes_gbq=(),  # activity ordered per patient [S] (van Roekel thesis)
        vial_tolerance_fraction=None,
        usable_from_h=None,
        usable_until_h=None,
        max_lung_shunt_fraction=None,
        lung_activity_limit_gbq=None,
        max_activity_gbq=12.0,  # 6–12 GBq per treatment (CVIR 2019, PMC8583383 Table 4) [S]
        citation="QuiremSpheres literature: JNM 2016;57(S2):199; Prince JNM 2015;56:817; PMC8583383",
        short_citation="CVIR 2019 (PMC8583383)",
    ),
}


def get_device(name: str) -> Device:
    """Look a device up by its key; an unknown key lists the allowed ones.

    >>> get_device("holmium").nuclide.name
    'Ho-166'
    """
    key = name.strip().lower()
    if key not in DEVICES:
        raise InputError(f"unknown device {name!r}: use one of {', '.join(DEVICES)}")
    return DEVICES[key]


_DOSE_CONSTANTS_Y90: dict[str, float] = {
    "vendor_neutral": Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
    "therasphere_ifu": Y90_DOSE_CONSTANT_THERASPHERE_IFU_GY_KG_PER_GBQ,
}


def dose_constant_for(device: Device, choice: DoseConstantName = "default") -> float:
    """Dose constant (Gy·kg/GBq) for ``device``: its default, or a named Y-90 variant.

    ``"therasphere_ifu"`` (50) reproduces TheraSphere package-insert numbers; ``"vendor_neutral"`` is 49.67.

    >>> dose_constant_for(get_device("glass"), "therasphere_ifu")
    50.0
    """
    if choice not in get_args(DoseConstantName):
        raise InputError(f"dose_constant = {choice!r}: use one of {', '.join(get_args(DoseConstantName))}")
    if choice == "default":
        return device.dose_constant_gy_kg_per_gbq
    if device.nuclide.name != "Y-90":
        raise InputError(
            f"dose_constant = {choice!r} applies to Y-90 only; device {device.name!r} uses "
            f"{device.nuclide.name}: use 'default'"
        )
    return _DOSE_CONSTANTS_Y90[choice]
