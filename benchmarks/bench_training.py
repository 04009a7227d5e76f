"""Training cost of a relative bottleneck: re-encoding the anchors at every step, or every N.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_training.py``). Needs Fashion-MNIST
(``make data``; falls back to scikit-learn digits and says so). Writes a section of
``docs/benchmarks.md``.

The absolute AE and the relative AE with ``anchor_refresh`` = 1 (the paper: anchors re-encoded
at every step), 10 and 100, side by side in one process: ``--seeds`` models each trained for
``--epochs`` on the same data, their time per step, and their zero-shot stitching error
(``relreps.stitching.evaluate_stitching``), to show what a stale anchor branch costs in quality.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import numpy as np
import torch
from common import command_line, machine, table, write_section

from relreps import select_anchors
from relreps.datasets.images import load_image_dataset
from relreps.models.autoencoders import AutoencoderConfig, ImageAutoencoder
from relreps.models.training import train_model
from relreps.stitching import MeanMetric, evaluate_stitching, squared_error

VARIANTS = [("absolute AE", False, None), *(("relative AE", True, n) for n in (1, 10, 100))]


def images(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).float().div_(255).unsqueeze(1)


def build(relative: bool, refresh, anchor_images, image_size, n_anchors, seed: int):
    torch.manual_seed(seed)
    config = AutoencoderConfig(
        kind="ae", relative=relative, n_anchors=n_anchors, image_size=image_size
    )
    model = ImageAutoencoder(config, anchor_images=anchor_images if relative else None)
    if relative:
        model.anchor_refresh = refresh
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--test-size", type=int, default=2_000)
    parser.add_argument("--n-anchors", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    dataset = load_image_dataset(args.data_dir).subset(args.train_size, args.test_size, seed=0)
    train, test = images(dataset.train_images), images(dataset.test_images)
    anchors = select_anchors(
        dataset.train_images.reshape(len(train), -1),
        args.n_anchors,
        "stratified",
        labels=dataset.train_labels,
        seed=0,
    )
    anchor_images = anchors.take(train)
    shape = dataset.image_shape
    batches = [(test[i : i + 500], test[i : i + 500]) for i in range(0, len(test), 500)]

    rows = []
    base_step = None
    for name, relative, refresh in VARIANTS:
        trained, seconds = {}, []
        for seed in range(args.seeds):
            model = build(relative, refresh, anchor_images, shape, args.n_anchors, seed)
            start = time.perf_counter()
            train_model(
                model,
                lambda m, batch: m.loss(batch[0]),
                (train,),
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=seed,
                progress=False,
            )
            seconds.append(time.perf_counter() - start)
            trained[str(seed)] = model
        steps = args.epochs * -(-len(train) // args.batch_size)
        step = statistics.median(seconds) / steps
        base_step = base_step or step
        result = evaluate_stitching(
            {s: m.embed for s, m in trained.items()},
            {s: m.decode for s, m in trained.items()},
            batches,
            partial(MeanMetric, squared_error, scale=1e3),
            progress=False,
        ).summary()
        ratio = result["stitched_mean"] / result["non_stitched_mean"]
        rows.append(
            [
                name,
                "-" if refresh is None else str(refresh),
                f"{1000 * step:.1f} ms",
                f"{step / base_step:.2f}x",
                f"{statistics.median(seconds):.1f} s",
                f"{result['non_stitched_mean']:.2f}",
                f"{result['stitched_mean']:.2f}",
                f"{ratio:.2f}x",
            ]
        )
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            "### Training step of a relative bottleneck (anchor re-encoding cost)",
            "",
            f"Command: `{command_line('bench_training.py')}` (part of `make bench`). "
            f"Machine: {machine()}.",
            "",
            f"{dataset.name}: {len(train):,} training / {len(test):,} test images, "
            f"{args.n_anchors} class-balanced anchor images, batch {args.batch_size}. "
            f"{args.seeds} seeds per row, each trained for {args.epochs} epochs with Adam; "
            "step = median training time per seed / number of steps, ratio to the absolute AE. "
            "MSE x10³ on the test images, non-stitched (each model alone) and stitched (encoder "
            "of one seed, decoder of another, every ordered pair). `anchor_refresh = N` "
            "re-encodes the anchor images every N steps (`ImageAutoencoder.anchor_refresh`; 1 "
            "is the paper's method).",
            "",
            table(
                [
                    "model",
                    "anchor refresh",
                    "step",
                    "ratio to absolute",
                    "train time (median seed)",
                    "non-stitched MSE",
                    "stitched MSE",
                    "stitched / non-stitched",
                ],
                rows,
            ),
        ]
    )
    write_section("training", text, not args.no_write)


if __name__ == "__main__":
    main()
