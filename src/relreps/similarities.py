"""Similarity functions between samples and anchors, registered by name with their invariances.

A similarity maps ``x`` of shape ``(n, d)`` and ``anchors`` of shape ``(k, d)`` (both torch
tensors of one dtype and device, already validated) to ``(n, k)``. Each one declares which
transformations of the latent space (the vocabulary of :mod:`relreps.invariances`), applied to
samples and anchors together, leave its output unchanged. The declarations are checked both ways
by :func:`relreps.invariances.check_similarity`, which the test suite runs on every registered
similarity.

:func:`product_similarity` combines several (Cannistraci et al., ICLR 2024, "products of
invariances"): each part normalised over the anchor axis, then concatenated or summed. Its
declared invariances are derived from the parts' (their intersection, plus isotropic scaling for
parts that are positively homogeneous once normalised), so the same battery checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch

from relreps._backend import nonzero, row_norms, safe_scale, unit_rows
from relreps._registry import Registry
from relreps.invariances import INVARIANCES, declared

__all__ = [
    "AGGREGATIONS",
    "INVARIANCES",
    "NORMALIZATIONS",
    "SIMILARITIES",
    "Similarity",
    "get_similarity",
    "product_similarity",
    "register_similarity",
    "similarity_names",
]

SimilarityFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Similarity:
    """A registered similarity: its name, the function, and what it is invariant to.

    ``homogeneous``: ``f(s x, s a) = s^p f(x, a)`` for every ``s > 0`` and some ``p > 0``
    (distances, the inner product), so normalising its output over the anchors removes the scale.
    ``outputs_per_anchor``: columns per anchor (a concatenated product has one per part).
    """

    name: str
    function: SimilarityFunction = field(repr=False)
    invariances: frozenset[str]
    description: str = ""
    homogeneous: bool = False
    outputs_per_anchor: int = 1

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
    homogeneous: bool = False,
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
    homogeneous
        ``function(s * x, s * anchors) == s**p * function(x, anchors)`` for ``s > 0`` and some
        ``p > 0`` (checked by the battery); a normalised product then adds isotropic scaling.
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
    entry = Similarity(name, function, frozenset(invariances), description, bool(homogeneous))
    return SIMILARITIES.add(name, entry, overwrite=overwrite)


def get_similarity(name: str | Similarity | Sequence[str | Similarity]) -> Similarity:
    """Return the registered :class:`Similarity` called ``name`` (a ``Similarity`` passes as is;
    a list or tuple of them is their :func:`product_similarity`, concatenated)."""
    if isinstance(name, Similarity):
        return name
    if isinstance(name, (list, tuple)):
        return product_similarity(name)
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
    # The pseudo-inverse is taken in float64 whatever the input (its rounding grows with the
    # anchors' condition number: in float32 a poorly conditioned set loses 1e-4 relative).
    rtol = torch.finfo(anchors.dtype).eps ** 0.5
    return x @ torch.linalg.pinv(anchors.double(), rtol=rtol).to(x.dtype)


register_similarity(
    "cosine",
    cosine,
    {"orthogonal", "isotropic_scaling", "permutation"},
    description="cosine similarity (the paper's choice); 0 for a zero vector",
)
register_similarity(
    "inner",
    inner,
    {"orthogonal", "permutation"},
    description="inner product x . a",
    homogeneous=True,
)
register_similarity(
    "euclidean",
    euclidean,
    {"orthogonal", "translation", "permutation"},
    description="Euclidean (L2) distance to the anchor",
    homogeneous=True,
)
register_similarity(
    "l1",
    l1,
    {"translation", "permutation"},
    description="L1 (Manhattan) distance to the anchor",
    homogeneous=True,
)
register_similarity(
    "linf",
    linf,
    {"translation", "permutation"},
    description="L-infinity (max-coordinate) distance to the anchor",
    homogeneous=True,
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


# --- products of invariances ------------------------------------------------------------------

#: How :func:`product_similarity` combines its normalised parts: side by side (``m * k``
#: columns) or summed (``k`` columns).
AGGREGATIONS: tuple[str, ...] = ("concat", "sum")
#: How each part is normalised over the anchor axis before aggregation: ``"layernorm"`` (minus the
#: row's mean over the anchors, divided by its standard deviation; a constant row becomes 0) or
#: ``None``.
NORMALIZATIONS: tuple[str | None, ...] = ("layernorm", None)


def layer_norm(r: torch.Tensor) -> torch.Tensor:
    """``r`` standardised over its last (anchor) axis, without learned parameters."""
    centred = r - r.mean(dim=-1, keepdim=True)
    std = centred.square().mean(dim=-1, keepdim=True).sqrt()
    tiny = torch.finfo(r.dtype).tiny ** 0.5
    return centred / torch.where(std > tiny, std, torch.ones_like(std))


def product_similarity(
    parts: Sequence[str | Similarity],
    *,
    aggregate: str = "concat",
    normalize: str | None = "layernorm",
) -> Similarity:
    """Several similarities to the same anchors as one (a product of invariances).

    Parameters
    ----------
    parts
        Two or more registered names or :class:`Similarity` objects, e.g.
        ``("cosine", "euclidean", "l1", "linf")`` (Cannistraci et al.'s set).
    aggregate
        ``"concat"`` (default; ``m * k`` columns, part by part) or ``"sum"`` (``k`` columns).
    normalize
        ``"layernorm"`` (default): each part standardised over the anchors first, which makes the
        distance parts scale-free and puts all parts on one scale; ``None``: raw parts.

    Returns
    -------
    Similarity
        Usable wherever a similarity is (``relative_projection``, ``RelativeProjection``,
        ``RelativeTransformer``, ``project_to_file``, the invariance battery). Its invariances:
        those every part has, where a homogeneous part (:attr:`Similarity.homogeneous`) counts
        as scale-invariant once normalised.

    Examples
    --------
    >>> import numpy as np, relreps
    >>> from relreps.similarities import product_similarity
    >>> both = product_similarity(("cosine", "euclidean"))
    >>> sorted(both.invariances)
    ['isotropic_scaling', 'orthogonal', 'permutation']
    >>> rng = np.random.default_rng(0)
    >>> x, anchors = rng.normal(size=(5, 8)), rng.normal(size=(4, 8))
    >>> relreps.relative_projection(x, anchors, ("cosine", "euclidean")).shape
    (5, 8)
    """
    if isinstance(parts, (str, Similarity)) or not isinstance(parts, Sequence):
        raise TypeError(
            f"parts must be a list or tuple of similarities, got {parts!r}; for one similarity "
            "pass its name to relative_projection directly."
        )
    entries = [get_similarity(part) for part in parts]
    if len(entries) < 2:
        raise ValueError(f"A product needs at least two similarities, got {len(entries)}.")
    if aggregate not in AGGREGATIONS:
        raise ValueError(f"aggregate must be one of {AGGREGATIONS}, got {aggregate!r}.")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}.")
    if aggregate == "sum" and normalize is None:
        raise ValueError(
            "Summing raw parts mixes their units (a cosine in [-1, 1] with a distance that scales "
            "with the space): use normalize='layernorm', or aggregate='concat'."
        )
    invariances = frozenset(INVARIANCES)
    for entry in entries:
        own = entry.invariances
        if normalize == "layernorm" and entry.homogeneous:
            own = own | {"isotropic_scaling"}
        invariances &= own
    per_anchor = sum(e.outputs_per_anchor for e in entries) if aggregate == "concat" else 1

    def function(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        if normalize == "layernorm" and anchors.shape[0] < 2:
            raise ValueError(
                "Normalising each part over the anchors needs at least 2 anchors (with one, every "
                "value becomes 0); add anchors or pass normalize=None."
            )
        outputs = [entry(x, anchors) for entry in entries]
        if normalize == "layernorm":
            outputs = [layer_norm(out) for out in outputs]
        if aggregate == "concat":
            return torch.cat(outputs, dim=-1)
        if any(out.shape != outputs[0].shape for out in outputs):
            raise ValueError("Summed parts must have one column per anchor each.")
        return torch.stack(outputs).sum(dim=0)

    name = f"{aggregate}({', '.join(e.name for e in entries)})"
    if normalize is None:
        name = f"{aggregate}-raw({', '.join(e.name for e in entries)})"
    description = (
        f"{'concatenated' if aggregate == 'concat' else 'summed'} "
        f"{'layer-normalised ' if normalize else ''}parts: {', '.join(e.name for e in entries)}"
    )
    # Not declared homogeneous: raw parts may scale with different powers (a distance and an
    # inner product), and normalised ones do not scale at all.
    return Similarity(name, function, invariances, description, False, per_anchor)
