"""Latent similarity as a performance proxy, on a small grid of graph networks on Cora."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from relreps.cli import main

PLANETOID = Path(__file__).resolve().parents[2] / "shared" / "data" / "planetoid"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("torch_geometric") is None, reason="graphs extra"),
    pytest.mark.skipif(not PLANETOID.is_dir(), reason="needs shared/data/planetoid"),
]


def test_similarity_to_the_best_model_tracks_accuracy(tmp_path):
    args = ["reproduce", "graph-proxy", "--quick", "--graph-dir", str(PLANETOID),
            "--out", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    runs = metrics["runs"]
    assert metrics["grid_size"] == 16 and len(runs) == 17  # the grid and the long-trained model
    reference = metrics["reference"]
    assert reference["best_val_accuracy"] == max(r["best_val_accuracy"] for r in runs)
    accuracies = {r["best_val_accuracy"] for r in runs}
    assert max(accuracies) - min(accuracies) > 0.3  # the grid spans good and failed models
    overall = metrics["correlations"]["all runs"]
    relative = overall["relative, mean cosine"]["pearson"]
    absolute = overall["absolute, mean cosine"]["pearson"]
    # the paper's claim: more similar to the best model's relative space, more accurate
    assert relative["r"] > 0.5 and relative["low"] > 0, relative
    assert relative["r"] > absolute["r"] + 0.3, (relative, absolute)
    assert overall["relative, linear CKA"]["spearman"]["r"] > 0.5
    within = metrics["curves"]["within_runs"]
    assert within["runs"] == 0 or within["median_r"] > 0
    assert metrics["anchors"]["anchor nodes"]["n_samples"] == 2708
    assert (tmp_path / "graph_proxy.png").exists()
