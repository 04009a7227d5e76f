"""Embeddings larger than memory: read them in row blocks, write results in row blocks.

:func:`open_rows` gives one interface, :class:`RowSource`, over a ``.npy`` file, a folder of
``.npy`` shards (rows concatenated in file-name order), a zarr array (when ``zarr`` is installed),
an in-memory or memory-mapped numpy array, and a Dask array. ``.npy`` files are read with
positioned reads into a fresh buffer, never memory-mapped, so reading a block costs the block and
nothing else stays resident; a numpy memmap has the pages of each block it read released again.

:class:`NpyRowWriter` writes an ``(n, k)`` array to a ``.npy`` file block by block, in any order
and from several processes; the file appears under its name only once every block is written,
and a job interrupted half-way resumes from the blocks it finished (a JSON progress record beside
the partial file, rewritten atomically after each block is on disk).

Sources are picklable (paths, offsets and shapes; no open handles), so Dask workers can read
their own blocks.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from relreps._backend import is_dask, offset_in_mapping, release_pages
from relreps._checks import parse_memory
from relreps.io import read_json, write_json_atomic

__all__ = [
    "ArrayRows",
    "BlockTarget",
    "DaskRows",
    "NpyFile",
    "NpyRowWriter",
    "NpyShards",
    "RowSource",
    "ZarrRows",
    "block_checksum",
    "current_rss",
    "format_bytes",
    "open_rows",
    "parse_memory",
    "peak_rss",
    "row_blocks",
]


def format_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError  # unreachable


def _proc_status(field: str) -> int:
    """A memory field of ``/proc/self/status`` in bytes (0 where unavailable)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def current_rss() -> int:
    """This process's resident memory in bytes (Linux ``/proc``; 0 where unavailable)."""
    return _proc_status("VmRSS")


def peak_rss() -> int:
    """This process's peak resident memory in bytes (``VmHWM``; 0 where unavailable)."""
    return _proc_status("VmHWM")


# --- sources -----------------------------------------------------------------------------------


