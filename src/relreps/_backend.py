"""numpy <-> torch conversion at the public boundary.

Every public function converts its inputs with :func:`as_tensor`, computes in torch, and hands
the result back with :func:`restore`, so numpy callers get numpy and torch callers get torch
(same dtype, same device, autograd intact). Nothing here copies data it does not have to.
"""

from __future__ import annotations

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


def check_finite(tensor: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``tensor`` holds NaN or infinity.

    One reduction over the data (no boolean copy of it); the element-wise scan runs only to write
    the message, or when the sum itself overflowed.
    """
    with torch.no_grad():
        if torch.isfinite(tensor.sum()):
            return
        bad = ~torch.isfinite(tensor)
        n_bad = int(bad.sum())
        if n_bad == 0:
            return  # the sum overflowed, the values are fine
        first = np.unravel_index(int(bad.flatten().nonzero()[0, 0]), tuple(tensor.shape))
    raise ValueError(
        f"{name} contains {n_bad} NaN or infinite value(s) (first at index "
        f"{tuple(int(i) for i in first)}). Remove or impute them before projecting."
    )
