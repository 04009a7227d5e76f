"""Comparing word embedding spaces, absolute vs relative (paper section 4.1, Table 1).

Two spaces embed the same words with different algorithms; their coordinates are unrelated, so
neighbourhoods and retrieval across spaces fail in absolute coordinates and work in relative
ones (cosine to the same anchor words). Default spaces, all offline: Word2Vec and FastText
trained here on a Debian-text corpus, GloVe 6B 50-d against each, and GloVe against the input
embeddings of all-MiniLM-L6-v2 (a reference pair of two general-English spaces);
``--space A --space B`` compares any two
word vector files instead (e.g. the paper's cc.en.300.vec and GoogleNews-vectors-negative300.bin).

Composition only: ``datasets.corpus`` -> ``models.word_vectors`` / ``datasets.words`` ->
``select_anchors`` -> ``relative_projection`` -> ``measures`` -> ``experiments.report``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relreps.experiments.report import pyplot, save_figure

NAME = "word-embeddings"
QUICK = {
    "seeds": 3,
    "n_words": 5_000,
    "strategies": ("uniform", "fps", "top-1000"),
    "max_tokens": 2_000_000,
    "epochs": 5,
}
FULL = {
    "seeds": 10,
    "n_words": 20_000,
    "strategies": ("uniform", "fps", "kmeans", "top-1000", "top-5000", "top-10000"),
    "max_tokens": None,
    # A 7.7M-token corpus leaves the rarer of 20k words with a few dozen occurrences: 15 passes
    # over it (gensim's default is 5) make their vectors far less noisy (see the report).
    "epochs": 15,
}
KS = (5, 10)
GLOVE = "GloVe-50d"
REFERENCE = "MiniLM-tokens"  # all-MiniLM-L6-v2's input embedding table (general English)
PAPER = {  # PAPER.md, Table 1 [repo], k = 5: Jaccard, MRR, cosine
    ("FastText", "Word2Vec", "absolute"): (0.00, 0.00, 0.01),
    ("FastText", "Word2Vec", "relative"): (0.38, 0.93, 0.86),
    ("Word2Vec", "FastText", "absolute"): (0.00, 0.00, 0.01),
    ("Word2Vec", "FastText", "relative"): (0.44, 0.97, 0.86),
}
PAPER_STRATEGIES = {  # FT -> W2V relative, k = 5
    "fps": (0.38, 0.94, 0.81),
    "kmeans": (0.39, 0.94, 0.87),
    "top-1000": (0.30, 0.84, 0.85),
    "top-5000": (0.36, 0.91, 0.86),
    "top-10000": (0.37, 0.93, 0.86),
}
FIGURE_WORDS = ("music", "water", "king", "computer", "money", "school", "river", "love")


@dataclass(frozen=True)
class Settings:
    quick: bool
    seeds: int
    n_words: int
    n_anchors: int
    skip_top: int
    min_length: int
    strategies: tuple[str, ...]
    spaces: tuple[str, ...]
    max_tokens: int | None
    dim: int
    epochs: int
    cache_dir: Path
    out: Path
    figures: bool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="2M-token corpus, 5k words, 3 seeds, 3 anchor strategies")  # fmt: skip
    parser.add_argument("--space", action="append", default=[], metavar="PATH",
                        help="a word vector file (.bin, .vec, .txt); give two to compare them "
                        "instead of the default spaces")  # fmt: skip
    parser.add_argument("--seeds", type=int, help="anchor seeds (default 10; quick 3)")
    parser.add_argument(
        "--n-words", type=int, help="shared words compared (default 20000; quick 5000)"
    )
    parser.add_argument("--n-anchors", type=int, default=300)
    parser.add_argument("--skip-top", type=int, default=400, help="skip the most frequent words")
    parser.add_argument("--min-length", type=int, default=4, help="keep alphabetic words this long")
    parser.add_argument(
        "--strategies", nargs="+", help="anchor strategies: uniform fps kmeans top-N"
    )
    parser.add_argument("--max-tokens", type=int, help="truncate the training corpus (tests)")
    parser.add_argument(
        "--dim", type=int, default=100, help="dimension of the local Word2Vec/FastText"
    )
    parser.add_argument(
        "--epochs", type=int, help="epochs of the local Word2Vec/FastText (default 15; quick 5)"
    )
    parser.add_argument("--cache-dir", type=Path, help="corpus and trained vectors "
                        "(default $RELREPS_CACHE or ~/.cache/relreps)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("results") / NAME)
    parser.add_argument("--no-figures", action="store_true")


def settings_from(options: argparse.Namespace) -> Settings:
    defaults = QUICK if options.quick else FULL
    if len(options.space) not in (0, 2):
        raise ValueError(f"--space takes exactly two files to compare, got {len(options.space)}.")
    strategies = tuple(options.strategies or defaults["strategies"])
    for strategy in strategies:
        if strategy not in ("uniform", "fps", "kmeans") and not _top_n(strategy):
            raise ValueError(
                f"Unknown anchor strategy {strategy!r}; use uniform, fps, kmeans or top-N "
                "(uniform among the N most frequent words, e.g. top-1000)."
            )
    cache = options.cache_dir or Path(
        os.environ.get("RELREPS_CACHE", Path.home() / ".cache" / "relreps")
    )
    settings = Settings(
        quick=options.quick,
        seeds=options.seeds or defaults["seeds"],
        n_words=options.n_words or defaults["n_words"],
        n_anchors=options.n_anchors,
        skip_top=options.skip_top,
        min_length=options.min_length,
        strategies=strategies,
        spaces=tuple(options.space),
        max_tokens=options.max_tokens or defaults["max_tokens"],
        dim=options.dim,
        epochs=defaults["epochs"] if options.epochs is None else options.epochs,
        cache_dir=Path(cache),
        out=Path(options.out),
        figures=not options.no_figures,
    )
    if settings.n_anchors < 1 or settings.seeds < 1 or settings.epochs < 1:
        raise ValueError("--n-anchors, --seeds and --epochs must be positive.")
    return settings


def _top_n(strategy: str) -> int | None:
    if strategy.startswith("top-") and strategy[4:].isdigit():
        return int(strategy[4:])
    return None


def _log(message: str) -> None:
    print(f"[{NAME}] {message}", flush=True)


# --- spaces ------------------------------------------------------------------------------------


def load_spaces(settings: Settings) -> tuple[list, dict[str, Any]]:
    """The word spaces to compare and facts about where they came from."""
    from relreps.datasets.words import (
        load_glove_6b_50d,
        load_minilm_token_embeddings,
        load_word_vectors,
    )

    if settings.spaces:
        spaces = [load_word_vectors(path) for path in settings.spaces]
        return spaces, {"spaces": [s.source for s in spaces]}

    from relreps.datasets.corpus import build_english_corpus
    from relreps.models.word_vectors import WordVectorConfig, trained_word_vectors

    words_cache = settings.cache_dir / "words"
    corpus = build_english_corpus(words_cache, max_tokens=settings.max_tokens, log=_log)
    _log(f"corpus: {corpus.n_tokens:,} tokens, sha256 {corpus.sha256[:12]}")
    spaces = []
    # Different seeds: gensim seeds each word's initial vector from (word, seed), so the same seed
    # would start both models from the same vectors and leave them correlated.
    for seed, (algorithm, name) in enumerate((("fasttext", "FastText"), ("word2vec", "Word2Vec"))):
        config = WordVectorConfig(
            algorithm=algorithm, dim=settings.dim, epochs=settings.epochs, seed=seed
        )
        space = trained_word_vectors(corpus.path, corpus.sha256, config, words_cache, log=_log)
        spaces.append(_renamed(space, name))
    try:
        spaces.append(_renamed(load_glove_6b_50d(), GLOVE))
    except ImportError as error:
        _log(f"GloVe-6B-50d unavailable, comparing the local pair only: {error}")
    else:
        try:
            spaces.append(_renamed(load_minilm_token_embeddings(), REFERENCE))
        except (ImportError, ValueError) as error:  # missing, or a broken model folder
            _log(f"MiniLM token embeddings unavailable, no reference pair: {error}")
    facts = {
        "corpus": {
            "tokens": corpus.n_tokens,
            "lines": corpus.n_lines,
            "sources": corpus.sources,
            "sha256": corpus.sha256,
            "notes": list(corpus.notes),
        },
        "spaces": [f"{s.name}: {s.source}, {len(s):,} words x {s.dim}" for s in spaces],
    }
    return spaces, facts


def _renamed(space, name: str):
    from relreps.datasets.words import WordSpace

    return WordSpace(name, space.words, space.vectors, space.source)


def aligned_words(a, b, settings: Settings) -> list[str]:
    """The paper's word filter on the shared vocabulary, in ``a``'s frequency order."""
    from relreps.datasets.words import shared_vocabulary

    shared, _ = shared_vocabulary(a, b)
    candidates = shared.words[settings.skip_top :]
    words = [w for w in candidates if w.isalpha() and w.isascii() and len(w) >= settings.min_length]
    return words[: settings.n_words]


# --- measures ----------------------------------------------------------------------------------


def _anchor_indices(strategy: str, x: np.ndarray, n_anchors: int, seed: int) -> np.ndarray:
    from relreps import select_anchors

    top = _top_n(strategy)
    if top is not None:
        if top < n_anchors:
            raise ValueError(
                f"{strategy}: fewer candidate words ({top}) than anchors ({n_anchors})."
            )
        return select_anchors(x[: min(top, len(x))], n_anchors, "random", seed=seed).indices
    return select_anchors(
        x, n_anchors, "random" if strategy == "uniform" else strategy, seed=seed
    ).indices


def _scores(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Neighbourhood agreement at k = 5, 10 and mean cosine (where the dims agree)."""
    from relreps.measures import mean_cosine, neighbourhood_agreement

    agreement = neighbourhood_agreement(x, y, KS)

    def by_k(values: dict[int, float] | None) -> dict[str, float] | None:
        return None if values is None else {str(k): v for k, v in values.items()}

    return {
        "jaccard": by_k(agreement.jaccard),
        "mutual_knn": by_k(agreement.mutual_knn),
        "mrr_xy": by_k(agreement.mrr_xy),
        "mrr_yx": by_k(agreement.mrr_yx),
        "cross_jaccard_xy": by_k(agreement.cross_jaccard_xy),
        "cross_jaccard_yx": by_k(agreement.cross_jaccard_yx),
        "cosine": mean_cosine(x, y) if x.shape[1] == y.shape[1] else None,
    }


