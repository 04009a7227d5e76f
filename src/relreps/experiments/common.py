"""What several experiments do the same way, composed from the library.

- :func:`embed_all`: every split with every encoder, through the run's embedding cache;
- :class:`Space`, :func:`train_heads`, :func:`score_heads`, :func:`classification_stitching`:
  classification stitching over encoders x heads x representation modes (x seeds, by the
  caller's loop), with the core's :func:`~relreps.stitching.represent` and
  :func:`~relreps.stitching.stitch_representations`;
- :func:`mean_std` and :func:`aggregate`: every number over seeds in one shape,
  ``{"mean": m, "std": s}`` (``None`` when undefined).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from relreps.experiments.base import Settings, option
from relreps.stitching import MODES, mean_std

__all__ = [
    "HEAD",
    "MODES",
    "MODE_LABELS",
    "Space",
    "TaskSettings",
    "Topics",
    "aggregate",
    "anisotropy",
    "classification_stitching",
    "cnn_encoders",
    "cosine_spread",
    "cross_seed_cosine",
    "debian_topics",
    "embed_all",
    "encoder_lines",
    "image_classifiers",
    "matrix_summary",
    "mean_std",
    "node_classifiers",
    "score_heads",
    "split_topics",
    "stitched_groups",
    "task_embeddings",
    "train_heads",
]

#: The classification head of :func:`relreps.models.heads.classifier_head`, for reports.
HEAD = "LayerNorm, Linear(256), SiLU, dropout 0.1, Linear; Adam 1e-3"
MODE_LABELS = {
    "absolute": "absolute",
    "relative": "relative (cosine)",
    "relative-centred": "relative (cosine, centred on anchors)",
}


# --- aggregation over seeds --------------------------------------------------------------------


def aggregate(runs: Sequence[Any]) -> Any:
    """Mean and std over runs of every number in a nest of dicts: each numeric leaf becomes
    :func:`mean_std` of its values across the runs (``None`` stays ``None``). Every run must
    have the same keys."""
    first = runs[0]
    if isinstance(first, Mapping):
        return {key: aggregate([run[key] for run in runs]) for key in first}
    if first is None or isinstance(first, (int, float)):
        return mean_std(runs)
    raise TypeError(f"aggregate: cannot average {type(first).__name__} values.")


def matrix_summary(runs: Sequence[np.ndarray]) -> dict[str, Any]:
    """Non-stitched (diagonal) and stitched (off-diagonal) scores of encoder x head matrices,
    pooled over runs, as :func:`mean_std`; undefined (NaN) cells are left out."""
    same = [float(m[i, i]) for m in runs for i in range(len(m))]
    across = [float(m[i, j]) for m in runs for i in range(len(m)) for j in range(len(m))
              if i != j and m[i, j] == m[i, j]]  # fmt: skip
    return {"non_stitched": mean_std(same), "stitched": mean_std(across)}


# --- embedding ---------------------------------------------------------------------------------


def embed_all(
    run: Any, encoders: Sequence[str], splits: Mapping[str, Any], *, label: str, **options: Any
) -> dict[str, dict[str, np.ndarray]]:
    """``{encoder: {split: embeddings}}`` for every encoder and split (texts or image arrays),
    through ``run.cache``; ``options`` go to the encoders (``resolution=`` for images).

    Records each encoder's id and encoding time in ``run.facts`` (``encoders``,
    ``encode_seconds``, and the cache's hits and misses so far) and logs whether it encoded or
    read the cache.
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    ids = run.facts.setdefault("encoders", {})
    seconds = run.facts.setdefault("encode_seconds", {})
    for name in encoders:
        encoder = run.encoder(name, **options)
        ids[name] = encoder.id
        start, misses = time.perf_counter(), run.cache.misses
        out[name] = {
            split: run.cache.embed(
                encoder, inputs, label=f"{label}-{split}", progress=run.settings.progress
            )
            for split, inputs in splits.items()
        }
        seconds[name] = round(time.perf_counter() - start, 1)
        how = "encoded" if run.cache.misses > misses else "from cache"
        run.log(f"  {name} ({encoder.dim}-d): {how} in {seconds[name]} s")
    run.facts["cache"] = {"hits": run.cache.hits, "misses": run.cache.misses}
    return out


