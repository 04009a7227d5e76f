"""Image stitching on a small real slice: EfficientNet-Lite0/1 and a from-scratch CNN."""

from __future__ import annotations

import importlib.util
import json

import pytest

from relreps.cli import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("efficientnet_lite_pytorch") is None,
        reason="needs the 'vision' extra",
    ),
]

ARGS = [
    "reproduce",
    "image-stitching",
    "--quick",
    "--resolution",
    "32",
    "--train-size",
    "600",
    "--test-size",
    "200",
    "--n-anchors",
    "64",
    "--more-anchors",
    "128",
    "--cnn-epochs",
    "2",
    "--no-progress",
]


def test_relative_stitching_far_above_absolute(tmp_path):
    assert main([*ARGS, "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    summary = metrics["summary"]
    absolute = summary["in-domain, absolute"]["pretrained-pretrained"]["mean"]
    relative = summary["in-domain, relative"]["pretrained-pretrained"]["mean"]
    # two 1280-d ImageNet encoders: absolute stitching near chance (10 classes), relative far above
    assert absolute < 20 and relative > 2 * absolute
    # every anchor set is recorded: two sizes in domain and the digits out of domain
    anchors = metrics["anchors"]
    assert sorted(anchors) == [
        "in-domain, more, seed 0",
        "in-domain, seed 0",
        "out-of-domain, seed 0",
    ]
    assert len(anchors["in-domain, more, seed 0"]["indices"]) == 128
    assert "digit" in anchors["out-of-domain, seed 0"]["source"]
    assert [m["trained_now"] for m in metrics["facts"]["models"]] == [True]
    assert (tmp_path / "stitching_matrix.png").exists()
