from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import relreps
from relreps import RelativeTransformer

# Checks we expect to fail, with the reason (none today; keep the reason when adding one).
# Skipped by scikit-learn itself: check_array_api_input (twice), because SCIPY_ARRAY_API is not
# set; we accept numpy input here (torch users call relreps.relative_projection directly).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [RelativeTransformer(), RelativeTransformer(n_anchors=5, strategy="fps", center="anchors")],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
@pytest.mark.filterwarnings("ignore:n_anchors=.*is more than")  # the checks fit tiny datasets
def test_scikit_learn_contract(estimator, check):
    check(estimator)


def test_transform_equals_core_projection_of_the_chosen_rows():
    X = np.random.default_rng(0).normal(size=(50, 6))
    transformer = RelativeTransformer(n_anchors=7, random_state=3).fit(X)
    np.testing.assert_array_equal(transformer.anchors_, X[transformer.anchor_indices_])
    np.testing.assert_allclose(
        transformer.transform(X), relreps.relative_projection(X, transformer.anchors_)
    )
    assert transformer.get_feature_names_out().tolist()[:2] == [
        "relativetransformer0",
        "relativetransformer1",
    ]


def test_stratified_uses_y_and_pipeline_learns_real_digits():
    X, y = load_digits(return_X_y=True)
    model = make_pipeline(
        RelativeTransformer(n_anchors=100, strategy="stratified", random_state=0),
        LogisticRegression(max_iter=2000),
    )
    model.fit(X[:1200], y[:1200])
    chosen = y[:1200][model[0].anchor_indices_]
    assert np.bincount(chosen).tolist() == [10] * 10
    assert model.score(X[1200:], y[1200:]) > 0.85


def test_too_many_anchors_warns_and_uses_all_samples():
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.warns(UserWarning, match="using all 10 samples"):
        transformer = RelativeTransformer(n_anchors=50).fit(X)
    assert transformer.n_anchors_ == 10 and transformer.transform(X).shape == (10, 10)


def test_clear_errors():
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match="pass y to fit"):
        RelativeTransformer(n_anchors=3, strategy="stratified").fit(X)
    with pytest.raises(ValueError, match="valid names are"):
        RelativeTransformer(n_anchors=3, similarity="cosinus").fit(X)
    with pytest.raises(ValueError, match="strategy"):
        RelativeTransformer(n_anchors=3, strategy="uniform").fit(X)


def test_every_registered_similarity_can_be_fitted():
    import relreps

    X = np.random.default_rng(0).normal(size=(40, 4))
    for name in relreps.similarity_names():
        out = RelativeTransformer(n_anchors=6, similarity=name, random_state=0).fit(X).transform(X)
        assert out.shape == (40, 6) and np.isfinite(out).all(), name


def test_a_product_of_similarities_in_a_pipeline():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] > 0).astype(int)
    transformer = RelativeTransformer(10, similarity=("cosine", "l1"), random_state=0)
    assert transformer.fit_transform(X).shape == (120, 20)
    assert len(transformer.get_feature_names_out()) == 20
    pipeline = make_pipeline(RelativeTransformer(10, similarity=["cosine", "euclidean"],
                                                 random_state=0), LogisticRegression())  # fmt: skip
    assert pipeline.fit(X, y).score(X, y) > 0.8


def test_grid_search_over_anchor_count_and_similarity():
    """The scikit-learn face in a Pipeline under GridSearchCV (the docs' example)."""
    from sklearn.model_selection import GridSearchCV

    X, y = load_digits(return_X_y=True)
    pipeline = make_pipeline(RelativeTransformer(random_state=0), LogisticRegression(max_iter=500))
    grid = {
        "relativetransformer__n_anchors": [20, 60],
        "relativetransformer__similarity": ["cosine", ("cosine", "euclidean")],
    }
    search = GridSearchCV(pipeline, grid, cv=2).fit(X[:500], y[:500])
    assert search.best_params_["relativetransformer__n_anchors"] == 60
    assert search.best_score_ > 0.85
