"""``torch.nn`` wrapper: the relative projection as a layer (a relative bottleneck)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from relreps._checks import check_int
from relreps.projection import CENTER_OPTIONS, Center, relative_projection
from relreps.similarities import get_similarity

__all__ = [
    "OUTPUT_NORMS",
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
        Optional fixed anchor embeddings ``(n_anchors, d)`` stored as a buffer (saved in
        ``state_dict``) and used when ``forward`` is called without anchors.

    Shape
    -----
    ``forward(x, anchors)``: ``x`` is ``(..., d)``, ``anchors`` is ``(n_anchors, d)``; output
    ``(..., n_anchors)``.

    Examples
    --------
    >>> import torch, relreps
    >>> layer = relreps.RelativeProjection(n_anchors=4, output_norm="layernorm")
    >>> x, anchors = torch.randn(8, 16), torch.randn(4, 16)
    >>> layer(x, anchors).shape
    torch.Size([8, 4])
    """

    anchors: torch.Tensor | None

    def __init__(
        self,
        n_anchors: int | None = None,
        similarity: str = "cosine",
        center: Center = None,
        output_norm: OutputNorm = None,
        *,
        anchors: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        get_similarity(similarity)  # fail early on an unknown name
        if n_anchors is not None:
            check_int(n_anchors, "n_anchors", minimum=1)
        if center not in CENTER_OPTIONS:
            raise ValueError(f"center must be one of {CENTER_OPTIONS}, got {center!r}.")
        if output_norm not in OUTPUT_NORMS:
            raise ValueError(f"output_norm must be one of {OUTPUT_NORMS}, got {output_norm!r}.")
        if anchors is not None:
            if not isinstance(anchors, torch.Tensor) or anchors.ndim != 2:
                raise ValueError("anchors= must be a 2-D torch.Tensor (n_anchors, dim).")
            if n_anchors is None:
                n_anchors = anchors.shape[0]
        if output_norm in ("layernorm", "batchnorm") and n_anchors is None:
            raise ValueError(
                f"output_norm={output_norm!r} learns one parameter per anchor: pass n_anchors."
            )
        self.n_anchors = n_anchors
        self.similarity = similarity
        self.center = center
        self.output_norm = output_norm
        self.norm: nn.Module | None = None
        if output_norm == "layernorm":
            self.norm = nn.LayerNorm(n_anchors)
        elif output_norm == "batchnorm":
            self.norm = nn.BatchNorm1d(n_anchors)
        self.register_buffer("anchors", None if anchors is None else anchors.detach().clone())

    def forward(self, x: torch.Tensor, anchors: torch.Tensor | None = None) -> torch.Tensor:
        for name, value in (("x", x), ("anchors", anchors)):
            if value is not None and not isinstance(value, torch.Tensor):
                raise TypeError(
                    f"RelativeProjection is a torch layer: {name} must be a torch.Tensor, got a "
                    f"{type(value).__name__} (use torch.from_numpy, or relreps.relative_projection "
                    "for numpy arrays)."
                )
        if anchors is None:
            anchors = self.anchors
            if anchors is None:
                raise ValueError(
                    "No anchors: pass them to forward(x, anchors) or store them with "
                    "RelativeProjection(..., anchors=...)."
                )
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
