"""Throughput of the image encoders: relreps' batched encoder against a plain per-batch loop.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_vision.py``). Needs the ``vision``
extra. Writes a section of ``docs/benchmarks.md``.

EfficientNet-Lite0 on Fashion-MNIST-sized grey images upsampled to the experiments' resolution
(64 px), in turns: ``relreps`` (``TorchImageEncoder``: batches of 32 under
``torch.inference_mode``, channels-last), the same without channels-last, and the loop a user
writes first (batches of 32 under ``torch.no_grad``, contiguous tensors). Images per second,
median over rounds, and each method's ratio to the plain loop.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import command_line, interleaved, machine, table, write_section

from relreps.encoders.vision import LITE_MEAN, LITE_STD, TorchImageEncoder, prepare_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    from relreps.encoders import get_encoder

    fast = get_encoder("efficientnet-lite0", resolution=args.resolution)
    network = fast.module  # the same weights for every method
    plain_order = TorchImageEncoder(
        network,
        id="x",
        dim=1280,
        resolution=args.resolution,
        mean=LITE_MEAN,
        std=LITE_STD,
        channels_last=False,
    )
    images = np.random.default_rng(0).integers(0, 256, (args.images, 28, 28)).astype(np.uint8)

    def plain_loop() -> np.ndarray:
        contiguous = network.to(memory_format=torch.contiguous_format)
        out = []
        with torch.no_grad():
            for start in range(0, len(images), 32):
                batch = prepare_images(
                    images[start : start + 32], args.resolution, LITE_MEAN, LITE_STD
                )
                out.append(contiguous(batch).mean(dim=(2, 3)).numpy())
        return np.concatenate(out)

    def relreps_encoder() -> np.ndarray:
        network.to(memory_format=torch.channels_last)
        return fast.encode(images, progress=False)

    def without_channels_last() -> np.ndarray:
        network.to(memory_format=torch.contiguous_format)
        return plain_order.encode(images, progress=False)

    methods = {
        "relreps (batch 32, inference_mode, channels-last)": relreps_encoder,
        "relreps without channels-last": without_channels_last,
        "plain loop (batch 32, no_grad, contiguous)": plain_loop,
    }
    np.testing.assert_allclose(relreps_encoder(), plain_loop(), rtol=1e-3, atol=1e-3)
    seconds = interleaved(methods, args.repeats)
    base = seconds["plain loop (batch 32, no_grad, contiguous)"]
    rows = [[name, f"{args.images / s:.0f}", f"{base / s:.2f}x"] for name, s in seconds.items()]
    text = "\n".join(
        [
            f"### Image encoder throughput (EfficientNet-Lite0, {args.resolution} px)",
            "",
            f"`{command_line('bench_vision.py')}` on {machine()}: {args.images} grey 28x28 images "
            f"upsampled to {args.resolution} px, median of {args.repeats} rounds taken in turns "
            "(the outputs agree to 1e-3).",
            "",
            table(["method", "images/s", "speed vs plain loop"], rows),
        ]
    )
    write_section("vision", text, write=not args.no_write)


if __name__ == "__main__":
    main()
