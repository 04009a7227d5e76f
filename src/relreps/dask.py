"""Dask at the edge: embeddings on disk as lazy Dask arrays.

The core takes Dask arrays as they are: :func:`relreps.relative_projection` of a Dask array is a
lazy Dask array with the same row chunks, and :func:`relreps.measures.linear_cka` and
:func:`~relreps.measures.mean_cosine` sum their statistics over its chunks on the current
scheduler (neither imports dask; they use the array's own methods). This module turns any row
source relreps reads (a ``.npy`` file, a folder of shards, a zarr store) into such an array, so a
whole pipeline stays lazy. Clusters: :func:`relreps.blockwise.project_to_file` with
``scheduler=``. Needs ``pip install 'relreps[dask]'``.

Examples
--------
>>> import numpy as np, relreps, relreps.dask
>>> x = relreps.dask.from_rows(np.arange(12.0).reshape(6, 2), chunk_rows=4)
>>> x.chunks
((4, 2), (2,))
>>> relreps.relative_projection(x, np.eye(2)).compute().shape
(6, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["from_rows", "require_dask"]


def require_dask(what: str = "Dask arrays") -> Any:
    """The ``dask`` package with ``dask.array`` loaded, or an ImportError naming the extra."""
    try:
        import dask
        import dask.array
    except ImportError:
        raise ImportError(
            f"{what} need dask: pip install 'dask[array]' (or 'relreps[dask]')."
        ) from None
    return dask


class _Rows:
    """A row source as the array-like ``dask.array.from_array`` reads (shape, dtype, slicing)."""

    def __init__(self, rows: Any) -> None:
        self.rows = rows
        self.shape = (rows.n_rows, rows.dim)
        self.dtype = rows.dtype
        self.ndim = 2

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        row_key = key[0]
        if isinstance(row_key, slice) and row_key.step in (None, 1):
            start, stop, _ = row_key.indices(self.rows.n_rows)
            block = self.rows.read(start, max(start, stop))
        else:
            block = self.rows.read(0, self.rows.n_rows)[row_key]
        return block[(slice(None), *key[1:])] if len(key) > 1 else block


def from_rows(source: Any, *, chunk_rows: int = 65_536) -> Any:
    """A lazy ``(n, d)`` Dask array over ``source``, ``chunk_rows`` rows per chunk.

    ``source`` is anything :func:`relreps.storage.open_rows` reads: a ``.npy`` path (read with
    positioned reads, never memory-mapped), a folder of ``.npy`` shards, a zarr store, a numpy
    array or memmap.
    """
    from relreps._checks import check_int
    from relreps.storage import open_rows

    dask = require_dask()
    check_int(chunk_rows, "chunk_rows", minimum=1)
    rows = open_rows(source)
    return dask.array.from_array(
        _Rows(rows), chunks=(chunk_rows, rows.dim), name=False, asarray=True
    )
