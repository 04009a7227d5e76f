"""The graph rows of ``relative-training``: absolute and relative graph networks trained end to
end on a Planetoid graph, their accuracy, and stitching across seeds and layer types."""

from __future__ import annotations

from typing import Any

import torch

from relreps.experiments import base, common
from relreps.experiments.report import format_mean_std, markdown_table

__all__ = ["graph", "graph_text"]

NAME = "relative-training"


def graph(run: base.Run, name: str) -> dict[str, Any]:
    """Absolute and relative GCN2Conv networks (``graph_seeds``) and networks of the other
    layer type (``graph_other_seeds``) on one graph, all projecting onto the same anchor nodes;
    their test accuracy and macro F1, and every (encoder, head) stitching pair's accuracy."""
    from relreps.datasets.graphs import load_planetoid, random_node_split
    from relreps.models.gnn import GNNConfig
    from relreps.stitching import Accuracy, MacroF1, stitch_representations

    s = run.settings
    graph = load_planetoid(name, s.graph_dir, cache_dir=run.cache_dir)
    split = random_node_split(graph.num_nodes, val=0.1, test=0.1, seed=0)
    graph = graph.with_split(split, "random split: 80% train, 10% validation, 10% test, seed 0")
    anchors = run.anchors(f"{graph.name} anchor nodes", graph.anchor_nodes(s.graph_anchors))
    specs = {}
    networks = (
        ("gcn2", s.graph_depth, s.graph_seeds),
        (s.graph_other_layer, s.graph_other_depth, s.graph_other_seeds),
    )
    for layer, depth, seeds in networks:
        for seed in range(seeds):
            for relative in (False, True):
                config = GNNConfig(
                    graph.num_features, graph.num_classes, layer=layer, n_layers=depth,
                    hidden=s.graph_hidden, relative=relative, n_anchors=s.graph_anchors,
                )  # fmt: skip
                kind = "rel" if relative else "abs"
                options = {"epochs": s.graph_epochs, "optimizer": "adam", "lr": 0.02}
                specs[f"{name}-{layer}-{kind}-seed{seed}"] = (config, seed, options, anchors)
    models = common.node_classifiers(run, graph, specs)
    test = torch.from_numpy(graph.nodes("test"))
    labels = graph.y[test]
    out: dict[str, Any] = {"graph": graph.name, "macro_f1": {}, "accuracy": {}, "stitching": {}}
    for kind, relative in (("absolute", False), ("relative", True)):
        chosen = {n: m for n, m in models.items() if m.config.relative == relative}
        with torch.inference_mode():
            spaces = {n: m.represent(graph.x, graph.edge_index)[test] for n, m in chosen.items()}
        heads = {n: m.head for n, m in chosen.items()}
        family = {n: m.config.layer for n, m in chosen.items()}
        for metric, key in ((MacroF1, "macro_f1"), (Accuracy, "accuracy")):
            result = stitch_representations(spaces, heads, labels, metric)
            own = {n: result.scores[i, i] for i, n in enumerate(result.encoders)}
            out[key][kind] = [v for n, v in own.items() if family[n] == "gcn2"]
            out.setdefault(f"{key}_other", {})[kind] = [
                v for n, v in own.items() if family[n] != "gcn2"
            ]
        out["stitching"][kind] = common.stitched_groups([result], family)
    out["best_epochs"] = {n: m.record["best_epoch"] for n, m in models.items()}
    return out


def graph_text(graphs: dict[str, Any], s: Any) -> str:
    from relreps.experiments.paper import value

    other = s.graph_other_layer
    rows = []
    for found in graphs.values():
        summary = {k: common.mean_std(v) for k, v in found["accuracy"].items()}
        others = {k: common.mean_std(v) for k, v in found["accuracy_other"].items()}
        stitched = found["stitching"]
        paper = " / ".join(
            f"{100 * value(NAME, kind, found['graph']):.0f}" for kind in ("absolute", "relative")
        )
        for kind in ("absolute", "relative"):
            groups = stitched[kind]
            rows.append(
                [
                    f"{found['graph']}, {kind}",
                    format_mean_std(summary[kind], 1),
                    format_mean_std(others[kind], 1),
                    format_mean_std(groups.get("gcn2-gcn2"), 1),
                    format_mean_std(groups.get(f"{other}-{other}"), 1),
                    format_mean_std(groups.get("-".join(sorted(("gcn2", other)))), 1),
                    paper if kind == "absolute" else "",
                ]
            )
    headers = [
        "graph, head",
        "GCN2Conv accuracy x100 (test nodes)",
        f"{other.upper()} accuracy",
        "stitched: GCN2Conv ↔ GCN2Conv (other seed)",
        f"stitched: {other.upper()} ↔ {other.upper()}",
        f"stitched: GCN2Conv ↔ {other.upper()}",
        "paper [?] absolute / relative",
    ]
    return "\n".join(
        [
            markdown_table(headers, rows),
            "",
            f"Each network: Linear, graph convolutions of {s.graph_hidden} channels "
            f"({s.graph_depth} GCN2Conv layers with a skip to the first, or {s.graph_other_depth} "
            f"{other.upper()} layers), {s.graph_epochs} full-batch epochs with Adam 0.02, the "
            "epoch with the best "
            "validation accuracy kept; the relative head is the paper's (cosine to the anchor "
            "nodes, L2 normalisation, Linear), the absolute one L2-normalises the latent. "
            f"{s.graph_seeds} GCN2Conv and {s.graph_other_seeds} {other.upper()} seeds per head; "
            "stitching joins one network's encoder (its own anchor nodes' latents, for the "
            "relative head) to another's head, every ordered pair, accuracy on the test nodes. "
            "The paper's numbers are recalled, not confirmed, and used GCN2Conv with 32 layers "
            "of 300 channels, 500 epochs and 10% validation nodes without a test split.",
        ]
    )
