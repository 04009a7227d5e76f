"""Sparse relative representations and zero-shot classification from paired anchors (ASIF).

Keep, for each sample, only its ``k`` most cosine-similar anchors, clamp at 0 and sharpen with a
power: a sparse relative vector whose width is the number of anchors, which may be millions,
since the dense ``(n, n_anchors)`` matrix is never formed (the tiled top-k engine of
:mod:`relreps.neighbours` works within a memory budget). With anchor *pairs* (the same items
embedded by two unrelated encoders, e.g. an image and its caption), sparse relative vectors of
the two modalities are comparable, and two unimodal models classify zero-shot without training
(Norelli et al., NeurIPS 2023; ``FOLLOWUPS.md`` section 5).

>>> import numpy as np
>>> from relreps.sparse import sparse_relative_projection
>>> rng = np.random.default_rng(0)
>>> x, anchors = rng.normal(size=(3, 8)), rng.normal(size=(1000, 8))
>>> r = sparse_relative_projection(x, anchors, k=5, power=2)
>>> r.shape, r.nnz <= 15
((3, 1000), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from relreps._backend import Array, as_tensor
from relreps._checks import check_int, check_shapes
from relreps.neighbours import top_k

__all__ = ["REDUCTIONS", "ZeroShot", "sparse_relative_projection", "zero_shot_classify"]

#: How :func:`zero_shot_classify` scores a class from its templates: ``"max"`` (the best single
#: template, ASIF's rule) or ``"mean"`` (CLIP-style prompt ensembling).
REDUCTIONS = ("max", "mean")


def sparse_relative_projection(
    x: Array,
    anchors: Array,
    k: int,
    *,
    power: float = 1.0,
    clamp_min: float = 0.0,
    normalize: bool = False,
    memory: int | str | None = None,
    backend: str = "torch",
) -> Any:
    """The top-``k`` cosine similarities of each row of ``x`` to ``anchors``, as a sparse matrix.

    Parameters
    ----------
    x, anchors
        ``(n, d)`` and ``(m, d)``, numpy or torch (the same kind), from the same encoder.
    k
        Similarities kept per row, ``1 <= k <= m`` (ASIF's default is 800).
    power
        Kept values (after clamping) are raised to it: larger values sharpen towards the nearest
        anchors (ASIF uses about 8).
    clamp_min
        Kept values below it become it (default 0: an even power must not turn a negative cosine
        into a positive one). ``None`` keeps them, and the power then keeps each value's sign.
    normalize
        L2-normalise each row of the result.
    memory, backend
        As in :func:`relreps.neighbours.top_k` (``"faiss"`` for a flat-index search).

    Returns
    -------
    scipy.sparse.csr_matrix (numpy input) or a coalesced torch sparse COO tensor (torch input)
        Shape ``(n, m)``, ``k`` stored entries per row (zeros after clamping included), columns
        sorted within each row.
    """
    check_int(k, "k", minimum=1)
    if not np.isfinite(power) or power <= 0:
        raise ValueError(f"power must be a positive finite number, got {power!r}.")
    anchors_t = as_tensor(anchors, "anchors")[0]
    check_shapes(as_tensor(x, "x")[0], anchors_t, check_empty=False)
    m = int(anchors_t.shape[0])
    found = top_k(x, anchors, k, memory=memory, backend=backend)
    indices, values = as_tensor(found.indices, "indices")[0], as_tensor(found.values, "values")[0]
    is_torch = isinstance(x, torch.Tensor)
    n = int(indices.shape[0])
    if clamp_min is not None:
        values = values.clamp_min(clamp_min)
    if power != 1.0:
        values = values.abs().pow(power) * values.sign()
    if normalize:
        norms = torch.linalg.vector_norm(values, dim=1, keepdim=True)
        values = values / torch.where(norms > 0, norms, torch.ones_like(norms))
    order = torch.argsort(indices, dim=1)
    indices, values = indices.gather(1, order), values.gather(1, order)
    crow = torch.arange(0, n * k + 1, k, dtype=torch.int64)
    if is_torch:
        rows = torch.arange(n, device=indices.device).repeat_interleave(k)
        return torch.sparse_coo_tensor(
            torch.stack([rows, indices.reshape(-1)]),
            values.reshape(-1),
            size=(n, m),
            is_coalesced=True,  # row-major and sorted within rows, no duplicates
            check_invariants=False,
        )
    import scipy.sparse

    return scipy.sparse.csr_matrix(
        (values.reshape(-1).numpy(), indices.reshape(-1).numpy(), crow.numpy()), shape=(n, m)
    )


class ZeroShot(tuple):
    """``(predictions, scores)`` of :func:`zero_shot_classify`: class indices ``(n,)`` and the
    class scores ``(n, n_classes)``."""

    __slots__ = ()

    def __new__(cls, predictions: np.ndarray, scores: np.ndarray) -> ZeroShot:
        return super().__new__(cls, (predictions, scores))

    @property
    def predictions(self) -> np.ndarray:
        return self[0]

    @property
    def scores(self) -> np.ndarray:
        return self[1]


def zero_shot_classify(
    queries: np.ndarray,
    query_anchors: np.ndarray,
    candidates: np.ndarray,
    candidate_anchors: np.ndarray,
    *,
    k: int = 800,
    power: float = 8.0,
    n_templates: int = 1,
    reduce: str = "max",
    memory: int | str | None = None,
) -> ZeroShot:
    """Classify ``queries`` against class ``candidates`` of another modality through paired
    anchors, with no training (ASIF).

    Parameters
    ----------
    queries
        ``(n, d_q)``: samples embedded by the query encoder (e.g. images).
    query_anchors
        ``(m, d_q)``: the anchor pairs' query side, same encoder.
    candidates
        ``(n_classes * n_templates, d_c)``: class descriptions embedded by the other encoder,
        class-major (all templates of class 0, then class 1, ...).
    candidate_anchors
        ``(m, d_c)``: the anchor pairs' other side (row ``i`` pairs with ``query_anchors[i]``).
    k, power
        Sparsity and sharpening of both sides' relative vectors.
    n_templates
        Descriptions per class.
    reduce
        ``"max"`` (best template) or ``"mean"`` over a class's templates.

    Returns
    -------
    ZeroShot
        ``predictions`` (class index per query) and ``scores`` ``(n, n_classes)``.
    """
    if len(query_anchors) != len(candidate_anchors):
        raise ValueError(
            f"The anchors are not paired: {len(query_anchors)} query-side rows but "
            f"{len(candidate_anchors)} candidate-side rows."
        )
    check_int(n_templates, "n_templates", minimum=1)
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}.")
    if len(candidates) % n_templates:
        raise ValueError(
            f"{len(candidates)} candidates are not a whole number of classes of {n_templates} "
            "templates each (class-major order)."
        )
    relative = {"k": min(k, len(query_anchors)), "power": power, "memory": memory}
    q = sparse_relative_projection(np.asarray(queries), np.asarray(query_anchors), **relative)
    c = sparse_relative_projection(
        np.asarray(candidates), np.asarray(candidate_anchors), normalize=True, **relative
    )
    scores = np.asarray((q @ c.T).todense(), dtype=np.float64)
    scores = scores.reshape(len(scores), -1, n_templates)
    scores = scores.max(axis=2) if reduce == "max" else scores.mean(axis=2)
    return ZeroShot(scores.argmax(axis=1), scores)
