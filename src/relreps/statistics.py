"""How strongly two series of numbers go together, with an interval that says how sure we are.

:func:`correlation` gives Pearson's r or Spearman's rho of paired values (one per trained model:
its accuracy and its similarity to a reference) with a percentile bootstrap interval over the
pairs and the usual p-value. Every resampling draws from a NumPy generator seeded by ``seed``:
the same seed gives the same interval.

>>> import numpy as np
>>> x = np.arange(20.0)
>>> found = correlation(x, x ** 3, "spearman", seed=0)
>>> found.r, found.low, found.high
(1.0, 1.0, 1.0)
>>> print(correlation(x, x ** 3))
+0.912 [+0.873, +0.951] (95% CI, n=20)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from relreps._checks import check_choice, check_int

__all__ = ["CORRELATIONS", "Correlation", "correlation", "correlations"]

CORRELATIONS = ("pearson", "spearman")


@dataclass(frozen=True)
class Correlation:
    """A correlation coefficient with its bootstrap interval.

    Attributes
    ----------
    method
        ``"pearson"`` or ``"spearman"``.
    r
        The coefficient on all pairs.
    low, high
        The percentile bootstrap interval at ``confidence``.
    p_value
        Two-sided p-value of no correlation (SciPy's).
    n
        Number of pairs.
    confidence
        The interval's coverage (0.95).
    resamples
        Bootstrap resamples that gave a defined coefficient (a resample whose values are all
        equal has none and is left out).
    """

    method: str
    r: float
    low: float
    high: float
    p_value: float
    n: int
    confidence: float
    resamples: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        percent = round(100 * self.confidence)
        return f"{self.r:+.3f} [{self.low:+.3f}, {self.high:+.3f}] ({percent}% CI, n={self.n})"


def correlation(
    x: Any,
    y: Any,
    method: str = "pearson",
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Correlation:
    """Pearson's r (or Spearman's rho) of the pairs ``(x[i], y[i])`` with a bootstrap interval.

    ``x`` and ``y`` are 1-D sequences of the same length (at least 3), finite; a constant
    series has no correlation and is a ``ValueError``, as are NaN and mismatched lengths. The
    interval resamples the pairs with replacement ``resamples`` times and takes the percentiles
    of the coefficient at ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``.
    """
    from scipy import stats

    check_choice(method, "method", CORRELATIONS)
    check_int(resamples, "resamples", minimum=1)
    check_int(seed, "seed", minimum=0)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")
    a, b = _series(x, "x"), _series(y, "y")
    if a.shape != b.shape:
        raise ValueError(f"x and y must pair up: got {len(a)} and {len(b)} values.")
    if len(a) < 3:
        raise ValueError(f"A correlation needs at least 3 pairs, got {len(a)}.")
    for name, values in (("x", a), ("y", b)):
        if np.ptp(values) == 0:
            raise ValueError(f"{name} is constant ({values[0]!r}): it has no correlation.")
    test = stats.pearsonr(a, b) if method == "pearson" else stats.spearmanr(a, b)
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(a), size=(resamples, len(a)))
    found = _rowwise(a[rows], b[rows], method)
    found = found[np.isfinite(found)]
    if len(found) == 0:
        raise ValueError("No bootstrap resample had a defined correlation; pass more pairs.")
    tail = (1 - confidence) / 2
    low, high = np.quantile(found, [tail, 1 - tail])
    r = float(np.clip(test.statistic, -1.0, 1.0))
    return Correlation(
        method=method,
        r=r,
        low=float(low),
        high=float(high),
        p_value=float(test.pvalue),
        n=len(a),
        confidence=confidence,
        resamples=len(found),
    )


def correlations(
    xs: Mapping[str, Any], y: Any, methods: Sequence[str] = CORRELATIONS, **options: Any
) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`correlation` of every series of ``xs`` against ``y`` by every method, as
    ``{name: {method: Correlation.to_dict()}}``; a pair that has no correlation (too few values,
    a constant series) is ``{"undefined": the reason, "n": its length}`` instead of an error, so
    one degenerate group does not stop a whole table. ``options`` go to :func:`correlation`."""
    for method in methods:  # a misspelt method is an error, not an undefined correlation
        check_choice(method, "method", CORRELATIONS)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, x in xs.items():
        for method in methods:
            try:
                found = correlation(x, y, method, **options).to_dict()
            except ValueError as error:
                found = {"undefined": str(error), "n": len(x)}
            out.setdefault(name, {})[method] = found
    return out


def _series(values: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers.") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values: drop those pairs first.")
    return array


def _rowwise(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """The coefficient of every row pair of ``a`` and ``b`` (``(resamples, n)``); NaN where a
    row is constant."""
    if method == "spearman":
        from scipy.stats import rankdata

        a, b = rankdata(a, axis=1), rankdata(b, axis=1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip((a * b).sum(axis=1) / denominator, -1.0, 1.0)