def encoder_lines(facts: dict[str, Any]) -> list[str]:
    """Report lines on the encoders :func:`embed_all` used and the cache's work."""
    lines = [
        "- encoders (frozen): " + "; ".join(f"{k} = `{v}`" for k, v in facts["encoders"].items())
    ]
    cache, seconds = facts["cache"], facts["encode_seconds"]
    lines.append(
        f"- embedding cache: {cache['hits']} hits, {cache['misses']} computed; encoding seconds: "
        + ", ".join(f"{k} {v}" for k, v in seconds.items())
    )
    return lines


@dataclass(frozen=True)
class Topics:
    """Labelled texts split into class-balanced training and test sets."""

    name: str
    classes: tuple[str, ...]
    texts: dict[str, list[str]]  # split -> texts
    labels: dict[str, np.ndarray]  # split -> class indices
    source: dict[str, str]  # where the texts came from (and their hash)


def split_topics(
    data: Any,
    train_per_class: int,
    test_per_class: int,
    *,
    seed: int = 0,
    max_chars: int | None = 300,
    source: dict[str, str] | None = None,
) -> Topics:
    """``train_per_class`` and ``test_per_class`` texts of every class of a
    :class:`~relreps.datasets.text.TextDataset`, disjoint, drawn with ``seed`` (the test set with
    ``seed + 1``), cut to ``max_chars`` characters at a word boundary."""
    from relreps.datasets.text import balanced_sample, truncate_text

    train = balanced_sample(data.labels, train_per_class, seed=seed)
    rest = np.setdiff1d(np.arange(len(data)), train)
    test = balanced_sample(data.labels, test_per_class, seed=seed + 1, candidates=rest)
    rows = {"train": train, "test": test}
    texts = {
        split: [
            truncate_text(data.texts[i], max_chars) if max_chars else data.texts[i] for i in index
        ]
        for split, index in rows.items()
    }
    labels = {split: data.labels[index] for split, index in rows.items()}
    return Topics(data.name, tuple(data.label_names), texts, labels, dict(source or {}))


def debian_topics(
    run: Any, train_per_class: int, test_per_class: int, *, topics: Any = None, **options: Any
) -> Topics:
    """The default text data: Debian package descriptions labelled by their section (the 10
    topical sections unless ``topics``), fetched once into ``run.cache_dir / "text"``; see
    :func:`split_topics`."""
    from relreps.datasets.debian import DEFAULT_TOPICS, load_descriptions, topic_dataset

    records, sha = load_descriptions(run.cache_dir / "text")
    sections = list(topics or DEFAULT_TOPICS)
    data = topic_dataset(records, sections, "en", name="debian-descriptions-en")
    source = {"source": "Debian bookworm package descriptions", "sha256": sha}
    return split_topics(data, train_per_class, test_per_class, source=source, **options)


def topic_embeddings(
    run: Any, encoders: Sequence[str], train_per_class: int, test_per_class: int
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray], int]:
    """The Debian topics embedded by every text encoder: ``(embeddings, labels, n_classes)``,
    with ``{encoder: {"train", "test": array}}`` and ``{"train", "test": labels}``."""
    topics = debian_topics(run, train_per_class, test_per_class)
    run.facts["texts"] = {"name": topics.name, **topics.source}
    embeddings = embed_all(run, encoders, topics.texts, label=topics.name)
    return embeddings, topics.labels, len(topics.classes)


def fashion_embeddings(
    run: Any,
    encoders: Sequence[str],
    *,
    resolution: int,
    train_size: int,
    test_size: int,
    cnn_seeds: int = 0,
    cnn_epochs: int = 1,
    data_dir: Any = None,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray], int]:
    """Fashion-MNIST embedded by the pretrained image ``encoders`` and by ``cnn_seeds`` CNNs of
    width 32 trained here: ``(embeddings, labels, n_classes)`` as :func:`topic_embeddings`."""
    from relreps.datasets.images import load_image_dataset

    data = load_image_dataset(data_dir).subset(train_size, test_size, seed=0)
    run.facts["images"] = {"name": data.name, "sha256": data.sha256}
    splits = {"train": data.train_images, "test": data.test_images}
    embeddings = embed_all(run, encoders, splits, label=data.name, resolution=resolution)
    if cnn_seeds:
        cnns = cnn_encoders(run, data, (32,), cnn_seeds, epochs=cnn_epochs)
        for name, encoder in cnns.items():
            run.use_encoder(name, encoder)
        embeddings.update(embed_all(run, list(cnns), splits, label=data.name))
    labels = {"train": data.train_labels, "test": data.test_labels}
    return embeddings, labels, len(data.class_names)


