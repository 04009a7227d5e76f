"""Sparse relative representations and ASIF zero-shot classification."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import relreps
from relreps.sparse import sparse_relative_projection, zero_shot_classify


def _dense_reference(x, anchors, k, power, normalize=False):
    """Dense cosine, the top k per row kept, clamped at 0 and raised to the power."""
    r = relreps.relative_projection(x, anchors)
    out = np.zeros_like(r)
    keep = np.argsort(-r, axis=1, kind="stable")[:, :k]
    rows = np.arange(len(r))[:, None]
    out[rows, keep] = np.clip(r[rows, keep], 0, None) ** power
    if normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = out / np.where(norms > 0, norms, 1)
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 30), power=st.sampled_from([1.0, 3.0, 8.0]),
       normalize=st.booleans())  # fmt: skip
def test_equals_the_dense_top_k_in_small_tiles(seed, k, power, normalize):
    rng = np.random.default_rng(seed)
    x, anchors = rng.normal(size=(17, 6)), rng.normal(size=(40, 6))
    r = sparse_relative_projection(x, anchors, k, power=power, normalize=normalize, memory=2048)
    assert isinstance(r, scipy.sparse.csr_matrix) and r.shape == (17, 40) and r.nnz == 17 * k
    np.testing.assert_allclose(r.toarray(), _dense_reference(x, anchors, k, power, normalize),
                               atol=1e-12)  # fmt: skip


def test_torch_in_torch_out_and_the_sign_rule():
    rng = np.random.default_rng(0)
    x, anchors = rng.normal(size=(5, 4)), rng.normal(size=(9, 4))
    t = sparse_relative_projection(torch.from_numpy(x), torch.from_numpy(anchors), 9, power=2)
    assert t.layout == torch.sparse_coo and t.is_coalesced() and t.shape == (5, 9)
    np.testing.assert_allclose(t.to_dense().numpy(), _dense_reference(x, anchors, 9, 2.0))
    signed = sparse_relative_projection(x, anchors, 9, power=2, clamp_min=None).toarray()
    dense = relreps.relative_projection(x, anchors)
    np.testing.assert_allclose(signed, np.sign(dense) * dense**2, atol=1e-12)  # sign kept


def test_many_anchors_never_densify():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 16)).astype(np.float32)
    anchors = rng.normal(size=(200_000, 16)).astype(np.float32)
    r = sparse_relative_projection(x, anchors, 10, memory="4MB")  # dense would be 51 MB
    assert r.shape == (64, 200_000) and r.nnz == 640
    best = relreps.relative_projection(x, anchors).max(axis=1)
    np.testing.assert_allclose(r.max(axis=1).toarray().ravel(), best, rtol=1e-5)


def test_zero_shot_classifies_through_paired_anchors():
    """Two unrelated 'modalities' of the same items (a random linear map and noise apart),
    classes as clusters: class descriptions of one side label samples of the other."""
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(5, 12)) * 3

    def items(n):
        labels = rng.integers(0, 5, size=n)
        return centres[labels] + rng.normal(size=(n, 12)), labels

    m1, m2 = rng.normal(size=(12, 20)), rng.normal(size=(12, 8))  # two encoders, other widths
    pairs, _ = items(2000)
    queries, labels = items(300)
    descriptions = np.repeat(centres, 2, axis=0) + rng.normal(size=(10, 12)) * 0.3
    found = zero_shot_classify(queries @ m1, pairs @ m1, descriptions @ m2, pairs @ m2,
                               k=100, power=8, n_templates=2)  # fmt: skip
    assert found.scores.shape == (300, 5)
    accuracy = (found.predictions == labels).mean()
    assert accuracy > 0.8, accuracy
    mean = zero_shot_classify(queries @ m1, pairs @ m1, descriptions @ m2, pairs @ m2,
                              k=100, n_templates=2, reduce="mean")  # fmt: skip
    assert (mean.predictions == labels).mean() > 0.8


def test_bad_arguments_say_what_was_wrong():
    x, a = np.ones((3, 4)), np.eye(4)
    with pytest.raises(ValueError, match="power must be"):
        sparse_relative_projection(x, a, 2, power=0)
    with pytest.raises(ValueError, match="k"):
        sparse_relative_projection(x, a, 0)
    with pytest.raises(ValueError, match=r"anchors is empty \(0 anchors\)"):
        sparse_relative_projection(x, a[:0], 2)
    with pytest.raises(ValueError, match="not paired"):
        zero_shot_classify(x, a, x, a[:3])
    with pytest.raises(ValueError, match="whole number of classes"):
        zero_shot_classify(x, a, x, a, n_templates=2)
    with pytest.raises(ValueError, match="reduce must be"):
        zero_shot_classify(x, a, x, a, reduce="median")
