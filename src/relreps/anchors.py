"""Choosing anchors, and taking the same (parallel) anchors from another space."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from relreps._backend import Array, as_tensor, safe_scale
from relreps._checks import check_choice, check_finite, check_int

__all__ = [
    "COUNT_STRATEGIES",
    "STRATEGIES",
    "Anchors",
    "select_anchors",
]


Strategy = Literal["random", "top", "stratified", "kmeans", "fps"]
STRATEGIES: tuple[str, ...] = ("random", "top", "stratified", "kmeans", "fps")
#: Strategies that need only the number of samples (and labels), not the space itself.
COUNT_STRATEGIES: tuple[str, ...] = ("random", "top", "stratified")


@dataclass(frozen=True, eq=False)
class Anchors:
    """Which samples are anchors, and how they were chosen.

    Attributes
    ----------
    indices
        Row indices into the space the anchors were selected from, shape ``(k,)``, in anchor order.
    strategy
        The selection strategy.
    seed
        The seed that made the choice.
    n_samples
        Number of rows of the space they were selected from; :meth:`take` checks it.
    labels
        The anchors' labels, shape ``(k,)``, when labels were given.
    source
        Which samples the indices point into, in words ("the 300 training texts", "gettext
        interface messages"): anchors may come from another dataset than the data.
    options
        The strategy's parameters beyond the seed (``{"top_n": 1000}`` for ``"top"``).
    """

    indices: np.ndarray
    strategy: str
    seed: int
    n_samples: int
    labels: np.ndarray | None = None
    source: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        raw = np.asarray(self.indices)
        if raw.ndim != 1 or (raw.size and raw.dtype.kind not in "iu"):
            raise ValueError(f"Anchor indices must be a 1-D array of integers, got {raw!r}.")
        if raw.size and (raw.min() < 0 or raw.max() >= self.n_samples):
            raise ValueError(
                f"Anchor indices must lie in [0, {self.n_samples}) (the rows of the space they "
                f"were chosen from); got values from {raw.min()} to {raw.max()}."
            )
        if len(np.unique(raw)) != len(raw):
            raise ValueError("Anchor indices must be distinct: the same sample is an anchor twice.")
        indices = np.asarray(self.indices, dtype=np.int64).copy()
        indices.setflags(write=False)
        object.__setattr__(self, "indices", indices)
        if self.labels is not None:
            labels = np.asarray(self.labels).copy()
            labels.setflags(write=False)
            object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "options", dict(self.options))

    def __len__(self) -> int:
        return len(self.indices)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Anchors):
            return NotImplemented
        same_labels = (self.labels is None and other.labels is None) or (
            self.labels is not None
            and other.labels is not None
            and np.array_equal(self.labels, other.labels)
        )
        return (
            np.array_equal(self.indices, other.indices)
            and (self.strategy, self.seed, self.n_samples, self.source, self.options)
            == (other.strategy, other.seed, other.n_samples, other.source, other.options)
            and same_labels
        )

    __hash__ = None  # type: ignore[assignment]

    def take(self, y: Array | Sequence[Any]) -> Any:
        """Return the anchor rows of ``y``, in anchor order.

        ``y`` is any row-aligned space over the same samples (another model's embeddings, the raw
        inputs, a list of texts): that is how parallel anchors are obtained. numpy and torch inputs
        keep their kind (and device); a pandas DataFrame gives its rows (``iloc``); other
        sequences come back as a list.

        Examples
        --------
        >>> import numpy as np, relreps
        >>> x = np.arange(20.0).reshape(10, 2)
        >>> anchors = relreps.select_anchors(x, 3, seed=1)
        >>> np.array_equal(anchors.take(x), x[anchors.indices])
        True
        """
        n = y.shape[0] if hasattr(y, "shape") and len(y.shape) > 0 else len(y)
        if n != self.n_samples:
            raise ValueError(
                f"The anchors were selected from {self.n_samples} samples but this space has {n} "
                "rows: take() needs a space over the same samples, in the same order."
            )
        if isinstance(y, torch.Tensor):
            return y[torch.tensor(self.indices, device=y.device)]
        if isinstance(y, np.ndarray):
            return y[self.indices]
        if hasattr(y, "iloc"):  # a pandas DataFrame or Series: rows by position, not columns
            return y.iloc[self.indices]
        return [y[int(i)] for i in self.indices]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description (indices, strategy, seed, n_samples, labels, source,
        options)."""
        return {
            "indices": self.indices.tolist(),
            "strategy": self.strategy,
            "seed": self.seed,
            "n_samples": self.n_samples,
            "labels": None if self.labels is None else self.labels.tolist(),
            "source": self.source,
            "options": dict(self.options),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Anchors:
        """Inverse of :meth:`to_dict`."""
        labels = data.get("labels")
        return cls(
            indices=np.asarray(data["indices"], dtype=np.int64),
            strategy=str(data["strategy"]),
            seed=int(data["seed"]),
            n_samples=int(data["n_samples"]),
            labels=None if labels is None else np.asarray(labels),
            source=data.get("source"),
            options=dict(data.get("options") or {}),
        )


def select_anchors(
    x: Array | None,
    n_anchors: int,
    strategy: Strategy = "random",
    *,
    labels: Array | Sequence[Any] | None = None,
    seed: int = 0,
    top_n: int | None = None,
    n_samples: int | None = None,
    source: str | None = None,
) -> Anchors:
    """Choose ``n_anchors`` rows of ``x`` as anchors.

    Parameters
    ----------
    x
        The space to choose from, shape ``(n_samples, d)`` (numpy or torch). ``random``, ``top``
        and ``stratified`` use only its length: they also accept ``x=None`` with ``n_samples``
        (or, with ``labels``, none: the labels' length).
    n_anchors
        How many anchors, ``1 <= n_anchors <= n_samples`` (``<= top_n`` for ``top``).
    strategy
        ``"random"``: uniform without replacement. ``"top"``: uniform among the first ``top_n``
        rows, for rows in frequency order (the paper's "uniform among the top-N words").
        ``"stratified"``: class-balanced round-robin over ``labels`` (the paper's image models);
        class counts differ by at most one unless a class runs out. ``"kmeans"``: the sample
        nearest each k-means centroid. ``"fps"``: farthest-point sampling in Euclidean distance,
        from a random start.
    labels
        Class of each row, shape ``(n_samples,)``; required by ``stratified``, recorded otherwise.
    seed
        Every random choice derives from it: the same seed gives the same anchors.
    top_n
        The ``top`` strategy's candidate rows (required by it, refused by the others).
    n_samples
        The number of rows when ``x`` is ``None`` (default: ``len(labels)`` when given).
    source
        Which samples these are, in words, recorded with the anchors (``metrics.json``).

    Returns
    -------
    Anchors
        Distinct indices plus how they were chosen; ``anchors.take(y)`` gives parallel anchors.

    Examples
    --------
    >>> import numpy as np, relreps
    >>> x = np.random.default_rng(0).normal(size=(100, 8))
    >>> labels = np.repeat([0, 1, 2, 3], 25)
    >>> anchors = relreps.select_anchors(x, 8, "stratified", labels=labels, seed=0)
    >>> np.bincount(anchors.labels).tolist()
    [2, 2, 2, 2]
    >>> frequent = relreps.select_anchors(None, 5, "top", top_n=20, n_samples=100, seed=0)
    >>> bool(frequent.indices.max() < 20), frequent.options
    (True, {'top_n': 20})
    """
    check_choice(strategy, "strategy", STRATEGIES)
    check_int(n_anchors, "n_anchors")
    check_int(seed, "seed", minimum=0)
    if x is None:
        if strategy not in COUNT_STRATEGIES:
            raise ValueError(
                f"The {strategy!r} strategy needs the space x itself; x=None with n_samples "
                f"serves only {COUNT_STRATEGIES}."
            )
        if n_samples is None and labels is not None:
            n_samples = len(labels)
        if n_samples is None:
            raise ValueError("Pass the space x, or x=None with n_samples (its number of rows).")
        check_int(n_samples, "n_samples", minimum=1)
        xt = None
    else:
        if n_samples is not None:
            raise ValueError("Pass either x or n_samples, not both.")
        xt, _ = as_tensor(x, "x")
        if xt.ndim != 2:
            raise ValueError(f"x must be 2-D (n_samples, dim), got shape {tuple(xt.shape)}.")
        n_samples = xt.shape[0]
        if n_samples == 0:
            raise ValueError("x is empty (0 samples): there is nothing to choose anchors from.")
    options: dict[str, Any] = {}
    candidates = n_samples
    if strategy == "top":
        if top_n is None:
            raise ValueError("The 'top' strategy needs top_n: how many of the first rows qualify.")
        candidates = min(check_int(top_n, "top_n", minimum=1), n_samples)
        options["top_n"] = int(top_n)
    elif top_n is not None:
        raise ValueError(f"top_n is an option of the 'top' strategy, not of {strategy!r}.")
    if not 1 <= n_anchors <= candidates:
        what = f"the first top_n={top_n} rows" if strategy == "top" else "the number of samples"
        raise ValueError(f"n_anchors must be between 1 and {what} ({candidates}), got {n_anchors}.")
    label_array = None
    if labels is not None:
        label_array = (
            labels.detach().cpu().numpy()
            if isinstance(labels, torch.Tensor)
            else np.asarray(labels)
        )
        if label_array.ndim != 1 or len(label_array) != n_samples:
            raise ValueError(
                f"labels must have one entry per row of x ({n_samples}), got shape "
                f"{label_array.shape}."
            )
    rng = np.random.default_rng(int(seed))

    if strategy in ("random", "top"):
        indices = rng.choice(candidates, size=n_anchors, replace=False)
    elif strategy == "stratified":
        if label_array is None:
            raise ValueError(
                "The 'stratified' strategy needs labels: pass labels=y (one class per row of x)."
            )
        indices = _stratified(label_array, n_anchors, rng)
    else:
        if xt.shape[1] == 0:
            raise ValueError(
                f"The {strategy!r} strategy needs x to have features; got shape {tuple(xt.shape)}."
            )
        check_finite(xt, "x")
        scale = safe_scale(xt)  # squared distances overflow at the ends of the dtype's range
        if scale is not None:  # the choice is the same on a copy rescaled by a power of two
            xt = xt / scale
        with torch.no_grad():
            if strategy == "kmeans":
                indices = _kmeans(xt, n_anchors, int(seed))
            else:
                indices = _farthest_point(xt, n_anchors, rng)
    indices = np.asarray(indices, dtype=np.int64)
    return Anchors(
        indices=indices,
        strategy=strategy,
        seed=int(seed),
        n_samples=n_samples,
        labels=None if label_array is None else label_array[indices],
        source=source,
        options=options,
    )


def _stratified(labels: np.ndarray, n_anchors: int, rng: np.random.Generator) -> np.ndarray:
    """Round-robin over classes (sorted), each class's members in a seeded random order.

    Full rounds take one sample of every class; the last, partial round visits the classes in a
    seeded random order so that no class is favoured by its name.
    """
    classes, inverse = np.unique(labels, return_inverse=True)
    pools = [rng.permutation(np.flatnonzero(inverse == c)) for c in range(len(classes))]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < n_anchors:
        available = [pool for pool in pools if depth < len(pool)]
        remaining = n_anchors - len(chosen)
        if remaining < len(available):
            order = rng.permutation(len(available))[:remaining]
            available = [available[i] for i in sorted(order)]
        chosen.extend(int(pool[depth]) for pool in available)
        depth += 1
    return np.asarray(chosen)


def _kmeans(x: torch.Tensor, n_anchors: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    data = x.detach().cpu().double().numpy()
    centroids = KMeans(n_clusters=n_anchors, n_init=3, random_state=seed).fit(data).cluster_centers_
    distances = torch.cdist(torch.from_numpy(centroids), torch.from_numpy(data))
    # Nearest sample to each centroid, never the same sample twice (ties go to the next nearest).
    chosen: list[int] = []
    taken = torch.zeros(data.shape[0], dtype=torch.bool)
    for row in distances:
        row = row.masked_fill(taken, float("inf"))
        index = int(row.argmin())
        taken[index] = True
        chosen.append(index)
    return np.asarray(chosen)


def _farthest_point(x: torch.Tensor, n_anchors: int, rng: np.random.Generator) -> np.ndarray:
    x = x.detach()
    squared_norms = (x * x).sum(dim=1)

    def squared_distances_to(index: int) -> torch.Tensor:
        # ||x - c||^2 expanded, so no (n, d) temporary is made per step.
        return (squared_norms - 2 * (x @ x[index]) + squared_norms[index]).clamp_min_(0)

    first = int(rng.integers(x.shape[0]))
    chosen = [first]
    nearest = squared_distances_to(first)
    nearest[first] = -1.0  # a chosen point is never chosen again, even among duplicates
    for _ in range(n_anchors - 1):
        index = int(nearest.argmax())
        chosen.append(index)
        nearest = torch.minimum(nearest, squared_distances_to(index))
        nearest[index] = -1.0
    return np.asarray(chosen)
