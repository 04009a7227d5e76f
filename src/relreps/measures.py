"""Measures of similarity between two row-aligned latent spaces (the same samples in both)."""

from __future__ import annotations

import torch

from relreps._backend import Array, as_tensor, check_finite, kind_of


def mean_cosine(x: Array, y: Array) -> float:
    """Mean over rows of ``cos(x[i], y[i])``; zero rows count as cosine 0.

    Parameters
    ----------
    x, y
        Two spaces over the same samples, shape ``(n, d)`` each (numpy or torch, same kind).

    Returns
    -------
    float
        In ``[-1, 1]``; 1 when every row points the same way in both spaces.

    Invariances: a common orthogonal map or positive rescaling of both spaces. It compares
    coordinates directly, so two absolute spaces that differ by a rotation score near 0: that is
    what it shows.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> mean_cosine(x, 3 * x), mean_cosine(x, -x)
    (1.0, -1.0)
    """
    xt, yt = _paired(x, y, "mean_cosine")
    with torch.no_grad():
        dot = (xt * yt).sum(-1)
        norms = torch.linalg.vector_norm(xt, dim=-1) * torch.linalg.vector_norm(yt, dim=-1)
        cosines = torch.where(norms > 0, dot / torch.where(norms > 0, norms, 1), 0)
    return float(cosines.double().mean())


def _paired(x: Array, y: Array, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if kind_of(x) != kind_of(y):
        raise TypeError(f"{name}: pass x and y both as numpy arrays or both as torch tensors.")
    xt, _ = as_tensor(x, "x")
    yt, _ = as_tensor(y, "y")
    if xt.ndim != 2 or yt.ndim != 2:
        raise ValueError(
            f"{name}: x and y must be 2-D (n, d); got {tuple(xt.shape)} and {tuple(yt.shape)}."
        )
    if xt.shape != yt.shape:
        raise ValueError(
            f"{name}: x has shape {tuple(xt.shape)} but y has {tuple(yt.shape)}; it compares the "
            "same samples in two spaces of equal dimension (project both onto parallel anchors "
            "first)."
        )
    if xt.shape[0] == 0:
        raise ValueError(f"{name}: x and y are empty.")
    check_finite(xt, "x")
    check_finite(yt, "y")
    dtype = torch.promote_types(xt.dtype, yt.dtype)
    return xt.to(dtype), yt.to(device=xt.device, dtype=dtype)
