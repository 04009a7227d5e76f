"""Zero-shot stitching: join one model's encoder to another model's decoder, and score every pair.

An *encoder* is any callable from inputs to the transmitted representation (for a relative model:
the relative vector computed with that model's own anchor embeddings); a *decoder* is any callable
from that representation to outputs. Nothing is trained here.

Examples
--------
>>> import torch
>>> encoders = {"a": lambda x: x, "b": lambda x: -x}
>>> decoders = {"a": lambda z: z, "b": lambda z: -z}
>>> result = evaluate_stitching(encoders, decoders, [(torch.ones(4, 2), torch.ones(4, 2))],
...                             MeanMetric(squared_error), progress=False)
>>> result.scores.tolist()
[[0.0, 4.0], [4.0, 0.0]]
>>> float(result.non_stitched().mean()), float(result.stitched().mean())
(0.0, 4.0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch


class Metric(Protocol):
    """Accumulates predictions batch by batch, then returns one number."""

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None: ...

    def compute(self) -> float: ...


class MeanMetric:
    """Mean over all samples of a per-sample function ``fn(prediction, target) -> (n,)``."""

    def __init__(
        self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], scale: float = 1.0
    ):
        self.fn = fn
        self.scale = scale
        self.total = 0.0
        self.count = 0

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        values = self.fn(prediction, target)
        self.total += float(values.double().sum())
        self.count += int(values.numel())

    def compute(self) -> float:
        if self.count == 0:
            raise ValueError("The metric saw no samples: the evaluation data is empty.")
        return self.scale * self.total / self.count

    def fresh(self) -> MeanMetric:
        return MeanMetric(self.fn, self.scale)


def squared_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error over all non-batch axes, shape ``(n,)``."""
    return (prediction - target).pow(2).flatten(1).mean(1)


def stitch(encoder: Callable[[Any], Any], decoder: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The stitched model ``x -> decoder(encoder(x))``."""

    def stitched(x: Any) -> Any:
        return decoder(encoder(x))

    return stitched


@dataclass(frozen=True, eq=False)
class StitchingResult:
    """Scores of every (encoder, decoder) pair.

    ``scores[i, j]`` is the metric of ``decoders[j](encoders[i](x))``; NaN where the pair was
    not compatible. A pair is *non-stitched* when encoder and decoder share a name (one model),
    *stitched* otherwise.
    """

    encoders: tuple[str, ...]
    decoders: tuple[str, ...]
    scores: np.ndarray

    def _mask(self, same: bool) -> np.ndarray:
        names = (
            np.array(self.encoders, dtype=object)[:, None]
            == np.array(self.decoders, dtype=object)[None, :]
        )
        return (names == same) & np.isfinite(self.scores)

    def non_stitched(self) -> np.ndarray:
        """Scores of each model with itself."""
        return self.scores[self._mask(True)]

    def stitched(self) -> np.ndarray:
        """Scores of every compatible pair of different models."""
        return self.scores[self._mask(False)]

    def summary(self) -> dict[str, float]:
        """Mean and standard deviation of non-stitched and stitched scores (NaN when none)."""

        def stats(values: np.ndarray) -> tuple[float, float]:
            if values.size == 0:
                return float("nan"), float("nan")
            return float(values.mean()), float(values.std())

        ns_mean, ns_std = stats(self.non_stitched())
        s_mean, s_std = stats(self.stitched())
        return {
            "non_stitched_mean": ns_mean,
            "non_stitched_std": ns_std,
            "stitched_mean": s_mean,
            "stitched_std": s_std,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoders": list(self.encoders),
            "decoders": list(self.decoders),
            "scores": [
                [None if not np.isfinite(v) else float(v) for v in row] for row in self.scores
            ],
            **self.summary(),
        }


def evaluate_stitching(
    encoders: Mapping[str, Callable[[Any], torch.Tensor]],
    decoders: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
    batches: Iterable[tuple[Any, torch.Tensor]],
    metric: MeanMetric | Callable[[], Metric],
    *,
    compatible: Callable[[str, str], bool] | None = None,
    progress: bool = True,
    description: str = "stitching",
) -> StitchingResult:
    """Score ``decoders[d](encoders[e](x))`` for every pair, in one pass over ``batches``.

    Parameters
    ----------
    encoders, decoders
        Named callables. Each encoder runs once per batch; each decoder once per compatible pair.
    batches
        Iterable of ``(inputs, targets)``.
    metric
        A :class:`MeanMetric` (copied per pair) or a factory returning a fresh :class:`Metric`.
    compatible
        ``compatible(encoder_name, decoder_name)``; incompatible pairs score NaN (e.g. absolute
        latents of different sizes). All pairs by default.
    progress
        Show a progress bar over batches.

    Returns
    -------
    StitchingResult
    """
    from tqdm.auto import tqdm

    if not encoders or not decoders:
        raise ValueError("evaluate_stitching needs at least one encoder and one decoder.")
    new_metric = metric.fresh if isinstance(metric, MeanMetric) else metric
    encoder_names, decoder_names = tuple(encoders), tuple(decoders)
    pairs = [
        (e, d)
        for e in encoder_names
        for d in decoder_names
        if compatible is None or compatible(e, d)
    ]
    metrics = {pair: new_metric() for pair in pairs}
    with torch.inference_mode():
        for inputs, targets in tqdm(
            batches, desc=description, disable=None if progress else True, leave=False
        ):
            representations = {name: encoders[name](inputs) for name in encoder_names}
            for e, d in pairs:
                metrics[(e, d)].update(decoders[d](representations[e]), targets)
    scores = np.full((len(encoder_names), len(decoder_names)), np.nan)
    for (e, d), value in metrics.items():
        scores[encoder_names.index(e), decoder_names.index(d)] = value.compute()
    return StitchingResult(encoder_names, decoder_names, scores)


class WeightedF1:
    """Weighted F1 x100 of argmax predictions (the paper's text and image stitching metric).

    ``update(logits, target)`` takes ``(n, n_classes)`` scores and ``(n,)`` class indices.
    """

    def __init__(self) -> None:
        self.predictions: list[np.ndarray] = []
        self.targets: list[np.ndarray] = []

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        self.predictions.append(prediction.argmax(-1).cpu().numpy())
        self.targets.append(target.cpu().numpy())

    def compute(self) -> float:
        from sklearn.metrics import f1_score

        if not self.targets:
            raise ValueError("The metric saw no samples: the evaluation data is empty.")
        return 100.0 * float(
            f1_score(
                np.concatenate(self.targets),
                np.concatenate(self.predictions),
                average="weighted",
                zero_division=0,
            )
        )
