"""An English training corpus built offline from texts that Debian packages carry.

Sources (each used when present; the corpus records which were):

``debian-descriptions``
    ~64k package descriptions from Debian's index (``apt-get update`` into a private folder).
``wordnet-glosses``
    WordNet 3.0 definitions and examples (Debian ``wordnet-base``).
``bible-kjv``, ``bible-web``
    King James and World English Bibles (``sword-text-kjv``, ``sword-text-web``, read with
    ``mod2imp`` from ``libsword-utils``).
``fortunes``
    The quotations of ``fortunes`` / ``fortunes-min``.

``apt-get install wordnet-base sword-text-kjv sword-text-web libsword-utils fortunes`` (what
``make setup`` runs as root) gives about 9M tokens. The corpus is lower-cased, one sentence-like
line per record, tokens of letters only, and cached with its SHA-256 and token count.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from relreps.io import atomic_path, read_json_object, sha256_files, write_json_atomic

__all__ = [
    "BIBLES",
    "FORTUNES_DIR",
    "SOURCES",
    "WORDNET_DIR",
    "Corpus",
    "build_english_corpus",
    "tokenize",
]


WORDNET_DIR = Path("/usr/share/wordnet")
FORTUNES_DIR = Path("/usr/share/games/fortunes")
BIBLES = {"bible-kjv": "engKJV2006eb", "bible-web": "engWEB2015eb"}
_TOKEN = re.compile(r"[a-z]+")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Corpus:
    """A built corpus: its file (one line of space-separated tokens per record) and facts."""

    path: Path
    n_tokens: int
    n_lines: int
    sources: dict[str, int]
    sha256: str
    notes: tuple[str, ...] = ()
    built_now: bool = False  # built by this call, not read from the cache


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _debian_descriptions(cache_dir: Path) -> Iterator[str]:
    from relreps.datasets.debian import english_descriptions, fetch_package_lists

    lists = fetch_package_lists(cache_dir / "debian-lists", ("en",))
    for _, description in english_descriptions(lists):
        yield from description.split("\n")


def _wordnet_glosses(cache_dir: Path) -> Iterator[str]:
    files = [WORDNET_DIR / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")]
    if not all(f.exists() for f in files):
        raise FileNotFoundError(
            f"WordNet data files not found in {WORDNET_DIR} (apt-get install wordnet-base)."
        )
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("  ") or " | " not in line:
                    continue  # licence header
                yield line.split(" | ", 1)[1]


def _bible(module: str) -> Callable[[Path], Iterator[str]]:
    def read(cache_dir: Path) -> Iterator[str]:
        if shutil.which("mod2imp") is None:
            raise FileNotFoundError("mod2imp not found (apt-get install libsword-utils).")
        result = subprocess.run(["mod2imp", module], capture_output=True, check=False)
        text = result.stdout.decode("utf-8", errors="replace")
        if result.returncode != 0 or "$$$" not in text:
            raise FileNotFoundError(
                f"SWORD module {module} not installed (apt-get install sword-text-...)."
            )
        for line in text.splitlines():
            if not line.startswith("$$$"):
                yield _TAG.sub(" ", line)

    return read


def _fortunes(cache_dir: Path) -> Iterator[str]:
    files = sorted(p for p in FORTUNES_DIR.glob("*") if p.is_file() and "." not in p.name)
    if not files:
        raise FileNotFoundError(f"No fortune files in {FORTUNES_DIR} (apt-get install fortunes).")
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as handle:
            yield from handle.read().split("\n%\n")


SOURCES: dict[str, Callable[[Path], Iterator[str]]] = {
    "debian-descriptions": _debian_descriptions,
    "wordnet-glosses": _wordnet_glosses,
    "bible-kjv": _bible(BIBLES["bible-kjv"]),
    "bible-web": _bible(BIBLES["bible-web"]),
    "fortunes": _fortunes,
}


def build_english_corpus(
    cache_dir: str | os.PathLike[str],
    *,
    max_tokens: int | None = None,
    min_tokens: int = 1,
    log: Callable[[str], None] = print,
) -> Corpus:
    """Build (or load from ``cache_dir``) the corpus; ``max_tokens`` truncates it.

    Raises ``RuntimeError`` if fewer than ``min_tokens`` tokens could be gathered, naming the
    sources that were missing and how to install them.
    """
    cache_dir = Path(cache_dir)
    stem = "corpus" if max_tokens is None else f"corpus-{max_tokens}"
    path, meta_path = cache_dir / f"{stem}.txt", cache_dir / f"{stem}.json"
    if path.exists() and meta_path.exists():
        try:
            meta = read_json_object(meta_path)
        except ValueError:  # damaged: rebuild
            meta = {}
        if meta.get("sha256") == sha256_files([path]):
            return Corpus(
                path,
                meta["n_tokens"],
                meta["n_lines"],
                meta["sources"],
                meta["sha256"],
                tuple(meta["notes"]),
            )
        log(f"{path} does not match its recorded hash; rebuilding it.")
    cache_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    notes: list[str] = []
    n_tokens = n_lines = 0
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as out:
        for name, source in SOURCES.items():
            if max_tokens is not None and n_tokens >= max_tokens:
                break
            before = n_tokens
            try:
                for text in source(cache_dir):
                    tokens = tokenize(text)
                    if len(tokens) < 2:
                        continue
                    out.write(" ".join(tokens) + "\n")
                    n_tokens += len(tokens)
                    n_lines += 1
                    if max_tokens is not None and n_tokens >= max_tokens:
                        break
            except (FileNotFoundError, RuntimeError) as error:
                notes.append(f"{name} skipped: {error}")
                log(f"corpus: {name} skipped: {error}")
                continue
            counts[name] = n_tokens - before
            log(f"corpus: {name}: {counts[name]:,} tokens")
        out.flush()
    if n_tokens < min_tokens:
        path.unlink(missing_ok=True)
        raise RuntimeError(
            f"Only {n_tokens:,} tokens gathered (need {min_tokens:,}). "
            + " ".join(notes)
            + " Install the sources with: apt-get install wordnet-base sword-text-kjv "
            "sword-text-web libsword-utils fortunes."
        )
    digest = sha256_files([path])
    write_json_atomic(
        meta_path,
        {
            "n_tokens": n_tokens,
            "n_lines": n_lines,
            "sources": counts,
            "sha256": digest,
            "notes": notes,
        },
    )
    return Corpus(path, n_tokens, n_lines, counts, digest, tuple(notes), built_now=True)