def _relative_scores(x, y, strategy, settings, center) -> list[dict[str, Any]]:
    from relreps import relative_projection

    runs = []
    for seed in range(settings.seeds):
        index = _anchor_indices(strategy, x, settings.n_anchors, seed)
        rx = relative_projection(x, x[index], center=center)
        ry = relative_projection(y, y[index], center=center)
        runs.append(_scores(rx, ry))
    return runs


FIELDS = ("jaccard", "mutual_knn", "mrr_xy", "mrr_yx", "cross_jaccard_xy", "cross_jaccard_yx")


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std over seeds of every number in the runs (None stays None)."""

    def collect(getter):
        values = [getter(run) for run in runs]
        if any(v is None for v in values):
            return None
        return {"mean": float(np.mean(values)), "std": float(np.std(values))}

    out: dict[str, Any] = {}
    for field in FIELDS:
        if runs[0].get(field) is None:
            out[field] = None
            continue
        out[field] = {str(k): collect(lambda run, f=field, k=k: run[f][str(k)]) for k in KS}
    out["cosine"] = collect(lambda run: run["cosine"])
    return out


def run_experiment(settings: Settings, info) -> dict[str, Any]:
    from relreps.experiments.report import write_outputs

    spaces, facts = load_spaces(settings)
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
    figure_data = None
    for number, (a, b) in enumerate(pairs):
        words = aligned_words(a, b, settings)
        if len(words) <= max(KS) or len(words) < settings.n_anchors:
            raise ValueError(
                f"{a.name} and {b.name} share only {len(words)} words after filtering; need more "
                f"than {max(settings.n_anchors, max(KS))}."
            )
        x, y = a.select(words).vectors, b.select(words).vectors
        _log(f"{a.name} ({a.dim}-d) vs {b.name} ({b.dim}-d): {len(words):,} shared words")
        pair = {"a": a.name, "b": b.name, "n_words": len(words), "dims": [a.dim, b.dim]}
        pair["absolute"] = _scores(x, y)
        strategies = settings.strategies if number == 0 else ("uniform",)
        pair["relative"] = {}
        for strategy in strategies:
            pair["relative"][strategy] = _summarise(
                _relative_scores(x, y, strategy, settings, None)
            )
            _log(f"  relative, {strategy} anchors: done")
        pair["relative_centred"] = _summarise(
            _relative_scores(x, y, "uniform", settings, "anchors")
        )
        results[f"{a.name} vs {b.name}"] = pair
        if number == 0:
            figure_data = (a, b, words, x, y)

    figures = []
    if settings.figures and figure_data is not None:
        figures.append(_words_figure(settings, *figure_data))
    info.finish()
    table, strategy_table = _tables(results, settings)
    sections = _report_sections(settings, facts, table, strategy_table, figures)
    sections.insert(3, ("Differences from the paper", _differences(settings, facts, results)))
    metrics = {
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()
        },
        "data": facts,
        "paper_k5": {f"{a}->{b} {kind}": v for (a, b, kind), v in PAPER.items()},
        "results": results,
    }
    report = write_outputs(settings.out, "Comparing word embedding spaces", sections, metrics, info)
    return {"table": table, "strategy_table": strategy_table, "report": report, "results": results}


# --- tables ------------------------------------------------------------------------------------


def _fmt(entry, k: int | None = None) -> str:
    if entry is None:
        return "-"
    value = entry[str(k)] if k is not None else entry
    if value is None:
        return "-"
    if isinstance(value, dict):
        return (
            f"{value['mean']:.2f} ± {value['std']:.2f}"
            if value["std"] >= 0.005
            else f"{value['mean']:.2f}"
        )
    return f"{value:.2f}"


def _direction_rows(pair: dict, relative: dict, label: str) -> list[list[str]]:
    rows = []
    for source, target, way in ((pair["a"], pair["b"], "xy"), (pair["b"], pair["a"], "yx")):
        cells = [f"{source} → {target}", label]
        for k in KS:
            cells += [
                _fmt(relative.get(f"cross_jaccard_{way}"), k),
                _fmt(relative[f"mrr_{way}"], k),
            ]
        cells += [_fmt(relative["jaccard"], 10), _fmt(relative["cosine"])]
        paper = PAPER.get(
            (source, target, "relative" if label.startswith("relative") else "absolute")
        )
        cells.append(
            " / ".join(f"{v:.2f}" for v in paper) if paper and "centred" not in label else ""
        )
        rows.append(cells)
    return rows


def _tables(results: dict, settings: Settings) -> tuple[str, str]:
    from relreps.experiments.report import markdown_table

    headers = ["source → target", "space"]
    for k in KS:
        headers += [f"Jaccard@{k}", f"MRR@{k}"]
    headers += ["within-space Jaccard@10", "cosine", "paper (k=5: Jaccard / MRR / cosine)"]
    rows = []
    for pair in results.values():
        rows += _direction_rows(pair, pair["absolute"], "absolute")
        strategy, relative = next(iter(pair["relative"].items()))  # uniform unless not run
        label = "relative" if strategy == "uniform" else f"relative ({strategy} anchors)"
        rows += _direction_rows(pair, relative, label)
        rows += _direction_rows(pair, pair["relative_centred"], "relative, centred")
    table = markdown_table(headers, rows)

    first = next(iter(results.values()))
    strategy_rows = []
    for strategy, scores in first["relative"].items():
        paper = None
        if (first["a"], first["b"]) == ("FastText", "Word2Vec"):
            paper = PAPER_STRATEGIES.get(strategy, PAPER[("FastText", "Word2Vec", "relative")])
        strategy_rows.append(
            [
                strategy,
                _fmt(scores.get("cross_jaccard_xy"), 5),
                _fmt(scores["mrr_xy"], 5),
                _fmt(scores["cosine"]),
                " / ".join(f"{v:.2f}" for v in paper) if paper else "",
            ]
        )
    strategy_table = markdown_table(
        [
            f"anchors ({first['a']} → {first['b']}, relative)",
            "Jaccard@5",
            "MRR@5",
            "cosine",
            "paper",
        ],
        strategy_rows,
    )
    return table, strategy_table


# --- figure ------------------------------------------------------------------------------------


def _words_figure(settings, a, b, words, x, y) -> str:
    """The paper's figure: four words' neighbourhoods, absolute vs relative, in both spaces."""
    plt = pyplot(_log)
    if plt is None:
        return ""
    from sklearn.decomposition import PCA

    from relreps import relative_projection, select_anchors
    from relreps.measures import cosine_top_k

    position = {w: i for i, w in enumerate(words)}
    chosen = [w for w in FIGURE_WORDS if w in position][:4]
    if len(chosen) < 4:
        chosen += [w for w in words[:50] if w not in chosen][: 4 - len(chosen)]
    centres = np.array([position[w] for w in chosen])
    neighbours = cosine_top_k(x[centres], x, 11).numpy()  # the word itself and its 10 nearest in a
    groups = [row for row in neighbours]
    rows = np.concatenate(groups)
    index = select_anchors(x, settings.n_anchors, "random", seed=0).indices
    spaces = {
        f"{a.name}, absolute": x[rows],
        f"{b.name}, absolute": y[rows],
        f"{a.name}, relative": relative_projection(x, x[index])[rows],
        f"{b.name}, relative": relative_projection(y, y[index])[rows],
    }
    # Absolute spaces are unrelated: one PCA each. Relative spaces share their axes (the anchor
    # words): one PCA, fitted on the first, maps both.
    shared_pca = PCA(2, random_state=0).fit(spaces[f"{a.name}, relative"])
    figure, axes = plt.subplots(2, 2, figsize=(9, 8))
    for axis, (title, points) in zip(axes.flatten(), spaces.items(), strict=True):
        pca = shared_pca if "relative" in title else PCA(2, random_state=0).fit(points)
        flat = pca.transform(points)
        start = 0
        for number, group in enumerate(groups):
            part = flat[start : start + len(group)]
            color = plt.cm.tab10(number)
            axis.scatter(part[1:, 0], part[1:, 1], s=14, color=color, alpha=0.7)
            axis.scatter(part[0, 0], part[0, 1], s=60, color=color, marker="*", edgecolor="black")
            axis.annotate(chosen[number], part[0], fontsize=9, weight="bold")
            for row, word_row in zip(part[1:4], group[1:4], strict=True):
                axis.annotate(words[word_row], row, fontsize=6, alpha=0.8)
            start += len(group)
        axis.set_title(title, fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(
        f"The ten nearest neighbours (in {a.name}) of four words. Absolute spaces: one PCA each;\n"
        f"relative spaces over {settings.n_anchors} shared anchor words: one PCA for both",
        fontsize=9,
    )
    figure.tight_layout()
    path = settings.out / "words_pca.png"
    return save_figure(figure, path)


# --- report ------------------------------------------------------------------------------------


def _mrr5(pair: dict, kind: str, direction: str) -> float:
    """Mean MRR@5 of a pair: ``kind`` "relative" (its first anchor strategy, uniform by default)
    or "relative_centred"; ``direction`` "mrr_xy" or "mrr_yx"."""
    entry = pair[kind] if kind == "relative_centred" else next(iter(pair[kind].values()))
    return entry[direction]["5"]["mean"]


def _differences(settings, facts: dict, results: dict) -> str:
    """What separates this run from the paper's Table 1, with this run's own numbers."""

    pairs = list(results.values())
    local = pairs[0]
    lines = []
    if "corpus" in facts:
        lines.append(
            f"- **Spaces.** The paper compares FastText cc.en.300 and Word2Vec GoogleNews-300, "
            f"trained on about 600B and 100B tokens; ours are trained on "
            f"{facts['corpus']['tokens']:,} tokens of Debian texts (the files are not obtainable "
            "offline). The rarer of the compared words occur a few dozen times there, so their "
            "vectors are noisy and retrieving a word among all the others in the other space is "
            "harder than in the paper; the same protocol on the 5,000 most frequent words scores "
            "higher (`--n-words 5000`). Training length matters on so small a corpus: these "
            f"spaces had {settings.epochs} epochs (gensim's default is 5; the full run uses 15, "
            "which raised relative MRR@5 at 20,000 words from 0.03-0.09 to 0.40-0.56, README)."
        )
    else:
        lines.append(
            f"- **Spaces.** The user's files ({local['a']}, {local['b']}) replace the paper's "
            "cc.en.300 and GoogleNews-300; with those two files this run is the paper's protocol."
        )
    lines.append(
        f"- **{local['a']} ↔ {local['b']}, {local['n_words']:,} words.** Relative MRR@5 "
        f"{_mrr5(local, 'relative', 'mrr_xy'):.2f} / {_mrr5(local, 'relative', 'mrr_yx'):.2f} "
        f"(paper 0.93 / 0.97); centring on the anchors' mean (later work, not in the paper) "
        f"gives {_mrr5(local, 'relative_centred', 'mrr_xy'):.2f} / "
        f"{_mrr5(local, 'relative_centred', 'mrr_yx'):.2f}: plain cosine puts the relative "
        "vectors in a narrow cone, which blurs retrieval. Absolute scores are 0, as in the "
        "paper: unaligned coordinates cannot retrieve across spaces."
    )
    glove_pairs = [p for p in pairs[1:] if p["b"] != REFERENCE]
    reference = next((p for p in pairs[1:] if p["b"] == REFERENCE), None)
    for pair in glove_pairs:
        lines.append(
            f"- **{pair['a']} ↔ {pair['b']}.** Relative MRR@5 {_mrr5_text(pair)}: "
            f"{_verdict(pair, local)}. The two spaces were trained on different text in "
            "different domains (Wikipedia and news against package descriptions, glosses and "
            "Bibles) and at different quality; they are not related by an angle-preserving map, "
            "which is what relative representations undo. Not a pair from the paper."
        )
    if reference is not None:
        best_glove = max((_best_mrr5(p) for p in glove_pairs), default=0.0)
        if _best_mrr5(reference) > best_glove:
            reading = (
                f"above every {reference['a']} ↔ local pair (best {best_glove:.2f}). GloVe's "
                "words are retrieved across spaces when the other space also learned from "
                "general English, so the low GloVe ↔ local scores come from our small Debian "
                "corpus rather than from GloVe or the method. This pair stays below the paper's "
                "FastText ↔ Word2Vec, plausibly because GloVe has only 50 dimensions and a "
                "transformer's input table is not trained to be a word space on its own (not "
                "measured here)."
            )
        else:
            reading = (
                f"not above the {reference['a']} ↔ local pairs (best {best_glove:.2f}), so "
                "this run does not tell our corpus's part from GloVe's."
            )
        lines.append(
            f"- **{reference['a']} ↔ {reference['b']} (reference pair, not in the paper).** "
            "Two spaces pretrained on general English: GloVe on Wikipedia and Gigaword, and the "
            "input embedding table of all-MiniLM-L6-v2 (whole-word tokens; learned with the "
            f"transformer on its pretraining text), {reference['n_words']:,} shared words. "
            f"Relative MRR@5 {_mrr5_text(reference)}: {reading}"
        )
    return "\n".join(lines)


def _mrr5_text(pair: dict) -> str:
    return (
        f"{_mrr5(pair, 'relative', 'mrr_xy'):.2f} / {_mrr5(pair, 'relative', 'mrr_yx'):.2f}, "
        f"centred {_mrr5(pair, 'relative_centred', 'mrr_xy'):.2f} / "
        f"{_mrr5(pair, 'relative_centred', 'mrr_yx'):.2f}"
    )


def _best_mrr5(pair: dict) -> float:
    return max(
        _mrr5(pair, kind, direction)
        for kind in ("relative", "relative_centred")
        for direction in ("mrr_xy", "mrr_yx")
    )


def _verdict(pair: dict, local: dict) -> str:
    """How a pair's relative MRR compares: near 0, or only below the local pair's."""
    best = _best_mrr5(pair)
    if best < 0.1:
        return "near 0"
    return f"far below the {local['a']} ↔ {local['b']} pair's"


def _report_sections(settings, facts, table, strategy_table, figures) -> list[tuple[str, str]]:
    setup = [
        f"- words: shared vocabulary in the first space's frequency order, skip the "
        f"{settings.skip_top} most frequent, keep alphabetic words of length "
        f"≥ {settings.min_length}, "
        f"first {settings.n_words:,}",
        f"- anchors: {settings.n_anchors} words (parallel: the same words in both spaces), "
        f"{settings.seeds} seeds; relative = cosine to the anchors (centred: on the anchors' mean)",
        "- measures (`relreps.measures`), cosine neighbours, mean ± std over anchor seeds: "
        "Jaccard = the paper's cross-space Jaccard (`cross_jaccard_at_k`: the word's k-NN in the "
        "source space, itself included, against the k rows of the target space nearest to its "
        "source row); MRR of the word itself among those k target rows; within-space Jaccard = "
        "overlap of each space's own k-NN sets, self excluded (`jaccard_at_k`, rotation-invariant, "
        "so not near 0 for absolute spaces); cosine = mean cosine of the word's two vectors",
        "- '-': undefined (cross-space retrieval and cosine need equal dimensions)",
    ]
    for line in facts.get("spaces", []):
        setup.append(f"- space: {line}")
    if "corpus" in facts:
        corpus = facts["corpus"]
        sources = ", ".join(f"{k} {v:,}" for k, v in corpus["sources"].items())
        setup.append(
            f"- training corpus: {corpus['tokens']:,} tokens ({sources}), sha256 "
            f"`{corpus['sha256'][:16]}…`"
        )
        setup += [f"- note: {note}" for note in corpus["notes"]]
    sections = [
        ("Setup", "\n".join(setup)),
        ("Result", table),
        ("Anchor choice", strategy_table),
    ]
    if figures:
        sections.append(("Figure", "\n\n".join(f"![{f}]({f})" for f in figures if f)))
    return sections
