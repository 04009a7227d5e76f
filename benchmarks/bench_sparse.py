"""Sparse relative projection (ASIF) against a faiss flat-index top-k with the same k.

``relreps.sparse.sparse_relative_projection`` is a top-k search plus building the sparse matrix;
a faiss ``IndexFlatIP`` search on unit rows is the exact top-k any implementation needs, so its
time is the baseline. Memory: peak RSS of a fresh process above its RSS once the inputs exist,
against the size the dense ``(n, m)`` matrix would have.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_sparse.py``; the issue's full size is
``--queries 100000 --anchors 1000000``). Writes one section of ``docs/benchmarks.md``;
``--profile`` prints where relreps' time goes instead.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import command_line, interleaved, machine, run_python, table, write_section


def data(n: int, m: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((n, d), dtype=np.float32),
        rng.standard_normal((m, d), dtype=np.float32),
    )


def relreps_sparse(x, anchors, k):
    from relreps.sparse import sparse_relative_projection

    return sparse_relative_projection(x, anchors, k, power=8)


def faiss_search(x, anchors, k):
    import faiss

    unit = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    return index.search(x / np.linalg.norm(x, axis=1, keepdims=True), k)


METHODS = {
    "relreps `sparse_relative_projection`": relreps_sparse,
    "faiss `IndexFlatIP`": faiss_search,
}


def peak(name: str, n: int, m: int, d: int, k: int) -> dict:
    return run_python(
        f"""
import bench_sparse as b
x, a = b.data({n}, {m}, {d})
base = reset_peak()
b.METHODS[{name!r}](x, a, {k})
print(json.dumps({{"extra": peak() - base}}))
"""
    )


def profile(x, anchors, k) -> None:
    """Where the time of one ``sparse_relative_projection`` call goes: each part of the tiled
    top-k engine timed (after one warm-up call), beside one faiss search of the same data."""
    import time
    from collections import Counter

    import relreps.neighbours as engine

    seconds, calls = Counter(), Counter()
    parts = {
        "_similarity_tile": "matrix products",
        "_above": "threshold pass",
        "_merge_top_k": "merges",
        "_row_top_k": "first tiles' top-k",
    }
    for name in parts:
        original = getattr(engine, name)

        def timed(*args, _original=original, _name=name, **kwargs):
            start = time.perf_counter()
            result = _original(*args, **kwargs)
            seconds[_name] += time.perf_counter() - start
            calls[_name] += 1
            return result

        setattr(engine, name, timed)
    relreps_sparse(x, anchors, k)
    seconds.clear(), calls.clear()
    start = time.perf_counter()
    relreps_sparse(x, anchors, k)
    total = time.perf_counter() - start
    start = time.perf_counter()
    faiss_search(x, anchors, k)
    baseline = time.perf_counter() - start
    flops = 2 * x.shape[0] * anchors.shape[0] * x.shape[1]
    rows = [["sparse_relative_projection, whole call", f"{total:.2f} s", "1", ""]]
    for name, label in parts.items():
        rate = f"{flops / seconds[name] / 1e9:.0f} GFLOP/s" if name == "_similarity_tile" else ""
        rows.append([f"{label} (`{name}`)", f"{seconds[name]:.2f} s", str(calls[name]), rate])
    rows.append(["faiss `IndexFlatIP` search", f"{baseline:.2f} s", "1", ""])
    print(table(["part", "time", "calls", "rate"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--anchors", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="time the engine's parts instead (prints only)"
    )
    args = parser.parse_args()
    x, anchors = data(args.queries, args.anchors, args.dim)
    if args.profile:
        return profile(x, anchors, args.k)
    jobs = {name: (lambda f=f: f(x, anchors, args.k)) for name, f in METHODS.items()}
    times = interleaved(jobs, args.repeats)
    base = times["faiss `IndexFlatIP`"]
    dense = args.queries * args.anchors * 4 / 2**20
    rows = []
    for name, seconds in times.items():
        memory = peak(name, args.queries, args.anchors, args.dim, args.k)
        extra = memory.get("extra")
        cell = "-" if extra is None else f"{extra / 2**20:.0f} MiB"
        rows.append([name, f"{seconds:.2f} s", f"{seconds / base:.2f}x", cell])
    text = "\n".join(
        [
            "### Sparse relative projection (`relreps.sparse`)",
            "",
            f"Command: `{command_line('bench_sparse.py')}` (part of `make bench`). "
            f"Machine: {machine()}.",
            "",
            f"{args.queries:,} queries x {args.anchors:,} anchors x {args.dim} dims (float32), "
            f"k = {args.k}; the dense relative matrix would take {dense:,.0f} MiB. Time: median "
            f"of {args.repeats} runs, taking turns.",
            "",
            table(["method", "time", "ratio to faiss", "peak memory above inputs"], rows),
        ]
    )
    write_section("sparse", text, write=not args.no_write)


if __name__ == "__main__":
    main()
