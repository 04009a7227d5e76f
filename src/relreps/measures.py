"""Measures of similarity between two row-aligned latent spaces (the same samples in both).

Measures compare spaces; metrics score models. Each measure is registered with the
transformations it is invariant to when they are applied to *one* of the two spaces (the other
unchanged), in the vocabulary of :mod:`relreps.invariances`; the declarations are checked both
ways by :func:`relreps.invariances.check_measure`, which the test suite runs on every registered
measure.

Neighbourhood measures (``jaccard_at_k``, ``cross_jaccard_at_k``, ``mrr_at_k``,
``mutual_knn_at_k``) use the exact cosine neighbours of :func:`relreps.neighbours.top_k`, in
bounded memory. ``linear_cka`` and ``mean_cosine`` accumulate sums over row blocks of about
``memory`` bytes, so numpy memmaps and Dask arrays larger than memory stream through them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from relreps._backend import (
    Array,
    as_tensor,
    is_dask,
    release_pages,
    row_norms,
    safe_scale,
    unit_rows,
)
from relreps._checks import check_finite, check_int, check_same_kind, parse_memory
from relreps._registry import Registry
from relreps.invariances import INVARIANCES, declared
from relreps.neighbours import DEFAULT_MEMORY, Backend, top_k

__all__ = [
    "MEASURES",
    "Measure",
    "NeighbourhoodAgreement",
    "cross_jaccard_at_k",
    "get_measure",
    "jaccard_at_k",
    "linear_cka",
    "mean_cosine",
    "measure_names",
    "mrr_at_k",
    "mutual_knn_at_k",
    "neighbourhood_agreement",
    "rbf_cka",
    "register_measure",
]

Memory = int | str | None


# --- registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """A registered measure: its name, the function, and what it is invariant to."""

    name: str
    function: Callable[..., float] = field(repr=False)
    invariances: frozenset[str]
    description: str = ""

    def __post_init__(self) -> None:
        if not callable(self.function):
            raise TypeError(f"The measure function for {self.name!r} must be callable.")
        invariances = declared(self.invariances, f"measure {self.name!r}")
        object.__setattr__(self, "invariances", invariances)

    def __call__(self, x: Array, y: Array, **kwargs) -> float:
        return self.function(x, y, **kwargs)


#: Every measure by name.
MEASURES: Registry[Measure] = Registry(
    "measure", hint="Register your own with relreps.measures.register_measure."
)


def register_measure(
    name: str,
    function: Callable[..., float],
    invariances: Iterable[str] = (),
    *,
    description: str = "",
    overwrite: bool = False,
) -> Measure:
    """Register ``function(x, y, **options) -> float`` under ``name``, with the
    transformations of one space it is invariant to (check them with
    :func:`relreps.invariances.check_measure`)."""
    entry = Measure(name, function, frozenset(invariances), description)
    return MEASURES.add(name, entry, overwrite=overwrite)


def _register(name: str, invariances: Iterable[str], description: str):
    def decorate(function):
        register_measure(name, function, invariances, description=description)
        return function

    return decorate


def measure_names() -> tuple[str, ...]:
    """Names of the registered measures, sorted."""
    return MEASURES.names()


def get_measure(name: str) -> Measure:
    """The registered :class:`Measure` called ``name``."""
    return MEASURES.get(name)


# --- input handling ----------------------------------------------------------------------------


def _paired(x: Array, y: Array, name: str, same_dim: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Both spaces as tensors of one dtype, validated. Dask inputs are computed into memory:
    exact neighbours need every row of the space they search."""
    x, y = (np.asarray(v) if is_dask(v) else v for v in (x, y))
    check_same_kind(x, y)
    xt, _ = as_tensor(x, "x")
    yt, _ = as_tensor(y, "y")
    _check_pair_shapes(tuple(xt.shape), tuple(yt.shape), name, same_dim)
    check_finite(xt, "x")
    check_finite(yt, "y")
    dtype = torch.promote_types(xt.dtype, yt.dtype)
    return xt.detach().to(dtype), yt.detach().to(device=xt.device, dtype=dtype)


