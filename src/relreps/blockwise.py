"""Relative projection of embeddings larger than memory, written to disk block by block.

:func:`project_to_file` reads the input in row blocks sized to a memory budget, projects each
block with :func:`relreps.relative_projection` and writes it into a ``.npy`` file (atomic at the
end, resumable after an interruption, with a progress bar). Both executors live here: in this
process (reading, projecting and writing overlap in threads), or, with ``scheduler=``, as tasks on
a ``dask.distributed`` cluster whose workers read and write the same files.

:func:`translate_to_file` streams rows through a fitted :class:`relreps.translation.Translator`
the same way, under the same memory budget.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relreps._checks import check_int
from relreps.io import metadata_path, sha256_array, write_json_atomic
from relreps.projection import CENTER_OPTIONS, Center, relative_projection
from relreps.similarities import get_similarity
from relreps.storage import (
    NpyRowWriter,
    RowSource,
    block_checksum,
    current_rss,
    format_bytes,
    open_rows,
    parse_memory,
    peak_rss,
)

__all__ = [
    "ProjectionRun",
    "block_rows_for",
    "project_block",
    "project_to_file",
    "translate_to_file",
]


#: Bytes of working memory per output value a similarity may need beyond its output (cdist's
#: intermediates are the largest among the built-in ones).
_SCRATCH_PER_OUTPUT = 3 * 4
#: Share of the free budget one block may take (the allocator and the page cache need slack).
_BLOCK_SHARE = 0.5


@dataclass(frozen=True)
class ProjectionRun:
    """What :func:`project_to_file` did."""

    path: Path
    shape: tuple[int, int]
    block_rows: int
    n_blocks: int
    blocks_computed: int
    seconds: float
    peak_rss: int
    resumed: bool


def block_rows_for(
    memory: int, dim: int, n_anchors: int, in_itemsize: int, out_itemsize: int, baseline: int
) -> int:
    """Rows per block so that the process stays under ``memory`` bytes in all.

    Three blocks are in flight (the next one being read, the current one being projected, the
    previous one being written): two blocks of input rows, one float32 copy, the similarity's
    output and scratch, and two output casts. Half of what the budget leaves above ``baseline``
    (the process's resident memory before the job) goes to them.
    """
    per_row = _projection_row_bytes(dim, n_anchors, in_itemsize, out_itemsize)
    return _rows_for_budget(memory, per_row, baseline)


def _projection_row_bytes(dim: int, n_anchors: int, in_itemsize: int, out_itemsize: int) -> int:
    return dim * (2 * in_itemsize + 4) + n_anchors * (4 + _SCRATCH_PER_OUTPUT + 2 * out_itemsize)


def _rows_for_budget(memory: int, per_row: int, baseline: int) -> int:
    free = memory - baseline
    rows = int(free * _BLOCK_SHARE) // per_row
    if rows < 1:
        raise ValueError(
            f"The memory budget {format_bytes(memory)} leaves {format_bytes(max(free, 0))} above "
            f"what this process already uses ({format_bytes(baseline)}), not enough for one row "
            f"block (~{format_bytes(per_row / _BLOCK_SHARE)} per row). Raise --memory."
        )
    return rows


def project_to_file(
    source: Any,
    anchors: Any,
    output: str | os.PathLike[str],
    *,
    similarity: Any = "cosine",
    center: Center = None,
    memory: str | int = "1GiB",
    dtype: str = "float32",
    block_rows: int | None = None,
    scheduler: Any = None,
    progress: bool = True,
    info: dict[str, Any] | None = None,
) -> ProjectionRun:
    """Write ``relative_projection(source, anchors)`` to ``output`` (``.npy``) in row blocks.

    Parameters
    ----------
    source
        Embeddings ``(n, d)``: a ``.npy`` path, a folder of ``.npy`` shards, a zarr store, a numpy
        array or memmap, or a Dask array (see :func:`relreps.storage.open_rows`).
    anchors
        Anchor embeddings ``(k, d)`` from the same encoder (numpy array, or a ``.npy`` path).
    output
        The ``.npy`` file to write; its settings go to ``output + ".json"``.
    similarity, center
        As in :func:`relreps.relative_projection`.
    memory
        Budget for this process's resident memory, e.g. ``"2GB"``: blocks are sized so that the
        peak stays under it (with ``scheduler``, the budget of each worker's block).
    dtype
        Output dtype (``float32`` or ``float16``/``float64``).
    block_rows
        Rows per block, instead of sizing from ``memory``.
    scheduler
        A ``dask.distributed`` scheduler address (``"tcp://host:8786"``), a ``Client``, or
        ``None`` to run here. Workers must see ``source`` and ``output`` at the same paths.
    progress
        Show a progress bar (stderr).
    info
        Extra JSON-serialisable facts to store in the metadata (e.g. how anchors were chosen).

    Returns
    -------
    ProjectionRun

    A rerun after an interruption continues from the finished blocks, provided the input, the
    anchors and the settings are unchanged (otherwise it starts over, with a warning).
    """
    start_time = time.perf_counter()
    sim = get_similarity(similarity)  # unknown names fail before any work
    if center not in CENTER_OPTIONS:
        raise ValueError(f"center must be one of {CENTER_OPTIONS}, got {center!r}.")
    out_dtype = _output_dtype(dtype)
    rows = open_rows(source)
    anchor_array = _load_anchors(anchors, rows)
    k = len(anchor_array)
    width = k * sim.outputs_per_anchor  # a concatenated product has one column per part
    meta = {
        "format": 1,
        "input": rows.fingerprint(),
        "anchors_sha256": sha256_array(anchor_array),
        "anchors_dtype": anchor_array.dtype.str,
        "n_anchors": k,
        "similarity": similarity if isinstance(similarity, str) else sim.name,
        "center": center,
        "dtype": out_dtype.name,
    }
    settings = {"similarity": sim, "center": center, "dtype": out_dtype.name}
    per_row = _projection_row_bytes(rows.dim, width, rows.dtype.itemsize, out_dtype.itemsize)
    return _stream(
        rows, anchor_array, width, output, meta, settings, per_row,
        anchor_array.nbytes * 2, memory, block_rows, scheduler, progress, info, start_time,
    )  # fmt: skip


def translate_to_file(
    source: Any,
    translator: Any,
    output: str | os.PathLike[str],
    *,
    memory: str | int = "1GiB",
    dtype: str = "float32",
    block_rows: int | None = None,
    scheduler: Any = None,
    progress: bool = True,
    info: dict[str, Any] | None = None,
) -> ProjectionRun:
    """Write ``translator.transform(source)`` to ``output`` (``.npy``) in row blocks: the
    out-of-core path of :func:`project_to_file` (same budget, resume, atomic finish, executors)
    for a fitted :class:`relreps.translation.Translator` or a file saved with
    :func:`relreps.io.save_translator`.

    The translator computes in float64; blocks are sized for that. A rerun continues from the
    finished blocks when the input, the translator and the settings are unchanged.
    """
    from relreps.io import load_translator
    from relreps.translation import Translator

    start_time = time.perf_counter()
    if isinstance(translator, (str, os.PathLike)):
        translator = load_translator(translator)
    if not isinstance(translator, Translator) or not translator.fitted:
        raise ValueError(
            "translator must be a fitted relreps Translator or the path of one saved with "
            f"relreps.io.save_translator, got {translator!r}."
        )
    out_dtype = _output_dtype(dtype)
    rows = open_rows(source)
    if rows.dim != translator.source_dim:
        raise ValueError(
            f"{rows.name} has {rows.dim} columns but the translator maps from "
            f"{translator.source_dim}: give rows of the space it was fitted on."
        )
    tensors, description = translator.to_state()
    width = translator.target_dim
    meta = {
        "format": 1,
        "input": rows.fingerprint(),
        "translator_sha256": _state_digest(tensors, description),
        "translator": {k: description[k] for k in ("method", "scaling", "l2", "norm")},
        "source_dim": rows.dim,
        "target_dim": width,
        "dtype": out_dtype.name,
    }
    settings = {"translator": True, "dtype": out_dtype.name}
    state_bytes = sum(t.numel() * t.element_size() for t in tensors.values())
    # Two input blocks (one being read), the float64 copy, its padded form and the mapped rows
    # (float64), the cast and two output blocks (one being written); the relative method also
    # holds cosines to every anchor and their pseudo-inverse product.
    inner = max(rows.dim, width, len(tensors["matrix"]))
    per_row = rows.dim * (2 * rows.dtype.itemsize + 8) + 3 * 8 * inner
    per_row += width * (8 + 2 * out_dtype.itemsize)
    if "anchors_x" in tensors:
        per_row += 3 * 8 * len(tensors["anchors_x"])
    return _stream(
        rows, translator, width, output, meta, settings, per_row, state_bytes, memory,
        block_rows, scheduler, progress, info, start_time,
    )  # fmt: skip


def _output_dtype(dtype: str) -> np.dtype:
    out_dtype = np.dtype(dtype)
    if out_dtype.kind != "f":
        raise ValueError(f"dtype must be a float type (float16/32/64), got {dtype!r}.")
    return out_dtype


def _state_digest(tensors: dict[str, Any], description: dict[str, Any]) -> str:
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode())
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(sha256_array(tensors[name].numpy()).encode())
    return digest.hexdigest()


def _stream(
    rows, payload, width, output, meta, settings, per_row, held, memory, block_rows, scheduler,
    progress, info, start_time,
) -> ProjectionRun:  # fmt: skip
    """The executor shared by projection and translation: size the blocks, open (or resume) the
    output, run the blocks still to do here or on a cluster, finish atomically, record."""
    output = Path(output)
    if output.suffix != ".npy":
        raise ValueError(f"The output must be a .npy file, got {output}.")
    if output.exists():
        raise FileExistsError(
            f"{output} already exists; delete it or choose another output to write again."
        )
    budget = parse_memory(memory)
    if block_rows is None:
        block_rows = _rows_for_budget(budget, per_row, current_rss() + held)
    check_int(block_rows, "block_rows", minimum=1)
    block_rows = min(block_rows, rows.n_rows)
    writer = NpyRowWriter(
        output, (rows.n_rows, width), np.dtype(settings["dtype"]), meta, block_rows
    )
    if writer.done:
        _verify_finished(rows, writer)
    todo = [b for b in range(writer.n_blocks) if b not in writer.done]
    if scheduler is None:
        _run_here(rows, payload, writer, todo, settings, progress)
    else:
        _run_on_cluster(scheduler, rows, payload, writer, todo, settings, progress)
    path = writer.finish()
    run = ProjectionRun(
        path=path,
        shape=writer.shape,
        block_rows=writer.block_rows,
        n_blocks=writer.n_blocks,
        blocks_computed=len(todo),
        seconds=time.perf_counter() - start_time,
        peak_rss=peak_rss(),
        resumed=writer.resumed,
    )
    write_json_atomic(
        metadata_path(path),
        {
            **meta,
            **(info or {}),
            "memory_budget": budget,
            "block_rows": run.block_rows,
            "scheduler": None if scheduler is None else str(scheduler),
        },
    )
    return run


def _load_anchors(anchors: Any, rows: RowSource) -> np.ndarray:
    if isinstance(anchors, (str, os.PathLike)):
        anchors = open_rows(anchors)
        anchors = anchors.read(0, anchors.n_rows)
    elif hasattr(anchors, "detach"):
        anchors = anchors.detach().cpu().numpy()
    elif hasattr(anchors, "compute"):
        anchors = anchors.compute()
    anchors = np.asarray(anchors)
    if anchors.ndim != 2 or anchors.shape[0] == 0:
        raise ValueError(
            f"anchors must be a non-empty 2-D array (k, d), got shape {anchors.shape}."
        )
    if anchors.shape[1] != rows.dim:
        raise ValueError(
            f"anchors have {anchors.shape[1]} columns but {rows.name} has {rows.dim}: embed the "
            "anchors with the same encoder as the data."
        )
    if not np.isfinite(anchors).all():
        raise ValueError("anchors contain NaN or infinite values.")
    return anchors


def project_block(
    rows: RowSource,
    anchors: np.ndarray,
    start: int,
    stop: int,
    settings: dict[str, Any],
    block: np.ndarray | None = None,
) -> np.ndarray:
    """Project rows ``start:stop`` (read here unless ``block`` holds them already): one unit of
    work, here or on a worker. With ``settings["translator"]``, ``anchors`` is a fitted
    :class:`relreps.translation.Translator` and the rows are translated instead."""
    if block is None:
        block = rows.read(start, stop)
    if block.dtype != np.float32 and block.dtype != np.float64:
        block = block.astype(np.float32)
    try:
        if settings.get("translator"):
            out = anchors.transform(block)
        else:
            out = relative_projection(
                block,
                anchors.astype(block.dtype, copy=False),
                settings["similarity"],
                center=settings["center"],
            )
    except ValueError as error:
        raise ValueError(
            f"In rows {start:,} to {stop:,} of {rows.name} (indices below count from row "
            f"{start:,}): {error}"
        ) from None
    return out.astype(settings["dtype"], copy=False)


def _run_here(rows, anchors, writer, todo, settings, progress) -> None:
    """Project block by block, reading the next block and writing the previous one in two
    background threads while the current one is computed (file I/O and torch's kernels release
    the GIL), so disk and CPU work at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    if not todo:
        return
    bar = _bar(writer, todo, progress)
    # Leaving the with-block waits for the write in flight: an interrupted run keeps every block
    # it finished computing.
    # Two input buffers, reused: block i is projected from one while block i + 1 is read into
    # the other.
    buffers = [np.empty((writer.block_rows, rows.dim), dtype=rows.dtype) for _ in range(2)]
    with ThreadPoolExecutor(1) as reader, ThreadPoolExecutor(1) as saver:
        try:
            incoming = reader.submit(_read, rows, *writer.bounds(todo[0]), buffers[0])
            saving = None
            for number, block in enumerate(todo):
                start, stop = writer.bounds(block)
                data, checksum = incoming.result()
                if number + 1 < len(todo):
                    following = writer.bounds(todo[number + 1])
                    incoming = reader.submit(_read, rows, *following, buffers[(number + 1) % 2])
                out = project_block(rows, anchors, start, stop, settings, block=data)
                del data
                if saving is not None:
                    bar.update(saving.result())
                saving = saver.submit(_save, writer, block, out, stop - start, checksum)
            bar.update(saving.result())
        finally:
            bar.close()


def _read(rows: RowSource, start: int, stop: int, buffer: np.ndarray) -> tuple[np.ndarray, str]:
    """A block of input rows and its checksum, in the reader thread (hashing releases the GIL,
    so it overlaps the projection of the previous block)."""
    data = rows.read_into(start, stop, buffer)
    return data, block_checksum(data)


def _save(writer: NpyRowWriter, block: int, out: np.ndarray, count: int, checksum: str) -> int:
    writer.write_block(block, out, checksum)
    return count


def _verify_finished(rows: RowSource, writer: NpyRowWriter) -> None:
    """Before resuming: read the input rows of every finished block again and compare them with
    the checksum recorded when the block was written. An input rewritten in place with the same
    size and modification time (``cp -p``, ``rsync -t``) would otherwise mix old and new rows."""
    changed = set()
    for block in sorted(writer.done):
        recorded = writer.checksums.get(block)
        if recorded is None or block_checksum(rows.read(*writer.bounds(block))) != recorded:
            changed.add(block)
    if changed:
        warnings.warn(
            f"The input rows of {len(changed)} finished block(s) of {writer.path.name} changed "
            "since they were written (or have no checksum): computing them again.",
            stacklevel=3,
        )
        writer.forget(changed)


def _bar(writer: NpyRowWriter, todo: list[int], progress: bool):
    from tqdm.auto import tqdm

    done_rows = writer.shape[0] - sum(writer.bounds(b)[1] - writer.bounds(b)[0] for b in todo)
    return tqdm(
        total=writer.shape[0],
        initial=done_rows,
        unit="rows",
        unit_scale=True,
        desc=f"projecting -> {writer.path.name}",
        disable=not progress,
        file=sys.stderr,
    )


# --- the cluster executor ----------------------------------------------------------------------


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


def _project_and_write(rows, anchors, start, stop, settings, target) -> tuple[int, str]:
    block = rows.read(start, stop)
    checksum = block_checksum(block)
    target.write(start, project_block(rows, anchors, start, stop, settings, block=block))
    return stop - start, checksum


def _run_on_cluster(scheduler, rows, anchors, writer, todo, settings, progress) -> None:
    """Run each remaining block as a task; the main process records finished blocks as they
    complete, so an interrupted run resumes from them."""
    from distributed import as_completed

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
            count, checksum = future.result()  # re-raises a worker's error here
            writer.record_done(futures[future], checksum)
            bar.update(count)
    finally:
        bar.close()
        if owned:
            client.close()
