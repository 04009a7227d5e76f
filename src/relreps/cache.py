"""An on-disk cache of embeddings, so an experiment's second run does no encoding.

An entry is keyed by the encoder's ``id`` (model, version, pooling, truncation), a dataset id and
the SHA-256 of the texts themselves, so a changed text, model or pooling never hits a stale entry.
Entries are safetensors plus a JSON sidecar, written atomically. Long encodings are written in
shards as they go: an interrupted run resumes from the last finished shard.

An entry that is corrupt or whose metadata does not match what was asked for is recomputed with a
warning, never loaded silently.

Examples
--------
>>> import numpy as np, tempfile
>>> class Lengths:  # any object with ``id``, ``dim`` and ``encode(texts, progress=...)``
...     id, dim = "lengths@1", 1
...     def encode(self, texts, progress=True, description=None):
...         return np.array([[len(t)] for t in texts], dtype=np.float32)
>>> cache = EmbeddingCache(tempfile.mkdtemp())
>>> cache.embed(Lengths(), ["a", "bcd"], dataset="demo", progress=False).ravel().tolist()
[1.0, 3.0]
>>> cache.embed(Lengths(), ["a", "bcd"], dataset="demo", progress=False).ravel().tolist()
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

FORMAT_VERSION = 1


class Encoder(Protocol):
    id: str
    dim: int

    def encode(
        self, texts: Sequence[str], *, progress: bool = True, description: str | None = None
    ) -> np.ndarray: ...


def texts_hash(texts: Sequence[str]) -> str:
    """SHA-256 of the texts in order (length-prefixed, so boundaries count)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


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
        if shard_size < 1:
            raise ValueError(f"shard_size must be positive, got {shard_size}.")
        self.root = Path(root)
        self.shard_size = shard_size
        self.hits = 0
        self.misses = 0

    def path(self, encoder: Encoder, dataset: str, content_hash: str) -> Path:
        """Where the entry for these texts lives."""
        key = hashlib.sha256(f"{encoder.id}\0{dataset}\0{content_hash}".encode()).hexdigest()
        return self.root / _slug(encoder.id) / f"{_slug(dataset)}-{key[:16]}.safetensors"

    def embed(
        self,
        encoder: Encoder,
        texts: Sequence[str],
        *,
        dataset: str,
        progress: bool = True,
    ) -> np.ndarray:
        """``encoder.encode(texts)``, from disk when this exact request was computed before.

        Parameters
        ----------
        encoder
            Anything with ``id``, ``dim`` and ``encode`` (see :mod:`relreps.encoders`).
        texts
            The texts, in order.
        dataset
            A readable name for the texts (part of the key and the file name).

        Returns
        -------
        numpy.ndarray of shape ``(len(texts), encoder.dim)``, float32.
        """
        from relreps.io import save_tensors

        texts = list(texts)
        if not texts:
            return np.empty((0, encoder.dim), dtype=np.float32)
        content = texts_hash(texts)
        path = self.path(encoder, dataset, content)
        expected = self._metadata(encoder, dataset, content, len(texts))
        cached = self._load(path, expected)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        shards = []
        n_shards = -(-len(texts) // self.shard_size)
        for number in range(n_shards):
            part = path.with_name(f"{path.stem}.part{number:04d}.safetensors")
            chunk = texts[number * self.shard_size : (number + 1) * self.shard_size]
            part_meta = {**expected, "n": len(chunk), "shard": number}
            vectors = self._load(part, part_meta)
            if vectors is None:
                description = f"{encoder.id} on {dataset}"
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
        save_tensors(path, _as_tensors(result), expected)
        for number in range(n_shards if n_shards > 1 else 0):
            part = path.with_name(f"{path.stem}.part{number:04d}.safetensors")
            part.unlink(missing_ok=True)
            part.with_name(part.name + ".json").unlink(missing_ok=True)
        return result

    @staticmethod
    def _metadata(encoder: Encoder, dataset: str, content: str, n: int) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "encoder": encoder.id,
            "dataset": dataset,
            "texts_sha256": content,
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
