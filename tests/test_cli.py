from __future__ import annotations

import pytest

from relreps.cli import main


def test_demo_shows_relative_stitching_works(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "relative latents:    +1.000" in out


def test_demo_scores():
    from relreps.demo import run_demo

    scores = run_demo(seed=1)
    assert abs(scores["absolute_cosine_a_vs_b"]) < 0.1
    assert scores["relative_cosine_a_vs_b"] > 0.999
    assert scores["absolute_accuracy_stitched_b"] < 0.5
    assert scores["relative_accuracy_stitched_b"] == pytest.approx(scores["relative_accuracy_a"])


def test_reproduce_list_and_unknown_experiment(capsys):
    assert main(["reproduce", "--list"]) == 0
    with pytest.raises(SystemExit):
        main(["reproduce", "no-such-experiment"])
    assert "Unknown experiment 'no-such-experiment'" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: relreps" in capsys.readouterr().out
