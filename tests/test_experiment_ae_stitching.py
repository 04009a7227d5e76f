"""The whole autoencoder-stitching pipeline on a tiny real slice (Fashion-MNIST, else digits)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relreps.cli import main

ARGS = [
    "reproduce",
    "ae-stitching",
    "--train-size", "300",
    "--test-size", "100",
    "--n-anchors", "50",
    "--seeds", "2",
    "--epochs", "1",
    "--latent-dim", "32",
    "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ae")
    assert main([*ARGS, "--out", str(out)]) == 0
    return out


def test_outputs_have_the_expected_structure(first_run):
    files = {p.name for p in first_run.iterdir()}
    assert {
        "report.md",
        "metrics.json",
        "reconstructions.png",
        "latent_rotation.png",
        "models",
    } <= files
    metrics = json.loads((first_run / "metrics.json").read_text())
    assert set(metrics["mse_x1e3"]) == {"ae", "rel-ae", "vae", "rel-vae"}
    for variant, result in metrics["mse_x1e3"].items():
        scores = result["scores"]
        assert len(scores) == 2 and all(len(row) == 2 for row in scores), variant
        assert all(value is not None and value > 0 for row in scores for value in row), variant
        assert result["stitched_mean"] > 0 and result["non_stitched_mean"] > 0
    assert len(metrics["anchors"]["indices"]) == 50
    assert metrics["run"]["command"].startswith("relreps reproduce ae-stitching --train-size 300")
    assert set(metrics["pattern_checks"]) == {"ae", "rel-ae", "vae", "rel-vae"}
    report = (first_run / "report.md").read_text()
    for needle in (
        "| AE |",
        "| relative VAE |",
        "sha256",
        "wall time",
        "Every pair",
        "latent_rotation.png",
    ):
        assert needle in report
    # 4 variants x 2 seeds + 3 two-dimensional AEs for the figure, each with its JSON metadata.
    assert len(list((first_run / "models").glob("*.safetensors"))) == 11
    assert len(list((first_run / "models").glob("*.safetensors.json"))) == 11


def test_rerun_trains_nothing_and_gives_the_same_numbers(first_run, capsys):
    before = json.loads((first_run / "metrics.json").read_text())["mse_x1e3"]
    capsys.readouterr()
    assert main([*ARGS, "--out", str(first_run), "--no-figures"]) == 0
    assert "trained" not in capsys.readouterr().out
    assert json.loads((first_run / "metrics.json").read_text())["mse_x1e3"] == before


def test_a_corrupt_model_is_retrained_with_a_warning(first_run, capsys):
    victim = sorted((first_run / "models").glob("rel-ae-seed1-*.safetensors"))[0]
    victim.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="Retraining"):
        assert main([*ARGS, "--out", str(first_run), "--no-figures"]) == 0
    assert "trained relative AE seed 1" in capsys.readouterr().out


def test_bad_arguments_give_messages(tmp_path, capsys):
    assert main([*ARGS, "--out", str(tmp_path), "--jobs", "0"]) == 2
    assert "--jobs must be positive" in capsys.readouterr().err
    assert main([*ARGS, "--out", str(tmp_path), "--seeds", "1"]) == 2
    assert "--seeds must be at least 2" in capsys.readouterr().err
    assert main([*ARGS, "--out", str(tmp_path), "--n-anchors", "5000"]) == 2
    assert "exceeds the 300 training images" in capsys.readouterr().err
    assert main([*ARGS, "--out", str(tmp_path), "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "does not hold the four IDX files" in capsys.readouterr().err


def test_training_in_this_process_matches_worker_processes(first_run, tmp_path, capsys):
    # first_run trained in worker processes wherever the machine has 2+ CPUs; --jobs 1 trains
    # here. Same seeds, same data: the same models up to float rounding of other thread counts.
    assert main([*ARGS, "--out", str(tmp_path), "--no-figures", "--jobs", "1"]) == 0
    assert "processes" not in capsys.readouterr().out
    here = json.loads((tmp_path / "metrics.json").read_text())["mse_x1e3"]
    there = json.loads((first_run / "metrics.json").read_text())["mse_x1e3"]
    for variant in here:
        np.testing.assert_allclose(here[variant]["scores"], there[variant]["scores"], rtol=1e-2)
    assert len(list((tmp_path / "models").glob("*.safetensors"))) == 8
