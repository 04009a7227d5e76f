"""An on-disk cache of embeddings, so an experiment's second run does no encoding.

An entry is keyed by the encoder's ``id`` (model, version, preprocessing) and the SHA-256 of the
inputs themselves (texts, or an array's dtype, shape and bytes), so a changed input, model or
preprocessing never hits a stale entry, and the same inputs asked for under another label share
one entry. Entries are safetensors plus a JSON sidecar, written atomically. Long encodings are
written in shards as they go: an interrupted run resumes from the last finished shard.

An entry that is corrupt or whose metadata does not match what was asked for is recomputed with a
warning, never loaded silently.

Examples
--------
>>> import numpy as np, tempfile
>>> class Lengths:  # any object with ``id``, ``dim`` and ``encode(inputs, progress=...)``
...     id, dim = "lengths@1", 1
...     def encode(self, texts, progress=True, description=None):
...         return np.array([[len(t)] for t in texts], dtype=np.float32)
>>> cache = EmbeddingCache(tempfile.mkdtemp())
>>> cache.embed(Lengths(), ["a", "bcd"], label="demo", progress=False).ravel().tolist()
[1.0, 3.0]
>>> cache.embed(Lengths(), ["a", "bcd"], label="other name", progress=False).ravel().tolist()
[1.0, 3.0]
>>> cache.hits, cache.misses
(1, 1)
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from relreps._checks import check_int

__all__ = ["EmbeddingCache", "Encoder", "content_hash", "texts_hash"]

FORMAT_VERSION = 2


class Encoder(Protocol):
    id: str
    dim: int

    def encode(
        self, inputs: Any, *, progress: bool = True, description: str | None = None
    ) -> np.ndarray: ...


def texts_hash(texts: Sequence[str]) -> str:
    """SHA-256 of the texts in order (length-prefixed, so boundaries count)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def content_hash(inputs: Any) -> str:
    """SHA-256 of what an encoder reads: texts (:func:`texts_hash`), or an array's dtype, shape
    and values (so a reshaped or recast array is another input)."""
    if isinstance(inputs, np.ndarray):
        array = np.ascontiguousarray(inputs)
        digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
        return "array:" + digest.hexdigest()
    texts = list(inputs)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(
            f"Input {bad} is a {type(texts[bad]).__name__}: the cache keys texts (str) or arrays."
        )
    return texts_hash(texts)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "x"


class EmbeddingCache:
    """Embeddings on disk under ``root``, one folder per encoder.

    Parameters
    ----------
    root
        Folder for the entries (created on first write).
    shard_size
        Texts per shard of a long encoding; finished shards survive an interruption.

    Attributes
    ----------
    hits, misses : int
        Entries served from disk, and entries computed, since construction.
    """

    def __init__(self, root: str | os.PathLike[str], *, shard_size: int = 2048) -> None:
        check_int(shard_size, "shard_size", minimum=1)
        self.root = Path(root).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(
                f"The cache folder {self.root} is a file: pass a folder (--cache-dir) or move "
                "the file away."
            )
        self.shard_size = shard_size
        self.hits = 0
        self.misses = 0

    def path(self, encoder: Encoder, content: str) -> Path:
        """Where the entry for these inputs (their :func:`content_hash`) lives."""
        key = hashlib.sha256(f"{encoder.id}\0{content}".encode()).hexdigest()
        return self.root / _slug(encoder.id) / f"{key[:24]}.safetensors"

    def embed(
        self,
        encoder: Encoder,
        inputs: Any,
        *,
        label: str = "",
        progress: bool = True,
    ) -> np.ndarray:
        """``encoder.encode(inputs)``, from disk when the same inputs were encoded before.

        Parameters
        ----------
        encoder
            Anything with ``id``, ``dim`` and ``encode`` (see :mod:`relreps.encoders`).
        inputs
            Texts (a sequence of str) or an array (images), in order.
        label
            A readable name for the inputs, for progress bars and the entry's metadata; not part
            of the key.

        Returns
        -------
        numpy.ndarray of shape ``(len(inputs), encoder.dim)``, float32.
        """
        from relreps.io import save_tensors

        if not isinstance(inputs, np.ndarray):
            inputs = list(inputs)
        if len(inputs) == 0:
            return np.empty((0, encoder.dim), dtype=np.float32)
        self._make_root()  # before any encoding: a bad folder must not cost the work
        content = content_hash(inputs)
        path = self.path(encoder, content)
        expected = self._metadata(encoder, content, len(inputs))
        cached = self._load(path, expected)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        shards = []
        n_shards = -(-len(inputs) // self.shard_size)
        for number in range(n_shards):
            part = path.with_name(f"{path.stem}.part{number:04d}.safetensors")
            chunk = inputs[number * self.shard_size : (number + 1) * self.shard_size]
            part_meta = {**expected, "n": len(chunk), "shard": number}
            vectors = self._load(part, part_meta)
            if vectors is None:
                description = f"{encoder.id} on {label or 'inputs'}"
                if n_shards > 1:
                    description += f" ({number + 1}/{n_shards})"
                vectors = np.asarray(
                    encoder.encode(chunk, progress=progress, description=description),
                    dtype=np.float32,
                )
                if n_shards > 1:
                    save_tensors(part, _as_tensors(vectors), part_meta)
            shards.append(vectors)
        result = np.concatenate(shards)
        save_tensors(path, _as_tensors(result), {**expected, "label": label})
        for number in range(n_shards if n_shards > 1 else 0):
            part = path.with_name(f"{path.stem}.part{number:04d}.safetensors")
            part.unlink(missing_ok=True)
            part.with_name(part.name + ".json").unlink(missing_ok=True)
        return result

    def _make_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(
                f"Cannot create the cache folder {self.root} ({error.strerror}): pass another "
                "folder (--cache-dir)."
            ) from None

    @staticmethod
    def _metadata(encoder: Encoder, content: str, n: int) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "encoder": encoder.id,
            "content_sha256": content,
            "n": n,
            "dim": int(encoder.dim),
        }

    @staticmethod
    def _load(path: Path, expected: dict[str, Any]) -> np.ndarray | None:
        """The entry's vectors, or ``None`` (missing, or bad: then with a warning)."""
        from relreps.io import load_tensors, metadata_path

        if not path.exists() and not metadata_path(path).exists():
            return None
        try:
            tensors, metadata = load_tensors(path)
        except (FileNotFoundError, ValueError) as error:
            warnings.warn(f"Recomputing a damaged cache entry: {error}", stacklevel=3)
            return None
        mismatched = {k: (metadata.get(k), v) for k, v in expected.items() if metadata.get(k) != v}
        vectors = tensors.get("embeddings")
        problem = None
        if mismatched:
            problem = f"its metadata differs from the request: {mismatched}"
        elif vectors is None or tuple(vectors.shape) != (expected["n"], expected["dim"]):
            shape = None if vectors is None else tuple(vectors.shape)
            problem = f"it holds shape {shape}, expected {(expected['n'], expected['dim'])}"
        elif not bool(vectors.isfinite().all()):
            problem = "it holds non-finite values"
        if problem:
            warnings.warn(f"Recomputing the cache entry {path}: {problem}.", stacklevel=3)
            return None
        return vectors.numpy()


def _as_tensors(vectors: np.ndarray) -> dict[str, Any]:
    import torch

    return {"embeddings": torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))}
