"""Dask at the edge: lazy relative projection of Dask arrays, and projection on a cluster.

Nothing here is imported unless a Dask array or a scheduler is given; ``dask`` (and
``distributed`` for clusters) come with ``pip install 'relreps[dask]'``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def require_dask(what: str = "Dask arrays"):
    try:
        import dask
        import dask.array
    except ImportError:
        raise ImportError(
            f"{what} need dask: pip install 'dask[array]' (or 'relreps[dask]')."
        ) from None
    return dask


def relative_projection(x: Any, anchors: Any, similarity: Any, *, center: Any) -> Any:
    """Lazy ``relreps.relative_projection`` of a Dask array ``(n, d)``, chunked by rows.

    Each row chunk is projected on its own (columns are merged into one chunk first), so the
    result is a Dask array ``(n, k)`` with the same row chunks, equal to the in-memory result.
    """
    require_dask()
    from relreps.projection import relative_projection as project

    if hasattr(anchors, "detach"):
        raise TypeError(
            "x is a Dask array but anchors is a torch.Tensor: pass the anchors as a numpy array."
        )
    anchors = np.asarray(anchors.compute() if hasattr(anchors, "compute") else anchors)
    if x.ndim != 2:
        raise ValueError(f"A Dask x must be 2-D (n_samples, dim), got shape {x.shape}.")
    if anchors.ndim != 2 or x.shape[1] != anchors.shape[1]:
        raise ValueError(
            f"anchors of shape {anchors.shape} do not match x with {x.shape[1]} columns: anchors "
            "must be 2-D and embedded by the same encoder as x."
        )
    dtype = np.result_type(x.dtype, anchors.dtype)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    x = x.rechunk({1: -1})
    return x.map_blocks(
        lambda block: project(block, anchors, similarity, center=center),
        chunks=(x.chunks[0], (anchors.shape[0],)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )


def block_sums(function, x: Any, y: Any, rows: int | None = None) -> Any:
    """``sum(function(x_block, y_block))`` over aligned row blocks of two Dask arrays, computed
    in parallel on the current scheduler. ``function`` returns a tuple of arrays/scalars."""
    require_dask()
    import dask

    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}: they must match.")
    x = x.rechunk({1: -1})
    y = y.rechunk({0: x.chunks[0], 1: -1})
    parts = [
        dask.delayed(function)(xb, yb)
        for xb, yb in zip(x.to_delayed().ravel(), y.to_delayed().ravel(), strict=True)
    ]
    results = dask.compute(*parts)
    return tuple(sum(values) for values in zip(*results, strict=True))


def _client(scheduler: Any):
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            "--scheduler needs dask.distributed: pip install distributed (or 'relreps[dask]')."
        ) from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, timeout="20s"), True
    except OSError as error:
        raise RuntimeError(f"Cannot reach the Dask scheduler at {scheduler!r}: {error}") from None


def _project_and_write(rows, anchors, start, stop, settings, target) -> int:
    from relreps.blockwise import project_block

    target.write(start, project_block(rows, anchors, start, stop, settings))
    return stop - start


def run_on_cluster(scheduler, rows, anchors, writer, todo, settings, progress) -> None:
    """Run each remaining block as a task; the main process records finished blocks as they
    complete, so an interrupted run resumes from them."""
    from distributed import as_completed

    from relreps.blockwise import _bar

    client, owned = _client(scheduler)
    bar = _bar(writer, todo, progress)
    try:
        shared = client.scatter(anchors, broadcast=True)
        target = writer.target()
        futures = {
            client.submit(
                _project_and_write,
                rows,
                shared,
                *writer.bounds(block),
                settings,
                target,
                key=f"relreps-block-{block}-{writer.path.name}",
                pure=False,
            ): block
            for block in todo
        }
        for future in as_completed(futures):
            count = future.result()  # re-raises a worker's error here
            writer.record_done(futures[future])
            bar.update(count)
    finally:
        bar.close()
        if owned:
            client.close()
