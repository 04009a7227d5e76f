from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import relreps

SIMILARITIES = ("cosine", "inner", "euclidean", "l1", "linf", "rbf", "change_of_basis")


@pytest.mark.parametrize("name", SIMILARITIES)
@pytest.mark.parametrize("center", [None, "anchors"])
@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), n=st.integers(1, 20), k=st.integers(2, 10), d=st.integers(1, 9)
)
def test_numpy_and_torch_agree(name, center, seed, n, k, d):
    rng = np.random.default_rng(seed)
    x, anchors = rng.normal(size=(n, d)), rng.normal(size=(k, d))
    from_numpy = relreps.relative_projection(x, anchors, name, center=center)
    from_torch = relreps.relative_projection(
        torch.from_numpy(x), torch.from_numpy(anchors), name, center=center
    )
    assert isinstance(from_numpy, np.ndarray) and isinstance(from_torch, torch.Tensor)
    np.testing.assert_allclose(from_numpy, from_torch.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_dtype_preserved(dtype):
    x = np.ones((3, 4), dtype=dtype)
    out = relreps.relative_projection(x, np.eye(4, dtype=dtype)[:2])
    assert isinstance(out, np.ndarray) and out.dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_torch_dtype_and_device_preserved(dtype):
    x = torch.randn(3, 4).to(dtype)
    out = relreps.relative_projection(x, torch.randn(2, 4).to(dtype))
    assert out.dtype == dtype and out.device == x.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device_preserved():
    x = torch.randn(3, 4, device="cuda")
    out = relreps.relative_projection(x, torch.randn(2, 4, device="cuda"))
    assert out.device == x.device


def test_integer_input_is_promoted_to_float():
    out = relreps.relative_projection(np.array([[1, 0], [0, 2]]), np.array([[1, 1]]))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out[:, 0], [np.sqrt(0.5)] * 2)


def test_mixed_float_dtypes_promote():
    out = relreps.relative_projection(np.ones((2, 3), np.float32), np.ones((1, 3), np.float64))
    assert out.dtype == np.float64


def test_leading_batch_dimensions():
    rng = np.random.default_rng(0)
    x, anchors = rng.normal(size=(2, 3, 5, 8)), rng.normal(size=(4, 8))
    out = relreps.relative_projection(x, anchors)
    assert out.shape == (2, 3, 5, 4)
    np.testing.assert_allclose(out[1, 2], relreps.relative_projection(x[1, 2], anchors))
    assert relreps.relative_projection(x[0, 0, 0], anchors).shape == (4,)


def test_torch_gradients_flow_to_both_inputs():
    x = torch.randn(6, 5, requires_grad=True)
    anchors = torch.randn(3, 5, requires_grad=True)
    relreps.relative_projection(x, anchors, center="anchors").pow(2).sum().backward()
    assert x.grad is not None and anchors.grad is not None
    assert x.grad.abs().sum() > 0 and anchors.grad.abs().sum() > 0


def test_numpy_input_is_not_mutated_and_read_only_input_is_fine():
    x = np.random.default_rng(0).normal(size=(4, 3))
    x.setflags(write=False)
    before = x.copy()
    relreps.relative_projection(x, x[:2], center="anchors")
    assert np.array_equal(x, before)


def test_centering_makes_cosine_translation_invariant():
    rng = np.random.default_rng(3)
    x, anchors = rng.normal(size=(10, 5)), rng.normal(size=(4, 5))
    shift = 100 * rng.normal(size=5)
    plain = relreps.relative_projection(x + shift, anchors + shift)
    centered = relreps.relative_projection(x + shift, anchors + shift, center="anchors")
    np.testing.assert_allclose(
        centered, relreps.relative_projection(x, anchors, center="anchors"), atol=1e-10
    )
    assert not np.allclose(plain, relreps.relative_projection(x, anchors), atol=1e-3)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "anchors", "error", "match"),
    [
        (np.ones((3, 4)), np.ones((2, 5)), ValueError, "anchors has 5 columns but x has 4"),
        (np.ones((3, 4)), np.ones((0, 4)), ValueError, "anchors is empty"),
        (np.ones((0, 4)), np.ones((2, 4)), ValueError, "x is empty"),
        (np.ones((3, 4)), np.ones(4), ValueError, "anchors must be 2-D"),
        (np.array(1.0), np.ones((2, 1)), ValueError, "at least one dimension"),
        (np.array([[1.0, np.nan]]), np.ones((2, 2)), ValueError, r"x contains 1 NaN"),
        (
            np.ones((2, 2)),
            np.array([[1.0, np.inf], [0, 0]]),
            ValueError,
            "anchors contains 1 NaN or infinite",
        ),
        (np.ones((2, 2)), torch.ones(2, 2), TypeError, "both as numpy arrays or both as torch"),
        (np.array([["a", "b"]]), np.ones((2, 2)), TypeError, "must hold real numbers"),
        (np.ones((2, 2), dtype=complex), np.ones((2, 2)), TypeError, "must hold real numbers"),
    ],
)
def test_bad_input_is_reported(x, anchors, error, match):
    with pytest.raises(error, match=match):
        relreps.relative_projection(x, anchors)


def test_unknown_similarity_lists_valid_names():
    with pytest.raises(ValueError, match=r"valid names are.*cosine"):
        relreps.relative_projection(np.ones((2, 2)), np.ones((2, 2)), "cosinus")


def test_unknown_center_is_reported():
    with pytest.raises(ValueError, match="center must be one of"):
        relreps.relative_projection(np.ones((2, 2)), np.ones((2, 2)), center="mean")


def test_large_finite_values_are_not_reported_as_infinite():
    x = np.full((4, 2), 3e38, dtype=np.float32)  # the sum overflows, the values do not
    out = relreps.relative_projection(x, np.ones((1, 2), np.float32))
    assert out.shape == (4, 1)
