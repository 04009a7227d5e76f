from __future__ import annotations

import numpy as np
import pytest
import torch

import relreps
from relreps.stitching import (
    MeanMetric,
    WeightedF1,
    evaluate_stitching,
    represent,
    squared_error,
    stitch,
    stitch_representations,
    summarise_stitching,
)


def METRIC():  # a metric factory
    return MeanMetric(squared_error)


def test_every_pair_is_scored_once_per_batch():
    calls = {"a": 0, "b": 0}

    def counting(name, sign):
        def encode(x):
            calls[name] += 1
            return sign * x

        return encode

    encoders = {"a": counting("a", 1.0), "b": counting("b", -1.0)}
    decoders = {"a": lambda z: z, "b": lambda z: -z}
    batches = [(torch.ones(3, 2), torch.ones(3, 2)), (torch.ones(1, 2), torch.ones(1, 2))]
    result = evaluate_stitching(encoders, decoders, batches, METRIC, progress=False)
    assert calls == {"a": 2, "b": 2}
    np.testing.assert_allclose(result.scores, [[0.0, 4.0], [4.0, 0.0]])
    assert result.non_stitched().tolist() == [0.0, 0.0]
    assert result.stitched().tolist() == [4.0, 4.0]
    assert result.summary()["stitched_mean"] == 4.0


def test_incompatible_pairs_are_nan_and_excluded():
    encoders = {"a": lambda x: x, "b": lambda x: x[:, :1]}
    decoders = {"a": lambda z: z, "b": lambda z: z.repeat(1, 2)}
    batches = [(torch.ones(2, 2), torch.ones(2, 2))]
    dims = {"a": 2, "b": 1}
    result = evaluate_stitching(
        encoders,
        decoders,
        batches,
        METRIC,
        compatible=lambda e, d: dims[e] == dims[d],
        progress=False,
    )
    assert np.isnan(result.scores[0, 1]) and np.isnan(result.scores[1, 0])
    assert result.stitched().size == 0
    assert np.isnan(result.summary()["stitched_mean"])
    assert result.to_dict()["scores"][0][1] is None


def test_relative_heads_stitch_across_rotated_encoders():
    """A head trained on one encoder's relative space works on another's; absolute does not."""
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(400, 8)))
    q = torch.from_numpy(np.linalg.qr(rng.normal(size=(8, 8)))[0])
    y = (x[:, 0] > 0).long()
    latent = {"a": lambda v: v, "b": lambda v: 2.0 * v @ q}
    anchor_inputs = x[:30]
    relative = {
        k: (lambda v, f=f: relreps.relative_projection(f(v), f(anchor_inputs)))
        for k, f in latent.items()
    }
    heads = {}
    for name, encode in [("abs", latent["a"]), ("rel", relative["a"])]:
        features = encode(x)
        w = torch.linalg.lstsq(features, (2.0 * y - 1.0).double().unsqueeze(1)).solution
        heads[name] = lambda z, w=w: (z @ w).squeeze(1)

    def accuracy():
        return MeanMetric(lambda pred, target: ((pred > 0).long() == target).double())

    absolute = evaluate_stitching(
        latent, {"a": heads["abs"], "b": heads["abs"]}, [(x, y)], accuracy, progress=False
    )
    rel = evaluate_stitching(
        relative, {"a": heads["rel"], "b": heads["rel"]}, [(x, y)], accuracy, progress=False
    )
    # The same scores from representations computed beforehand.
    grid = stitch_representations(
        {name: encode(x) for name, encode in relative.items()},
        {"a": heads["rel"], "b": heads["rel"]},
        y,
        accuracy,
    )
    np.testing.assert_allclose(grid.scores, rel.scores)
    assert rel.scores[1, 0] == pytest.approx(rel.scores[0, 0]) and rel.scores[0, 0] > 0.9
    assert absolute.scores[1, 0] < 0.8


def test_stitch_composes_and_errors_are_clear():
    assert stitch(lambda x: x + 1, lambda z: z * 2)(3) == 8
    with pytest.raises(ValueError, match="at least one encoder"):
        evaluate_stitching({}, {"a": lambda z: z}, [], METRIC, progress=False)
    with pytest.raises(ValueError, match="saw no samples"):
        evaluate_stitching({"a": lambda x: x}, {"a": lambda z: z}, [], METRIC, progress=False)


def test_a_metric_instance_is_refused():
    with pytest.raises(TypeError, match="factory"):
        evaluate_stitching(
            {"a": lambda x: x}, {"a": lambda z: z}, [], MeanMetric(squared_error), progress=False
        )
    with pytest.raises(TypeError, match="factory"):
        stitch_representations({"a": np.ones((2, 2))}, {"a": lambda z: z}, [0, 1], WeightedF1())


