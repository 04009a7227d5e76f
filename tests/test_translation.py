"""Translation between latent spaces: declared exactness both ways, the published pipeline, the
inverse relative projection, persistence and refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from relreps.io import load_translator, save_translator
from relreps.projection import inverse_relative_projection, relative_projection
from relreps.translation import MAPS, SCALINGS, Translator, fit_map, method_names, random_map


def anisotropic(n: int = 300, d: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.linspace(0.2, 3.0, d) + rng.normal(size=d)


def error(method: str, out: np.ndarray, truth: np.ndarray) -> float:
    if method == "relative":  # it recovers directions; the norm follows its rule
        out = out / np.linalg.norm(out, axis=1, keepdims=True)
        truth = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    return float(np.abs(out - truth).max() / max(1.0, np.abs(truth).max()))


@pytest.mark.parametrize("method", method_names())
@pytest.mark.parametrize("scaling", sorted(SCALINGS))
def test_each_declared_map_is_undone_and_no_other(method, scaling):
    """The battery over the registry: declared maps are recovered to 1e-8 in float64 (100
    anchors, 12 dimensions), undeclared ones miss by more than 1e-3."""
    x = anisotropic()
    for index, kind in enumerate(MAPS):
        y = random_map(kind, np.random.default_rng(index + 1), x.shape[1])(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ridge / affine-sgd are never "determined"
            translator = Translator(method, scaling=scaling).fit(x[:100], y[:100])
        found = error(method, translator.transform(x[100:]), y[100:])
        if kind in translator.undoes:
            assert found < 1e-8, (method, scaling, kind, found)
        else:
            assert found > 1e-3, (method, scaling, kind, found)


def test_per_dimension_standardisation_does_not_undo_a_rotation_but_isotropic_scaling_does():
    """FOLLOWUPS 1.5: the paper's standardisation does not commute with rotations on anisotropic
    data; centring plus one isotropic scale does (an exact similarity map is recovered)."""
    x = anisotropic(400, 16)
    rotation = random_map("orthogonal", np.random.default_rng(7), 16)
    y = 2.5 * rotation(x) - 4.0
    standard = Translator("ortho", scaling="standard").fit(x[:200], y[:200])
    isotropic = Translator("ortho", scaling="isotropic").fit(x[:200], y[:200])

    def relative_error(translator: Translator) -> float:
        moved = translator.transform(x[200:]) - y[200:]
        return float(np.linalg.norm(moved) / np.linalg.norm(y[200:]))

    assert relative_error(standard) > 0.02
    assert relative_error(isotropic) < 1e-12


def test_procrustes_recovers_a_similarity_map_to_1e_10():
    x = anisotropic(500, 32, seed=3)
    y = 0.7 * random_map("orthogonal", np.random.default_rng(1), 32)(x) + 5.0
    for method in ("ortho", "scaled-ortho"):
        translator = Translator(method, scaling="isotropic").fit(x[:64], y[:64])
        assert np.abs(translator.transform(x) - y).max() < 1e-10
        assert np.abs(translator.inverse_transform(y) - x).max() < 1e-10


def reference_pipeline(ax, ay, x, method):
    """The published pipeline written out step by step (FOLLOWUPS.md 1.2), in numpy."""
    mx, my = ax.mean(0), ay.mean(0)
    sx, sy = ax.std(0, ddof=1), ay.std(0, ddof=1)
    sx[sx < 1e-12], sy[sy < 1e-12] = 1.0, 1.0
    px, py = (ax - mx) / sx, (ay - my) / sy
    width = max(px.shape[1], py.shape[1])
    pad = lambda a: np.hstack([a, np.zeros((len(a), width - a.shape[1]))])  # noqa: E731
    if method == "ortho":
        u, _, vt = np.linalg.svd(pad(px).T @ pad(py))
        out = pad((x - mx) / sx) @ (u @ vt)
    else:
        m = np.linalg.lstsq(px, py, rcond=None)[0]
        if method == "l-ortho":
            u, _, vt = np.linalg.svd(m, full_matrices=False)
            m = u @ vt
        out = ((x - mx) / sx) @ m
    return out[:, : ay.shape[1]] * sy + my


@pytest.mark.parametrize("method", ["ortho", "linear", "l-ortho"])
@pytest.mark.parametrize("widths", [(10, 10), (8, 12), (12, 8)])
def test_equal_to_a_hand_written_reference_of_the_published_pipeline(method, widths):
    rng = np.random.default_rng(5)
    ax, ay = rng.normal(size=(60, widths[0])) * 2 + 1, rng.normal(size=(60, widths[1])) - 3
    x = rng.normal(size=(20, widths[0]))
    ours = Translator(method, scaling="standard").fit(ax, ay).transform(x)
    assert np.abs(ours - reference_pipeline(ax, ay, x, method)).max() < 1e-10


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 10), st.integers(2, 10), st.sampled_from(["numpy", "float32", "float64"]))
def test_any_widths_keep_the_callers_kind_and_dtype(dx, dy, kind):
    rng = np.random.default_rng(dx * 11 + dy)
    ax, ay, x = rng.normal(size=(30, dx)), rng.normal(size=(30, dy)), rng.normal(size=(4, dx))
    if kind != "numpy":
        dtype = getattr(torch, kind)
        ax, ay, x = (torch.tensor(v, dtype=dtype) for v in (ax, ay, x))
    for method in ("ortho", "linear", "affine", "relative"):
        out = Translator(method, scaling="center").fit(ax, ay).transform(x)
        assert out.shape == (4, dy) and type(out) is type(x) and out.dtype == x.dtype
        assert np.isfinite(np.asarray(out)).all()


def test_inverse_transform_where_the_map_is_invertible():
    x = anisotropic(200, 6)
    y = random_map("linear", np.random.default_rng(2), 6)(x) + 1.0
    for method in ("linear", "affine", "scaled-ortho", "ortho", "l-ortho"):
        translator = Translator(method, scaling="center").fit(x[:100], y[:100])
        there = translator.transform(x[100:])
        assert np.allclose(translator.inverse_transform(there), x[100:], atol=1e-8), method
    wide = Translator("linear", scaling="none").fit(np.hstack([x, x[:, :2]])[:100], y[:100])
    with pytest.raises(ValueError, match="not invertible"):
        wide.inverse_transform(y[:3])
    relative = Translator("relative", scaling="none").fit(x[:100], 2 * x[:100])
    back = relative.inverse_transform(relative.transform(x[100:]))
    norms = np.linalg.norm(back, axis=1) * np.linalg.norm(x[100:], axis=1)
    cosine = (back * x[100:]).sum(1) / norms
    assert cosine.min() > 1 - 1e-10


def test_too_few_or_degenerate_anchors_are_warned_about():
    x = anisotropic(50, 20)
    with pytest.warns(UserWarning, match=r"10 anchors cannot determine a ortho map from 20"):
        translator = Translator("ortho").fit(x[:10], x[:10])
    assert translator.diagnostics["determined"] is False and translator.diagnostics["anchors"] == 10
    repeated = np.vstack([x[:5]] * 10)  # 50 rows, rank 5
    with pytest.warns(UserWarning, match="cross-covariance rank 5"):
        Translator("linear", scaling="none").fit(repeated, repeated)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Translator("ortho").fit(x, x).diagnostics["determined"]


def test_bad_input_is_refused_clearly():
    x = anisotropic(40, 5)
    with pytest.raises(ValueError, match="not paired: 40 source rows but 39"):
        Translator().fit(x, x[:39])
    with pytest.raises(ValueError, match="NaN"):
        Translator().fit(np.where(x > 2, np.nan, x), x)
    with pytest.raises(ValueError, match="at least 2 paired anchors"):
        Translator().fit(x[:1], x[:1])
    with pytest.raises(ValueError, match="not fitted"):
        Translator().transform(x)
    fitted = Translator().fit(x, x)
    with pytest.raises(ValueError, match="width 5, got shape"):
        fitted.transform(x[:, :4])
    with pytest.raises(ValueError, match="Unknown translation method 'procrustes'"):
        Translator("procrustes")
    with pytest.raises(ValueError, match="scaling must be one of"):
        Translator(scaling="minmax")
    with pytest.raises(TypeError, match="numpy array but"):
        Translator().fit(x, torch.from_numpy(x))
    with pytest.raises(ValueError, match="equal widths"):
        fit_map(x, x[:, :3], "ortho")


def test_affine_sgd_is_seeded_and_leaves_the_global_state_alone():
    x = anisotropic(100, 4)
    y = random_map("linear", np.random.default_rng(0), 4)(x)
    before = torch.random.get_rng_state()
    first = fit_map(x, y, "affine-sgd", seed=3)
    assert torch.equal(before, torch.random.get_rng_state())
    again, other = fit_map(x, y, "affine-sgd", seed=3), fit_map(x, y, "affine-sgd", seed=4)
    assert np.array_equal(first[0], again[0]) and not np.array_equal(first[0], other[0])


def test_saved_and_loaded_translators_translate_alike(tmp_path):
    x = anisotropic(120, 6)
    y = random_map("orthogonal", np.random.default_rng(3), 6)(x)[:, :4] + 2
    for method in ("ortho", "affine", "relative"):
        translator = Translator(method, scaling="isotropic", l2=method == "ortho").fit(x, y)
        save_translator(tmp_path / f"{method}.safetensors", translator)
        loaded = load_translator(tmp_path / f"{method}.safetensors")
        assert np.array_equal(loaded.transform(x), translator.transform(x)), method
        assert loaded.undoes == translator.undoes and loaded.diagnostics == translator.diagnostics
    (tmp_path / "ortho.safetensors").write_bytes(b"broken")
    with pytest.raises(ValueError):
        load_translator(tmp_path / "ortho.safetensors")


# --- the inverse relative projection ------------------------------------------------------------


def test_inverse_relative_projection_recovers_directions_and_sets_norms():
    rng = np.random.default_rng(0)
    x, anchors = rng.normal(size=(20, 16)), 3 * rng.normal(size=(64, 16))
    relative = relative_projection(x, anchors)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    back = inverse_relative_projection(relative, anchors)
    norms = np.linalg.norm(anchors, axis=1)
    assert np.allclose(np.linalg.norm(back, axis=1), norms.mean())
    assert np.allclose(back / norms.mean(), unit, atol=1e-10)
    median = inverse_relative_projection(relative, anchors, norm="median")
    assert np.allclose(np.linalg.norm(median, axis=1), np.median(norms))
    assert np.allclose(inverse_relative_projection(relative, anchors, norm=2.0), 2 * unit)
    # another space, rotated and scaled, inverts the same relative vectors onto its own rows
    q = random_map("orthogonal", rng, 16)
    other = inverse_relative_projection(relative, 5 * q(anchors), norm="unit")
    assert np.allclose(other, q(unit), atol=1e-10)


def test_fewer_anchors_than_dimensions_give_the_projection_onto_their_span():
    rng = np.random.default_rng(1)
    x, anchors = rng.normal(size=(10, 32)), rng.normal(size=(8, 32))
    relative = relative_projection(x, anchors)
    found = inverse_relative_projection(relative, anchors, norm="unit")
    unit_anchors = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    minimum_norm = relative @ np.linalg.pinv(unit_anchors).T
    expected = minimum_norm / np.linalg.norm(minimum_norm, axis=1, keepdims=True)
    assert np.allclose(found, expected, atol=1e-10)
    cosine = (found * x).sum(1) / np.linalg.norm(x, axis=1)
    assert 0.1 < cosine.mean() < 0.9  # only part of each direction is recoverable


def test_pruning_ensembles_and_parseval_frames():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(40, 8))
    anchors = np.vstack([base, base + 1e-9 * rng.normal(size=base.shape)])  # near-duplicates
    x = rng.normal(size=(6, 8))
    relative = relative_projection(x, anchors)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    pruned = inverse_relative_projection(relative, anchors, norm="unit", prune=0.05, ensemble=4)
    assert np.allclose(pruned, unit, atol=1e-6)
    orthonormal = np.linalg.qr(rng.normal(size=(8, 8)))[0]  # a Parseval frame already
    framed = inverse_relative_projection(
        relative_projection(x, orthonormal), orthonormal, norm="unit", frame="parseval"
    )
    assert np.allclose(framed, unit, atol=1e-10)
    tensors = inverse_relative_projection(
        torch.tensor(relative, dtype=torch.float32), torch.tensor(anchors, dtype=torch.float32)
    )
    assert tensors.dtype == torch.float32
    with pytest.raises(ValueError, match="one column per anchor"):
        inverse_relative_projection(relative[:, :5], anchors)
    with pytest.raises(ValueError, match="norm must be one of"):
        inverse_relative_projection(relative, anchors, norm="max")
    with pytest.raises(ValueError, match="only with prune"):
        inverse_relative_projection(relative, anchors, ensemble=3)
    with pytest.raises(ValueError, match="NaN"):
        inverse_relative_projection(relative * np.nan, anchors)


def test_the_scikit_learn_face():
    from sklearn.base import clone

    from relreps.sklearn import LatentTranslator

    x = anisotropic(80, 5)
    y = random_map("orthogonal", np.random.default_rng(0), 5)(x) + 1
    model = clone(LatentTranslator(method="ortho", scaling="center"))
    assert model.get_params() == {"method": "ortho", "scaling": "center", "l2": False}
    model.fit(x, y)
    assert np.allclose(model.transform(x), y) and np.allclose(model.inverse_transform(y), x)
    assert model.n_features_in_ == 5
    with pytest.raises(ValueError, match="Y must be the target"):
        LatentTranslator().fit(x, y[:, 0])
