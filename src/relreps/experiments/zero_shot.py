"""Zero-shot classification across languages through paired anchors, with no training (ASIF).

ASIF (Norelli et al., NeurIPS 2023) turns two unimodal encoders and a set of paired items into a
zero-shot classifier: each side represents its inputs by sparse, sharpened similarities to its
own side of the pairs, and those sparse relative vectors are compared across sides. Here the two
"modalities" are two languages read by two different encoders: translated Debian package
descriptions (fr, de, es, ...) embedded by a multilingual reader are classified into 10 topics
against *English* topic descriptions embedded by an English encoder, through parallel
description pairs (English original, translation; never a tested package). No classifier is
trained anywhere.

Baselines in the same table: the multilingual reader comparing the foreign text with the English
topic descriptions directly (it was trained to align languages, so this is the strong reference),
the English encoder on the English originals (the templates' own ceiling), and chance (10%).

``cross_lingual.make_splits`` -> ``common.embed_all`` -> ``relreps.sparse.zero_shot_classify``
-> accuracy against the number of pairs, ``k`` and the power.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from relreps.experiments import base, common
from relreps.experiments.base import option
from relreps.experiments.report import markdown_table

__all__ = ["NAME", "Settings", "run"]

NAME = "zero-shot"
#: What each Debian section is about, in words, for the templates.
TOPIC_WORDS = {
    "admin": "system administration",
    "devel": "software development",
    "games": "games",
    "graphics": "graphics and images",
    "mail": "email",
    "net": "networking",
    "science": "science",
    "sound": "sound and audio",
    "text": "text processing",
    "web": "the web",
}
TEMPLATES = ("A program for {}.", "Software for {}.", "A tool related to {}.")


@dataclass(frozen=True)
class Settings(base.Settings):
    UNUSED = frozenset({"jobs"})

    english_encoder: str = option("minilm", help="encoder of the English side")
    foreign_encoders: tuple[str, ...] = option(
        ("use", "e5"), quick=("use",), help="multilingual readers of the translations"
    )
    languages: tuple[str, ...] = option(
        ("fr", "de", "it", "ja", "es"), quick=("fr",), help="languages of the tested texts"
    )
    test_per_class: int = option(100, quick=10, minimum=1, help="tested texts per topic")
    n_anchors: int = option(768, quick=100, minimum=2, help="description pairs (most used)")
    counts: tuple[int, ...] = option(
        (50, 100, 200, 400, 768), quick=(20, 100), minimum=1, help="pairs in the curve"
    )
    ks: tuple[int, ...] = option((10, 50, 200, 768), quick=(10, 100), minimum=1, help="top-k")
    powers: tuple[float, ...] = option((1.0, 4.0, 8.0), quick=(1.0, 8.0), above=0, help="powers")
    train_per_class: int = option(1, minimum=1, help="(unused here; keeps the split's rows)")
    split_seed: int = option(0, minimum=0, help="seed of the tested texts")
    anchor_seed: int = option(0, minimum=0, help="seed of the pairs")
    max_chars: int = option(300, minimum=0, help="cut texts to this many characters (0: whole)")

    def validate(self) -> None:
        super().validate()
        if max(self.counts) > self.n_anchors:
            raise ValueError(f"--counts must not exceed --n-anchors ({self.n_anchors}).")


def run(run: base.Run) -> base.Result:
    from relreps.datasets.debian import DEFAULT_TOPICS, load_descriptions
    from relreps.experiments.cross_lingual import make_splits
    from relreps.sparse import zero_shot_classify

    s = run.settings
    records, sha = load_descriptions(run.cache_dir / "text")
    topics = list(DEFAULT_TOPICS)
    english, topic_records, splits, _ = make_splits(run, records, topics, ("in-domain",))
    templates = [t.format(TOPIC_WORDS[topic]) for topic in topics for t in TEMPLATES]
    results: dict[str, Any] = {}
    for split in splits:
        language, test = split.language, split.test
        en_pairs, foreign_pairs = split.anchors["in-domain"]
        labels = english.labels[test]
        foreign = [topic_records[i]["text"][language] for i in test]
        originals = [english.texts[i] for i in test]
        english_side = common.embed_all(
            run, [s.english_encoder],
            {"pairs": en_pairs, "templates": templates, "originals": originals},
            label=f"zero-shot-en-{language}",
        )[s.english_encoder]  # fmt: skip
        readers = common.embed_all(
            run, s.foreign_encoders,
            {"pairs": foreign_pairs, "test": foreign, "templates": templates},
            label=f"zero-shot-{language}",
        )  # fmt: skip
        by_reader = {}
        for reader, x in readers.items():
            grid = {}
            for count in s.counts:
                for k in s.ks:
                    for power in s.powers:
                        found = zero_shot_classify(
                            x["test"], x["pairs"][:count], english_side["templates"],
                            english_side["pairs"][:count], k=min(k, count), power=power,
                            n_templates=len(TEMPLATES),
                        )  # fmt: skip
                        accuracy = 100 * float((found.predictions == labels).mean())
                        grid[f"{count}/{min(k, count)}/{power:g}"] = accuracy
            by_reader[reader] = {
                "asif": grid,
                "direct": _direct(x["test"], x["templates"], labels),
            }
        results[language] = {
            "readers": by_reader,
            "english_on_originals": _direct(
                english_side["originals"], english_side["templates"], labels
            ),
            "tested": len(test),
        }
        run.log(f"{language}: {len(test)} texts classified")
    run.facts.update(
        data={"source": "Debian bookworm descriptions + DDTP translations", "sha256": sha},
        topics=topics,
        templates=list(TEMPLATES),
    )
    table = _table(results, s)
    _figure(run, results, s)
    sections = (("Result", table + "\n\n" + _reading(results, s)), ("Setup", _setup(s, run.facts)))
    return base.Result("Zero-shot classification through paired anchors (ASIF)", table, sections,
                       {"results": results})  # fmt: skip


def _direct(queries: np.ndarray, templates: np.ndarray, labels: np.ndarray) -> float:
    """One encoder's own zero-shot: cosine to the topic descriptions, best template."""
    from relreps import relative_projection

    scores = relative_projection(queries, templates).reshape(len(queries), -1, len(TEMPLATES))
    return 100 * float((scores.max(axis=2).argmax(axis=1) == labels).mean())