@dataclass(frozen=True)
class TaskSettings(Settings):
    """The options of experiments that classify the Debian topics from text encoders and
    Fashion-MNIST from image encoders (:func:`task_embeddings`)."""

    text_encoders: tuple[str, ...] = option(
        ("minilm", "mpnet", "use", "e5"), quick=("minilm", "use"), help="text encoders"
    )
    train_per_class: int = option(250, quick=30, minimum=1, help="training texts per topic")
    test_per_class: int = option(100, quick=10, minimum=1, help="test texts per topic")
    image_encoders: tuple[str, ...] = option(
        ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"),
        quick=("efficientnet-lite0",),
        help="pretrained image encoders",
    )
    resolution: int = option(64, quick=32, minimum=8, help="their input pixels")
    cnn_seeds: int = option(2, quick=1, minimum=0, help="CNNs trained here (width 32)")
    cnn_epochs: int = option(3, quick=1, minimum=1, help="their epochs")
    train_size: int = option(10_000, quick=1_000, minimum=10, help="training images")
    test_size: int = option(2_000, quick=300, minimum=10, help="test images")
    head_epochs: int = option(20, quick=10, minimum=1, help="classification head epochs")
    data_dir: Path | None = option(None, shown="Debian's Fashion-MNIST", help="IDX image folder")


def task_embeddings(
    run: Any, domain: str
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray], int]:
    """``"text"``: :func:`topic_embeddings`; ``"images"``: :func:`fashion_embeddings`, both
    with the run's :class:`TaskSettings`."""
    s = run.settings
    if domain == "text":
        return topic_embeddings(run, s.text_encoders, s.train_per_class, s.test_per_class)
    return fashion_embeddings(
        run, s.image_encoders, resolution=s.resolution, train_size=s.train_size,
        test_size=s.test_size, cnn_seeds=s.cnn_seeds, cnn_epochs=s.cnn_epochs,
        data_dir=s.data_dir,
    )  # fmt: skip


def image_classifiers(
    run: Any, data: Any, specs: Mapping[str, tuple[Any, int, np.ndarray | None]], *, epochs: int
) -> dict[str, Any]:
    """Small CNNs (:mod:`relreps.models.cnn`) trained on ``data``'s training images through the
    run's model store: ``specs`` maps a name to ``(config, seed, anchor rows or None)``. Their
    ledger entries go to ``run.facts["models"]``."""
    from relreps.io import short_hash
    from relreps.models.cnn import load_image_classifier, save_image_classifier
    from relreps.models.store import ModelJob

    images = data.tensor("train")
    jobs = []
    for name, (config, seed, rows) in specs.items():
        key = {
            "config": config.to_dict(),
            "data": data.sha256,
            "n_train": len(images),
            "epochs": epochs,
            "seed": seed,
            "anchors": None if rows is None else short_hash(np.asarray(rows)),
        }
        jobs.append(ModelJob(name, key, label=config.name, seed=seed, payload=(config, rows)))
    store = run.models(save_image_classifier, load_image_classifier)
    context = {"images": images, "labels": torch.from_numpy(data.train_labels), "epochs": epochs}
    models = store.obtain(jobs, _train_image_classifier, context=context)
    run.facts.setdefault("models", []).extend(store.ledger)
    return dict(zip(specs, models, strict=True))