def test_represent_gives_the_three_modes():
    rng = np.random.default_rng(0)
    x, anchors = rng.normal(size=(6, 3)) + 5.0, rng.normal(size=(4, 3)) + 5.0
    assert represent(x, None, "absolute") is x
    np.testing.assert_allclose(
        represent(x, anchors, "relative"), relreps.relative_projection(x, anchors)
    )
    centred = x - anchors.mean(0), anchors - anchors.mean(0)
    np.testing.assert_allclose(
        represent(x, anchors, "relative-centred"), relreps.relative_projection(*centred)
    )
    assert isinstance(
        represent(torch.from_numpy(x), torch.from_numpy(anchors), "relative"), torch.Tensor
    )
    with pytest.raises(ValueError, match="mode must be one of"):
        represent(x, anchors, "relative-centered")
    with pytest.raises(ValueError, match="needs the anchors"):
        represent(x, None, "relative")


def test_grid_scores_only_pairs_of_the_trained_width_and_summaries_pool_seeds():
    # Two "encoders" of widths 2 and 3; decoders sum their input. Known values by hand.
    representations = {"a": np.ones((2, 2), np.float32), "b": np.ones((2, 3), np.float32)}
    decoders = {"a": lambda z: z.sum(1, keepdim=True), "b": lambda z: z.sum(1, keepdim=True)}
    targets = torch.zeros(2, 1)
    result = stitch_representations(
        representations, decoders, targets, METRIC, widths={"a": 2, "b": 3}
    )
    assert result.scores[0, 0] == 4.0 and result.scores[1, 1] == 9.0
    assert np.isnan(result.scores[0, 1]) and np.isnan(result.scores[1, 0])
    other_seed = stitch_representations(
        {"a": 3 * np.ones((2, 2), np.float32), "b": np.ones((2, 3), np.float32)},
        decoders,
        targets,
        METRIC,
        widths={"a": 2, "b": 3},
    )
    summary = summarise_stitching([result, other_seed])
    # non-stitched over seeds: 4, 9, 36, 9 -> mean 14.5, std sqrt(((9.5^2)+(5.5^2)*2+21.5^2)/4)
    assert summary["non_stitched"]["mean"] == 14.5
    assert summary["non_stitched"]["std"] == pytest.approx(np.std([4.0, 9.0, 36.0, 9.0]))
    assert summary["stitched"] is None
    assert summary["matrix"] == [[20.0, None], [None, 9.0]]
    with pytest.raises(ValueError, match="rows but there are"):
        stitch_representations(representations, decoders, torch.zeros(3), METRIC)


def test_a_diverged_pair_is_counted_not_taken_for_incompatible():
    encoders = {"a": lambda x: x, "b": lambda x: x}
    decoders = {"a": lambda z: z, "b": lambda z: z * float("nan")}  # b's decoder diverged
    with pytest.warns(UserWarning, match=r"2 stitched pair\(s\) gave no finite score"):
        result = evaluate_stitching(
            encoders, decoders, [(torch.ones(2, 2), torch.ones(2, 2))], METRIC, progress=False
        )
    assert result.diverged() == [("a", "b"), ("b", "b")]
    assert result.summary()["n_diverged"] == 2
    assert result.to_dict()["n_diverged"] == 2 and result.non_stitched().tolist() == [0.0]
    assert summarise_stitching([result, result])["n_diverged"] == 4


def test_a_prediction_of_another_shape_is_an_error():
    with pytest.raises(ValueError, match=r"prediction has shape \(2, 3\) but the target \(2, 1\)"):
        squared_error(torch.ones(2, 3), torch.ones(2, 1))


def test_translate_brings_each_encoder_into_the_decoder_space_before_decoding():
    from relreps.translation import Translator

    # b is a rotation of a: a decoder of a's space reads b only after translation.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    spaces = {"a": x, "b": x @ rotation}
    weights = torch.from_numpy(rng.normal(size=(4, 1)))
    decoders = {"a": lambda z: z @ weights, "b": lambda z: z @ rotation.T.copy() @ weights}
    targets = torch.from_numpy(x) @ weights
    calls = []

    def translate(source, target, value):
        calls.append((source, target))
        fitted = Translator("ortho", scaling="none").fit(spaces[source][:50], spaces[target][:50])
        return fitted.transform(value)

    plain = stitch_representations(spaces, decoders, targets, METRIC)
    translated = stitch_representations(spaces, decoders, targets, METRIC, translate=translate)
    assert sorted(calls) == [("a", "b"), ("b", "a")]  # never on the diagonal
    np.testing.assert_array_equal(np.diag(plain.scores), np.diag(translated.scores))
    assert plain.scores[0, 1] > 0.1 and plain.scores[1, 0] > 0.1  # unaligned: far off
    assert translated.scores[0, 1] < 1e-12 and translated.scores[1, 0] < 1e-12


def test_a_translation_that_drops_rows_is_an_error():
    spaces = {"a": np.ones((4, 2)), "b": np.ones((4, 2))}
    decoders = {"a": lambda z: z[:, :1], "b": lambda z: z[:, :1]}
    with pytest.raises(ValueError, match=r"translate\('a', 'b', \.\.\.\) returned 3 rows for 4"):
        stitch_representations(
            spaces, decoders, torch.ones(4, 1), METRIC, translate=lambda s, t, v: v[:3]
        )
