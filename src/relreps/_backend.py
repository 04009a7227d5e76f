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


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Each row divided by its Euclidean norm; a zero row stays zero (never NaN)."""
    norms = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    return x / torch.where(norms > 0, norms, torch.ones_like(norms))


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
