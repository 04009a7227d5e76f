"""Word2Vec and FastText trained with gensim on a local corpus, deterministic and cached.

Determinism: one worker thread (gensim's threads race otherwise) and a stable hash for the
per-word initial vectors (gensim's default, Python's ``hash``, changes between interpreter runs).
Only the word vectors are kept, as safetensors + JSON; gensim's own files are pickles and are
never written or read.
"""

from __future__ import annotations

import os
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from relreps.datasets.words import WordSpace, load_word_space, save_word_space

__all__ = [
    "GLOVE",
    "REFERENCE",
    "WordVectorConfig",
    "local_word_spaces",
    "stable_hash",
    "train_word_vectors",
    "trained_word_vectors",
]


Algorithm = Literal["word2vec", "fasttext"]


def stable_hash(text: str) -> int:
    """A hash of ``text`` that is the same in every Python process (for gensim's ``hashfxn``)."""
    return zlib.crc32(text.encode("utf-8"))


@dataclass(frozen=True)
class WordVectorConfig:
    """Training settings; skip-gram for both algorithms, FastText with 3-6 character n-grams."""

    algorithm: Algorithm = "word2vec"
    dim: int = 100
    epochs: int = 5
    window: int = 5
    min_count: int = 5
    negative: int = 5
    seed: int = 0
    bucket: int = 200_000  # FastText n-gram buckets; gensim's 2M default needs 800 MB at dim 100


def train_word_vectors(
    corpus_path: str | os.PathLike[str], config: WordVectorConfig
) -> tuple[WordSpace, float]:
    """Train on ``corpus_path`` (one line of space-separated tokens per sentence).

    Returns the word space (words by decreasing frequency) and the training time in seconds.
    """
    try:
        from gensim.models import FastText, Word2Vec
    except ImportError:
        raise ImportError(
            "Training word vectors needs gensim: pip install 'relreps[words]'."
        ) from None
    common = {
        "corpus_file": str(corpus_path),
        "vector_size": config.dim,
        "window": config.window,
        "min_count": config.min_count,
        "negative": config.negative,
        "sg": 1,
        "epochs": config.epochs,
        "seed": config.seed,
        "workers": 1,
        "hashfxn": stable_hash,
    }
    start = time.perf_counter()
    if config.algorithm == "word2vec":
        model = Word2Vec(**common)
    elif config.algorithm == "fasttext":
        model = FastText(**common, bucket=config.bucket, min_n=3, max_n=6)
    else:
        raise ValueError(f"algorithm must be 'word2vec' or 'fasttext', got {config.algorithm!r}.")
    seconds = time.perf_counter() - start
    vectors = model.wv
    space = WordSpace(
        f"{config.algorithm}-local",
        tuple(vectors.index_to_key),
        np.asarray(vectors.vectors, dtype=np.float32),
        f"gensim {config.algorithm} (skip-gram, dim {config.dim}, {config.epochs} epochs, "
        f"seed {config.seed})",
    )
    return space, seconds


def trained_word_vectors(
    corpus_path: str | os.PathLike[str],
    corpus_sha256: str,
    config: WordVectorConfig,
    cache_dir: str | os.PathLike[str],
    log=print,
    ledger: list[dict] | None = None,
) -> WordSpace:
    """Load the cached vectors for this corpus and config, or train and cache them.

    ``ledger`` receives one entry (``model``, ``file``, ``trained_now``, ``train_seconds``), as
    :class:`relreps.models.store.ModelStore` writes for other models.
    """
    from relreps.io import short_hash

    key = {"corpus": corpus_sha256, "config": asdict(config)}
    path = Path(cache_dir) / f"{config.algorithm}-{short_hash(key)}.safetensors"
    entry = {"model": config.algorithm, "seed": config.seed, "file": path.name}
    if path.exists():
        try:
            space, metadata = load_word_space(path)
            if metadata.get("key") == key:
                if ledger is not None:
                    ledger.append(
                        {
                            **entry,
                            "trained_now": False,
                            "train_seconds": metadata.get("train_seconds"),
                        }
                    )
                return space
        except (ValueError, FileNotFoundError) as error:
            log(f"{error} Retraining.")
    log(f"training {config.algorithm} on {corpus_path} (one worker, for determinism)...")
    space, seconds = train_word_vectors(corpus_path, config)
    save_word_space(space, path, {"key": key, "train_seconds": round(seconds, 1)})
    if ledger is not None:
        ledger.append({**entry, "trained_now": True, "train_seconds": round(seconds, 1)})
    log(
        f"trained {config.algorithm}: {len(space):,} words x {space.dim} in {seconds:.0f}s "
        f"-> {path.name}"
    )
    return space


#: The names :func:`local_word_spaces` gives GloVe 6B 50-d and MiniLM's input embedding table.
GLOVE, REFERENCE = "GloVe-50d", "MiniLM-tokens"


def local_word_spaces(
    cache_dir: str | os.PathLike[str],
    *,
    dim: int = 100,
    epochs: int = 15,
    max_tokens: int | None = None,
    log=print,
) -> tuple[list[WordSpace], dict]:
    """The word spaces this project can build offline: FastText and Word2Vec trained on the
    English corpus of :func:`relreps.datasets.corpus.build_english_corpus` (built once into
    ``cache_dir``, the vectors cached beside it), then GloVe 6B 50-d and the input embedding table
    of all-MiniLM-L6-v2 where their packages are installed (skipped with a log line otherwise).

    Returns the spaces (named ``FastText``, ``Word2Vec``, :data:`GLOVE`, :data:`REFERENCE`) and
    facts: the models' ledger (``models``) and the corpus's size, sources and hash (``corpus``).
    """
    from relreps.datasets.corpus import build_english_corpus
    from relreps.datasets.words import load_glove_6b_50d, load_minilm_token_embeddings

    def renamed(space: WordSpace, name: str) -> WordSpace:
        return WordSpace(name, space.words, space.vectors, space.source)

    corpus = build_english_corpus(cache_dir, max_tokens=max_tokens, log=log)
    log(f"corpus: {corpus.n_tokens:,} tokens, sha256 {corpus.sha256[:12]}")
    spaces, ledger = [], []
    # Different seeds: gensim seeds each word's initial vector from (word, seed), so the same seed
    # would start both models from the same vectors and leave them correlated.
    for seed, (algorithm, name) in enumerate((("fasttext", "FastText"), ("word2vec", "Word2Vec"))):
        config = WordVectorConfig(algorithm=algorithm, dim=dim, epochs=epochs, seed=seed)
        space = trained_word_vectors(
            corpus.path, corpus.sha256, config, cache_dir, log=log, ledger=ledger
        )
        spaces.append(renamed(space, name))
    try:
        spaces.append(renamed(load_glove_6b_50d(), GLOVE))
    except ImportError as error:
        log(f"GloVe-6B-50d unavailable, comparing the local pair only: {error}")
    else:
        try:
            spaces.append(renamed(load_minilm_token_embeddings(), REFERENCE))
        except (ImportError, ValueError) as error:  # missing, or a broken model folder
            log(f"MiniLM token embeddings unavailable, no reference pair: {error}")
    facts = {
        "models": ledger,
        "corpus": {
            "built_now": corpus.built_now,
            "tokens": corpus.n_tokens,
            "lines": corpus.n_lines,
            "sources": corpus.sources,
            "sha256": corpus.sha256,
            "notes": list(corpus.notes),
        },
    }
    return spaces, facts
