"""Classification heads trained on frozen embeddings, absolute or relative."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["classifier_head", "train_classifier"]

from relreps.models.training import seeded, train_model


def classifier_head(
    in_features: int, n_classes: int, *, hidden: int = 256, dropout: float = 0.1
) -> nn.Sequential:
    """The paper's text head, an MLP: LayerNorm over the inputs (for a relative head, over the
    anchor similarities, the paper's normalisation), Linear, SiLU, dropout, Linear."""
    if in_features < 1 or n_classes < 2:
        raise ValueError(
            f"A head needs in_features >= 1 and n_classes >= 2, got {in_features}, {n_classes}."
        )
    return nn.Sequential(
        nn.LayerNorm(in_features),
        nn.Linear(in_features, hidden),
        nn.SiLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, n_classes),
    )


def train_classifier(
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    *,
    seed: int = 0,
    epochs: int = 40,
    batch_size: int = 64,
    lr: float = 1e-3,
    hidden: int = 256,
    progress: bool = False,
    description: str = "head",
) -> nn.Sequential:
    """Train a :func:`classifier_head` on ``x (n, d)`` and labels ``y (n,)`` with cross-entropy.

    The initialisation, the dropout masks and the batch order all derive from ``seed``. The
    global torch random state is left as it was (the head draws from a forked one).
    """
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(
            f"Expected x of shape (n, d) and y of shape (n,); got {x.shape}, {y.shape}."
        )

    def loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        inputs, labels = batch
        return F.cross_entropy(model(inputs), labels)

    with seeded(seed):
        head = classifier_head(x.shape[1], n_classes, hidden=hidden)
        train_model(
            head,
            loss,
            (x.float(), y.long()),
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            progress=progress,
            description=description,
        )
    return head
