"""Cross-lingual stitching: an English-trained classifier read through foreign-language encoders.

A head is trained on an English encoder's representation of English Debian descriptions (topic =
section). At test time the *translations* of held-out descriptions (fr, de, it, ja, es; human
translations from Debian's DDTP) are embedded by other, multilingual encoders and fed to that
head with no training. Relative representations need parallel anchors: the English encoder sees
the English side of each anchor pair, the foreign encoder its translation. Two anchor sources:

- in domain: other translated package descriptions (any section, never a test description);
- out of domain: programs' interface messages and their translations (gettext catalogs).

Baselines in the same table: the head on the English originals of the same test descriptions
(non-stitched), absolute stitching where widths match, and the English encoder reading the
foreign text directly.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relreps.experiments.report import check_positive, pyplot, save_figure

NAME = "cross-lingual"

FULL = {
    "languages": ["fr", "de", "it", "ja", "es"],
    "foreign_encoders": ["use", "e5"],
    "train_per_class": 250,
    "test_per_class": 100,
    "n_anchors": 768,
    "seeds": 5,
    "epochs": 40,
}
QUICK = {
    "languages": ["fr", "es"],
    "foreign_encoders": ["use"],
    "train_per_class": 30,
    "test_per_class": 10,
    "n_anchors": 100,
    "seeds": 2,
    "epochs": 30,
}
ANCHOR_SOURCES = ("in-domain", "out-of-domain")

# Paper [slides], coarse Amazon reviews, weighted F1 x100, encoder es / fr / ja.
PAPER = {
    "absolute": {"es": 43.7, "fr": 54.4, "ja": 48.7},
    "relative, in-domain anchors": {"es": 82.8, "fr": 78.5, "ja": 65.7},
    "relative, out-of-domain anchors": {"es": 78.5, "fr": 70.4, "ja": 66.3},
    "English non-stitched": {"absolute": 91.5, "relative": 90.1},
}


@dataclass
class Settings:
    quick: bool
    english_encoder: str
    foreign_encoders: list[str]
    languages: list[str]
    train_per_class: int
    test_per_class: int
    n_anchors: int
    seeds: int
    epochs: int
    split_seed: int
    anchor_seed: int
    max_chars: int | None
    locale_dir: str
    cache_dir: Path
    out: Path
    device: str
    progress: bool
    figures: bool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="fr and es, USE only, a few hundred texts"
    )
    parser.add_argument(
        "--english-encoder", default="minilm", help="encoder the head is trained on (minilm)"
    )
    parser.add_argument(
        "--foreign-encoders", nargs="+", help="multilingual encoders at test time (use e5)"
    )
    parser.add_argument("--languages", nargs="+", help="target languages (fr de it ja es)")
    parser.add_argument("--train-per-class", type=int, help="English training texts per class")
    parser.add_argument(
        "--test-per-class", type=int, help="test texts per class (capped by the smallest class)"
    )
    parser.add_argument("--n-anchors", type=int, help="parallel anchors (768, the paper's)")
    parser.add_argument("--seeds", type=int, help="head seeds (5)")
    parser.add_argument("--epochs", type=int, help="head training epochs (40)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--anchor-seed", type=int, default=0, help="seed of the anchor choice")
    parser.add_argument(
        "--max-chars",
        type=int,
        default=300,
        help="cut texts to this many characters at a word boundary (300; 0: keep whole)",
    )
    parser.add_argument(
        "--locale-dir",
        default="/usr/share/locale",
        help="gettext catalogs for the out-of-domain anchors (<lang>/LC_MESSAGES/*.mo)",
    )
    parser.add_argument("--cache-dir", type=Path, help="default $RELREPS_CACHE")
    parser.add_argument("--out", type=Path, default=Path("results") / NAME)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--no-figures", action="store_true")


def settings_from(options: argparse.Namespace) -> Settings:
    from relreps.datasets.debian import DESCRIPTION_LANGUAGES
    from relreps.encoders import check_encoder_name, default_cache_dir

    defaults = QUICK if options.quick else FULL
    pick = lambda name: defaults[name] if getattr(options, name) is None else getattr(options, name)  # noqa: E731
    settings = Settings(
        quick=options.quick,
        english_encoder=options.english_encoder,
        foreign_encoders=list(pick("foreign_encoders")),
        languages=list(pick("languages")),
        train_per_class=pick("train_per_class"),
        test_per_class=pick("test_per_class"),
        n_anchors=pick("n_anchors"),
        seeds=pick("seeds"),
        epochs=pick("epochs"),
        split_seed=options.split_seed,
        anchor_seed=options.anchor_seed,
        max_chars=options.max_chars or None,
        locale_dir=options.locale_dir,
        cache_dir=Path(options.cache_dir or default_cache_dir()),
        out=Path(options.out),
        device=options.device,
        progress=not options.no_progress,
        figures=not options.no_figures,
    )
    for name in [settings.english_encoder, *settings.foreign_encoders]:
        check_encoder_name(name)
    unknown = [x for x in settings.languages if x not in DESCRIPTION_LANGUAGES or x == "en"]
    if unknown:
        raise ValueError(
            f"Unknown target language(s) {unknown}; choose from "
            f"{[x for x in DESCRIPTION_LANGUAGES if x != 'en']}."
        )
    check_positive(settings, ("train_per_class", "test_per_class", "n_anchors", "seeds", "epochs"))
    return settings


def _log(message: str) -> None:
    print(f"[{NAME}] {message}", flush=True)


@dataclass
class LanguageSplit:
    """Which descriptions play which role for one target language."""

    language: str
    test: np.ndarray  # rows of the English topic dataset whose translations are tested
    anchors: dict[str, tuple[list[str], list[str]]]  # source -> (english, foreign) texts


def make_splits(records, topics, settings: Settings):
    """The English topic dataset, each language's test rows and anchors, and the English
    training rows (shared by all languages: never a test description of any of them)."""
    from relreps.datasets.debian import topic_dataset
    from relreps.datasets.parallel import gettext_pairs
    from relreps.datasets.text import balanced_sample, truncate_text

    english = topic_dataset(
        records, topics, "en", name="debian-descriptions-en", max_chars=settings.max_chars
    )
    topic_records = _topic_records(records, topics)
    assert [r["package"] for r in topic_records] == list(english.ids)
    splits = []
    for language in settings.languages:
        translated = np.array(
            [i for i, r in enumerate(topic_records) if language in r["text"]], dtype=np.int64
        )
        counts = np.bincount(english.labels[translated], minlength=len(topics))
        per_class = int(min(settings.test_per_class, counts.min()))
        if per_class < 1:
            empty = [topics[i] for i in np.flatnonzero(counts == 0)]
            raise ValueError(f"No {language} translations in topic(s) {empty}.")
        test = balanced_sample(
            english.labels, per_class, seed=settings.split_seed + 1, candidates=translated
        )
        held_out = {english.ids[i] for i in test}
        pool = [
            (r["text"]["en"], r["text"][language])
            for r in records
            if language in r["text"] and r["package"] not in held_out
        ]
        pairs = gettext_pairs(language, locale_dir=settings.locale_dir)
        rng = np.random.default_rng(settings.anchor_seed)
        anchors = {}
        for source, candidates in (("in-domain", pool), ("out-of-domain", pairs)):
            if len(candidates) < settings.n_anchors:
                raise ValueError(
                    f"Only {len(candidates)} {source} parallel pairs for {language}; "
                    f"lower --n-anchors (now {settings.n_anchors})."
                )
            chosen = np.sort(rng.choice(len(candidates), size=settings.n_anchors, replace=False))
            anchors[source] = (
                [truncate_text(candidates[i][0], settings.max_chars) for i in chosen],
                [truncate_text(candidates[i][1], settings.max_chars) for i in chosen],
            )
        splits.append(LanguageSplit(language, test, anchors))
    tested = np.unique(np.concatenate([split.test for split in splits]))
    rest = np.setdiff1d(np.arange(len(english)), tested)
    train = balanced_sample(
        english.labels,
        settings.train_per_class,
        seed=settings.split_seed,
        candidates=rest,
        allow_fewer=True,
    )
    return english, topic_records, splits, train


def _topic_records(records, topics):
    wanted = set(topics)
    return [r for r in records if r["section"] in wanted and "en" in r["text"]]


def run_experiment(settings: Settings, info) -> dict[str, Any]:
    from relreps.cache import EmbeddingCache
    from relreps.datasets.debian import DEFAULT_TOPICS, load_descriptions
    from relreps.datasets.text import truncate_text
    from relreps.encoders import get_encoder
    from relreps.experiments.report import write_outputs
    from relreps.experiments.text_common import MODES, Space, fit_head, stitching_scores

    records, sha = load_descriptions(settings.cache_dir / "text")
    topics = list(DEFAULT_TOPICS)
    cache = EmbeddingCache(settings.cache_dir / "embeddings")
    english_encoder = get_encoder(
        settings.english_encoder, device=settings.device, cache_dir=settings.cache_dir
    )
    foreign = {
        name: get_encoder(name, device=settings.device, cache_dir=settings.cache_dir)
        for name in settings.foreign_encoders
    }
    if settings.english_encoder in foreign:
        raise ValueError("The English encoder cannot also be a foreign encoder.")
    readers = {**foreign, settings.english_encoder: english_encoder}

    def embed(encoder, texts, dataset):
        return cache.embed(encoder, texts, dataset=dataset, progress=settings.progress)

    results: dict[str, Any] = {}
    sizes: dict[str, Any] = {}
    started = time.perf_counter()
    english, topic_records, splits, train = make_splits(records, topics, settings)
    e_name = settings.english_encoder
    train_labels = english.labels[train]
    train_abs = embed(
        english_encoder, [english.texts[i] for i in train], f"debian-en-train-{len(train)}"
    )
    for roles in splits:
        language = roles.language
        test_en = [english.texts[i] for i in roles.test]
        test_x = [
            truncate_text(topic_records[i]["text"][language], settings.max_chars)
            for i in roles.test
        ]
        test_labels = english.labels[roles.test]
        tag = f"s{settings.split_seed}-a{settings.anchor_seed}-n{settings.n_anchors}"
        test_abs_en = embed(english_encoder, test_en, f"debian-en-test-{language}")
        anchors_en = {
            s: embed(english_encoder, roles.anchors[s][0], f"anchors-{s}-{language}-en-{tag}")
            for s in ANCHOR_SOURCES
        }
        # every reader (the foreign encoders, and the English encoder as a naive baseline)
        # embeds the foreign test texts and the foreign side of the anchors
        test_x_abs = {
            n: embed(enc, test_x, f"debian-{language}-test") for n, enc in readers.items()
        }
        anchors_x = {
            n: {s: embed(enc, roles.anchors[s][1], f"anchors-{s}-{language}-{language}-{tag}")
                for s in ANCHOR_SOURCES}
            for n, enc in readers.items()
        }  # fmt: skip
        sizes[language] = {
            "train": len(train),
            "test": len(roles.test),
            "test_per_class": int(np.bincount(test_labels).min()),
        }
        _log(
            f"{language}: {len(train)} English train, {len(roles.test)} test texts; "
            f"encodings ready ({cache.misses} computed, {cache.hits} from cache so far)"
        )
        runs = []
        for seed in range(settings.seeds):
            for source in ANCHOR_SOURCES:
                for mode in MODES:
                    if mode == "absolute" and source != ANCHOR_SOURCES[0]:
                        continue  # absolute heads do not use anchors
                    head = fit_head(
                        Space(train_abs, anchors_en[source]),
                        train_labels,
                        len(topics),
                        mode,
                        seed=seed,
                        epochs=settings.epochs,
                    )
                    spaces = {"English text": Space(test_abs_en, anchors_en[source])}
                    for name in readers:
                        spaces[f"{name} on {language}"] = Space(
                            test_x_abs[name], anchors_x[name][source]
                        )
                    scores = stitching_scores({e_name: head}, spaces, test_labels, mode)
                    runs.append(
                        {
                            "seed": seed,
                            "anchors": None if mode == "absolute" else source,
                            "mode": mode,
                            "scores": {
                                enc: None if not np.isfinite(v) else float(v)
                                for enc, v in zip(scores.encoders, scores.scores[:, 0], strict=True)
                            },
                        }
                    )
        results[language] = summarise(runs)
        _log(f"{language}: {settings.seeds} seeds scored")
    facts = {
        "data": {"source": "Debian bookworm descriptions + DDTP translations", "sha256": sha},
        "topics": topics,
        "sizes": sizes,
        "english_encoder": english_encoder.id,
        "foreign_encoders": {n: e.id for n, e in foreign.items()},
        "cache": {"hits": cache.hits, "misses": cache.misses},
        "seconds": round(time.perf_counter() - started, 1),
    }
    table, per_language = tables(results, settings)
    figures = _figure(settings, results) if settings.figures else []
    info.finish()
    metrics = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(settings).items()},
        "facts": facts,
        "results": results,
    }
    report = write_outputs(
        settings.out,
        "Cross-lingual stitching (paper section 5.2)",
        _report_sections(settings, facts, table, per_language, figures),
        metrics,
        info,
    )
    return {"table": table, "report": report, "results": results, "facts": facts}


def _row_key(mode: str, anchors: str | None) -> str:
    return "absolute" if mode == "absolute" else f"{mode}, {anchors} anchors"


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """``{row: {encoder: [mean, std]}}`` over seeds; a row is a mode and an anchor source."""
    from relreps.experiments.text_common import mean_std_of

    table: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        row = table.setdefault(_row_key(run["mode"], run["anchors"]), {})
        for encoder, value in run["scores"].items():
            row.setdefault(encoder, []).append(np.nan if value is None else value)
    return {
        row: {enc: list(mean_std_of(values)) for enc, values in by_encoder.items()}
        for row, by_encoder in table.items()
    }


def _rows() -> list[str]:
    from relreps.experiments.text_common import MODES

    rows = ["absolute"]
    for source in ANCHOR_SOURCES:
        rows += [_row_key(mode, source) for mode in MODES if mode != "absolute"]
    return rows


def tables(results: dict[str, Any], settings: Settings) -> tuple[str, str]:
    """A summary (rows: representation; columns: language x foreign encoder) and one per
    language with every reader."""
    from relreps.experiments.report import markdown_table, mean_std

    columns = [(lang, name) for name in settings.foreign_encoders for lang in settings.languages]
    rows = []
    for row in _rows():
        english = results[settings.languages[0]][row]["English text"]
        cells = [mean_std(*english, digits=1)]
        for lang, name in columns:
            cells.append(mean_std(*results[lang][row][f"{name} on {lang}"], digits=1))
        rows.append([row, *cells])
    headers = [
        "head trained on English; test encoder ->",
        f"{settings.english_encoder}, English text ({settings.languages[0]} test set)",
        *(f"{name} {lang}" for lang, name in columns),
    ]
    main = markdown_table(headers, rows)
    parts = []
    for lang in settings.languages:
        readers = list(next(iter(results[lang].values())))
        body = [[row, *(mean_std(*results[lang][row][r], digits=1) for r in readers)]
                for row in _rows()]  # fmt: skip
        parts.append(f"**{lang}**\n\n" + markdown_table(["representation", *readers], body))
    return main, "\n\n".join(parts)


def _figure(settings: Settings, results: dict[str, Any]) -> list[str]:
    plt = pyplot(_log)
    if plt is None:
        return []
    rows = _rows()
    fig, axes = plt.subplots(
        1, len(settings.foreign_encoders), figsize=(6 * len(settings.foreign_encoders), 3.8)
    )
    axes = np.atleast_1d(axes)
    width = 0.8 / len(rows)
    for ax, name in zip(axes, settings.foreign_encoders, strict=True):
        for k, row in enumerate(rows):
            means = [results[lang][row][f"{name} on {lang}"][0] for lang in settings.languages]
            stds = [results[lang][row][f"{name} on {lang}"][1] for lang in settings.languages]
            positions = np.arange(len(settings.languages)) + (k - len(rows) / 2 + 0.5) * width
            ax.bar(positions, np.nan_to_num(means), width, yerr=np.nan_to_num(stds), label=row)
        ax.axhline(100 / 10, color="k", lw=0.8, ls=":", label="chance (10 topics)")
        ax.set_xticks(range(len(settings.languages)), settings.languages)
        ax.set_ylim(0, 100)
        ax.set_ylabel("weighted F1 x100")
        ax.set_title(f"English {settings.english_encoder} head, {name} encoder at test time")
    axes[-1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path = settings.out / "cross_lingual.png"
    return [save_figure(fig, path)]


def _report_sections(settings, facts, table, per_language, figures) -> list[tuple[str, str]]:
    sizes = "; ".join(
        f"{lang}: {s['test']} test ({s['test_per_class']}/class), {s['train']} train"
        for lang, s in facts["sizes"].items()
    )
    setup = (
        f"- data: Debian bookworm package descriptions (sha256 {facts['data']['sha256'][:12]}) "
        f"and their human translations; {len(facts['topics'])} topics "
        f"({', '.join(facts['topics'])}); texts cut to {settings.max_chars or 'no limit of'} "
        f"characters at a word boundary; {sizes}\n"
        f"- English encoder (head): `{facts['english_encoder']}`; foreign encoders: "
        + ", ".join(f"{k} = `{v}`" for k, v in facts["foreign_encoders"].items())
        + "\n"
        f"- anchors: {settings.n_anchors} parallel pairs (seed {settings.anchor_seed}); in "
        "domain = translated descriptions never used for testing, out of domain = gettext "
        f"interface messages from {settings.locale_dir}\n"
        f"- head: LayerNorm, Linear(256), SiLU, dropout 0.1, Linear; {settings.epochs} epochs; "
        f"{settings.seeds} seeds; weighted F1 x100, mean ± std over seeds\n"
        f"- embedding cache: {facts['cache']['hits']} hits, {facts['cache']['misses']} computed"
    )
    paper = (
        "The paper (slides) reports coarse Amazon reviews, RoBERTa per language, English head: "
        "absolute es/fr/ja 43.7/54.4/48.7 (chance); relative with translated anchors "
        "82.8/78.5/65.7, with Wikipedia anchors 78.5/70.4/66.3; English non-stitched 91.5 "
        "absolute, 90.1 relative. Amazon reviews and per-language RoBERTas are not reachable "
        "offline: here the foreign side is a multilingual sentence encoder reading human "
        "translations of Debian descriptions, and the out-of-domain anchors are software "
        "interface messages instead of Wikipedia sentences. The 'English encoder on the foreign "
        "text' column shows what one gets without any stitching."
    )
    sections = [
        ("Result", table),
        ("Per language, every reader", per_language),
        ("Setup", setup),
        ("Against the paper", paper),
    ]
    if figures:
        sections.append(("Figure", "\n".join(f"![{f}]({f})" for f in figures)))
    return sections
