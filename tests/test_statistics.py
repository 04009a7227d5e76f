"""Correlations with bootstrap intervals: properties over random data, and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from relreps.statistics import correlation

pairs = (
    st.integers(min_value=5, max_value=40)
    .flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n),
            st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n),
        )
    )
    .filter(lambda p: np.ptp(p[0]) > 1e-3 and np.ptp(p[1]) > 1e-3)
)


@settings(max_examples=40, deadline=None)
@given(pairs, st.sampled_from(["pearson", "spearman"]))
def test_matches_scipy_and_is_symmetric_and_seeded(pair, method):
    x, y = map(np.asarray, pair)
    found = correlation(x, y, method, resamples=200, seed=1)
    expected = (stats.pearsonr if method == "pearson" else stats.spearmanr)(x, y).statistic
    assert found.r == pytest.approx(float(np.clip(expected, -1, 1)), abs=1e-9)
    assert -1 <= found.low <= found.high <= 1 and found.n == len(x)
    assert correlation(y, x, method, resamples=200, seed=1).r == pytest.approx(found.r, abs=1e-9)
    assert correlation(x, y, method, resamples=200, seed=1) == found
    flipped = correlation(x, -y, method, resamples=200, seed=1)
    assert flipped.r == pytest.approx(-found.r, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(pairs, st.floats(0.01, 100), st.floats(-100, 100))
def test_invariances(pair, scale, shift):
    x, y = map(np.asarray, pair)
    pearson = correlation(x, y, resamples=100)
    moved = correlation(scale * x + shift, y, resamples=100)
    assert moved.r == pytest.approx(pearson.r, abs=1e-6)  # Pearson: positive affine maps
    spearman = correlation(x, y, "spearman", resamples=100)
    monotone = correlation(x + x**3, y, "spearman", resamples=100)
    assert monotone.r == pytest.approx(spearman.r, abs=1e-9)  # Spearman: monotone maps


def test_a_strong_relation_has_a_tight_interval_that_covers_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    found = correlation(x, x + 0.5 * rng.normal(size=300), resamples=2000)
    assert 0.85 < found.low < found.r < found.high < 0.95
    assert found.p_value < 1e-50 and found.resamples == 2000
    noise = correlation(x, rng.normal(size=300), resamples=2000)
    assert noise.low < 0 < noise.high and noise.p_value > 0.01
    assert str(found).startswith("+0.905 [+0.88") and "95% CI, n=300" in str(found)


def test_refusals_say_what_is_wrong():
    with pytest.raises(ValueError, match="at least 3 pairs"):
        correlation([1, 2], [1, 2])
    with pytest.raises(ValueError, match="must pair up"):
        correlation([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="y is constant"):
        correlation([1, 2, 3], [5, 5, 5])
    with pytest.raises(ValueError, match="NaN"):
        correlation([1, 2, float("nan")], [1, 2, 3])
    with pytest.raises(ValueError, match="method must be one of"):
        correlation([1, 2, 3], [1, 2, 3], "kendall")
    with pytest.raises(ValueError, match="confidence"):
        correlation([1, 2, 3], [1, 3, 2], confidence=1.0)
    with pytest.raises(TypeError, match="sequence of numbers"):
        correlation(["a", "b", "c"], [1, 2, 3])


def test_correlations_tabulate_every_series_and_name_the_undefined_ones():
    from relreps.statistics import correlations

    y = [1.0, 2.0, 3.0, 4.0, 5.0]
    found = correlations(
        {"rising": [2.0, 4.0, 6.0, 8.0, 10.0], "flat": [1.0] * 5}, y, resamples=100, seed=0
    )
    assert found["rising"]["pearson"]["r"] == pytest.approx(1.0)
    assert found["rising"]["spearman"]["r"] == pytest.approx(1.0)
    assert set(found["flat"]) == {"pearson", "spearman"}
    assert (
        "constant" in found["flat"]["pearson"]["undefined"] and found["flat"]["pearson"]["n"] == 5
    )
    with pytest.raises(ValueError, match="method"):
        correlations({"rising": y}, y, ("pearsn",))
