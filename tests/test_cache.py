"""The embedding cache: hits, keys that change with texts and encoder, damaged entries, resume."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from relreps.cache import EmbeddingCache, texts_hash


class Counting:
    """A deterministic fake encoder that counts the texts it encodes."""

    def __init__(self, id="count@1", dim=3, fail_after=None):
        self.id, self.dim, self.calls, self.encoded = id, dim, 0, 0
        self.fail_after = fail_after

    def encode(self, texts, progress=True, description=None):
        self.calls += 1
        if self.fail_after is not None and self.encoded + len(texts) > self.fail_after:
            raise KeyboardInterrupt("interrupted")
        self.encoded += len(texts)
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


TEXTS = ["alpha", "beta", "gamma delta", "a"]


def test_second_call_is_a_hit_with_equal_vectors(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), Counting()
    first = cache.embed(encoder, TEXTS, dataset="d", progress=False)
    second = cache.embed(encoder, TEXTS, dataset="d", progress=False)
    np.testing.assert_array_equal(first, second)
    assert (cache.hits, cache.misses, encoder.calls) == (1, 1, 1)
    assert first.dtype == np.float32 and first.shape == (4, 3)


@pytest.mark.parametrize(
    "change",
    [
        lambda e, t: (e, [*t[:-1], "b"]),  # one text differs
        lambda e, t: (e, t[::-1]),  # order differs
        lambda e, t: (Counting(id="count@2"), t),  # another encoder version
    ],
)
def test_key_changes_with_texts_order_and_encoder(tmp_path, change):
    cache = EmbeddingCache(tmp_path)
    cache.embed(Counting(), TEXTS, dataset="d", progress=False)
    encoder, texts = change(Counting(), TEXTS)
    cache.embed(encoder, texts, dataset="d", progress=False)
    assert cache.misses == 2


def test_texts_hash_respects_boundaries():
    assert texts_hash(["ab", "c"]) != texts_hash(["a", "bc"])


def test_corrupt_entry_is_recomputed_with_a_warning(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), Counting()
    expected = cache.embed(encoder, TEXTS, dataset="d", progress=False)
    (path,) = tmp_path.rglob("*.safetensors")
    path.write_bytes(b"not a safetensors file")
    with pytest.warns(UserWarning, match="damaged"):
        again = cache.embed(encoder, TEXTS, dataset="d", progress=False)
    np.testing.assert_array_equal(again, expected)
    assert encoder.calls == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # now repaired: a clean hit
        cache.embed(encoder, TEXTS, dataset="d", progress=False)


def test_mismatched_metadata_is_recomputed(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), Counting()
    cache.embed(encoder, TEXTS, dataset="d", progress=False)
    (meta,) = tmp_path.rglob("*.safetensors.json")
    data = json.loads(meta.read_text())
    data["encoder"] = "someone-else"
    meta.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="metadata differs"):
        cache.embed(encoder, TEXTS, dataset="d", progress=False)
    assert encoder.calls == 2


def test_interrupted_encoding_resumes_from_finished_shards(tmp_path):
    texts = [f"text {i} " + "a" * i for i in range(10)]
    cache = EmbeddingCache(tmp_path, shard_size=3)
    failing = Counting(fail_after=7)  # shards of 3: two finish, the third is interrupted
    with pytest.raises(KeyboardInterrupt):
        cache.embed(failing, texts, dataset="d", progress=False)
    assert len(list(tmp_path.rglob("*.part*.safetensors"))) == 2
    resumed = Counting()
    result = cache.embed(resumed, texts, dataset="d", progress=False)
    assert resumed.encoded == 4  # only the last two shards
    np.testing.assert_array_equal(result, Counting().encode(texts))
    assert not list(tmp_path.rglob("*.part*"))  # shards merged and removed


def test_empty_texts_and_bad_shard_size(tmp_path):
    out = EmbeddingCache(tmp_path).embed(Counting(), [], dataset="d", progress=False)
    assert out.shape == (0, 3)
    with pytest.raises(ValueError, match="shard_size"):
        EmbeddingCache(tmp_path, shard_size=0)