def cnn_encoders(
    run: Any, data: Any, widths: Sequence[int], seeds: int, *, epochs: int
) -> dict[str, Any]:
    """Absolute CNNs (:func:`image_classifiers`, one per width and seed, named
    ``cnn-w{width}-seed{seed}``) as frozen encoders of their latents, for the embedding cache
    (their ids name the data, its size and the epochs)."""
    from relreps.encoders.vision import TorchImageEncoder
    from relreps.models.cnn import CNNConfig

    specs = {
        f"cnn-w{width}-seed{seed}": (
            CNNConfig(width=width, n_classes=len(data.class_names), image_size=data.image_shape),
            seed,
            None,
        )
        for width in widths
        for seed in range(seeds)
    }
    models = image_classifiers(run, data, specs, epochs=epochs)
    return {
        name: TorchImageEncoder(
            _Grey(model.encoder),
            id=f"{name}@{data.sha256[:12]}-{len(data.train_images)}-{epochs}",
            dim=model.config.features,
            resolution=data.image_shape[0],
            mean=(0, 0, 0),
            std=(1, 1, 1),
        )
        for name, model in models.items()
    }


class _Grey(torch.nn.Module):
    """A grey-image model behind the three-channel preprocessing (one channel is the image)."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.module(images[:, :1].contiguous())


def _train_image_classifier(job: Any, context: dict, progress: bool) -> Any:
    """One CNN of :func:`image_classifiers` (module level: worker processes import it)."""
    from relreps.models.cnn import train_image_classifier

    config, rows = job.payload
    anchors = None if rows is None else context["images"][np.array(rows)]
    return train_image_classifier(
        config,
        context["images"],
        context["labels"],
        anchor_images=anchors,
        seed=job.seed,
        epochs=context["epochs"],
        progress=progress,
    )


def node_classifiers(
    run: Any,
    graph: Any,
    specs: Mapping[str, tuple[Any, int, dict[str, Any], Any]],
    *,
    reference: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Graph node classifiers (:mod:`relreps.models.gnn`) trained on ``graph`` through the run's
    model store, side by side in worker processes: ``specs`` maps a name to ``(config, seed,
    training options, anchor nodes or None)``, the options being ``epochs``, ``optimizer`` and
    ``lr`` of :func:`~relreps.models.gnn.train_node_classifier`. With ``reference`` (a
    representation of every node) each model records its similarity to it per epoch (sent once
    to each worker; its hash is part of every model's key). Their ledger entries go to
    ``run.facts["models"]``."""
    from relreps.io import sha256_array, short_hash
    from relreps.models.gnn import load_node_classifier, save_node_classifier
    from relreps.models.store import ModelJob

    split = short_hash({name: sha256_array(mask.numpy()) for name, mask in graph.masks.items()})
    jobs = []
    for name, (config, seed, options, anchors) in specs.items():
        rows = None if anchors is None else np.asarray(getattr(anchors, "indices", anchors))
        key = {
            "config": config.to_dict(),
            "graph": graph.sha256,
            "features": sha256_array(graph.x.numpy()),
            "split": split,
            "seed": seed,
            "training": dict(options),
            "anchors": None if rows is None else short_hash(rows),
            "reference": None if reference is None else sha256_array(reference.numpy()),
        }
        payload = (config, options, rows)
        jobs.append(ModelJob(name, key, label=config.name, seed=seed, payload=payload))
    store = run.models(save_node_classifier, load_node_classifier)
    context = {
        "x": graph.x, "edge_index": graph.edge_index, "y": graph.y, "masks": graph.masks,
        "reference": reference,
    }  # fmt: skip
    models = store.obtain(jobs, _train_node_classifier, context=context)
    run.facts.setdefault("models", []).extend(store.ledger)
    return dict(zip(specs, models, strict=True))


def _train_node_classifier(job: Any, context: dict, progress: bool) -> Any:
    """One model of :func:`node_classifiers` (module level: worker processes import it)."""
    from relreps.models.gnn import train_node_classifier

    config, options, rows = job.payload
    model, record = train_node_classifier(
        config,
        context["x"],
        context["edge_index"],
        context["y"],
        context["masks"],
        anchor_rows=None if rows is None else torch.tensor(rows),
        reference=context["reference"],
        seed=job.seed,
        progress=progress,
        **options,
    )
    return model, record["loss"] or [float("nan")]


def stitched_groups(results: Sequence[Any], family: Mapping[str, str]) -> dict[str, Any]:
    """Stitched scores (encoder != decoder) pooled over results by the kind of pair: the two
    encoders' ``family`` names, sorted and joined ("cnn-cnn", "cnn-pretrained")."""
    groups: dict[str, list[float]] = {}
    for result in results:
        for i, encoder in enumerate(result.encoders):
            for j, decoder in enumerate(result.decoders):
                if encoder != decoder:
                    kind = "-".join(sorted((family[encoder], family[decoder])))
                    groups.setdefault(kind, []).append(result.scores[i, j])
    return {kind: mean_std(values) for kind, values in sorted(groups.items())}


