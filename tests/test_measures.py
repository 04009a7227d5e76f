"""Measures of latent similarity: invariance matrix, known values, chunked == unchunked."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import relreps
from relreps.measures import (
    cosine_top_k,
    cross_jaccard_at_k,
    get_measure,
    jaccard_at_k,
    linear_cka,
    mean_cosine,
    measure_names,
    mrr_at_k,
    mutual_knn_at_k,
    rbf_cka,
)
from relreps.similarities import INVARIANCES
from transforms import transform

HAS_FAISS = importlib.util.find_spec("faiss") is not None
MEASURES = (
    "jaccard_at_k",
    "cross_jaccard_at_k",
    "mutual_knn_at_k",
    "mrr_at_k",
    "mean_cosine",
    "linear_cka",
    "rbf_cka",
)


def call(name, x, y):
    kwargs = {"k": 5} if name.endswith("_at_k") else {}
    return get_measure(name)(x, y, **kwargs)


def test_registry():
    assert set(MEASURES) <= set(measure_names())
    with pytest.raises(ValueError, match="valid names are"):
        get_measure("cka")


@pytest.mark.parametrize("name", MEASURES)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), magnitude=st.floats(0.1, 10.0))
def test_declared_invariances_hold_when_one_space_moves(name, seed, magnitude):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 6))
    y = x @ rng.normal(size=(6, 6)) + 0.3 * rng.normal(size=(40, 6))  # related, not identical
    reference = call(name, x, y)
    for kind in sorted(get_measure(name).invariances):
        moved = call(name, transform(kind, rng, 6, magnitude)(x), y)
        assert moved == pytest.approx(reference, abs=1e-9), f"{name} not invariant to {kind}"


UNDECLARED = [(n, k) for n in MEASURES for k in sorted(INVARIANCES - get_measure(n).invariances)]


@pytest.mark.parametrize(("name", "kind"), UNDECLARED)
def test_undeclared_invariances_fail_on_generic_data(name, kind):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 6))
    y = x + 0.1 * rng.normal(size=(60, 6))
    reference = call(name, x, y)
    moved = call(name, transform(kind, rng, 6, magnitude=3.0)(x), y)
    assert abs(moved - reference) > 1e-3, f"{name} unexpectedly invariant to {kind}"


@pytest.mark.parametrize("name", MEASURES)
def test_identical_spaces_score_one(name):
    x = np.random.default_rng(0).normal(size=(30, 5))
    assert call(name, x, x) == pytest.approx(1.0)


def test_hand_checked_neighbourhoods():
    # Points on a line: neighbours by cosine of 2-D vectors at angles 0, 10, 20, 90, 100 degrees.
    angles = np.deg2rad([0, 10, 20, 90, 100])
    x = np.stack([np.cos(angles), np.sin(angles)], 1)
    assert cosine_top_k(x, x, 1, exclude_self=True).squeeze(1).tolist() == [1, 0, 1, 4, 3]
    # y swaps the neighbourhood of point 2: its nearest becomes 3.
    angles_y = np.deg2rad([0, 10, 80, 90, 100])
    y = np.stack([np.cos(angles_y), np.sin(angles_y)], 1)
    # 1-NN sets x: {1},{0},{1},{4},{3}; y: {1},{0},{3},{2 or 4},{3} -> point 2 differs,
    # point 3's nearest in y is 2 (10 degrees) or 4 (10 degrees): a tie broken by index.
    nearest_y = cosine_top_k(y, y, 1, exclude_self=True).squeeze(1).tolist()
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
    # x: 0 and 1 close, 2 far; y keeps rows 0, 1 but moves row 2 next to x[0].
    x = np.array([[1.0, 0.0], [0.9, 0.1], [-1.0, 0.2]])
    y = np.array([[1.0, 0.0], [0.9, 0.1], [1.0, 0.05]])
    # k=2. Own sets (self first): {0, 1}, {1, 0}, {2, 1}.
    # x[0] in y: cos to y = 1, 0.994, 0.9988 -> {0, 2}: J = 1/3.
    # x[1] in y: 0.994, 1, 0.9997 -> {1, 2}: J = 1/3.
    # x[2] = (-1, 0.2) in y: -0.981, -0.953, -0.970 -> rows 1, 2 -> {1, 2}: J = 1.
    assert cross_jaccard_at_k(x, y, k=2) == pytest.approx((1 / 3 + 1 / 3 + 1) / 3)
    # k=1: x[0] and x[1] find themselves in y; x[2] finds row 1.
    assert cross_jaccard_at_k(x, y, k=1) == pytest.approx(2 / 3)


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
def test_faiss_backend_gives_identical_neighbours():
    rng = np.random.default_rng(3)
    x, y = (
        rng.normal(size=(500, 16)).astype(np.float32),
        rng.normal(size=(500, 16)).astype(np.float32),
    )
    for exclude in (False, True):
        a = cosine_top_k(x, x, 10, exclude_self=exclude)
        b = cosine_top_k(x, x, 10, exclude_self=exclude, backend="faiss")
        assert torch.equal(a, b)
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
    with pytest.raises(ValueError, match="k must be an int between 1 and 2"):
        jaccard_at_k(np.eye(3), np.eye(3), k=3)
    with pytest.raises(ValueError, match="empty"):
        mean_cosine(np.ones((0, 2)), np.ones((0, 2)))
    with pytest.raises(TypeError, match="both as numpy"):
        mean_cosine(np.ones((2, 2)), torch.ones(2, 2))
    with pytest.raises(ValueError, match="NaN"):
        linear_cka(np.array([[np.nan, 1.0]] * 5), np.ones((5, 2)))
    with pytest.raises(ValueError, match="at least 4 samples"):
        linear_cka(np.eye(3), np.eye(3), unbiased=True)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        jaccard_at_k(np.eye(3), np.eye(3), k=1, chunk_size=0)
    with pytest.raises(ValueError, match="backend must be"):
        cosine_top_k(np.eye(3), np.eye(3), 1, backend="annoy")


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


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6),
    n=st.integers(1, 700),
    k=st.integers(1, 12),
    levels=st.sampled_from([3, 50, None]),  # few distinct values: many ties
    seed=st.integers(0, 2**16),
)
def test_grouped_row_top_k_selects_what_topk_selects(rows, n, k, levels, seed):
    from relreps.measures import _row_top_k

    k = min(k, n)
    generator = torch.Generator().manual_seed(seed)
    block = torch.randn(rows, n, generator=generator)
    if levels is not None:
        block = torch.randint(0, levels, (rows, n), generator=generator).float()
    block[:, : n // 3] = torch.where(
        torch.rand(rows, n // 3) < 0.1, -float("inf"), block[:, : n // 3]
    )
    found = _row_top_k(block, k, groups=4)
    assert found.shape == (rows, k)
    assert all(len(set(row.tolist())) == k for row in found)  # distinct columns
    # The same values, best first (ties may pick other columns than torch.topk).
    assert torch.equal(block.gather(1, found), block.topk(k, dim=1).values)


@settings(max_examples=60, deadline=None)
@given(
    cols=st.integers(1, 6),
    n=st.integers(1, 700),
    k=st.integers(1, 12),
    levels=st.sampled_from([3, 50, None]),
    seed=st.integers(0, 2**16),
)
def test_grouped_column_top_k_selects_what_topk_selects(cols, n, k, levels, seed):
    from relreps.measures import _column_top_k

    k = min(k, n)
    generator = torch.Generator().manual_seed(seed)
    block = torch.randn(n, cols, generator=generator)
    if levels is not None:
        block = torch.randint(0, levels, (n, cols), generator=generator).float()
    block[: n // 3] = torch.where(torch.rand(n // 3, cols) < 0.1, -float("inf"), block[: n // 3])
    block[-1, 0] = 100.0  # the last row (a leftover one when 4 does not divide n) must be found
    found = _column_top_k(block, k, groups=4)
    assert found.shape == (cols, k)
    assert all(len(set(column.tolist())) == k for column in found)
    assert torch.equal(block.T.gather(1, found), block.T.topk(k, dim=1).values)


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(2, 90),
    dim=st.integers(1, 6),
    k=st.integers(1, 12),
    tile=st.integers(1, 40),
    exclude_self=st.booleans(),
    same_object=st.booleans(),
    integer=st.booleans(),  # small integer coordinates: many exactly tied cosines
    seed=st.integers(0, 2**16),
)
def test_tiled_top_k_is_exact(n, dim, k, tile, exclude_self, same_object, integer, seed):
    # Every tiling (symmetric tiles when queries are keys, square or row tiles otherwise) returns
    # k distinct rows whose similarities are the k best, best first.
    k = min(k, n - 1 if exclude_self else n)
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=(n, dim)) if integer else rng.normal(size=(n, dim))
    x = x.astype(np.float64)
    keys = x if same_object else x.copy()
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    similarities = unit @ unit.T
    if exclude_self:
        np.fill_diagonal(similarities, -np.inf)
    expected = -np.sort(-similarities, axis=1)[:, :k]
    for options in (
        {"chunk_size": tile},  # symmetric tiles of this side (or row chunks)
        {"memory_budget": 8 * tile * tile},  # tiles within this budget
        {"memory_budget": 8 * tile * n},  # full-width row chunks
    ):
        found = cosine_top_k(x, keys, k, exclude_self=exclude_self, **options).numpy()
        assert all(len(set(row)) == k for row in found)
        if exclude_self:
            assert not (found == np.arange(n)[:, None]).any()
        got = np.take_along_axis(similarities, found, axis=1)
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_symmetric_and_general_tiling_agree_on_generic_data():
    from relreps.measures import _tiled_top_k, _unit_rows

    x = torch.randn(1000, 8, generator=torch.Generator().manual_seed(0))
    general = _tiled_top_k(_unit_rows(x), _unit_rows(x), 5, True, 1000, 1000)
    assert torch.equal(cosine_top_k(x, x, 5, exclude_self=True, chunk_size=128), general)
    assert torch.equal(
        cosine_top_k(x, x.clone(), 5, exclude_self=True, memory_budget=2**16), general
    )


def test_exclude_self_with_other_keys_masks_the_diagonal_only():
    # The symmetric shortcut must not be taken when the keys only share the queries' shape.
    generator = torch.Generator().manual_seed(1)
    x, keys = torch.randn(60, 4, generator=generator), torch.randn(60, 4, generator=generator)
    similarities = (
        torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(keys, dim=1).T
    )
    similarities.fill_diagonal_(-float("inf"))
    found = cosine_top_k(x, keys, 3, exclude_self=True, chunk_size=16)
    assert torch.equal(found, similarities.topk(3, dim=1).indices)
