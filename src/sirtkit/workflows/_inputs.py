"""Reading case files: YAML → validated pydantic model, with messages that name the file, line and field.

Shared by every workflow that reads a case file (work-up, planning, ...) and by the CLI. A misspelt
field name is never ignored (the models forbid extra fields); the message suggests the closest allowed
name (``unknown field 'ecgo': did you mean 'ecog'?``) or lists the names allowed at that place.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import pydantic
import yaml

from sirtkit._yaml import YamlRefused, load_yaml_text
from sirtkit.errors import InputError

__all__ = ["allowed_fields", "format_validation_error", "load_model", "read_yaml_mapping"]

M = TypeVar("M", bound=pydantic.BaseModel)

# difflib.get_close_matches cut-off: 0.6 is difflib's default ratio, enough for one or two swapped,
# missing or extra letters in names of 4+ characters ("ecgo" → "ecog", "shunt_fracton" → "shunt_fraction").
_CLOSE_MATCH_CUTOFF = 0.6
# Other close names are suggested too when their similarity ratio is within this of the best one.
_TIE_MARGIN = 0.05
# Allowed names listed in full up to this many; longer lists are cut with "... (N in all)".
_MAX_LISTED = 24
# A given value is shown in a message up to this many characters (a pasted megabyte must not flood the
# terminal); longer ones are cut with "...".
_MAX_SHOWN = 200
# At most this many problems are listed (a file with 20 000 unknown keys must not print 20 000 lines).
_MAX_PROBLEMS = 25
# Case files are hand-written text of a few kB; anything above this is not a case file.
_MAX_CASE_FILE_BYTES = 10_000_000


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + f"... ({len(text)} characters)"


def _members(annotation: Any) -> list[Any]:
    """The alternatives of ``annotation``: Optional/Union members, Annotated unwrapped, None dropped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [] if annotation is type(None) else [annotation]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _field_names(model: type[pydantic.BaseModel]) -> list[str]:
    """The names a case file may use for ``model``'s fields (the alias where one is set)."""
    names = []
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        names.append(alias or name)
    return names


