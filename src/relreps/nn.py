"""``torch.nn`` wrapper: the relative projection as a layer (a relative bottleneck)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from relreps._checks import check_int
from relreps.anchors import Anchors
from relreps.projection import CENTER_OPTIONS, Center, relative_projection
from relreps.similarities import get_similarity

__all__ = [
    "AGGREGATION_MODES",
    "OUTPUT_NORMS",
    "ProductAggregation",
    "RelativeProjection",
]


OutputNorm = Literal["l2", "layernorm", "batchnorm"] | None
OUTPUT_NORMS = (None, "l2", "layernorm", "batchnorm")


class RelativeProjection(nn.Module):
    """Relative projection layer: similarities to anchors, then an optional normalisation.

    Parameters
    ----------
    n_anchors
        Number of anchors; required by ``"layernorm"`` and ``"batchnorm"`` (they learn one scale
        and shift per anchor) and by ``anchors=``, checked against the anchors at each call.
    similarity
        A registered similarity name (``relreps.similarity_names()``).
    center
        ``"anchors"`` to centre samples and anchors on the anchors' mean first; ``None`` not to.
    output_norm
        Normalisation over the anchor axis: ``None``, ``"l2"`` (unit-norm rows), ``"layernorm"``
        (the paper's choice for its AE, VAE and classifiers) or ``"batchnorm"``.
    anchors
        Optional fixed anchors, stored as a buffer (saved in ``state_dict``) and used when
        ``forward`` is called without anchors: either embeddings ``(n_anchors, d)`` (floating
        point), or *rows of the input*: an :class:`~relreps.anchors.Anchors` or a 1-D integer
        tensor/array of row indices. Rows suit models whose anchors pass through the same forward
        pass as the data (a graph network's anchor nodes are rows of every layer's output); the
        gradient then flows through the anchors too.

    Shape
    -----
    ``forward(x, anchors)``: ``x`` is ``(..., d)``, ``anchors`` is ``(n_anchors, d)``; output
    ``(..., n_anchors)``. With anchors given as rows, ``x`` is ``(n, d)`` and the anchors are
    ``x[rows]``.

    Examples
    --------
    >>> import torch, relreps
    >>> layer = relreps.RelativeProjection(n_anchors=4, output_norm="layernorm")
    >>> x, anchors = torch.randn(8, 16), torch.randn(4, 16)
    >>> layer(x, anchors).shape
    torch.Size([8, 4])
    >>> nodes = relreps.RelativeProjection(anchors=torch.tensor([0, 2, 5]))
    >>> torch.allclose(nodes(x), relreps.relative_projection(x, x[[0, 2, 5]]))
    True
    """

    anchors: torch.Tensor | None
    anchor_rows: torch.Tensor | None

    def __init__(
        self,
        n_anchors: int | None = None,
        similarity: str | tuple[str, ...] = "cosine",
        center: Center = None,
        output_norm: OutputNorm = None,
        *,
        anchors: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        outputs_per_anchor = get_similarity(similarity).outputs_per_anchor  # unknown names fail
        if n_anchors is not None:
            check_int(n_anchors, "n_anchors", minimum=1)
        if center not in CENTER_OPTIONS:
            raise ValueError(f"center must be one of {CENTER_OPTIONS}, got {center!r}.")
        if output_norm not in OUTPUT_NORMS:
            raise ValueError(f"output_norm must be one of {OUTPUT_NORMS}, got {output_norm!r}.")
        rows = None
        if anchors is not None:
            rows = _as_rows(anchors)
            if rows is None and (not isinstance(anchors, torch.Tensor) or anchors.ndim != 2):
                raise ValueError(
                    "anchors= must be anchor embeddings (a 2-D floating-point torch.Tensor "
                    "(n_anchors, dim)) or rows of the input (an Anchors, or a 1-D integer "
                    "tensor/array of row indices)."
                )
            if n_anchors is None:
                n_anchors = len(rows) if rows is not None else anchors.shape[0]
        if output_norm in ("layernorm", "batchnorm") and n_anchors is None:
            raise ValueError(
                f"output_norm={output_norm!r} learns one parameter per anchor: pass n_anchors."
            )
        self.n_anchors = n_anchors
        self.similarity = similarity
        self.center = center
        self.output_norm = output_norm
        self.norm: nn.Module | None = None
        if output_norm in ("layernorm", "batchnorm"):
            width = n_anchors * outputs_per_anchor  # a concatenated product: m columns per anchor
            self.norm = nn.LayerNorm(width) if output_norm == "layernorm" else nn.BatchNorm1d(width)
        embeddings = None if anchors is None or rows is not None else anchors.detach().clone()
        self.register_buffer("anchors", embeddings)
        self.register_buffer("anchor_rows", rows)
        # the number of samples an Anchors was drawn from, checked against x (not saved)
        self.anchor_samples = anchors.n_samples if isinstance(anchors, Anchors) else None

    def forward(self, x: torch.Tensor, anchors: torch.Tensor | None = None) -> torch.Tensor:
        stored = anchors is None
        if anchors is None:
            anchors = self.anchors if self.anchors is not None else self.anchor_rows
            if anchors is None:
                raise ValueError(
                    "No anchors: pass them to forward(x, anchors) or store them with "
                    "RelativeProjection(..., anchors=...)."
                )
        rows = (
            None
            if isinstance(anchors, torch.Tensor) and anchors.is_floating_point()
            else (_as_rows(anchors))
        )
        for name, value in (("x", x), ("anchors", anchors if rows is None else x)):
            if not isinstance(value, torch.Tensor):
                raise TypeError(
                    f"RelativeProjection is a torch layer: {name} must be a torch.Tensor, got a "
                    f"{type(value).__name__} (use torch.from_numpy, or relreps.relative_projection "
                    "for numpy arrays)."
                )
        if rows is not None:
            if stored and self.anchor_samples not in (None, x.shape[0]):
                raise ValueError(
                    f"The anchors were selected from {self.anchor_samples} samples but x has "
                    f"{x.shape[0]} rows."
                )
            anchors = _take_rows(x, rows, anchors)
        if self.n_anchors is not None and anchors.shape[0] != self.n_anchors:
            raise ValueError(
                f"This layer was built for {self.n_anchors} anchors but got {anchors.shape[0]}."
            )
        out = relative_projection(x, anchors, self.similarity, center=self.center)
        if self.output_norm == "l2":
            return F.normalize(out, dim=-1)
        if self.output_norm == "batchnorm":
            shape = out.shape
            return self.norm(out.reshape(-1, shape[-1])).reshape(shape)
        if self.norm is not None:
            return self.norm(out)
        return out

    def extra_repr(self) -> str:
        return (
            f"n_anchors={self.n_anchors}, similarity={self.similarity!r}, "
            f"center={self.center!r}, output_norm={self.output_norm!r}"
        )


#: The learned aggregations of :class:`ProductAggregation`.
AGGREGATION_MODES = ("deepset", "attention", "weighted")


class ProductAggregation(nn.Module):
    """A learned aggregation of ``m`` relative parts into one ``k``-wide representation, trained
    with the decoder (Cannistraci et al., ICLR 2024).

    Takes the output of a concatenated, normalised product (``relative_projection(x, anchors,
    ("cosine", "euclidean", ...))`` or ``RelativeProjection(similarity=(...))``), shape
    ``(..., m * k)``, part by part, and returns ``(..., k)``:

    ``"deepset"``
        ``Σ_j tanh(W_j r_j + b_j)``: one linear layer per part, then a sum.
    ``"attention"``
        the ``m`` parts as tokens of width ``k`` through one-head self-attention, summed.
    ``"weighted"``
        ``Σ_j softmax(w)_j r_j`` with ``w`` learned (initialised equal: the mean of the parts).

    >>> import torch, relreps
    >>> from relreps.nn import ProductAggregation
    >>> x, anchors = torch.randn(8, 16), torch.randn(5, 16)
    >>> parts = relreps.relative_projection(x, anchors, ("cosine", "euclidean", "l1"))
    >>> ProductAggregation(3, 5, "attention")(parts).shape
    torch.Size([8, 5])
    """

    def __init__(self, n_parts: int, n_anchors: int, mode: str = "deepset") -> None:
        super().__init__()
        check_int(n_parts, "n_parts", minimum=1)
        check_int(n_anchors, "n_anchors", minimum=1)
        if mode not in AGGREGATION_MODES:
            raise ValueError(f"mode must be one of {AGGREGATION_MODES}, got {mode!r}.")
        self.n_parts, self.n_anchors, self.mode = n_parts, n_anchors, mode
        if mode == "deepset":
            self.layers = nn.ModuleList(nn.Linear(n_anchors, n_anchors) for _ in range(n_parts))
        elif mode == "attention":
            self.attention = nn.MultiheadAttention(n_anchors, num_heads=1, batch_first=True)
        else:
            self.logits = nn.Parameter(torch.zeros(n_parts))

    def forward(self, parts: torch.Tensor) -> torch.Tensor:
        width = self.n_parts * self.n_anchors
        if parts.shape[-1] != width:
            raise ValueError(
                f"Expected {self.n_parts} parts of {self.n_anchors} anchors ({width} columns), "
                f"got {parts.shape[-1]} columns."
            )
        lead = parts.shape[:-1]
        tokens = parts.reshape(-1, self.n_parts, self.n_anchors)
        if self.mode == "deepset":
            out = sum(torch.tanh(layer(tokens[:, j])) for j, layer in enumerate(self.layers))
        elif self.mode == "attention":
            attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
            out = attended.sum(dim=1)
        else:
            out = (torch.softmax(self.logits, dim=0)[:, None] * tokens).sum(dim=1)
        return out.reshape(*lead, self.n_anchors)

    def extra_repr(self) -> str:
        return f"n_parts={self.n_parts}, n_anchors={self.n_anchors}, mode={self.mode!r}"


def _as_rows(anchors: object) -> torch.Tensor | None:
    """Row indices (int64 tensor) when ``anchors`` names rows of the input, else ``None``."""
    if isinstance(anchors, Anchors):
        return torch.from_numpy(anchors.indices.copy())
    if isinstance(anchors, torch.Tensor):
        if anchors.is_floating_point() or anchors.is_complex() or anchors.dtype == torch.bool:
            return None
        if anchors.ndim != 1:
            raise ValueError(f"Anchor rows must be 1-D, got shape {tuple(anchors.shape)}.")
        return anchors.long()
    array = np.asarray(anchors) if isinstance(anchors, (np.ndarray, list, tuple)) else None
    if array is not None and array.ndim == 1 and array.size and array.dtype.kind in "iu":
        return torch.from_numpy(array.astype(np.int64))
    return None


def _take_rows(x: torch.Tensor, rows: torch.Tensor, given: object) -> torch.Tensor:
    if x.ndim != 2:
        raise ValueError(
            f"Anchors given as rows need x of shape (n, d), got {tuple(x.shape)}; pass anchor "
            "embeddings instead."
        )
    if isinstance(given, Anchors) and given.n_samples != x.shape[0]:
        raise ValueError(
            f"The anchors were selected from {given.n_samples} samples but x has {x.shape[0]} rows."
        )
    if len(rows) == 0:
        raise ValueError("No anchor rows: pass at least one.")
    if int(rows.min()) < 0 or int(rows.max()) >= x.shape[0]:
        raise ValueError(
            f"Anchor rows must lie in [0, {x.shape[0]}) (the rows of x); got values from "
            f"{int(rows.min())} to {int(rows.max())}."
        )
    return x[rows.to(x.device)]
