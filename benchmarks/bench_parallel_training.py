"""Training several small models at once: worker processes against threads in one process.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_parallel_training.py``). Needs
Fashion-MNIST (``make data``; falls back to scikit-learn digits and says so). Writes a section of
``docs/benchmarks.md``.

Runs ``relreps reproduce ae-stitching`` on a slice twice per round, into fresh folders: with
``--jobs 1`` (every model trained in turn in one process using all CPUs as torch threads) and
with ``--jobs N`` (N processes, CPUs / N threads each, one model per process at a time). The
rounds alternate the two so that this machine's speed drift falls on both alike; the table has
the median wall time of each and their ratio, and how far apart the two runs' stitching matrices
are (same seeds and data; only float rounding differs with the thread count).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import command_line, machine, table, write_section

from relreps.models.training import available_cpus


def run(jobs: int, args, out: Path) -> tuple[float, dict]:
    command = [
        sys.executable, "-m", "relreps", "reproduce", "ae-stitching",
        "--train-size", str(args.train_size), "--test-size", str(args.test_size),
        "--seeds", str(args.seeds), "--epochs", str(args.epochs),
        "--batch-size", str(args.batch_size), "--no-figures", "--no-progress",
        "--jobs", str(jobs), "--out", str(out),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return seconds, json.loads((out / "metrics.json").read_text())["mse_x1e3"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-size", type=int, default=5_000)
    parser.add_argument("--test-size", type=int, default=1_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--jobs", type=int, default=None, help="default: one per CPU, at most 4")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    jobs = args.jobs or min(available_cpus(), 4)
    times: dict[int, list[float]] = {1: [], jobs: []}
    worst = 0.0  # largest relative difference between the two runs' stitching matrices
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            results = {}
            for j in (1, jobs) if round_ % 2 == 0 else (jobs, 1):
                seconds, results[j] = run(j, args, Path(scratch) / f"r{round_}-j{j}")
                times[j].append(seconds)
                print(f"round {round_}: --jobs {j}: {seconds:.1f} s", flush=True)
            for variant, result in results[1].items():
                mine, other = (
                    np.asarray(result["scores"]),
                    np.asarray(results[jobs][variant]["scores"]),
                )
                worst = max(worst, float(np.max(np.abs(mine - other) / np.abs(mine))))
    one, many = statistics.median(times[1]), statistics.median(times[jobs])
    n_models = 4 * args.seeds
    rows = [
        ["`--jobs 1`", f"1 x {available_cpus()}", f"{one:.1f} s", "1.00x"],
        [f"`--jobs {jobs}`", f"{jobs} x {max(1, available_cpus() // jobs)}", f"{many:.1f} s",
         f"{one / many:.2f}x"],
    ]  # fmt: skip
    text = "\n".join(
        [
            "### Training models side by side (`relreps reproduce ae-stitching --jobs`)",
            "",
            f"Command: `{command_line('bench_parallel_training.py')}` (part of `make bench`). "
            f"Machine: {machine()}.",
            "",
            f"Wall time of the whole experiment (process start to report) on "
            f"{args.train_size:,} / {args.test_size:,} images: {n_models} models (AE, relative "
            f"AE, VAE, relative VAE x {args.seeds} seeds), {args.epochs} epochs, batch "
            f"{args.batch_size}; median of {args.rounds} alternating rounds. The two train the "
            "same models up to float rounding, which depends on the thread count and grows "
            f"during training: largest relative difference between their stitching MSEs "
            f"{100 * worst:.2f}%.",
            "",
            table(["run", "processes x threads", "wall time", "speed-up"], rows),
        ]
    )
    write_section("parallel-training", text, not args.no_write)


if __name__ == "__main__":
    main()