def _field_annotation(model: type[pydantic.BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        if key in (name, alias):
            return info.annotation
    return None


def _step(annotation: Any, part: int | str) -> Any:
    """The annotation found one ``loc`` step below ``annotation``, or None when it cannot be followed."""
    for tp in _members(annotation):
        origin, args = get_origin(tp), get_args(tp)
        if isinstance(part, int):
            if origin is tuple and args:
                if len(args) == 2 and args[1] is Ellipsis:
                    return args[0]
                if part < len(args):
                    return args[part]
            elif isinstance(origin, type) and issubclass(origin, Sequence | frozenset | set) and args:
                return args[0]
            continue
        if _is_model(tp):
            found = _field_annotation(tp, part)
            if found is not None:
                return found
            if part == tp.__name__:  # pydantic names the union member it tried: ("lung", "LungInput", ...)
                return tp
        elif isinstance(origin, type) and issubclass(origin, Mapping) and len(args) == 2:
            return args[1]
    return None


def _model_at(model: type[pydantic.BaseModel], loc: Sequence[int | str]) -> type[pydantic.BaseModel] | None:
    """The model class whose fields apply at ``loc`` (a pydantic error location without its last item)."""
    annotation: Any = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    candidates = [tp for tp in _members(annotation) if _is_model(tp)]
    return candidates[0] if len(candidates) == 1 else None


def allowed_fields(model: type[pydantic.BaseModel], loc: Sequence[int | str] = ()) -> list[str] | None:
    """Field names allowed at ``loc`` inside ``model`` (None when ``loc`` does not lead to one model).

    Follows nested models, ``Optional[...]``, and ``list``/``tuple`` items (integer steps).

    Examples
    --------
    >>> from sirtkit.clinical.patient import PatientWorkup
    >>> "ecog" in allowed_fields(PatientWorkup)
    True
    >>> allowed_fields(PatientWorkup, ("maa",))[:2]
    ['lung_shunt_fraction', 'planned_lung_dose_gy']
    """
    target = _model_at(model, loc)
    return None if target is None else _field_names(target)


def _nested_paths(model: type[pydantic.BaseModel], depth: int = 2) -> Iterable[tuple[str, str]]:
    """(field name, dotted path) for the fields of the models nested in ``model`` (``depth`` levels)."""
    if depth <= 0:
        return
    for name in _field_names(model):
        annotation = _field_annotation(model, name)
        for tp in _members(annotation):
            if _is_model(tp):
                for sub in _field_names(tp):
                    yield sub, f"{name}.{sub}"
                for sub, path in _nested_paths(tp, depth - 1):
                    yield sub, f"{name}.{path}"


def _closest(key: str, names: Sequence[str]) -> list[str]:
    """The allowed names closest to ``key``: the best match and any other as close (at most 3)."""
    close = difflib.get_close_matches(key, names, n=3, cutoff=_CLOSE_MATCH_CUTOFF)
    ratios = [difflib.SequenceMatcher(None, key, c).ratio() for c in close]
    return [c for c, r in zip(close, ratios, strict=True) if r >= ratios[0] - _TIE_MARGIN]


def _unknown_field_message(key: str, model: type[pydantic.BaseModel] | None, loc: Sequence[int | str]) -> str:
    """'unknown field ...' with a spelling suggestion, or the allowed names, when ``model`` is known."""
    base = f"unknown field {key!r}"
    if model is None:
        return f"{base} (not allowed here: check its spelling)"
    target = _model_at(model, loc)
    if target is None:
        return f"{base} (not allowed here: check its spelling)"
    names = _field_names(target)
    close = _closest(key, names)
    if close:
        alternatives = " or ".join(repr(c) for c in close)
        return f"{base}: did you mean {alternatives}?"
    # A field of a nested section written one level too high ("bilirubin_mg_dl" instead of under "labs").
    nested: dict[str, str] = {}
    for sub, path in _nested_paths(target):
        nested.setdefault(sub, path)  # the shallowest section holding the name
    where = ".".join(str(p) for p in loc)
    if key in nested:
        path = nested[key]
        section = path.rsplit(".", 1)[0]
        full = f"{where}.{section}" if where else section
        return f"{base}: it belongs under {full!r} ({full}.{key})"
    listed = ", ".join(names[:_MAX_LISTED]) + (f", ... ({len(names)} in all)" if len(names) > _MAX_LISTED else "")
    return f"{base}; allowed here: {listed}"


def format_validation_error(
    err: pydantic.ValidationError, source: str = "input", model: type[pydantic.BaseModel] | None = None
) -> str:
    """One line per problem: the field path, what is wrong and the value given.

    Parameters
    ----------
    err : pydantic.ValidationError
        The error raised by ``model.model_validate``.
    source : str
        What was read (file name and kind), the first word of the message.
    model : type of pydantic.BaseModel, optional
        The model that was validated. With it, an unknown (misspelt) field gets a suggestion: the
        closest allowed name at that place (``did you mean 'ecog'?``), or the list of allowed names.

    Returns
    -------
    str
        ``"{source}: N problem(s):"`` then one ``"  - field.path: message (given: value)"`` line each.

    Examples
    --------
    >>> from sirtkit.clinical.patient import PatientWorkup
    >>> try:
    ...     PatientWorkup.model_validate({"patient_id": "P1", "ecgo": 1})
    ... except pydantic.ValidationError as err:
    ...     print(format_validation_error(err, "p.yaml", PatientWorkup))
    p.yaml: 1 problem(s):
      - ecgo: unknown field 'ecgo': did you mean 'ecog'?
    """
    lines = [f"{source}: {err.error_count()} problem(s):"]
    errors = err.errors()
    for e in errors[:_MAX_PROBLEMS]:
        loc = tuple(e["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        given = e.get("input")
        if e["type"] == "missing":
            msg, shown = "required field is missing", ""
        elif e["type"] == "extra_forbidden" and loc:
            # The name is what is wrong, not the value: the value is not repeated.
            msg, shown = _unknown_field_message(str(loc[-1]), model, loc[:-1]), ""
        else:
            msg = e["msg"].removeprefix("Value error, ")
            shown = "" if isinstance(given, dict) else f" (given: {_shown(given)})"
        lines.append(f"  - {where}: {msg}{shown}")
    if len(errors) > _MAX_PROBLEMS:
        lines.append(f"  ... and {len(errors) - _MAX_PROBLEMS} more problem(s) not listed")
    return "\n".join(lines)


def read_yaml_mapping(path: str | Path, what: str = "case file") -> dict[str, Any]:
    """Read a YAML (or JSON) file holding a mapping; errors name the file (and line) and say what to give."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found; give the path of a YAML {what}")
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give the path of a YAML {what}")
    try:
        if p.stat().st_size > _MAX_CASE_FILE_BYTES:
            raise InputError(f"{p}: {p.stat().st_size} bytes is far too large for a YAML {what}; "
                             "check that this is the right file")
        data = load_yaml_text(p.read_text(encoding="utf-8"))
    except YamlRefused as err:
        mark = err.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        raise InputError(f"{p}:{where} {err.problem}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        raise InputError(f"{p}:{where} not valid YAML ({getattr(err, 'problem', err)})") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not a UTF-8 text file; give a YAML {what}") from None
    except OSError as err:
        raise InputError(f"{p}: cannot be read ({err.strerror or err}); check the path and its permissions") from None
    if data is None:
        raise InputError(f"{p}: the file is empty (or holds only comments); give a YAML {what} "
                         "with one 'field: value' per line")
    if not isinstance(data, dict):
        raise InputError(f"{p}: the {what} must be a YAML mapping (field: value), got {type(data).__name__}")
    return data


def load_model(model: type[M], path: str | Path, what: str = "case file") -> M:
    """Read ``path`` and validate it as ``model``; every problem is listed with its field.

    Raises
    ------
    InputError
        The file is missing, empty or not YAML, or a field is missing, unknown (with the closest
        allowed name as a suggestion) or has a wrong value.
    """
    data = read_yaml_mapping(path, what)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        raise InputError(format_validation_error(err, f"{path} ({what})", model)) from None
