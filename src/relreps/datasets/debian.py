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
