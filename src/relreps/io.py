"""Files: atomic writes, tensors in safetensors with JSON metadata beside them, content hashes.

Nothing here unpickles: tensors are stored with safetensors, everything else as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "atomic_path",
    "json_default",
    "load_tensors",
    "load_translator",
    "load_whitener",
    "metadata_path",
    "read_json",
    "read_json_object",
    "save_tensors",
    "save_translator",
    "save_whitener",
    "sha256_array",
    "sha256_files",
    "short_hash",
    "tensors_sha256",
    "write_json_atomic",
    "write_text_atomic",
]


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``path`` at once.

    A crash or Ctrl-C leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        # mkstemp makes the file private (0600): give it the mode a plain open() would, or the
        # mode of the file it replaces.
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    write_text_atomic(
        path, json.dumps(data, indent=2, sort_keys=False, default=json_default) + "\n"
    )


def read_json(path: str | os.PathLike[str]) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}); delete it to have it recomputed."
        ) from None


def read_json_object(path: str | os.PathLike[str]) -> dict[str, Any]:
    """:func:`read_json` of a file that must hold a JSON object (metadata): anything else is a
    ``ValueError`` saying the file is damaged."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(
            f"{path} holds a JSON {type(data).__name__}, not an object: it is damaged; delete it "
            "to have it recomputed."
        )
    return data


def json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serialisable")


def save_tensors(
    path: str | os.PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write ``tensors`` to ``path`` (safetensors) and ``metadata`` to ``path`` + ``.json``.

    The tensors are written first, then the JSON: the JSON's presence marks a complete entry. The
    JSON records the tensors' checksum (``tensors_sha256``), which :func:`load_tensors` verifies.
    """
    from safetensors.torch import save_file

    path = Path(path)
    contiguous = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    with atomic_path(path) as temporary:
        save_file(contiguous, str(temporary))
    record = {**dict(metadata or {}), "tensors_sha256": tensors_sha256(contiguous)}
    write_json_atomic(metadata_path(path), record)


def tensors_sha256(tensors: Mapping[str, torch.Tensor]) -> str:
    """One SHA-256 over named tensors: each name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def load_tensors(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read what :func:`save_tensors` wrote; a damaged entry raises ``ValueError`` saying so."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta_path = metadata_path(path)
    if not path.exists() or not meta_path.exists():
        raise FileNotFoundError(f"No complete entry at {path} (tensors and {meta_path.name}).")
    metadata = read_json_object(meta_path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable safetensors file ({error}).") from None
    recorded = metadata.get("tensors_sha256")
    if recorded is not None and recorded != tensors_sha256(tensors):
        raise ValueError(
            f"{path} does not match the checksum recorded beside it: the file changed after it "
            "was written (a flipped byte, a partial copy)."
        )
    return tensors, metadata


def metadata_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def sha256_files(paths: list[Path] | tuple[Path, ...]) -> str:
    """One SHA-256 over the bytes of ``paths`` in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def sha256_array(array: Any) -> str:
    """SHA-256 of an array's values in C order (its bytes; dtype and shape not included)."""
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def short_hash(data: Any) -> str:
    """A short stable hash of JSON-serialisable ``data`` (for cache keys)."""
    text = json.dumps(data, sort_keys=True, default=json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def save_translator(path: str | os.PathLike[str], translator: Any) -> None:
    """A fitted :class:`~relreps.translation.Translator` as safetensors + JSON, atomically."""
    _save_state(path, translator, "translator")


def load_translator(path: str | os.PathLike[str]) -> Any:
    """Inverse of :func:`save_translator`; ``ValueError`` for a file that holds no translator."""
    from relreps.translation import Translator

    return _load_state(path, Translator, "translator")


def save_whitener(path: str | os.PathLike[str], whitener: Any) -> None:
    """A fitted :class:`~relreps.whitening.Whitener` as safetensors + JSON, atomically."""
    _save_state(path, whitener, "whitener")


def load_whitener(path: str | os.PathLike[str]) -> Any:
    """Inverse of :func:`save_whitener`; ``ValueError`` for a file that holds no whitener."""
    from relreps.whitening import Whitener

    return _load_state(path, Whitener, "whitener")


def _save_state(path: str | os.PathLike[str], fitted: Any, kind: str) -> None:
    """An object with ``to_state() -> (tensors, metadata)``, tagged with its ``kind``."""
    tensors, metadata = fitted.to_state()
    save_tensors(path, tensors, {"relreps": kind, **metadata})


def _load_state(path: str | os.PathLike[str], cls: Any, kind: str) -> Any:
    tensors, metadata = load_tensors(path)
    if metadata.get("relreps") != kind:
        raise ValueError(f"{path} does not hold a relreps {kind}.")
    try:
        return cls.from_state(tensors, metadata)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
