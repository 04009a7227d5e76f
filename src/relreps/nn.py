"""``torch.nn`` wrappers: the relative projection as a layer (a relative bottleneck), learned
aggregations of products of similarities, and learned anchors."""

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
    "LearnedAnchors",
    "ProductAggregation",
    "RelativeProjection",
    "alignment_loss",
    "coverage_loss",
    "diversity_loss",
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

    Compilation: ``torch.compile(layer)`` works, with graph breaks at the input checks (the NaN
    and range checks depend on the data); ``torch.jit.trace(layer, example)`` works for any
    batch size; ``torch.jit.script`` does not (the checks and the numpy/torch dispatch are
    Python).
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


class LearnedAnchors(nn.Module):
    """Anchors learned as convex mixtures of a pool of parallel samples, the same mixture in
    every space, so they stay parallel (Svendsen et al., arXiv 2605.30596, "PARAM").

    ``anchors_i = softmax(Θ / temperature) @ pool_i`` with ``Θ`` of shape ``(n_anchors, m)``
    (initialised ``N(0, 0.01²)`` from ``seed``): each anchor is a weighted average of the ``m``
    pool samples, with one set of weights shared by all spaces. Train ``Θ`` with the decoder and
    any of :func:`coverage_loss`, :func:`diversity_loss` and :func:`alignment_loss`.

    Parameters
    ----------
    pools
        One ``(m, d_i)`` float tensor per space: the same ``m`` samples embedded by each encoder.
    n_anchors
        Anchors to learn.

    Examples
    --------
    >>> import torch
    >>> pool_x = torch.randn(50, 8)
    >>> pool_y = pool_x @ torch.linalg.qr(torch.randn(8, 8))[0]     # another space, rotated
    >>> learned = LearnedAnchors([pool_x, pool_y], n_anchors=4)
    >>> a_x, a_y = learned()
    >>> a_x.shape, a_y.shape
    (torch.Size([4, 8]), torch.Size([4, 8]))
    """

    def __init__(
        self,
        pools: list[torch.Tensor] | tuple[torch.Tensor, ...],
        n_anchors: int,
        *,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_int(n_anchors, "n_anchors", minimum=1)
        if not pools:
            raise ValueError("pools must hold at least one (m, d) tensor.")
        sizes = {int(pool.shape[0]) for pool in pools}
        if any(not isinstance(p, torch.Tensor) or p.ndim != 2 for p in pools) or len(sizes) != 1:
            raise ValueError(
                "pools must be 2-D torch tensors with the same number of rows (parallel samples), "
                f"got shapes {[tuple(getattr(p, 'shape', ())) for p in pools]}."
            )
        if not float(temperature) > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}.")
        for i, pool in enumerate(pools):
            self.register_buffer(f"pool_{i}", pool.detach().clone())
        self.n_spaces, self.temperature = len(pools), float(temperature)
        generator = torch.Generator().manual_seed(seed)
        logits = torch.randn(n_anchors, sizes.pop(), generator=generator) * 0.01
        self.logits = nn.Parameter(logits.to(pools[0].dtype))

    def mixture(self) -> torch.Tensor:
        """The ``(n_anchors, m)`` weights, each row a convex combination."""
        return torch.softmax(self.logits / self.temperature, dim=1)

    def forward(self) -> tuple[torch.Tensor, ...]:
        weights = self.mixture()
        return tuple(weights @ getattr(self, f"pool_{i}") for i in range(self.n_spaces))


def coverage_loss(
    x: torch.Tensor, anchors: torch.Tensor, transform: nn.Module | None = None
) -> torch.Tensor:
    """Mean distance from each sample to its nearest anchor (optionally after ``transform``,
    e.g. a whitening): low when the anchors cover the data."""
    if transform is not None:
        x, anchors = transform(x), transform(anchors)
    return torch.cdist(x, anchors).amin(dim=1).mean()


def diversity_loss(anchors: torch.Tensor, transform: nn.Module | None = None) -> torch.Tensor:
    """Minus the mean distance between distinct anchors: low when they are spread out."""
    if transform is not None:
        anchors = transform(anchors)
    k = anchors.shape[0]
    if k < 2:
        raise ValueError("diversity_loss needs at least 2 anchors.")
    upper = torch.triu_indices(k, k, offset=1, device=anchors.device)
    return -torch.cdist(anchors, anchors)[upper[0], upper[1]].mean()


def alignment_loss(relative_x: torch.Tensor, relative_y: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of two spaces' relative vectors of the same (parallel) samples."""
    if relative_x.shape != relative_y.shape:
        raise ValueError(
            f"alignment_loss compares relative vectors of the same samples and anchors: got "
            f"shapes {tuple(relative_x.shape)} and {tuple(relative_y.shape)}."
        )
    return F.mse_loss(relative_x, relative_y)


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
