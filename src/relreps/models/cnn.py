"""A small convolutional image classifier with an absolute or a relative bottleneck (paper 4.3).

``embed(images)`` gives the latent (the penultimate layer: what a frozen-encoder experiment
reads); ``forward(images)`` the class logits. A relative classifier projects the latent onto
the latents of its own anchor images (re-encoded by the current encoder at every training step,
without gradient, as in the paper), normalises the similarities with a LayerNorm and classifies
them.

>>> import torch
>>> config = CNNConfig(width=8, features=16, relative=True, n_anchors=5)
>>> model = ImageClassifier(config, anchor_images=torch.rand(5, 1, 28, 28)).eval()
>>> model.embed(torch.rand(3, 1, 28, 28)).shape, model(torch.rand(3, 1, 28, 28)).shape
(torch.Size([3, 16]), torch.Size([3, 10]))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from relreps.nn import RelativeProjection

__all__ = [
    "CNNConfig",
    "ImageClassifier",
    "load_image_classifier",
    "save_image_classifier",
    "train_image_classifier",
]


@dataclass(frozen=True)
class CNNConfig:
    """Everything that defines the architecture (saved beside the weights).

    Two 3x3 convolutions (``width`` and ``2 * width`` channels, each followed by ReLU and 2x2
    max-pooling), a linear layer to the ``features``-d latent (no activation: a relative
    bottleneck reads angles, which a ReLU would fold into one orthant), then the head: Linear(128),
    SiLU, Linear. A relative classifier puts cosine to its ``n_anchors`` anchor latents (centred
    on their mean with ``center="anchors"``) and a LayerNorm before the head.
    """

    width: int = 32
    features: int = 128
    n_classes: int = 10
    image_size: tuple[int, int] = (28, 28)
    in_channels: int = 1
    relative: bool = False
    n_anchors: int = 500
    center: str | None = None

    def __post_init__(self) -> None:
        if self.image_size[0] % 4 or self.image_size[1] % 4:
            raise ValueError(f"image_size must be divisible by 4, got {self.image_size}.")

    @property
    def name(self) -> str:
        return ("relative " if self.relative else "") + f"CNN-{self.width}"

    def to_dict(self) -> dict:
        return asdict(self)


class ImageClassifier(nn.Module):
    """The classifier of :class:`CNNConfig` on images ``(B, C, H, W)`` in [0, 1]."""

    anchor_images: torch.Tensor | None

    def __init__(self, config: CNNConfig, anchor_images: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        w, (height, width) = config.width, config.image_size
        self.encoder = nn.Sequential(
            nn.Conv2d(config.in_channels, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(2 * w * (height // 4) * (width // 4), config.features),
        )  # fmt: skip
        if config.relative:
            expected = (config.n_anchors, config.in_channels, height, width)
            if anchor_images is None or tuple(anchor_images.shape) != expected:
                got = None if anchor_images is None else tuple(anchor_images.shape)
                raise ValueError(
                    f"A relative classifier needs anchor_images {expected}, got {got}."
                )
            self.register_buffer("anchor_images", anchor_images.detach().clone().float())
            self.projection = RelativeProjection(
                config.n_anchors, center=config.center, output_norm="layernorm"
            )
            head_input = config.n_anchors
        else:
            self.register_buffer("anchor_images", None)
            head_input = config.features
        self.head = nn.Sequential(
            nn.Linear(head_input, 128), nn.SiLU(), nn.Linear(128, config.n_classes)
        )
        self._anchor_latents: torch.Tensor | None = None

    def train(self, mode: bool = True) -> ImageClassifier:
        self._anchor_latents = None  # the weights may change: re-encode the anchors
        return super().train(mode)

    def anchor_latents(self) -> torch.Tensor:
        """The anchors' latents under the current encoder, without gradient; recomputed at every
        training step, computed once in eval mode."""
        if self.anchor_images is None:
            raise ValueError("An absolute classifier has no anchors.")
        if self.training or self._anchor_latents is None:
            with torch.no_grad():
                self._anchor_latents = self.encoder(self.anchor_images)
        return self._anchor_latents

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The latent, ``(B, features)``: the absolute representation of the images."""
        return self.encoder(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        latent = self.encoder(images)
        if self.config.relative:
            latent = self.projection(latent, self.anchor_latents())
        return self.head(latent)

    def loss(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(images), labels)


def train_image_classifier(
    config: CNNConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    anchor_images: torch.Tensor | None = None,
    seed: int = 0,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 1e-3,
    progress: bool = True,
) -> tuple[ImageClassifier, list[float]]:
    """Build and train a classifier with Adam and cross-entropy; initialisation and batch order
    derive from ``seed`` (the caller's random state is untouched). Returns the model in eval mode
    and the mean loss of each epoch."""
    from relreps.models.training import seeded, train_model

    with seeded(seed):
        model = ImageClassifier(config, anchor_images if config.relative else None)
        history = train_model(
            model, lambda m, batch: m.loss(*batch), (images, labels.long()), epochs=epochs,
            batch_size=batch_size, lr=lr, seed=seed, progress=progress,
            description=f"{config.name} seed {seed}",
        )  # fmt: skip
    return model, history


def save_image_classifier(model: ImageClassifier, path, metadata: dict | None = None) -> None:
    """Weights (safetensors) and config plus ``metadata`` (JSON beside them), atomically."""
    from relreps.io import save_tensors

    state = {k: v for k, v in model.state_dict().items() if v is not None}
    save_tensors(path, state, {"config": model.config.to_dict(), **(metadata or {})})


def load_image_classifier(path) -> tuple[ImageClassifier, dict]:
    """Inverse of :func:`save_image_classifier`; ``ValueError`` when the files do not match."""
    from relreps.io import load_tensors

    state, metadata = load_tensors(path)
    try:
        config = dict(metadata["config"])
        config["image_size"] = tuple(config["image_size"])
        model = ImageClassifier(CNNConfig(**config), anchor_images=state.get("anchor_images"))
        model.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        raise ValueError(f"{path} does not hold a relreps image classifier ({error}).") from None
    return model.eval(), metadata
