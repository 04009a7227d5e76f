"""Which invariance stitches best: each similarity alone, their products, whitened similarities.

Cosine to anchors is one choice among several (Cannistraci et al., ICLR 2024): each similarity
undoes a different class of maps between two encoders' spaces, the right class is not known in
advance, and a product of several (each part normalised over the anchors, then concatenated or
summed) covers more. A whitened inner product, with each space's statistics fitted on its own
(parallel) training embeddings, undoes every invertible affine map (Svendsen et al., 2026); its
anchors are random training samples or learned as convex mixtures of a pool of parallel samples,
one mixture for every encoder (``relreps.nn.LearnedAnchors``).

For every representation, a head trained on encoder B's relative vectors reads encoder A's, for
every ordered pair, on the tasks this project has: Debian descriptions (10 topics) across text
encoders, and Fashion-MNIST across EfficientNet-Lite encoders and CNNs trained here. The
published finding to compare with is qualitative: no single invariance is best everywhere, and
the product is best or close.

``common.embed_all`` -> ``select_anchors`` -> ``relative_projection(similarity=...)`` /
``Whitener`` -> ``common.classification_stitching`` -> mean ± std over pairs and seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from relreps.experiments import base, common
from relreps.experiments.base import option
from relreps.experiments.report import format_mean_std, markdown_table

__all__ = ["NAME", "Settings", "run"]

NAME = "invariances"
SINGLES = ("cosine", "euclidean", "l1", "linf")
#: Every representation compared: a label and how to build it (a similarity spec, or a
#: whitened kind fitted per space).
VARIANTS = {
    "cosine": "cosine",
    "cosine, centred": "cosine",
    "euclidean": "euclidean",
    "l1": "l1",
    "linf": "linf",
    "product, concat": SINGLES,
    "product, sum": SINGLES,
    "whitened inner": "whitened:inner",
    "whitened inner, learned anchors": "whitened:inner:learned",
    "neg. Mahalanobis": "whitened:mahalanobis",
}


@dataclass(frozen=True)
class Settings(common.TaskSettings):
    domains: tuple[str, ...] = option(("text", "images"), choices=("text", "images"), help="tasks")
    variants: tuple[str, ...] = option(tuple(VARIANTS), choices=tuple(VARIANTS),
                                       help="representations compared")  # fmt: skip
    n_anchors: int = option(768, quick=100, minimum=2, help="random training samples as anchors")
    seeds: int = option(3, quick=1, minimum=1, help="seeds: anchors and heads")
    shrinkage: float = option(0.0, quick=0.5, minimum=0, help="the whiteners' shrinkage")
    pool_size: int = option(1000, quick=300, minimum=2, help="parallel pool of learned anchors")
    anchor_steps: int = option(100, quick=30, minimum=1, help="their Adam steps (lr 0.05)")
    anchor_temperature: float = option(0.1, above=0, help="their softmax temperature")

    def validate(self) -> None:
        super().validate()
        if self.shrinkage > 1:
            raise ValueError(f"--shrinkage must be at most 1, got {self.shrinkage}.")


def run(run: base.Run) -> base.Result:
    s = run.settings
    metrics, tables = {}, []
    for domain in s.domains:
        embeddings, labels, n_classes = common.task_embeddings(run, domain)
        whiteners = _whiteners(s, embeddings)
        found = {
            variant: common.matrix_summary(
                [_scores(run, domain, variant, embeddings, whiteners, labels, n_classes, seed)
                 for seed in range(s.seeds)]
            )
            for variant in s.variants
        }  # fmt: skip
        metrics[domain] = {"encoders": list(embeddings), "variants": found}
        tables.append(f"**{domain}** ({', '.join(embeddings)})\n\n" + _table(found))
    table = "\n\n".join(tables)
    sections = (("Result", table + "\n\n" + _reading(metrics)), ("Setup", _setup(s, run.facts)))
    return base.Result("Products of invariances and whitened similarities", table, sections,
                       metrics)  # fmt: skip


def _whiteners(s: Settings, embeddings) -> dict[str, Any]:
    """Each encoder's whitening statistics, fitted once on its training embeddings (the same
    inputs in every space), when a whitened variant is compared."""
    from relreps.whitening import Whitener

    if not any(str(VARIANTS[v]).startswith("whitened:") for v in s.variants):
        return {}
    return {
        encoder: Whitener(shrinkage=s.shrinkage).fit(x["train"].astype(np.float64))
        for encoder, x in embeddings.items()
    }


class _Relative:
    """One encoder's samples as a variant represents them (the ``common.Space`` face)."""

    def __init__(self, samples, anchors, similarity, center=None) -> None:
        self.samples, self.anchors = samples, anchors
        self.similarity, self.center = similarity, center

    def represent(self, mode: str) -> np.ndarray:
        from relreps import relative_projection

        out = relative_projection(self.samples, self.anchors, self.similarity, center=self.center)
        return np.asarray(out, dtype=np.float32)


