"""Translating between latent spaces against relative stitching, on the same tasks.

For every ordered pair of encoders (A, B) a classifier trained on B's *absolute* embeddings reads
A's test samples: as they are (absolute stitching), through each translator fitted on parallel
anchors (``relreps.translation``: Procrustes and its relatives, least squares, affine, ridge, the
paper's gradient-descent affine, and the inverse relative projection), and, for comparison, the
paper's relative stitching (heads trained on relative representations). The same for image
autoencoders: A's latents, translated, go to B's absolute decoder. Three domains:

- text: Debian package descriptions (10 topics) with MiniLM, MPNet, USE and e5;
- images: Fashion-MNIST with EfficientNet-Lite0/1/2 and small CNNs trained here;
- autoencoders: the absolute AEs of ``ae-stitching`` (and its relative AE as the baseline).

``common.embed_all`` / ``common.cnn_encoders`` -> ``select_anchors`` -> ``Translator`` ->
``common.train_heads`` -> scores over pairs and seeds -> a curve over the number of anchors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from relreps.experiments import base, common
from relreps.experiments.base import option
from relreps.experiments.report import curve_figure, format_mean_std, markdown_table

__all__ = ["NAME", "Settings", "run"]

NAME = "translation"
TRANSLATORS = (
    "ortho", "scaled-ortho", "linear", "l-ortho", "affine", "ridge", "affine-sgd", "relative",
)  # fmt: skip
RELATIVE_MODES = ("relative", "relative-centred")
MODE_LABELS = {"absolute": "absolute", "relative": "relative stitching",
               "relative-centred": "relative stitching, centred"}  # fmt: skip
_SCALINGS = ("standard", "isotropic", "center", "none")


def _label(kind: str, name: str) -> str:
    """A report row: the paper's modes by their labels, translators by name (the inverse
    relative projection spelled out, not to be confused with relative stitching)."""
    if kind == "mode":
        return MODE_LABELS[name]
    return "inverse relative projection" if name == "relative" else name


@dataclass(frozen=True)
class Settings(common.TaskSettings):
    domains: tuple[str, ...] = option(
        ("text", "images", "autoencoders"), choices=("text", "images", "autoencoders"),
        help="tasks",
    )  # fmt: skip
    methods: tuple[str, ...] = option(TRANSLATORS, choices=TRANSLATORS, help="translators")
    scaling: str = option("standard", choices=_SCALINGS, help="each side's normalisation")
    n_anchors: int = option(1000, quick=200, minimum=2, help="parallel anchors (random)")
    anchor_counts: tuple[int, ...] = option(
        (25, 50, 100, 200, 500, 1000, 2000), quick=(25, 200), minimum=2,
        help="anchor counts of the curve",
    )  # fmt: skip
    seeds: int = option(3, quick=1, minimum=1, help="seeds: anchors and heads")
    ae_train_size: int = option(10_000, quick=2_000, minimum=10, help="AE training images")
    ae_epochs: int = option(3, quick=1, minimum=1, help="AE epochs")
    ae_seeds: int = option(3, quick=2, minimum=2, help="AE seeds")

    def validate(self) -> None:
        super().validate()
        if len(self.text_encoders) < 2 and "text" in self.domains:
            raise ValueError("--text-encoders needs at least two encoders.")


def run(run: base.Run) -> base.Result:
    s = run.settings
    tables, metrics = [], {}
    for domain in s.domains:
        if domain == "autoencoders":
            found = _autoencoders(run)
        else:
            embeddings, labels, n_classes = common.task_embeddings(run, domain)
            found = _classification(run, domain, embeddings, labels, n_classes)
        metrics[domain] = found
        tables.append(f"**{domain}**\n\n" + _table(found, domain))
    _figure(run, metrics)
    table = "\n\n".join(tables)
    sections = (
        ("Result", table + "\n\n" + _reading(metrics)),
        ("Setup", _setup(s, run.facts)),
    )
    return base.Result("Latent space translation against relative stitching", table, sections,
                       metrics)  # fmt: skip


# --- classification ----------------------------------------------------------------------------


def _classification(run: base.Run, domain: str, x, y, n_classes) -> dict[str, Any]:
    """Every mode and translator at ``n_anchors``, then the best three over ``anchor_counts``."""
    from relreps.stitching import Accuracy, stitch_representations

    s, heads = run.settings, {}

    def scores(kind: str, mode: str, count: int, seed: int) -> np.ndarray:
        """The (encoder x head) accuracy matrix of a ``"mode"`` of the paper's stitching or a
        ``"translator"`` at ``count`` anchors and ``seed``."""
        rows = _rows(run, domain, count, len(y["train"]), seed, f"training {domain}")
        if kind == "mode":
            spaces = {split: {e: common.Space(v[split], v["train"][rows]) for e, v in x.items()}
                      for split in ("train", "test")}  # fmt: skip
            return common.classification_stitching(
                spaces["train"], spaces["test"], y["train"], y["test"], n_classes,
                seed=seed, epochs=s.head_epochs, modes=(mode,), metric=Accuracy,
            )[mode].scores  # fmt: skip
        if seed not in heads:
            heads[seed] = common.train_heads({e: common.Space(v["train"]) for e, v in x.items()},
                y["train"], n_classes, "absolute", seed=seed, epochs=s.head_epochs)[0]  # fmt: skip
        return stitch_representations(
            {e: v["test"] for e, v in x.items()}, heads[seed], y["test"], Accuracy,
            translate=_translate(mode, {e: v["train"][rows] for e, v in x.items()}, s.scaling,
                                 seed, np.float32),
        ).scores  # fmt: skip

    kinds = [("mode", m) for m in ("absolute", *RELATIVE_MODES)]
    kinds += [("translator", m) for m in s.methods]
    summaries = {
        (kind, name): common.matrix_summary(
            [scores(kind, name, s.n_anchors, seed) for seed in range(s.seeds)]
        )
        for kind, name in kinds
    }
    ranked = sorted(
        (k for k in summaries if k != ("mode", "absolute") and summaries[k]["stitched"]),
        key=lambda k: summaries[k]["stitched"]["mean"],
        reverse=True,
    )[:3]
    curve = {
        _label(kind, name): {
            str(count): common.matrix_summary(
                [scores(kind, name, count, seed) for seed in range(s.seeds)]
            )["stitched"]
            for count in s.anchor_counts
            if count <= len(y["train"])
        }
        for kind, name in ranked
    }
    by_method = {_label(*key): summary for key, summary in summaries.items()}
    best = [_label(*key) for key in ranked]
    return {"encoders": list(x), "methods": by_method, "curve": curve, "best": best}


def _rows(run: base.Run, name: str, count: int, n: int, seed: int, samples: str) -> np.ndarray:
    from relreps import select_anchors

    return run.anchor_rows(f"{name}, {count} anchors, seed {seed}", lambda: select_anchors(
        None, count, n_samples=n, seed=seed, source=f"the {n} {samples}"))  # fmt: skip


def _translate(method: str, anchors: dict, scaling: str, seed: int, dtype: Any = None):
    """For :func:`~relreps.stitching.stitch_representations`: each pair's translator, fitted on
    the two encoders' parallel ``anchors``, applied to the source's representation."""

    def translate(a: str, b: str, x: np.ndarray) -> np.ndarray:
        out = _translator(method, anchors[a], anchors[b], scaling, seed).transform(x)
        return out if dtype is None else np.asarray(out, dtype)

    return translate


def _translator(method: str, source: np.ndarray, target: np.ndarray, scaling: str, seed: int):
    import warnings

    from relreps.translation import Translator

    with warnings.catch_warnings():  # under-determined fits are reported by the anchor curve
        warnings.simplefilter("ignore", UserWarning)
        options = {"seed": seed} if method == "affine-sgd" else {}
        return Translator(method, scaling=scaling, **options).fit(
            source.astype(np.float64), target.astype(np.float64)
        )


# --- autoencoders ------------------------------------------------------------------------------


def _autoencoders(run: base.Run) -> dict[str, Any]:
    """Absolute AEs from a nested ``ae-stitching`` run (with its relative AE as the baseline);
    A's latents of the test images, translated, decoded by B's decoder: MSE x10³."""
    import relreps.experiments as experiments
    from relreps.datasets.images import load_image_dataset
    from relreps.models.autoencoders import load_autoencoder

    s = run.settings
    nested = experiments.run(
        "ae-stitching", variants=("ae", "rel-ae"), train_size=s.ae_train_size, test_size=2_000,
        epochs=s.ae_epochs, seeds=s.ae_seeds, figures=False, progress=s.progress, jobs=s.jobs,
        out=run.out / "autoencoders", data_dir=s.data_dir,
    )  # fmt: skip
    models = {
        entry["file"]: load_autoencoder(run.out / "autoencoders" / "models" / entry["file"])[0]
        for entry in nested.metrics["models"]
        if entry["file"].startswith("ae-seed")
    }
    data = load_image_dataset(s.data_dir).subset(s.ae_train_size, 2_000, seed=0)
    train, test = data.tensor("train"), data.tensor("test")
    with torch.inference_mode():
        latents = {n: (m.embed(train).double().numpy(), m.embed(test).double().numpy())
                   for n, m in models.items()}  # fmt: skip
    by_method: dict[str, Any] = {}
    mse = nested.metrics["mse_x1e3"]
    for mode, variant in (("absolute", "ae"), ("relative", "rel-ae")):
        entry = mse[variant]
        by_method[_label("mode", mode)] = {
            k: {"mean": entry[f"{k}_mean"], "std": entry[f"{k}_std"]}
            for k in ("non_stitched", "stitched")
        }
    curve: dict[str, dict[str, Any]] = {}
    for method in s.methods:
        for count in sorted({s.n_anchors, *s.anchor_counts}):
            if count > len(train):
                continue
            runs = [
                _ae_scores(models, latents, _rows(run, "autoencoders", count, len(train), seed,
                           "AE training images"), test, method, s.scaling, seed)
                for seed in range(s.seeds)
            ]  # fmt: skip
            summary = common.matrix_summary(runs)
            if count == s.n_anchors:
                by_method[_label("translator", method)] = summary
            curve.setdefault(_label("translator", method), {})[str(count)] = summary["stitched"]
    ranked = sorted(
        (m for m in by_method if m not in MODE_LABELS.values()),
        key=lambda m: by_method[m]["stitched"]["mean"],
    )[:3]
    return {
        "encoders": list(models),
        "methods": by_method,
        "curve": {m: curve[m] for m in ranked},
        "best": ranked,
        "lower_is_better": True,
    }


def _ae_scores(models, latents, rows, test, method, scaling, seed) -> np.ndarray:
    from relreps.stitching import MeanMetric, squared_error, stitch_representations

    return stitch_representations(
        {n: test_latents for n, (_, test_latents) in latents.items()},
        {n: lambda z, m=m: m.decode(z.float()) for n, m in models.items()}, test,
        partial(MeanMetric, squared_error, scale=1e3),
        translate=_translate(method, {n: t[rows] for n, (t, _) in latents.items()}, scaling, seed),
    ).scores  # fmt: skip


# --- report ------------------------------------------------------------------------------------


def _table(found: dict[str, Any], domain: str) -> str:
    from relreps.experiments.paper import lookup

    lower = found.get("lower_is_better", False)
    unit = "MSE x10³ (lower is better)" if lower else "accuracy x100"
    column = {"images": "F-MNIST", "text": "TREC"}.get(domain)
    paper = {n.row: n.value for n in lookup(NAME, column=column)} if column else {}
    rows = []
    for method, entry in found["methods"].items():
        stitched, same = entry["stitched"], entry["non_stitched"]
        kept = "" if lower or not same or not stitched else f"{stitched['mean'] / same['mean']:.0%}"
        row = [method, format_mean_std(stitched, 1), format_mean_std(same, 1), kept]
        rows.append(row + ([_paper(paper, method)] if column else []))
    headers = [f"method ({unit})", "stitched", "non-stitched", "stitched / non-stitched"]
    if column:
        headers.append(f"paper [T], {column} (its non-stitched: {_paper(paper, 'non-stitched')})")
    return markdown_table(headers, rows)


def _paper(paper: dict[str, float], method: str) -> str:
    value = paper.get(method)
    return "" if value is None else f"{100 * value:.0f}"  # the transcription gives fractions


def _mean(entry: dict[str, Any]) -> float:
    """The stitched mean, NaN where undefined (absolute stitching between different widths)."""
    return entry["stitched"]["mean"] if entry["stitched"] else float("nan")


def _reading(metrics: dict[str, Any]) -> str:
    lines = []
    for domain, found in metrics.items():
        methods = found["methods"]
        lower = found.get("lower_is_better", False)
        defined = [m for m in methods if _mean(methods[m]) == _mean(methods[m])]
        order = sorted(defined, key=lambda m: _mean(methods[m]), reverse=not lower)
        absolute = _mean(methods["absolute"])
        line = f"- {domain}: best {order[0]} ({_mean(methods[order[0]]):.1f}); ranking: "
        line += ", ".join(order) + "."
        if absolute == absolute:
            beat = [
                m for m in defined if m != "absolute"
                and (_mean(methods[m]) < absolute if lower else _mean(methods[m]) > absolute)
            ]  # fmt: skip
            line += (
                f" {len(beat)} of {len(defined) - 1} methods beat absolute stitching "
                f"({absolute:.1f}) on the pairs where it is defined."
            )
        else:
            line += " Absolute stitching is undefined here (the widths differ)."
        lines.append(line)
    return "\n".join(lines)


def _figure(run: base.Run, metrics: dict[str, Any]) -> None:
    unit = {True: "MSE x10³", False: "stitched accuracy x100"}
    panels = {d: (unit[f.get("lower_is_better", False)], f["curve"]) for d, f in metrics.items()}
    curve_figure(run, panels, "translation.png", xlabel="parallel anchors")


def _setup(s: Settings, facts: dict[str, Any]) -> str:
    domains = {  # only the domains this run covered are described
        "text": f"- text: Debian descriptions, 10 topics, {s.train_per_class} / "
        f"{s.test_per_class} per topic, encoders {', '.join(s.text_encoders)}",
        "images": f"- images: Fashion-MNIST, {s.train_size} / {s.test_size} images, "
        f"{', '.join(s.image_encoders)} at {s.resolution} px and {s.cnn_seeds} CNNs (width 32, "
        f"{s.cnn_epochs} epochs)",
        "autoencoders": f"- autoencoders: `ae-stitching` with {s.ae_seeds} seeds, "
        f"{s.ae_train_size} images, {s.ae_epochs} epochs (report under `autoencoders/`); MSE "
        "x10³ on 2,000 test images",
    }
    return "\n".join(
        [
            f"- translators: {', '.join(s.methods)}; scaling `{s.scaling}` (each side by its own "
            f"anchors); {s.n_anchors} random training samples as parallel anchors, {s.seeds} seeds",
            "- classification: a head (" + common.HEAD + f", {s.head_epochs} epochs) trained on "
            "each encoder's absolute embeddings reads every other encoder's test embeddings, "
            "translated; 'relative' and 'relative-centred' are the paper's stitching (heads "
            "trained on relative representations with the same anchors); accuracy x100, mean ± "
            "std over ordered pairs and seeds",
            *(line for domain, line in domains.items() if domain in s.domains),
            "- curve: stitched score of the three best methods against the number of anchors",
            *(common.encoder_lines(facts) if "encoders" in facts else []),
        ]
    )
