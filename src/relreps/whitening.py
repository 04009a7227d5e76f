"""Whitened similarities: invariant to every invertible affine map of the latent space.

Cosine to anchors undoes rotations and one global scale. Whitening each space with its own
statistics, fitted on *parallel* samples (the same inputs embedded by each model), undoes any
invertible affine map ``x -> x M + b``: with ``μ`` and ``Σ`` the mean and covariance of the fitting
samples,

``whitened_inner(x, a) = (x − μ)ᵀ Σ⁻¹ (a − μ)``,  ``neg_mahalanobis(x, a) = −(x − a)ᵀ Σ⁻¹ (x − a)``

and mapping the space by ``M, b`` maps ``μ`` to ``μM + b`` and ``Σ`` to ``MᵀΣM``, which cancel
(Svendsen et al., arXiv 2605.30596; ``FOLLOWUPS.md`` section 4.2). The relative vector keeps
magnitudes along whitened directions, which cosine forgets.

The invariance needs the statistics refitted in each space, so it is a property of
:class:`Whitener` (tested by refitting on transformed samples), not of the fixed
:class:`~relreps.similarities.Similarity` a fitted whitener returns: that one declares no
invariance to the battery, truthfully.

Fit on many more samples than dimensions. With ``n <= d + 1`` the centred samples span the space
and every anchor-to-anchor value is the same constant matrix in every space: the representation
carries nothing, and :meth:`Whitener.fit` warns. ``shrinkage`` (towards a multiple of the
identity) or ``n_components`` (the top principal directions) regularise small fitting sets; with
shrinkage the exact invariance shrinks to orthogonal maps, scaling and translation.

>>> import numpy as np, relreps
>>> from relreps.whitening import Whitener
>>> rng = np.random.default_rng(0)
>>> z = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))        # a space, anisotropic
>>> m, b = rng.normal(size=(4, 4)), rng.normal(size=4)              # any invertible affine map
>>> anchors, x = z[:10], z[10:20]
>>> r = relreps.relative_projection(x, anchors, Whitener(eps=0).fit(z).similarity())
>>> moved = Whitener(eps=0).fit(z @ m + b).similarity()
>>> bool(np.allclose(r, relreps.relative_projection(x @ m + b, anchors @ m + b, moved)))
True
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from relreps._backend import Array, as_tensor, restore
from relreps._checks import check_finite, check_int

__all__ = ["WHITENED_KINDS", "Whitener"]

#: The similarities a fitted :class:`Whitener` gives.
WHITENED_KINDS = ("inner", "mahalanobis")


class Whitener:
    """Mean and inverse square root of the covariance of one space, fitted on samples.

    Parameters
    ----------
    shrinkage
        In ``[0, 1]``: the covariance is replaced by ``(1 − s) Σ + s (tr Σ / d) I`` (Ledoit-Wolf's
        target). Exact affine invariance needs 0.
    n_components
        Keep the top principal directions only (PCA whitening); ``None`` keeps all.
    eps
        Added to every eigenvalue, relative to the largest (so the result does not depend on the
        space's scale); 0 for an exact inverse.
    """

    def __init__(
        self, *, shrinkage: float = 0.0, n_components: int | None = None, eps: float = 1e-6
    ) -> None:
        if not 0.0 <= float(shrinkage) <= 1.0:
            raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage!r}.")
        if n_components is not None:
            check_int(n_components, "n_components", minimum=1)
        if not float(eps) >= 0.0:
            raise ValueError(f"eps must be >= 0, got {eps!r}.")
        self.shrinkage = float(shrinkage)
        self.n_components = n_components
        self.eps = float(eps)
        self.mean: torch.Tensor | None = None
        self.matrix: torch.Tensor | None = None  # (d, c): whitened = (x − mean) @ matrix

    def __repr__(self) -> str:
        return (
            f"Whitener(shrinkage={self.shrinkage}, n_components={self.n_components}, "
            f"eps={self.eps})"
        )

    def fit(self, samples: Array) -> Whitener:
        """Fit on ``(n, d)`` samples of the space (parallel to the other spaces' fitting samples,
        for invariance across them)."""
        z, _ = as_tensor(samples, "samples")
        if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] == 0:
            raise ValueError(
                f"samples must be 2-D (n, d) with at least 2 rows, got {tuple(z.shape)}."
            )
        check_finite(z, "samples")
        n, d = z.shape
        if self.n_components is not None and self.n_components > d:
            raise ValueError(f"n_components={self.n_components} exceeds the {d} dimensions.")
        if n <= d + 1 and self.shrinkage == 0 and self.n_components is None:
            warnings.warn(
                f"Whitening {d} dimensions from {n} samples (n <= d + 1): the centred samples "
                "span the space, so the whitened anchors form the same constant configuration in "
                "every space and the relative representation carries no information. Fit on more "
                "samples (a pool of parallel data, not the anchors alone), or set shrinkage or "
                "n_components.",
                UserWarning,
                stacklevel=2,
            )
        z = z.double()
        mean = z.mean(dim=0)
        centred = z - mean
        covariance = centred.T @ centred / (n - 1)
        if self.shrinkage:
            target = torch.trace(covariance) / d * torch.eye(d, dtype=torch.float64)
            covariance = (1 - self.shrinkage) * covariance + self.shrinkage * target
        values, vectors = torch.linalg.eigh(covariance)  # ascending
        if self.n_components is not None:
            values, vectors = values[-self.n_components :], vectors[:, -self.n_components :]
        floor = self.eps * values.max().clamp_min(0.0)
        values = values.clamp_min(0.0) + floor
        if not bool((values > 0).all()):
            raise ValueError(
                "The fitting samples' covariance is singular (a direction with no variance): "
                "set eps > 0, shrinkage > 0 or n_components below the rank."
            )
        self.mean, self.matrix = mean, vectors / values.sqrt()
        return self

    @property
    def fitted(self) -> bool:
        return self.matrix is not None

    def transform(self, x: Array) -> Array:
        """Whitened coordinates ``(x − μ) W`` of ``(n, d)`` rows, in the caller's kind."""
        t, kind = as_tensor(x, "x")
        return restore(self._whiten(t), kind)

    def _whiten(self, t: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise ValueError("This Whitener is not fitted yet: call fit(samples) first.")
        if t.shape[-1] != self.matrix.shape[0]:
            raise ValueError(
                f"Rows of width {t.shape[-1]} given to a whitener fitted on "
                f"{self.matrix.shape[0]} dimensions."
            )
        mean, matrix = self.mean.to(t), self.matrix.to(t)
        return (t - mean) @ matrix

    def similarity(self, kind: str = "inner"):
        """The fitted similarity, usable wherever a similarity is: ``"inner"`` (the whitened
        inner product) or ``"mahalanobis"`` (minus the squared Mahalanobis distance)."""
        from relreps.similarities import Similarity

        if kind not in WHITENED_KINDS:
            raise ValueError(f"kind must be one of {WHITENED_KINDS}, got {kind!r}.")
        if not self.fitted:
            raise ValueError("This Whitener is not fitted yet: call fit(samples) first.")

        def function(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
            wx, wa = self._whiten(x), self._whiten(anchors)
            inner = wx @ wa.T
            if kind == "inner":
                return inner
            squared = wx.square().sum(dim=1, keepdim=True) + wa.square().sum(dim=1) - 2 * inner
            return -squared.clamp_min(0.0)

        name = "whitened_inner" if kind == "inner" else "neg_mahalanobis"
        return Similarity(
            name,
            function,
            frozenset(),  # fixed statistics: invariant only when refitted in each space
            f"{name} with statistics fitted on {self.matrix.shape[0]}-d samples",
        )

    # --- persistence ---------------------------------------------------------------------------

    def to_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        if not self.fitted:
            raise ValueError("Only a fitted Whitener can be saved.")
        options = {"shrinkage": self.shrinkage, "n_components": self.n_components, "eps": self.eps}
        return {"mean": self.mean.clone(), "matrix": self.matrix.clone()}, options

    @classmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Whitener:
        try:
            whitener = cls(
                shrinkage=metadata["shrinkage"],
                n_components=metadata["n_components"],
                eps=metadata["eps"],
            )
            mean, matrix = tensors["mean"].double(), tensors["matrix"].double()
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"Not a relreps whitener ({error}).") from None
        if matrix.ndim != 2 or mean.shape != (matrix.shape[0],):
            raise ValueError(
                f"Not a relreps whitener (mean {tuple(mean.shape)}, matrix {tuple(matrix.shape)})."
            )
        whitener.mean, whitener.matrix = mean, matrix
        return whitener
