"""The invariance matrix: every similarity x every transformation x with/without centring.

Derived from the registry, so a new built-in similarity is covered by declaring its invariances.
Declared invariances must hold (property tests over random orthogonal maps, scalings, translations
and permutations); undeclared ones must fail on generic data, so the declarations are tight.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import relreps
from relreps.similarities import INVARIANCES
from transforms import transform

BUILTIN = ("cosine", "inner", "euclidean", "l1", "linf", "rbf", "change_of_basis")
CENTERS = (None, "anchors")


def expected_invariances(name: str, center: str | None) -> frozenset[str]:
    declared = relreps.get_similarity(name).invariances
    return declared | {"translation"} if center == "anchors" else declared


def test_builtins_are_registered_with_vocabulary_invariances():
    assert set(BUILTIN) <= set(relreps.similarity_names())
    for name in BUILTIN:
        assert relreps.get_similarity(name).invariances <= INVARIANCES


@pytest.mark.parametrize("center", CENTERS)
@pytest.mark.parametrize("name", BUILTIN)
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 12),
    k=st.integers(2, 12),
    d=st.integers(2, 10),
    magnitude=st.floats(0.05, 20.0),
)
def test_declared_invariances_hold(name, center, seed, n, k, d, magnitude):
    rng = np.random.default_rng(seed)
    x, anchors = rng.normal(size=(n, d)), rng.normal(size=(k, d))
    reference = relreps.relative_projection(x, anchors, name, center=center)
    for kind in sorted(expected_invariances(name, center)):
        f = transform(kind, rng, d, magnitude)
        moved = relreps.relative_projection(f(x), f(anchors), name, center=center)
        np.testing.assert_allclose(
            moved, reference, rtol=1e-7, atol=1e-8, err_msg=f"{name} not invariant to {kind}"
        )


UNDECLARED = [
    (name, center, kind)
    for name in BUILTIN
    for center in CENTERS
    for kind in sorted(INVARIANCES - expected_invariances(name, center))
]


@pytest.mark.parametrize(("name", "center", "kind"), UNDECLARED)
def test_undeclared_invariances_fail_on_generic_data(name, center, kind):
    rng = np.random.default_rng(1234)
    d = 6
    x, anchors = rng.normal(size=(20, d)), rng.normal(size=(4, d))  # k < d: not a full basis
    reference = relreps.relative_projection(x, anchors, name, center=center)
    f = transform(kind, rng, d, magnitude=3.0)
    moved = relreps.relative_projection(f(x), f(anchors), name, center=center)
    assert np.max(np.abs(moved - reference)) > 1e-3, f"{name} unexpectedly invariant to {kind}"


def test_invariance_table_matches_paper_for_cosine():
    assert relreps.get_similarity("cosine").invariances == {
        "orthogonal",
        "isotropic_scaling",
        "permutation",
    }


@pytest.mark.parametrize("name", BUILTIN)
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
    with pytest.raises(ValueError, match="valid names are"):
        relreps.get_similarity("cosin")
    with pytest.raises(ValueError, match="Unknown invariance"):
        relreps.register_similarity("bad", lambda x, a: x @ a.T, {"rotation"})
    with pytest.raises(ValueError, match="already registered"):
        relreps.register_similarity("cosine", lambda x, a: x @ a.T)
    with pytest.raises(TypeError, match="callable"):
        relreps.register_similarity("not_callable", 3)
    entry = relreps.register_similarity(
        "test_negative_inner", lambda x, a: -(x @ a.T), {"orthogonal"}, overwrite=True
    )
    assert "test_negative_inner" in relreps.similarity_names()
    out = relreps.relative_projection(np.eye(2), np.eye(2), entry)
    np.testing.assert_allclose(out, -np.eye(2))


def test_custom_similarity_with_wrong_output_shape_is_reported():
    relreps.register_similarity("test_bad_shape", lambda x, a: x, overwrite=True)
    with pytest.raises(ValueError, match="returned shape"):
        relreps.relative_projection(np.ones((2, 3)), np.ones((4, 3)), "test_bad_shape")
