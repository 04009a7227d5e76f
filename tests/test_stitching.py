from __future__ import annotations

import numpy as np
import pytest
import torch

import relreps
from relreps.stitching import MeanMetric, evaluate_stitching, squared_error, stitch


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
    result = evaluate_stitching(
        encoders, decoders, batches, MeanMetric(squared_error), progress=False
    )
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
        MeanMetric(squared_error),
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
        latent, {"a": heads["abs"], "b": heads["abs"]}, [(x, y)], accuracy(), progress=False
    )
    rel = evaluate_stitching(
        relative, {"a": heads["rel"], "b": heads["rel"]}, [(x, y)], accuracy(), progress=False
    )
    assert rel.scores[1, 0] == pytest.approx(rel.scores[0, 0]) and rel.scores[0, 0] > 0.9
    assert absolute.scores[1, 0] < 0.8


def test_stitch_composes_and_errors_are_clear():
    assert stitch(lambda x: x + 1, lambda z: z * 2)(3) == 8
    with pytest.raises(ValueError, match="at least one encoder"):
        evaluate_stitching({}, {"a": lambda z: z}, [], MeanMetric(squared_error), progress=False)
    with pytest.raises(ValueError, match="saw no samples"):
        evaluate_stitching(
            {"a": lambda x: x}, {"a": lambda z: z}, [], MeanMetric(squared_error), progress=False
        )