def anisotropy(vectors: np.ndarray, n: int = 1000, seed: int = 0) -> float:
    """Mean cosine between distinct samples (0 for isotropic spaces; e5's is ~0.8)."""
    rng = np.random.default_rng(seed)
    rows = vectors[rng.choice(len(vectors), size=min(n, len(vectors)), replace=False)]
    unit = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    gram = unit @ unit.T
    m = len(unit)
    return float((gram.sum() - np.trace(gram)) / max(m * (m - 1), 1))


def cross_seed_cosine(spaces: Sequence[Any]) -> float:
    """Mean cosine of the row-centred representations that models of different seeds give the
    same samples (what a decoder sees after its LayerNorm), over pairs of seeds: near 0 for
    absolute latents, near 1 when the relative representations of different seeds agree."""
    from relreps.measures import mean_cosine

    centred = [x - x.mean(1)[:, None] for x in spaces]
    pairs = [mean_cosine(centred[i], centred[j])
             for i in range(len(centred)) for j in range(i + 1, len(centred))]  # fmt: skip
    return float(np.mean(pairs))


def cosine_spread(cosines: Any) -> dict[str, float]:
    """Raw cosines to the anchors (a relative representation, an ``(n, n_anchors)`` tensor): the
    mean, and the (unbiased) std across anchors averaged over samples. A mean near 1 with a tiny
    std is a narrow cone, which leaves little for a decoder to read."""
    return {"mean": float(cosines.mean()), "std_across_anchors": float(cosines.std(1).mean())}


# --- classification stitching ------------------------------------------------------------------


@dataclass(frozen=True)
class Space:
    """One encoder's view of some samples: their embeddings and the anchors' embeddings by the
    same encoder (parallel to every other space's anchors)."""

    samples: np.ndarray
    anchors: np.ndarray | None = None

    def represent(self, mode: str) -> np.ndarray:
        from relreps.stitching import represent

        return represent(self.samples, self.anchors, mode)


def train_heads(
    spaces: Mapping[str, Space],
    labels: np.ndarray,
    n_classes: int,
    mode: str,
    *,
    seed: int,
    epochs: int,
) -> tuple[dict[str, torch.nn.Module], dict[str, int]]:
    """A classification head per space, trained on its ``mode`` representation; and the input
    width each head was trained on."""
    from relreps.models.heads import train_classifier

    heads, widths = {}, {}
    for name, space in spaces.items():
        inputs = torch.from_numpy(space.represent(mode))
        heads[name] = train_classifier(
            inputs, torch.from_numpy(labels), n_classes, seed=seed, epochs=epochs
        )
        widths[name] = int(inputs.shape[1])
    return heads, widths


def score_heads(
    heads: Mapping[str, torch.nn.Module],
    widths: Mapping[str, int],
    spaces: Mapping[str, Space],
    labels: np.ndarray,
    mode: str,
    metric: Any = None,
) -> Any:
    """Weighted F1 x100 (or ``metric``, a factory) of every head on every space's ``mode``
    representation (NaN where the widths differ: absolute latents of different sizes)."""
    from relreps.stitching import WeightedF1, stitch_representations

    return stitch_representations(
        {name: space.represent(mode) for name, space in spaces.items()},
        heads,
        labels,
        metric or WeightedF1,
        widths=widths,
    )


def classification_stitching(
    train: Mapping[str, Space],
    test: Mapping[str, Space],
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    n_classes: int,
    *,
    seed: int,
    epochs: int,
    modes: Sequence[str] = MODES,
    metric: Any = None,
) -> dict[str, Any]:
    """For each mode: heads trained on every ``train`` space, each scored on every ``test``
    space (weighted F1 x100 unless ``metric``). Returns ``{mode: StitchingResult}`` (rows: test
    spaces; columns: heads)."""
    results = {}
    for mode in modes:
        heads, widths = train_heads(train, train_labels, n_classes, mode, seed=seed, epochs=epochs)
        results[mode] = score_heads(heads, widths, test, test_labels, mode, metric)
    return results
