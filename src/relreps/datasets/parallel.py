"""Parallel English/foreign sentences for cross-lingual anchors, from what a system already has.

Programs' message catalogs (gettext ``.mo`` files under ``/usr/share/locale/<lang>/LC_MESSAGES``)
pair every English user-interface message with its human translation. They are real parallel
text, out of domain for package descriptions (short interface messages, not prose about
software), and present in every language a Debian system ships.

The ``.mo`` format is read here directly (a header and two tables of offsets); nothing is
executed or unpickled.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

__all__ = [
    "DEFAULT_LOCALE_DIR",
    "MO_MAGIC",
    "gettext_pairs",
    "read_mo",
]


MO_MAGIC = 0x950412DE
DEFAULT_LOCALE_DIR = "/usr/share/locale"


def read_mo(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{msgid: msgstr}`` of a gettext ``.mo`` file (plural forms and empty ones skipped).

    A message context (``ctxt\\x04msgid``) is dropped from the key. Raises ``ValueError`` on a
    file that is not a valid catalog.
    """
    data = Path(path).read_bytes()
    if len(data) < 28:
        raise ValueError(f"{path} is too short to be a .mo file.")
    for order in ("<", ">"):
        magic, revision, count, originals, translations = struct.unpack_from(order + "5I", data)
        if magic == MO_MAGIC:
            break
    else:
        raise ValueError(f"{path} is not a gettext .mo file (bad magic number).")
    if (
        revision >> 16 > 1
        or originals + 8 * count > len(data)
        or translations + 8 * count > len(data)
    ):
        raise ValueError(f"{path} is a damaged or unsupported .mo file.")
    catalog: dict[str, str] = {}
    for i in range(count):
        length, offset = struct.unpack_from(order + "2I", data, originals + 8 * i)
        t_length, t_offset = struct.unpack_from(order + "2I", data, translations + 8 * i)
        if offset + length > len(data) or t_offset + t_length > len(data):
            raise ValueError(f"{path} is a damaged .mo file (entry {i} out of bounds).")
        source = data[offset : offset + length]
        target = data[t_offset : t_offset + t_length]
        if not source or b"\x00" in source or not target or b"\x00" in target:
            continue  # the header, or plural forms
        try:
            key = source.decode("utf-8").split("\x04", 1)[-1]
            catalog[key] = target.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return catalog


_MARKUP = re.compile(r"<[^>]+>|%[-+ #0]*\d*(?:\.\d+)?[a-zA-Z]|\{[^}]*\}|[_&](?=\w)|\\n|\n")


def _clean(message: str) -> str:
    return " ".join(_MARKUP.sub(" ", message).split())


def gettext_pairs(
    language: str,
    *,
    locale_dir: str | os.PathLike[str] = DEFAULT_LOCALE_DIR,
    min_words: int = 4,
    max_words: int = 40,
) -> list[tuple[str, str]]:
    """``(english, translation)`` message pairs from every catalog for ``language``.

    Messages are cleaned of markup, format directives and accelerator marks, kept when the
    English side starts with a letter (not a command-line option), has ``min_words`` to
    ``max_words`` words, and the translation differs from it,
    and deduplicated on the English side; sorted by English text, so the result is stable for
    a given set of catalogs.
    """
    folder = Path(locale_dir) / language / "LC_MESSAGES"
    files = sorted(folder.glob("*.mo")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"No gettext catalogs for {language!r} in {folder}; point locale_dir at a folder "
            "with <lang>/LC_MESSAGES/*.mo files."
        )
    pairs: dict[str, str] = {}
    for path in files:
        try:
            catalog = read_mo(path)
        except ValueError:
            continue
        for source, target in catalog.items():
            english, foreign = _clean(source), _clean(target)
            words = len(english.split())
            if (
                min_words <= words <= max_words
                and english[0].isalpha()
                and foreign
                and foreign != english
                and english not in pairs
            ):
                pairs[english] = foreign
    return sorted(pairs.items())