def _scores(run, domain, variant, embeddings, whiteners, labels, n_classes, seed) -> np.ndarray:
    """The (encoder x head) accuracy matrix of ``variant`` at ``seed``."""
    from relreps import select_anchors
    from relreps.similarities import product_similarity
    from relreps.stitching import Accuracy

    s = run.settings
    n = len(labels["train"])
    name = f"{domain}, seed {seed}"
    if name not in run.anchor_sets:
        run.anchors(name, select_anchors(None, s.n_anchors, n_samples=n, seed=seed,
                                         source=f"the {n} training {domain}"))  # fmt: skip
    rows = np.asarray(run.anchor_sets[name]["indices"])
    spec = VARIANTS[variant]
    spaces: dict[str, dict[str, _Relative]] = {"train": {}, "test": {}}
    learned = None
    if isinstance(spec, str) and spec.endswith(":learned"):
        learned = _learned_mixture(run, domain, embeddings, whiteners, seed)
    for encoder, x in embeddings.items():
        similarity: Any = spec
        if isinstance(spec, tuple):
            aggregate = "sum" if variant.endswith("sum") else "concat"
            similarity = product_similarity(spec, aggregate=aggregate)
        elif spec.startswith("whitened:"):  # statistics of this encoder's training embeddings
            similarity = whiteners[encoder].similarity(spec.split(":")[1])
        center = "anchors" if variant.endswith("centred") else None
        anchors = x["train"][rows]
        if learned is not None:  # the same mixture of the pool in every encoder
            anchors = learned[0] @ x["train"][learned[1]]
        for split in ("train", "test"):
            spaces[split][encoder] = _Relative(x[split], anchors, similarity, center)
    return common.classification_stitching(
        spaces["train"], spaces["test"], labels["train"], labels["test"], n_classes,
        seed=seed, epochs=s.head_epochs, modes=("relative",), metric=Accuracy,
    )["relative"].scores  # fmt: skip


def _learned_mixture(run, domain, embeddings, whiteners, seed) -> tuple[np.ndarray, np.ndarray]:
    """Anchors learned as softmax mixtures of ``pool_size`` random training samples, one mixture
    shared by every encoder, with PARAM's objective without a task (Svendsen et al. 2026; its
    optional pre-training): coverage 0.95 and diversity 0.05 in each encoder's whitened space,
    plus 0.3 x the alignment of the pool's layer-normalised relative vectors across encoders.
    ``anchor_steps`` Adam steps at lr 0.05 and softmax temperature ``anchor_temperature``: the
    pre-training's 500 epochs at lr 0.01 and temperature 1 do not fit 2 cores, and at
    temperature 1 and lr 0.01 the quick run's 30 steps left the mixtures uniform over the pool
    (perplexity 299 of 300).
    Returns the ``(n_anchors, pool_size)`` weights and the pool's training rows."""
    import torch

    from relreps import select_anchors
    from relreps.models.training import seeded
    from relreps.nn import LearnedAnchors, alignment_loss, coverage_loss, diversity_loss

    s, name = run.settings, f"{domain}, seed {seed}, learned-anchor pool"
    n = len(next(iter(embeddings.values()))["train"])
    drawn = select_anchors(None, min(s.pool_size, n), n_samples=n, seed=seed,
                           source=f"the {n} training {domain}")  # fmt: skip
    pool = run.anchors(name, drawn).indices
    spaces = []
    for encoder, x in embeddings.items():
        whitened = whiteners[encoder].transform(x["train"][pool])
        spaces.append(torch.as_tensor(whitened, dtype=torch.float32))
    with seeded(seed):
        k, temperature = min(s.n_anchors, len(pool)), s.anchor_temperature
        learned = LearnedAnchors(spaces, k, temperature=temperature, seed=seed)
        optimiser = torch.optim.Adam(learned.parameters(), lr=0.05)
        for _ in range(s.anchor_steps):
            anchors = learned()
            loss = sum(0.95 * coverage_loss(z, a) + 0.05 * diversity_loss(a)
                       for z, a in zip(spaces, anchors, strict=True)) / len(spaces)  # fmt: skip
            relative = [torch.nn.functional.layer_norm(z @ a.T, (a.shape[0],))
                        for z, a in zip(spaces, anchors, strict=True)]  # fmt: skip
            pairs = [(i, j) for i in range(len(spaces)) for j in range(i + 1, len(spaces))]
            if pairs:
                loss = loss + 0.3 * sum(alignment_loss(relative[i], relative[j])
                                        for i, j in pairs) / len(pairs)  # fmt: skip
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        weights = learned.mixture().detach().double().numpy()
    # how many pool samples each anchor mixes, as the perplexity of its weights
    perplexity = np.exp(-(weights * np.log(weights + 1e-300)).sum(axis=1))
    run.facts.setdefault("learned_anchors", {})[name] = {
        "pool": len(pool), "anchors": len(weights), "steps": s.anchor_steps,
        "final_loss": float(loss.detach()), "mean_perplexity": float(perplexity.mean()),
    }  # fmt: skip
    return weights, np.asarray(pool)


