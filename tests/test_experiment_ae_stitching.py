"""The autoencoder-stitching experiment on a small real slice (Fashion-MNIST, else digits)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import relreps.experiments as experiments
from relreps.cli import main

pytestmark = pytest.mark.slow

# 2,000 images, 3 epochs of batches of 64: enough training for the paper's pattern (absolute
# stitching multiplied the error by 5.8x (AE) and 3.3x (VAE), relative by 1.15x and 1.02x when
# this slice was chosen), small enough for ~20 s on 2 cores.
ARGS = [
    "reproduce", "ae-stitching",
    "--train-size", "2000",
    "--test-size", "200",
    "--n-anchors", "50",
    "--seeds", "2",
    "--epochs", "3",
    "--batch-size", "64",
    "--latent-dim", "32",
    "--no-progress",
]  # fmt: skip


def metrics(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ae")
    assert main([*ARGS, "--out", str(out)]) == 0
    return out


def test_relative_stitching_degrades_far_less_than_absolute(first_run):
    checks = metrics(first_run)["pattern_checks"]
    for absolute, relative in (("ae", "rel-ae"), ("vae", "rel-vae")):
        assert checks[relative]["ratio"] < 1.5, checks
        assert checks[absolute]["ratio"] > 2 * checks[relative]["ratio"], checks


def test_outputs_record_anchors_models_and_the_command(first_run):
    files = {p.name for p in first_run.iterdir()}
    assert {"report.md", "metrics.json", "reconstructions.png", "latent_rotation.png"} <= files
    found = metrics(first_run)
    for variant, result in found["mse_x1e3"].items():
        assert np.array(result["scores"]).shape == (2, 2), variant
    anchors = found["anchors"]["images"]
    assert len(anchors["indices"]) == 50 and anchors["strategy"] == "stratified"
    assert anchors["seed"] == 0 and "training images" in anchors["source"]
    # 4 variants x 2 seeds + 3 two-dimensional AEs for the figure, all trained by this run.
    assert len(found["models"]) == 11 and found["facts"]["trained_now"] == 11
    assert found["settings"]["seeds"] == 2 and found["settings"]["epochs"] == 3
    command = found["run"]["command"]
    assert command.startswith("relreps reproduce ae-stitching --train-size 2000")
    # folders relative to where it ran, never the machine's absolute paths
    assert f"--out {os.path.relpath(first_run)}" in command and f"--out {first_run}" not in command
    assert len(list((first_run / "models").glob("*.safetensors.json"))) == 11


def test_rerun_trains_nothing_and_gives_the_same_numbers(first_run):
    before = metrics(first_run)["mse_x1e3"]
    assert main([*ARGS, "--out", str(first_run), "--no-figures"]) == 0
    again = metrics(first_run)
    assert again["facts"]["trained_now"] == 0
    assert again["mse_x1e3"] == before


def test_a_corrupt_model_is_retrained_with_a_warning(first_run):
    victim = sorted((first_run / "models").glob("rel-ae-seed1-*.safetensors"))[0]
    victim.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="Retraining"):
        assert main([*ARGS, "--out", str(first_run), "--no-figures"]) == 0
    ledger = metrics(first_run)["models"]
    assert [(e["model"], e["seed"]) for e in ledger if e["trained_now"]] == [("relative AE", 1)]


def test_bad_arguments_give_messages(tmp_path, capsys):
    assert main([*ARGS, "--out", str(tmp_path), "--jobs", "0"]) == 2
    assert "--jobs must be an integer of at least 1, got 0" in capsys.readouterr().err
    assert main([*ARGS, "--out", str(tmp_path), "--seeds", "1"]) == 2
    assert "--seeds must be an integer of at least 2 (stitching needs two)" in (
        capsys.readouterr().err
    )
    assert main([*ARGS, "--out", str(tmp_path), "--n-anchors", "5000"]) == 2
    assert "exceeds the 2000 training images" in capsys.readouterr().err
    assert main([*ARGS, "--out", str(tmp_path), "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "does not hold the four IDX files" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"Unknown setting.*'cache_dir'"):
        experiments.run("ae-stitching", cache_dir="somewhere")


def test_training_in_this_process_matches_worker_processes(tmp_path):
    # --jobs 2 trains in two worker processes (one thread each), --jobs 1 here: the same models up
    # to float rounding of other thread counts, which training amplifies (a one-epoch slice keeps
    # it within 1%).
    tiny = ["reproduce", "ae-stitching", "--train-size", "300", "--test-size", "100",
            "--n-anchors", "50", "--seeds", "2", "--epochs", "1", "--latent-dim", "32",
            "--no-progress", "--no-figures"]  # fmt: skip
    assert main([*tiny, "--out", str(tmp_path / "here"), "--jobs", "1"]) == 0
    assert main([*tiny, "--out", str(tmp_path / "there"), "--jobs", "2"]) == 0
    here, there = metrics(tmp_path / "here")["mse_x1e3"], metrics(tmp_path / "there")["mse_x1e3"]
    for variant in here:
        np.testing.assert_allclose(here[variant]["scores"], there[variant]["scores"], rtol=1e-2)


def test_python_entry_point_returns_the_result(tmp_path):
    result = experiments.run(
        "ae-stitching", train_size=300, test_size=100, n_anchors=20, seeds=2, epochs=1,
        latent_dim=8, figures=False, progress=False, out=tmp_path, jobs=1,
    )  # fmt: skip
    assert set(result.metrics["pattern_checks"]) == {"ae", "rel-ae", "vae", "rel-vae"}
    assert "| relative VAE |" in result.table
    command = metrics(tmp_path)["run"]["command"]
    assert "--train-size 300" in command and "--no-figures" in command and "--jobs 1" in command
