from __future__ import annotations

import pytest
import torch

from relreps.models.autoencoders import (
    AutoencoderConfig,
    ImageAutoencoder,
    load_autoencoder,
    save_autoencoder,
)
from relreps.models.training import train_model

VARIANTS = [("ae", False), ("ae", True), ("vae", False), ("vae", True)]


def make(kind, relative, n_anchors=8, seed=0):
    torch.manual_seed(seed)
    config = AutoencoderConfig(
        kind=kind, relative=relative, latent_dim=16, vae_latent_dim=16, n_anchors=n_anchors
    )
    anchors = torch.rand(n_anchors, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    return ImageAutoencoder(config, anchor_images=anchors if relative else None)


@pytest.mark.parametrize(("kind", "relative"), VARIANTS)
def test_shapes_and_the_transmitted_representation(kind, relative):
    model = make(kind, relative).eval()
    images = torch.rand(5, 1, 28, 28)
    representation = model.embed(images)
    assert representation.shape == (5, 8 if relative else 16)
    if relative:  # cosine similarities to the anchors
        assert representation.abs().max() <= 1.0 + 1e-6
    out = model.decode(representation)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(model(images).reconstruction, out)


@pytest.mark.parametrize(("kind", "relative"), VARIANTS)
def test_save_load_round_trip(tmp_path, kind, relative):
    model = make(kind, relative).eval()
    path = tmp_path / "m.safetensors"
    save_autoencoder(model, path, {"note": "x"})
    loaded, metadata = load_autoencoder(path)
    assert metadata["note"] == "x" and loaded.config == model.config
    images = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(
        loaded.decode(loaded.embed(images)), model.decode(model.embed(images))
    )


def test_anchor_branch_gets_no_gradient_and_is_reencoded_each_step():
    model = make("ae", True).train()
    first = model.anchor_latents()
    assert not first.requires_grad
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model.loss(torch.rand(4, 1, 28, 28)).backward()
    optimizer.step()
    assert not torch.allclose(model.anchor_latents(), first)  # re-encoded by the updated encoder
    model.eval()
    assert model.anchor_latents() is model.anchor_latents()  # cached in eval mode


def test_anchor_refresh_every_n_steps():
    model = make("ae", True).train()
    model.anchor_refresh = 3
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    seen = []
    for _ in range(7):  # one anchor_latents call per step, as in a training forward pass
        seen.append(model.anchor_latents())
        model.decode(
            model.projection(model.encoder(torch.rand(4, 1, 28, 28)), seen[-1])
        ).sum().backward()
        optimizer.step()
    # Re-encoded at steps 0, 3 and 6, reused in between.
    assert seen[0] is seen[1] is seen[2] and seen[3] is seen[4] is seen[5]
    assert not torch.equal(seen[2], seen[3]) and not torch.equal(seen[5], seen[6])
    model.anchor_refresh = 0
    with pytest.raises(ValueError, match="anchor_refresh must be an integer of at least 1"):
        model.anchor_latents()


def test_relative_representation_is_invariant_to_encoder_rotation():
    """Rotating and rescaling the encoder's output leaves a relative model's embedding unchanged."""
    model = make("ae", True).eval()
    images = torch.rand(6, 1, 28, 28)
    before = model.embed(images)
    q, _ = torch.linalg.qr(torch.randn(16, 16))
    with torch.no_grad():
        model.encoder.linear.weight.copy_(3.0 * q.T @ model.encoder.linear.weight)
        model.encoder.linear.bias.copy_(3.0 * q.T @ model.encoder.linear.bias)
    model.train().eval()  # drop the cached anchor latents
    torch.testing.assert_close(model.embed(images), before, atol=1e-5, rtol=1e-4)


def test_training_reduces_the_loss_deterministically():
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    histories = []
    for _ in range(2):
        model = make("vae", True)
        histories.append(
            train_model(
                model, lambda m, b: m.loss(b[0]), (images,), epochs=3, batch_size=16, progress=False
            )
        )
    assert histories[0] == histories[1]
    assert histories[0][-1] < histories[0][0]


def test_errors():
    with pytest.raises(ValueError, match="anchor_images of shape"):
        ImageAutoencoder(AutoencoderConfig(relative=True, n_anchors=4))
    with pytest.raises(ValueError, match="kind must be"):
        AutoencoderConfig(kind="gan")
    with pytest.raises(ValueError, match="divisible by 4"):
        AutoencoderConfig(image_size=(30, 30))
    with pytest.raises(ValueError, match="same number of rows"):
        train_model(
            make("ae", False),
            lambda m, b: m.loss(b[0]),
            (torch.rand(4, 1, 28, 28), torch.rand(3)),
            epochs=1,
        )
