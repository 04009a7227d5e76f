"""What the two text experiments share: representation modes, head training, stitching scores.

Nothing here is new math: the relative projection, the heads and the stitching evaluation come
from the library; this module only composes them the same way for both experiments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# absolute latents; cosine to anchors (the paper); cosine after centring on the anchors' mean
MODES = ("absolute", "relative", "relative-centred")
MODE_LABELS = {
    "absolute": "absolute",
    "relative": "relative (cosine)",
    "relative-centred": "relative (cosine, centred on anchors)",
}


@dataclass(frozen=True)
class Space:
    """One encoder's view of a split: its embeddings of the samples and of the anchors."""

    samples: np.ndarray
    anchors: np.ndarray | None = None

    def represent(self, mode: str) -> torch.Tensor:
        from relreps import relative_projection

        x = torch.from_numpy(self.samples)
        if mode == "absolute":
            return x
        if self.anchors is None:
            raise ValueError(f"mode {mode!r} needs anchors.")
        center = "anchors" if mode == "relative-centred" else None
        return relative_projection(x, torch.from_numpy(self.anchors), center=center)


def fit_head(
    space: Space,
    labels: np.ndarray,
    n_classes: int,
    mode: str,
    *,
    seed: int,
    epochs: int,
) -> torch.nn.Module:
    from relreps.models.heads import train_classifier

    return train_classifier(
        space.represent(mode),
        torch.from_numpy(labels),
        n_classes,
        seed=seed,
        epochs=epochs,
    )


def stitching_scores(
    heads: Mapping[str, torch.nn.Module],
    test_spaces: Mapping[str, Space],
    labels: np.ndarray,
    mode: str,
) -> Any:
    """Weighted F1 x100 of every head on every encoder's test representation.

    Absolute pairs are scored only where the widths match (NaN elsewhere, "-" in tables).
    """
    from relreps.stitching import WeightedF1, evaluate_stitching

    represented = {name: space.represent(mode) for name, space in test_spaces.items()}

    def compatible(encoder: str, decoder: str) -> bool:
        head_width = heads[decoder][0].normalized_shape[0]
        return represented[encoder].shape[1] == head_width

    return evaluate_stitching(
        {name: (lambda _, value=value: value) for name, value in represented.items()},
        dict(heads),
        [(None, torch.from_numpy(labels))],
        WeightedF1,
        compatible=compatible,
        progress=False,
    )


def anisotropy(vectors: np.ndarray, n: int = 1000, seed: int = 0) -> float:
    """Mean cosine between distinct samples (0 for isotropic spaces; e5 is ~0.8)."""
    rng = np.random.default_rng(seed)
    rows = vectors[rng.choice(len(vectors), size=min(n, len(vectors)), replace=False)]
    unit = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    gram = unit @ unit.T
    m = len(unit)
    return float((gram.sum() - np.trace(gram)) / max(m * (m - 1), 1))


def mean_std_of(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v == v]
    if not values:
        return float("nan"), float("nan")
    return float(np.mean(values)), float(np.std(values))