class RowSource:
    """Rows of a 2-D array that may not fit in memory. ``read(start, stop)`` returns a fresh,
    C-contiguous numpy array of those rows."""

    n_rows: int
    dim: int
    dtype: np.dtype
    name: str

    def read(self, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError

    def read_into(self, start: int, stop: int, buffer: np.ndarray) -> np.ndarray:
        """Rows ``start:stop``, read into ``buffer[: stop - start]`` where the source can (a
        reused buffer spares the page faults of a fresh allocation per block); other sources
        return a new array as :meth:`read` does."""
        return self.read(start, stop)

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the content cheaply (paths, sizes, modification times, shape)."""
        return {"name": self.name, "shape": [self.n_rows, self.dim], "dtype": self.dtype.str}

    @property
    def row_bytes(self) -> int:
        return self.dim * self.dtype.itemsize

    def __len__(self) -> int:
        return self.n_rows

    def take(self, indices: np.ndarray) -> np.ndarray:
        """The rows at ``indices`` (any order), read one by one: for a few anchors."""
        return np.stack([self.read(int(i), int(i) + 1)[0] for i in indices])


def _check_matrix(shape: tuple[int, ...], dtype: np.dtype, name: str) -> None:
    if len(shape) != 2:
        raise ValueError(f"{name} holds an array of shape {shape}; expected 2-D (n_samples, dim).")
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {shape}).")
    if dtype.kind not in "fiu":
        raise ValueError(f"{name} has dtype {dtype}; expected real numbers (float or int).")


class NpyFile(RowSource):
    """A ``.npy`` file read with positioned reads (C order only)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise FileNotFoundError(f"No such .npy file: {self.path}")
        try:
            with open(self.path, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
                self.offset = handle.tell()
        except ValueError as error:
            raise ValueError(
                f"{self.path} is not a readable .npy file ({error}). Write it with numpy.save."
            ) from None
        if fortran and len(shape) == 2 and shape[1] > 1:
            raise ValueError(
                f"{self.path} is stored in Fortran (column) order, which cannot be read by rows; "
                "save it again with np.save(path, np.ascontiguousarray(x))."
            )
        dtype = np.dtype(dtype)
        if dtype.hasobject:
            raise ValueError(f"{self.path} holds Python objects; relreps never unpickles.")
        _check_matrix(tuple(shape), dtype, str(self.path))
        self.n_rows, self.dim = int(shape[0]), int(shape[1])
        self.dtype = dtype
        expected = self.offset + self.n_rows * self.row_bytes
        actual = self.path.stat().st_size
        if actual < expected:
            raise ValueError(
                f"{self.path} is truncated: its header says {self.n_rows:,} x {self.dim} "
                f"{dtype} ({expected:,} bytes) but the file has {actual:,} bytes. Recreate it."
            )

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.read_into(start, stop, np.empty((stop - start, self.dim), dtype=self.dtype))

    def read_into(self, start: int, stop: int, buffer: np.ndarray) -> np.ndarray:
        out = buffer[: stop - start]
        if out.shape != (stop - start, self.dim) or out.dtype != self.dtype:
            raise ValueError(
                f"buffer of shape {buffer.shape} {buffer.dtype} cannot hold rows {start}-{stop}."
            )
        _pread_into(self.path, out, self.offset + start * self.row_bytes)
        return out

    def fingerprint(self) -> dict[str, Any]:
        stat = self.path.stat()
        return {
            **super().fingerprint(),
            "files": [[str(self.path.resolve()), stat.st_size, stat.st_mtime_ns]],
        }


def _pread_into(path: Path, out: np.ndarray, offset: int) -> None:
    view = memoryview(out).cast("B")
    fd = os.open(path, os.O_RDONLY)
    try:
        done = 0
        while done < len(view):
            count = os.preadv(fd, [view[done : done + (1 << 30)]], offset + done)
            if count == 0:
                raise ValueError(f"{path} ended early while reading; the file is truncated.")
            done += count
    finally:
        os.close(fd)


class NpyShards(RowSource):
    """A folder of ``.npy`` files with equal width and dtype, rows concatenated in name order."""

    def __init__(self, folder: str | os.PathLike[str]):
        folder = Path(folder)
        self.name = str(folder)
        files = sorted(folder.glob("*.npy"))
        if not files:
            raise FileNotFoundError(f"{folder} holds no .npy files to read as shards.")
        self.shards = [NpyFile(f) for f in files]
        first = self.shards[0]
        for shard in self.shards[1:]:
            if (shard.dim, shard.dtype) != (first.dim, first.dtype):
                raise ValueError(
                    f"Shards must share width and dtype: {first.path.name} is {first.dim} "
                    f"{first.dtype} but {shard.path.name} is {shard.dim} {shard.dtype}."
                )
        self.dim, self.dtype = first.dim, first.dtype
        self.starts = np.cumsum([0] + [s.n_rows for s in self.shards])
        self.n_rows = int(self.starts[-1])

    def read(self, start: int, stop: int) -> np.ndarray:
        parts = []
        first = int(np.searchsorted(self.starts, start, side="right")) - 1
        for number in range(first, len(self.shards)):
            lo, hi = int(self.starts[number]), int(self.starts[number + 1])
            if lo >= stop:
                break
            parts.append(self.shards[number].read(max(start, lo) - lo, min(stop, hi) - lo))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def fingerprint(self) -> dict[str, Any]:
        files = [f for s in self.shards for f in s.fingerprint()["files"]]
        return {**super().fingerprint(), "files": files}


class ZarrRows(RowSource):
    """A 2-D zarr array (a path to a zarr store, or the array itself)."""

    def __init__(self, source: Any, name: str | None = None):
        if isinstance(source, (str, os.PathLike)):
            try:
                import zarr
            except ImportError:
                raise ImportError(
                    f"Reading {source} needs zarr: pip install zarr (or 'relreps[zarr]')."
                ) from None
            self.path: Path | None = Path(source)
            try:
                source = zarr.open_array(str(source), mode="r")
            except Exception as error:
                raise ValueError(f"{source} is not a readable zarr array ({error}).") from None
        else:
            self.path = None
        self.array = source
        self.name = name or str(self.path or "zarr array")
        _check_matrix(tuple(source.shape), np.dtype(source.dtype), self.name)
        stored, expected = (
            getattr(source, "nchunks_initialized", None),
            getattr(source, "nchunks", 0),
        )
        if stored is not None and stored < expected:
            raise ValueError(
                f"{self.name} has only {stored} of its {expected} chunks: zarr would read the "
                "missing ones as the fill value (zeros). Restore the store or write it again."
            )
        self.n_rows, self.dim = (int(s) for s in source.shape)
        self.dtype = np.dtype(source.dtype)

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.ascontiguousarray(self.array[start:stop])

    def __getstate__(self):
        state = dict(self.__dict__)
        if self.path is not None:
            state["array"] = None  # reopened on the worker
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.array is None:
            import zarr

            self.array = zarr.open_array(str(self.path), mode="r")


class ArrayRows(RowSource):
    """An in-memory or memory-mapped numpy array. For a memmap, the pages a block touched are
    released after reading, so the process does not keep the whole file resident."""

    def __init__(self, array: np.ndarray, name: str = "array"):
        _check_matrix(tuple(array.shape), array.dtype, name)
        self.array = array
        self.name = name
        self.n_rows, self.dim = (int(s) for s in array.shape)
        self.dtype = array.dtype

    def read(self, start: int, stop: int) -> np.ndarray:
        block = np.array(self.array[start:stop], order="C")
        release_pages(self.array[start:stop])
        return block

    def fingerprint(self) -> dict[str, Any]:
        filename = getattr(self.array, "filename", None)
        if filename is None:
            return super().fingerprint()
        stat = os.stat(filename)
        return {
            **super().fingerprint(),
            "files": [[str(filename), stat.st_size, stat.st_mtime_ns]],
            "byte_offset": offset_in_mapping(self.array),  # a slice is not the whole file
            "strides": list(self.array.strides),
        }


class DaskRows(RowSource):
    """A 2-D Dask array; each read computes that slice."""

    def __init__(self, array: Any, name: str = "dask array"):
        _check_matrix(tuple(int(s) for s in array.shape), np.dtype(array.dtype), name)
        self.array = array
        self.name = name
        self.n_rows, self.dim = (int(s) for s in array.shape)
        self.dtype = np.dtype(array.dtype)

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.ascontiguousarray(self.array[start:stop].compute())


def open_rows(source: Any) -> RowSource:
    """A :class:`RowSource` over ``source``: a path to a ``.npy`` file, a folder of ``.npy``
    shards, a zarr store (``*.zarr`` or any folder with zarr metadata), a numpy array or memmap,
    a zarr array or a Dask array."""
    if isinstance(source, RowSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"No such file or folder: {path}")
        if path.is_dir():
            if (
                path.suffix == ".zarr"
                or (path / "zarr.json").exists()
                or (path / ".zarray").exists()
            ):
                return ZarrRows(path)
            return NpyShards(path)
        if path.suffix == ".npy":
            return NpyFile(path)
        raise ValueError(f"{path}: expected a .npy file, a folder of .npy shards or a zarr store.")
    if isinstance(source, np.ndarray):
        return ArrayRows(source, getattr(source, "filename", None) or "array")
    if is_dask(source):
        return DaskRows(source)
    if type(source).__module__.startswith("zarr"):
        return ZarrRows(source)
    raise TypeError(
        f"Cannot read rows from a {type(source).__name__}: pass a path (.npy, folder of .npy, "
        "zarr), a numpy array or memmap, a zarr array or a Dask array."
    )


def row_blocks(n_rows: int, block_rows: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n_rows, block_rows):
        yield start, min(start + block_rows, n_rows)


# --- writer ------------------------------------------------------------------------------------


class NpyRowWriter:
    """Write an ``(n_rows, n_cols)`` array to ``path`` (``.npy``) one row block at a time.

    Data goes to ``path + ".partial"``, preallocated with its header; ``record_done`` notes a
    finished block in ``path + ".partial.json"`` after the block is on disk. ``finish`` renames
    the partial file to ``path``. Opening the same ``path`` with the same ``meta`` and block size
    resumes: :attr:`done` holds the blocks already written. Different ``meta`` starts over.
    Writing a block is a positioned write to its own rows, so separate processes (Dask workers on
    one file system) can write blocks concurrently with :meth:`write_block_at`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        shape: tuple[int, int],
        dtype: Any,
        meta: dict[str, Any],
        block_rows: int,
    ):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.progress = self.path.with_name(self.path.name + ".partial.json")
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self.meta = meta
        self.block_rows = int(block_rows)
        self.header = _npy_header(self.shape, self.dtype)
        self.offset = len(self.header)  # where the data starts
        self.done: set[int] = set()
        self.checksums: dict[int, str] = {}  # block -> SHA-256 of the input rows it was made from
        self.resumed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        previous = self._previous()
        if previous is not None:
            self.block_rows = int(previous["block_rows"])
            self.done = {int(b) for b in previous["done"]}
            self.checksums = {int(b): str(h) for b, h in previous.get("checksums", {}).items()}
            self.resumed = bool(self.done)
        else:
            self._create()

    @property
    def n_blocks(self) -> int:
        return -(-self.shape[0] // self.block_rows)

    def bounds(self, block: int) -> tuple[int, int]:
        start = block * self.block_rows
        return start, min(start + self.block_rows, self.shape[0])

    def _previous(self) -> dict[str, Any] | None:
        if not (self.partial.exists() and self.progress.exists()):
            return None
        try:
            record = read_json(self.progress)
        except ValueError:
            record = None
        expected_size = self.offset + self._nbytes()
        if (
            not isinstance(record, dict)
            or record.get("meta") != self.meta
            or record.get("shape") != list(self.shape)
            or record.get("dtype") != self.dtype.str
            or self.partial.stat().st_size != expected_size
        ):
            warnings.warn(
                f"{self.partial} was written for other inputs or settings (or is damaged); "
                "starting over.",
                stacklevel=3,
            )
            return None
        return record

    def _nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def _create(self) -> None:
        with open(self.partial, "wb") as handle:
            handle.write(self.header)
            handle.truncate(self.offset + self._nbytes())  # sparse until written
        self._save_progress()

    def _save_progress(self) -> None:
        write_json_atomic(
            self.progress,
            {
                "meta": self.meta,
                "shape": list(self.shape),
                "dtype": self.dtype.str,
                "block_rows": self.block_rows,
                "done": sorted(self.done),
                "checksums": {str(b): h for b, h in sorted(self.checksums.items())},
            },
        )

    def target(self) -> BlockTarget:
        """A picklable handle that writes blocks into the partial file (for worker processes)."""
        return BlockTarget(str(self.partial), self.offset, self.shape, self.dtype.str)

    def write_block(self, block: int, rows: np.ndarray, checksum: str | None = None) -> None:
        self.target().write(self.bounds(block)[0], rows)
        self.record_done(block, checksum)

    def record_done(self, block: int, checksum: str | None = None) -> None:
        """Note a block as written (after it is on disk), with the checksum of its input."""
        self.done.add(int(block))
        if checksum is not None:
            self.checksums[int(block)] = checksum
        self._save_progress()

    def forget(self, blocks: set[int]) -> None:
        """Mark finished blocks as to be written again."""
        self.done -= blocks
        for block in blocks:
            self.checksums.pop(block, None)
        self._save_progress()

    def finish(self) -> Path:
        missing = self.n_blocks - len(self.done)
        if missing:
            raise RuntimeError(f"{missing} block(s) of {self.path} are not written yet.")
        os.replace(self.partial, self.path)
        self.progress.unlink(missing_ok=True)
        return self.path


def block_checksum(rows: np.ndarray) -> str:
    """SHA-256 of a block of input rows (C order), recorded with the output block made from it."""
    import hashlib

    return hashlib.sha256(memoryview(np.ascontiguousarray(rows)).cast("B")).hexdigest()


def _npy_header(shape: tuple[int, int], dtype: np.dtype) -> bytes:
    """The ``.npy`` (format 2.0) header of a C-ordered array of ``shape`` and ``dtype``."""
    header = io.BytesIO()
    description = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": tuple(shape),
    }
    np.lib.format.write_array_header_2_0(header, description)
    return header.getvalue()


class BlockTarget:
    """Positioned, fsynced writes of row blocks into a preallocated ``.npy`` file."""

    def __init__(self, path: str, offset: int, shape: tuple[int, int], dtype: str):
        self.path, self.offset, self.shape, self.dtype = path, offset, shape, np.dtype(dtype)

    def write(self, start: int, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.ndim != 2 or rows.shape[1] != self.shape[1] or start + len(rows) > self.shape[0]:
            raise ValueError(
                f"Block of shape {rows.shape} at row {start} does not fit an array of shape "
                f"{self.shape}."
            )
        view = memoryview(rows).cast("B")
        position = self.offset + start * self.shape[1] * self.dtype.itemsize
        fd = os.open(self.path, os.O_WRONLY)
        try:
            done = 0
            while done < len(view):
                done += os.pwrite(fd, view[done : done + (1 << 30)], position + done)
            os.fsync(fd)
        finally:
            os.close(fd)
