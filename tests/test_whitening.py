"""Whitened similarities: exact invariance to invertible affine maps when refitted per space."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import relreps
from relreps.invariances import check_similarity
from relreps.io import load_whitener, save_whitener
from relreps.whitening import WHITENED_KINDS, Whitener


def _space(seed: int, n: int = 400, d: int = 6) -> np.ndarray:
    """An anisotropic space whose covariance has condition number about 100 at most (the invariance
    holds to rounding amplified by that condition number: a random Gaussian mixing matrix can
    make it 1e6 and the check a test of eigh's precision)."""
    rng = np.random.default_rng(seed)
    m, shift = _affine(rng, d)
    return rng.normal(size=(n, d)) @ m + shift


def _affine(rng: np.random.Generator, d: int):
    """A random invertible affine map with condition number at most 10."""
    q1, _ = np.linalg.qr(rng.normal(size=(d, d)))
    q2, _ = np.linalg.qr(rng.normal(size=(d, d)))
    m = q1 @ np.diag(rng.uniform(0.3, 3.0, size=d)) @ q2
    return m, rng.normal(size=d) * 5


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(WHITENED_KINDS))
def test_refitted_whitening_undoes_any_invertible_affine_map(seed, kind):
    rng = np.random.default_rng(seed)
    z = _space(seed)
    m, b = _affine(rng, z.shape[1])
    anchors, x = z[:12], z[12:40]
    r = relreps.relative_projection(x, anchors, Whitener(eps=0).fit(z).similarity(kind))
    moved = Whitener(eps=0).fit(z @ m + b).similarity(kind)
    r_moved = relreps.relative_projection(x @ m + b, anchors @ m + b, moved)
    np.testing.assert_allclose(r_moved, r, rtol=1e-8, atol=1e-8 * np.abs(r).max())
    cosine = relreps.relative_projection(x, anchors)  # cosine is not affine-invariant
    assert np.abs(relreps.relative_projection(x @ m + b, anchors @ m + b) - cosine).max() > 1e-3


def test_values_are_the_mahalanobis_forms():
    z = _space(1)
    x, a = z[:5], z[5:9]
    mean, cov = z.mean(0), np.cov(z, rowvar=False)
    inv = np.linalg.inv(cov)
    whitener = Whitener(eps=0).fit(z)
    inner = relreps.relative_projection(x, a, whitener.similarity())
    np.testing.assert_allclose(inner, (x - mean) @ inv @ (a - mean).T, rtol=1e-9)
    diff = x[:, None, :] - a[None, :, :]
    maha = -np.einsum("nkd,de,nke->nk", diff, inv, diff)
    np.testing.assert_allclose(
        relreps.relative_projection(x, a, whitener.similarity("mahalanobis")), maha, rtol=1e-9
    )
    np.testing.assert_allclose(np.cov(whitener.transform(z), rowvar=False), np.eye(6), atol=1e-9)


def test_the_fixed_similarity_declares_no_invariance_and_the_battery_agrees():
    entry = Whitener().fit(_space(2, d=6)).similarity()
    assert entry.invariances == frozenset()
    assert check_similarity(entry).ok  # every transformation moves it: nothing undeclared holds


def test_regularised_fits_and_their_scope():
    z = _space(3, n=300, d=8)
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    anchors, x = z[:10], z[10:30]
    shrunk = Whitener(shrinkage=0.3).fit(z).similarity()
    moved = Whitener(shrinkage=0.3).fit(2.5 * z @ q + 1.0).similarity()
    np.testing.assert_allclose(  # shrinkage keeps the similarity group
        relreps.relative_projection(2.5 * x @ q + 1.0, 2.5 * anchors @ q + 1.0, moved),
        relreps.relative_projection(x, anchors, shrunk),
        atol=1e-8,
    )
    pca = Whitener(n_components=3).fit(z)
    assert pca.transform(z).shape == (300, 3)
    assert relreps.relative_projection(torch.from_numpy(x), torch.from_numpy(anchors),
                                       pca.similarity()).shape == (20, 10)  # fmt: skip


def test_bad_fits_get_clear_errors_and_warnings(tmp_path):
    z = _space(4, n=50, d=6)
    with pytest.warns(UserWarning, match="n <= d \\+ 1"):
        Whitener().fit(z[:7])
    with pytest.raises(ValueError, match="at least 2 rows"):
        Whitener().fit(z[:1])
    with pytest.raises(ValueError, match="NaN"):
        Whitener().fit(np.where(np.eye(50, 6) > 0, np.nan, z))
    with pytest.raises(ValueError, match="singular"):
        Whitener(eps=0).fit(np.column_stack([z[:, :5], np.zeros(50)]))
    with pytest.raises(ValueError, match="not fitted"):
        Whitener().similarity()
    with pytest.raises(ValueError, match="shrinkage"):
        Whitener(shrinkage=2)
    with pytest.raises(ValueError, match="n_components=9 exceeds"):
        Whitener(n_components=9).fit(z)
    with pytest.raises(ValueError, match="width 5"):
        Whitener().fit(z).transform(z[:, :5])
    with pytest.raises(ValueError, match="kind must be one of"):
        Whitener().fit(z).similarity("cosine")


def test_persistence_round_trip(tmp_path):
    z = _space(5)
    whitener = Whitener(shrinkage=0.1, n_components=4).fit(z)
    save_whitener(tmp_path / "w.safetensors", whitener)
    loaded = load_whitener(tmp_path / "w.safetensors")
    np.testing.assert_allclose(loaded.transform(z), whitener.transform(z), rtol=1e-12, atol=1e-12)
    assert (loaded.shrinkage, loaded.n_components) == (0.1, 4)
    relreps.io.save_tensors(tmp_path / "t.safetensors", {"a": torch.zeros(2)}, {"relreps": "x"})
    with pytest.raises(ValueError, match="does not hold a relreps whitener"):
        load_whitener(tmp_path / "t.safetensors")
