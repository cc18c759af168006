"""Turn result objects into plain JSON-ready data (dicts, lists, str, float, int, bool, None).

Used by the CLI's ``--json`` output and the reports, so that every interface shows the same numbers.
Dataclasses, pydantic models, enums, numpy scalars/arrays, datetimes and paths are handled; NaN and
infinities become ``None`` (JSON has no such numbers).

>>> import numpy as np
>>> to_jsonable({"dose_gy": np.float32(1.5), "values": np.array([1, 2])})
{'dose_gy': 1.5, 'values': [1, 2]}
"""

from __future__ import annotations

import dataclasses
import enum
import math
import sys
from datetime import date, datetime, timedelta
from pathlib import PurePath
from typing import Any

__all__ = ["to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """Recursively convert ``obj`` to JSON-compatible Python data."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    # NumPy is not imported here (commands such as `sirtkit workup` never need it): a NumPy object can
    # only exist once NumPy has been imported by whoever made it.
    np = sys.modules.get("numpy")
    if isinstance(obj, int) or (np is not None and isinstance(obj, np.integer)):
        return int(obj)
    if isinstance(obj, float) or (np is not None and isinstance(obj, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if np is not None and isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, PurePath):
        return str(obj)
    if np is not None and isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if hasattr(obj, "model_dump") and callable(obj.model_dump):
        return to_jsonable(obj.model_dump(mode="python"))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
