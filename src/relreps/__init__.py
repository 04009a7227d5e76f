"""relreps: relative representations for zero-shot latent space communication.

Represent every sample by its similarities to a fixed set of anchor samples embedded by the same
encoder (Moschella et al., ICLR 2023). Spaces that differ by a rotation and rescaling give the same
relative representation, so separately trained models become comparable and stitchable.

Importing relreps loads numpy and torch only; scikit-learn and optional extras load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relreps.anchors import Anchors, select_anchors
from relreps.projection import relative_projection
from relreps.similarities import (
    INVARIANCES,
    Similarity,
    get_similarity,
    register_similarity,
    similarity_names,
)

__version__ = "0.1.0"

__all__ = [
    "INVARIANCES",
    "Anchors",
    "RelativeProjection",
    "RelativeTransformer",
    "Similarity",
    "__version__",
    "get_similarity",
    "register_similarity",
    "relative_projection",
    "select_anchors",
    "similarity_names",
]

# The wrappers pull in torch.nn / scikit-learn; load them when first touched.
_LAZY = {"RelativeProjection": "relreps.nn", "RelativeTransformer": "relreps.sklearn"}

if TYPE_CHECKING:
    from relreps.nn import RelativeProjection
    from relreps.sklearn import RelativeTransformer


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'relreps' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
