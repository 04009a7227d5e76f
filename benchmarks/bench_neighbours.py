"""Exact cosine top-k: relreps' tiled search against faiss IndexFlatIP and a naive full matrix.

Two cases: the k nearest other rows of one space (queries are the keys: relreps computes only
the tiles on and above the diagonal of the symmetric similarity matrix), and cross-space
retrieval (queries from another space: every tile is computed, as faiss does).

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_neighbours.py``). Writes the table to
``docs/benchmarks.md`` between markers and prints it. Every figure is measured in this run, side
by side, as the median of several repetitions; memory is the peak RSS (VmHWM, reset just before
the call) of a fresh subprocess above its RSS once the input exists. Linux only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import interleaved, machine, write_section

K = 10


def data(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def relreps_top_k(x: np.ndarray) -> np.ndarray:
    from relreps.neighbours import top_k

    return top_k(x, x, K, exclude_self=True).indices


def faiss_top_k(x: np.ndarray) -> np.ndarray:
    import faiss

    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    return index.search(unit, K + 1)[1]


def naive_top_k(x: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(x)
    unit = torch.nn.functional.normalize(t, dim=1)
    similarities = unit @ unit.T  # the whole (n, n) matrix
    similarities.fill_diagonal_(-float("inf"))
    return similarities.topk(K, dim=1).indices


def relreps_cross(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from relreps.neighbours import top_k

    return top_k(y, x, K).indices


def faiss_cross(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x / np.linalg.norm(x, axis=1, keepdims=True))
    return index.search(y / np.linalg.norm(y, axis=1, keepdims=True), K)[1]


METHODS = {
    "relreps (tiled, exact)": relreps_top_k,
    "faiss IndexFlatIP": faiss_top_k,
    "naive full matrix": naive_top_k,
}


def peak_memory(method: str, n: int, d: int) -> dict:
    """Peak RSS of one call, in a fresh process, above the RSS with the input allocated."""
    code = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
import bench_neighbours as b
x = b.data({n}, {d})
import faiss, torch, relreps.measures  # imported before the baseline, like x

def status(field):
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith(field):
                return int(line.split()[1]) * 1024

with open('/proc/self/clear_refs', 'w') as handle:
    handle.write('5')  # reset the peak (VmHWM) to the current RSS
base = status('VmRSS')
try:
    b.METHODS[{method!r}](x)
    ok = True
except RuntimeError as error:
    ok = str(error)[:120]
peak = status('VmHWM')
print(json.dumps({{"extra_mb": (peak - base) / 2**20, "input_mb": x.nbytes / 2**20, "ok": ok}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return {"extra_mb": None, "input_mb": n * d * 4 / 2**20, "ok": result.stderr.strip()[-200:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=300)
    parser.add_argument("--large-n", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    x = data(args.n, args.d)
    times = interleaved({name: (lambda fn=fn: fn(x)) for name, fn in METHODS.items()}, args.repeats)
    # float32 sums in a different order can swap two neighbours whose cosines tie to ~1e-7
    agree = float((relreps_top_k(x).numpy() == faiss_top_k(x)[:, 1:]).all(1).mean())
    base = times["faiss IndexFlatIP"]
    rows = [
        f"| {name} | {seconds:.2f} s | {seconds / base:.2f}x |" for name, seconds in times.items()
    ]
    y = data(args.n, args.d, seed=1)
    cross = interleaved(
        {
            "relreps (tiled, exact)": lambda: relreps_cross(x, y),
            "faiss IndexFlatIP": lambda: faiss_cross(x, y),
        },
        args.repeats,
    )
    cross_agree = float((relreps_cross(x, y).numpy() == faiss_cross(x, y)).all(1).mean())
    cross_rows = [
        f"| {name} | {seconds:.2f} s | {seconds / cross['faiss IndexFlatIP']:.2f}x |"
        for name, seconds in cross.items()
    ]
    memory_rows = []
    for name in ("relreps (tiled, exact)", "faiss IndexFlatIP"):
        start = time.perf_counter()
        memory = peak_memory(name, args.large_n, args.d)
        seconds = time.perf_counter() - start
        memory_rows.append(
            f"| {name} | {memory['input_mb']:.0f} MB | {memory['extra_mb']:.0f} MB "
            f"| {seconds:.0f} s |"
        )
    full_gb = args.large_n**2 * 4 / 2**30
    memory_rows.append(
        f"| naive full matrix | {args.large_n * args.d * 4 / 2**20:.0f} MB | {full_gb:.0f} GB "
        "(the (n, n) matrix alone; not run) | - |"
    )
    command = (
        "make bench"
        if not sys.argv[1:]
        else "python benchmarks/bench_neighbours.py " + " ".join(sys.argv[1:])
    )
    text = "\n".join(
        [
            f"### Exact cosine top-{K} neighbours (`relreps.neighbours.top_k`)",
            "",
            f"Command: `{command}`. Machine: {machine()}.",
            "",
            f"Self-excluded top-{K} of {args.n:,} x {args.d} float32 Gaussian vectors; median of "
            f"{args.repeats} runs, the methods taking turns; ratio to faiss. Rows whose "
            "neighbour list equals faiss's: "
            f"{100 * agree:.3f}% (the rest differ by float32 rounding of near-ties).",
            "",
            "| method | time | ratio to faiss |",
            "|---|---|---|",
            *rows,
            "",
            f"Cross-space retrieval: top-{K} of {args.n:,} queries from a second Gaussian space "
            "among the same keys (no symmetry to use); rows equal to faiss's: "
            f"{100 * cross_agree:.3f}%.",
            "",
            "| method | time | ratio to faiss |",
            "|---|---|---|",
            *cross_rows,
            "",
            f"Memory at n = {args.large_n:,} (d = {args.d}): peak RSS of a fresh process above "
            "its RSS "
            "with the input allocated (one run; the time includes starting the process).",
            "",
            "| method | input | extra peak memory | time |",
            "|---|---|---|---|",
            *memory_rows,
        ]
    )
    write_section("neighbours", text, not args.no_write)


if __name__ == "__main__":
    main()
