"""Similarities: the invariance battery over the registry, known values, the registry's errors.

The battery (:mod:`relreps.invariances`) runs over every registered similarity, so a new one is
covered by registering it: declared invariances must hold on random transformations (hypothesis
draws the seeds), undeclared ones must fail on generic data, in float64 and float32.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import relreps
from relreps.invariances import INVARIANCES, check_similarity
from relreps.nn import AGGREGATION_MODES, ProductAggregation
from relreps.similarities import AGGREGATIONS, SIMILARITIES, Similarity, product_similarity

BUILTIN = ("cosine", "inner", "euclidean", "l1", "linf", "rbf", "change_of_basis")
REGISTERED = relreps.similarity_names()
CENTERS = (None, "anchors")


def test_builtins_are_registered_with_vocabulary_invariances():
    assert set(BUILTIN) <= set(REGISTERED)
    for name in REGISTERED:
        assert relreps.get_similarity(name).invariances <= INVARIANCES


@pytest.mark.parametrize("center", CENTERS)
@pytest.mark.parametrize("name", REGISTERED)
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_declarations_are_exact(name, center, seed):
    check_similarity(name, center=center, seed=seed, trials=3).raise_for_failures()


@pytest.mark.parametrize("center", CENTERS)
@pytest.mark.parametrize("name", REGISTERED)
def test_declarations_hold_in_float32(name, center):
    # TOLERANCES["float32"]: 1e-3 of the output's scale, plus 1e-5. Every similarity stays
    # below 1e-5 but Euclidean after a large translation (up to 2.4e-4: its |x|^2 - 2 x.a + |a|^2
    # expansion loses digits when the data sit far from the origin).
    check_similarity(name, center=center, dtype="float32", trials=30).raise_for_failures()


def test_the_battery_catches_wrong_declarations():
    def cosine(x, anchors):
        return relreps.similarities.cosine(x, anchors)

    over = Similarity("test_over", cosine, frozenset({"orthogonal", "translation"}))
    report = check_similarity(over)
    assert not report.ok
    failures = " ".join(report.failures())
    assert "declares translation" in failures
    assert "does not declare isotropic_scaling" in failures
    with pytest.raises(AssertionError, match="declares translation"):
        report.raise_for_failures()
    # A user's own function, registered for the test only, checked by name.
    exact = frozenset({"orthogonal", "isotropic_scaling", "permutation"})
    with SIMILARITIES.temporary("test_cosine", Similarity("test_cosine", cosine, exact)):
        assert check_similarity("test_cosine").ok
    assert "test_cosine" not in relreps.similarity_names()


def test_invariance_table_matches_paper_for_cosine():
    assert relreps.get_similarity("cosine").invariances == {
        "orthogonal",
        "isotropic_scaling",
        "permutation",
    }


@pytest.mark.parametrize("name", REGISTERED)
@pytest.mark.parametrize("center", CENTERS)
def test_gradcheck(name, center):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(5, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    anchors = torch.randn(3, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: relreps.relative_projection(a, b, name, center=center), (x, anchors)
    )


def test_cosine_zero_rows_give_zero_not_nan():
    x = np.zeros((3, 5))
    anchors = np.vstack([np.ones(5), np.zeros(5)])
    out = relreps.relative_projection(x, anchors)
    assert np.array_equal(out, np.zeros((3, 2)))
    xt = torch.zeros(2, 5, requires_grad=True)
    out_t = relreps.relative_projection(xt, torch.ones(3, 5))
    out_t.sum().backward()
    assert torch.isfinite(xt.grad).all()


def test_cosine_values_are_cosines():
    x = np.array([[1.0, 0.0], [1.0, 1.0]])
    anchors = np.array([[2.0, 0.0], [0.0, -3.0]])
    expected = np.array([[1.0, 0.0], [np.sqrt(0.5), -np.sqrt(0.5)]])
    np.testing.assert_allclose(relreps.relative_projection(x, anchors), expected)


def test_cosine_does_not_mutate_inputs():
    x = torch.randn(4, 3)
    anchors = torch.randn(2, 3)
    x_copy, anchors_copy = x.clone(), anchors.clone()
    relreps.relative_projection(x, anchors, center="anchors")
    assert torch.equal(x, x_copy) and torch.equal(anchors, anchors_copy)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("inner", [[2.0, -3.0]]),
        ("euclidean", [[1.0, np.sqrt(1 + 16)]]),
        ("l1", [[1.0, 5.0]]),
        ("linf", [[1.0, 4.0]]),
    ],
)
def test_known_values(name, expected):
    x = np.array([[1.0, 1.0]])
    anchors = np.array([[1.0, 1.0 + 1.0], [0.0, -3.0]])
    if name == "inner":
        anchors = np.array([[2.0, 0.0], [0.0, -3.0]])
    np.testing.assert_allclose(relreps.relative_projection(x, anchors, name), expected)


def test_change_of_basis_reconstructs_points_in_the_span():
    rng = np.random.default_rng(0)
    anchors = rng.normal(size=(3, 5))
    coefficients = rng.normal(size=(4, 3))
    x = coefficients @ anchors
    np.testing.assert_allclose(
        relreps.relative_projection(x, anchors, "change_of_basis"), coefficients
    )


def test_rbf_needs_two_distinct_anchors():
    with pytest.raises(ValueError, match="two distinct anchors"):
        relreps.relative_projection(np.ones((2, 3)), np.ones((1, 3)), "rbf")


def test_registry_errors_and_custom_similarity():
    with pytest.raises(ValueError, match="Unknown similarity 'cosin'; valid names are: change_of"):
        relreps.get_similarity("cosin")
    with pytest.raises(ValueError, match="Unknown invariance"):
        relreps.register_similarity("bad", lambda x, a: x @ a.T, {"rotation"})
    with pytest.raises(ValueError, match="already registered"):
        relreps.register_similarity("cosine", lambda x, a: x @ a.T)
    with pytest.raises(TypeError, match="callable"):
        relreps.register_similarity("not_callable", 3)
    assert {"bad", "not_callable"}.isdisjoint(relreps.similarity_names())
    entry = relreps.register_similarity(
        "test_negative_inner", lambda x, a: -(x @ a.T), {"orthogonal"}
    )
    try:
        assert "test_negative_inner" in relreps.similarity_names()
        out = relreps.relative_projection(np.eye(2), np.eye(2), entry)
        np.testing.assert_allclose(out, -np.eye(2))
    finally:
        SIMILARITIES.remove("test_negative_inner")


def test_custom_similarity_with_wrong_output_shape_is_reported():
    bad = Similarity("test_bad_shape", lambda x, a: x, frozenset())
    with (
        SIMILARITIES.temporary("test_bad_shape", bad),
        pytest.raises(ValueError, match="returned shape"),
    ):
        relreps.relative_projection(np.ones((2, 3)), np.ones((4, 3)), "test_bad_shape")


# --- products of invariances -------------------------------------------------------------------

PAIRS = [(a, b) for i, a in enumerate(REGISTERED) for b in REGISTERED[i + 1 :]]


@pytest.mark.parametrize("aggregate", AGGREGATIONS)
@pytest.mark.parametrize("pair", PAIRS, ids="+".join)
def test_products_declare_exactly_what_all_their_parts_share(pair, aggregate):
    """Derived, not hand-written: the battery checks every pair of registered similarities."""
    product = product_similarity(pair, aggregate=aggregate)
    check_similarity(product, trials=3).raise_for_failures()
    shared = set(INVARIANCES)
    for part in map(SIMILARITIES.get, pair):
        shared &= part.invariances | ({"isotropic_scaling"} if part.homogeneous else set())
    assert product.invariances == shared


@pytest.mark.parametrize("center", CENTERS)
def test_the_papers_product_in_float32(center):
    parts = ("cosine", "euclidean", "l1", "linf")
    product = product_similarity(parts)
    assert product.invariances == {"isotropic_scaling", "permutation"}
    check_similarity(product, center=center, dtype="float32", trials=20).raise_for_failures()
    raw = product_similarity(("euclidean", "l1"), normalize=None)  # distances scale with space
    assert raw.invariances == {"translation", "permutation"}
    check_similarity(raw, center=center).raise_for_failures()


def test_product_values_and_shapes():
    rng = np.random.default_rng(0)
    x, anchors = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    concat = relreps.relative_projection(x, anchors, ("cosine", "l1"))
    assert concat.shape == (7, 8)
    for block, name in ((concat[:, :4], "cosine"), (concat[:, 4:], "l1")):
        raw = relreps.relative_projection(x, anchors, name)
        expected = (raw - raw.mean(1, keepdims=True)) / raw.std(1, keepdims=True)
        np.testing.assert_allclose(block, expected, atol=1e-12)
    summed = relreps.relative_projection(x, anchors, ["cosine", "l1"], aggregate="sum")
    np.testing.assert_allclose(summed, concat[:, :4] + concat[:, 4:], atol=1e-12)
    t = relreps.relative_projection(torch.from_numpy(x), torch.from_numpy(anchors), ("l1", "linf"))
    assert isinstance(t, torch.Tensor) and t.shape == (7, 8)
    layer = relreps.RelativeProjection(4, similarity=("cosine", "l1"), output_norm="layernorm")
    assert layer(torch.from_numpy(x).float(), torch.from_numpy(anchors).float()).shape == (7, 8)


def test_product_errors_say_what_to_do():
    x, anchors = np.ones((3, 4)), np.eye(4)
    with pytest.raises(ValueError, match="at least two similarities"):
        product_similarity(["cosine"])
    with pytest.raises(TypeError, match="list or tuple"):
        product_similarity("cosine")
    with pytest.raises(ValueError, match="aggregate must be one of"):
        product_similarity(("cosine", "l1"), aggregate="mean")
    with pytest.raises(ValueError, match="mixes their units"):
        product_similarity(("cosine", "l1"), aggregate="sum", normalize=None)
    with pytest.raises(ValueError, match="pass a list of them"):
        relreps.relative_projection(x, anchors, "cosine", aggregate="sum")
    with pytest.raises(ValueError, match="at least 2 anchors"):
        relreps.relative_projection(x, anchors[:1], ("cosine", "l1"))
    with pytest.raises(ValueError, match="Unknown similarity 'nope'"):
        relreps.relative_projection(x, anchors, ("cosine", "nope"))


def test_the_battery_checks_declared_homogeneity():
    assert check_similarity("euclidean").ok and check_similarity("inner").ok
    wrong = Similarity("scale-free", SIMILARITIES.get("cosine").function,
                       frozenset({"orthogonal", "isotropic_scaling", "permutation"}),
                       homogeneous=True)  # fmt: skip
    report = check_similarity(wrong)
    assert not report.ok and "homogeneous" in report.failures()[0]


def test_learned_aggregations_train_and_start_from_the_mean():
    torch.manual_seed(0)
    x, anchors = torch.randn(32, 8), torch.randn(6, 8)
    parts = relreps.relative_projection(x, anchors, ("cosine", "euclidean", "l1"))
    for mode in AGGREGATION_MODES:
        layer = ProductAggregation(3, 6, mode)
        out = layer(parts)
        assert out.shape == (32, 6)
        out.square().mean().backward()
        assert all(p.grad is not None for p in layer.parameters())
    weighted = ProductAggregation(3, 6, "weighted")
    np.testing.assert_allclose(weighted(parts).detach(), parts.reshape(32, 3, 6).mean(1), atol=1e-6)
    with pytest.raises(ValueError, match="3 parts of 6 anchors"):
        ProductAggregation(3, 6)(parts[:, :12])
