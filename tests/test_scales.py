"""Invariance to isotropic scaling holds over the whole finite range of the dtype.

Squared norms overflow above about 1e19 in float32 (1e154 in float64) and underflow below about
1e-19 (1e-154). Every registered similarity and measure that declares ``isotropic_scaling`` must
give the same answer on data scaled to either end of the range as on the data itself; Euclidean
distance must stay right far from the origin and exact at zero. Parametrised over the registries,
so a new registration is covered.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import relreps
from relreps.measures import get_measure, measure_names

# Scales from the smallest to the largest the dtype holds for data of unit size (leaving room
# for the d coordinates and their sums): 10 ** exponent.
EXPONENTS = {np.float32: (-35, 35), np.float64: (-300, 300)}
TOLERANCE = {np.float32: 2e-5, np.float64: 1e-12}
SCALED_SIMILARITIES = [
    name
    for name in relreps.similarity_names()
    if "isotropic_scaling" in relreps.get_similarity(name).invariances
]
SCALED_MEASURES = [n for n in measure_names() if "isotropic_scaling" in get_measure(n).invariances]


def data(dtype, seed: int):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(30, 6)).astype(dtype), rng.normal(size=(5, 6)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("center", [None, "anchors"])
@pytest.mark.parametrize("name", SCALED_SIMILARITIES)
@settings(max_examples=15, deadline=None)
@given(exponent=st.integers(-300, 300), seed=st.integers(0, 100))
@example(exponent=1, seed=25)  # poorly conditioned anchors: a float32 pinv lost 5.6e-4 relative
def test_similarities_are_scale_invariant_over_the_whole_range(name, center, dtype, exponent, seed):
    low, high = EXPONENTS[dtype]
    scale = dtype(10.0 ** min(max(exponent, low), high))
    x, anchors = data(dtype, seed)
    reference = relreps.relative_projection(x, anchors, name, center=center)
    scaled = relreps.relative_projection(x * scale, anchors * scale, name, center=center)
    assert np.isfinite(scaled).all()
    np.testing.assert_allclose(scaled, reference, atol=TOLERANCE[dtype], rtol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", SCALED_MEASURES)
@settings(max_examples=8, deadline=None)
@given(exponent=st.integers(-300, 300), seed=st.integers(0, 100))
def test_measures_are_scale_invariant_over_the_whole_range(name, dtype, exponent, seed):
    low, high = EXPONENTS[dtype]
    scale = dtype(10.0 ** min(max(exponent, low), high))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 6)).astype(dtype)
    y = (x @ rng.normal(size=(6, 6)) + 0.3 * rng.normal(size=(40, 6))).astype(dtype)
    options = {"k": 5} if name.endswith("_at_k") else {}
    measure = get_measure(name)
    assert measure(x * scale, y, **options) == pytest.approx(
        measure(x, y, **options), abs=100 * TOLERANCE[dtype]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identical_spaces_score_one_at_the_extremes(dtype):
    low, high = EXPONENTS[dtype]
    x, _ = data(dtype, 0)
    for exponent in (low, high):
        big = x * dtype(10.0**exponent)
        assert relreps.measures.mean_cosine(big, big) == pytest.approx(1.0)
        assert relreps.measures.mrr_at_k(big, big / 2, k=5) == pytest.approx(1.0)
        assert relreps.measures.linear_cka(big, big) == pytest.approx(1.0)
        fps = relreps.select_anchors(big, 10, "fps", seed=0)
        assert fps == relreps.select_anchors(x, 10, "fps", seed=0)


def test_euclidean_far_from_the_origin_and_at_zero():
    rng = np.random.default_rng(0)
    x, anchors = rng.normal(size=(20, 8)), rng.normal(size=(4, 8))
    x[3] = anchors[2]
    exact = np.linalg.norm(x[:, None] - anchors[None], axis=2)
    x32, a32 = x.astype(np.float32), anchors.astype(np.float32)
    distances = relreps.relative_projection(x32, a32, "euclidean")
    assert distances[3, 2] == 0.0  # a sample at an anchor: exactly 0, not ~1e-3 of rounding
    np.testing.assert_allclose(distances, exact, atol=1e-5)
    # 1e4 times the spread away from the origin: the |x|^2 - 2 x.a + |a|^2 expansion would keep
    # no digit (an error near 1e4 * sqrt(eps)); the inputs' own float32 rounding is ~1e-3 there.
    offset = np.float32(1e4)
    far = relreps.relative_projection(x32 + offset, a32 + offset, "euclidean")
    np.testing.assert_allclose(far, exact, atol=5e-3)
