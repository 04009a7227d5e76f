"""Choosing anchors, and taking the same (parallel) anchors from another space."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from relreps._backend import Array, as_tensor, check_finite

Strategy = Literal["random", "stratified", "kmeans", "fps"]
STRATEGIES: tuple[str, ...] = ("random", "stratified", "kmeans", "fps")


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
    """

    indices: np.ndarray
    strategy: str
    seed: int
    n_samples: int
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        indices = np.asarray(self.indices, dtype=np.int64).copy()
        indices.setflags(write=False)
        object.__setattr__(self, "indices", indices)
        if self.labels is not None:
            labels = np.asarray(self.labels).copy()
            labels.setflags(write=False)
            object.__setattr__(self, "labels", labels)

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
            and (self.strategy, self.seed, self.n_samples)
            == (other.strategy, other.seed, other.n_samples)
            and same_labels
        )

    __hash__ = None  # type: ignore[assignment]

    def take(self, y: Array | Sequence[Any]) -> Any:
        """Return the anchor rows of ``y``, in anchor order.

        ``y`` is any row-aligned space over the same samples (another model's embeddings, the raw
        inputs, a list of texts): that is how parallel anchors are obtained. numpy and torch inputs
        keep their kind (and device); other sequences come back as a list.

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
        return [y[int(i)] for i in self.indices]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description (indices, strategy, seed, n_samples, labels)."""
        return {
            "indices": self.indices.tolist(),
            "strategy": self.strategy,
            "seed": self.seed,
            "n_samples": self.n_samples,
            "labels": None if self.labels is None else self.labels.tolist(),
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
        )


def select_anchors(
    x: Array,
    n_anchors: int,
    strategy: Strategy = "random",
    *,
    labels: Array | Sequence[Any] | None = None,
    seed: int = 0,
) -> Anchors:
    """Choose ``n_anchors`` rows of ``x`` as anchors.

    Parameters
    ----------
    x
        The space to choose from, shape ``(n_samples, d)`` (numpy or torch). ``random`` and
        ``stratified`` use only its length; ``kmeans`` and ``fps`` use its geometry.
    n_anchors
        How many anchors, ``1 <= n_anchors <= n_samples``.
    strategy
        ``"random"``: uniform without replacement. ``"stratified"``: class-balanced round-robin
        over ``labels`` (the paper's image models); class counts differ by at most one unless a
        class runs out. ``"kmeans"``: the sample nearest each k-means centroid.
        ``"fps"``: farthest-point sampling in Euclidean distance, from a random start.
    labels
        Class of each row, shape ``(n_samples,)``; required by ``stratified``, recorded otherwise.
    seed
        Every random choice derives from it: the same seed gives the same anchors.

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
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown anchor strategy {strategy!r}; valid strategies are {STRATEGIES}."
        )
    if isinstance(n_anchors, bool) or not isinstance(n_anchors, (int, np.integer)):
        raise TypeError(f"n_anchors must be an int, got {type(n_anchors).__name__}.")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}.")
    xt, _ = as_tensor(x, "x")
    if xt.ndim != 2:
        raise ValueError(f"x must be 2-D (n_samples, dim), got shape {tuple(xt.shape)}.")
    n_samples = xt.shape[0]
    if n_samples == 0:
        raise ValueError("x is empty (0 samples): there is nothing to choose anchors from.")
    if not 1 <= n_anchors <= n_samples:
        raise ValueError(
            f"n_anchors must be between 1 and the number of samples ({n_samples}), got {n_anchors}."
        )
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

    if strategy == "random":
        indices = rng.choice(n_samples, size=n_anchors, replace=False)
    elif strategy == "stratified":
        if label_array is None:
            raise ValueError(
                "The 'stratified' strategy needs labels: pass labels=y (one class per row of x)."
            )
        indices = _stratified(label_array, n_anchors, rng)
    else:
        check_finite(xt, "x")
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
