"""The relative projection: represent each sample by its similarities to a set of anchors."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Literal

import numpy as np
import torch

from relreps._backend import Array, as_tensor, is_dask, restore
from relreps._checks import check_choice, check_finite, check_same_kind
from relreps.similarities import Similarity, get_similarity

__all__ = ["CENTER_OPTIONS", "Center", "relative_projection"]

Center = Literal["anchors"] | None
CENTER_OPTIONS = (None, "anchors")


def relative_projection(
    x: Array,
    anchors: Array,
    similarity: str | Similarity = "cosine",
    *,
    center: Center = None,
) -> Array:
    """Project ``x`` onto ``anchors``: ``r[i, j] = similarity(x[i], anchors[j])``.

    Parameters
    ----------
    x
        Samples, shape ``(n, d)`` or ``(..., d)``; numpy array (a memmap is read in place, never
        copied whole) or torch tensor. A 2-D Dask array gives a lazy Dask array, chunked by rows
        like ``x`` and equal to the in-memory result (anchors: numpy or Dask). For files larger
        than memory, :func:`relreps.blockwise.project_to_file` writes the result block by block.
    anchors
        Anchor embeddings, shape ``(k, d)``, produced by the same encoder as ``x``; same kind as
        ``x`` (numpy or torch) and, for torch, the same device.
    similarity
        A registered similarity name (see :func:`relreps.similarity_names`) or a
        :class:`~relreps.similarities.Similarity`. ``"cosine"``, the paper's choice, is invariant
        to orthogonal maps and isotropic rescaling of the latent space.
    center
        ``"anchors"`` subtracts the anchors' mean from both ``x`` and ``anchors`` first, which adds
        translation to the invariances of any similarity (and rescues anisotropic encoders whose
        embeddings all lie in a narrow cone). ``None`` (default) leaves them as they are.

    Returns
    -------
    numpy array or torch tensor
        Shape ``(..., k)``, the same kind as ``x``; for torch, the same device and dtype
        (differentiable with respect to both inputs). Mixed float dtypes are promoted.

    Raises
    ------
    ValueError
        Mismatched dimensions, empty inputs, NaN or infinite values, unknown similarity or centre.
    TypeError
        Non-numeric inputs, or a numpy array mixed with a torch tensor.

    Examples
    --------
    >>> import numpy as np, relreps
    >>> rng = np.random.default_rng(0)
    >>> x, anchors = rng.normal(size=(5, 16)), rng.normal(size=(3, 16))
    >>> q, _ = np.linalg.qr(rng.normal(size=(16, 16)))       # a random rotation
    >>> r = relreps.relative_projection(x, anchors)
    >>> r_rotated = relreps.relative_projection(2.5 * x @ q, 2.5 * anchors @ q)
    >>> r.shape, bool(np.allclose(r, r_rotated))
    ((5, 3), True)
    """
    sim = get_similarity(similarity)
    check_choice(center, "center", CENTER_OPTIONS)
    if is_dask(x):
        return _lazy_projection(x, anchors, sim, center)
    check_same_kind(x, anchors, ("x", "anchors"))
    xt, kind = as_tensor(x, "x")
    at, _ = as_tensor(anchors, "anchors")
    _check_shapes(xt, at)
    if xt.device != at.device:
        raise ValueError(
            f"x is on {xt.device} but anchors are on {at.device}: move them to the same device."
        )
    check_finite(at, "anchors")
    check_finite(xt, "x")
    dtype = torch.promote_types(xt.dtype, at.dtype)
    xt, at = xt.to(dtype), at.to(dtype)

    # numpy callers never need a graph; torch callers keep theirs.
    with torch.no_grad() if kind == "numpy" else nullcontext():
        flat = xt.reshape(-1, xt.shape[-1])
        if center == "anchors":
            mean = at.mean(dim=0)
            flat, at = flat - mean, at - mean
        out = sim(flat, at)
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"The similarity {sim.name!r} returned a {type(out).__name__}; a similarity "
                "takes and returns torch tensors (see relreps.register_similarity)."
            )
        if not bool(torch.isfinite(out.sum())) and not bool(torch.isfinite(out).all()):
            raise ValueError(
                f"The {sim.name!r} similarity of these x and anchors leaves the range of "
                f"{out.dtype} (finite inputs, non-finite output): pass float64 inputs, or rescale "
                "them (a scale-invariant similarity such as 'cosine' is not affected)."
            )
        expected = (flat.shape[0], at.shape[0])
        if tuple(out.shape) != expected:
            raise ValueError(
                f"The similarity {sim.name!r} returned shape {tuple(out.shape)}, expected "
                f"{expected} (n samples x k anchors). Check the function you registered."
            )
        out = out.reshape(*xt.shape[:-1], at.shape[0])
    return restore(out, kind)


def _lazy_projection(x: Any, anchors: Any, similarity: Similarity, center: Center) -> Any:
    """A lazy projection of a Dask array ``(n, d)``: each row chunk projected on its own (columns
    merged into one chunk first), so the result keeps ``x``'s row chunks. Uses only the array's
    own methods: nothing here imports dask."""
    if isinstance(anchors, torch.Tensor):
        raise TypeError(
            "x is a Dask array but anchors is a torch.Tensor: pass the anchors as a numpy array."
        )
    anchors = np.asarray(anchors)  # computes Dask anchors
    if len(x.shape) != 2:
        raise ValueError(f"A Dask x must be 2-D (n_samples, dim), got shape {x.shape}.")
    at, _ = as_tensor(anchors, "anchors")
    _check_shapes(torch.empty((0, x.shape[1])), at, check_empty=False)
    check_finite(at, "anchors")
    dtype = np.result_type(x.dtype, anchors.dtype)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    x = x.rechunk({1: -1})
    return x.map_blocks(
        lambda block: relative_projection(block, anchors, similarity, center=center),
        chunks=(x.chunks[0], (anchors.shape[0],)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )


def _check_shapes(x: torch.Tensor, anchors: torch.Tensor, *, check_empty: bool = True) -> None:
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