def _table(found: dict[str, Any]) -> str:
    rows = [
        [variant, format_mean_std(e["stitched"], 1), format_mean_std(e["non_stitched"], 1)]
        for variant, e in found.items()
    ]
    return markdown_table(["representation (accuracy x100)", "stitched", "non-stitched"], rows)


def _reading(metrics: dict[str, Any]) -> str:
    lines = []
    for domain, found in metrics.items():
        stitched = {v: e["stitched"]["mean"] for v, e in found["variants"].items()}
        order = sorted(stitched, key=stitched.get, reverse=True)
        singles = [v for v in order if v in SINGLES]
        line = f"- {domain}: ranking {', '.join(f'{v} ({stitched[v]:.1f})' for v in order)}."
        if singles:
            line += f" Best single similarity: {singles[0]}."
        lines.append(line)
    lines.append(
        "- The published finding (Cannistraci et al.) is qualitative: no single invariance is best "
        "across models and modalities, and the product is best or close to it."
    )
    return "\n".join(lines)


def _perplexity(facts: dict[str, Any]) -> str:
    values = [e["mean_perplexity"] for e in facts.get("learned_anchors", {}).values()]
    if not values:
        return "(not run)"
    low, high = f"{min(values):.1f}", f"{max(values):.1f}"
    return low if low == high else f"{low}-{high}"


def _setup(s: Settings, facts: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"- {s.n_anchors} random training samples as anchors, {s.seeds} seeds; products: "
            f"{', '.join(SINGLES)}, each part layer-normalised over the anchors "
            "(`relreps.similarities.product_similarity`)",
            "- whitened: each encoder's statistics fitted on its own training embeddings (the "
            f"same inputs in every space), shrinkage {s.shrinkage} (`relreps.whitening`)",
            f"- learned anchors: {s.n_anchors} softmax mixtures of {s.pool_size} random training "
            "samples, one mixture for every encoder (`relreps.nn.LearnedAnchors`), trained with "
            "PARAM's objective without the task (coverage 0.95, diversity 0.05 in each whitened "
            f"space, alignment across encoders 0.3), {s.anchor_steps} Adam steps at lr 0.05, "
            f"temperature {s.anchor_temperature}; each anchor mixes "
            + _perplexity(facts)
            + " pool samples (perplexity of its weights)",
            "- a head (" + common.HEAD + f", {s.head_epochs} epochs) per encoder on its relative "
            "vectors reads every other encoder's test vectors; accuracy x100, mean ± std over "
            "ordered pairs and seeds",
            *(
                [
                    f"- text: Debian descriptions, 10 topics, {s.train_per_class} / "
                    f"{s.test_per_class} per topic, encoders {', '.join(s.text_encoders)}"
                ]
                if "text" in s.domains
                else []
            ),
            *(
                [
                    f"- images: Fashion-MNIST, {s.train_size} / {s.test_size} images, "
                    f"{', '.join(s.image_encoders)} at {s.resolution} px and {s.cnn_seeds} CNNs"
                ]
                if "images" in s.domains
                else []
            ),
            *(common.encoder_lines(facts) if "encoders" in facts else []),
        ]
    )
