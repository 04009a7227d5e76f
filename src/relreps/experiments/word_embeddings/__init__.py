"""Comparing word embedding spaces, absolute vs relative (paper section 4.1, Table 1).

Two spaces embed the same words with different algorithms; their coordinates are unrelated, so
neighbourhoods and retrieval across spaces fail in absolute coordinates and work in relative
ones (cosine to the same anchor words). Default spaces, all offline: Word2Vec and FastText
trained here on a Debian-text corpus, GloVe 6B 50-d against each, and GloVe against the input
embeddings of all-MiniLM-L6-v2 (a reference pair of two general-English spaces). ``--space A
--space B`` compares any two word vector files instead (e.g. the paper's cc.en.300.vec and
GoogleNews-vectors-negative300.bin).

``datasets.corpus`` -> ``models.word_vectors`` / ``datasets.words`` -> ``select_anchors`` ->
``relative_projection`` -> ``measures.neighbourhood_agreement``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relreps.experiments import base, common
from relreps.experiments.base import option
from relreps.experiments.report import format_mean_std, markdown_table
from relreps.experiments.word_embeddings._text import differences, setup
from relreps.models.word_vectors import GLOVE, REFERENCE

__all__ = ["NAME", "Settings", "run"]

NAME = "word-embeddings"
KS = (5, 10)
FIGURE_WORDS = ("music", "water", "king", "computer", "money", "school", "river", "love")
FIELDS = ("jaccard", "mutual_knn", "mrr_xy", "mrr_yx", "cross_jaccard_xy", "cross_jaccard_yx")


@dataclass(frozen=True)
class Settings(base.Settings):
    UNUSED = frozenset({"device", "jobs"})

    seeds: int = option(10, quick=3, minimum=1, help="anchor seeds")
    n_words: int = option(20_000, quick=5_000, minimum=11, help="shared words compared")
    n_anchors: int = option(300, minimum=1, help="anchor words (the paper's)")
    skip_top: int = option(400, minimum=0, help="skip the most frequent shared words")
    min_length: int = option(4, minimum=1, help="keep alphabetic words at least this long")
    strategies: tuple[str, ...] = option(
        ("uniform", "fps", "kmeans", "top-1000", "top-5000", "top-10000"),
        quick=("uniform", "fps", "top-1000"),
        help="anchor strategies: uniform, fps, kmeans, top-N (uniform among the N most frequent)",
    )
    spaces: tuple[Path, ...] = option(
        (),
        flag="--space",
        metavar="PATH",
        help="a word vector file (.bin, .vec, .txt); give two to compare them instead",
    )
    max_tokens: int | None = option(
        None, quick=2_000_000, minimum=1, help="truncate the training corpus"
    )
    dim: int = option(100, minimum=1, help="dimension of the local Word2Vec/FastText")
    # A 7.7M-token corpus leaves the rarer of 20k words with a few dozen occurrences: 15 passes
    # (gensim's default is 5) make their vectors far less noisy (see the report).
    epochs: int = option(15, quick=5, minimum=1, help="epochs of the local Word2Vec/FastText")

    def validate(self) -> None:
        super().validate()
        if len(self.spaces) not in (0, 2):
            raise ValueError(f"--space takes exactly two files to compare, got {len(self.spaces)}.")
        for strategy in self.strategies:
            if strategy not in ("uniform", "fps", "kmeans") and _top_n(strategy) is None:
                raise ValueError(
                    f"Unknown anchor strategy {strategy!r}; use uniform, fps, kmeans or top-N "
                    "(uniform among the N most frequent words, e.g. top-1000)."
                )


def _top_n(strategy: str) -> int | None:
    digits = strategy[4:]
    return int(digits) if strategy.startswith("top-") and digits.isdigit() else None


def run(run: base.Run) -> base.Result:
    s = run.settings
    spaces = load_spaces(run)
    # The local pair first (the paper's FastText vs Word2Vec analog), then GloVe against each,
    # then GloVe against MiniLM's input embeddings: a reference pair of two spaces pretrained on
    # general English, which tells the method's limits from our corpus's.
    by_name = {space.name: space for space in spaces[2:]}
    pairs = [(spaces[0], spaces[1])]
    if GLOVE in by_name:
        pairs += [(by_name[GLOVE], spaces[0]), (by_name[GLOVE], spaces[1])]
        if REFERENCE in by_name:
            pairs.append((by_name[GLOVE], by_name[REFERENCE]))
    results: dict[str, Any] = {}
    for number, (a, b) in enumerate(pairs):
        words = aligned_words(a, b, s)
        if len(words) <= max(KS) or len(words) < s.n_anchors:
            raise ValueError(
                f"{a.name} and {b.name} share only {len(words)} words after filtering; need more "
                f"than {max(s.n_anchors, max(KS))}."
            )
        x, y = a.select(words).vectors, b.select(words).vectors
        run.log(f"{a.name} ({a.dim}-d) vs {b.name} ({b.dim}-d): {len(words):,} shared words")
        pair = {"a": a.name, "b": b.name, "n_words": len(words), "dims": [a.dim, b.dim]}
        pair["absolute"] = _scores(x, y)
        pair["relative"] = {}
        for strategy in s.strategies if number == 0 else ("uniform",):
            anchor_sets = [_anchors(run, strategy, x, seed, a, b) for seed in range(s.seeds)]
            pair["relative"][strategy] = _relative(x, y, anchor_sets, None)
            if strategy == "uniform":
                pair["relative_centred"] = _relative(x, y, anchor_sets, "anchors")
            run.log(f"  relative, {strategy} anchors: done")
        if "relative_centred" not in pair:  # uniform anchors not among the strategies
            anchor_sets = [_anchors(run, "uniform", x, seed, a, b) for seed in range(s.seeds)]
            pair["relative_centred"] = _relative(x, y, anchor_sets, "anchors")
        results[f"{a.name} vs {b.name}"] = pair
        if number == 0 and run.drawing:
            _words_figure(run, a, b, words, x, y)
    table, strategy_table = _tables(results)
    sections = (
        ("Setup", setup(s, run.facts)),
        ("Result", table),
        ("Anchor choice", strategy_table),
        ("Differences from the paper", differences(s, run.facts, results)),
    )
    return base.Result("Comparing word embedding spaces", table, sections, {"results": results})


def load_spaces(run: base.Run) -> list:
    """The word spaces to compare; facts about where they came from go to ``run.facts``."""
    from relreps.datasets.words import load_word_vectors
    from relreps.models.word_vectors import local_word_spaces

    s = run.settings
    if s.spaces:
        spaces = [load_word_vectors(path) for path in s.spaces]
    else:
        spaces, facts = local_word_spaces(
            run.cache_dir / "words", dim=s.dim, epochs=s.epochs, max_tokens=s.max_tokens,
            log=run.log,
        )  # fmt: skip
        run.facts.update(facts)
    run.facts["spaces"] = [f"{x.name}: {x.source}, {len(x):,} words x {x.dim}" for x in spaces]
    return spaces


def aligned_words(a, b, s: Settings) -> list[str]:
    """The paper's word filter on the shared vocabulary, in ``a``'s frequency order."""
    from relreps.datasets.words import shared_vocabulary

    shared, _ = shared_vocabulary(a, b)
    candidates = shared.words[s.skip_top :]
    words = [w for w in candidates if w.isalpha() and w.isascii() and len(w) >= s.min_length]
    return words[: s.n_words]


def _anchors(run: base.Run, strategy: str, x: np.ndarray, seed: int, a, b) -> np.ndarray:
    """The anchor words' rows for one strategy and seed, recorded in the run (once)."""
    from relreps import select_anchors

    top = _top_n(strategy)
    options = {"top_n": top} if top is not None else {}
    kind = "top" if top is not None else "random" if strategy == "uniform" else strategy
    source = f"the {len(x):,} compared words of {a.name} vs {b.name}, most frequent first"
    return run.anchor_rows(f"{a.name} vs {b.name}, {strategy}, seed {seed}", lambda: select_anchors(
        x, run.settings.n_anchors, kind, seed=seed, source=source, **options))  # fmt: skip