def _block_sums(
    partial: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]],
    x: Any,
    y: Any,
    name: str,
    same_dim: bool,
    memory: Memory = None,
) -> tuple[tuple[torch.Tensor, ...], int]:
    """``sum(partial(x_block, y_block))`` over aligned row blocks, and the number of rows.

    Numpy arrays (memmaps included: the pages of each block are released after use), torch
    tensors and Dask arrays (see :func:`_lazy_block_sums`) all stream through blocks of about
    ``memory`` bytes, so the inputs never need to fit in memory.
    """
    if is_dask(x) or is_dask(y):
        return _lazy_block_sums(partial, x, y, name, same_dim)
    check_same_kind(x, y)
    x, y = _with_shape(x), _with_shape(y)
    _check_pair_shapes(tuple(x.shape), tuple(y.shape), name, same_dim)
    n = int(x.shape[0])
    # About two float64 copies of a block of rows of x and y fit in the budget.
    rows = max(1, _budget(memory) // (8 * 2 * (int(x.shape[1]) + int(y.shape[1]))))
    totals = None
    with torch.no_grad():
        for start in range(0, n, rows):
            xb, yb = x[start : start + rows], y[start : start + rows]
            part = partial(*_finite_block(xb, yb, start))
            totals = (
                part if totals is None else tuple(a + b for a, b in zip(totals, part, strict=True))
            )
            for view in (xb, yb):
                if isinstance(view, np.memmap):
                    release_pages(view)
    return totals, n


def _lazy_block_sums(
    partial: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]],
    x: Any,
    y: Any,
    name: str,
    same_dim: bool,
) -> tuple[tuple[torch.Tensor, ...], int]:
    """:func:`_block_sums` when ``x`` or ``y`` is a Dask array: one task per row chunk of the
    Dask one (the other is sliced to match), each returning its partial sums flattened into one
    float64 row, summed on the current scheduler. Only the array's own methods are used: nothing
    here imports dask."""
    x, y = _with_shape(x), _with_shape(y)
    _check_pair_shapes(tuple(x.shape), tuple(y.shape), name, same_dim)
    lead_is_x = is_dask(x)
    lead = (x if lead_is_x else y).rechunk({1: -1})
    other = y if lead_is_x else x
    extra = ()
    if is_dask(other):
        extra = (other.rechunk({0: lead.chunks[0], 1: -1}),)
    with torch.no_grad():  # the shapes of the partial sums, from one row of zeros
        probe = partial(
            torch.zeros(1, int(x.shape[1]), dtype=torch.float64),
            torch.zeros(1, int(y.shape[1]), dtype=torch.float64),
        )
    shapes = [tuple(p.shape) for p in probe]
    sizes = [int(np.prod(shape)) for shape in shapes]

    def block(lead_block, *others, block_info=None):
        start, stop = block_info[0]["array-location"][0]
        other_block = others[0] if others else np.asarray(other[start:stop])
        xb, yb = (lead_block, other_block) if lead_is_x else (other_block, lead_block)
        with torch.no_grad():
            parts = partial(*_finite_block(xb, yb, start))
        flat = [torch.as_tensor(p).reshape(-1).double().numpy() for p in parts]
        return np.concatenate(flat)[None, :]

    sums = lead.map_blocks(
        block,
        *extra,
        chunks=((1,) * len(lead.chunks[0]), (sum(sizes),)),
        dtype=np.float64,
        meta=np.empty((0, 0), dtype=np.float64),
    )
    flat = torch.from_numpy(np.asarray(sums.sum(axis=0)))  # computes, in parallel
    totals = tuple(
        part.reshape(shape) for part, shape in zip(flat.split(sizes), shapes, strict=True)
    )
    return totals, int(x.shape[0])


def _budget(memory: Memory) -> int:
    return DEFAULT_MEMORY if memory is None else parse_memory(memory)


def _with_shape(value: Any) -> Any:
    """Arrays, tensors and Dask arrays as they are; nested lists and the like as numpy."""
    return value if hasattr(value, "shape") else np.asarray(value)


