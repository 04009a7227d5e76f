"""Labelled text loaders, balanced splits, and gettext parallel pairs."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relreps.datasets.parallel import gettext_pairs, read_mo
from relreps.datasets.text import TextDataset, balanced_sample, load_text_file


def test_csv_and_jsonl_give_the_same_dataset(tmp_path):
    rows = [("a good game", "games"), ("mail server", "mail"), ("chess engine", "games")]
    csv_path = tmp_path / "d.csv"
    csv_path.write_text("text,label\n" + "\n".join(f'"{t}",{lab}' for t, lab in rows))
    jsonl_path = tmp_path / "d.jsonl"
    jsonl_path.write_text("\n".join(json.dumps({"text": t, "label": lab}) for t, lab in rows))
    a, b = load_text_file(csv_path), load_text_file(jsonl_path)
    assert a.texts == b.texts == tuple(t for t, _ in rows)
    assert a.label_names == ("games", "mail") and a.labels.tolist() == [0, 1, 0]
    assert b.labels.tolist() == a.labels.tolist()


@pytest.mark.parametrize(
    ("content", "suffix", "match"),
    [
        ("words,label\nx,1\n", ".csv", r"no column\(s\) \['text'\]"),
        ("text,label\n,1\n", ".csv", r"d\.csv:2: empty or missing 'text'"),
        ('{"text": "x"}\n', ".jsonl", r"d\.jsonl:1: empty or missing 'label'"),
        ("{oops\n", ".jsonl", r"d\.jsonl:1: not valid JSON"),
        ("text,label\n", ".csv", "holds no rows"),
        ("x", ".txt", "expected a .csv"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, content, suffix, match):
    path = tmp_path / f"d{suffix}"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        load_text_file(path)


def test_dataset_checks_shapes():
    with pytest.raises(ValueError, match="labels of shape"):
        TextDataset("x", ("a", "b"), np.array([0]), ("c",))
    with pytest.raises(ValueError, match="must index"):
        TextDataset("x", ("a",), np.array([3]), ("c",))


@settings(max_examples=50, deadline=None)
@given(
    counts=st.lists(st.integers(4, 12), min_size=2, max_size=5),
    per_class=st.integers(1, 3),
    seed=st.integers(0, 10),
)
def test_balanced_sample_is_balanced_distinct_and_seeded(counts, per_class, seed):
    labels = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(labels)
    chosen = balanced_sample(labels, per_class, seed=seed)
    assert len(set(chosen.tolist())) == len(chosen)
    assert np.bincount(labels[chosen]).tolist() == [per_class] * len(counts)
    np.testing.assert_array_equal(chosen, balanced_sample(labels, per_class, seed=seed))
    rest = np.setdiff1d(np.arange(len(labels)), chosen)
    second = balanced_sample(labels, 1, seed=seed, candidates=rest)
    assert not set(second.tolist()) & set(chosen.tolist())


def test_balanced_sample_says_when_a_class_is_short():
    labels = np.array([0, 0, 0, 1])
    with pytest.raises(ValueError, match="Class 1 has 1 samples"):
        balanced_sample(labels, 2)
    assert np.bincount(labels[balanced_sample(labels, 2, allow_fewer=True)]).tolist() == [2, 1]


def write_mo(path, catalog, order="<"):
    """A minimal gettext .mo writer (the GNU layout) for the reader's tests."""
    keys = sorted(catalog)
    ids = [k.encode() for k in keys]
    strs = [catalog[k].encode() for k in keys]
    n = len(keys)
    header = 7 * 4
    originals, translations = header, header + 8 * n
    data_start = header + 16 * n
    blob, o_table, t_table = b"", [], []
    for item in ids:
        o_table.append((len(item), data_start + len(blob)))
        blob += item + b"\0"
    for item in strs:
        t_table.append((len(item), data_start + len(blob)))
        blob += item + b"\0"
    out = struct.pack(order + "7I", 0x950412DE, 0, n, originals, translations, 0, 0)
    for length, offset in o_table + t_table:
        out += struct.pack(order + "2I", length, offset)
    path.write_bytes(out + blob)


@pytest.mark.parametrize("order", ["<", ">"])
def test_read_mo_round_trip_both_byte_orders(tmp_path, order):
    catalog = {
        "": "Content-Type: text/plain; charset=UTF-8\n",
        "Open the file": "Ouvrir le fichier",
        "menu\x04Quit the program now": "Quitter le programme",
        "one file\x00%d files": "un fichier\x00%d fichiers",
    }
    write_mo(tmp_path / "x.mo", catalog, order)
    assert read_mo(tmp_path / "x.mo") == {
        "Open the file": "Ouvrir le fichier",
        "Quit the program now": "Quitter le programme",
    }


def test_read_mo_rejects_other_files(tmp_path):
    (tmp_path / "bad.mo").write_bytes(b"\0" * 40)
    with pytest.raises(ValueError, match="bad magic"):
        read_mo(tmp_path / "bad.mo")
    (tmp_path / "short.mo").write_bytes(b"\0")
    with pytest.raises(ValueError, match="too short"):
        read_mo(tmp_path / "short.mo")


def test_gettext_pairs_clean_filter_and_sort(tmp_path):
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    write_mo(
        folder / "a.mo",
        {
            "Save the _current document as %s": "Enregistrer le document _actuel sous %s",
            "Quit": "Quitter",  # too short
            "--verbose print more messages here": "--verbose afficher plus",  # an option
            "Same text in both languages": "Same text in both languages",
        },
    )
    write_mo(folder / "b.mo", {"Close all the open windows": "Fermer toutes les fenêtres"})
    assert gettext_pairs("fr", locale_dir=tmp_path) == [
        ("Close all the open windows", "Fermer toutes les fenêtres"),
        ("Save the current document as", "Enregistrer le document actuel sous"),
    ]
    with pytest.raises(FileNotFoundError, match="No gettext catalogs for 'de'"):
        gettext_pairs("de", locale_dir=tmp_path)


def test_debian_topic_dataset_from_records():
    from relreps.datasets.debian import topic_dataset

    records = [
        {"package": "a", "section": "games", "text": {"en": "a chess game for two", "fr": "x"}},
        {"package": "b", "section": "mail", "text": {"en": "a mail client"}},
        {"package": "c", "section": "libs", "text": {"en": "a library"}},
    ]
    data = topic_dataset(records, ["mail", "games"], max_chars=7)
    assert data.texts == ("a chess", "a mail") and data.labels.tolist() == [1, 0]
    assert data.ids == ("a", "b") and data.label_names == ("mail", "games")
    assert topic_dataset(records, ["games"], "fr").texts == ("x",)
    with pytest.raises(ValueError, match=r"Unknown Debian section\(s\) \['sports'\]"):
        topic_dataset(records, ["sports"])
