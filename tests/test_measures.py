from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import relreps
from relreps.measures import mean_cosine


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 30),
    d=st.integers(1, 10),
    scale=st.floats(0.01, 100),
)
def test_identical_spaces_score_one_and_invariances_hold(seed, n, d, scale):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    assert mean_cosine(x, x) == pytest.approx(1.0)
    q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    assert mean_cosine(scale * x @ q, scale * y @ q) == pytest.approx(mean_cosine(x, y), abs=1e-9)


def test_rotated_absolute_spaces_score_near_zero_relative_ones_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 64))
    y = x @ np.linalg.qr(rng.normal(size=(64, 64)))[0]
    assert abs(mean_cosine(x, y)) < 0.2  # ~ trace(Q) / d for a random rotation Q
    anchors = relreps.select_anchors(x, 50, seed=0)
    rel_x = relreps.relative_projection(x, anchors.take(x))
    rel_y = relreps.relative_projection(y, anchors.take(y))
    assert mean_cosine(rel_x, rel_y) == pytest.approx(1.0)


def test_zero_rows_and_torch_input():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    assert mean_cosine(x, x) == pytest.approx(0.5)


def test_errors():
    with pytest.raises(ValueError, match="same samples in two spaces of equal dimension"):
        mean_cosine(np.ones((3, 2)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="empty"):
        mean_cosine(np.ones((0, 2)), np.ones((0, 2)))
    with pytest.raises(TypeError, match="both as numpy"):
        mean_cosine(np.ones((2, 2)), torch.ones(2, 2))
    with pytest.raises(ValueError, match="NaN"):
        mean_cosine(np.array([[np.nan, 1.0]]), np.ones((1, 2)))
