"""Labelled text: one small container, loaders for users' files and Hugging Face datasets.

Examples
--------
>>> data = TextDataset.from_labels("demo", ["a b", "c d", "e f"], ["x", "y", "x"])
>>> data.label_names, data.labels.tolist()
(('x', 'y'), [0, 1, 0])
>>> balanced_sample(data.labels, 1, seed=0).tolist()
[2, 1]
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "TextDataset",
    "balanced_sample",
    "load_hf_dataset",
    "load_text_file",
    "truncate_text",
]


@dataclass(frozen=True, eq=False)
class TextDataset:
    """Texts with integer labels; ``label_names[labels[i]]`` is the class of ``texts[i]``."""

    name: str
    texts: tuple[str, ...]
    labels: np.ndarray
    label_names: tuple[str, ...]
    ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if labels.shape != (len(self.texts),):
            raise ValueError(
                f"{self.name}: {len(self.texts)} texts but labels of shape {labels.shape}."
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.label_names)):
            raise ValueError(
                f"{self.name}: labels must index label_names (0..{len(self.label_names) - 1})."
            )
        if self.ids and len(self.ids) != len(self.texts):
            raise ValueError(f"{self.name}: {len(self.ids)} ids for {len(self.texts)} texts.")
        object.__setattr__(self, "labels", labels.astype(np.int64))
        if not self.ids:
            object.__setattr__(self, "ids", tuple(str(i) for i in range(len(self.texts))))

    @classmethod
    def from_labels(
        cls, name: str, texts: Sequence[str], labels: Sequence[str], ids: Sequence[str] = ()
    ) -> TextDataset:
        """Build from string labels; classes are numbered in sorted order."""
        names = tuple(sorted(set(labels)))
        index = {label: i for i, label in enumerate(names)}
        return cls(name, tuple(texts), np.array([index[x] for x in labels]), names, tuple(ids))

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> TextDataset:
        """The rows ``indices`` in that order, with the same classes."""
        indices = np.asarray(indices, dtype=np.int64)
        return TextDataset(
            name or self.name,
            tuple(self.texts[i] for i in indices),
            self.labels[indices],
            self.label_names,
            tuple(self.ids[i] for i in indices),
        )


def truncate_text(text: str, max_chars: int | None) -> str:
    """``text`` cut to at most ``max_chars`` characters at a word boundary (``None``: as is).

    >>> truncate_text("a package of small tools", 12)
    'a package of'
    """
    if max_chars is None or len(text) <= max_chars:
        return text
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}.")
    head = text[:max_chars]
    if not (text[max_chars].isspace() or head[-1].isspace()):  # inside a word: drop it
        words = head.rsplit(None, 1)
        head = words[0] if len(words) == 2 else head
    return head.rstrip()


def balanced_sample(
    labels: np.ndarray,
    per_class: int,
    *,
    seed: int = 0,
    candidates: np.ndarray | None = None,
    allow_fewer: bool = False,
) -> np.ndarray:
    """Indices of ``per_class`` samples of every class, drawn with ``seed``, sorted by class.

    ``candidates`` restricts the draw to those indices. A class with fewer than ``per_class``
    candidates raises ``ValueError`` unless ``allow_fewer`` (then it gives all it has).
    """
    labels = np.asarray(labels)
    pool = np.arange(len(labels)) if candidates is None else np.asarray(candidates, np.int64)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = pool[labels[pool] == label]
        if len(members) < per_class and not allow_fewer:
            raise ValueError(
                f"Class {label} has {len(members)} samples, fewer than the {per_class} asked for;"
                " ask for fewer per class or pass allow_fewer=True."
            )
        take = min(per_class, len(members))
        chosen.append(np.sort(rng.choice(members, size=take, replace=False)))
    return np.concatenate(chosen) if chosen else np.empty(0, np.int64)


def load_text_file(
    path: str | os.PathLike[str],
    *,
    text_field: str = "text",
    label_field: str = "label",
    name: str | None = None,
) -> TextDataset:
    """A user's ``text,label`` file: CSV (with a header row) or JSONL (one object per line).

    Empty texts or labels are errors that name the line, so a bad row is fixed at its source.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such text file: {path}")
    rows: list[tuple[int, dict]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not valid JSON ({error}).") from None
    elif path.suffix.lower() in (".csv", ".tsv"):
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            missing = {text_field, label_field} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(
                    f"{path}: no column(s) {sorted(missing)} in the header {reader.fieldnames}; "
                    "pass text_field=/label_field= to name yours."
                )
            rows = [(number, row) for number, row in enumerate(reader, 2)]
    else:
        raise ValueError(f"{path}: expected a .csv, .tsv or .jsonl file, got {path.suffix!r}.")
    texts, labels = [], []
    for number, row in rows:
        text, label = row.get(text_field), row.get(label_field)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{path}:{number}: empty or missing {text_field!r}.")
        if label is None or str(label).strip() == "":
            raise ValueError(f"{path}:{number}: empty or missing {label_field!r}.")
        texts.append(text)
        labels.append(str(label))
    if not texts:
        raise ValueError(f"{path} holds no rows.")
    return TextDataset.from_labels(name or path.stem, texts, labels)


def load_hf_dataset(
    name: str,
    *,
    split: str = "train",
    config: str | None = None,
    text_field: str = "text",
    label_field: str = "label",
) -> TextDataset:  # pragma: no cover - needs the network
    """A Hugging Face ``datasets`` dataset by name (online users: ``trec``, ``dbpedia_14``, ...)."""
    try:
        import datasets
    except ImportError:
        raise ImportError(
            "Loading Hugging Face datasets needs `pip install datasets` (and network access)."
        ) from None
    data = datasets.load_dataset(name, config, split=split)
    feature = data.features.get(label_field)
    if feature is None or text_field not in data.features:
        raise ValueError(
            f"{name} has fields {list(data.features)}; pass text_field=/label_field= to pick."
        )
    labels = np.asarray(data[label_field])
    names = getattr(feature, "names", None) or [str(v) for v in sorted(set(labels.tolist()))]
    if not getattr(feature, "names", None):
        index = {v: i for i, v in enumerate(sorted(set(labels.tolist())))}
        labels = np.array([index[v] for v in labels.tolist()])
    return TextDataset(f"{name}:{split}", tuple(data[text_field]), labels, tuple(names))
