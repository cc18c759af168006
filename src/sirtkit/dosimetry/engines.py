"""Absorbed-dose engines: local deposition (LDM) and voxel S-value convolution (VSV).

Input is an activity-concentration :class:`~sirtkit.imaging.Volume` in Bq/mL *at administration*
(permanent implant, physical decay only; decay-correct images taken later with
``a₀ = a_t · 2^(t/T½)`` before calling). Output is a ``"dose"`` Volume in Gy on the same grid.

* LDM: ``D = K · a₀ / ρ`` with K the dose constant (49.67 Gy·kg/GBq for Y-90) — all beta energy
  absorbed in the voxel of emission (CLINICAL.md §11.1).
* VSV: ``D = Ã ⊛ S`` with ``Ã = a₀ · V_voxel · T½/ln 2`` (MBq·s) and S in mGy/(MBq·s) (MIRD
  Pamphlet 17), computed as a *linear* (zero-padded, never circular) FFT convolution.
* Density: LDM divides by the voxel density. VSV kernels are for a medium of density ρ_k (1.04 g/mL
  soft tissue); with a density map the dose at each target voxel is scaled by ``ρ_k / ρ_voxel``
  (``S_ρ ≈ S_water · ρ_water/ρ``). This first-order correction ignores the longer electron range in
  low-density tissue: for lungs use LDM with lung density (Taranis; CLINICAL.md §11.2).

Examples
--------
>>> import numpy as np
>>> from sirtkit.imaging import Volume
>>> act = Volume.from_spacing(np.full((2, 2, 2), 1.0e6), (4.0, 4.0, 4.0),
...                           quantity="activity_concentration", unit="Bq/mL")
>>> round(float(dose_ldm(act).array[0, 0, 0]), 3)
48.223
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
from scipy import fft as sp_fft

from sirtkit.dosimetry.kernels import KERNEL_NUCLIDES, TABLE_MATCH_TOLERANCE_FRACTION, Kernel, get_kernel
from sirtkit.errors import GeometryError, InputError, UnitsError
from sirtkit.imaging.volume import Volume, require_same_grid
from sirtkit.physics.nuclides import Y90, Nuclide
from sirtkit.physics.tissue import LIVER_DENSITY_G_PER_ML, hu_to_density
from sirtkit.progress import ProgressCallback, report
from sirtkit.units import BQ_PER_GBQ, BQ_PER_MBQ, S_PER_H

__all__ = [
    "AIR_DENSITY_G_PER_ML",
    "FFT_NEGATIVE_TOLERANCE_FRACTION",
    "LIVER_DENSITY_G_PER_ML",
    "density_from_ct",
    "dose_ldm",
    "dose_vsv",
    "fft_convolve_linear",
]

logger = logging.getLogger(__name__)

# Floor of the calibration: dry air at 20 °C, 1.205e-3 g/cm³ (NIST PML X-ray attenuation tables,
# "Air, Dry (near sea level)"); avoids a division by zero in LDM.
AIR_DENSITY_G_PER_ML = 1.205e-3
# FFT round-off: negative values down to 1e-6 × max dose are clipped to 0 (a float32 result beyond it
# is recomputed in float64 first); larger ones mean a bug.
FFT_NEGATIVE_TOLERANCE_FRACTION = 1.0e-6
_MGY_PER_GY = 1000.0
_PARALLEL_MIN_ROWS = 8
# Direction cosines count as orthogonal within 1e-4 (as sirtkit.imaging.volume.DIRECTION_TOLERANCE).
_ORTHOGONALITY_TOLERANCE = 1e-4


def _chunked(func: Callable[[slice], object], n: int) -> list[object]:
    """Run ``func`` on slices of ``range(n)`` in threads (NumPy releases the GIL in these loops).

    Used for the large element-wise passes (spectrum product, crop copy, min/max) so that they use
    every core like the FFTs do; falls back to one call for small arrays or one CPU.
    """
    workers = min(os.cpu_count() or 1, n)
    if workers <= 1 or n < _PARALLEL_MIN_ROWS:
        return [func(slice(0, n))]
    bounds = np.linspace(0, n, workers + 1).astype(int)
    parts = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, parts))


def _min_max(arr: np.ndarray) -> tuple[float, float]:
    """(min, max) of a 3-D array, NaN-propagating, in threads."""
    if arr.size == 0:
        return 0.0, 0.0
    parts = _chunked(lambda sl: (float(arr[sl].min()), float(arr[sl].max())), arr.shape[0])
    values = np.asarray(parts, dtype=np.float64)  # (chunks, 2); NaN propagates below
    return float(np.min(values[:, 0])), float(np.max(values[:, 1]))


def _multiply_inplace(spec: np.ndarray, kspec: np.ndarray) -> None:
    """``spec *= kspec`` in threads (rows of axis 0)."""
    _chunked(lambda sl: np.multiply(spec[sl], kspec[sl], out=spec[sl]), spec.shape[0])


def _copy_parallel(source: np.ndarray, dtype: type) -> np.ndarray:
    """A C-contiguous copy of a (strided) 3-D view, in threads."""
    result: np.ndarray = np.empty(source.shape, dtype=dtype)
    _chunked(lambda sl: np.copyto(result[sl], source[sl]), source.shape[0])
    return result


def _check_activity(activity: Volume, *, clip_negative: bool) -> np.ndarray:
    if activity.quantity != "activity_concentration" or activity.unit != "Bq/mL":
        raise UnitsError(
            f"the activity image has quantity {activity.quantity!r} in {activity.unit!r}; dose engines need "
            "'activity_concentration' in 'Bq/mL' at administration: quantify it first with sirtkit.imaging "
            "(calibrate counts, decay-correct to the administration time)"
        )
    arr = np.asarray(activity.array)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise UnitsError(f"activity values must be real numbers, got dtype {arr.dtype}")
    lowest, highest = _min_max(arr) if arr.ndim == 3 else (float(np.min(arr)), float(np.max(arr)))
    if not (math.isfinite(lowest) and math.isfinite(highest)):  # NaN propagates through min/max
        raise UnitsError("the activity image contains NaN or infinite values: fix or mask them before dosimetry")
    if lowest < 0:
        if not clip_negative:
            raise UnitsError(
                f"the activity image has negative values (minimum {lowest:g} Bq/mL): pass "
                "clip_negative_activity=True to set them to 0 if that is intended (reconstruction noise)"
            )
        logger.warning("clipping negative activity (minimum %g Bq/mL) to 0", lowest)
        arr = np.maximum(arr, 0)
    return arr


def _density_array(density_g_per_ml: float | Volume, grid: Volume) -> float | np.ndarray:
    if isinstance(density_g_per_ml, Volume):
        require_same_grid(grid, density_g_per_ml, "density map")
        if density_g_per_ml.unit != "g/mL":
            raise UnitsError(
                f"the density map is in {density_g_per_ml.unit!r}; it must be in 'g/mL' "
                "(convert CT with sirtkit.dosimetry.density_from_ct)"
            )
        rho = np.asarray(density_g_per_ml.array, dtype=np.float64)
        if not np.all(np.isfinite(rho)) or np.any(rho <= 0):
            raise UnitsError("the density map must be finite and > 0 g/mL everywhere (clip air to 0.0012 g/mL)")
        return rho
    rho_scalar = float(density_g_per_ml)
    if not math.isfinite(rho_scalar) or not 0.0 < rho_scalar < 25.0:
        raise UnitsError(f"density_g_per_ml = {density_g_per_ml!r} must be a density in g/mL (liver 1.03)")
    return rho_scalar


def dose_ldm(
    activity: Volume,
    *,
    nuclide: Nuclide = Y90,
    density_g_per_ml: float | Volume = LIVER_DENSITY_G_PER_ML,
    clip_negative_activity: bool = False,
) -> Volume:
    """Absorbed dose by local deposition: ``D[Gy] = K · a₀[GBq/mL] / ρ[kg/mL]``.

    Parameters
    ----------
    activity
        Activity concentration at administration, quantity ``"activity_concentration"`` in Bq/mL.
    nuclide
        Nuclide (its ``dose_constant_gy_kg_per_gbq`` K is used; 49.67 for Y-90).
    density_g_per_ml
        Tissue density, a scalar (default 1.03 g/mL liver) or a density Volume on the same grid.
    clip_negative_activity
        Set negative activity (reconstruction noise) to 0 instead of refusing it.

    Returns
    -------
    Volume
        quantity ``"dose"``, unit ``"Gy"``, float32.

    Raises
    ------
    UnitsError
        Wrong quantity/unit, non-finite or negative activity, or an impossible density.
    GeometryError
        The density map is on another grid.

    References
    ----------
    CLINICAL.md §11.1 (W18: 1 MBq/mL, ρ 1.03 → 48.223 Gy); Weber et al. EJNMMI 2022;49:1682.
    """
    arr = _check_activity(activity, clip_negative=clip_negative_activity)
    rho = _density_array(density_g_per_ml, activity)
    if nuclide.dose_constant_gy_kg_per_gbq <= 0:
        raise InputError(f"{nuclide.name} has no therapeutic dose constant: LDM needs a beta emitter")
    # Gy = Gy·kg/GBq × (Bq/mL / Bq/GBq) / (g/mL / 1000 g/kg)
    factor = nuclide.dose_constant_gy_kg_per_gbq / BQ_PER_GBQ * 1000.0
    dose = (np.asarray(arr, dtype=np.float64) * factor / rho).astype(np.float32)
    return activity.with_array(
        dose,
        quantity="dose",
        unit="Gy",
        metadata={**activity.metadata, "dose_method": "LDM", "nuclide": nuclide.name},
    )


def _fft_shape(array_shape: tuple[int, ...], kernel_shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(
        sp_fft.next_fast_len(n + m - 1, real=True) for n, m in zip(array_shape, kernel_shape, strict=True)
    )


def _kernel_spectrum(kernel: np.ndarray, fshape: tuple[int, int, int], dtype: type) -> np.ndarray:
    """rfftn of the zero-padded kernel, pruned: each axis is transformed only where data is non-zero."""
    spec = sp_fft.rfft(kernel.astype(dtype, copy=False), n=fshape[2], axis=2, workers=-1)
    spec = sp_fft.fft(spec, n=fshape[1], axis=1, workers=-1, overwrite_x=True)
    return sp_fft.fft(spec, n=fshape[0], axis=0, workers=-1, overwrite_x=True)


def _is_centred_symmetric(kernel: np.ndarray) -> bool:
    """True for odd-shaped kernels equal to their mirror image along every axis (all S-value kernels)."""
    if any(n % 2 == 0 for n in kernel.shape):
        return False
    return all(np.array_equal(kernel, np.flip(kernel, axis=a)) for a in range(kernel.ndim))


def _symmetric_kernel_spectrum(kernel: np.ndarray, fshape: tuple[int, int, int], dtype: type) -> np.ndarray:
    """Real spectrum of a reflection-symmetric kernel wrapped about index 0 (a cosine transform).

    For ``k(−d) = k(d)`` along each axis, ``Σ_d k(d) e^{−2πi f·d/P}`` is real and equals
    ``Σ_{m ≥ 0} w_m k(m) Π cos(2π f_a m_a / P_a)`` with ``w = 1`` for ``m_a = 0`` and 2 otherwise.
    It is computed as three small matrix products on the kernel octant — no full-size complex FFT —
    and, because the kernel centre sits at index 0, the convolution needs no crop offset.
    """
    half = [n // 2 for n in kernel.shape]
    octant = np.asarray(kernel[half[0] :, half[1] :, half[2] :], dtype=np.float64)
    mats = []
    for axis, (length, reach) in enumerate(zip(fshape, half, strict=True)):
        n_freq = length // 2 + 1 if axis == 2 else length
        m = np.arange(reach + 1)
        weights = np.where(m == 0, 1.0, 2.0)
        mats.append(np.cos(2.0 * np.pi * np.outer(np.arange(n_freq), m) / length) * weights)
    t2 = octant @ mats[2].T  # (r0+1, r1+1, F2)
    t1 = np.einsum("fb,abk->afk", mats[1], t2)  # (r0+1, F1, F2)
    r0 = t1.shape[0]
    spec = mats[0].astype(dtype) @ t1.reshape(r0, -1).astype(dtype)  # (F0, F1·F2) in dtype
    return spec.reshape(fshape[0], t1.shape[1], t1.shape[2])


def fft_convolve_linear(
    array: npt.ArrayLike, kernel: npt.ArrayLike, *, dtype: type = np.float32
) -> np.ndarray:
    """Linear ('same'-centred) 3-D convolution by FFT with zero padding — never circular.

    Each axis is padded to ``next_fast_len(n + m − 1)``; the result is cropped to the input shape
    with the kernel centre (index ``(m − 1)//2``) on each voxel, as ``scipy.signal.fftconvolve(...,
    mode="same")``. Computed in ``dtype`` (float32 by default: complex64 spectra) with
    ``scipy.fft`` using all cores; the inverse runs axis by axis and transforms only the rows and
    planes of the kept output region. The kernel spectrum is computed once and multiplied in place:
    for reflection-symmetric odd kernels (every S-value kernel) it is a real cosine transform of the
    kernel octant (cheap, half the memory), otherwise a pruned complex transform.

    Parameters
    ----------
    array
        3-D input.
    kernel
        3-D kernel (odd sizes centre exactly).
    dtype
        ``numpy.float32`` (default) or ``numpy.float64``.

    Returns
    -------
    numpy.ndarray
        Array of ``array``'s shape in ``dtype``.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((5, 5, 5)); a[0, 0, 0] = 1.0
    >>> k = np.ones((3, 3, 3))
    >>> out = fft_convolve_linear(a, k)
    >>> float(out.sum()), round(float(out[4, 4, 4]), 6)
    (8.0, 0.0)
    """
    if dtype not in (np.float32, np.float64):
        raise InputError(f"dtype = {dtype!r}: use numpy.float32 or numpy.float64")
    arr = np.asarray(array)
    ker = np.asarray(kernel)
    if arr.ndim != 3 or ker.ndim != 3:
        raise InputError(f"fft_convolve_linear needs 3-D arrays, got {arr.shape} and {ker.shape}")
    ashape = (int(arr.shape[0]), int(arr.shape[1]), int(arr.shape[2]))
    kshape = (int(ker.shape[0]), int(ker.shape[1]), int(ker.shape[2]))
    fshape = _fft_shape(ashape, kshape)
    fshape3 = (fshape[0], fshape[1], fshape[2])
    if _is_centred_symmetric(ker):
        kspec = _symmetric_kernel_spectrum(ker, fshape3, dtype)
        start = [0, 0, 0]  # kernel centre wrapped to index 0
    else:
        kspec = _kernel_spectrum(ker, fshape3, dtype)
        start = [(m - 1) // 2 for m in kshape]
    # Forward: one multi-axis transform (one output allocation). Inverse: pruned, axis by axis, keeping
    # only the rows/planes of the output region before the next axis (less work, no full-size crop).
    spec = sp_fft.rfftn(arr.astype(dtype, copy=False), s=fshape, workers=-1)
    _multiply_inplace(spec, kspec)
    del kspec
    spec = sp_fft.ifft(spec, axis=0, workers=-1, overwrite_x=True)[start[0] : start[0] + ashape[0]]
    spec = sp_fft.ifft(spec, axis=1, workers=-1, overwrite_x=True)[:, start[1] : start[1] + ashape[1]]
    full = sp_fft.irfft(spec, n=fshape[2], axis=2, workers=-1, overwrite_x=True)
    del spec
    out = full[:, :, start[2] : start[2] + ashape[2]]
    return _copy_parallel(out, dtype)


def dose_vsv(
    activity: Volume,
    *,
    nuclide: Nuclide = Y90,
    kernel: Kernel | None = None,
    density_g_per_ml: float | Volume | None = None,
    dtype: type = np.float32,
    progress: ProgressCallback | None = None,
    clip_negative_activity: bool = False,
) -> Volume:
    """Absorbed dose by voxel S-value convolution: ``D = Ã ⊛ S`` (MIRD Pamphlet 17).

    Parameters
    ----------
    activity
        Activity concentration at administration, ``"activity_concentration"`` in Bq/mL.
    nuclide
        Nuclide: Y-90 (Lanconelli tables or generated) or Ho-166 (generated from its spectrum);
        another nuclide needs an explicit ``kernel``.
    kernel
        S-value kernel on the activity grid; default :func:`get_kernel` for the grid spacing
        (a Lanconelli table when the spacing matches one, else generated).
    density_g_per_ml
        ``None`` (default): tissue of the kernel's density (1.04 g/mL). A scalar or a density Volume
        scales the dose at each target voxel by ``ρ_kernel / ρ`` (first-order; see module notes).
    dtype
        Computation and output dtype, ``numpy.float32`` (default) or ``numpy.float64``.
    progress
        Optional progress callback.
    clip_negative_activity
        Set negative activity to 0 instead of refusing it.

    Returns
    -------
    Volume
        quantity ``"dose"``, unit ``"Gy"``, in ``dtype``.

    Raises
    ------
    UnitsError
        Wrong quantity/unit, invalid activity or density.
    GeometryError
        Kernel spacing differs from the grid by more than 0.5 %, the grid is sheared, or the density
        map is on another grid.
    InputError
        Kernel and nuclide disagree.

    References
    ----------
    Bolch WE et al., MIRD Pamphlet No. 17, J Nucl Med 1999;40:11S–36S; Lanconelli N et al.,
    Phys Med Biol 2012;57:517–533.
    """
    arr = _check_activity(activity, clip_negative=clip_negative_activity)
    if kernel is None:
        if nuclide.name not in KERNEL_NUCLIDES:
            raise InputError(
                f"no voxel S-value kernel for {nuclide.name}: sirtkit has kernels for {', '.join(KERNEL_NUCLIDES)}; "
                "pass a kernel for this nuclide or use dose_ldm"
            )
        kernel = get_kernel(activity.spacing_mm, nuclide=nuclide.name)
    if kernel.nuclide != nuclide.name:
        raise InputError(f"the kernel is for {kernel.nuclide}, the activity for {nuclide.name}: use a matching kernel")
    mismatch = np.abs(np.asarray(kernel.spacing_mm) / np.asarray(activity.spacing_mm) - 1.0)
    if np.any(mismatch > TABLE_MATCH_TOLERANCE_FRACTION):
        raise GeometryError(
            f"kernel spacing {kernel.spacing_mm} mm differs from the image spacing "
            f"{tuple(round(s, 4) for s in activity.spacing_mm)} mm: use get_kernel(image.spacing_mm)"
        )
    gram = activity.direction.T @ activity.direction
    if not np.allclose(gram, np.eye(3), atol=_ORTHOGONALITY_TOLERANCE):
        raise GeometryError(
            "the activity grid is sheared (index axes not orthogonal, e.g. a tilted-gantry CT grid): VSV "
            "kernels need an orthogonal grid; resample the activity to one first (or use dose_ldm)"
        )
    rho = None if density_g_per_ml is None else _density_array(density_g_per_ml, activity)
    report(progress, 0.0, "VSV: preparing kernel")
    # Ã[MBq·s] per voxel = a0[Bq/mL] / 1e6 × V[mL] × T½[s]/ln2; D[Gy] = Ã ⊛ S[mGy/(MBq·s)] / 1000.
    # The constant factor goes onto the small kernel, not the large image.
    scale = activity.voxel_volume_ml / BQ_PER_MBQ * nuclide.half_life_h * S_PER_H / math.log(2.0) / _MGY_PER_GY
    report(progress, 0.1, "VSV: FFT convolution")
    dose = fft_convolve_linear(arr, kernel.s_mgy_per_mbq_s * scale, dtype=dtype)
    report(progress, 0.9, "VSV: checking result")
    lowest, peak = _min_max(dose)
    if lowest < -FFT_NEGATIVE_TOLERANCE_FRACTION * max(peak, 0.0) and dtype is np.float32:
        # float32 round-off grows with the grid size; redo in float64 before calling it a bug.
        logger.warning("float32 VSV ringing %g Gy (max %g Gy): recomputing in float64", lowest, peak)
        dose64 = fft_convolve_linear(arr, kernel.s_mgy_per_mbq_s * scale, dtype=np.float64)
        lowest, peak = _min_max(dose64)
        dose = dose64.astype(np.float32) if lowest >= -FFT_NEGATIVE_TOLERANCE_FRACTION * peak else dose64
    if lowest < 0:
        if -lowest > FFT_NEGATIVE_TOLERANCE_FRACTION * max(peak, 0.0):
            raise ArithmeticError(
                f"VSV convolution produced {lowest:g} Gy (max {peak:g} Gy), beyond FFT round-off: this is a bug, "
                "please report it with the input"
            )
        np.maximum(dose, 0, out=dose)
    if rho is not None:
        dose *= np.asarray(kernel.density_g_per_ml / rho, dtype=dtype)
    report(progress, 1.0, "VSV: done")
    return activity.with_array(
        dose,
        quantity="dose",
        unit="Gy",
        metadata={**activity.metadata, "dose_method": "VSV", "kernel": kernel.source, "nuclide": nuclide.name},
    )


def density_from_ct(
    ct: Volume,
    *,
    contrast_enhanced: bool = False,
    min_density_g_per_ml: float = AIR_DENSITY_G_PER_ML,
) -> Volume:
    """Mass density from CT numbers by the Schneider et al. (2000) calibration.

    Piecewise linear (:func:`sirtkit.physics.tissue.hu_to_density`): air −1000 HU → 0.0012 g/mL, lung
    −750 HU → 0.259, water-like soft tissue 23 HU → 1.031, unenhanced liver 60 HU → 1.074, bone up to
    2.8 g/mL — no clip at 1.1 g/mL. On a contrast-enhanced CT (``contrast_enhanced=True``) CT numbers of
    23–300 HU are read as unenhanced soft tissue (1.031 g/mL): iodine raises attenuation, not mass density.

    Parameters
    ----------
    ct
        CT Volume, unit ``"HU"``.
    contrast_enhanced
        The CT was acquired with iodinated contrast (see above).
    min_density_g_per_ml
        Lower clip (default dry air, 0.0012 g/mL), so that divisions by density stay finite.

    Returns
    -------
    Volume
        quantity ``"density"``, unit ``"g/mL"``, float32, same grid; metadata ``density_calibration``.

    Raises
    ------
    UnitsError
        If the CT is not in HU, has non-finite values, or the floor is not positive.

    References
    ----------
    Schneider W et al., Phys Med Biol 2000;45:459–478 (GATE Schneider2000DensitiesTable).

    Examples
    --------
    >>> import numpy as np
    >>> from sirtkit.imaging import Volume
    >>> ct = Volume.from_spacing(np.array([[[-1000.0, -750.0, 0.0, 60.0, 115.0]]]), (1, 1, 1),
    ...                          quantity="ct", unit="HU")
    >>> [round(float(v), 4) for v in density_from_ct(ct).array.ravel()]
    [0.0012, 0.2586, 1.0174, 1.0737, 1.0845]
    >>> [round(float(v), 4) for v in density_from_ct(ct, contrast_enhanced=True).array.ravel()]
    [0.0012, 0.2586, 1.0174, 1.031, 1.031]
    """
    if ct.unit != "HU":
        raise UnitsError(f"the CT is in {ct.unit!r}: density_from_ct needs Hounsfield units ('HU')")
    if not min_density_g_per_ml > 0:
        raise UnitsError(f"min_density_g_per_ml = {min_density_g_per_ml} must be positive")
    hu = np.asarray(ct.array, dtype=np.float64)
    if not np.all(np.isfinite(hu)):
        raise UnitsError("the CT contains NaN or infinite values")
    rho = np.maximum(hu_to_density(hu, contrast_enhanced=contrast_enhanced), min_density_g_per_ml).astype(np.float32)
    calibration = "Schneider et al. 2000" + (" (contrast-enhanced: 23–300 HU read as 1.031 g/mL)"
                                             if contrast_enhanced else "")
    return ct.with_array(rho, quantity="density", unit="g/mL",
                         metadata={**ct.metadata, "density_calibration": calibration})
