"""Volumes of interest for dosimetry: map free-text segment names to roles and derive the usual VOIs.

Roles (those of :func:`sirtkit.imaging.standard_voi_name`): ``liver`` (whole liver incl. tumours),
``tumor`` (each lesion), ``normal_liver``, ``lung``, ``perfused`` (a perfused territory),
``perfused_normal_liver``, ``body``, ``gallbladder``, ``stomach``, ``other``. Derived VOIs:

- ``All tumours``: union of the tumour segments;
- ``Whole liver (incl. tumours)``: liver ∪ tumours, added when the liver segment leaves out the tumours
  (a label map cannot hold overlapping labels, so its "liver" label is the parenchyma around the tumours).
  The derived VOI then takes the role ``liver`` — it is the whole liver that quantification uses — and the
  segment itself becomes ``normal_liver`` (it does not overlap the tumours) or ``liver_segment`` (it
  overlaps them in part). Slicer ``.seg.nrrd`` layers overlap, so there the "Liver" segment already holds
  the tumours and nothing is added;
- ``Normal liver``: the segment with role ``normal_liver`` if given, else liver minus all tumours;
- ``Lungs``: union of lung segments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from sirtkit.errors import InputError
from sirtkit.imaging import standard_voi_name
from sirtkit.imaging.segmentation import STANDARD_VOI_NAMES
from sirtkit.imaging.volume import Volume

__all__ = ["VoiSet", "build_voi_set"]

ALL_TUMOURS = "All tumours"
WHOLE_LIVER = "Whole liver (incl. tumours)"
# A liver segment "leaves out the tumours" when more than 1 % of the tumour voxels lie outside it: a few
# boundary voxels of a lesion at the liver capsule (resampling, drawing) are not a label map's exclusion.
# The same threshold decides "does not overlap them" (≤ 1 % of the tumour voxels inside the segment) [K].
TUMOURS_OUTSIDE_LIVER_FRACTION = 0.01
NORMAL_LIVER = "Normal liver"
LUNGS = "Lungs"


@dataclass(frozen=True)
class VoiSet:
    """Named boolean masks on one grid, with the role of each."""

    masks: dict[str, Volume]
    roles: dict[str, str]
    derived: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def names_with_role(self, role: str) -> list[str]:
        """Names of the VOIs that have ``role``."""
        return [n for n, r in self.roles.items() if r == role]

    def union(self, role: str) -> np.ndarray | None:
        """Boolean union of every VOI with ``role`` (``None`` if there is none)."""
        names = self.names_with_role(role)
        return _union([self.masks[n] for n in names]) if names else None

    def first(self, role: str) -> Volume | None:
        """The first VOI with ``role`` (``None`` if there is none)."""
        names = self.names_with_role(role)
        return self.masks[names[0]] if names else None


def _union(masks: list[Volume]) -> np.ndarray:
    """A new boolean array: the union of ``masks`` (the first copied, the others or-ed in place, no copies)."""
    out = np.array(masks[0].array, dtype=bool)
    for m in masks[1:]:
        np.logical_or(out, m.array, out=out)
    return out


def build_voi_set(masks: Mapping[str, Volume], role_overrides: Mapping[str, str] | None = None) -> VoiSet:
    """Assign roles to segments and add the derived VOIs (all tumours, normal liver, lungs).

    Parameters
    ----------
    masks
        Segment name → boolean mask, all on one grid.
    role_overrides
        Segment name → role, for names :func:`sirtkit.imaging.standard_voi_name` does not recognise
        (for example ``{"Normal Tissue": "normal_liver"}``).

    Raises
    ------
    InputError
        An override names a segment that does not exist, or an unknown role.
    """
    allowed = set(STANDARD_VOI_NAMES) | {"other"}
    overrides = dict(role_overrides or {})
    for name, role in overrides.items():
        if name not in masks:
            raise InputError(f"VOI role given for {name!r}, but the segmentation has only: {', '.join(masks)}")
        if role not in allowed:
            raise InputError(f"role {role!r} for {name!r} is unknown: use one of {', '.join(sorted(allowed))}")
    out: dict[str, Volume] = {}
    roles: dict[str, str] = {}
    for name, mask in masks.items():
        role = overrides.get(name) or standard_voi_name(name) or "other"
        role = role if role in allowed else "other"
        out[name] = mask
        roles[name] = role
    derived: list[str] = []
    tumours = [out[n] for n, r in roles.items() if r == "tumor"]
    reference = next(iter(out.values()), None)
    if reference is None:
        return VoiSet(out, roles)
    if len(tumours) > 1:
        out[ALL_TUMOURS] = reference.with_array(_union(tumours))
        roles[ALL_TUMOURS] = "tumor_union"
        derived.append(ALL_TUMOURS)
    notes: list[str] = []
    if tumours:
        _whole_liver(out, roles, derived, notes, _union(tumours), reference)
    livers = [out[n] for n, r in roles.items() if r == "liver"]
    if not any(r == "normal_liver" for r in roles.values()) and livers and tumours:
        normal = _union(livers) & ~_union(tumours)
        out[NORMAL_LIVER] = reference.with_array(normal)
        roles[NORMAL_LIVER] = "normal_liver"
        derived.append(NORMAL_LIVER)
    lungs = [out[n] for n, r in roles.items() if r == "lung"]
    if len(lungs) > 1:
        out[LUNGS] = reference.with_array(_union(lungs))
        roles[LUNGS] = "lung_union"
        derived.append(LUNGS)
    return VoiSet(out, roles, tuple(derived), tuple(notes))


def _whole_liver(out: dict[str, Volume], roles: dict[str, str], derived: list[str], notes: list[str],
                 tumours: np.ndarray, reference: Volume) -> None:
    """Add ``Whole liver (incl. tumours)`` when the liver segment(s) leave the tumours out (label maps)."""
    liver_names = [n for n, r in roles.items() if r == "liver"]
    name = WHOLE_LIVER if WHOLE_LIVER not in out else f"{WHOLE_LIVER} [derived]"
    if not liver_names:
        normal_names = [n for n, r in roles.items() if r == "normal_liver"]
        normal = _union([out[n] for n in normal_names]) if normal_names else None
        if normal is not None and normal.any():  # only the normal liver drawn: the whole liver is derived
            out[name] = reference.with_array(normal | tumours)
            roles[name] = "liver"
            derived.append(name)
            notes.append(f"No whole-liver segment given: {name!r} = normal liver ({', '.join(normal_names)}) ∪ "
                         "tumours, used for quantification.")
        return
    liver = _union([out[n] for n in liver_names])
    if not liver.any():
        return  # an empty liver on this grid is refused by the caller, never replaced by the tumours
    n_tumour = int(np.count_nonzero(tumours))
    outside = int(np.count_nonzero(tumours & ~liver))
    if n_tumour == 0 or outside <= TUMOURS_OUTSIDE_LIVER_FRACTION * n_tumour:
        return
    inside = n_tumour - outside
    disjoint = inside <= TUMOURS_OUTSIDE_LIVER_FRACTION * n_tumour
    new_role = "normal_liver" if disjoint and "normal_liver" not in roles.values() else "liver_segment"
    for segment in liver_names:
        roles[segment] = new_role
    out[name] = reference.with_array(liver | tumours)
    roles[name] = "liver"
    derived.append(name)
    segs = ", ".join(liver_names)
    why = ("label maps exclude them" if disjoint else "lesions at the liver's edge drawn beyond its contour")
    notes.append(
        f"{100 * outside / n_tumour:.0f} % of the tumour voxels lie outside the liver segment ({segs}; {why}): the "
        f"whole liver is liver ∪ tumours, reported as {name!r} and used for quantification; "
        + (f"{segs} is the normal liver (role normal_liver)." if new_role == "normal_liver" else
           f"{segs} is reported as the drawn liver segment (role liver_segment), not as the whole liver."))
