"""Translate between latent spaces from parallel anchors (Maiorca et al., NeurIPS 2023).

Where relative representations retrain every decoder on relative inputs, a translator estimates
a map ``T`` from one encoder's *absolute* space to another's from the anchors alone, then sends
any sample through ``T`` to the other side's unchanged decoder.

The published pipeline, in order: standardise each side with its own anchors' statistics,
zero-pad the narrower side (for the orthogonal estimators), fit ``T`` on the processed anchors;
to translate: standardise with the source statistics, pad, apply ``T``, drop the padding,
de-standardise with the *target* statistics.

Estimators (``METHODS``, row convention ``y = x @ M (+ b)``):

========================  =========================================================================
``ortho``                 orthogonal Procrustes, ``U S Vᵀ = svd(XᵀY)``, ``M = U Vᵀ`` (paper's best)
``scaled-ortho``          Procrustes with one global scale ``tr(S) / ‖X‖²``
``linear``                least squares ``min ‖X M − Y‖`` (minimum norm when under-determined)
``l-ortho``               the orthogonal matrix nearest the least-squares ``M`` (the paper's)
``affine``                closed-form least squares with a bias
``ridge``                 least squares with a penalty ``alpha * mean(diag(XᵀX)) * ‖M‖²``
``affine-sgd``            the paper's "affine": ``nn.Linear`` trained 300 Adam steps (lr 1e-3)
``relative``              the inverse relative projection (arXiv 2406.15057): cosine to the source
                          anchors, inverted with the target anchors
========================  =========================================================================

Each declares which maps between the spaces it undoes exactly, in the vocabulary of
:data:`MAPS`; the scaling adds its own (centring undoes translations, one isotropic scale undoes
isotropic scaling). Per-dimension standardisation (the paper's default) does not commute with
rotations, so with it the orthogonal estimators no longer undo a rotation of anisotropic data
exactly: that is why ``scaling="isotropic"`` exists.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(200, 8))
>>> q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
>>> y = 3.0 * x @ q + 1.0                               # a similarity map
>>> translator = Translator("ortho", scaling="isotropic").fit(x[:50], y[:50])
>>> bool(np.abs(translator.transform(x) - y).max() < 1e-10)
True
>>> sorted(translator.undoes)
['isotropic_scaling', 'orthogonal', 'permutation', 'translation']
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from relreps._backend import Array, as_tensor, restore
from relreps._checks import check_choice, check_finite, check_int, check_same_kind
from relreps._registry import Registry

__all__ = [
    "MAPS",
    "METHODS",
    "SCALINGS",
    "Cross",
    "Method",
    "Translator",
    "fit_map",
    "method_names",
    "random_map",
]

#: The maps between two spaces a translator may undo exactly: a coordinate permutation, an
#: orthogonal map, one positive scale, any invertible linear map, a shift.
MAPS: tuple[str, ...] = ("permutation", "orthogonal", "isotropic_scaling", "linear", "translation")


@dataclass(frozen=True)
class Method:
    """A translation estimator.

    Attributes
    ----------
    name
        Registry name.
    fit
        ``fit(x, y, options, cross) -> (matrix, bias or None)`` on processed anchors (float64
        tensors ``(k, d)``, equal widths when ``square``); ``cross`` is a :class:`Cross` holding
        ``xᵀy`` and its SVD, each computed at most once per fit (the translator's diagnostics
        read them too).
    undoes
        The maps of :data:`MAPS` it recovers exactly (``scaling="none"``, enough anchors in
        general position).
    square
        Needs equal widths (the narrower side is zero-padded).
    description
        One line.
    """

    name: str
    fit: Callable[[torch.Tensor, torch.Tensor, dict[str, Any], Cross], tuple[torch.Tensor, Any]]
    undoes: frozenset[str]
    square: bool
    description: str


METHODS: Registry[Method] = Registry("translation method", hint="See relreps.translation.")


def method_names() -> tuple[str, ...]:
    return METHODS.names()


def _register(name: str, undoes: set[str], square: bool, description: str):
    def decorator(fn):
        METHODS.add(name, Method(name, fn, frozenset(undoes), square, description))
        return fn

    return decorator


class Cross:
    """The cross-covariance ``xᵀy`` of two processed anchor sets and its thin SVD, computed on
    first use and kept: fitting Procrustes and diagnosing the fit share one product and one SVD,
    the whole cost of the orthogonal estimators."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y
        self._matrix: torch.Tensor | None = None
        self._svd: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @property
    def matrix(self) -> torch.Tensor:
        if self._matrix is None:
            self._matrix = self.x.T @ self.y
        return self._matrix

    def svd(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self._svd is None:
            self._svd = torch.linalg.svd(self.matrix, full_matrices=False)
        return self._svd

    def singular_values(self) -> torch.Tensor:
        if self._svd is not None:
            return self._svd[1]
        return torch.linalg.svdvals(self.matrix)


def _polar(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The (semi-)orthogonal factor of ``m`` and its singular values."""
    u, s, vt = torch.linalg.svd(m, full_matrices=False)
    return u @ vt, s


@_register("ortho", {"orthogonal", "permutation"}, True, "orthogonal Procrustes (SVD)")
def _ortho(x: torch.Tensor, y: torch.Tensor, options: dict[str, Any], cross: Cross):
    u, _, vt = cross.svd()
    return u @ vt, None


@_register(
    "scaled-ortho",
    {"orthogonal", "permutation", "isotropic_scaling"},
    True,
    "orthogonal Procrustes with one global scale",
)
def _scaled_ortho(x: torch.Tensor, y: torch.Tensor, options: dict[str, Any], cross: Cross):
    u, singular, vt = cross.svd()
    rotation = u @ vt
    energy = (x * x).sum()
    scale = singular.sum() / energy if energy > 0 else torch.ones((), dtype=x.dtype)
    return scale * rotation, None


@_register(
    "linear",
    {"orthogonal", "permutation", "isotropic_scaling", "linear"},
    False,
    "least squares (minimum norm when under-determined)",
)
def _linear(x: torch.Tensor, y: torch.Tensor, options: dict[str, Any], cross: Cross):
    return torch.linalg.pinv(x, rtol=options.get("rcond", 1e-12)) @ y, None


@_register(
    "l-ortho",
    {"orthogonal", "permutation"},
    False,
    "the (semi-)orthogonal matrix nearest the least-squares solution",
)
def _l_ortho(x: torch.Tensor, y: torch.Tensor, options: dict[str, Any], cross: Cross):
    return _polar(_linear(x, y, options, cross)[0])[0], None


@_register("affine", set(MAPS), False, "closed-form least squares with a bias")
def _affine(x: torch.Tensor, y: torch.Tensor, options: dict[str, Any], cross: Cross):
    augmented = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    solution = torch.linalg.pinv(augmented, rtol=options.get("rcond", 1e-12)) @ y
    return solution[:-1], solution[-1]


@_register("ridge", set(), False, "least squares with a ridge penalty (alpha, relative)")
def _ridge(x: torch.Tensor, y: torch.Tensor, options: dict[str, Any], cross: Cross):
    gram = x.T @ x
    alpha = options.get("alpha", 1e-2) * float(torch.diagonal(gram).mean().clamp_min(1e-300))
    eye = torch.eye(gram.shape[0], dtype=gram.dtype)
    return torch.linalg.solve(gram + alpha * eye, cross.matrix), None


@_register("affine-sgd", set(), False, "the paper's affine: nn.Linear, 300 Adam steps, lr 1e-3")
def _affine_sgd(x: torch.Tensor, y: torch.Tensor, options: dict[str, Any], cross: Cross):
    steps, lr = int(options.get("steps", 300)), float(options.get("lr", 1e-3))
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(int(options.get("seed", 0)))
        layer = torch.nn.Linear(x.shape[1], y.shape[1], dtype=x.dtype)
        optimiser = torch.optim.Adam(layer.parameters(), lr=lr)
        for _ in range(steps):
            optimiser.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(layer(x), y)
            loss.backward()
            optimiser.step()
    return layer.weight.detach().T.clone(), layer.bias.detach().clone()


METHODS.add(
    "relative",
    Method(
        "relative",
        lambda x, y, options, cross: (torch.empty(0), None),  # no map: the anchors themselves
        frozenset({"orthogonal", "permutation", "isotropic_scaling"}),
        False,
        "inverse relative projection: cosine to the source anchors, inverted with the target's",
    ),
)


def fit_map(
    x: Array, y: Array, method: str = "ortho", **options: Any
) -> tuple[Array, Array | None]:
    """The map ``y ≈ x @ matrix (+ bias)`` of ``method`` fitted on parallel rows, without any
    preprocessing (see :class:`Translator` for the published pipeline).

    ``x`` is ``(k, d_x)``, ``y`` is ``(k, d_y)``, both numpy or both torch; the result has the
    caller's kind and ``x``'s dtype. The orthogonal estimators need ``d_x == d_y``. ``options``:
    ``alpha`` (ridge), ``steps``, ``lr``, ``seed`` (affine-sgd), ``rcond`` (least squares).
    """
    entry = METHODS.get(method)
    if method == "relative":
        raise ValueError("The 'relative' method has no matrix: use Translator('relative').")
    xt, yt, kind = _pair(x, y, "x", "y")
    if entry.square and xt.shape[1] != yt.shape[1]:
        raise ValueError(
            f"{method} needs equal widths, got {xt.shape[1]} and {yt.shape[1]}: use "
            "Translator, which zero-pads the narrower side."
        )
    x64, y64 = xt.double(), yt.double()
    matrix, bias = entry.fit(x64, y64, options, Cross(x64, y64))
    cast = lambda t: restore(t.to(xt.dtype), kind)  # noqa: E731
    return cast(matrix), None if bias is None else cast(bias)


def _pair(x: Any, y: Any, names: tuple[str, str] | str, other: str = "") -> Any:
    first, second = (names, other) if isinstance(names, str) else names
    check_same_kind(x, y, (first, second))
    xt, kind = as_tensor(x, first)
    yt, _ = as_tensor(y, second)
    for name, t in ((first, xt), (second, yt)):
        if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
            raise ValueError(f"{name} must be a non-empty 2-D array (k, d), got {tuple(t.shape)}.")
        check_finite(t, name)
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(
            f"The anchors are not paired: {xt.shape[0]} source rows but {yt.shape[0]} target "
            "rows (row i of both must be the same sample)."
        )
    return xt, yt, kind


# --- scaling -----------------------------------------------------------------------------------

#: How each side is normalised with its own anchors' statistics, and the maps that adds to a
#: method's: ``standard`` per-dimension mean and std (ddof 1; the paper's default), ``isotropic``
#: the mean and one scale (the root mean square of the centred anchors' norms), ``center`` the
#: mean only, ``none`` nothing.
SCALINGS: dict[str, frozenset[str]] = {
    "standard": frozenset({"translation", "isotropic_scaling"}),
    "isotropic": frozenset({"translation", "isotropic_scaling"}),
    "center": frozenset({"translation"}),
    "none": frozenset(),
}


def _standardise_(a: torch.Tensor, scaling: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalise the anchors ``a`` (a float64 copy we own) in place under ``scaling``; return
    ``(mean, scale)``. A zero or vanishing scale becomes 1 (scikit-learn's rule). In place and
    without temporaries the size of ``a``: at 10k anchors this is most of the cost beyond the
    product and the SVD."""
    d = a.shape[1]
    ones = torch.ones(d, dtype=a.dtype)
    if scaling == "none":
        return torch.zeros(d, dtype=a.dtype), ones
    low, high = torch.aminmax(a)
    tiny = 10 * torch.finfo(a.dtype).eps * torch.maximum(-low, high).clamp_min(1.0)
    if scaling == "standard" and a.shape[0] > 1:
        scale, mean = torch.std_mean(a, dim=0, correction=1)
    else:
        mean = a.mean(dim=0)
    a -= mean
    if scaling == "center" or (scaling == "standard" and a.shape[0] < 2):
        return mean, ones
    if scaling == "isotropic":
        rms = torch.linalg.vector_norm(a) / a.shape[0] ** 0.5
        scale = rms.expand(d).clone()
    scale = torch.where(scale > tiny, scale, ones)
    a /= scale
    return mean, scale


# --- the translator ----------------------------------------------------------------------------


class Translator:
    """A map from a source space to a target space, fitted on parallel anchors.

    Parameters
    ----------
    method
        A registered estimator (:func:`method_names`): ``"ortho"`` (default), ``"scaled-ortho"``,
        ``"linear"``, ``"l-ortho"``, ``"affine"``, ``"ridge"``, ``"affine-sgd"``, ``"relative"``.
    scaling
        ``"standard"`` (the paper's default), ``"isotropic"``, ``"center"`` or ``"none"``
        (:data:`SCALINGS`).
    l2
        L2-normalise every processed row before fitting and translating, then restore the target
        anchors' mean norm (the published variant; norms can carry information in text encoders).
    norm
        The ``relative`` method's norm rule for the reconstructed vectors (see
        :func:`relreps.projection.inverse_relative_projection`).
    options
        The estimator's options (``alpha``, ``steps``, ``lr``, ``seed``, ``rcond``).

    Attributes (after :meth:`fit`)
    ------------------------------
    diagnostics
        ``anchors``, ``source_dim``, ``target_dim``, ``cross_rank`` (numerical rank of the
        processed anchors' cross-covariance) and ``determined`` (enough anchors for the map).
    """

    def __init__(
        self,
        method: str = "ortho",
        *,
        scaling: str = "standard",
        l2: bool = False,
        norm: str | float = "mean",
        **options: Any,
    ) -> None:
        METHODS.get(method)
        check_choice(scaling, "scaling", SCALINGS)
        self.method = method
        self.scaling = scaling
        self.l2 = bool(l2)
        self.norm = norm
        self.options = dict(options)
        self.state: dict[str, torch.Tensor] = {}
        self.diagnostics: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"Translator({self.method!r}, scaling={self.scaling!r}, l2={self.l2})"

    @property
    def undoes(self) -> frozenset[str]:
        """The maps this translator recovers exactly: the method's, plus what the scaling adds
        (nothing is added to a method that is exact on no map: ridge, affine-sgd). Per-dimension
        standardisation drops ``orthogonal`` from every method that is not at least linear (a
        rotation of anisotropic data does not commute with it). The ``relative`` method recovers
        directions (the norm is set by its rule), and only without scaling: after centring, a
        restored norm is no longer a direction."""
        own = METHODS.get(self.method).undoes
        if not own:
            return frozenset()
        if self.method == "relative":
            return own if self.scaling == "none" else frozenset()
        maps = own | SCALINGS[self.scaling]
        if self.scaling == "standard" and "linear" not in maps:
            maps -= {"orthogonal"}
        return maps

    @property
    def fitted(self) -> bool:
        return bool(self.state)

    # --- fit -----------------------------------------------------------------------------------

    def fit(self, source_anchors: Array, target_anchors: Array) -> Translator:
        """Fit on parallel anchors ``(k, d_x)`` and ``(k, d_y)`` (row ``i`` of both is the same
        sample). Warns when the anchors cannot determine the map."""
        x, y, kind = _pair(source_anchors, target_anchors, ("source_anchors", "target_anchors"))
        if x.shape[0] < 2:
            raise ValueError(f"Need at least 2 paired anchors, got {x.shape[0]}.")
        self.dtype, self.kind = x.dtype, kind
        px = x.to(torch.float64, copy=True)
        py = y.to(torch.float64, copy=True)
        mean_x, scale_x = _standardise_(px, self.scaling)
        mean_y, scale_y = _standardise_(py, self.scaling)
        norm_x, norm_y = torch.ones((), dtype=torch.float64), torch.ones((), dtype=torch.float64)
        if self.l2:
            norm_x = torch.linalg.vector_norm(px, dim=1).mean()
            norm_y = torch.linalg.vector_norm(py, dim=1).mean()
            px, py = _unit(px), _unit(py)
        entry = METHODS.get(self.method)
        width = max(px.shape[1], py.shape[1]) if entry.square else None
        if width is not None:
            px, py = _pad(px, width), _pad(py, width)
        cross = Cross(px, py)
        matrix, bias = entry.fit(px, py, self.options, cross)
        self.state = {
            "mean_x": mean_x, "scale_x": scale_x, "mean_y": mean_y, "scale_y": scale_y,
            "norm_x": norm_x, "norm_y": norm_y, "matrix": matrix,
            "bias": torch.zeros(py.shape[1], dtype=torch.float64) if bias is None else bias,
        }  # fmt: skip
        if self.method == "relative":
            self.state.update(anchors_x=px, anchors_y=py)
        self.source_dim, self.target_dim = x.shape[1], y.shape[1]
        self._diagnose(px, py, cross)
        return self

    def _diagnose(self, px: torch.Tensor, py: torch.Tensor, cross: Cross) -> None:
        k = px.shape[0]
        singular = cross.singular_values()
        tolerance = singular.max() * max(px.shape + py.shape) * torch.finfo(torch.float64).eps
        rank = int((singular > tolerance).sum()) if singular.numel() else 0
        needed = self.source_dim + (1 if self.method == "affine" else 0)
        determined = k >= needed and rank >= min(self.source_dim, self.target_dim)
        self.diagnostics = {
            "anchors": k,
            "source_dim": self.source_dim,
            "target_dim": self.target_dim,
            "cross_rank": rank,
            "determined": determined,
        }
        if not determined and self.method not in ("ridge", "relative"):
            warnings.warn(
                f"{k} anchors cannot determine a {self.method} map from {self.source_dim} to "
                f"{self.target_dim} dimensions (cross-covariance rank {rank}; a unique map needs "
                f"at least {needed} anchors in general position): the fitted map is one of many. "
                "Use more anchors than dimensions, or method='ridge'.",
                UserWarning,
                stacklevel=2,
            )

    # --- transform -----------------------------------------------------------------------------

    def transform(self, x: Array) -> Array:
        """Source-space rows ``(n, d_x)`` in the target space ``(n, d_y)``, in the caller's kind
        and the anchors' dtype."""
        return self._apply(x, "source", forward=True)

    def inverse_transform(self, y: Array) -> Array:
        """Target-space rows back to the source space, where the map is invertible (orthogonal
        estimators, square full-rank linear and affine maps, the relative method);
        ``ValueError`` otherwise."""
        return self._apply(y, "target", forward=False)

    def _apply(self, values: Array, side: str, *, forward: bool) -> Array:
        if not self.fitted:
            raise ValueError("This Translator is not fitted yet: call fit(source, target) first.")
        t, kind = as_tensor(values, "x" if forward else "y")
        expected = self.source_dim if forward else self.target_dim
        if t.ndim != 2 or t.shape[1] != expected:
            raise ValueError(
                f"Expected {side}-space rows of width {expected}, got shape {tuple(t.shape)}."
            )
        check_finite(t, "x" if forward else "y")
        s = self.state
        a, b = ("x", "y") if forward else ("y", "x")
        # In place on our own float64 copy: a streamed block holds few temporaries.
        z = t.to(torch.float64, copy=True)
        z -= s[f"mean_{a}"]
        z /= s[f"scale_{a}"]
        if self.l2:
            z = _unit(z)
        if self.method == "relative":
            out = _through_relative(z, s[f"anchors_{a}"], s[f"anchors_{b}"], self.norm)
        else:
            out = self._map(z, forward)
        del z
        if self.l2:
            out *= s[f"norm_{b}"]
        width = self.target_dim if forward else self.source_dim
        out = out[:, :width]
        out *= s[f"scale_{b}"]
        out += s[f"mean_{b}"]
        return restore(out.to(self.dtype), kind)

    def _map(self, z: torch.Tensor, forward: bool) -> torch.Tensor:
        s, entry = self.state, METHODS.get(self.method)
        matrix, bias = s["matrix"], s["bias"]
        if entry.square:
            z = _pad(z, matrix.shape[0])
        if forward:
            out = z @ matrix
            out += bias
            return out
        if self.method in ("ortho", "l-ortho") and matrix.shape[0] <= matrix.shape[1]:
            return (z - bias) @ matrix.T
        if self.method == "scaled-ortho":
            scale = torch.linalg.matrix_norm(matrix, ord=2)
            return (z - bias) @ matrix.T / (scale * scale)
        if matrix.shape[0] == matrix.shape[1]:
            condition = torch.linalg.cond(matrix)
            if torch.isfinite(condition) and condition < 1e12:
                return torch.linalg.solve(matrix.T, (z - bias).T).T
        raise ValueError(
            f"This {self.method} map ({matrix.shape[0]} -> {matrix.shape[1]} dimensions) is not "
            "invertible: fit a Translator in the other direction instead."
        )

    # --- persistence (see relreps.io.save_translator) ------------------------------------------

    def to_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """``(tensors, metadata)``: everything a fitted translator needs, as float64 tensors and
        JSON values."""
        if not self.fitted:
            raise ValueError("Only a fitted Translator can be saved.")
        metadata = {
            "method": self.method,
            "scaling": self.scaling,
            "l2": self.l2,
            "norm": self.norm,
            "options": self.options,
            "dtype": str(self.dtype).removeprefix("torch."),
            "kind": self.kind,
            "source_dim": self.source_dim,
            "target_dim": self.target_dim,
            "diagnostics": self.diagnostics,
        }
        return {k: v.clone().contiguous() for k, v in self.state.items()}, metadata

    @classmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Translator:
        """Inverse of :meth:`to_state`; ``ValueError`` when the two do not describe one."""
        try:
            translator = cls(
                metadata["method"],
                scaling=metadata["scaling"],
                l2=metadata["l2"],
                norm=metadata["norm"],
                **metadata["options"],
            )
            translator.dtype = getattr(torch, metadata["dtype"])
            translator.kind = metadata["kind"]
            translator.source_dim = int(metadata["source_dim"])
            translator.target_dim = int(metadata["target_dim"])
            translator.diagnostics = dict(metadata["diagnostics"])
            needed = {"mean_x", "scale_x", "mean_y", "scale_y", "norm_x", "norm_y", "matrix"}
            needed |= {"bias"}
            if metadata["method"] == "relative":
                needed |= {"anchors_x", "anchors_y"}
            missing = needed - set(tensors)
            if missing:
                raise KeyError(f"missing tensors {sorted(missing)}")
            translator.state = {k: tensors[k].double() for k in needed}
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise ValueError(f"Not a relreps translator ({error}).") from None
        return translator


def _unit(x: torch.Tensor) -> torch.Tensor:
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    return x / torch.where(norms > 0, norms, torch.ones_like(norms))


def _pad(x: torch.Tensor, width: int) -> torch.Tensor:
    if x.shape[1] >= width:
        return x
    return torch.cat([x, x.new_zeros(x.shape[0], width - x.shape[1])], dim=1)


def _through_relative(
    z: torch.Tensor, source: torch.Tensor, target: torch.Tensor, norm: Any
) -> torch.Tensor:
    from relreps.projection import inverse_relative_projection, relative_projection

    relative = relative_projection(z, source, "cosine")
    return inverse_relative_projection(relative, target, norm=norm)


# --- maps for tests and for users' own checks --------------------------------------------------


def random_map(kind: str, rng: np.random.Generator, dim: int) -> Callable[[np.ndarray], np.ndarray]:
    """A random map of ``kind`` (:data:`MAPS`) on ``(n, dim)`` arrays: the kinds of maps a
    translator declares it undoes. ``linear`` is ``Q1 diag(s) Q2`` with singular values in
    [0.5, 2]; ``isotropic_scaling`` multiplies by 3; ``translation`` adds 3 standard normals."""
    check_choice(kind, "kind", MAPS)
    check_int(dim, "dim", minimum=1)
    if kind == "linear":
        q1, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        q2, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        matrix = q1 @ np.diag(rng.uniform(0.5, 2.0, size=dim)) @ q2
        return lambda z: z @ matrix
    from relreps.invariances import random_transformation

    return random_transformation(kind, rng, dim)
