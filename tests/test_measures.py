"""Measures of latent similarity: invariance matrix, known values, chunked == unchunked."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import relreps
from relreps.invariances import check_measure
from relreps.measures import MEASURES as MEASURES_REGISTRY
from relreps.measures import (
    Measure,
    cross_jaccard_at_k,
    get_measure,
    jaccard_at_k,
    linear_cka,
    mean_cosine,
    measure_names,
    mrr_at_k,
    mutual_knn_at_k,
    rbf_cka,
    register_measure,
)
from relreps.neighbours import top_k

HAS_FAISS = importlib.util.find_spec("faiss") is not None
BUILTIN = (
    "jaccard_at_k",
    "cross_jaccard_at_k",
    "mutual_knn_at_k",
    "mrr_at_k",
    "mean_cosine",
    "linear_cka",
    "rbf_cka",
)
MEASURES = measure_names()


def call(name, x, y):
    kwargs = {"k": 5} if name.endswith("_at_k") else {}
    return get_measure(name)(x, y, **kwargs)


def test_registry():
    assert set(BUILTIN) <= set(MEASURES)
    with pytest.raises(ValueError, match="Unknown measure 'cka'; valid names are: cross_jacc"):
        get_measure("cka")
    with pytest.raises(ValueError, match="Unknown invariance"):
        register_measure("test_bad", lambda x, y: 0.0, {"rotation"})
    assert "test_bad" not in measure_names()


@pytest.mark.parametrize("name", MEASURES)
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_declarations_are_exact(name, seed):
    check_measure(name, seed=seed, trials=2).raise_for_failures()


@pytest.mark.parametrize("name", MEASURES)
def test_declarations_hold_in_float32(name):
    check_measure(name, dtype="float32", trials=5).raise_for_failures()


def test_a_registered_measure_is_checked_by_name():
    def pearson(x, y):
        return float(np.corrcoef(np.asarray(x).ravel(), np.asarray(y).ravel())[0, 1])

    with MEASURES_REGISTRY.temporary(
        "test_pearson", Measure("test_pearson", pearson, frozenset({"isotropic_scaling"}))
    ):
        assert check_measure("test_pearson").ok
    with MEASURES_REGISTRY.temporary(
        "test_pearson", Measure("test_pearson", pearson, frozenset({"orthogonal"}))
    ):
        assert not check_measure("test_pearson").ok
    assert "test_pearson" not in measure_names()


@pytest.mark.parametrize("name", MEASURES)
def test_identical_spaces_score_one(name):
    x = np.random.default_rng(0).normal(size=(30, 5))
    assert call(name, x, x) == pytest.approx(1.0)


def test_hand_checked_neighbourhoods():
    # Points on a line: neighbours by cosine of 2-D vectors at angles 0, 10, 20, 90, 100 degrees.
    angles = np.deg2rad([0, 10, 20, 90, 100])
    x = np.stack([np.cos(angles), np.sin(angles)], 1)
    assert top_k(x, x, 1, exclude_self=True).indices[:, 0].tolist() == [1, 0, 1, 4, 3]
    # y swaps the neighbourhood of point 2: its nearest becomes 3.
    angles_y = np.deg2rad([0, 10, 80, 90, 100])
    y = np.stack([np.cos(angles_y), np.sin(angles_y)], 1)
    # 1-NN sets x: {1},{0},{1},{4},{3}; y: {1},{0},{3},{2 or 4},{3} -> point 2 differs,
    # point 3's nearest in y is 2 (10 degrees) or 4 (10 degrees): a tie broken by index.
    nearest_y = top_k(y, y, 1, exclude_self=True).indices[:, 0].tolist()
    expected = np.mean([a == b for a, b in zip([1, 0, 1, 4, 3], nearest_y, strict=True)])
    assert jaccard_at_k(x, y, k=1) == pytest.approx(expected)
    assert mutual_knn_at_k(x, y, k=1) == pytest.approx(expected)


def test_mrr_known_value():
    # y[0] is second-nearest to x[0]; y[1] nearest to x[1]; y[2] absent from x[2]'s top-2.
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    y = np.array([[0.8, 0.6], [0.0, 1.0], [1.0, 0.05]])
    # top-2 of x[0] in y: y[2] (cos 0.9987), y[0] (0.8) -> rank 2; x[1]: y[1] -> rank 1;
    # x[2] = (-1, 0): cosines -0.8, 0, -0.9987 -> top-2 y[1], y[0] -> absent.
    assert mrr_at_k(x, y, k=2) == pytest.approx((1 / 2 + 1 + 0) / 3)


def test_cross_jaccard_known_value():
    # The paper's code: J(kNN_y(y_i), kNN_y(x_i)), both sets in the target space y, y_i's own set
    # counting itself. x and y agree on rows 0 and 1; row 2 points elsewhere in x.
    x = np.array([[1.0, 0.0], [0.9, 0.1], [-1.0, 0.2]])
    y = np.array([[1.0, 0.0], [0.9, 0.1], [1.0, 0.05]])
    # k=2. Own sets in y (self first): y0 -> {0, 2} (cos 0.99875 > 0.9939), y1 -> {1, 2}
    # (0.9982 > 0.9939), y2 -> {2, 0} (0.99875 > 0.9982).
    # Retrieved in y: x0 -> {0, 2}; x1 (= y1) -> {1, 2}; x2 = (-1, 0.2): cosines -0.981, -0.953,
    # -0.970 -> {1, 2}. Jaccard 1, 1, |{2}| / |{0, 1, 2}| = 1/3.
    assert cross_jaccard_at_k(x, y, k=2) == pytest.approx((1 + 1 + 1 / 3) / 3)
    # k=1: own sets {0}, {1}, {2}; retrieved {0}, {1}, {1} -> 1, 1, 0.
    assert cross_jaccard_at_k(x, y, k=1) == pytest.approx(2 / 3)
    # the source-space variant J(kNN_x(x_i), kNN_y(x_i)) would give 5/9 at k=2 here: row 2's
    # own set in x is {2, 1}, and x1's in x is {1, 0} against {1, 2} retrieved
    assert cross_jaccard_at_k(x, y, k=2) != pytest.approx(5 / 9)


def test_rotated_absolute_spaces_score_low_relative_ones_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 64))
    y = x @ np.linalg.qr(rng.normal(size=(64, 64)))[0]
    assert abs(mean_cosine(x, y)) < 0.2  # ~ trace(Q) / d for a random rotation Q
    assert mrr_at_k(x, y, k=10) < 0.05
    assert cross_jaccard_at_k(x, y, k=10) < 0.05
    assert jaccard_at_k(x, y, k=10) == pytest.approx(1.0)  # within-space: rotation-invariant
    anchors = relreps.select_anchors(x, 50, seed=0)
    rel_x = relreps.relative_projection(x, anchors.take(x))
    rel_y = relreps.relative_projection(y, anchors.take(y))
    assert mean_cosine(rel_x, rel_y) == pytest.approx(1.0)
    assert mrr_at_k(rel_x, rel_y, k=10) == pytest.approx(1.0)
    assert cross_jaccard_at_k(rel_x, rel_y, k=10) == pytest.approx(1.0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(12, 80), chunk=st.integers(1, 50))
def test_chunked_equals_unchunked(seed, n, chunk):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, 7)), rng.normal(size=(n, 7))
    for fn in (jaccard_at_k, cross_jaccard_at_k, mutual_knn_at_k, mrr_at_k):
        assert fn(x, y, k=5, chunk_size=chunk) == fn(x, y, k=5, chunk_size=n)
    assert rbf_cka(x, y, chunk_size=chunk) == pytest.approx(rbf_cka(x, y, chunk_size=n), rel=1e-12)


def gram_cka(x, y, kernel, unbiased=False):
    """Reference: CKA from full Gram matrices."""
    n = len(x)
    k, l_ = kernel(x), kernel(y)
    if not unbiased:
        h = np.eye(n) - 1.0 / n

        def hsic(a, b):
            return np.trace(a @ h @ b @ h)
    else:

        def hsic(a, b):
            a, b = a - np.diag(np.diag(a)), b - np.diag(np.diag(b))
            one = np.ones(n)
            return (
                np.trace(a @ b)
                + (one @ a @ one) * (one @ b @ one) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * (one @ a @ b @ one)
            ) / (n * (n - 3))

    return hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


@pytest.mark.parametrize("unbiased", [False, True])
def test_linear_cka_feature_form_equals_gram_form(unbiased):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, 9))
    y[:, :4] += x
    expected = gram_cka(x, y, lambda a: a @ a.T, unbiased)
    assert linear_cka(x, y, unbiased=unbiased) == pytest.approx(expected, rel=1e-10)


def test_rbf_cka_equals_gram_form():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 5))
    y[:, :3] += x

    def kernel(a):
        d = np.linalg.norm(a[:, None] - a[None], axis=2)
        sigma = np.median(d[np.triu_indices(len(a), 1)])
        return np.exp(-(d**2) / (2 * sigma**2))

    assert rbf_cka(x, y, chunk_size=7) == pytest.approx(gram_cka(x, y, kernel), rel=1e-10)


@pytest.mark.skipif(not HAS_FAISS, reason="faiss is not installed")
def test_faiss_backend_gives_identical_measures():
    rng = np.random.default_rng(3)
    x, y = (
        rng.normal(size=(500, 16)).astype(np.float32),
        rng.normal(size=(500, 16)).astype(np.float32),
    )
    for fn in (jaccard_at_k, cross_jaccard_at_k, mrr_at_k, mutual_knn_at_k):
        assert fn(x, y, k=10, backend="faiss") == fn(x, y, k=10)


def test_nested_lists_are_read_as_numpy():
    x = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5]]
    assert mean_cosine(x, x) == pytest.approx(1.0)
    assert linear_cka(x, x) == pytest.approx(1.0)


def test_torch_input_and_zero_rows():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    assert mean_cosine(x, x) == pytest.approx(0.5)
    assert isinstance(linear_cka(torch.randn(10, 3), torch.randn(10, 2)), float)


def test_errors():
    with pytest.raises(ValueError, match="same samples in two spaces of equal dimension"):
        mean_cosine(np.ones((3, 2)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="x has 3 rows but y has 4"):
        jaccard_at_k(np.ones((3, 2)), np.ones((4, 2)), k=1)
    with pytest.raises(ValueError, match="k must be an integer between 1 and 2"):
        jaccard_at_k(np.eye(3), np.eye(3), k=3)
    with pytest.raises(ValueError, match="empty"):
        mean_cosine(np.ones((0, 2)), np.ones((0, 2)))
    with pytest.raises(TypeError, match="both as numpy"):
        mean_cosine(np.ones((2, 2)), torch.ones(2, 2))
    with pytest.raises(ValueError, match="NaN"):
        linear_cka(np.array([[np.nan, 1.0]] * 5), np.ones((5, 2)))
    with pytest.raises(ValueError, match="at least 4 samples"):
        linear_cka(np.eye(3), np.eye(3), unbiased=True)
    with pytest.raises(ValueError, match=r"chunk_size .rows per tile. must be an integer of at"):
        jaccard_at_k(np.eye(3), np.eye(3), k=1, chunk_size=0)


def test_neighbourhood_agreement_equals_the_single_measures():
    from relreps.measures import neighbourhood_agreement

    rng = np.random.default_rng(5)
    x = rng.normal(size=(80, 6))
    y = x + 0.5 * rng.normal(size=(80, 6))
    result = neighbourhood_agreement(x, y, ks=(10, 3), chunk_size=13)
    assert result.ks == (3, 10)
    for k in (3, 10):
        assert result.jaccard[k] == jaccard_at_k(x, y, k=k)
        assert result.mutual_knn[k] == mutual_knn_at_k(x, y, k=k)
        assert result.mrr_xy[k] == mrr_at_k(x, y, k=k)
        assert result.mrr_yx[k] == mrr_at_k(y, x, k=k)
        assert result.cross_jaccard_xy[k] == cross_jaccard_at_k(x, y, k=k)
        assert result.cross_jaccard_yx[k] == cross_jaccard_at_k(y, x, k=k)
    different_dims = neighbourhood_agreement(x, y[:, :4], ks=(5,))
    assert different_dims.mrr_xy is None and different_dims.jaccard[5] > 0
    assert different_dims.cross_jaccard_xy is None
