"""How many anchors a relative representation needs (paper section 4.3, the number of anchors).

For each number of anchors (log-spaced from 1 to 2,000) and seed, random training samples are
the anchors; a head is trained on each frozen encoder's relative representation and scored on
its own test representation (non-stitched) and on the other encoder's (stitched, zero-shot).
Two domains, two encoders each: EfficientNet-Lite0 and Lite1 on Fashion-MNIST, MiniLM and USE on
Debian package descriptions. And a graph: relative GCN2Conv networks trained on Cora with 1 to 300
anchor nodes (two networks per anchor set, stitched to each other). The paper's curve rises fast
with the first anchors and saturates.

``encoders`` (cached embeddings) -> ``select_anchors`` -> ``common.classification_stitching``
(relative only) -> accuracy over seeds -> a curve with bands of one standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from relreps.experiments import base, common
from relreps.experiments.base import option
from relreps.experiments.report import curve_figure, format_mean_std, markdown_table

__all__ = ["NAME", "Settings", "run"]

NAME = "anchor-count"


@dataclass(frozen=True)
class Settings(base.Settings):
    counts: tuple[int, ...] = option(
        (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
        quick=(1, 10, 100),
        minimum=1,
        help="numbers of anchors",
    )
    seeds: int = option(3, quick=1, minimum=1, help="anchor and head seeds")
    image_encoders: tuple[str, ...] = option(
        ("efficientnet-lite0", "efficientnet-lite1"), help="two frozen image encoders"
    )
    resolution: int = option(64, quick=32, minimum=8, help="their input pixels")
    train_size: int = option(10_000, quick=1_000, minimum=10, help="Fashion-MNIST training images")
    test_size: int = option(2_000, quick=300, minimum=10, help="test images")
    text_encoders: tuple[str, ...] = option(("minilm", "use"), help="two frozen text encoders")
    train_per_class: int = option(250, quick=30, minimum=1, help="training texts per topic")
    test_per_class: int = option(100, quick=10, minimum=1, help="test texts per topic")
    epochs: int = option(20, quick=10, minimum=1, help="head training epochs")
    data_dir: Path | None = option(None, shown="Debian's Fashion-MNIST", help="IDX image folder")
    graph: str | None = option(
        "cora", choices=("cora", "citeseer", "pubmed"), help="Planetoid graph (none: skip it)"
    )
    graph_counts: tuple[int, ...] = option(
        (1, 2, 5, 10, 20, 50, 100, 200, 300), quick=(1, 10, 100), minimum=1,
        help="numbers of anchor nodes",
    )  # fmt: skip
    graph_depth: int = option(8, quick=2, minimum=1, help="GCN2Conv layers")
    graph_hidden: int = option(64, quick=32, minimum=1, help="their channels")
    graph_epochs: int = option(50, quick=30, minimum=1, help="full-batch epochs (Adam 0.02)")
    graph_dir: Path | None = option(
        None, shown="$RELREPS_PLANETOID or shared/data/planetoid", help="raw ind.* files"
    )

    def validate(self) -> None:
        super().validate()
        for name in ("image_encoders", "text_encoders"):
            if len(getattr(self, name)) != 2:
                raise ValueError(f"--{name.replace('_', '-')} takes exactly two encoders.")


def run(run: base.Run) -> base.Result:
    from relreps.stitching import Accuracy

    s = run.settings
    domains = {
        "images": common.fashion_embeddings(
            run, s.image_encoders, resolution=s.resolution, train_size=s.train_size,
            test_size=s.test_size, data_dir=s.data_dir,
        ),
        "text": common.topic_embeddings(run, s.text_encoders, s.train_per_class,
                                        s.test_per_class),
    }  # fmt: skip
    curves: dict[str, Any] = {}
    for domain, (embeddings, labels, n_classes) in domains.items():
        first, second = embeddings
        n_train = len(labels["train"])
        runs: dict[str, dict[int, list[float]]] = {"non-stitched": {}, "stitched": {}}
        for count in s.counts:
            if count > n_train:
                run.log(f"{domain}: {count} anchors exceed the {n_train} training samples; skipped")
                continue
            for seed in range(s.seeds):
                anchors = run.anchors(
                    f"{domain}, {count} anchors, seed {seed}", _select(count, n_train, seed, domain)
                )
                spaces = {
                    split: {
                        e: common.Space(x[split], anchors.take(x["train"]))
                        for e, x in embeddings.items()
                    }
                    for split in ("train", "test")
                }
                result = common.classification_stitching(
                    spaces["train"], spaces["test"], labels["train"], labels["test"], n_classes,
                    seed=seed, epochs=s.epochs, modes=("relative",), metric=Accuracy,
                )["relative"]  # fmt: skip
                runs["non-stitched"].setdefault(count, []).extend(result.non_stitched().tolist())
                runs["stitched"].setdefault(count, []).extend(result.stitched().tolist())
            run.log(f"{domain}: {count} anchors scored")
        curves[domain] = {
            "encoders": [first, second],
            **{
                kind: {str(count): common.mean_std(values) for count, values in by_count.items()}
                for kind, by_count in runs.items()
            },
        }
    if s.graph is not None:
        curves["graph"] = _graph_curve(run)
    table = _table(curves)
    _figure(run, curves)
    sections = (("Result", table + "\n\n" + _reading(curves)), ("Setup", _setup(s, run.facts)))
    return base.Result(
        "The number of anchors (paper section 4.3)", table, sections, {"curves": curves}
    )


def _select(count: int, n_train: int, seed: int, domain: str) -> Any:
    from relreps import select_anchors

    return select_anchors(
        None, count, n_samples=n_train, seed=seed, source=f"the {n_train} training {domain}"
    )


def _graph_curve(run: base.Run) -> dict[str, Any]:
    """Validation accuracy of relative GCN2Conv networks against the number of anchor nodes: per
    count and seed, one anchor set and two networks (initialisation seeds ``2 * seed`` and
    ``2 * seed + 1``), each scored with its own head (non-stitched) and with the other's."""
    from relreps.datasets.graphs import load_planetoid, random_node_split
    from relreps.models.gnn import GNNConfig
    from relreps.stitching import Accuracy, stitch_representations

    s = run.settings
    graph = load_planetoid(s.graph, s.graph_dir, cache_dir=run.cache_dir)
    graph = graph.with_split(random_node_split(graph.num_nodes, val=0.1, seed=0), "seed 0")
    run.facts["graph"] = {"name": graph.name, "sha256": graph.sha256, "nodes": graph.num_nodes}
    specs, groups = {}, {}
    for count in s.graph_counts:
        for seed in range(s.seeds):
            anchors = run.anchors(
                f"{graph.name}, {count} anchor nodes, seed {seed}",
                graph.anchor_nodes(count, seed=seed),
            )
            config = GNNConfig(
                graph.num_features, graph.num_classes, n_layers=s.graph_depth,
                hidden=s.graph_hidden, n_anchors=count, center="anchors",
            )  # fmt: skip
            options = {"epochs": s.graph_epochs, "optimizer": "adam", "lr": 0.02}
            names = [f"gcn2-{count}-anchors-seed{seed}-init{2 * seed + i}" for i in (0, 1)]
            for i, name in enumerate(names):
                specs[name] = (config, 2 * seed + i, options, anchors)
            groups[(count, seed)] = names
    models = common.node_classifiers(run, graph, specs)
    val = torch.from_numpy(graph.nodes("val"))
    runs: dict[str, dict[str, list[float]]] = {"non-stitched": {}, "stitched": {}}
    for (count, _), names in groups.items():
        with torch.inference_mode():
            spaces = {n: models[n].represent(graph.x, graph.edge_index)[val] for n in names}
        heads = {n: models[n].head for n in names}
        result = stitch_representations(spaces, heads, graph.y[val], Accuracy)
        runs["non-stitched"].setdefault(str(count), []).extend(result.non_stitched().tolist())
        runs["stitched"].setdefault(str(count), []).extend(result.stitched().tolist())
    run.log(f"graph: {len(specs)} networks scored")
    return {
        "encoders": [f"GCN2Conv {s.graph_depth}x{s.graph_hidden}", "GCN2Conv (other seed)"],
        **{kind: {c: common.mean_std(v) for c, v in by.items()} for kind, by in runs.items()},
    }


