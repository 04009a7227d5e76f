"""A small, deterministic training loop shared by the experiments' models."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def train_model(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    tensors: tuple[torch.Tensor, ...],
    *,
    epochs: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    description: str = "training",
) -> list[float]:
    """Train ``model`` with Adam on row-aligned ``tensors``, shuffled by ``seed``.

    ``loss_fn(model, batch)`` returns the scalar loss of a batch (a tuple with one slice of each
    tensor). Returns the mean loss of each epoch. The model is left in eval mode.
    """
    from tqdm.auto import tqdm

    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError(
            f"All tensors must have the same number of rows; got {[t.shape[0] for t in tensors]}."
        )
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}.")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[float] = []
    n_batches = (n + batch_size - 1) // batch_size
    # disable=None: bars on a terminal only, so logs and CI output stay readable.
    bar = tqdm(
        total=epochs * n_batches,
        desc=description,
        disable=None if progress else True,
        leave=False,
        unit="batch",
    )
    model.train()
    try:
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for start in range(0, n, batch_size):
                index = order[start : start + batch_size]
                loss = loss_fn(model, tuple(t[index] for t in tensors))
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"{description}: the loss became {loss.item()}; lower the learning rate."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(index)
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.4g}", refresh=False)
            history.append(total / n)
    finally:
        bar.close()
        model.eval()
    return history
