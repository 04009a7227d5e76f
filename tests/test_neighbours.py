"""Exact top-k by cosine: every tiling is exact, values match indices, the caller's kind."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from relreps.neighbours import top_k

HAS_FAISS = importlib.util.find_spec("faiss") is not None


def test_hand_checked_values_and_the_callers_kind():
    # Angles 0, 10, 90 degrees: each row's nearest other row and its cosine.
    angles = np.deg2rad([0.0, 10.0, 90.0])
    x = np.stack([np.cos(angles), np.sin(angles)], 1)
    found = top_k(x, x, 1, exclude_self=True)
    assert isinstance(found.indices, np.ndarray) and found.indices.dtype == np.int64
    assert found.indices[:, 0].tolist() == [1, 0, 1]
    np.testing.assert_allclose(
        found.values[:, 0], np.cos(np.deg2rad([10.0, 10.0, 80.0])), atol=1e-12
    )
    single = top_k(x.astype(np.float32), x.astype(np.float32), 2)
    assert single.values.dtype == np.float32
    assert single.indices[:, 0].tolist() == [0, 1, 2]  # itself first when not excluded
    tensors = top_k(torch.from_numpy(x), torch.from_numpy(x), 1, exclude_self=True)
    assert isinstance(tensors.indices, torch.Tensor) and tensors.values.dtype == torch.float64
    assert tensors.indices[:, 0].tolist() == [1, 0, 1]
    indices, values = tensors  # a named tuple
    assert torch.equal(indices, tensors.indices) and torch.equal(values, tensors.values)


def test_zero_rows_have_cosine_zero():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    found = top_k(x, x, 2, exclude_self=True)
    assert found.values[0].tolist() == [0.0, 0.0]


def test_bad_arguments_are_named():
    x = np.eye(3)
    with pytest.raises(ValueError, match=r"k must be an integer between 1 and 2 .the number of"):
        top_k(x, x, 3, exclude_self=True)
    with pytest.raises(ValueError, match="backend must be one of 'torch', 'faiss'"):
        top_k(x, x, 1, backend="annoy")
    with pytest.raises(ValueError, match="same width"):
        top_k(x, np.eye(4), 1)
    with pytest.raises(ValueError, match="exclude_self needs queries and keys to be the same"):
        top_k(x, np.eye(3)[:2], 1, exclude_self=True)
    with pytest.raises(TypeError, match="both as numpy"):
        top_k(x, torch.eye(3), 1)
    with pytest.raises(ValueError, match="memory size"):
        top_k(x, x, 1, memory="lots")
    with pytest.raises(TypeError, match="k must be an integer"):
        top_k(x, x, True)
    with pytest.raises(ValueError, match=r"keys is empty \(0 rows\)"):
        top_k(x, x[:0], 1)


@pytest.mark.skipif(not HAS_FAISS, reason="faiss is not installed")
def test_faiss_backend_gives_identical_neighbours():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 16)).astype(np.float32)
    for exclude in (False, True):
        a = top_k(x, x, 10, exclude_self=exclude)
        b = top_k(x, x, 10, exclude_self=exclude, backend="faiss")
        assert np.array_equal(a.indices, b.indices)
        np.testing.assert_allclose(a.values, b.values, atol=1e-5)
        assert b.values.dtype == np.float32 and b.indices.dtype == np.int64


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6),
    n=st.integers(1, 700),
    k=st.integers(1, 12),
    levels=st.sampled_from([3, 50, None]),  # few distinct values: many ties
    seed=st.integers(0, 2**16),
)
def test_grouped_row_top_k_selects_what_topk_selects(rows, n, k, levels, seed):
    from relreps.neighbours import _row_top_k

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
    rows=st.integers(1, 6),
    n=st.integers(1, 700),
    k=st.integers(1, 12),
    levels=st.sampled_from([3, 50, None]),
    seed=st.integers(0, 2**16),
)
def test_entries_above_a_threshold_are_all_found_and_nothing_else(rows, n, k, levels, seed):
    from relreps.neighbours import _above

    k = min(k, n)
    generator = torch.Generator().manual_seed(seed)
    block = torch.randn(rows, n, generator=generator)
    running = torch.randn(rows, k, generator=generator) + 1.5  # the best found in other tiles
    if levels is not None:
        block = torch.randint(0, levels, (rows, n), generator=generator).float()
        running = torch.randint(0, levels, (rows, k), generator=generator).float()
    running = running.sort(dim=1, descending=True).values
    threshold = running[:, -1]
    found = _above(block, threshold, group=4)
    expected = (block > threshold.unsqueeze(1)).sum(dim=1)
    if found is None:
        assert int(expected.sum()) == 0
        return
    values, columns = found
    assert torch.equal((values > -float("inf")).sum(dim=1), expected)  # every one, once each
    for row in range(rows):
        real = values[row] > -float("inf")
        assert sorted(columns[row][real].tolist()) == sorted(
            torch.nonzero(block[row] > threshold[row]).flatten().tolist()
        )
        assert torch.equal(values[row][real], block[row, columns[row][real]])
    merged = torch.cat([running, values], dim=1).topk(k, dim=1).values
    assert torch.equal(merged, torch.cat([running, block], dim=1).topk(k, dim=1).values)


@settings(max_examples=60, deadline=None)
@given(
    cols=st.integers(1, 6),
    n=st.integers(1, 700),
    k=st.integers(1, 12),
    levels=st.sampled_from([3, 50, None]),
    seed=st.integers(0, 2**16),
)
def test_grouped_column_top_k_selects_what_topk_selects(cols, n, k, levels, seed):
    from relreps.neighbours import _column_top_k

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
        {"memory": 8 * tile * tile},  # tiles within this budget
        {"memory": 8 * tile * n},  # full-width row chunks
    ):
        found, values = top_k(x, keys, k, exclude_self=exclude_self, **options)
        assert all(len(set(row)) == k for row in found)
        if exclude_self:
            assert not (found == np.arange(n)[:, None]).any()
        got = np.take_along_axis(similarities, found, axis=1)
        np.testing.assert_allclose(got, expected, atol=1e-12)
        np.testing.assert_allclose(values, expected, atol=1e-12)


def test_symmetric_and_general_tiling_agree_on_generic_data():
    from relreps._backend import unit_rows
    from relreps.neighbours import _tiled_top_k

    x = torch.randn(1000, 8, generator=torch.Generator().manual_seed(0))
    general, _ = _tiled_top_k(unit_rows(x), unit_rows(x), 5, True, 1000, 1000)
    assert torch.equal(top_k(x, x, 5, exclude_self=True, chunk_size=128).indices, general)
    assert torch.equal(top_k(x, x.clone(), 5, exclude_self=True, memory=2**16).indices, general)


def test_exclude_self_with_other_keys_masks_the_diagonal_only():
    # The symmetric shortcut must not be taken when the keys only share the queries' shape.
    generator = torch.Generator().manual_seed(1)
    x, keys = torch.randn(60, 4, generator=generator), torch.randn(60, 4, generator=generator)
    similarities = (
        torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(keys, dim=1).T
    )
    similarities.fill_diagonal_(-float("inf"))
    found = top_k(x, keys, 3, exclude_self=True, chunk_size=16)
    assert torch.equal(found.indices, similarities.topk(3, dim=1).indices)
    assert torch.equal(found.values, similarities.topk(3, dim=1).values)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    n_keys=st.integers(1, 600),
    k=st.integers(1, 20),
    memory=st.sampled_from([512, 4096, 32768]),
    levels=st.sampled_from([4, None]),
    seed=st.integers(0, 2**16),
)
def test_many_key_tiles_with_a_running_threshold_give_the_exact_top_k(
    n, n_keys, k, memory, levels, seed
):
    generator = torch.Generator().manual_seed(seed)
    x, keys = torch.randn(n, 5, generator=generator), torch.randn(n_keys, 5, generator=generator)
    if levels is not None:  # few distinct directions: many ties
        keys = torch.randint(-1, 2, (n_keys, 5), generator=generator).float() + 0.01
    k = min(k, n_keys)
    found = top_k(x, keys, k, memory=memory)
    unit = torch.nn.functional.normalize
    similarities = unit(x, dim=1) @ unit(keys, dim=1).T
    # tiles round their products differently from one big product: equal to float32 rounding
    close = {"rtol": 0.0, "atol": 1e-6}
    torch.testing.assert_close(found.values, similarities.topk(k, dim=1).values, **close)
    torch.testing.assert_close(similarities.gather(1, found.indices), found.values, **close)
    assert all(len(set(row.tolist())) == k for row in found.indices)
