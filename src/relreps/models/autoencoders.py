"""Convolutional autoencoders and VAEs with an absolute or a relative bottleneck (paper sec. 5.1).

A model is split at the point where two models can be joined:

``embed(images)``
    the encoder side, up to the representation another model's decoder receives: the absolute
    latent (AE), the posterior mean (VAE), or the relative vector, i.e. cosine similarities of the
    latent to the latents of the model's own anchor images (relative AE and VAE);
``decode(representation)``
    the decoder side, from that representation to images. For relative models it starts with the
    LayerNorm over the anchors (and, for the VAE, the mu/logvar heads computed from the relative
    vector), so that only the relative vector crosses between models.

Stitching model A's encoder with model B's decoder is ``B.decode(A.embed(x))``: see
:mod:`relreps.stitching`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from relreps._checks import check_int
from relreps.nn import RelativeProjection

__all__ = [
    "ARCHITECTURE_VERSION",
    "AutoencoderConfig",
    "AutoencoderOutput",
    "ConvDecoder",
    "ConvEncoder",
    "ImageAutoencoder",
    "load_autoencoder",
    "save_autoencoder",
    "train_autoencoder",
]


Kind = Literal["ae", "vae"]
# Bump when the layers change, so that caches keyed on it never load weights of another layout.
ARCHITECTURE_VERSION = 2


@dataclass(frozen=True)
class AutoencoderConfig:
    """Everything that defines an autoencoder's architecture (saved beside its weights).

    ``latent_dim`` is the encoder's output size (the paper's absolute latent, 256); a relative
    model's transmitted representation has ``n_anchors`` values instead. ``vae_latent_dim`` is the
    size of a VAE's stochastic latent z (its posterior mean is what an absolute VAE transmits).
    ``channels`` are the two convolution widths; ``beta`` weighs the VAE's KL term.
    ``latent_norm`` normalises a relative model's latents before the projection (``"layernorm"``
    over each latent's features, ``"batchnorm"`` over the batch, anchors read with the running
    statistics); ``None``, the paper's choice, leaves them as they are.
    """

    kind: Kind = "ae"
    relative: bool = False
    latent_dim: int = 256
    n_anchors: int = 500
    image_size: tuple[int, int] = (28, 28)
    in_channels: int = 1
    channels: tuple[int, int] = (32, 64)
    similarity: str = "cosine"
    center: str | None = None
    vae_latent_dim: int = 256
    beta: float = 1.0
    latent_norm: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("ae", "vae"):
            raise ValueError(f"kind must be 'ae' or 'vae', got {self.kind!r}.")
        if self.latent_norm not in (None, "layernorm", "batchnorm"):
            raise ValueError(
                f"latent_norm must be None, 'layernorm' or 'batchnorm'; got {self.latent_norm!r}."
            )
        height, width = self.image_size
        if height % 4 or width % 4:
            raise ValueError(
                "image_size must be divisible by 4 (two stride-2 convolutions), "
                f"got {self.image_size}."
            )

    @property
    def name(self) -> str:
        return ("relative " if self.relative else "") + self.kind.upper()

    def to_dict(self) -> dict:
        # Fields added after the first saved models are written only when set, so the keys and
        # files of those models stay valid.
        data = asdict(self)
        if data["latent_norm"] is None:
            del data["latent_norm"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> AutoencoderConfig:
        data = dict(data)
        data["image_size"] = tuple(data["image_size"])
        data["channels"] = tuple(data["channels"])
        return cls(**data)


# 3x3 kernels in channels-last layout: about 30% faster than 4x4 in the default layout on CPU
# (measured with the training step of this module), for the same receptive field at 7x7.
_LAYOUT = torch.channels_last


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions and a linear layer: ``(B, C, H, W) -> (B, latent_dim)``."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        c1, c2 = config.channels
        height, width = config.image_size
        self.convolutions = nn.Sequential(
            nn.Conv2d(config.in_channels, c1, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.linear = nn.Linear(c2 * (height // 4) * (width // 4), config.latent_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.convolutions(images.contiguous(memory_format=_LAYOUT))
        return self.linear(features.flatten(1))


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: ``(B, in_features) -> (B, C, H, W)`` in ``[0, 1]``."""

    def __init__(self, config: AutoencoderConfig, in_features: int) -> None:
        super().__init__()
        c1, c2 = config.channels
        height, width = config.image_size
        self.shape = (c2, height // 4, width // 4)
        self.linear = nn.Sequential(
            nn.Linear(in_features, c2 * (height // 4) * (width // 4)), nn.ReLU()
        )
        self.deconvolutions = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(c1, config.in_channels, 3, stride=2, padding=1, output_padding=1),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        features = self.linear(z).reshape(-1, *self.shape).contiguous(memory_format=_LAYOUT)
        return self.deconvolutions(features).contiguous()


@dataclass(frozen=True)
class AutoencoderOutput:
    reconstruction: torch.Tensor
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None


class ImageAutoencoder(nn.Module):
    """AE or VAE, absolute or relative, on images in ``[0, 1]`` of shape ``(B, C, H, W)``.

    A relative model owns its anchor images (a buffer, saved with the weights): at every training
    step they are re-encoded by the current encoder without gradient, as in the paper; in eval
    mode their latents are computed once and cached. ``anchor_refresh = N`` re-encodes them only
    every N training steps (reusing the last latents in between), which saves most of the anchor
    branch's cost when the anchors are many (a training-time setting, not saved with the model).

    Examples
    --------
    >>> import torch
    >>> config = AutoencoderConfig(kind="vae", relative=True, n_anchors=10, latent_dim=16)
    >>> model = ImageAutoencoder(config, anchor_images=torch.rand(10, 1, 28, 28)).eval()
    >>> representation = model.embed(torch.rand(4, 1, 28, 28))
    >>> representation.shape, model.decode(representation).shape
    (torch.Size([4, 10]), torch.Size([4, 1, 28, 28]))
    """

    anchor_images: torch.Tensor | None

    def __init__(
        self, config: AutoencoderConfig, anchor_images: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.encoder = ConvEncoder(config)
        if config.relative:
            expected = (config.n_anchors, config.in_channels, *config.image_size)
            if anchor_images is None or tuple(anchor_images.shape) != expected:
                got = None if anchor_images is None else tuple(anchor_images.shape)
                raise ValueError(
                    f"A relative model needs anchor_images of shape {expected}, got {got}."
                )
            self.register_buffer("anchor_images", anchor_images.detach().clone().float())
            self.latent_norm: nn.Module = {
                None: nn.Identity(),
                "layernorm": nn.LayerNorm(config.latent_dim),
                "batchnorm": nn.BatchNorm1d(config.latent_dim),
            }[config.latent_norm]
            self.projection = RelativeProjection(
                config.n_anchors, config.similarity, config.center, output_norm=None
            )
            # Decoder side: LayerNorm over the anchors, as in the paper.
            self.representation_norm: nn.Module = nn.LayerNorm(config.n_anchors)
            transmitted = config.n_anchors
        else:
            self.register_buffer("anchor_images", None)
            self.representation_norm = nn.Identity()
            transmitted = config.latent_dim
        if config.kind == "vae":
            # Absolute VAE: heads on the encoder side (the posterior mean is transmitted).
            # Relative VAE: heads on the decoder side, from the relative vector.
            heads_input = transmitted if config.relative else config.latent_dim
            self.mu_head = nn.Linear(heads_input, config.vae_latent_dim)
            self.logvar_head = nn.Linear(heads_input, config.vae_latent_dim)
            decoder_input = config.vae_latent_dim
        else:
            decoder_input = transmitted
        self.decoder = ConvDecoder(config, decoder_input)
        self._cached_anchor_latents: torch.Tensor | None = None
        self.anchor_refresh = 1
        self._training_steps = 0

    # -- the two halves ---------------------------------------------------------------------------

    def anchor_latents(self) -> torch.Tensor:
        """Latents of the anchor images under the current encoder (no gradient)."""
        if self.anchor_images is None:
            raise ValueError("An absolute model has no anchors.")
        refresh = self.anchor_refresh
        check_int(refresh, "anchor_refresh", minimum=1)
        if self.training:
            stale = self._training_steps % refresh == 0
            self._training_steps += 1
        else:
            stale = False
        if self._cached_anchor_latents is None or stale:
            with torch.no_grad():
                latents = self.encoder(self.anchor_images)
                if isinstance(self.latent_norm, nn.BatchNorm1d):  # running statistics: the
                    latents = F.batch_norm(  # anchors must not move them
                        latents,
                        self.latent_norm.running_mean,
                        self.latent_norm.running_var,
                        self.latent_norm.weight,
                        self.latent_norm.bias,
                        False,
                        0.0,
                        self.latent_norm.eps,
                    )
                else:
                    latents = self.latent_norm(latents)
                self._cached_anchor_latents = latents
        return self._cached_anchor_latents

    def train(self, mode: bool = True) -> ImageAutoencoder:
        self._cached_anchor_latents = None  # weights may change: recompute the anchors' latents
        self._training_steps = 0
        return super().train(mode)

    def _encode_distribution(
        self, images: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Transmitted representation and, for an absolute VAE, its log-variance."""
        latent = self.encoder(images)
        if self.config.relative:
            return self.projection(self.latent_norm(latent), self.anchor_latents()), None
        if self.config.kind == "vae":
            return self.mu_head(latent), self.logvar_head(latent)
        return latent, None

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Encoder side: the representation sent to a decoder (see the module docstring)."""
        return self._encode_distribution(images)[0]

    def decode(self, representation: torch.Tensor) -> torch.Tensor:
        """Decoder side, deterministic (a VAE decodes its posterior mean)."""
        return self._decode(representation, sample=False).reconstruction

    def _decode(self, representation: torch.Tensor, sample: bool, logvar=None) -> AutoencoderOutput:
        h = self.representation_norm(representation)
        if self.config.kind == "ae":
            return AutoencoderOutput(self.decoder(h))
        if self.config.relative:
            mu, logvar = self.mu_head(h), self.logvar_head(h)
        else:
            mu = h
        z = mu
        if sample:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return AutoencoderOutput(self.decoder(z), mu, logvar)

    def forward(self, images: torch.Tensor) -> AutoencoderOutput:
        representation, logvar = self._encode_distribution(images)
        sample = self.training and self.config.kind == "vae"
        return self._decode(representation, sample=sample, logvar=logvar)

    def loss(self, images: torch.Tensor) -> torch.Tensor:
        """Training loss: per-image MSE (AE); per-image summed squared error + beta * KL (VAE)."""
        output = self(images)
        if self.config.kind == "ae":
            return F.mse_loss(output.reconstruction, images)
        squared_error = (output.reconstruction - images).pow(2).flatten(1).sum(1)
        kl = -0.5 * (1 + output.logvar - output.mu.pow(2) - output.logvar.exp()).sum(1)
        return (squared_error + self.config.beta * kl).mean()


def save_autoencoder(model: ImageAutoencoder, path, metadata: dict | None = None) -> None:
    """Save weights (safetensors) and config plus ``metadata`` (JSON beside it), atomically."""
    from relreps.io import save_tensors

    state = {k: v for k, v in model.state_dict().items() if v is not None}
    save_tensors(path, state, {"config": model.config.to_dict(), **(metadata or {})})


def load_autoencoder(path) -> tuple[ImageAutoencoder, dict]:
    """Inverse of :func:`save_autoencoder`; raises ``ValueError`` if the files do not match."""
    from relreps.io import load_tensors

    state, metadata = load_tensors(path)
    try:
        config = AutoencoderConfig.from_dict(metadata["config"])
        model = ImageAutoencoder(config, anchor_images=state.get("anchor_images"))
        model.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        raise ValueError(f"{path} does not hold a relreps autoencoder ({error}).") from None
    return model.eval(), metadata


def train_autoencoder(
    config: AutoencoderConfig,
    images: torch.Tensor,
    *,
    anchor_images: torch.Tensor | None = None,
    seed: int = 0,
    epochs: int = 5,
    batch_size: int = 256,
    lr: float = 2e-3,
    progress: bool = True,
) -> tuple[ImageAutoencoder, list[float]]:
    """Build an :class:`ImageAutoencoder` from ``config`` and train it on ``images`` (``(n, 1, h,
    w)`` in [0, 1]) with Adam; a relative model needs its ``anchor_images``. Initialisation,
    sampling and batch order all derive from ``seed`` (the caller's random state is untouched).
    Returns the model (in eval mode) and the mean loss of each epoch."""
    from relreps.models.training import seeded, train_model

    with seeded(seed):
        model = ImageAutoencoder(config, anchor_images=anchor_images if config.relative else None)
        history = train_model(
            model,
            lambda m, batch: m.loss(batch[0]),
            (images,),
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            progress=progress,
            description=f"{config.name} seed {seed}",
        )
    return model, history
