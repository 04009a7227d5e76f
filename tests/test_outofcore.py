"""Out of core and distributed: row sources, the block writer, project_to_file, Dask inputs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import relreps
from relreps import blockwise
from relreps.blockwise import project_to_file, translate_to_file
from relreps.cli import main
from relreps.io import save_translator
from relreps.measures import cross_jaccard_at_k, jaccard_at_k, linear_cka, mean_cosine
from relreps.storage import NpyRowWriter, open_rows, parse_memory
from relreps.translation import Translator

HAS_DASK = importlib.util.find_spec("dask") is not None
HAS_DISTRIBUTED = importlib.util.find_spec("distributed") is not None
HAS_ZARR = importlib.util.find_spec("zarr") is not None
needs_dask = pytest.mark.skipif(not HAS_DASK, reason="needs the 'dask' extra")


@pytest.fixture()
def data(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 24)).astype(np.float32) + 0.5
    anchors = x[rng.choice(1000, 16, replace=False)]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "anchors.npy", anchors)
    return x, anchors


def test_parse_memory():
    assert parse_memory("2GB") == 2 * 2**30
    assert parse_memory("1.5 GiB") == int(1.5 * 2**30)
    assert parse_memory("512m") == 512 * 2**20
    for bad in ("lots", "-1GB", "0"):
        with pytest.raises(ValueError, match="memory size"):
            parse_memory(bad)


def test_sources_read_the_same_rows(tmp_path, data):
    x, _ = data
    shards = tmp_path / "shards"
    shards.mkdir()
    for number, start in enumerate(range(0, 1000, 300)):
        np.save(shards / f"part-{number:03d}.npy", x[start : start + 300])
    sources = [
        open_rows(tmp_path / "x.npy"),
        open_rows(shards),
        open_rows(np.load(tmp_path / "x.npy", mmap_mode="r")),
        open_rows(x),
    ]
    if HAS_ZARR:
        import zarr

        store = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=x.shape, dtype=x.dtype)
        store[:] = x
        sources.append(open_rows(tmp_path / "x.zarr"))
    if HAS_DASK:
        import dask.array as da

        sources.append(open_rows(da.from_array(x, chunks=(128, 24))))
    for source in sources:
        assert (source.n_rows, source.dim) == x.shape, source.name
        for start, stop in ((0, 1000), (250, 650), (899, 1000), (299, 301)):
            assert np.array_equal(source.read(start, stop), x[start:stop]), source.name
        assert np.array_equal(source.take(np.array([5, 1, 999])), x[[5, 1, 999]])
        buffer = np.empty((400, 24), dtype=np.float32)
        assert np.array_equal(source.read_into(100, 400, buffer), x[100:400])
    with pytest.raises(ValueError, match="cannot hold"):
        sources[0].read_into(0, 500, np.empty((400, 24), dtype=np.float32))


def test_bad_files_get_clear_errors(tmp_path, data):
    x, _ = data
    np.save(tmp_path / "fortran.npy", np.asfortranarray(x))
    with pytest.raises(ValueError, match="Fortran"):
        open_rows(tmp_path / "fortran.npy")
    raw = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated"):
        open_rows(tmp_path / "cut.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(ValueError, match=r"not a readable \.npy"):
        open_rows(tmp_path / "junk.npy")
    np.save(tmp_path / "vector.npy", x[0])
    with pytest.raises(ValueError, match="expected 2-D"):
        open_rows(tmp_path / "vector.npy")
    with pytest.raises(FileNotFoundError):
        open_rows(tmp_path / "missing.npy")
    (tmp_path / "mixed").mkdir()
    np.save(tmp_path / "mixed" / "a.npy", x[:10])
    np.save(tmp_path / "mixed" / "b.npy", x[:10, :5])
    with pytest.raises(ValueError, match="share width"):
        open_rows(tmp_path / "mixed")


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
@pytest.mark.parametrize("center", [None, "anchors"])
def test_project_to_file_equals_in_memory(tmp_path, data, similarity, center):
    x, anchors = data
    run = project_to_file(
        tmp_path / "x.npy",
        tmp_path / "anchors.npy",
        tmp_path / "out.npy",
        similarity=similarity,
        center=center,
        block_rows=128,
        progress=False,
    )
    assert (run.n_blocks, run.blocks_computed, run.resumed) == (8, 8, False)
    expected = relreps.relative_projection(x, anchors, similarity, center=center)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-5, atol=1e-5)
    meta = json.loads((tmp_path / "out.npy.json").read_text())
    assert meta["similarity"] == similarity and meta["block_rows"] == 128
    assert not list(tmp_path.glob("*.partial*"))
    with pytest.raises(FileExistsError, match="already exists"):
        project_to_file(tmp_path / "x.npy", anchors, tmp_path / "out.npy", progress=False)


def test_interrupted_projection_resumes(tmp_path, data, monkeypatch):
    x, anchors = data
    calls = []
    real = blockwise.project_block

    def interrupted(rows, anchor_array, start, stop, settings, **kwargs):
        calls.append(start)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(rows, anchor_array, start, stop, settings, **kwargs)

    monkeypatch.setattr(blockwise, "project_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        project_to_file(x, anchors, tmp_path / "out.npy", block_rows=100, progress=False)
    assert not (tmp_path / "out.npy").exists()  # nothing half-written under the final name
    monkeypatch.setattr(blockwise, "project_block", real)
    run = project_to_file(x, anchors, tmp_path / "out.npy", block_rows=100, progress=False)
    assert run.resumed and run.blocks_computed == 10 - 3
    np.testing.assert_allclose(
        np.load(tmp_path / "out.npy"), relreps.relative_projection(x, anchors), atol=1e-6
    )


def test_a_full_disk_is_one_message_and_a_rerun_resumes(tmp_path, data, monkeypatch, capsys):
    import errno

    x, anchors = data
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "anchors.npy", anchors)
    real = NpyRowWriter.write_block
    written = []

    def full_disk(self, block, out, checksum):
        if len(written) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(block)
        return real(self, block, out, checksum)

    monkeypatch.setattr(NpyRowWriter, "write_block", full_disk)
    args = ["project", str(tmp_path / "x.npy"), "--anchors", str(tmp_path / "anchors.npy"),
            "--out", str(tmp_path / "out.npy"), "--block-rows", "100", "--no-progress"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "run the same command again" in err
    assert "Traceback" not in err and not (tmp_path / "out.npy").exists()
    monkeypatch.setattr(NpyRowWriter, "write_block", real)
    assert main(args) == 0  # space freed: the rerun keeps the 3 finished blocks
    assert "7 of 10 blocks" in capsys.readouterr().out
    np.testing.assert_allclose(
        np.load(tmp_path / "out.npy"), relreps.relative_projection(x, anchors), atol=1e-6
    )
    assert not list(tmp_path.glob("*.partial*"))


def test_resume_notices_an_input_rewritten_with_the_same_size_and_time(tmp_path, data, monkeypatch):
    import os

    x, anchors = data
    path = tmp_path / "x.npy"
    np.save(path, x)
    calls = []
    real = blockwise.project_block

    def interrupted(rows, anchor_array, start, stop, settings, **kwargs):
        calls.append(start)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(rows, anchor_array, start, stop, settings, **kwargs)

    monkeypatch.setattr(blockwise, "project_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        project_to_file(path, anchors, tmp_path / "out.npy", block_rows=100, progress=False)
    monkeypatch.setattr(blockwise, "project_block", real)
    # rewrite rows of the second finished block in place, keeping the size and the times (cp -p)
    stat = path.stat()
    changed = x.copy()
    changed[150:160] *= -1.0
    np.save(path, changed)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.warns(UserWarning, match=r"input rows of 1 finished block\(s\)"):
        run = project_to_file(path, anchors, tmp_path / "out.npy", block_rows=100, progress=False)
    assert run.resumed and run.blocks_computed == 10 - 3 + 1
    np.testing.assert_allclose(
        np.load(tmp_path / "out.npy"), relreps.relative_projection(changed, anchors), atol=1e-6
    )


def test_changed_inputs_start_over(tmp_path):
    writer = NpyRowWriter(tmp_path / "out.npy", (1000, 16), "float32", {"a": 1}, 100)
    writer.write_block(0, np.zeros((100, 16)))
    with pytest.warns(UserWarning, match="starting over"):
        again = NpyRowWriter(tmp_path / "out.npy", (1000, 16), "float32", {"a": 2}, 100)
    assert again.done == set() and not again.resumed


def test_bad_arguments(tmp_path, data):
    x, anchors = data
    with pytest.raises(ValueError, match="columns"):
        project_to_file(x, anchors[:, :5], tmp_path / "o.npy", progress=False)
    with pytest.raises(ValueError, match="Raise --memory"):
        project_to_file(x, anchors, tmp_path / "o.npy", memory="10MB", progress=False)
    with pytest.raises(ValueError, match="Unknown similarity"):
        project_to_file(x, anchors, tmp_path / "o.npy", similarity="cosin", progress=False)
    bad = x.copy()
    bad[700, 3] = np.nan
    with pytest.raises(ValueError, match=r"rows 700 to 800 .*from row 700.*NaN.*\(0, 3\)"):
        project_to_file(bad, anchors, tmp_path / "o.npy", block_rows=100, progress=False)


def test_cli_project(tmp_path, data, capsys):
    x, _ = data
    out = tmp_path / "rel.npy"
    args = ["project", str(tmp_path / "x.npy"), "--n-anchors", "16", "--seed", "3"]
    assert main([*args, "--out", str(out), "--block-rows", "300", "--no-progress"]) == 0
    assert "4 of 4 blocks" in capsys.readouterr().out
    rows = json.loads((tmp_path / "rel.npy.json").read_text())["anchors"]["rows"]
    assert rows == relreps.select_anchors(x, 16, seed=3).indices.tolist()
    np.testing.assert_allclose(np.load(out), relreps.relative_projection(x, x[rows]), atol=1e-6)
    assert main(["project", str(tmp_path / "x.npy"), "--out", str(tmp_path / "b.npy")]) == 2
    assert "--anchors FILE.npy or as --n-anchors" in capsys.readouterr().err
    assert main([*args, "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["ortho", "affine", "relative"])
def test_translate_to_file_equals_in_memory_and_resumes(tmp_path, data, monkeypatch, method):
    x, _ = data
    rng = np.random.default_rng(1)
    y = x @ np.linalg.qr(rng.normal(size=(24, 24)))[0][:, :20] * 2.0 + 1.0  # 24 -> 20 dims
    translator = Translator(method).fit(x[:200], y[:200])
    save_translator(tmp_path / "t.safetensors", translator)
    expected = translator.transform(x)
    calls, real = [], blockwise.project_block

    def interrupted(rows, payload, start, stop, settings, **kwargs):
        calls.append(start)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(rows, payload, start, stop, settings, **kwargs)

    monkeypatch.setattr(blockwise, "project_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        translate_to_file(x, translator, tmp_path / "y.npy", block_rows=150, progress=False)
    assert not (tmp_path / "y.npy").exists()
    monkeypatch.setattr(blockwise, "project_block", real)
    # The saved file is the same translator: the finished blocks are kept.
    run = translate_to_file(
        x, tmp_path / "t.safetensors", tmp_path / "y.npy", block_rows=150, progress=False
    )
    assert run.resumed and run.blocks_computed == 7 - 2 and run.shape == (1000, 20)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-5, atol=1e-5)
    meta = json.loads((tmp_path / "y.npy.json").read_text())
    assert meta["translator"]["method"] == method and len(meta["translator_sha256"]) == 64
    # Another translator does not resume the finished file's blocks.
    other = Translator(method).fit(x[200:400], y[200:400])
    with pytest.raises(FileExistsError):
        translate_to_file(x, other, tmp_path / "y.npy", progress=False)


def test_translate_to_file_refuses_bad_input(tmp_path, data):
    x, _ = data
    with pytest.raises(ValueError, match="fitted relreps Translator"):
        translate_to_file(x, Translator(), tmp_path / "a.npy", progress=False)
    translator = Translator().fit(x[:100, :10], x[:100, :10])
    with pytest.raises(ValueError, match="has 24 columns but the translator maps from 10"):
        translate_to_file(x, translator, tmp_path / "a.npy", progress=False)
    bad = x.copy()
    bad[777, 3] = np.nan
    translator = Translator().fit(x[:100], x[:100])
    with pytest.raises(ValueError, match="In rows 600 to 800"):
        translate_to_file(bad, translator, tmp_path / "a.npy", block_rows=200, progress=False)
    (tmp_path / "junk.safetensors").write_bytes(b"not a translator")
    with pytest.raises(FileNotFoundError, match="No complete entry"):
        translate_to_file(x, tmp_path / "junk.safetensors", tmp_path / "b.npy", progress=False)
    (tmp_path / "junk.safetensors.json").write_text("{}")
    with pytest.raises(ValueError):
        translate_to_file(x, tmp_path / "junk.safetensors", tmp_path / "b.npy", progress=False)


def test_cli_fit_translator_then_project(tmp_path, data, capsys):
    x, _ = data
    rng = np.random.default_rng(2)
    y = (x @ np.linalg.qr(rng.normal(size=(24, 24)))[0]).astype(np.float32)
    np.save(tmp_path / "xa.npy", x[:300])
    np.save(tmp_path / "ya.npy", y[:300])
    t = str(tmp_path / "t.safetensors")
    fit = ["fit-translator", str(tmp_path / "xa.npy"), str(tmp_path / "ya.npy"), "--out", t]
    assert main([*fit, "--scaling", "isotropic"]) == 0
    assert "ortho translator" in capsys.readouterr().out
    out = tmp_path / "y.npy"
    args = ["project", str(tmp_path / "x.npy"), "--translator", t, "--out", str(out)]
    assert main([*args, "--block-rows", "300", "--no-progress"]) == 0
    assert "4 of 4 blocks" in capsys.readouterr().out
    np.testing.assert_allclose(np.load(out), y, atol=1e-4)  # an exact rotation, recovered
    assert main([*args[:4], "--anchors", str(tmp_path / "xa.npy"), "--out", "z.npy"]) == 2
    assert "drop --anchors" in capsys.readouterr().err
    np.save(tmp_path / "short.npy", y[:299])
    assert main(["fit-translator", str(tmp_path / "xa.npy"), str(tmp_path / "short.npy"),
                 "--out", str(tmp_path / "u.safetensors")]) == 2  # fmt: skip
    assert "not paired" in capsys.readouterr().err


@needs_dask
def test_dask_inputs_equal_in_memory(data):
    import dask.array as da

    x, anchors = data
    y = x @ np.random.default_rng(1).normal(size=(24, 24)).astype(np.float32)
    dx, dy = da.from_array(x, chunks=(130, 24)), da.from_array(y, chunks=(200, 12))
    lazy = relreps.relative_projection(dx, anchors, center="anchors")
    assert isinstance(lazy, da.Array) and lazy.chunks[0] == dx.chunks[0]
    np.testing.assert_allclose(
        lazy.compute(), relreps.relative_projection(x, anchors, center="anchors"), atol=1e-6
    )
    for unbiased in (False, True):
        assert linear_cka(dx, dy, unbiased=unbiased) == pytest.approx(
            linear_cka(x, y, unbiased=unbiased), rel=1e-9
        )
    assert mean_cosine(dx, dy) == pytest.approx(mean_cosine(x, y), rel=1e-9)
    assert jaccard_at_k(dx, dy, k=5) == jaccard_at_k(x, y, k=5)
    assert cross_jaccard_at_k(dx, dy, k=5) == cross_jaccard_at_k(x, y, k=5)


def test_blockwise_measures_equal_one_block(data):
    from relreps.measures import _block_sums, _cka_statistics

    x, _ = data
    y = np.tanh(x[:, :10]) + 3.0
    one = _block_sums(lambda a, b: _cka_statistics(a, b, None), x, y, "t", False, 10**9)
    many = _block_sums(lambda a, b: _cka_statistics(a, b, None), x, y, "t", False, 4000)
    for a, b in zip(one[0], many[0], strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-8)
    assert linear_cka(x, y) == pytest.approx(linear_cka(x.astype(np.float64), y), rel=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(not (HAS_DASK and HAS_DISTRIBUTED), reason="needs dask.distributed")
def test_local_cluster_equals_in_memory(tmp_path, data):
    from distributed import Client, LocalCluster

    x, anchors = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own deprecation chatter
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            assert len(client.scheduler_info()["workers"]) == 2
            run = project_to_file(
                tmp_path / "x.npy",
                tmp_path / "anchors.npy",
                tmp_path / "out.npy",
                block_rows=64,
                scheduler=client,
                progress=False,
            )
            who = client.run(lambda: __import__("os").getpid())
    assert run.n_blocks == 16 and len(set(who.values())) == 2
    np.testing.assert_allclose(
        np.load(tmp_path / "out.npy"), relreps.relative_projection(x, anchors), atol=1e-6
    )


@pytest.mark.slow
def test_memmap_larger_than_the_budget_stays_under_it(tmp_path):
    """A 430 MB memmap, a 330 MB budget for the whole process: projection, translation and CKA
    stay under."""
    path = tmp_path / "big.npy"
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(140_000, 768))
    rng = np.random.default_rng(0)
    for start in range(0, len(big), 20_000):
        big[start : start + 20_000] = rng.standard_normal((20_000, 768), dtype=np.float32)
    big.flush()
    del big
    code = textwrap.dedent(
        f"""
        import json, numpy as np, relreps
        from relreps.blockwise import project_to_file
        from relreps.measures import linear_cka, mean_cosine
        from relreps.storage import current_rss, peak_rss
        x = np.load({str(path)!r}, mmap_mode="r")
        budget = 330 * 2**20
        base = current_rss()
        run = project_to_file(x, np.asarray(x[:64]), {str(tmp_path / "rel.npy")!r},
                              memory=budget, progress=False)
        cka = linear_cka(x, x[:, :100], memory=32 * 2**20)
        cos = mean_cosine(x, x, memory=32 * 2**20)
        print(json.dumps({{"base": base, "peak": peak_rss(), "budget": budget,
                          "input": x.nbytes, "blocks": run.n_blocks, "cka": cka, "cos": cos}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["input"] > facts["budget"] > facts["base"]
    assert facts["peak"] < facts["budget"], facts
    assert facts["blocks"] > 1 and facts["cos"] == pytest.approx(1.0)
    rel = np.load(tmp_path / "rel.npy", mmap_mode="r")
    x = np.load(path, mmap_mode="r")
    np.testing.assert_allclose(
        rel[-500:], relreps.relative_projection(np.asarray(x[-500:]), np.asarray(x[:64])), atol=1e-5
    )
    # Translation (float64 inside) streams under the same budget, in a fresh process.
    q = np.linalg.qr(np.random.default_rng(1).normal(size=(768, 768)))[0]
    sample = np.asarray(x[:2000])
    translator = Translator("ortho", scaling="isotropic").fit(sample, sample @ q)
    save_translator(tmp_path / "t.safetensors", translator)
    code = textwrap.dedent(
        f"""
        import json, numpy as np
        from relreps.blockwise import translate_to_file
        from relreps.storage import current_rss, peak_rss
        x = np.load({str(path)!r}, mmap_mode="r")
        budget = 330 * 2**20
        base = current_rss()
        run = translate_to_file(x, {str(tmp_path / "t.safetensors")!r},
                                {str(tmp_path / "y.npy")!r}, memory=budget, progress=False)
        print(json.dumps({{"base": base, "peak": peak_rss(), "budget": budget,
                          "blocks": run.n_blocks}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["peak"] < facts["budget"] and facts["blocks"] > 1, facts
    y = np.load(tmp_path / "y.npy", mmap_mode="r")
    np.testing.assert_allclose(y[-500:], np.asarray(x[-500:]) @ q, atol=1e-4)


def test_products_stream_like_single_similarities(tmp_path, data, capsys):
    x, anchors = data
    parts = ("cosine", "euclidean", "l1")
    run = project_to_file(x, anchors, tmp_path / "p.npy", similarity=parts, block_rows=300,
                          progress=False)  # fmt: skip
    assert run.shape == (1000, 48)
    np.testing.assert_allclose(
        np.load(tmp_path / "p.npy"), relreps.relative_projection(x, anchors, parts), atol=1e-5
    )
    args = ["project", str(tmp_path / "x.npy"), "--anchors", str(tmp_path / "anchors.npy")]
    out = tmp_path / "cli.npy"
    assert main([*args, "--similarity", "cosine,euclidean,l1", "--out", str(out),
                 "--block-rows", "300", "--no-progress"]) == 0  # fmt: skip
    np.testing.assert_allclose(np.load(out), np.load(tmp_path / "p.npy"), atol=1e-6)
    assert json.loads((tmp_path / "cli.npy.json").read_text())["similarity"] == (
        "concat(cosine, euclidean, l1)"
    )
