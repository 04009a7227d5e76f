"""The embedding cache: hits, keys on content and encoder, damaged entries, resume."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from relreps.cache import EmbeddingCache, content_hash, texts_hash


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
    first = cache.embed(encoder, TEXTS, progress=False)
    second = cache.embed(encoder, TEXTS, progress=False)
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
    cache.embed(Counting(), TEXTS, progress=False)
    encoder, texts = change(Counting(), TEXTS)
    cache.embed(encoder, texts, progress=False)
    assert cache.misses == 2


def test_texts_hash_respects_boundaries():
    assert texts_hash(["ab", "c"]) != texts_hash(["a", "bc"])


def test_the_key_is_content_and_encoder_not_the_label(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), Counting()
    cache.embed(encoder, TEXTS, label="train split", progress=False)
    cache.embed(encoder, list(TEXTS), label="the same texts again", progress=False)
    assert (cache.hits, cache.misses, encoder.calls) == (1, 1, 1)


class Sums:
    """A fake image encoder: the sum and the mean of each image."""

    id, dim = "sums@1", 2

    def __init__(self):
        self.calls = 0

    def encode(self, images, progress=True, description=None):
        self.calls += 1
        flat = images.reshape(len(images), -1).astype(np.float32)
        return np.stack([flat.sum(1), flat.mean(1)], 1)


def test_arrays_are_keyed_by_dtype_shape_and_values(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), Sums()
    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    first = cache.embed(encoder, images, progress=False)
    np.testing.assert_array_equal(cache.embed(encoder, images.copy(), progress=False), first)
    assert (cache.hits, cache.misses) == (1, 1)
    cache.embed(encoder, images.reshape(2, 4, 3), progress=False)  # same bytes, other shape
    cache.embed(encoder, images.astype(np.float32), progress=False)  # same values, other dtype
    changed = images.copy()
    changed[1, 2, 3] += 1
    cache.embed(encoder, changed, progress=False)
    assert cache.misses == 4
    assert content_hash(images) != content_hash(images.reshape(2, 4, 3))
    with pytest.raises(TypeError, match=r"keys texts .str. or arrays"):
        content_hash(["a", 3])


def test_corrupt_entry_is_recomputed_with_a_warning(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), Counting()
    expected = cache.embed(encoder, TEXTS, progress=False)
    (path,) = tmp_path.rglob("*.safetensors")
    path.write_bytes(b"not a safetensors file")
    with pytest.warns(UserWarning, match="damaged"):
        again = cache.embed(encoder, TEXTS, progress=False)
    np.testing.assert_array_equal(again, expected)
    assert encoder.calls == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # now repaired: a clean hit
        cache.embed(encoder, TEXTS, progress=False)


def test_mismatched_metadata_is_recomputed(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), Counting()
    cache.embed(encoder, TEXTS, progress=False)
    (meta,) = tmp_path.rglob("*.safetensors.json")
    data = json.loads(meta.read_text())
    data["encoder"] = "someone-else"
    meta.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="metadata differs"):
        cache.embed(encoder, TEXTS, progress=False)
    assert encoder.calls == 2


def test_interrupted_encoding_resumes_from_finished_shards(tmp_path):
    texts = [f"text {i} " + "a" * i for i in range(10)]
    cache = EmbeddingCache(tmp_path, shard_size=3)
    failing = Counting(fail_after=7)  # shards of 3: two finish, the third is interrupted
    with pytest.raises(KeyboardInterrupt):
        cache.embed(failing, texts, progress=False)
    assert len(list(tmp_path.rglob("*.part*.safetensors"))) == 2
    resumed = Counting()
    result = cache.embed(resumed, texts, progress=False)
    assert resumed.encoded == 4  # only the last two shards
    np.testing.assert_array_equal(result, Counting().encode(texts))
    assert not list(tmp_path.rglob("*.part*"))  # shards merged and removed


def test_empty_texts_and_bad_shard_size(tmp_path):
    out = EmbeddingCache(tmp_path).embed(Counting(), [], progress=False)
    assert out.shape == (0, 3)
    with pytest.raises(ValueError, match="shard_size"):
        EmbeddingCache(tmp_path, shard_size=0)


def test_a_flipped_byte_in_an_entry_is_recomputed_with_a_warning(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path), Counting()
    expected = cache.embed(encoder, TEXTS, progress=False)
    (path,) = tmp_path.rglob("*.safetensors")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="checksum"):
        again = cache.embed(encoder, TEXTS, progress=False)
    np.testing.assert_array_equal(again, expected)
    assert encoder.calls == 2
