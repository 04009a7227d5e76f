"""Debian's package index as real text data: descriptions, their sections, their translations.

``apt-get update`` with a private lists folder fetches the index (~16 MB for English, more per
language) without touching the system's own lists; ``apt-helper cat-file`` reads the compressed
files. Needs a Debian-family system with apt and network access to its mirror.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "APT_HELPER",
    "DEFAULT_TOPICS",
    "DESCRIPTIONS_FILE",
    "DESCRIPTION_LANGUAGES",
    "build_descriptions",
    "description_text",
    "english_descriptions",
    "fetch_package_lists",
    "iter_records",
    "list_files",
    "load_descriptions",
    "read_list_file",
    "topic_dataset",
]


APT_HELPER = "/usr/lib/apt/apt-helper"


def fetch_package_lists(
    lists_dir: str | os.PathLike[str], languages: Sequence[str] = ("en",)
) -> Path:
    """Fetch the package index and ``Translation-<lang>`` files into ``lists_dir`` once.

    A second call with the same languages does nothing (the marker file ``.languages`` records
    them). Raises ``RuntimeError`` with apt's message when apt is missing or the fetch fails.
    """
    lists_dir = Path(lists_dir)
    marker = lists_dir / ".languages"
    wanted = ",".join(languages)
    if marker.exists() and marker.read_text().strip() == wanted:
        return lists_dir
    if shutil.which("apt-get") is None or not Path(APT_HELPER).exists():
        raise RuntimeError("Debian package lists need apt (apt-get and apt-helper); none found.")
    (lists_dir / "partial").mkdir(parents=True, exist_ok=True)
    command = [
        "apt-get",
        "update",
        "-q",
        "-o",
        f"Dir::State::Lists={lists_dir.resolve()}",
        "-o",
        f"Acquire::Languages={wanted}",
    ]
    if os.geteuid() != 0:
        command += ["-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"apt-get update failed ({result.returncode}): {result.stderr.strip()[-500:]}"
        )
    marker.write_text(wanted)
    return lists_dir


def read_list_file(path: str | os.PathLike[str]) -> str:
    """The text of one (possibly compressed) apt list file."""
    result = subprocess.run([APT_HELPER, "cat-file", str(path)], capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"Cannot read {path}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode("utf-8", errors="replace")


def iter_records(text: str) -> Iterator[dict[str, str]]:
    """deb822 records (blank-line separated ``Field: value`` paragraphs with continuation lines)."""
    record: dict[str, str] = {}
    field = None
    for line in text.splitlines():
        if not line.strip():
            if record:
                yield record
            record, field = {}, None
        elif line[0] in " \t" and field is not None:
            record[field] += "\n" + line[1:]
        elif ":" in line:
            field, _, value = line.partition(":")
            record[field] = value.strip()
    if record:
        yield record


def list_files(lists_dir: str | os.PathLike[str], kind: str) -> list[Path]:
    """List files of one kind (``Translation-en``, ``Packages``), main archive first."""
    compressions = (".lz4", ".gz", ".xz", ".bz2", ".zst")
    files = [
        p
        for p in Path(lists_dir).iterdir()
        if (p.name[: -len(p.suffix)] if p.suffix in compressions else p.name).endswith(kind)
    ]
    return sorted(files, key=lambda p: ("security" in p.name or "updates" in p.name, p.name))


def description_text(description: str) -> str:
    """A Debian description (synopsis, then the long text with ``.`` paragraph breaks) as prose."""
    lines = [line.strip() for line in description.split("\n")]
    return "\n".join(" " if line == "." else line for line in lines)


def english_descriptions(lists_dir: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
    """``(package, description)`` for every English description, each (package, md5) once."""
    seen: set[tuple[str, str]] = set()
    for path in list_files(lists_dir, "Translation-en"):
        for record in iter_records(read_list_file(path)):
            key = (record.get("Package", ""), record.get("Description-md5", ""))
            if key in seen or "Description-en" not in record:
                continue
            seen.add(key)
            yield key[0], description_text(record["Description-en"])


# Languages with human translations of the descriptions, and how many aligned pairs bookworm has
# (it 49k, fr 21k, de 14k, ja 6.5k, es 2.2k).
DESCRIPTION_LANGUAGES = ("en", "fr", "de", "it", "ja", "es")

# Ten topical sections (not package-type sections such as libs, python or perl), each with at
# least 366 English descriptions and 43 Spanish ones in bookworm; see docs/text.md.
DEFAULT_TOPICS = (
    "admin",
    "devel",
    "games",
    "graphics",
    "mail",
    "net",
    "science",
    "sound",
    "text",
    "web",
)

DESCRIPTIONS_FILE = "debian-descriptions.jsonl"


def build_descriptions(
    cache_dir: str | os.PathLike[str],
    languages: Sequence[str] = DESCRIPTION_LANGUAGES,
) -> Path:
    """Fetch the index once and write every description, its section and translations as JSONL.

    One line per distinct English description: ``{"package", "md5", "section", "text": {"en":
    ..., "fr": ...}}``, sorted by package. A JSON sidecar records the languages and the file's
    SHA-256; a later call with the same languages returns the file without fetching.
    """
    import json

    from relreps.io import atomic_path, read_json_object, sha256_files, write_json_atomic

    cache_dir = Path(cache_dir)
    out = cache_dir / DESCRIPTIONS_FILE
    meta_file = cache_dir / (DESCRIPTIONS_FILE + ".json")
    if "en" not in languages:
        raise ValueError(f"languages must include 'en' (the labels' side); got {list(languages)}.")
    if out.exists() and meta_file.exists():
        try:
            meta = read_json_object(meta_file)
        except ValueError:  # damaged: rebuild
            meta = {}
        if meta.get("languages") == list(languages) and meta.get("sha256") == sha256_files([out]):
            return out
    lists_dir = fetch_package_lists(cache_dir / "debian-lists", languages)
    sections: dict[tuple[str, str], str] = {}
    for path in list_files(lists_dir, "Packages"):
        for record in iter_records(read_list_file(path)):
            key = (record.get("Package", ""), record.get("Description-md5", ""))
            if key[1] and key not in sections:
                sections[key] = record.get("Section", "unknown").rsplit("/", 1)[-1]
    texts: dict[str, dict[tuple[str, str], str]] = {}
    for language in languages:
        found: dict[tuple[str, str], str] = {}
        for path in list_files(lists_dir, f"Translation-{language}"):
            for record in iter_records(read_list_file(path)):
                key = (record.get("Package", ""), record.get("Description-md5", ""))
                field = f"Description-{language}"
                if key in sections and field in record and key not in found:
                    found[key] = description_text(record[field])
        texts[language] = found
    seen_text: set[str] = set()
    lines = []
    for key in sorted(texts["en"]):
        english = texts["en"][key]
        if english in seen_text:
            continue
        seen_text.add(english)
        translations = {lang: texts[lang][key] for lang in languages if key in texts[lang]}
        entry = {"package": key[0], "md5": key[1], "section": sections[key], "text": translations}
        lines.append(json.dumps(entry, ensure_ascii=False))
    if not lines:
        raise RuntimeError(f"No descriptions found in {lists_dir}; is the index complete?")
    with atomic_path(out) as temporary:
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts = {lang: sum(1 for key in texts[lang]) for lang in languages}
    write_json_atomic(
        meta_file,
        {
            "languages": list(languages),
            "sha256": sha256_files([out]),
            "records": len(lines),
            "translations": counts,
        },
    )
    return out


def load_descriptions(
    cache_dir: str | os.PathLike[str], languages: Sequence[str] = DESCRIPTION_LANGUAGES
) -> tuple[list[dict], str]:
    """The records :func:`build_descriptions` wrote (built first if needed), and their hash."""
    import json

    from relreps.io import read_json_object

    path = build_descriptions(cache_dir, languages)
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise ValueError(
                    f"{path}:{number} is corrupt; delete {path} to rebuild it."
                ) from None
    return records, read_json_object(path.with_name(path.name + ".json"))["sha256"]


def topic_dataset(
    records: Sequence[dict],
    topics: Sequence[str] = DEFAULT_TOPICS,
    language: str = "en",
    *,
    name: str | None = None,
    max_chars: int | None = None,
):
    """A :class:`~relreps.datasets.text.TextDataset` of the records in ``topics`` that have a
    ``language`` text; labels number ``topics`` in the order given, ids are package names.
    ``max_chars`` cuts every text at a word boundary (the synopsis and first sentences carry the
    topic; encoders cost time per token)."""
    from relreps.datasets.text import TextDataset, truncate_text

    known = {record["section"] for record in records}
    unknown = [topic for topic in topics if topic not in known]
    if unknown:
        raise ValueError(f"Unknown Debian section(s) {unknown}; known: {', '.join(sorted(known))}.")
    index = {topic: i for i, topic in enumerate(topics)}
    chosen = [r for r in records if r["section"] in index and language in r["text"]]
    return TextDataset(
        name or f"debian-{language}",
        tuple(truncate_text(r["text"][language], max_chars) for r in chosen),
        np.array([index[r["section"]] for r in chosen], dtype=np.int64),
        tuple(topics),
        tuple(r["package"] for r in chosen),
    )
