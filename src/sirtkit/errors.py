"""The sirtkit error hierarchy and clinical warnings.

Every error names what is wrong *and* what to do about it. Interfaces (CLI, web, batch) catch
:class:`InputError` and its children and report them as a user mistake (CLI exit status 2); any
other :class:`SirtError` is a refusal on clinical or physical grounds.

Examples
--------
>>> try:
...     raise UnitsError("lung_shunt_fraction = 12 is outside 0–1: give a fraction (0.12), not a percent")
... except InputError as err:
...     print(type(err).__name__)
UnitsError
"""

from __future__ import annotations

__all__ = [
    "ClinicalWarning",
    "ConstraintViolation",
    "DicomInputError",
    "GeometryError",
    "InputError",
    "MissingExtraError",
    "OutputWriteError",
    "SirtError",
    "UnitsError",
]


class SirtError(Exception):
    """Base class of every error raised on purpose by sirtkit."""


class InputError(SirtError, ValueError):
    """The input is wrong or incomplete; the message names the field and what is allowed."""


class UnitsError(InputError):
    """A value is in the wrong unit or outside the physically possible range for its unit."""


class GeometryError(InputError):
    """Images or masks do not share a grid or frame of reference, or a grid is malformed."""


class DicomInputError(InputError):
    """A DICOM file or series cannot be used; the message names the file and the tag."""


class OutputWriteError(InputError):
    """An output file could not be written (full disk, no permission): the message names the file.

    Reported like an input error (CLI exit 2): the disk or folder is the user's to fix; nothing was written.
    """


class ConstraintViolation(SirtError):
    """A plan breaks a hard safety limit and must not be delivered as it stands."""


class MissingExtraError(SirtError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class ClinicalWarning(UserWarning):
    """A clinical caveat that must be seen but does not stop the work."""