def _best(grid: dict[str, float], count: int) -> tuple[str, float]:
    inside = {key: v for key, v in grid.items() if int(key.split("/")[0]) == count}
    key = max(inside, key=inside.get)
    return key, inside[key]


def _table(results: dict[str, Any], s: Settings) -> str:
    most = max(s.counts)
    rows = []
    for language, found in results.items():
        for reader, entry in found["readers"].items():
            key, best = _best(entry["asif"], most)
            _, k, power = key.split("/")
            rows.append([
                language, reader, f"{best:.1f} (k {k}, power {power})", f"{entry['direct']:.1f}",
                f"{found['english_on_originals']:.1f}", "10.0",
            ])  # fmt: skip
    headers = ["language", "reader", f"ASIF, {most} pairs (best k, power)",
               "reader alone (multilingual)", f"{s.english_encoder} on the English originals",
               "chance"]  # fmt: skip
    return markdown_table(headers, rows)


def _reading(results: dict[str, Any], s: Settings) -> str:
    lines = []
    for language, found in results.items():
        for reader, entry in found["readers"].items():
            curve = [f"{c}: {_best(entry['asif'], c)[1]:.1f}" for c in s.counts]
            lines.append(f"- {language}, {reader}: best accuracy by number of pairs: "
                         + ", ".join(curve) + ".")  # fmt: skip
    return "\n".join(lines)


def _figure(run: base.Run, results: dict[str, Any], s: Settings) -> None:
    if not run.drawing:
        return
    figure = run.figure(figsize=(5, 3.6))
    axis = figure.subplots()
    for language, found in results.items():
        for reader, entry in found["readers"].items():
            axis.plot(s.counts, [_best(entry["asif"], c)[1] for c in s.counts], "o-",
                      label=f"{language}, {reader}", markersize=3)  # fmt: skip
    axis.axhline(10, color="grey", linewidth=0.8, linestyle=":")
    axis.set_xscale("log")
    axis.set_xlabel("description pairs")
    axis.set_ylabel("zero-shot accuracy x100 (best k, power)")
    axis.legend(fontsize=7)
    figure.tight_layout()
    run.save_figure(figure, "zero_shot.png")


def _setup(s: Settings, facts: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"- tested: translations of {s.test_per_class} descriptions per topic (10 Debian "
            f"sections) in {', '.join(s.languages)}, read by {', '.join(s.foreign_encoders)}",
            f"- candidates: {len(TEMPLATES)} English templates per topic ("
            + "; ".join(TEMPLATES)
            + f"), embedded by {s.english_encoder}; best template",
            f"- pairs: up to {s.n_anchors} (English description, its translation) of packages "
            "never tested, random; sparse relative vectors keep the top k similarities, clamp "
            "at 0, raise to the power (`relreps.sparse.zero_shot_classify`)",
            f"- grid: pairs {s.counts}, k {s.ks}, power {s.powers}; accuracy x100; no training",
            *(common.encoder_lines(facts) if "encoders" in facts else []),
        ]
    )
