"""Bad input gets a clear error that names the argument, not a deep traceback or a silent
wrong answer: one test per class of mistake found by the hostile-user review (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import relreps
from relreps.cache import EmbeddingCache
from relreps.cli import main
from relreps.similarities import SIMILARITIES, Similarity


class Lengths:
    id, dim = "lengths@1", 1

    def __init__(self):
        self.calls = 0

    def encode(self, texts, progress=True, description=None):
        self.calls += 1
        return np.array([[len(t)] for t in texts], dtype=np.float32)


def test_a_cache_folder_that_cannot_exist_fails_before_encoding(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        EmbeddingCache(tmp_path / "file")
    encoder = Lengths()
    with pytest.raises(ValueError, match="Cannot create the cache folder"):
        EmbeddingCache(tmp_path / "file" / "embeddings").embed(encoder, ["a"], progress=False)
    assert encoder.calls == 0  # nothing encoded, nothing lost


def test_a_similarity_returning_something_else_than_a_tensor_is_named():
    bad = Similarity("test_numpy", lambda x, a: (x @ a.T).numpy(), frozenset())
    with (
        SIMILARITIES.temporary("test_numpy", bad),
        pytest.raises(TypeError, match="returned a ndarray; a similarity takes and returns torch"),
    ):
        relreps.relative_projection(np.ones((2, 3)), np.ones((4, 3)), "test_numpy")


def test_the_torch_layer_names_its_mistakes():
    with pytest.raises(TypeError, match="n_anchors must be an integer"):
        relreps.RelativeProjection(2.5, output_norm="layernorm")
    with pytest.raises(ValueError, match="n_anchors must be an integer of at least 1"):
        relreps.RelativeProjection(-3)
    layer = relreps.RelativeProjection(4, output_norm="layernorm")
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor, got a ndarray"):
        layer(np.ones((2, 3)), torch.ones(4, 3))


def test_experiment_options_are_checked_before_any_work(tmp_path, capsys):
    base = ["reproduce", "ae-stitching", "--train-size", "100", "--no-progress"]
    (tmp_path / "file").write_text("x")
    for extra, message in (
        (["--anchor-seed", "-1"], "--anchor-seed must be an integer of at least 0, got -1"),
        (["--test-size", "0"], "--test-size must be an integer of at least 1, got 0"),
        (["--lr", "0"], "--lr must be greater than 0.0, got 0.0"),
        (["--beta", "-1"], "--beta must be at least 0.0, got -1.0"),
        (["--out", str(tmp_path / "file" / "out")], "Cannot write into the output folder"),
    ):
        assert main([*base, *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra


def test_a_device_this_machine_lacks_is_refused_before_the_data_loads(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["reproduce", "text-stitching", "--device", "cuda"]) == 2
    assert "this machine has no cuda device; use --device cpu" in capsys.readouterr().err
    assert main(["reproduce", "text-stitching", "--device", "quantum"]) == 2
    assert "is not a torch device" in capsys.readouterr().err


def test_a_zarr_store_with_a_missing_chunk_is_refused(tmp_path):
    zarr = pytest.importorskip("zarr")
    from relreps.storage import open_rows

    store = zarr.open_array(
        str(tmp_path / "x.zarr"), mode="w", shape=(100, 4), chunks=(25, 4), dtype="f4"
    )
    store[:] = np.ones((100, 4), "f4")
    assert open_rows(tmp_path / "x.zarr").n_rows == 100
    chunk = next(
        p for p in (tmp_path / "x.zarr").rglob("*") if p.is_file() and p.parent.name == "1"
    )
    chunk.unlink()
    with pytest.raises(ValueError, match="has only 3 of its 4 chunks"):
        open_rows(tmp_path / "x.zarr")
