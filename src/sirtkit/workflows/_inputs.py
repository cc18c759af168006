"""Reading case files: YAML → validated pydantic model, with messages that name the file, line and field.

Shared by every workflow that reads a case file (work-up, planning, ...) and by the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from sirtkit.errors import InputError

__all__ = ["format_validation_error", "load_model", "read_yaml_mapping"]

M = TypeVar("M", bound=pydantic.BaseModel)


def format_validation_error(err: pydantic.ValidationError, source: str = "input") -> str:
    """One line per problem: the field path, what is wrong and the value given."""
    lines = [f"{source}: {err.error_count()} problem(s):"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "required field is missing" if e["type"] == "missing" else e["msg"].removeprefix("Value error, ")
        given = e.get("input")
        shown = "" if e["type"] == "missing" or isinstance(given, dict) else f" (given: {given!r})"
        lines.append(f"  - {loc}: {msg}{shown}")
    return "\n".join(lines)


def read_yaml_mapping(path: str | Path, what: str = "case file") -> dict[str, Any]:
    """Read a YAML (or JSON) file holding a mapping; errors name the file (and line) and say what to give."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found; give the path of a YAML {what}")
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give the path of a YAML {what}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        raise InputError(f"{p}:{where} not valid YAML ({getattr(err, 'problem', err)})") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not a UTF-8 text file; give a YAML {what}") from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: the {what} must be a YAML mapping (field: value), got {type(data).__name__}")
    return data


def load_model(model: type[M], path: str | Path, what: str = "case file") -> M:
    """Read ``path`` and validate it as ``model``; every problem is listed with its field."""
    data = read_yaml_mapping(path, what)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        raise InputError(format_validation_error(err, f"{path} ({what})")) from None
