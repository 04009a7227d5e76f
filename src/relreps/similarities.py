"""Similarity functions between samples and anchors, registered by name with their invariances.

A similarity maps ``x`` of shape ``(n, d)`` and ``anchors`` of shape ``(k, d)`` (both torch
tensors of one dtype and device, already validated) to ``(n, k)``. Each one declares which
transformations of the latent space (the vocabulary of :mod:`relreps.invariances`), applied to
samples and anchors together, leave its output unchanged. The declarations are checked both ways
by :func:`relreps.invariances.check_similarity`, which the test suite runs on every registered
similarity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

from relreps._backend import nonzero, row_norms, safe_scale, unit_rows
from relreps._registry import Registry
from relreps.invariances import INVARIANCES, declared

__all__ = [
    "INVARIANCES",
    "SIMILARITIES",
    "Similarity",
    "get_similarity",
    "register_similarity",
    "similarity_names",
]

SimilarityFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Similarity:
    """A registered similarity: its name, the function, and what it is invariant to."""

    name: str
    function: SimilarityFunction = field(repr=False)
    invariances: frozenset[str]
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"The similarity name must be a non-empty string, got {self.name!r}.")
        if not callable(self.function):
            raise TypeError(
                f"The similarity function for {self.name!r} must be callable, got "
                f"{self.function!r}."
            )
        invariances = declared(self.invariances, f"similarity {self.name!r}")
        object.__setattr__(self, "invariances", invariances)

    def __call__(self, x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        return self.function(x, anchors)


#: Every similarity ``relative_projection`` knows, by name.
SIMILARITIES: Registry[Similarity] = Registry(
    "similarity", hint="Register your own with relreps.register_similarity."
)


def register_similarity(
    name: str,
    function: SimilarityFunction,
    invariances: Iterable[str] = (),
    *,
    description: str = "",
    overwrite: bool = False,
) -> Similarity:
    """Register ``function`` under ``name`` so that ``relative_projection`` can use it.

    Parameters
    ----------
    name
        The name users pass as ``similarity=``.
    function
        ``function(x, anchors) -> (n, k)`` on torch tensors ``x: (n, d)``, ``anchors: (k, d)``.
        It receives validated inputs of one dtype and device and must not modify them.
    invariances
        Transformations (from :data:`INVARIANCES`) the output is invariant to; check the
        declaration with :func:`relreps.invariances.check_similarity`.
    description
        One line shown in listings.
    overwrite
        Replace an existing registration of the same name.

    Returns
    -------
    Similarity
        The registered entry.

    Examples
    --------
    >>> import torch, relreps
    >>> def negative_sq_euclidean(x, anchors):
    ...     return -torch.cdist(x, anchors) ** 2
    >>> entry = relreps.register_similarity(
    ...     "neg_sq_euclidean", negative_sq_euclidean,
    ...     invariances={"orthogonal", "translation", "permutation"})
    >>> relreps.relative_projection(torch.zeros(2, 3), torch.ones(4, 3), "neg_sq_euclidean").shape
    torch.Size([2, 4])
    >>> relreps.invariances.check_similarity("neg_sq_euclidean").ok
    True
    >>> _ = SIMILARITIES.remove("neg_sq_euclidean")
    """
    entry = Similarity(name, function, frozenset(invariances), description)
    return SIMILARITIES.add(name, entry, overwrite=overwrite)


def get_similarity(name: str | Similarity) -> Similarity:
    """Return the registered :class:`Similarity` called ``name`` (a ``Similarity`` passes as is)."""
    if isinstance(name, Similarity):
        return name
    return SIMILARITIES.get(name)


def similarity_names() -> tuple[str, ...]:
    """Names of all registered similarities, sorted."""
    return SIMILARITIES.names()


# --- built-in similarities ---------------------------------------------------------------------


def cosine(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    # Normalise the k anchors once and divide the (n, k) product by the n row norms: x itself is
    # never copied, which matters when x is the large side. The norms are right over the whole
    # range of the dtype (row_norms), so the invariance to scale holds at its extremes too.
    unit_anchors = unit_rows(anchors)
    out = x @ unit_anchors.T
    norms = row_norms(x)
    huge = ~torch.isfinite(norms)  # finite rows whose norm exceeds the dtype's range
    if out.requires_grad:
        out = out / nonzero(norms).unsqueeze(-1)
    else:
        out = out.div_(nonzero(norms).unsqueeze(-1))
    if bool(huge.any()):
        out = out.masked_scatter(huge.unsqueeze(-1), unit_rows(x[huge]) @ unit_anchors.T)
    return out


def inner(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    return x @ anchors.T


def euclidean(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    if x.requires_grad or anchors.requires_grad:
        return torch.cdist(x, anchors, p=2.0)  # its backward handles zero distances
    info = torch.finfo(x.dtype)
    x_norms, anchor_norms = row_norms(x), row_norms(anchors)
    # Squares overflow or underflow at the ends of the dtype's range: compute on rescaled copies
    # (a power of two, so the rescaling itself is exact) and scale the distances back.
    largest = float(torch.maximum(x_norms.max(), anchor_norms.max()))
    if largest > 0 and not info.tiny**0.5 / info.eps <= largest <= info.max**0.5 / 4:
        scale = safe_scale(x, anchors)
        return euclidean(x / scale, anchors / scale).mul_(scale)
    # Far from the origin compared with their spread, |x|^2 - 2 x.a + |a|^2 cancels away every
    # digit: move the origin to the anchors' mean first (distances do not change).
    mean = anchors.mean(dim=0)
    spread = float((anchors - mean).square().sum(dim=1).mean())
    if float(mean.square().sum()) > 1e4 * max(spread, info.tiny):
        return euclidean(x - mean, anchors - mean)
    # |x - a|^2 = |x|^2 - 2 x.a + |a|^2 in place on the (n, k) product: unlike torch.cdist, which
    # pads a copy of x with its norms, no (n, d) temporary.
    x_squared, anchor_squared = x_norms.square(), anchor_norms.square()
    out = x @ anchors.T
    out.mul_(-2.0).add_(x_squared.unsqueeze(-1)).add_(anchor_squared)
    # Where a squared distance is within rounding of |x|^2 + |a|^2 (a sample at or next to an
    # anchor) the expansion has no correct digit left: compute those few entries directly. One
    # pass over the rows' minima finds the rows that may hold one.
    noise = 16 * info.eps
    rows = torch.nonzero(out.amin(dim=1) <= noise * (x_squared + anchor_squared.max())).ravel()
    for start in range(0, len(rows), 1024):
        block = rows[start : start + 1024]
        close = out[block] <= noise * (x_squared[block].unsqueeze(-1) + anchor_squared)
        i, j = torch.nonzero(close, as_tuple=True)
        exact = torch.linalg.vector_norm(x[block[i]] - anchors[j], dim=-1)
        out[block[i], j] = exact.square()
    return out.clamp_(min=0.0).sqrt_()


def l1(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    return torch.cdist(x, anchors, p=1.0)


def linf(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    return torch.cdist(x, anchors, p=float("inf"))


def rbf(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    # The bandwidth is the median distance between distinct anchors, so it scales with the space
    # and the kernel is invariant to isotropic scaling as well as to isometries: at the ends of
    # the dtype's range it is computed on copies rescaled by a power of two.
    scale = safe_scale(x, anchors)
    if scale is not None:
        return rbf(x / scale, anchors / scale)
    k = anchors.shape[0]
    pairwise = torch.cdist(anchors, anchors)
    upper = pairwise[torch.triu_indices(k, k, offset=1, device=anchors.device).unbind(0)]
    upper = upper[upper > 0]
    if upper.numel() == 0:
        raise ValueError(
            "The 'rbf' similarity sets its bandwidth from the median distance between anchors and "
            f"needs at least two distinct anchors; got {k} anchor(s) with no positive distance."
        )
    bandwidth = upper.median()
    return torch.exp(-(torch.cdist(x, anchors) ** 2) / (2 * bandwidth**2))


def change_of_basis(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    # Least-squares (minimum-norm) coordinates c with c @ anchors ~= x. Directions with singular
    # values below sqrt(eps) of the largest count as absent: centred anchors are exactly rank
    # deficient, and rounding must not turn that null direction into huge coordinates.
    rtol = torch.finfo(anchors.dtype).eps ** 0.5
    return x @ torch.linalg.pinv(anchors, rtol=rtol)


register_similarity(
    "cosine",
    cosine,
    {"orthogonal", "isotropic_scaling", "permutation"},
    description="cosine similarity (the paper's choice); 0 for a zero vector",
)
register_similarity(
    "inner", inner, {"orthogonal", "permutation"}, description="inner product x . a"
)
register_similarity(
    "euclidean",
    euclidean,
    {"orthogonal", "translation", "permutation"},
    description="Euclidean (L2) distance to the anchor",
)
register_similarity(
    "l1", l1, {"translation", "permutation"}, description="L1 (Manhattan) distance to the anchor"
)
register_similarity(
    "linf",
    linf,
    {"translation", "permutation"},
    description="L-infinity (max-coordinate) distance to the anchor",
)
register_similarity(
    "rbf",
    rbf,
    {"orthogonal", "isotropic_scaling", "translation", "permutation"},
    description="Gaussian kernel, bandwidth = median distance between anchors",
)
register_similarity(
    "change_of_basis",
    change_of_basis,
    {"orthogonal", "isotropic_scaling", "permutation"},
    description="least-squares coordinates of x in the anchor basis (x @ pinv(anchors))",
)
