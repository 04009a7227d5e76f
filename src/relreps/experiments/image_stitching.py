"""Image classification stitching across architectures (paper section 5.3).

Frozen encoders embed Fashion-MNIST: ImageNet-pretrained EfficientNet-Lite0/1/2 (1280-d, images
upsampled to ``--resolution`` pixels) and small CNNs trained here from scratch at two widths and
several seeds (their latents, 128-d). For each seed, a head is trained on every encoder's
absolute, relative and relative-centred representation and tested on every encoder's test
images. Three anchor sets per seed: ``n_anchors`` random training images (in domain),
``more_anchors`` of them (the paper saw its 1280-d encoder stitch worst with 768 anchors: fewer
anchors than dimensions), and ``n_anchors`` handwritten digits (out of domain, as the paper's
ImageNet encoders used anchors from another dataset).

``datasets.images`` -> ``encoders.vision`` / ``models.cnn`` (``ModelStore``) -> the embedding
cache -> ``select_anchors`` -> ``common.classification_stitching`` -> ``summarise_stitching``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relreps.experiments import base, common
from relreps.experiments.base import option
from relreps.experiments.report import (
    format_mean_std,
    markdown_table,
    models_table,
    stitching_heatmaps,
    stitching_matrix_table,
)

__all__ = ["NAME", "Settings", "run"]

NAME = "image-stitching"
PRETRAINED = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")


@dataclass(frozen=True)
class Settings(base.Settings):
    encoders: tuple[str, ...] = option(
        PRETRAINED, quick=PRETRAINED[:2], help="pretrained image encoders"
    )
    resolution: int = option(64, minimum=8, help="pixels of the pretrained encoders' input")
    cnn_widths: tuple[int, ...] = option(
        (16, 32), quick=(16,), minimum=1, help="from-scratch CNN widths"
    )
    cnn_seeds: int = option(2, quick=1, minimum=0, help="from-scratch CNNs per width")
    cnn_epochs: int = option(3, quick=1, minimum=1, help="training epochs of the CNNs")
    train_size: int = option(10_000, quick=1_000, minimum=10, help="training images")
    test_size: int = option(2_000, quick=300, minimum=10, help="test images")
    n_anchors: int = option(768, quick=100, minimum=1, help="anchors (the paper's 768)")
    more_anchors: int = option(1536, quick=200, minimum=1, help="the larger anchor set")
    seeds: int = option(3, quick=1, minimum=1, help="seeds: anchors and heads")
    epochs: int = option(20, quick=10, minimum=1, help="head training epochs")
    data_dir: Path | None = option(None, shown="Debian's Fashion-MNIST", help="IDX image folder")


def run(run: base.Run) -> base.Result:
    from relreps import select_anchors
    from relreps.datasets.images import load_digits_dataset, load_image_dataset
    from relreps.stitching import summarise_stitching

    s = run.settings
    data = load_image_dataset(s.data_dir).subset(s.train_size, s.test_size, seed=0)
    digits = load_digits_dataset(image_size=data.image_shape[0])
    ood = np.concatenate([digits.train_images, digits.test_images])
    if max(s.n_anchors, s.more_anchors) > min(len(data.train_images), len(ood)):
        raise ValueError(
            f"--n-anchors/--more-anchors must not exceed the {len(data.train_images)} training "
            f"images and the {len(ood)} digits."
        )
    run.facts["data"] = {
        "name": data.name,
        "sha256": data.sha256,
        "train": len(data.train_images),
        "test": len(data.test_images),
        "out_of_domain": digits.source,
    }
    encoders = {name: run.encoder(name, resolution=s.resolution) for name in s.encoders}
    encoders.update(common.cnn_encoders(run, data, s.cnn_widths, s.cnn_seeds, epochs=s.cnn_epochs))
    images = {"train": data.train_images, "test": data.test_images, "digits": ood}

    def embed(name: str, split: str, rows: np.ndarray | None = None) -> np.ndarray:
        """An encoder's embeddings of a split (or of some of its rows), through the cache."""
        chosen = images[split] if rows is None else images[split][rows]
        label = f"{data.name}-{split}" if rows is None else f"{split}-anchors"
        return run.cache.embed(encoders[name], chosen, label=label, progress=s.progress)

    embeddings = {
        name: {split: embed(name, split) for split in ("train", "test")} for name in encoders
    }
    run.facts["encoders"] = {name: encoder.id for name, encoder in encoders.items()}
    run.log(f"embedded the training and test images with {len(encoders)} encoders")

    settings = {
        "in-domain": ("train", s.n_anchors),
        "in-domain, more": ("train", s.more_anchors),
        "out-of-domain": ("digits", s.n_anchors),
    }
    results: dict[tuple[str, str], list] = {}
    n_classes = len(data.class_names)
    for seed in range(s.seeds):
        for setting, (pool, count) in settings.items():
            anchors = run.anchors(
                f"{setting}, seed {seed}",
                select_anchors(
                    None,
                    count,
                    n_samples=len(images[pool]),
                    seed=seed,
                    source=f"{'Fashion-MNIST training' if pool == 'train' else 'digit'} images",
                ),
            )
            train = {  # in-domain anchors are rows of the training embeddings
                e: common.Space(
                    x["train"],
                    anchors.take(x["train"])
                    if pool == "train"
                    else embed(e, pool, anchors.indices),
                )
                for e, x in embeddings.items()
            }
            test = {e: common.Space(x["test"], train[e].anchors) for e, x in embeddings.items()}
            modes = common.MODES if setting == "in-domain" else common.MODES[1:]
            found = common.classification_stitching(
                train, test, data.train_labels, data.test_labels, n_classes, seed=seed,
                epochs=s.epochs, modes=modes,
            )  # fmt: skip
            for mode, result in found.items():
                results.setdefault((setting, mode), []).append(result)
        run.log(f"seed {seed}: heads trained and scored")
    names = list(encoders)
    family = {name: "pretrained" if name in PRETRAINED else "cnn" for name in names}
    summary = {
        f"{setting}, {mode}": {
            **summarise_stitching(found),
            **common.stitched_groups(found, family),
        }
        for (setting, mode), found in results.items()
    }
    table = _table(summary)
    panels = {mode: summary[f"in-domain, {mode}"]["matrix"] for mode in common.MODES}
    title = f"Weighted F1 x100, {s.n_anchors} in-domain anchors, mean over seeds"
    stitching_heatmaps(run, panels, names, names, "stitching_matrix.png", title=title)
    matrices = "\n\n".join(
        f"**{key}** (rows: encoder at test time; columns: the encoder the head was trained on)\n\n"
        + stitching_matrix_table(entry["matrix"], names, names, corner="encoder \\ head")
        for key, entry in summary.items()
    )
    sections = (
        ("Result", table + "\n\n" + _reading(s, summary)),
        ("Every pair", matrices),
        ("Setup", _setup(s, run.facts)),
        ("Models", models_table(run.facts["models"])),
    )
    title = "Image classification stitching across architectures (paper section 5.3)"
    return base.Result(title, table, sections, {"summary": summary})


