"""Graph grid throughput: models per minute with 1 and N worker processes.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_graph_grid.py``). Needs the Planetoid
files (``--graph-dir``, ``$RELREPS_PLANETOID`` or the project's shared folder) and the
``graphs`` extra. Writes a section of ``docs/benchmarks.md``.

Runs ``relreps reproduce graph-proxy`` on a slice of its grid (one seed, every layer type, depth
and optimiser) into fresh folders, with ``--jobs 1`` (every model trained in turn in one process
using all CPUs as torch threads) and ``--jobs N`` (N processes of CPUs / N threads). Rounds
alternate the two so that this machine's speed drift falls on both alike; the table has the
median wall time, the models per minute and the ratio, and how far apart the two runs' best
validation accuracies are (same seeds; float rounding differs with the thread count).
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

from common import command_line, machine, table, write_section

from relreps.models.training import available_cpus


def run(jobs: int, args, out: Path) -> tuple[float, dict[str, float]]:
    command = [
        sys.executable, "-m", "relreps", "reproduce", "graph-proxy",
        "--seeds", "1", "--epochs", str(args.epochs), "--dropouts", "0.5",
        "--activations", "relu", "--conv-activations", "relu", "--lrs", "0.02",
        "--reference-epochs", str(args.epochs), "--resamples", "100", "--curves", "0",
        "--no-figures", "--no-progress", "--jobs", str(jobs), "--out", str(out),
    ]  # fmt: skip
    if args.graph_dir:
        command += ["--graph-dir", args.graph_dir]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    runs = json.loads((out / "metrics.json").read_text())["runs"]
    return seconds, {r["name"]: r["best_val_accuracy"] for r in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--graph-dir", default=None)
    parser.add_argument("--jobs", type=int, default=None, help="default: one per CPU, at most 4")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    jobs = args.jobs or min(available_cpus(), 4)
    times: dict[int, list[float]] = {1: [], jobs: []}
    differences: list[float] = []
    n_models = 0
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            found = {}
            for j in (1, jobs) if round_ % 2 == 0 else (jobs, 1):
                seconds, found[j] = run(j, args, Path(scratch) / f"r{round_}-j{j}")
                times[j].append(seconds)
                print(f"round {round_}: --jobs {j}: {seconds:.1f} s", flush=True)
            n_models = len(found[1])
            differences += [abs(found[1][name] - found[jobs][name]) for name in found[1]]
    one, many = statistics.median(times[1]), statistics.median(times[jobs])
    cpus = available_cpus()
    rows = [
        ["`--jobs 1`", f"1 x {cpus}", f"{one:.1f} s", f"{60 * n_models / one:.1f}", "1.00x"],
        [f"`--jobs {jobs}`", f"{jobs} x {max(1, cpus // jobs)}", f"{many:.1f} s",
         f"{60 * n_models / many:.1f}", f"{one / many:.2f}x"],
    ]  # fmt: skip
    changed = sum(d > 0 for d in differences)
    text = "\n".join(
        [
            "### Graph grid throughput (`relreps reproduce graph-proxy --jobs`)",
            "",
            f"Command: `{command_line('bench_graph_grid.py')}` (part of `make bench`). "
            f"Machine: {machine()}.",
            "",
            f"Wall time of the whole experiment (process start to report) on Cora: {n_models} "
            f"relative networks (GCN2Conv and GIN, 2 and 8 layers of 64 channels, Adam and SGD, "
            f"{args.epochs} full-batch epochs each, the long-trained one included), median of "
            f"{args.rounds} alternating rounds. Float rounding depends on the thread count: "
            f"{changed} of {len(differences)} best validation accuracies differ between the two "
            f"(largest difference {max(differences, default=0):.3f}).",
            "",
            table(
                ["run", "processes x threads", "wall time", "models per minute", "speed-up"], rows
            ),
        ]
    )
    write_section("graph-grid", text, not args.no_write)


if __name__ == "__main__":
    main()