def _finite_block(xb: Any, yb: Any, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    xt, _ = as_tensor(xb, "x")
    yt, _ = as_tensor(yb, "y")
    where = f" (in the rows from {start})" if start else ""
    check_finite(xt, "x" + where)
    check_finite(yt, "y" + where)
    return xt.detach(), yt.detach()


def _check_pair_shapes(xs: tuple, ys: tuple, name: str, same_dim: bool) -> None:
    if len(xs) != 2 or len(ys) != 2:
        raise ValueError(f"{name}: x and y must be 2-D (n, d); got {xs} and {ys}.")
    if xs[0] != ys[0]:
        raise ValueError(
            f"{name}: x has {xs[0]} rows but y has {ys[0]}; both must hold the same "
            "samples in the same order (restrict them to their shared samples first)."
        )
    if same_dim and xs[1] != ys[1]:
        raise ValueError(
            f"{name}: x has shape {xs} but y has {ys}; it compares the same samples in two "
            "spaces of equal dimension (project both onto parallel anchors first)."
        )
    if xs[0] == 0:
        raise ValueError(f"{name}: x and y are empty.")
    if xs[1] == 0 or ys[1] == 0:
        raise ValueError(
            f"{name}: x and y need at least one feature (column); got shapes {xs} and {ys}."
        )


def _check_k(k: int, n: int, exclude_self: bool, name: str) -> None:
    limit = n - 1 if exclude_self else n
    other = "other " if exclude_self else ""
    check_int(k, f"{name}: k", minimum=1, maximum=limit, why=f" (the number of {other}samples)")


def _own_neighbours(
    x: Array, y: Array, k: int, name: str, options: dict[str, Any]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's ``k`` nearest others within ``x`` and within ``y`` (row-aligned spaces of
    any widths)."""
    xt, yt = _paired(x, y, name, same_dim=False)
    _check_k(k, xt.shape[0], True, name)
    return (
        _neighbours(xt, xt, k, exclude_self=True, **options),
        _neighbours(yt, yt, k, exclude_self=True, **options),
    )


def _neighbours(queries: torch.Tensor, keys: torch.Tensor, k: int, **options: Any) -> torch.Tensor:
    """Indices of each query's ``k`` nearest keys by cosine (:func:`~relreps.neighbours.top_k`)."""
    return top_k(queries, keys, k, **options).indices


def _overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Size of the intersection of each row's index sets, ``(n,)``."""
    return (a.unsqueeze(2) == b.unsqueeze(1)).any(2).sum(1)


# --- neighbourhood measures --------------------------------------------------------------------

_NEIGHBOUR_INVARIANCES = {"orthogonal", "isotropic_scaling", "permutation"}


@_register("jaccard_at_k", _NEIGHBOUR_INVARIANCES, "Jaccard of each sample's k-NN sets in x and y")
def jaccard_at_k(
    x: Array,
    y: Array,
    k: int = 10,
    *,
    memory: Memory = None,
    chunk_size: int | None = None,
    backend: Backend = "torch",
) -> float:
    """Mean Jaccard index of each sample's ``k`` nearest neighbours in ``x`` and in ``y``.

    Neighbours by cosine, excluding the sample itself; ``x`` and ``y`` may differ in dimension.
    1 when the neighbourhoods coincide, about ``k / n`` for unrelated spaces.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(50, 4))
    >>> jaccard_at_k(x, 2 * x, k=5)
    1.0
    """
    options = {"memory": memory, "chunk_size": chunk_size, "backend": backend}
    a, b = _own_neighbours(x, y, k, "jaccard_at_k", options)
    return _jaccard_of_sets(a, b, k)


@_register("mutual_knn_at_k", _NEIGHBOUR_INVARIANCES, "shared fraction of k-NN in x and y")
def mutual_knn_at_k(
    x: Array,
    y: Array,
    k: int = 10,
    *,
    memory: Memory = None,
    chunk_size: int | None = None,
    backend: Backend = "torch",
) -> float:
    """Mean fraction of each sample's ``k`` nearest neighbours in ``x`` that are also among its
    ``k`` nearest in ``y`` (the mutual k-NN alignment of Huh et al., 2024). Cosine, self excluded.
    """
    options = {"memory": memory, "chunk_size": chunk_size, "backend": backend}
    a, b = _own_neighbours(x, y, k, "mutual_knn_at_k", options)
    return float(_overlap(a, b).double().mean() / k)


@_register("mrr_at_k", {"isotropic_scaling"}, "reciprocal rank of y[i] among x[i]'s top-k in y")
def mrr_at_k(
    x: Array,
    y: Array,
    k: int = 10,
    *,
    memory: Memory = None,
    chunk_size: int | None = None,
    backend: Backend = "torch",
) -> float:
    """Mean reciprocal rank of each sample's own row of ``y`` among the ``k`` rows of ``y`` most
    cosine-similar to its row of ``x`` (0 when absent from the top ``k``).

    Cross-space retrieval, as in the paper's Table 1: it needs ``x`` and ``y`` in the same
    coordinates, i.e. equal dimensions (relative spaces over parallel anchors qualify). The
    direction matters: ``mrr_at_k(x, y)`` queries with ``x`` and retrieves from ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(50, 4))
    >>> mrr_at_k(x, x, k=5)
    1.0
    """
    xt, yt = _paired(x, y, "mrr_at_k", same_dim=True)
    _check_k(k, xt.shape[0], False, "mrr_at_k")
    found = _neighbours(xt, yt, k, memory=memory, chunk_size=chunk_size, backend=backend)
    return _mrr_from(found, (k,))[k]


def _with_self(neighbours: torch.Tensor, k: int) -> torch.Tensor:
    """Each row's own index followed by its ``k - 1`` nearest others: the top-``k`` of a row among
    its own space, counting the row itself as its nearest neighbour."""
    own = torch.arange(neighbours.shape[0], device=neighbours.device).unsqueeze(1)
    return torch.cat([own, neighbours[:, : k - 1]], dim=1)


def _jaccard_of_sets(a: torch.Tensor, b: torch.Tensor, k: int) -> float:
    inter = _overlap(a, b).double()
    return float((inter / (2 * k - inter)).mean())


@_register(
    "cross_jaccard_at_k",
    {"isotropic_scaling"},
    "Jaccard of y[i]'s k-NN in y and x[i]'s k-NN retrieved in y (the paper's Table 1)",
)
def cross_jaccard_at_k(
    x: Array,
    y: Array,
    k: int = 10,
    *,
    memory: Memory = None,
    chunk_size: int | None = None,
    backend: Backend = "torch",
) -> float:
    """Mean Jaccard index, in the target space ``y``, of each sample's own ``k`` nearest rows
    (``y[i]``'s neighbours, itself included) and the ``k`` rows most cosine-similar to its source
    row ``x[i]`` (cross-space retrieval): ``J(kNN_y(y_i), kNN_y(x_i))``.

    This is the Jaccard of the paper's Table 1 as its code computes it: does querying the target
    space with the source vector find the neighbourhood the target vector has there? Two absolute
    spaces that differ by a rotation score about ``k / n``; relative spaces over parallel anchors
    can score 1 (``x == y`` scores 1). Like :func:`mrr_at_k` it needs equal dimensions, and the
    direction matters. :func:`jaccard_at_k` is the rotation-invariant, within-space variant.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(50, 4))
    >>> cross_jaccard_at_k(x, 3 * x, k=5)
    1.0
    """
    xt, yt = _paired(x, y, "cross_jaccard_at_k", same_dim=True)
    _check_k(k, xt.shape[0], False, "cross_jaccard_at_k")
    options = {"memory": memory, "chunk_size": chunk_size, "backend": backend}
    if k > 1:
        others = _neighbours(yt, yt, k - 1, exclude_self=True, **options)
    else:
        others = torch.empty((yt.shape[0], 0), dtype=torch.long, device=yt.device)
    return _jaccard_of_sets(_with_self(others, k), _neighbours(xt, yt, k, **options), k)


@_register("mean_cosine", {"isotropic_scaling"}, "mean of cos(x[i], y[i])")
def mean_cosine(x: Array, y: Array, *, memory: Memory = None) -> float:
    """Mean over rows of ``cos(x[i], y[i])``; zero rows count as cosine 0.

    Parameters
    ----------
    x, y
        Two spaces over the same samples, shape ``(n, d)`` each (numpy or torch, same kind;
        numpy memmaps and Dask arrays are read in row blocks).
    memory
        Working memory for one row block: bytes or a size such as ``"256MB"``.

    Returns
    -------
    float
        In ``[-1, 1]``; 1 when every row points the same way in both spaces. It compares
        coordinates directly, so two absolute spaces that differ by a rotation score near 0.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> mean_cosine(x, 3 * x), mean_cosine(x, -x)
    (1.0, -1.0)
    """

    def partial(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor]:
        return ((unit_rows(xb) * unit_rows(yb)).sum(1).double().sum(),)

    (total,), n = _block_sums(partial, x, y, "mean_cosine", True, memory)
    return float(total / n)


# --- CKA ---------------------------------------------------------------------------------------

_ALL = INVARIANCES


@_register("linear_cka", _ALL, "linear centred kernel alignment (feature-space form)")
def linear_cka(x: Array, y: Array, *, unbiased: bool = False, memory: Memory = None) -> float:
    """Linear CKA (Kornblith et al., 2019) in its feature-space form.

    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` on column-centred ``x`` ``(n, d1)`` and
    ``y`` ``(n, d2)``: O(n d^2) time and O(d^2) memory, never an ``(n, n)`` Gram matrix, so it
    scales to hundreds of thousands of samples. ``unbiased=True`` uses the unbiased HSIC
    estimator (Song et al., 2012), expanded so that it too needs no Gram matrix.

    The sums are accumulated over row blocks of about ``memory`` bytes, so ``x`` and
    ``y`` may be numpy memmaps or Dask arrays larger than memory (Dask blocks run in parallel on
    the current scheduler); the result equals the in-memory one to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(100, 5))
    >>> q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(5, 5)))
    >>> round(linear_cka(x, 3 * x @ q + 1), 6)
    1.0
    """
    x, y = _with_shape(x), _with_shape(y)
    _check_pair_shapes(tuple(x.shape), tuple(y.shape), "linear_cka", same_dim=False)
    if unbiased and x.shape[0] < 4:
        raise ValueError(f"linear_cka(unbiased=True) needs at least 4 samples, got {x.shape[0]}.")
    shift, scales = _first_block(x, y, unbiased)
    stats, n = _block_sums(
        lambda xb, yb: _cka_statistics(xb, yb, shift, scales),
        x,
        y,
        "linear_cka",
        False,
        memory,
    )
    s = dict(zip(_CKA_FIELDS, stats, strict=True))
    hsic = _hsic_unbiased if unbiased else _hsic_biased
    xy = hsic(s["gyx"], s["sx"], s["sy"], s["kd"], s["ld"], s["kdld"], s["kd_y"], s["ld_x"], n)
    xx = hsic(s["gxx"], s["sx"], s["sx"], s["kd"], s["kd"], s["kdkd"], s["kd_x"], s["kd_x"], n)
    yy = hsic(s["gyy"], s["sy"], s["sy"], s["ld"], s["ld"], s["ldld"], s["ld_y"], s["ld_y"], n)
    denominator = (xx * yy).sqrt()
    return float(xy / denominator) if denominator > 0 else 0.0


_CKA_FIELDS = (
    "sx", "sy", "gxx", "gyy", "gyx", "kd", "ld", "kdkd", "ldld", "kdld", "kd_x", "kd_y", "ld_x",
    "ld_y",
)  # fmt: skip


def _cka_statistics(
    x: torch.Tensor, y: torch.Tensor, shift, scales=(1.0, 1.0)
) -> tuple[torch.Tensor, ...]:
    """Sums over a row block from which linear CKA follows: column sums, the d x d cross
    products, and the row norms' sums and products (``kd``, ``ld``: squared row norms)."""
    x, y = x.to(torch.float64, copy=True), y.to(torch.float64, copy=True)
    if shift is not None:  # a common shift leaves the centred statistics unchanged
        x.sub_(shift[0])
        y.sub_(shift[1])
    if scales != (1.0, 1.0):  # CKA is invariant to rescaling either space
        x.div_(scales[0])
        y.div_(scales[1])
    kd = torch.linalg.vector_norm(x, dim=1).square_()
    ld = torch.linalg.vector_norm(y, dim=1).square_()
    return (
        x.sum(0), y.sum(0), x.T @ x, y.T @ y, y.T @ x,
        kd.sum(), ld.sum(), kd @ kd, ld @ ld, kd @ ld, kd @ x, kd @ y, ld @ x, ld @ y,
    )  # fmt: skip


def _hsic_biased(g_ba, s_a, s_b, ka, kb, kakb, ka_b, kb_a, n) -> torch.Tensor:
    # ||Bc^T Ac||_F^2 with Bc^T Ac = B^T A - s_b s_a^T / n (centring written with the sums).
    return (g_ba - torch.outer(s_b, s_a) / n).pow(2).sum()


def _hsic_unbiased(g_ba, s_a, s_b, ka, kb, kakb, ka_b, kb_a, n) -> torch.Tensor:
    # With K = a a^T and L = b b^T, their zero-diagonal versions K~, L~ and ones vector 1:
    # HSIC_u = [tr(K~L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3)),
    # every term written with the block sums of _cka_statistics, never an (n, n) matrix.
    trace = g_ba.pow(2).sum() - kakb
    k_total, l_total = s_a @ s_a - ka, s_b @ s_b - kb  # 1'K~1 and 1'L~1
    # 1'K~L~1 = sum_i (a_i.s_a - |a_i|^2)(b_i.s_b - |b_i|^2)
    rows = s_b @ g_ba @ s_a - ka_b @ s_b - kb_a @ s_a + kakb
    total = k_total * l_total / ((n - 1) * (n - 2))
    return (trace + total - 2.0 / (n - 2) * rows) / (n * (n - 3))


def _first_block(x: Any, y: Any, unbiased: bool) -> tuple[Any, tuple[float, float]]:
    """From the first rows of x and y: the column means subtracted before summing, so that large
    offsets do not cancel catastrophically (exact when the data is one block; ``None`` for the
    unbiased estimator, which works on raw sums), and for each space a power of two to divide
    by when its row norms are so large or small that fourth powers (the statistics' products of
    squared norms) would overflow or underflow float64 (1.0 otherwise)."""
    rows = min(int(x.shape[0]), _BLOCK_ROWS_FOR_SHIFT)
    if rows == 0:
        return None, (1.0, 1.0)
    means, scales = [], []
    for value in (x, y):
        head = value[:rows]
        head = np.asarray(head) if is_dask(head) else head
        tensor, _ = as_tensor(head, "x")
        if tensor.ndim != 2:
            return None, (1.0, 1.0)  # reported by _block_sums
        tensor = tensor.detach().to(torch.float64)
        mean = tensor.mean(0)
        means.append(mean)
        largest = float(row_norms(tensor if unbiased else tensor - mean).max())
        # non-finite rows are reported by _block_sums with the row that holds them
        inside = not math.isfinite(largest) or largest == 0 or 1e-30 <= largest <= 1e30
        scales.append(1.0 if inside else 2.0 ** math.floor(math.log2(largest)))
    return (None if unbiased else (means[0], means[1])), (scales[0], scales[1])


_BLOCK_ROWS_FOR_SHIFT = 4096


@_register("rbf_cka", _ALL, "CKA with Gaussian kernels (median-distance bandwidth), chunked")
def rbf_cka(
    x: Array,
    y: Array,
    *,
    bandwidth: float = 1.0,
    chunk_size: int | None = None,
    memory: Memory = None,
) -> float:
    """CKA with Gaussian kernels, each space's bandwidth ``bandwidth`` x its median distance.

    The ``(n, n)`` kernels are never held whole: row blocks of ``chunk_size`` rows (chosen to fit
    ``memory`` bytes when not given) accumulate the three centred-HSIC terms. O(n^2 d)
    time. The median distance is taken over at most 2,000 rows (exact for smaller inputs).
    """
    xt, yt = _paired(x, y, "rbf_cka", same_dim=False)
    xt, yt = xt.double(), yt.double()
    # rbf CKA is invariant to rescaling either space: keep squared distances inside float64
    xt, yt = (t / scale if (scale := safe_scale(t)) is not None else t for t in (xt, yt))
    n = xt.shape[0]
    if n < 2:
        raise ValueError("rbf_cka needs at least 2 samples.")
    if chunk_size is None:
        chunk_size = max(1, _budget(memory) // (2 * 8 * n))
    with torch.no_grad():
        gx = _median_distance(xt) * bandwidth
        gy = _median_distance(yt) * bandwidth
        sums = {"xy": 0.0, "xx": 0.0, "yy": 0.0}
        rows_x = torch.zeros(n, dtype=torch.float64)
        rows_y = torch.zeros(n, dtype=torch.float64)
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            kx = _gaussian(xt[start:stop], xt, gx)
            ky = _gaussian(yt[start:stop], yt, gy)
            sums["xy"] += float((kx * ky).sum())
            sums["xx"] += float((kx * kx).sum())
            sums["yy"] += float((ky * ky).sum())
            rows_x[start:stop] = kx.sum(1)
            rows_y[start:stop] = ky.sum(1)

    def centred(plain: float, a: torch.Tensor, b: torch.Tensor) -> float:
        # tr(K H L H) = sum(K*L) - 2/n (K1).(L1) + (1'K1)(1'L1)/n^2
        return plain - 2.0 / n * float(a @ b) + float(a.sum() * b.sum()) / n**2

    xy = centred(sums["xy"], rows_x, rows_y)
    xx = centred(sums["xx"], rows_x, rows_x)
    yy = centred(sums["yy"], rows_y, rows_y)
    denominator = (xx * yy) ** 0.5
    return xy / denominator if denominator > 0 else 0.0


def _median_distance(x: torch.Tensor, max_rows: int = 2000) -> torch.Tensor:
    sample = x
    if x.shape[0] > max_rows:
        generator = torch.Generator().manual_seed(0)
        sample = x[torch.randperm(x.shape[0], generator=generator)[:max_rows]]
    distances = torch.cdist(sample, sample)
    upper = distances[torch.triu_indices(len(sample), len(sample), offset=1).unbind(0)]
    median = upper.quantile(0.5)  # the usual median (mean of the middle two), as numpy
    return median if median > 0 else torch.ones((), dtype=x.dtype)


def _gaussian(a: torch.Tensor, b: torch.Tensor, bandwidth: torch.Tensor) -> torch.Tensor:
    return torch.exp(-torch.cdist(a, b).pow(2) / (2 * bandwidth**2))


# --- several neighbourhood measures at once ------------------------------------------------------


@dataclass(frozen=True)
class NeighbourhoodAgreement:
    """Jaccard, mutual k-NN and MRR (both directions) at several ``k``, from one k-NN pass each.

    ``mrr_xy[k]`` and ``cross_jaccard_xy[k]`` query with ``x`` and retrieve from ``y``; the
    cross-space fields are ``None`` when ``x`` and ``y`` differ in dimension (cross-space retrieval
    is undefined there).
    """

    ks: tuple[int, ...]
    jaccard: dict[int, float]
    mutual_knn: dict[int, float]
    mrr_xy: dict[int, float] | None
    mrr_yx: dict[int, float] | None
    cross_jaccard_xy: dict[int, float] | None = None
    cross_jaccard_yx: dict[int, float] | None = None


def neighbourhood_agreement(
    x: Array,
    y: Array,
    ks: tuple[int, ...] = (5, 10),
    *,
    memory: Memory = None,
    chunk_size: int | None = None,
    backend: Backend = "torch",
) -> NeighbourhoodAgreement:
    """Every neighbourhood measure at every ``k`` in ``ks``, each top-k search done once.

    Equal to calling :func:`jaccard_at_k`, :func:`mutual_knn_at_k`, and :func:`mrr_at_k` and
    :func:`cross_jaccard_at_k` in both directions, for each ``k``, at the cost of four
    top-``max(ks)`` searches.
    """
    xt, yt = _paired(x, y, "neighbourhood_agreement", same_dim=False)
    ks = tuple(sorted(set(ks)))
    top = ks[-1]
    _check_k(top, xt.shape[0], True, "neighbourhood_agreement")
    options = {"memory": memory, "chunk_size": chunk_size, "backend": backend}
    a = _neighbours(xt, xt, top, exclude_self=True, **options)
    b = _neighbours(yt, yt, top, exclude_self=True, **options)
    jaccard = {k: _jaccard_of_sets(a[:, :k], b[:, :k], k) for k in ks}
    mutual = {k: float(_overlap(a[:, :k], b[:, :k]).double().mean() / k) for k in ks}
    if xt.shape[1] != yt.shape[1]:
        return NeighbourhoodAgreement(ks, jaccard, mutual, None, None)
    xy = _neighbours(xt, yt, top, **options)
    yx = _neighbours(yt, xt, top, **options)
    return NeighbourhoodAgreement(
        ks,
        jaccard,
        mutual,
        _mrr_from(xy, ks),
        _mrr_from(yx, ks),
        {k: _jaccard_of_sets(_with_self(b, k), xy[:, :k], k) for k in ks},
        {k: _jaccard_of_sets(_with_self(a, k), yx[:, :k], k) for k in ks},
    )


def _mrr_from(found: torch.Tensor, ks: tuple[int, ...]) -> dict[int, float]:
    hits = (found == torch.arange(found.shape[0], device=found.device).unsqueeze(1)).double()
    reciprocal = hits / torch.arange(
        1, found.shape[1] + 1, dtype=torch.float64, device=found.device
    )
    return {k: float(reciprocal[:, :k].sum(1).mean()) for k in ks}
