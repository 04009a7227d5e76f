"""scikit-learn wrapper: relative representations as a transformer usable in a ``Pipeline``."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from relreps._checks import check_choice
from relreps.anchors import STRATEGIES, select_anchors
from relreps.projection import CENTER_OPTIONS, relative_projection
from relreps.similarities import get_similarity

__all__ = [
    "LatentTranslator",
    "RelativeTransformer",
]


class RelativeTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Represent samples by their similarities to anchors chosen from the training data.

    Parameters
    ----------
    n_anchors : int, default=300
        Number of anchors. If the training set is smaller, every training sample becomes an
        anchor and a warning says so (as :class:`sklearn.kernel_approximation.Nystroem` does).
    strategy : {"random", "stratified", "kmeans", "fps"}, default="random"
        How anchors are chosen (see :func:`relreps.select_anchors`); ``"stratified"`` uses ``y``.
    similarity : str or tuple of str, default="cosine"
        A registered similarity name (:func:`relreps.similarity_names`), or several: their
        concatenated product of invariances (:func:`relreps.similarities.product_similarity`).
    center : {"anchors"} or None, default=None
        Centre samples and anchors on the anchors' mean before the similarity.
    random_state : int, RandomState instance or None, default=None
        Seeds the anchor choice.

    Attributes
    ----------
    anchors_ : ndarray of shape (n_anchors_, n_features_in_)
        The anchor rows of the training data.
    anchor_indices_ : ndarray of shape (n_anchors_,)
        Their row indices in the training data.
    n_anchors_ : int
        Number of anchors actually used.
    n_features_in_ : int
        Number of features seen during ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from relreps import RelativeTransformer
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(200, 10)), rng.integers(0, 2, size=200)
    >>> relative = RelativeTransformer(n_anchors=20, random_state=0)
    >>> model = make_pipeline(relative, LogisticRegression())
    >>> model.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's declared form)
        "n_anchors": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions(set(STRATEGIES))],
        "similarity": [str, tuple, list],  # checked against the live registry in fit
        "center": [StrOptions({"anchors"}), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_anchors: int = 300,
        *,
        strategy: str = "random",
        similarity: str = "cosine",
        center: str | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_anchors = n_anchors
        self.strategy = strategy
        self.similarity = similarity
        self.center = center
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Choose anchors among the rows of ``X`` (using ``y`` for ``strategy="stratified"``)."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        n_samples = X.shape[0]
        n_anchors = self.n_anchors
        if n_anchors > n_samples:
            warnings.warn(
                f"n_anchors={n_anchors} is more than the {n_samples} training samples; "
                f"using all {n_samples} samples as anchors.",
                UserWarning,
                stacklevel=2,
            )
            n_anchors = n_samples
        if self.strategy == "stratified" and y is None:
            raise ValueError("strategy='stratified' balances anchors over classes: pass y to fit.")
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        # Validate the similarity name (custom registrations are allowed) and the centring before
        # any work; projecting a sample onto itself would refuse similarities that need several
        # anchors (rbf).
        per_anchor = get_similarity(self.similarity).outputs_per_anchor
        check_choice(self.center, "center", CENTER_OPTIONS)
        anchors = select_anchors(X, n_anchors, self.strategy, labels=y, seed=seed)
        self.anchor_indices_ = anchors.indices.copy()
        self.anchors_ = X[anchors.indices].copy()
        self.n_anchors_ = n_anchors
        self._n_features_out = n_anchors * per_anchor
        return self

    def transform(self, X):
        """Relative representation of ``X``, shape ``(n_samples, n_anchors_)`` (times the number
        of parts for a concatenated product of similarities)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        anchors = self.anchors_.astype(X.dtype, copy=False)
        return relative_projection(X, anchors, self.similarity, center=self.center)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class LatentTranslator(TransformerMixin, BaseEstimator):
    """Translate one encoder's embeddings into another's space (:class:`relreps.translation.
    Translator`) as a scikit-learn transformer.

    ``fit(X, Y)`` takes the parallel anchors: ``X`` embedded by the source encoder, ``Y`` the
    same samples embedded by the target encoder (a 2-D target, unlike a classifier's labels);
    ``transform(X)`` sends source embeddings to the target space, ``inverse_transform(Y)`` back
    where the map is invertible. Parameters as :class:`~relreps.translation.Translator`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import clone
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(100, 6))
    >>> q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    >>> model = clone(LatentTranslator(method="ortho", scaling="center")).fit(x, x @ q + 2)
    >>> bool(np.allclose(model.transform(x), x @ q + 2))
    True
    """

    def __init__(self, method: str = "ortho", scaling: str = "standard", l2: bool = False):
        self.method = method
        self.scaling = scaling
        self.l2 = l2

    def fit(self, X, Y):
        from relreps.translation import Translator

        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=True)
        Y = np.asarray(Y)
        if Y.ndim != 2:
            raise ValueError(
                "Y must be the target encoder's embeddings of the same anchors, 2-D (k, d_y); "
                f"got shape {Y.shape}."
            )
        self.translator_ = Translator(self.method, scaling=self.scaling, l2=self.l2).fit(
            X, Y.astype(X.dtype, copy=False)
        )
        return self

    def transform(self, X):
        check_is_fitted(self, "translator_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self.translator_.transform(X)

    def inverse_transform(self, Y):
        check_is_fitted(self, "translator_")
        return self.translator_.inverse_transform(np.asarray(Y))
