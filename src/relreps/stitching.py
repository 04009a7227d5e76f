"""Zero-shot stitching: join one model's encoder to another model's decoder, and score every pair.

An *encoder* is any callable from inputs to the transmitted representation (for a relative model:
the relative vector computed with that model's own anchor embeddings); a *decoder* is any callable
from that representation to outputs. Nothing is trained here. :func:`represent` gives the three
representations the experiments compare (absolute latents, relative, relative centred on the
anchors); :func:`evaluate_stitching` scores every (encoder, decoder) pair over batches of inputs,
:func:`stitch_representations` over representations computed beforehand, and
:func:`summarise_stitching` pools several seeds' results. Metrics are always passed as
factories (a class, or a function returning a fresh metric), so no pair shares a state.

Examples
--------
>>> import torch
>>> encoders = {"a": lambda x: x, "b": lambda x: -x}
>>> decoders = {"a": lambda z: z, "b": lambda z: -z}
>>> result = evaluate_stitching(encoders, decoders, [(torch.ones(4, 2), torch.ones(4, 2))],
...                             lambda: MeanMetric(squared_error), progress=False)
>>> result.scores.tolist()
[[0.0, 4.0], [4.0, 0.0]]
>>> float(result.non_stitched().mean()), float(result.stitched().mean())
(0.0, 4.0)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import torch

from relreps._backend import Array
from relreps._checks import check_choice

__all__ = [
    "MODES",
    "Accuracy",
    "MacroF1",
    "MeanMetric",
    "Metric",
    "Mode",
    "StitchingResult",
    "WeightedF1",
    "evaluate_stitching",
    "mean_std",
    "represent",
    "squared_error",
    "stitch",
    "stitch_representations",
    "summarise_stitching",
]

Mode = Literal["absolute", "relative", "relative-centred"]
#: Absolute latents; cosine to the anchors (the paper); cosine after centring on the anchors' mean.
MODES: tuple[str, ...] = ("absolute", "relative", "relative-centred")


def represent(x: Array, anchors: Array | None, mode: Mode, *, similarity: str = "cosine") -> Array:
    """``x`` as a decoder trained in ``mode`` reads it.

    Parameters
    ----------
    x
        Latents, shape ``(n, d)``, numpy or torch.
    anchors
        The anchors' latents from the same encoder, ``(k, d)``; unused (may be ``None``) for
        ``"absolute"``.
    mode
        ``"absolute"`` (``x`` itself), ``"relative"`` (similarity to the anchors) or
        ``"relative-centred"`` (the same after subtracting the anchors' mean from both).

    Returns
    -------
    The same kind as ``x``: ``x`` itself, or ``(n, k)``.

    Examples
    --------
    >>> import numpy as np
    >>> x, anchors = np.array([[1.0, 0.0]]), np.array([[2.0, 0.0], [0.0, 3.0]])
    >>> represent(x, anchors, "relative").tolist(), represent(x, None, "absolute") is x
    ([[1.0, 0.0]], True)
    """
    from relreps.projection import relative_projection

    check_choice(mode, "mode", MODES)
    if mode == "absolute":
        return x
    if anchors is None:
        raise ValueError(f"mode {mode!r} needs the anchors' latents; got anchors=None.")
    center = "anchors" if mode == "relative-centred" else None
    return relative_projection(x, anchors, similarity, center=center)


class Metric(Protocol):
    """Accumulates predictions batch by batch, then returns one number."""

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None: ...

    def compute(self) -> float: ...


class MeanMetric:
    """Mean over all samples of a per-sample function ``fn(prediction, target) -> (n,)``.

    Pass it to the stitching functions as a factory, e.g.
    ``functools.partial(MeanMetric, squared_error, scale=1e3)``.
    """

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


def squared_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error over all non-batch axes, shape ``(n,)``; the shapes must be
    equal (a decoder whose output broadcasts against the target is an error, not a score)."""
    if prediction.shape != target.shape:
        raise ValueError(
            f"The prediction has shape {tuple(prediction.shape)} but the target "
            f"{tuple(target.shape)}: the decoder must reconstruct the target's shape."
        )
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
    not scored (``compatible[i, j]`` false: absolute latents of different sizes) or where it
    *diverged* (scored, but the metric is not finite: a decoder that outputs NaN). Diverged pairs
    are left out of the means and counted (:meth:`diverged`, ``n_diverged``), never taken for
    incompatible ones. A pair is *non-stitched* when encoder and decoder share a name (one model),
    *stitched* otherwise.
    """

    encoders: tuple[str, ...]
    decoders: tuple[str, ...]
    scores: np.ndarray
    compatible: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.compatible is None:  # every pair was scored
            object.__setattr__(self, "compatible", np.ones(self.scores.shape, dtype=bool))

    def _mask(self, same: bool) -> np.ndarray:
        names = (
            np.array(self.encoders, dtype=object)[:, None]
            == np.array(self.decoders, dtype=object)[None, :]
        )
        return (names == same) & np.isfinite(self.scores)

    def diverged(self) -> list[tuple[str, str]]:
        """The ``(encoder, decoder)`` pairs that were scored but gave no finite score."""
        rows, columns = np.nonzero(self.compatible & ~np.isfinite(self.scores))
        return [(self.encoders[i], self.decoders[j]) for i, j in zip(rows, columns, strict=True)]

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
            "n_diverged": len(self.diverged()),
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
    metric: Callable[[], Metric],
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
        A factory returning a fresh :class:`Metric` (a class such as :class:`WeightedF1`, or
        ``lambda: MeanMetric(squared_error)``); one is made per pair.
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
    new_metric = _metric_factory(metric)
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
    compatible = np.zeros(scores.shape, dtype=bool)
    for (e, d), value in metrics.items():
        i, j = encoder_names.index(e), decoder_names.index(d)
        scores[i, j], compatible[i, j] = value.compute(), True
    return _checked(StitchingResult(encoder_names, decoder_names, scores, compatible))


def _checked(result: StitchingResult) -> StitchingResult:
    """``result``, after a warning naming the pairs that diverged."""
    diverged = result.diverged()
    if diverged:
        pairs = ", ".join(f"{e} -> {d}" for e, d in diverged)
        warnings.warn(
            f"{len(diverged)} stitched pair(s) gave no finite score ({pairs}): left out of the "
            "means and counted as diverged (n_diverged).",
            stacklevel=3,
        )
    return result


def _metric_factory(metric: Any) -> Callable[[], Metric]:
    if hasattr(metric, "update") and not isinstance(metric, type):
        raise TypeError(
            f"metric must be a factory that returns a fresh metric (a class, or e.g. "
            f"lambda: MeanMetric(squared_error)), got the instance {metric!r}: one instance "
            "would mix every pair's predictions."
        )
    if not callable(metric):
        raise TypeError(f"metric must be a factory returning a fresh metric, got {metric!r}.")
    return metric


def stitch_representations(
    representations: Mapping[str, Array],
    decoders: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
    targets: Array,
    metric: Callable[[], Metric],
    *,
    widths: Mapping[str, int] | None = None,
    translate: Callable[[str, str, Any], Any] | None = None,
) -> StitchingResult:
    """Score every decoder on every encoder's representation of the same samples.

    The grid form of :func:`evaluate_stitching` for representations computed beforehand (frozen
    encoders whose embeddings are cached): ``representations[e]`` is encoder ``e``'s
    representation of the evaluation samples, ``(n, width)``; each decoder reads it in one call,
    in inference mode.

    Parameters
    ----------
    representations
        Encoder name -> ``(n, width)`` numpy array or tensor (numpy is read as a tensor of its
        dtype).
    decoders
        Decoder name -> callable on ``(n, width)`` tensors.
    targets
        ``(n, ...)`` targets for the metric (e.g. class indices).
    metric
        A factory returning a fresh :class:`Metric`.
    widths
        Decoder name -> the input width it was trained on: pairs whose representation has
        another width are not scored (NaN), e.g. absolute latents of different sizes. Every pair
        is scored when ``None``.
    translate
        ``translate(encoder, decoder, representation)`` -> the representation brought into
        the decoder's space (e.g. a :class:`~relreps.translation.Translator` fitted on parallel
        anchors), for every pair of different names; the diagonal reads its own representation.
        ``None``: every decoder reads the representations as they are.

    Returns
    -------
    StitchingResult
    """
    if not representations or not decoders:
        raise ValueError("stitch_representations needs at least one representation and decoder.")
    new_metric = _metric_factory(metric)
    tensors = {name: _as_tensor(value) for name, value in representations.items()}
    target = torch.as_tensor(targets)
    for name, value in tensors.items():
        if value.shape[0] != target.shape[0]:
            raise ValueError(
                f"The representation of {name!r} has {value.shape[0]} rows but there are "
                f"{target.shape[0]} targets: both must describe the same samples."
            )
    encoder_names, decoder_names = tuple(tensors), tuple(decoders)
    scores = np.full((len(encoder_names), len(decoder_names)), np.nan)
    compatible = np.zeros(scores.shape, dtype=bool)
    for i, e in enumerate(encoder_names):
        for j, d in enumerate(decoder_names):
            inputs = tensors[e]
            if translate is not None and e != d:  # outside inference mode: fits may need grads
                inputs = _as_tensor(translate(e, d, representations[e]))
                if inputs.shape[0] != target.shape[0]:
                    raise ValueError(
                        f"translate({e!r}, {d!r}, ...) returned {inputs.shape[0]} rows for "
                        f"{target.shape[0]} samples: a translation must keep one row per sample."
                    )
            if widths is not None and inputs.shape[-1] != widths[d]:
                continue
            value = new_metric()
            with torch.inference_mode():
                value.update(decoders[d](inputs), target)
            scores[i, j], compatible[i, j] = value.compute(), True
    return _checked(StitchingResult(encoder_names, decoder_names, scores, compatible))


def _as_tensor(value: Array) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value))


def summarise_stitching(results: Sequence[StitchingResult]) -> dict[str, Any]:
    """Pool the results of several seeds (the same encoders and decoders in each).

    Returns ``non_stitched`` and ``stitched`` as :func:`mean_std` over every seed's diagonal and
    off-diagonal scores (undefined and diverged pairs left out; ``None`` when none is defined),
    ``n_diverged`` (how many pairs diverged in all), and ``matrix``,
    the per-pair mean over seeds (``None`` where undefined), rounded to 2 decimals.
    """
    if not results:
        raise ValueError("summarise_stitching needs at least one result.")
    first = results[0]
    if any((r.encoders, r.decoders) != (first.encoders, first.decoders) for r in results):
        raise ValueError("Every result must score the same encoders and decoders, in order.")
    scores = np.stack([r.scores for r in results])
    same = (
        np.array(first.encoders, dtype=object)[:, None]
        == np.array(first.decoders, dtype=object)[None, :]
    )
    matrix = scores.mean(axis=0)  # undefined pairs are NaN in every seed and stay NaN
    return {
        "n_diverged": sum(len(r.diverged()) for r in results),
        "non_stitched": mean_std(scores[:, same].ravel().tolist()),
        "stitched": mean_std(scores[:, ~same].ravel().tolist()),
        "matrix": [[None if v != v else round(float(v), 2) for v in row] for row in matrix],
    }


def mean_std(values: Sequence[float | None]) -> dict[str, float] | None:
    """``{"mean", "std"}`` of the defined values (``None`` and NaN left out), ``None`` when no
    value is defined: the one shape of every number aggregated over seeds. The std is the
    population one (numpy's default).

    >>> mean_std([1.0, 3.0, float("nan")]), mean_std([None])
    ({'mean': 2.0, 'std': 1.0}, None)
    """
    kept = [float(v) for v in values if v is not None and v == v]
    if not kept:
        return None
    return {"mean": float(np.mean(kept)), "std": float(np.std(kept))}


class WeightedF1:
    """Weighted F1 x100 of argmax predictions (the paper's text and image stitching metric).

    ``update(logits, target)`` takes ``(n, n_classes)`` scores and ``(n,)`` class indices.
    """

    average = "weighted"

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
                average=self.average,
                zero_division=0,
            )
        )


class Accuracy:
    """Accuracy x100 of argmax predictions: ``update(logits (n, c), target (n,))``."""

    def __init__(self) -> None:
        self.correct = 0
        self.count = 0

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        self.correct += int((prediction.argmax(-1) == target).sum())
        self.count += int(target.numel())

    def compute(self) -> float:
        if self.count == 0:
            raise ValueError("The metric saw no samples: the evaluation data is empty.")
        return 100.0 * self.correct / self.count


class MacroF1(WeightedF1):
    """Macro F1 x100 (every class weighs the same; the paper's relative-training metric)."""

    average = "macro"
