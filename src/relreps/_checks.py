"""Validation at the public boundary, one wording per mistake.

Every public function checks its arguments with these helpers, so the same mistake gets the same
message everywhere: what was expected, what arrived, and (where there is one) the fix.

Examples
--------
>>> check_int(3, "k", minimum=1)
3
>>> check_int(0, "--seeds", minimum=1)
Traceback (most recent call last):
...
ValueError: --seeds must be an integer of at least 1, got 0.
>>> parse_memory("2GB"), parse_memory("1.5g"), parse_memory(1024)
(2147483648, 1610612736, 1024)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

__all__ = [
    "check_choice",
    "check_finite",
    "check_int",
    "check_same_kind",
    "check_shapes",
    "parse_memory",
]


def check_int(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    why: str = "",
) -> int:
    """``value`` as an int if it is an integer within ``[minimum, maximum]``, else an error.

    ``why`` explains the bound (e.g. ``" (the number of samples)"``) after the range.
    Booleans are not integers here.
    """
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    within = (
        is_int and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    )
    if within:
        return int(value)
    if minimum is not None and maximum is not None:
        expected = f"an integer between {minimum} and {maximum}{why}"
    elif minimum is not None:
        expected = f"an integer of at least {minimum}{why}"
    elif maximum is not None:
        expected = f"an integer of at most {maximum}{why}"
    else:
        expected = "an integer"
    error = ValueError if is_int else TypeError
    raise error(f"{name} must be {expected}, got {value!r}.")


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``, else ``ValueError`` listing them."""
    choices = tuple(choices)
    if value in choices:
        return value
    listed = ", ".join(repr(c) for c in choices)
    raise ValueError(f"{name} must be one of {listed}; got {value!r}.")


def check_same_kind(x: Any, y: Any, names: tuple[str, str] = ("x", "y")) -> None:
    """Both numpy or both torch: mixing them is a ``TypeError`` that says how to convert."""
    if isinstance(x, torch.Tensor) != isinstance(y, torch.Tensor):
        kinds = tuple("torch.Tensor" if isinstance(v, torch.Tensor) else "numpy array"
                      for v in (x, y))  # fmt: skip
        raise TypeError(
            f"{names[0]} is a {kinds[0]} but {names[1]} is a {kinds[1]}: pass both as numpy "
            "arrays or both as torch tensors (e.g. torch.from_numpy(...))."
        )


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
        f"{tuple(int(i) for i in first)}). Remove or impute them first."
    )


_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def check_shapes(x: torch.Tensor, anchors: torch.Tensor, *, check_empty: bool = True) -> None:
    """``x`` ``(..., dim)`` against 2-D, non-empty ``anchors`` ``(n_anchors, dim)``."""
    if anchors.ndim != 2:
        raise ValueError(
            f"anchors must be 2-D (n_anchors, dim), got shape {tuple(anchors.shape)}. "
            "Use anchors.reshape(-1, dim) for a single anchor."
        )
    if anchors.shape[0] == 0:
        raise ValueError("anchors is empty (0 anchors): select at least one anchor.")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension (..., dim), got a scalar.")
    if check_empty and x.numel() == 0:
        raise ValueError(f"x is empty (shape {tuple(x.shape)}): nothing to project.")
    if x.shape[-1] != anchors.shape[-1]:
        raise ValueError(
            f"anchors has {anchors.shape[-1]} columns but x has {x.shape[-1]}: anchors must be "
            "embedded by the same encoder as x, and the last axis of x must be the feature axis."
        )


def parse_memory(value: str | int | float) -> int:
    """Bytes from a size such as ``"2GB"``, ``"1.5 GiB"``, ``"512M"`` or a plain number.

    K, M, G and T are powers of 1024 with or without ``B``/``iB``. This is the one ``memory=``
    knob of the library: every function that takes a memory budget reads it with this.
    """
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        size = float(value)
    else:
        match = re.fullmatch(
            r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]?)(i?b)?\s*", str(value).lower()
        )
        if match is None:
            raise ValueError(
                f"Cannot read the memory size {value!r}: write a number of bytes or a number "
                "with a unit, e.g. 2GB, 1.5GiB, 512MB."
            )
        size = float(match.group(1)) * _UNITS[match.group(2)]
    if not size >= 1:
        raise ValueError(f"A memory size must be at least one byte, got {value!r}.")
    return int(size)
