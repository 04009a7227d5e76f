"""Frozen pretrained encoders behind one interface: ``encode(inputs) -> float32 (n, dim)``.

Every encoder has a stable ``id`` (model, version, preprocessing), which keys the embedding cache
(:mod:`relreps.cache`), and a ``dim``. Batching, the progress bar and the checks on inputs and
outputs live in :class:`Encoder`; a subclass only turns one batch of inputs into one array.

Registered names (:func:`encoder_names`), each installing offline from PyPI:

- text (:mod:`relreps.encoders.text`): ``minilm``, ``mpnet``, ``use``, ``e5``; and
  ``hf:NAME_OR_FOLDER[:cls|mean]`` (any ``transformers`` encoder) or ``st:FOLDER`` (any
  sentence-transformers folder);
- images (:mod:`relreps.encoders.vision`): ``efficientnet-lite0``, ``-lite1``, ``-lite2``
  (``resolution=`` pixels); any local ``torch.nn.Module`` through
  :class:`~relreps.encoders.vision.TorchImageEncoder`.

Examples
--------
>>> import numpy as np
>>> class Lengths(Encoder):  # a toy encoder: the length of each text
...     id, dim = "lengths@1", 1
...     def _encode_batch(self, batch):
...         return np.array([[len(text)] for text in batch])
>>> Lengths().encode(["a", "abc"], progress=False).tolist()
[[1.0], [3.0]]
>>> "minilm" in encoder_names()
True
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from relreps._registry import Registry

__all__ = [
    "ENCODERS",
    "Encoder",
    "MissingDependencyError",
    "check_encoder_name",
    "default_cache_dir",
    "encoder_names",
    "get_encoder",
    "register_encoder",
    "register_prefix",
    "require",
]


class MissingDependencyError(ImportError):
    """An optional package an encoder needs is not installed."""


def require(module: str, package: str, extra: str) -> Any:
    """Import ``module``, or raise :class:`MissingDependencyError` naming what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f"This encoder needs the package {package!r} ({error}). Install it with "
            f"`pip install {package}` or `pip install 'relreps[{extra}]'`."
        ) from None


class Encoder:
    """Base class: batching, progress and checks around :meth:`_encode_batch`.

    Subclasses set ``id`` and ``dim`` and implement ``_encode_batch(batch) -> (b, dim)``, where
    ``batch`` is a slice of the inputs (a list of texts, an array of images). They may override
    :meth:`_check_inputs` to validate and normalise the whole input once.

    Attributes
    ----------
    id : str
        Stable identity of what the encoder computes: two encoders with the same id give the
        same vectors.
    dim : int
        Width of the vectors.
    batch_size : int
        Inputs per call of the underlying model.
    """

    id: str
    dim: int
    batch_size: int = 64
    unit: str = "input"

    def _encode_batch(self, batch: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_inputs(self, inputs: Any) -> Any:
        """The inputs as a sliceable sequence (validated); the base accepts any sequence."""
        return inputs

    def encode(
        self, inputs: Any, *, progress: bool = True, description: str | None = None
    ) -> np.ndarray:
        """Embed ``inputs`` into a ``float32`` array of shape ``(len(inputs), dim)``."""
        from tqdm.auto import tqdm

        inputs = self._check_inputs(inputs)
        n = len(inputs)
        out = np.empty((n, self.dim), dtype=np.float32)
        bar = tqdm(
            total=n,
            desc=description or f"encoding with {self.id}",
            disable=None if progress else True,
            leave=False,
            unit=self.unit,
        )
        try:
            for start in range(0, n, self.batch_size):
                batch = inputs[start : start + self.batch_size]
                vectors = np.asarray(self._encode_batch(batch), dtype=np.float32)
                if vectors.shape != (len(batch), self.dim):
                    raise RuntimeError(
                        f"{self.id} returned shape {vectors.shape} for {len(batch)} inputs; "
                        f"expected {(len(batch), self.dim)}."
                    )
                if not np.isfinite(vectors).all():
                    raise ValueError(
                        f"{self.id} produced non-finite values for inputs {start} to "
                        f"{start + len(batch) - 1}: check those inputs and the model's weights."
                    )
                out[start : start + len(batch)] = vectors
                bar.update(len(batch))
        finally:
            bar.close()
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, dim={self.dim})"


def default_cache_dir() -> Path:
    """``$RELREPS_CACHE``, else ``~/.cache/relreps``."""
    return Path(os.environ.get("RELREPS_CACHE", Path.home() / ".cache" / "relreps"))


#: Encoder factories by name: ``factory(device=..., cache_dir=...) -> Encoder``.
ENCODERS: Registry[Callable[..., Encoder]] = Registry(
    "encoder",
    hint="Also accepted: 'hf:NAME_OR_FOLDER[:cls|mean]' (transformers) or 'st:FOLDER' "
    "(sentence-transformers).",
)
#: Name prefixes that take an argument: ``factory(argument, device=...) -> Encoder``.
_PREFIXES: dict[str, Callable[..., Encoder]] = {}


def register_prefix(prefix: str, factory: Callable[..., Encoder]) -> None:
    """Make ``get_encoder(prefix + argument)`` call ``factory(argument, device=...)``."""
    _PREFIXES[prefix] = factory


def register_encoder(
    name: str, factory: Callable[..., Encoder], *, overwrite: bool = False
) -> Callable[..., Encoder]:
    """Make ``get_encoder(name)`` call ``factory(device=..., cache_dir=...)``."""
    return ENCODERS.add(name, factory, overwrite=overwrite)


def encoder_names() -> list[str]:
    """Names :func:`get_encoder` accepts (besides the ``hf:`` and ``st:`` forms)."""
    return list(ENCODERS.names())


def check_encoder_name(name: str) -> str:
    """``name`` if :func:`get_encoder` understands it, else ``ValueError`` listing the choices."""
    if isinstance(name, str) and name.startswith(tuple(_PREFIXES)):
        return name
    ENCODERS.get(name)
    return name


def get_encoder(
    name: str,
    *,
    device: str = "cpu",
    cache_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Encoder:
    """The encoder called ``name``: a registered name, ``hf:NAME[:cls|mean]`` or ``st:FOLDER``.

    ``options`` go to the encoder's factory (e.g. ``resolution=64`` for image encoders).
    """
    for prefix, factory in _PREFIXES.items():
        if isinstance(name, str) and name.startswith(prefix):
            return factory(name[len(prefix) :], device=device, **options)
    factory = ENCODERS.get(name)
    try:
        return factory(device=device, cache_dir=cache_dir, **options)
    except TypeError as error:
        if options and "unexpected keyword" in str(error):
            import re

            unknown = re.findall(r"unexpected keyword argument '(\w+)'", str(error))
            named = unknown or sorted(options)
            raise ValueError(
                f"Encoder {name!r} takes no option(s) {named}; given {sorted(options)}."
            ) from None
        raise


from relreps.encoders import text as _text  # noqa: E402, F401  (registers the text encoders)
from relreps.encoders import vision as _vision  # noqa: E402, F401  (and the image encoders)