COLUMNS = ("non_stitched", "pretrained-pretrained", "cnn-pretrained", "cnn-cnn")


def _table(summary: dict[str, Any]) -> str:
    from relreps.experiments.paper import lookup

    def paper(kind: str, same: bool) -> str:
        """The mean of the paper's non-stitched (``same``) or stitched CIFAR-100 cells."""
        cells = lookup("image-stitching", column=f"CIFAR-100 {kind}")
        decoder_encoder = [n.row.removeprefix("decoder ").split(", encoder ") for n in cells]
        values = [
            n.value for n, (d, e) in zip(cells, decoder_encoder, strict=True) if (d == e) == same
        ]
        return f"{np.mean(values):.1f}" if values else "-"

    rows = []
    for key, entry in summary.items():
        kind = "absolute" if key.endswith("absolute") else "relative"
        shown = not key.endswith("centred")
        rows.append(
            [
                key,
                *(format_mean_std(entry.get(c), 1) for c in COLUMNS),
                f"{paper(kind, True)} / {paper(kind, False)}" if shown else "",
            ]
        )
    headers = [
        "anchors, representation",
        "non-stitched",
        "stitched: pretrained pairs",
        "stitched: pretrained ↔ CNN",
        "stitched: CNN pairs",
        "paper CIFAR-100 (non-stitched / stitched)",
    ]
    return markdown_table(headers, rows)


def _reading(s: Settings, summary: dict[str, Any]) -> str:
    def pairs(key: str) -> float:
        entry = summary[key].get("pretrained-pretrained")
        return float("nan") if entry is None else entry["mean"]

    def group(key: str, name: str) -> str:
        entry = summary[key].get(name)
        return "-" if entry is None else f"{entry['mean']:.1f}"

    few, more = pairs("in-domain, relative"), pairs("in-domain, more, relative")
    than = "more" if s.more_anchors > 1280 else "fewer"
    key = "in-domain, relative"
    return (
        "Anchor count: relative stitching between the 1280-d pretrained encoders scores "
        f"{few:.1f} with {s.n_anchors} anchors and {more:.1f} with {s.more_anchors} ({than} "
        f"anchors than dimensions): {more - few:+.1f}. From-scratch CNNs: relative stitching "
        f"between two CNNs scores {group(key, 'cnn-cnn')} and between a CNN and a pretrained "
        f"encoder {group(key, 'cnn-pretrained')} (pretrained pairs {few:.1f}): a network trained "
        "on 28-px Fashion-MNIST for classification and one trained on ImageNet do not differ by an "
        "angle-preserving map, so cosine to shared anchors cannot align them. The paper's columns "
        "are means over its table's cells (ViT-base, ViT-ResNet, ViT-small, RexNet on CIFAR-100, "
        "768 random anchors; absolute stitched only where widths match)."
    )


def _setup(s: Settings, facts: dict[str, Any]) -> str:
    data = facts["data"]
    pretrained = ", ".join(f"{k} = `{v}`" for k, v in facts["encoders"].items() if k in PRETRAINED)
    lines = [
        f"- data: {data['name']} (sha256 `{data['sha256'][:16]}…`), {data['train']} training / "
        f"{data['test']} test images (class-stratified); out-of-domain anchors: "
        f"{data['out_of_domain']}",
        f"- pretrained encoders (frozen, {s.resolution} px): {pretrained}",
        f"- from-scratch CNNs (widths {', '.join(map(str, s.cnn_widths))}, {s.cnn_seeds} seeds "
        f"each, {s.cnn_epochs} epochs on the training images, 128-d latents)",
        f"- anchors per seed: {s.n_anchors} and {s.more_anchors} random training images, "
        f"{s.n_anchors} random digits; the same images for every encoder",
        f"- head: {common.HEAD}; {s.epochs} epochs; {s.seeds} seeds; weighted F1 x100 on the "
        "test images; absolute stitching only between encoders of equal width ('-' elsewhere)",
    ]
    return "\n".join(lines)
