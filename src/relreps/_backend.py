"""numpy <-> torch conversion at the public boundary.

Every public function converts its inputs with :func:`as_tensor`, computes in torch, and hands
the result back with :func:`restore`, so numpy callers get numpy and torch callers get torch
(same dtype, same device, autograd intact). Nothing here copies data it does not have to.
"""

from __future__ import annotations

import mmap
import warnings
from typing import Any, Literal

import numpy as np
import torch

Array = np.ndarray | torch.Tensor
Kind = Literal["numpy", "torch"]


def is_dask(value: Any) -> bool:
    """A Dask collection (checked without importing dask)."""
    return type(value).__module__.split(".")[0] == "dask" and hasattr(value, "compute")


def kind_of(value: Any) -> Kind:
    return "torch" if isinstance(value, torch.Tensor) else "numpy"


def as_tensor(value: Any, name: str) -> tuple[torch.Tensor, Kind]:
    """Return ``value`` as a floating tensor (sharing memory where possible) and its original kind.

    Integer and boolean inputs are promoted to the default float type of their kind (float64 for
    numpy, ``torch.get_default_dtype()`` for torch); complex or object inputs are rejected.
    """
    if isinstance(value, torch.Tensor):
        tensor = value
        if tensor.is_complex():
            raise TypeError(
                f"{name} must hold real numbers, got a complex tensor ({tensor.dtype})."
            )
        if not tensor.is_floating_point():
            tensor = tensor.to(torch.get_default_dtype())
        return tensor, "torch"
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and the like
        raise TypeError(
            f"{name} must be a numpy array or a torch.Tensor, got {type(value).__name__} "
            f"that numpy cannot turn into an array ({error})."
        ) from None
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    elif array.dtype.kind != "f":
        raise TypeError(
            f"{name} must hold real numbers, got an array of dtype {array.dtype}. "
            "Convert it with np.asarray(..., dtype=np.float32) first."
        )
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if any(stride < 0 for stride in array.strides):
        array = array.copy()
    with warnings.catch_warnings():
        # Read-only arrays (memmaps, broadcast views) are fine: we never write into inputs.
        warnings.filterwarnings("ignore", message=".*not writable.*")
        return torch.from_numpy(array), "numpy"


def restore(tensor: torch.Tensor, kind: Kind) -> Array:
    """Hand ``tensor`` back in the caller's kind."""
    if kind == "torch":
        return tensor
    return tensor.detach().cpu().numpy()


def row_norms(x: torch.Tensor) -> torch.Tensor:
    """Euclidean norms along the last axis, right over the whole finite range of the dtype.

    ``vector_norm`` squares the values, which overflows above about 1e19 in float32 (1e154 in
    float64) and underflows below about 1e-19 (1e-154). Rows whose norm comes out non-finite or
    below ``sqrt(tiny) / eps`` are computed again from the row divided by its largest magnitude,
    as robust norm routines do; ordinary rows cost one comparison each.
    """
    norms = torch.linalg.vector_norm(x, dim=-1)
    if x.shape[-1] == 0:
        return norms
    info = torch.finfo(x.dtype)
    suspect = ~torch.isfinite(norms) | (norms < info.tiny**0.5 / info.eps)
    if not bool(suspect.any()):
        return norms
    rows = x[suspect]
    scale = rows.abs().amax(dim=-1, keepdim=True)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    exact = scale.squeeze(-1) * torch.linalg.vector_norm(rows / scale, dim=-1)
    return norms.masked_scatter(suspect, exact)


def nonzero(norms: torch.Tensor) -> torch.Tensor:
    """``norms`` with zeros replaced by one, so that a zero row divides to zero, not NaN."""
    return torch.where(norms > 0, norms, torch.ones_like(norms))


def unit_rows(x: torch.Tensor, norms: torch.Tensor | None = None) -> torch.Tensor:
    """Each row divided by its Euclidean norm (:func:`row_norms`, or ``norms`` when given); a
    zero row stays zero. Rows whose norm exceeds the dtype's range (finite values near its
    maximum) are divided by their largest magnitude first."""
    norms = row_norms(x) if norms is None else norms
    out = x / nonzero(norms).unsqueeze(-1)
    huge = ~torch.isfinite(norms)
    if bool(huge.any()):
        rows = x[huge]
        rows = rows / rows.abs().amax(dim=-1, keepdim=True)
        out = out.masked_scatter(
            huge.unsqueeze(-1), rows / torch.linalg.vector_norm(rows, dim=-1, keepdim=True)
        )
    return out


def offset_in_mapping(view: np.ndarray) -> int | None:
    """Byte offset of ``view``'s first element in its numpy memmap's mapping (None if none)."""
    mapping = getattr(view, "_mmap", None)
    if not isinstance(mapping, mmap.mmap):
        return None
    return view.ctypes.data - np.frombuffer(mapping, dtype=np.uint8).ctypes.data


def release_pages(view: np.ndarray) -> None:
    """``madvise(DONTNEED)`` the whole pages under ``view`` if it lies in a numpy memmap."""
    start = offset_in_mapping(view)
    if start is None or not hasattr(mmap, "MADV_DONTNEED") or view.size == 0:
        return
    if any(stride < 0 for stride in view.strides):
        return
    mapping = view._mmap
    # The bytes the view spans (strided views, e.g. a column subset, span more than nbytes).
    stop = (
        start
        + sum((n - 1) * stride for n, stride in zip(view.shape, view.strides, strict=True))
        + view.itemsize
    )
    page = mmap.PAGESIZE
    first = -(-start // page) * page  # whole pages only: neighbours may still be in use
    last = stop // page * page
    if last > first:
        mapping.madvise(mmap.MADV_DONTNEED, first, last - first)


def safe_scale(*tensors: torch.Tensor) -> float | None:
    """A power of two to divide ``tensors`` by before squaring their values, or ``None`` when
    their row norms are well inside the dtype's range. Dividing by a power of two is exact, so a
    quantity invariant to isotropic scaling is computed on the scaled copies unchanged."""
    import math

    if any(t.numel() == 0 for t in tensors):
        return None
    info = torch.finfo(tensors[0].dtype)
    largest = max(float(row_norms(t.detach().reshape(-1, t.shape[-1])).max()) for t in tensors)
    if math.isfinite(largest) and info.tiny**0.5 / info.eps <= largest <= info.max**0.5 / 4:
        return None
    if largest == 0:
        return None
    if not math.isfinite(largest):
        largest = max(float(t.detach().abs().max()) for t in tensors) * tensors[0].shape[-1] ** 0.5
        largest = min(largest, info.max)
    return 2.0 ** math.floor(math.log2(largest))
