"""The small CNN classifier: shapes, the relative bottleneck's invariance, save and load."""

from __future__ import annotations

import pytest
import torch

from relreps.models.cnn import (
    CNNConfig,
    ImageClassifier,
    load_image_classifier,
    save_image_classifier,
    train_image_classifier,
)


def test_relative_logits_ignore_a_rescaled_latent():
    # Scaling the encoder's last layer scales every latent, anchors included: cosine to the
    # anchors, hence the logits, stay the same; an absolute head sees the change.
    generator = torch.Generator().manual_seed(0)
    anchors, images = torch.rand(6, 1, 28, 28, generator=generator), torch.rand(4, 1, 28, 28)
    for relative, invariant in ((True, True), (False, False)):
        config = CNNConfig(width=4, features=8, relative=relative, n_anchors=6)
        model = ImageClassifier(config, anchors if relative else None).eval()
        before = model(images)
        with torch.no_grad():
            model.encoder[-1].weight.mul_(3.0)
            model.encoder[-1].bias.mul_(3.0)
        model.train().eval()  # drop the cached anchor latents
        assert torch.allclose(model(images), before, atol=1e-5) == invariant


def test_training_is_seeded_and_saved_models_load(tmp_path):
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(64) % 3
    config = CNNConfig(width=4, features=8, n_classes=3, relative=True, n_anchors=5)
    first, history = train_image_classifier(
        config, images, labels, anchor_images=images[:5], seed=3, epochs=2, progress=False
    )
    second, _ = train_image_classifier(
        config, images, labels, anchor_images=images[:5], seed=3, epochs=2, progress=False
    )
    assert len(history) == 2 and torch.equal(first(images), second(images))
    save_image_classifier(first, tmp_path / "m.safetensors", {"note": 1})
    loaded, metadata = load_image_classifier(tmp_path / "m.safetensors")
    assert metadata["note"] == 1 and torch.equal(loaded(images), first(images))
    (tmp_path / "m.safetensors").write_bytes(b"broken")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_image_classifier(tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="needs anchor_images"):
        ImageClassifier(config)
