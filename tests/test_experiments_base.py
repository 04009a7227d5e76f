"""The experiment base: settings declared once (argparse, validation, JSON), Run, the registry,
the paper's numbers and the report helpers. Fast: no experiment runs here."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import relreps
import relreps.experiments as experiments
from relreps.experiments import base, paper
from relreps.experiments.base import Run, option
from relreps.experiments.report import (
    format_mean_std,
    markdown_table,
    stitching_matrix_table,
    write_report,
)


@dataclass(frozen=True)
class Toy(base.Settings):
    UNUSED = frozenset({"device", "jobs"})

    seeds: int = option(5, quick=2, minimum=1, help="seeds")
    rate: float = option(0.5, minimum=0.0, help="a rate")
    names: tuple[str, ...] = option(("a", "b"), quick=("a",), choices=("a", "b", "c"), help="x")
    files: tuple[Path, ...] = option((), flag="--file", metavar="PATH", help="input files")
    limit: int | None = option(None, quick=100, minimum=1, shown="all", help="rows")


def parse(*arguments: str) -> Toy:
    parser = argparse.ArgumentParser()
    Toy.add_arguments(parser)
    return Toy.from_arguments(parser.parse_args(list(arguments)))


def test_full_quick_and_given_values():
    full = parse()
    assert (full.seeds, full.names, full.limit, full.quick) == (5, ("a", "b"), None, False)
    quick = parse("--quick")
    assert (quick.seeds, quick.names, quick.limit, quick.quick) == (2, ("a",), 100, True)
    given = parse("--quick", "--seeds", "7", "--names", "c", "a", "--file", "x.vec", "--file", "y")
    assert given.seeds == 7 and given.names == ("c", "a")
    assert given.files == (Path("x.vec"), Path("y")) and given.limit == 100
    assert parse("--no-progress", "--no-figures").progress is False


def test_values_are_validated_with_the_flag_in_the_message():
    with pytest.raises(ValueError, match=r"--seeds must be an integer of at least 1, got 0\."):
        parse("--seeds", "0")
    with pytest.raises(ValueError, match=r"--rate must be at least 0\.0"):
        Toy.create(rate=-1.0)
    with pytest.raises(ValueError, match="--names must be one of a, b, c; got 'd'"):
        parse("--names", "a", "d")
    with pytest.raises(ValueError, match=r"Unknown setting\(s\) \['device'\]"):
        Toy.create(device="cuda")  # declared unused by this experiment
    with pytest.raises(TypeError, match="--seeds must be an integer"):
        Toy.create(seeds=2.5)


def test_unused_common_options_are_not_on_the_command_line():
    parser = argparse.ArgumentParser()
    Toy.add_arguments(parser)
    flags = {flag for action in parser._actions for flag in action.option_strings}
    assert {"--quick", "--out", "--cache-dir", "--no-progress", "--seeds", "--file"} <= flags
    assert not {"--device", "--jobs"} & flags


def test_settings_serialise_to_json():
    settings = Toy.create(quick=True, files=["a.vec"], out="results/x")
    data = json.loads(json.dumps(settings.to_dict()))
    assert data["files"] == ["a.vec"] and data["out"] == "results/x" and data["quick"] is True
    assert "device" not in data and data["names"] == ["a"]


def test_commands_record_folders_relative_to_where_they_ran(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = str(tmp_path / "results" / "x")
    outside = os.path.join(os.path.dirname(tmp_path), "cache")
    command = base.command_line(
        "toy",
        ["--out", inside, "--cache-dir=" + outside, "--seeds", "3", "--file", "/abs/a"],
        Toy.path_flags(),
    )
    assert command == (
        "relreps reproduce toy --out results/x --cache-dir=../cache --seeds 3 --file "
        + os.path.relpath("/abs/a", tmp_path)
    )
    assert base.arguments_for(Toy, True, {"seeds": 3, "names": ["a", "c"], "figures": False}) == [
        "--quick",
        "--seeds",
        "3",
        "--names",
        "a",
        "c",
        "--no-figures",
    ]
    assert base.arguments_for(Toy, False, {"files": ["a", "b"]}) == ["--file", "a", "--file", "b"]


def test_a_run_records_anchor_sets_and_writes_the_report(tmp_path):
    run = Run("toy", Toy.create(out=tmp_path), "relreps reproduce toy")
    anchors = relreps.select_anchors(None, 3, n_samples=10, seed=4, source="ten rows")
    assert run.anchors("first", anchors) is anchors
    with pytest.raises(ValueError, match="already recorded"):
        run.anchors("first", anchors)
    with pytest.raises(ValueError, match="Say where"):
        run.anchors("second", relreps.select_anchors(None, 2, n_samples=5))
    run.facts["data"] = {"rows": 10}
    run.finish()
    result = base.Result("A toy", "| t |", (("Result", "| t |"),), {"value": 1.5})
    report = write_report(run, result).read_text()
    assert report.startswith("# A toy") and "- command: `relreps reproduce toy`" in report
    assert "3 anchors, `random`, seed 4; from ten rows" in report
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["value"] == 1.5 and metrics["facts"] == {"data": {"rows": 10}}
    assert metrics["anchors"]["first"]["indices"] == anchors.indices.tolist()
    assert metrics["anchors"]["first"]["seed"] == 4 and metrics["settings"]["seeds"] == 5


def test_registry_names_and_errors():
    assert {
        "ae-stitching",
        "cross-lingual",
        "image-stitching",
        "text-stitching",
        "word-embeddings",
    } <= set(experiments.names())
    with pytest.raises(ValueError, match="Unknown setting"):
        experiments.run("word-embeddings", quick=True, device="cuda")
    with pytest.raises(ValueError, match="--seeds must be an integer of at least 1"):
        experiments.run("text-stitching", seeds=0)


def test_paper_numbers_in_one_shape():
    assert paper.value("word-embeddings", "Word2Vec->FastText relative", "MRR@5") == 0.97
    assert paper.value("cross-lingual", "relative, Wikipedia anchors", "ja") == 66.31
    assert paper.value("text-stitching", "relative stitched", "TREC") == 74.49
    assert {n.column for n in paper.lookup("cross-lingual", row="absolute")} == {
        "en",
        "es",
        "fr",
        "ja",
    }
    assert all(n.source.startswith("[") for n in paper.NUMBERS)
    with pytest.raises(KeyError, match="no number"):
        paper.value("text-stitching", "relative stitched", "IMDB")


def test_report_helpers_by_hand():
    assert format_mean_std({"mean": 1.234, "std": 0.05}) == "1.23 ± 0.05"
    assert format_mean_std((70.0, 1.26), 1) == "70.0 ± 1.3"
    assert format_mean_std({"mean": 0.5, "std": 0.001}, 2, hide_small_std=True) == "0.50"
    assert format_mean_std(None) == "-" and format_mean_std(float("nan")) == "-"
    assert format_mean_std(0.25) == "0.25"
    assert markdown_table(["a", "b"], [[1, 2]]) == "| a | b |\n|---|---|\n| 1 | 2 |"
    table = stitching_matrix_table([[1.0, None], [np.nan, 2.5]], ["x", "y"], ["p", "q"])
    assert table.splitlines()[2:] == ["| **x** | 1.0 | - |", "| **y** | - | 2.5 |"]


@pytest.mark.parametrize("name", experiments.names())
def test_every_numeric_option_has_a_declared_range_checked_before_work(name):
    import typing

    settings_class = experiments.get(name).settings_class
    hints = typing.get_type_hints(settings_class)
    for spec in settings_class.fields():
        kind = hints[spec.name]
        numeric = {int, float} & {kind, *typing.get_args(kind)}
        element = typing.get_args(kind)[0] if typing.get_origin(kind) is tuple else None
        if not numeric and element not in (int, float):
            continue
        minimum, above = spec.metadata.get("minimum"), spec.metadata.get("above")
        assert minimum is not None or above is not None, f"{name}: --{spec.name} has no range"
        bad = (minimum - 1) if minimum is not None else above
        value = (bad,) if element is not None else bad
        with pytest.raises((ValueError, TypeError), match=spec.name.replace("_", "-")):
            settings_class.create(**{spec.name: value})