def _scores(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Neighbourhood agreement at k = 5, 10 and mean cosine (where the dims agree)."""
    from relreps.measures import mean_cosine, neighbourhood_agreement

    agreement = neighbourhood_agreement(x, y, KS)
    by_k = {field: getattr(agreement, field) for field in FIELDS}
    scores = {field: None if v is None else {str(k): v[k] for k in v} for field, v in by_k.items()}
    scores["cosine"] = mean_cosine(x, y) if x.shape[1] == y.shape[1] else None
    return scores


def _relative(x, y, anchor_sets: list[np.ndarray], center: str | None) -> dict[str, Any]:
    """:func:`_scores` of the relative spaces over each anchor set, mean ± std over the sets."""
    from relreps import relative_projection

    runs = [
        _scores(
            relative_projection(x, x[index], center=center),
            relative_projection(y, y[index], center=center),
        )
        for index in anchor_sets
    ]
    return common.aggregate(runs)


# --- tables ------------------------------------------------------------------------------------


def _cell(entry: Any, k: int | None = None) -> str:
    """A number of the results (a ``{"mean", "std"}`` or a float, by ``k`` when given)."""
    value = None if entry is None else entry[str(k)] if k is not None else entry
    return format_mean_std(value, 2, hide_small_std=True)


def _paper(row: str) -> str:
    """The paper's "Jaccard / MRR / cosine" at k = 5 for ``row``, or "" when it has none."""
    from relreps.experiments.paper import lookup

    found = {n.column: n.value for n in lookup(NAME, row)}
    return " / ".join(f"{found[c]:.2f}" for c in ("Jaccard@5", "MRR@5", "cosine")) if found else ""


def _tables(results: dict) -> tuple[str, str]:
    headers = [
        "source → target",
        "space",
        *(f"{m}@{k}" for k in KS for m in ("Jaccard", "MRR")),
        "within-space Jaccard@10",
        "cosine",
        "paper (k=5: Jaccard / MRR / cosine)",
    ]
    rows = []
    for pair in results.values():
        strategy, relative = next(iter(pair["relative"].items()))  # uniform unless not run
        label = "relative" if strategy == "uniform" else f"relative ({strategy} anchors)"
        kinds = (
            ("absolute", pair["absolute"]),
            (label, relative),
            ("relative, centred", pair["relative_centred"]),
        )
        for label, scores in kinds:
            for source, target, way in ((pair["a"], pair["b"], "xy"), (pair["b"], pair["a"], "yx")):
                kind = "relative" if label.startswith("relative") else "absolute"
                rows.append(
                    [
                        f"{source} → {target}",
                        label,
                        *(
                            _cell(scores[f"{m}_{way}"], k)
                            for k in KS
                            for m in ("cross_jaccard", "mrr")
                        ),
                        _cell(scores["jaccard"], 10),
                        _cell(scores["cosine"]),
                        "" if "centred" in label else _paper(f"{source}->{target} {kind}"),
                    ]
                )
    first = next(iter(results.values()))
    strategy_rows = [
        [
            strategy,
            _cell(scores["cross_jaccard_xy"], 5),
            _cell(scores["mrr_xy"], 5),
            _cell(scores["cosine"]),
            _paper(
                f"{first['a']}->{first['b']} relative"
                + ("" if strategy == "uniform" else f", {strategy} anchors")
            ),
        ]
        for strategy, scores in first["relative"].items()
    ]
    strategy_headers = [
        f"anchors ({first['a']} → {first['b']}, relative)",
        "Jaccard@5",
        "MRR@5",
        "cosine",
        "paper",
    ]
    return markdown_table(headers, rows), markdown_table(strategy_headers, strategy_rows)


# --- figure ------------------------------------------------------------------------------------


def _words_figure(run: base.Run, a, b, words, x, y) -> None:
    """The paper's figure: four words' neighbourhoods, absolute vs relative, in both spaces.
    Absolute spaces are unrelated: one PCA each. Relative spaces share their axes (the anchor
    words): one PCA, fitted on the first, maps both."""
    from matplotlib import colormaps
    from sklearn.decomposition import PCA

    from relreps import relative_projection
    from relreps.neighbours import top_k

    position = {w: i for i, w in enumerate(words)}
    chosen = [w for w in FIGURE_WORDS if w in position][:4]
    chosen += [w for w in words[:50] if w not in chosen][: 4 - len(chosen)]
    groups = list(top_k(x[[position[w] for w in chosen]], x, 11).indices)  # itself + 10 nearest
    rows = np.concatenate(groups)
    index = _anchors(run, "uniform", x, 0, a, b)
    spaces = {
        f"{a.name}, absolute": x[rows],
        f"{b.name}, absolute": y[rows],
        f"{a.name}, relative": relative_projection(x, x[index])[rows],
        f"{b.name}, relative": relative_projection(y, y[index])[rows],
    }
    shared = PCA(2, random_state=0).fit(spaces[f"{a.name}, relative"])
    figure = run.figure(figsize=(9, 8))
    axes = figure.subplots(2, 2).flatten()
    for axis, (title, points) in zip(axes, spaces.items(), strict=True):
        pca = shared if "relative" in title else PCA(2, random_state=0).fit(points)
        flat = pca.transform(points)
        for number, group in enumerate(groups):
            part, color = flat[number * 11 : (number + 1) * 11], colormaps["tab10"](number)
            axis.scatter(part[1:, 0], part[1:, 1], s=14, color=color, alpha=0.7)
            axis.scatter(part[0, 0], part[0, 1], s=60, color=color, marker="*", edgecolor="black")
            axis.annotate(chosen[number], part[0], fontsize=9, weight="bold")
            for point, word_row in zip(part[1:4], group[1:4], strict=True):
                axis.annotate(words[word_row], point, fontsize=6, alpha=0.8)
        axis.set_title(title, fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(
        f"The ten nearest neighbours (in {a.name}) of four words. Absolute spaces: one PCA each;\n"
        f"relative spaces over {len(index)} shared anchor words: one PCA for both",
        fontsize=9,
    )
    figure.tight_layout()
    run.save_figure(figure, "words_pca.png")
