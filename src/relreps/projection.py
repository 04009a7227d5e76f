"""The relative projection: represent each sample by its similarities to a set of anchors, and
its inverse (back from cosine relative coordinates to absolute ones)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any, Literal

import numpy as np
import torch

from relreps._backend import Array, as_tensor, is_dask, restore
from relreps._checks import check_choice, check_finite, check_same_kind, check_shapes
from relreps.similarities import Similarity, get_similarity, product_similarity

__all__ = [
    "CENTER_OPTIONS",
    "NORM_RULES",
    "Center",
    "inverse_relative_projection",
    "relative_projection",
]

Center = Literal["anchors"] | None
CENTER_OPTIONS = (None, "anchors")


def relative_projection(
    x: Array,
    anchors: Array,
    similarity: str | Similarity | Sequence[str | Similarity] = "cosine",
    *,
    center: Center = None,
    aggregate: str | None = None,
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
        to orthogonal maps and isotropic rescaling of the latent space. A list or tuple of them
        (``("cosine", "euclidean", "l1", "linf")``) is their product of invariances
        (:func:`relreps.similarities.product_similarity`): each part normalised over the
        anchors, then aggregated; invariant to what every part is invariant to.
    center
        ``"anchors"`` subtracts the anchors' mean from both ``x`` and ``anchors`` first, which adds
        translation to the invariances of any similarity (and rescues anisotropic encoders whose
        embeddings all lie in a narrow cone). ``None`` (default) leaves them as they are.
    aggregate
        With several similarities: ``"concat"`` (default; ``m * k`` columns, part by part) or
        ``"sum"`` (``k`` columns).

    Returns
    -------
    numpy array or torch tensor
        Shape ``(..., k)`` (``(..., m * k)`` for ``m`` concatenated similarities), the same
        kind as ``x``; for torch, the same device and dtype (differentiable with respect to both
        inputs). Mixed float dtypes are promoted.

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
    if aggregate is not None:
        if not isinstance(similarity, (list, tuple)):
            raise ValueError(
                f"aggregate={aggregate!r} combines several similarities: pass a list of them, "
                f"e.g. similarity=('cosine', 'euclidean'), not {similarity!r}."
            )
        sim = product_similarity(similarity, aggregate=aggregate)
    else:
        sim = get_similarity(similarity)
    check_choice(center, "center", CENTER_OPTIONS)
    if is_dask(x):
        return _lazy_projection(x, anchors, sim, center)
    check_same_kind(x, anchors, ("x", "anchors"))
    xt, kind = as_tensor(x, "x")
    at, _ = as_tensor(anchors, "anchors")
    check_shapes(xt, at)
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
        expected = (flat.shape[0], at.shape[0] * sim.outputs_per_anchor)
        if tuple(out.shape) != expected:
            raise ValueError(
                f"The similarity {sim.name!r} returned shape {tuple(out.shape)}, expected "
                f"{expected} (n samples x k anchors). Check the function you registered."
            )
        out = out.reshape(*xt.shape[:-1], expected[1])
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
    check_shapes(torch.empty((0, x.shape[1])), at, check_empty=False)
    check_finite(at, "anchors")
    dtype = np.result_type(x.dtype, anchors.dtype)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    x = x.rechunk({1: -1})
    return x.map_blocks(
        lambda block: relative_projection(block, anchors, similarity, center=center),
        chunks=(x.chunks[0], (anchors.shape[0] * similarity.outputs_per_anchor,)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )


#: How :func:`inverse_relative_projection` sets the norm of the vectors it reconstructs.
NORM_RULES = ("mean", "median", "unit")


def inverse_relative_projection(
    relative: Array,
    anchors: Array,
    *,
    norm: str | float = "mean",
    rcond: float = 1e-6,
    prune: float | None = None,
    ensemble: int = 1,
    frame: str | None = None,
    seed: int = 0,
) -> Array:
    """Back from cosine relative coordinates to a space's absolute coordinates (Maiorca et al.,
    arXiv 2406.15057): the space's anchors alone give the way back.

    A cosine relative vector ``r`` (``r_j = cos(x, a_j)``) determines ``x``'s direction when the
    normalised anchors ``Â`` span the space: ``ẑ = pinv(Â) r``; the norm, which cosine forgets,
    is restored by a declared rule. With another space's relative vectors (computed with that
    space's parallel anchors) this *translates* between the spaces, each side using only its own
    anchors.

    Parameters
    ----------
    relative
        Cosine relative coordinates ``(n, k)``, one column per anchor.
    anchors
        The target space's anchors ``(k, d)``, in the same order as the columns.
    norm
        The reconstructed vectors' norm: ``"mean"`` (the anchors' mean norm, the default),
        ``"median"``, ``"unit"`` (1), or a positive number.
    rcond
        Singular values of ``Â`` below ``rcond`` times the largest are treated as zero (with
        fewer anchors than dimensions, or centred anchors, ``Â`` is rank-deficient: the minimum
        norm solution, the projection onto the anchors' span, comes back).
    prune
        Keep only anchors at least ``prune`` apart in ``1 - |cos|`` (greedy farthest-point
        selection from a random start): near-duplicate anchors make ``pinv`` ill-conditioned.
    ensemble
        With ``prune``: that many pruned subsets from different random starts, their
        reconstructed directions averaged.
    frame
        ``"parseval"`` inverts with the nearest Parseval frame ``U Vᵀ`` of ``Â`` (its transpose
        is its pseudo-inverse; condition number 1).
    seed
        Seeds the pruning's random starts.

    Returns
    -------
    numpy array or torch tensor ``(n, d)``, the caller's kind and dtype.

    Examples
    --------
    >>> import numpy as np, relreps
    >>> rng = np.random.default_rng(0)
    >>> x, anchors = rng.normal(size=(5, 8)), rng.normal(size=(32, 8))
    >>> relative = relreps.relative_projection(x, anchors)
    >>> back = inverse_relative_projection(relative, anchors, norm="unit")
    >>> bool(np.allclose(back, x / np.linalg.norm(x, axis=1, keepdims=True)))
    True
    """
    from relreps._backend import row_norms, unit_rows

    check_same_kind(relative, anchors, ("relative", "anchors"))
    rt, kind = as_tensor(relative, "relative")
    at, _ = as_tensor(anchors, "anchors")
    if at.ndim != 2 or at.shape[0] == 0 or at.shape[1] == 0:
        raise ValueError(f"anchors must be a non-empty 2-D array (k, d), got {tuple(at.shape)}.")
    if rt.ndim != 2 or rt.shape[1] != at.shape[0]:
        raise ValueError(
            f"relative must have one column per anchor ({at.shape[0]}), got shape "
            f"{tuple(rt.shape)}."
        )
    check_finite(rt, "relative")
    check_finite(at, "anchors")
    if frame not in (None, "parseval"):
        raise ValueError(f"frame must be None or 'parseval', got {frame!r}.")
    if not 0 < rcond < 1:
        raise ValueError(f"rcond must be in (0, 1), got {rcond!r}.")
    if ensemble < 1 or (ensemble > 1 and prune is None):
        raise ValueError("ensemble takes a count >= 1, and more than 1 only with prune=.")
    dtype = torch.promote_types(rt.dtype, at.dtype)
    norms = row_norms(at.double())
    if isinstance(norm, str):
        check_choice(norm, "norm", NORM_RULES)
        scale = {"mean": norms.mean(), "median": norms.quantile(0.5), "unit": torch.ones(())}[norm]
    elif isinstance(norm, (int, float)) and norm > 0 and np.isfinite(norm):
        scale = torch.tensor(float(norm))
    else:
        raise ValueError(f"norm must be one of {NORM_RULES} or a positive number, got {norm!r}.")
    unit = unit_rows(at.double())
    r = rt.double()
    subsets = [torch.arange(unit.shape[0])]
    if prune is not None:
        if not 0 < prune <= 1:
            raise ValueError(f"prune is a distance 1 - |cos| in (0, 1], got {prune!r}.")
        rng = np.random.default_rng(seed)
        subsets = [_prune(unit, prune, int(rng.integers(unit.shape[0]))) for _ in range(ensemble)]
    directions = torch.zeros(r.shape[0], unit.shape[1], dtype=torch.float64)
    for rows in subsets:
        basis = unit[rows]
        if frame == "parseval":
            u, _, vt = torch.linalg.svd(basis, full_matrices=False)
            inverse = (u @ vt).T
        else:
            inverse = torch.linalg.pinv(basis, rtol=rcond)
        directions += unit_rows(r[:, rows] @ inverse.T)
    out = unit_rows(directions) * scale.double()
    return restore(out.to(dtype), kind)


def _prune(unit: torch.Tensor, distance: float, start: int) -> torch.Tensor:
    """Greedy farthest-point anchors under ``1 - |cos|``, from ``start``, while the farthest
    remaining one is at least ``distance`` from the kept set."""
    kept = [start]
    nearest = 1 - (unit @ unit[start]).abs()
    nearest[start] = -1.0
    while True:
        candidate = int(nearest.argmax())
        if nearest[candidate] < distance:
            break
        kept.append(candidate)
        nearest = torch.minimum(nearest, 1 - (unit @ unit[candidate]).abs())
        nearest[kept] = -1.0
    return torch.tensor(sorted(kept))
