"""The invariance vocabulary, random transformations of a space, and the contract battery.

Similarities and measures declare which transformations of a latent space leave their output
unchanged, in one vocabulary:

``orthogonal``
    ``x -> x @ Q`` for an orthogonal ``Q`` (rotations and reflections).
``isotropic_scaling``
    ``x -> s * x`` for a scalar ``s > 0``.
``translation``
    ``x -> x + t`` for a vector ``t``.
``permutation``
    ``x -> x[:, p]``, a permutation of the latent coordinates.

The battery checks a declaration both ways: every declared invariance must hold on random
transformations, and every undeclared one must fail on generic data (so declarations are tight).
Run it on your own registered functions:

>>> import relreps
>>> report = relreps.invariances.check_similarity("cosine")
>>> report.ok, sorted(report.declared)
(True, ['isotropic_scaling', 'orthogonal', 'permutation'])

The test suite runs the same battery over every registered similarity and measure, so a new
registration is covered without editing a list.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "INVARIANCES",
    "TOLERANCES",
    "InvarianceCheck",
    "InvarianceReport",
    "check_measure",
    "check_similarity",
    "declared",
    "random_transformation",
]

INVARIANCES: frozenset[str] = frozenset(
    {"orthogonal", "isotropic_scaling", "translation", "permutation"}
)

#: Declared invariances must hold to ``atol + rtol * max(1, max |reference|)`` per dtype (float32
#: rounding of a transformed input differs from the untransformed one by a few ulps, amplified by
#: the similarity); undeclared ones must move the output by more than ``undeclared``.
TOLERANCES: dict[str, dict[str, float]] = {
    "float64": {"rtol": 1e-7, "atol": 1e-8, "undeclared": 1e-3},
    "float32": {"rtol": 1e-3, "atol": 1e-5, "undeclared": 1e-2},
}


def declared(invariances: Any, owner: str) -> frozenset[str]:
    """``invariances`` as a frozenset, checked against the vocabulary; ``owner`` ("similarity
    'cosine'") names who declared them in the error."""
    invariances = frozenset(invariances)
    unknown = invariances - INVARIANCES
    if unknown:
        raise ValueError(
            f"Unknown invariance(s) {sorted(unknown)} for {owner}; valid names are "
            f"{sorted(INVARIANCES)}."
        )
    return invariances


def random_transformation(
    kind: str, rng: np.random.Generator, dim: int, magnitude: float = 3.0
) -> Callable[[np.ndarray], np.ndarray]:
    """A random map of ``kind`` on ``(n, dim)`` arrays, applied alike to every space it is given.

    ``magnitude`` is the scale factor (``isotropic_scaling``) or the size of the shift
    (``translation``, times a standard normal vector). Orthogonal maps are Haar-distributed
    (reflections included); a permutation is never the identity when ``dim > 1``.
    """
    if kind == "orthogonal":
        q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
        q = q * np.sign(np.diag(r))
        return lambda z: z @ q.astype(z.dtype)
    if kind == "isotropic_scaling":
        return lambda z: (magnitude * z).astype(z.dtype)
    if kind == "translation":
        shift = magnitude * rng.normal(size=dim)
        return lambda z: z + shift.astype(z.dtype)
    if kind == "permutation":
        permutation = rng.permutation(dim)
        while dim > 1 and np.array_equal(permutation, np.arange(dim)):
            permutation = rng.permutation(dim)
        return lambda z: z[:, permutation]
    raise ValueError(f"Unknown transformation {kind!r}; valid names are {sorted(INVARIANCES)}.")


@dataclass(frozen=True)
class InvarianceCheck:
    """One transformation tried on one function: declared or not, and whether the output moved."""

    transformation: str
    declared: bool
    holds: bool
    change: float  # the largest change of the output seen, relative to its scale

    @property
    def ok(self) -> bool:
        return self.declared == self.holds


@dataclass(frozen=True)
class InvarianceReport:
    """Every transformation of the vocabulary tried on one similarity or measure."""

    name: str
    dtype: str
    declared: frozenset[str]
    checks: tuple[InvarianceCheck, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def failures(self) -> list[str]:
        """One sentence per wrong declaration."""
        out = []
        for check in self.checks:
            if check.declared and not check.holds:
                out.append(
                    f"{self.name} declares {check.transformation} but its output moved by "
                    f"{check.change:.3g} ({self.dtype})"
                )
            elif not check.declared and check.holds:
                out.append(
                    f"{self.name} does not declare {check.transformation} but its output moved "
                    f"by only {check.change:.3g} on generic data ({self.dtype}): declare it"
                )
        return out

    def raise_for_failures(self) -> None:
        """``AssertionError`` listing every wrong declaration, if any."""
        if not self.ok:
            raise AssertionError("; ".join(self.failures()))


def _change(moved: Any, reference: Any) -> float:
    """max |moved - reference| / max(1, max |reference|), in float64."""
    moved, reference = np.asarray(moved, np.float64), np.asarray(reference, np.float64)
    scale = max(1.0, float(np.max(np.abs(reference), initial=0.0)))
    return float(np.max(np.abs(moved - reference), initial=0.0)) / scale


def _holds(change: float, dtype: str) -> bool:
    tolerance = TOLERANCES[dtype]
    return change <= tolerance["atol"] + tolerance["rtol"]


def _dtype_name(dtype: Any) -> str:
    name = np.dtype(dtype).name
    if name not in TOLERANCES:
        raise ValueError(f"dtype must be float32 or float64, got {name}.")
    return name


def check_similarity(
    similarity: Any,
    *,
    center: str | None = None,
    dtype: Any = "float64",
    trials: int = 5,
    seed: int = 0,
) -> InvarianceReport:
    """Check a similarity's declared invariances both ways.

    Parameters
    ----------
    similarity
        A registered name or a :class:`~relreps.similarities.Similarity`.
    center
        ``"anchors"`` checks the projection centred on the anchors (translation is then declared
        for every similarity).
    dtype
        ``"float64"`` or ``"float32"``; tolerances in :data:`TOLERANCES`.
    trials
        Random problems per declared transformation (sizes, magnitudes and maps drawn from
        ``seed``). Undeclared transformations are tried on one generic problem with fewer anchors
        than dimensions (so the anchors are not a basis).

    Returns
    -------
    InvarianceReport
        ``report.ok``; ``report.raise_for_failures()`` in a test.
    """
    from relreps.projection import relative_projection
    from relreps.similarities import get_similarity

    entry = get_similarity(similarity)
    dtype = _dtype_name(dtype)
    declared = entry.invariances | ({"translation"} if center == "anchors" else set())
    rng = np.random.default_rng(seed)

    def project(x: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        return relative_projection(x, anchors, entry, center=center)

    checks = []
    for kind in sorted(INVARIANCES):
        if kind in declared:
            change = 0.0
            for _ in range(trials):
                n, k = int(rng.integers(1, 13)), int(rng.integers(2, 13))
                d = int(rng.integers(2, 11))
                magnitude = float(rng.uniform(0.05, 20.0))
                x = rng.normal(size=(n, d)).astype(dtype)
                anchors = rng.normal(size=(k, d)).astype(dtype)
                f = random_transformation(kind, rng, d, magnitude)
                change = max(change, _change(project(f(x), f(anchors)), project(x, anchors)))
            checks.append(InvarianceCheck(kind, True, _holds(change, dtype), change))
        else:
            generic = np.random.default_rng(1234)
            x = generic.normal(size=(20, 6)).astype(dtype)
            anchors = generic.normal(size=(4, 6)).astype(dtype)
            f = random_transformation(kind, generic, 6, 3.0)
            change = _change(project(f(x), f(anchors)), project(x, anchors))
            moved = change > TOLERANCES[dtype]["undeclared"]
            checks.append(InvarianceCheck(kind, False, not moved, change))
    if getattr(entry, "homogeneous", False) and center is None:
        checks.append(_homogeneity(project, rng, dtype, trials))
    return InvarianceReport(entry.name, dtype, frozenset(declared), tuple(checks))


def _homogeneity(project: Callable, rng: np.random.Generator, dtype: str, trials: int):
    """A declared ``f(s x, s a) = s^p f(x, a)``: the power ``p`` read off one scaling, then the
    rescaled output compared with the original."""
    change, powers = 0.0, []
    for _ in range(trials):
        n, k, d = int(rng.integers(1, 13)), int(rng.integers(2, 13)), int(rng.integers(2, 11))
        x = rng.normal(size=(n, d)).astype(dtype)
        anchors = rng.normal(size=(k, d)).astype(dtype)
        scale = float(rng.uniform(0.1, 10.0))
        reference, moved = project(x, anchors), project(scale * x, scale * anchors)
        size = float(np.linalg.norm(np.asarray(reference, np.float64)))
        if size == 0:
            continue
        power = np.log(np.linalg.norm(np.asarray(moved, np.float64)) / size) / np.log(scale)
        powers.append(power)
        change = max(change, _change(np.asarray(moved, np.float64) / scale**power, reference))
    holds = _holds(change, dtype) and all(p > 0 for p in powers)
    return InvarianceCheck("homogeneous", True, holds, change)


def _measure_call(entry: Any) -> Callable[[np.ndarray, np.ndarray], float]:
    """The measure with ``k=5`` when it takes a ``k``."""
    parameters = inspect.signature(entry.function).parameters
    options = {"k": 5} if "k" in parameters else {}
    return lambda x, y: float(entry(x, y, **options))


def check_measure(
    measure: Any, *, dtype: Any = "float64", trials: int = 5, seed: int = 0
) -> InvarianceReport:
    """Check a measure's declared invariances both ways, transforming one of the two spaces.

    Declared: on related spaces (``y = x A + noise``, 40 samples, 6 dimensions) the value must
    not change when ``x`` alone is transformed. Undeclared: on near-identical spaces (60 samples)
    it must. Measures taking ``k`` are called with ``k=5``. See :func:`check_similarity` for the
    other parameters.
    """
    from relreps.measures import get_measure

    entry = get_measure(measure) if isinstance(measure, str) else measure
    dtype = _dtype_name(dtype)
    call = _measure_call(entry)
    rng = np.random.default_rng(seed)
    checks = []
    for kind in sorted(INVARIANCES):
        if kind in entry.invariances:
            change = 0.0
            for _ in range(trials):
                x = rng.normal(size=(40, 6))
                y = x @ rng.normal(size=(6, 6)) + 0.3 * rng.normal(size=(40, 6))
                x, y = x.astype(dtype), y.astype(dtype)
                f = random_transformation(kind, rng, 6, float(rng.uniform(0.1, 10.0)))
                change = max(change, abs(call(f(x), y) - call(x, y)))
            checks.append(InvarianceCheck(kind, True, _holds(change, dtype), change))
        else:
            generic = np.random.default_rng(7)
            x = generic.normal(size=(60, 6))
            y = (x + 0.1 * generic.normal(size=(60, 6))).astype(dtype)
            x = x.astype(dtype)
            f = random_transformation(kind, generic, 6, 3.0)
            change = abs(call(f(x), y) - call(x, y))
            moved = change > TOLERANCES[dtype]["undeclared"]
            checks.append(InvarianceCheck(kind, False, not moved, change))
    return InvarianceReport(entry.name, dtype, frozenset(entry.invariances), tuple(checks))
