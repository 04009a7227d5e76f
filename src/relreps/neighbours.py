"""Exact nearest neighbours by cosine similarity, in bounded memory.

:func:`top_k` returns, for each query row, the ``k`` key rows most cosine-similar to it and their
similarities. It is exact: the similarities are computed tile by tile (each tile at most the
``memory`` budget) and a running top-k is kept per query; once a query's k-th best is known,
a later tile is read again only where it beats it. When the queries are the keys (the same
array, or equal rows with ``exclude_self``) the similarity matrix is symmetric and only the tiles
on and above the diagonal are computed, each serving the rows of both its blocks, which halves
the work. ``backend="faiss"`` uses faiss's exact ``IndexFlatIP`` instead when it is installed.

Measures of neighbourhood agreement (:mod:`relreps.measures`), cross-space retrieval and sparse
relative representations are built on it.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal, NamedTuple

import numpy as np
import torch

from relreps._backend import Array, as_tensor, restore, unit_rows
from relreps._checks import check_choice, check_finite, check_int, check_same_kind, parse_memory

__all__ = ["DEFAULT_MEMORY", "Backend", "TopK", "top_k"]

Backend = Literal["torch", "faiss"]
#: Bytes for one tile of similarities when no ``memory`` is given.
DEFAULT_MEMORY = 128 * 2**20


class TopK(NamedTuple):
    """The ``k`` nearest keys of each query, best first: row indices into the keys, ``(n, k)``
    int64, and their cosine similarities, ``(n, k)``; numpy or torch like the queries."""

    indices: Array
    values: Array


def top_k(
    queries: Array,
    keys: Array,
    k: int,
    *,
    exclude_self: bool = False,
    memory: int | str | None = None,
    chunk_size: int | None = None,
    backend: Backend = "torch",
) -> TopK:
    """The ``k`` keys most cosine-similar to each query, and their similarities, best first.

    Parameters
    ----------
    queries
        Shape ``(n, d)``, numpy or torch.
    keys
        Shape ``(m, d)``, the same kind as ``queries``.
    k
        Neighbours per query, ``1 <= k <= m`` (``m - 1`` with ``exclude_self``).
    exclude_self
        Queries and keys are the same rows: never return a query's own row.
    memory
        Budget for one tile of similarities: bytes or a size such as ``"256MB"`` (default
        :data:`DEFAULT_MEMORY`). The engine's memory beyond its output is about this much.
    chunk_size
        Rows per tile instead of a budget (tests and tuning).
    backend
        ``"torch"`` (the tiled engine) or ``"faiss"`` (``faiss.IndexFlatIP``, float32).

    Returns
    -------
    TopK
        ``indices`` (int64) and ``values`` (the queries' float dtype), each ``(n, k)``, numpy
        for numpy queries and torch (on the queries' device) for torch ones. Zero rows have
        cosine 0 with everything. Equal similarities may come in another order than a full sort.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> found = top_k(x, x, 1, exclude_self=True)
    >>> found.indices.ravel().tolist(), np.round(found.values.ravel(), 3).tolist()
    ([1, 0, 1], [0.994, 0.994, 0.11])
    """
    check_same_kind(queries, keys, ("queries", "keys"))
    q, kind = as_tensor(queries, "queries")
    keys_t, _ = as_tensor(keys, "keys")
    if q.ndim != 2 or keys_t.ndim != 2 or q.shape[1] != keys_t.shape[1] or q.shape[1] == 0:
        raise ValueError(
            f"top_k needs queries (n, d) and keys (m, d) of the same width d >= 1; got shapes "
            f"{tuple(q.shape)} and {tuple(keys_t.shape)}."
        )
    q, keys_t = q.detach(), keys_t.detach()
    dtype = torch.promote_types(q.dtype, keys_t.dtype)
    q, keys_t = q.to(dtype), keys_t.to(device=q.device, dtype=dtype)
    n, n_keys = q.shape[0], keys_t.shape[0]
    if exclude_self and n != n_keys:
        raise ValueError(
            f"exclude_self needs queries and keys to be the same rows; got {n} queries and "
            f"{n_keys} keys."
        )
    if n_keys == 0:
        raise ValueError("keys is empty (0 rows): top_k needs at least one key to choose from.")
    limit = n_keys - 1 if exclude_self else n_keys
    why = f" (the number of {'other ' if exclude_self else ''}rows to choose from)"
    check_int(k, "k", minimum=1, maximum=limit, why=why)
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size (rows per tile)", minimum=1)
    budget = DEFAULT_MEMORY if memory is None else parse_memory(memory)
    check_choice(backend, "backend", ("torch", "faiss"))
    check_finite(q, "queries")
    check_finite(keys_t, "keys")
    if n == 0:  # no queries: no neighbours
        empty = torch.empty((0, k), dtype=torch.long, device=q.device)
        return TopK(restore(empty, kind), restore(empty.to(q.dtype), kind))
    if backend == "faiss":
        indices, values = _faiss_top_k(q, keys_t, k, exclude_self)
    else:
        with torch.no_grad():
            indices, values = _torch_top_k(q, keys_t, k, exclude_self, chunk_size, budget)
    return TopK(restore(indices, kind), restore(values, kind))


def _torch_top_k(
    q: torch.Tensor,
    keys: torch.Tensor,
    k: int,
    exclude_self: bool,
    chunk_size: int | None,
    budget: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    n, n_keys = q.shape[0], keys.shape[0]
    if _same_rows(q, keys, exclude_self):
        # Tiles of a quarter of the rows or less (10 of the 16 tiles are computed), as large as
        # the budget allows; below 1,024 rows one tile does it all.
        side = chunk_size or min(
            max(1, math.isqrt(budget // q.element_size())), max(1024, -(-n // 4))
        )
        return _symmetric_top_k(unit_rows(q), k, exclude_self, min(side, n))
    if chunk_size is not None:
        rows, first, cols = chunk_size, n_keys, n_keys
    else:
        rows, first, cols = _tile_shape(n, n_keys, budget // q.element_size())
    return _tiled_top_k(q, unit_rows(keys), k, exclude_self, rows, cols, first)


def _same_rows(q: torch.Tensor, keys: torch.Tensor, exclude_self: bool) -> bool:
    """Whether ``q`` and ``keys`` hold the same rows (checked by value only under
    ``exclude_self``, which already asserts it; the check costs one pass over the data)."""
    if q.shape != keys.shape or q.dtype != keys.dtype or q.device != keys.device:
        return False
    if q.data_ptr() == keys.data_ptr() and q.stride() == keys.stride():
        return True
    return exclude_self and bool(torch.equal(q, keys))


def _tile_shape(n: int, n_keys: int, elements: int) -> tuple[int, int, int]:
    """Query rows and key columns of the similarity tiles, at most ``elements`` entries each:
    ``(rows, first, cols)``, the first tile of a row block ``first`` keys wide and the others
    ``cols``. All keys at once while that leaves room for a few hundred queries (one pass, no
    merging); else up to 4,096 rows, a first tile as wide as the budget allows (it sets each
    row's running k-th best, :func:`_tiled_top_k`) and tiles of 2,048 keys after it: a product
    with many rows and a tile of some tens of MB runs at about 1.4x the rate of 1,024 x 32,768
    tiles on one core (50-57 against 36-41 GFLOP/s at 64 dimensions), and the running threshold
    keeps the selection on narrow tiles cheap (``benchmarks/bench_sparse.py``: 1.04-1.39x faiss
    at 20k x 200k, 0.87-1.35x at 100k x 1M, was 1.90x with 1,024-row tiles and a grouped top-k
    on every tile).
    """
    elements = max(1, elements)
    if elements // n_keys >= min(n, 512):
        rows = min(n, elements // n_keys)
        return rows, n_keys, n_keys
    cols = min(n_keys, 2048)
    rows = min(n, 4096, max(1, elements // cols))
    return rows, max(cols, min(n_keys, elements // rows)), cols


def _merge_top_k(
    values: torch.Tensor,
    indices: torch.Tensor,
    rows: slice,
    new_values: torch.Tensor,
    new_indices: torch.Tensor,
) -> None:
    """Fold candidates into the running top-k of ``rows`` (best first), in place."""
    k = values.shape[1]
    both = torch.cat([values[rows], new_values], dim=1)
    best = both.topk(k, dim=1)
    indices[rows] = torch.cat([indices[rows], new_indices], dim=1).gather(1, best.indices)
    values[rows] = best.values


def _running_state(n: int, k: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    values = torch.full((n, k), -float("inf"), dtype=like.dtype, device=like.device)
    return values, torch.zeros((n, k), dtype=torch.long, device=like.device)


def _similarity_tile(a: torch.Tensor, b: torch.Tensor, buffer: torch.Tensor) -> torch.Tensor:
    """``a @ b.T`` written into the front of ``buffer``, one reused allocation: a fresh one per
    tile costs page faults that are a sizeable share of the matmul's own time on CPU."""
    shape = (a.shape[0], b.shape[0])
    return torch.mm(a, b.T, out=buffer[: shape[0] * shape[1]].view(shape))


def _tiled_top_k(
    q: torch.Tensor,
    unit_keys: torch.Tensor,
    k: int,
    exclude_self: bool,
    rows: int,
    cols: int,
    first_cols: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of each query among the unit keys, a row block at a time (queries are normalised
    a block at a time, so no normalised copy of all of them is made): the block's first tile
    (``first_cols`` keys, default ``cols``) gives each row a running top k; in every later tile
    only the similarities above the row's running k-th best can enter it (:func:`_above`).
    Those are gathered over several tiles and folded in about k per row at a time."""
    n, n_keys = q.shape[0], unit_keys.shape[0]
    rows, cols = min(rows, n), min(cols, n_keys)
    first_cols = min(max(first_cols or cols, cols), n_keys)
    buffer = torch.empty(rows * first_cols, dtype=q.dtype, device=q.device)
    values, indices = _running_state(n, k, q)
    edges = [0, *range(first_cols, n_keys, cols), n_keys]
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        block = slice(start, stop)
        chunk = unit_rows(q[block])
        pending: list[tuple[torch.Tensor, torch.Tensor]] = []
        for first, last in itertools.pairwise(edges):
            tile = _similarity_tile(chunk, unit_keys[first:last], buffer)
            if exclude_self:
                _mask_self(tile, start, first)
            if first == 0 or tile.is_cuda:
                found = _row_top_k(tile, min(k, tile.shape[1]))
                _merge_top_k(values, indices, block, tile.gather(1, found), found + first)
                continue
            above = _above(tile, values[block, -1])
            if above is not None:
                pending.append((above[0], above[1] + first))
            if pending and (sum(v.shape[1] for v, _ in pending) >= k or last == n_keys):
                new_values = torch.cat([v for v, _ in pending], dim=1)
                new_indices = torch.cat([i for _, i in pending], dim=1)
                _merge_top_k(values, indices, block, new_values, new_indices)
                pending = []
    return indices, values


def _above(
    block: torch.Tensor, threshold: torch.Tensor, group: int = 8
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The entries of each row of ``block`` above its ``threshold``: ``(values, columns)``,
    ``(rows, most in a row)``, padded with -inf (column 0); ``None`` when there are none.

    Found without reading every entry twice: a max-pooling pass gives the maximum of each run of
    ``group`` columns, and only the runs whose maximum exceeds the row's threshold are read
    again. Once a row's k-th best is known, few entries of a later tile exceed it, so this costs
    little beyond that one pass.
    """
    rows, n = block.shape
    whole = n - n % group
    bound = threshold.unsqueeze(1)
    offsets = torch.arange(group, device=block.device)
    parts = []
    if whole:
        maxima = torch.nn.functional.max_pool1d(block[:, :whole].unsqueeze(1), group).squeeze(1)
        row, run = torch.nonzero(maxima > bound, as_tuple=True)
        column = (run * group).unsqueeze(1) + offsets  # (runs, group)
        where = ((row * n).unsqueeze(1) + column).ravel()  # index_select: 10x faster than [...]
        value = block.view(-1).index_select(0, where).view(-1, group)
        hits = torch.nonzero((value > threshold[row].unsqueeze(1)).ravel()).squeeze(1)
        parts.append((row[hits // group], column.ravel()[hits], value.ravel()[hits]))
    if n > whole:  # the last n % group columns form no whole run: read them all
        row, column = torch.nonzero(block[:, whole:] > bound, as_tuple=True)
        parts.append((row, column + whole, block[row, column + whole]))
    row, column, value = (torch.cat(p) for p in zip(*parts, strict=True))
    if len(row) == 0:
        return None
    if len(parts) > 1:  # the tail's entries come after every run's: order them by row
        order = torch.argsort(row, stable=True)
        row, column, value = row[order], column[order], value[order]
    counts = torch.bincount(row, minlength=rows)
    position = torch.arange(len(row), device=block.device) - (counts.cumsum(0) - counts)[row]
    width = int(counts.max())
    values = torch.full((rows, width), -float("inf"), dtype=block.dtype, device=block.device)
    columns = torch.zeros((rows, width), dtype=torch.long, device=block.device)
    values[row, position], columns[row, position] = value, column
    return values, columns


def _symmetric_top_k(
    unit: torch.Tensor, k: int, exclude_self: bool, side: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of each row of ``unit @ unit.T`` from the tiles on and above the diagonal: a tile
    gives its row block candidates along its rows and its column block candidates along its
    columns (the tile below the diagonal is its transpose)."""
    n = unit.shape[0]
    values, indices = _running_state(n, k, unit)
    buffer = torch.empty(side * side, dtype=unit.dtype, device=unit.device)
    for start in range(0, n, side):
        stop = min(start + side, n)
        for first in range(start, n, side):
            last = min(first + side, n)
            tile = _similarity_tile(unit[start:stop], unit[first:last], buffer)
            if exclude_self and first == start:
                _mask_self(tile, start, first)
            found = _row_top_k(tile, min(k, tile.shape[1]))
            _merge_top_k(values, indices, slice(start, stop), tile.gather(1, found), found + first)
            if first != start:
                found = _column_top_k(tile, min(k, tile.shape[0]))
                _merge_top_k(
                    values, indices, slice(first, last), tile.gather(0, found.T).T, found + start
                )
    return indices, values


def _mask_self(tile: torch.Tensor, start: int, first: int) -> None:
    """Set the entries of ``tile`` (rows from ``start``, columns from ``first``) that compare a
    row with itself to -inf."""
    lo, hi = max(start, first), min(start + tile.shape[0], first + tile.shape[1])
    if lo < hi:
        own = torch.arange(lo, hi, device=tile.device)
        tile[own - start, own - first] = -float("inf")


def _row_top_k(block: torch.Tensor, k: int, groups: int = 16) -> torch.Tensor:
    """``block.topk(k, dim=1).indices`` for a wide block, reading it about once.

    The columns are split into ``m = n // groups`` strided groups (group ``j`` holds columns
    ``j, j + m, j + 2m, ...``); one elementwise-max pass gives every group's maximum. An element
    of a row's top k lies in one of the k groups with the largest maxima (otherwise k larger
    maxima, i.e. k larger elements, would exist), so the top k of those ``k * groups``
    candidates, plus the ``n - groups * m`` leftover columns, is the answer. Equal values may be
    returned in another order than ``torch.topk`` would.
    """
    rows, n = block.shape
    m = n // groups
    if m < 4 * k or block.is_cuda:  # narrow blocks, or a GPU: topk itself is fast there
        return block.topk(k, dim=1).indices
    maxima = block[:, : groups * m].view(rows, groups, m).amax(dim=1)
    best_groups = maxima.topk(k, dim=1, sorted=False).indices
    offsets = m * torch.arange(groups, device=block.device)
    columns = (best_groups.unsqueeze(2) + offsets).reshape(rows, k * groups)
    if n > groups * m:
        leftover = torch.arange(groups * m, n, device=block.device)
        columns = torch.cat([columns, leftover.expand(rows, -1)], dim=1)
    best = block.gather(1, columns).topk(k, dim=1).indices
    return columns.gather(1, best)


def _column_top_k(block: torch.Tensor, k: int, groups: int = 16) -> torch.Tensor:
    """``block.topk(k, dim=0).indices.T``, ``(columns, k)``: :func:`_row_top_k` along the other
    axis. Rows form ``m = n // groups`` strided groups; one elementwise max over ``groups``
    contiguous slabs of rows gives every group's maximum per column."""
    n, cols = block.shape
    m = n // groups
    if m < 4 * k or block.is_cuda:
        return block.topk(k, dim=0).indices.T
    maxima = block[: groups * m].view(groups, m, cols).amax(dim=0)
    best_groups = maxima.topk(k, dim=0, sorted=False).indices
    offsets = m * torch.arange(groups, device=block.device).view(groups, 1, 1)
    candidates = (best_groups.unsqueeze(0) + offsets).reshape(groups * k, cols)
    if n > groups * m:
        leftover = torch.arange(groups * m, n, device=block.device).unsqueeze(1)
        candidates = torch.cat([candidates, leftover.expand(-1, cols)], dim=0)
    best = block.gather(0, candidates).topk(k, dim=0).indices
    return candidates.gather(0, best).T


def _faiss_top_k(
    q: torch.Tensor, keys: torch.Tensor, k: int, exclude_self: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        import faiss
    except ImportError:
        raise ImportError(
            "backend='faiss' needs faiss: pip install faiss-cpu (or 'relreps[faiss]')."
        ) from None
    unit_keys = np.ascontiguousarray(unit_rows(keys.float().cpu()).numpy())
    unit_q = np.ascontiguousarray(unit_rows(q.float().cpu()).numpy())
    index = faiss.IndexFlatIP(unit_keys.shape[1])
    index.add(unit_keys)
    similarities, found = index.search(unit_q, k + 1 if exclude_self else k)
    found, similarities = torch.from_numpy(found), torch.from_numpy(similarities)
    if exclude_self:
        own = found == torch.arange(len(found)).unsqueeze(1)
        # Drop each row's own index (or, if faiss ranked it below k, the last one).
        drop = torch.where(own.any(1), own.float().argmax(1), torch.full((len(found),), k))
        keep = torch.ones_like(found, dtype=torch.bool)
        keep[torch.arange(len(found)), drop] = False
        found = found[keep].reshape(len(found), k)
        similarities = similarities[keep].reshape(len(found), k)
    return found.to(q.device), similarities.to(device=q.device, dtype=q.dtype)