def _table(curves: dict[str, Any]) -> str:
    counts = sorted({int(c) for curve in curves.values() for c in curve["non-stitched"]})
    rows = []
    for domain, curve in curves.items():
        for kind in ("non-stitched", "stitched"):
            label = f"{domain} ({' ↔ '.join(curve['encoders'])}), {kind}"
            rows.append([label, *(format_mean_std(curve[kind].get(str(c)), 1) for c in counts)])
    return markdown_table(["accuracy x100 \\ anchors", *map(str, counts)], rows)


def _reading(curves: dict[str, Any]) -> str:
    lines = []
    for domain, curve in curves.items():
        by_count = {int(c): v["mean"] for c, v in curve["stitched"].items() if v}
        best = max(by_count.values())
        enough = min(c for c, v in by_count.items() if v >= 0.9 * best)
        lines.append(
            f"- {domain}: stitched accuracy reaches 90% of its best ({best:.1f}) with "
            f"{enough} anchors."
        )
    lines.append(
        "With one anchor the head's LayerNorm sees a single value, which it normalises "
        "to a constant: that point is chance by construction (for the graph networks likewise: "
        "one cosine, centred on a single anchor, is zero for every node)."
    )
    return "\n".join(lines)


def _figure(run: base.Run, curves: dict[str, Any]) -> None:
    panels = {f"{d}: {' ↔ '.join(c['encoders'])}": ("accuracy x100", {k: c[k] for k in (
        "non-stitched", "stitched")}) for d, c in curves.items()}  # fmt: skip
    curve_figure(run, panels, "anchor_count.png", xlabel="number of anchors", width=5.2)


def _setup(s: Settings, facts: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"- images: {facts['images']['name']} (sha256 `{facts['images']['sha256'][:16]}…`), "
            f"{s.train_size} / {s.test_size} images, encoders at {s.resolution} px",
            f"- texts: Debian descriptions, 10 topics, {s.train_per_class} / {s.test_per_class} "
            "per topic",
            f"- anchors: random training samples, {s.seeds} seeds per count; the head: "
            f"{common.HEAD}, {s.epochs} epochs, on the relative (cosine) representation",
            "- accuracy x100 on the test split; non-stitched: each encoder's head on its own "
            "representation; stitched: on the other encoder's (both directions); mean ± std over "
            "seeds and encoders",
            *common.encoder_lines(facts),
            *(
                [
                    f"- graph: {facts['graph']['name']} ({facts['graph']['nodes']} nodes, sha256 "
                    f"`{facts['graph']['sha256'][:16]}…`), random split with 10% validation "
                    f"nodes (seed 0); relative GCN2Conv networks, {s.graph_depth} layers of "
                    f"{s.graph_hidden} channels, cosine to the anchor nodes centred on their mean, "
                    f"L2 normalisation, Linear; {s.graph_epochs} full-batch epochs with Adam 0.02, "
                    "best epoch by validation accuracy; anchors: random training nodes, "
                    f"{s.seeds} seeds per count, two networks per anchor set (stitched both "
                    "ways); accuracy on the validation nodes (the paper's graph metric)"
                ]
                if "graph" in facts
                else []
            ),
        ]
    )
