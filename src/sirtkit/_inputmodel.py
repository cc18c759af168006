"""One base for the pydantic models that case files (YAML) are read into: work-up and planning.

Two guards that every hand-written number passes (both found by the input fuzzer, issue 10):

* **true/false is never a number.** pydantic's lax mode turns ``true`` into 1 for numeric fields, so
  ``ecog: yes`` (YAML 1.1 reads ``yes`` as true) became ECOG 1 and ``lung_shunt_fraction: true`` a shunt
  of 100 %.
* **Numbers are finite and of a magnitude a person can mean.** ``.inf``/``.nan`` and magnitudes outside
  [1e-9, 1e12] (e.g. ``perfused_target_gy: 1e-320``, a denormal that overflowed a later division) are
  refused. Zero stays allowed; each field's own validator says what range is clinically sensible.
"""

from __future__ import annotations

import math
import typing

from pydantic import BaseModel, ValidationInfo, field_validator

from sirtkit.errors import UnitsError

__all__ = ["CaseInputModel", "MAX_INPUT_MAGNITUDE", "MIN_INPUT_MAGNITUDE"]

# No quantity in a SIRT case file (GBq, Gy, kg, mL, h, µmol/L, 10⁹/L, image counts) is meant outside this range.
MIN_INPUT_MAGNITUDE = 1e-9
MAX_INPUT_MAGNITUDE = 1e12


def _accepts_bool(annotation: object) -> bool:
    """True if ``annotation`` (or an item type of a list in it) admits bool at the place a value sits."""
    return annotation is bool or any(_accepts_bool(a) for a in typing.get_args(annotation)
                                     if typing.get_origin(a) is not list)


def _item_accepts_bool(annotation: object) -> bool:
    lists = [a for a in (annotation, *typing.get_args(annotation)) if typing.get_origin(a) is list]
    return any(_accepts_bool(typing.get_args(a)[0]) for a in lists if typing.get_args(a))


def _implausible_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) > MAX_INPUT_MAGNITUDE
    return not math.isfinite(value) or (value != 0.0 and not MIN_INPUT_MAGNITUDE <= abs(value) <= MAX_INPUT_MAGNITUDE)


class CaseInputModel(BaseModel):
    """Base of the case-file models: no true/false as a number, no non-finite or absurd magnitudes."""

    @field_validator("*", mode="before")
    @classmethod
    def _guard_numbers(cls, value: object, info: ValidationInfo) -> object:
        if info.field_name is None:
            return value
        annotation = cls.model_fields[info.field_name].annotation
        items = value if isinstance(value, list) else []
        if (isinstance(value, bool) and not _accepts_bool(annotation)) or (
            any(isinstance(v, bool) for v in items) and not _item_accepts_bool(annotation)
        ):
            raise UnitsError(f"{info.field_name} = {value!r}: give a number, not true/false "
                             "(YAML reads yes/no/on/off as true/false)")
        if _implausible_number(value) or any(_implausible_number(v) for v in items):
            raise UnitsError(f"{info.field_name} = {value!r}: not a number this field can mean (finite, and 0 or "
                             f"between {MIN_INPUT_MAGNITUDE:g} and {MAX_INPUT_MAGNITUDE:g} in magnitude); "
                             "check the value and its unit")
        return value
