"""Fitting a translator against its lower bound, and streaming a translation out of core.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_translation.py``). Writes one section
of ``docs/benchmarks.md``.

Orthogonal Procrustes on k anchors of width d is one k x d x d product (the cross-covariance)
and the SVD of a d x d matrix; nothing can fit it faster. The bound is timed here on the same
float32 anchors, with the same float64 conversion the translator does, side by side with
:meth:`relreps.translation.Translator.fit` under every scaling. The other estimators solve a
k x d least-squares problem (a k x d SVD or a d x d solve): their times are listed beside it.
The streaming row: :func:`relreps.blockwise.translate_to_file` of a memmapped file larger than
the memory budget, peak RSS of a fresh process against that budget.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from common import command_line, interleaved, machine, run_python, table, write_section

from relreps.translation import Translator


def anchors(k: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((k, d), dtype=np.float32) * rng.uniform(0.2, 3.0, d).astype(np.float32)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    y = (x @ q + 0.01 * rng.standard_normal((k, d))).astype(np.float32)
    return x, y


def bound(x: np.ndarray, y: np.ndarray) -> torch.Tensor:
    """The least any float64 Procrustes fit does: convert, one product, one SVD, U Vᵀ."""
    xt, yt = torch.from_numpy(x).double(), torch.from_numpy(y).double()
    u, _, vt = torch.linalg.svd(xt.T @ yt, full_matrices=False)
    return u @ vt


def fit(method: str, scaling: str):
    def run(x, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Translator(method, scaling=scaling).fit(x, y)

    return run


def fit_section(args) -> str:
    x, y = anchors(args.k, args.d)
    candidates = {"bound: float64 cast, XᵀY, SVD, UVᵀ": bound}
    for scaling in ("none", "center", "isotropic", "standard"):
        candidates[f"`Translator('ortho', scaling={scaling!r})`"] = fit("ortho", scaling)
    candidates["`Translator('scaled-ortho')`"] = fit("scaled-ortho", "standard")
    jobs = {name: (lambda f=f: f(x, y)) for name, f in candidates.items()}
    times = interleaved(jobs, args.repeats)
    slow = {}
    for method in args.others:
        slow[f"`Translator({method!r})`"] = fit(method, "standard")
    times.update(interleaved({n: (lambda f=f: f(x, y)) for n, f in slow.items()}, 1))
    base = times["bound: float64 cast, XᵀY, SVD, UVᵀ"]
    rows = [[name, f"{seconds:.3f} s", f"{seconds / base:.2f}x"] for name, seconds in times.items()]
    return "\n".join(
        [
            f"Fitting on {args.k:,} parallel anchors x {args.d} dims (float32 in; float64 "
            f"inside). Time: median of {args.repeats} runs, taking turns (the least-squares "
            "rows: one run after a warm-up).",
            "",
            table(["fit", "time", "ratio to the bound"], rows),
        ]
    )


def stream_section(args) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.npy"
        big = np.lib.format.open_memmap(
            path, mode="w+", dtype=np.float32, shape=(args.stream_rows, args.d)
        )
        rng = np.random.default_rng(0)
        for start in range(0, args.stream_rows, 50_000):
            stop = min(start + 50_000, args.stream_rows)
            big[start:stop] = rng.standard_normal((stop - start, args.d), dtype=np.float32)
        big.flush()
        del big
        budget = args.budget_mib * 2**20
        result = run_python(
            f"""
import time, numpy as np
from relreps.blockwise import translate_to_file
from relreps.translation import Translator
x = np.load({str(path)!r}, mmap_mode="r")
q = np.linalg.qr(np.random.default_rng(1).standard_normal(({args.d}, {args.d})))[0]
sample = np.asarray(x[:2000])
translator = Translator("ortho", scaling="isotropic").fit(sample, sample @ q)
base = reset_peak()
start = time.perf_counter()
run = translate_to_file(x, translator, {str(Path(folder) / "y.npy")!r}, memory={budget},
                        progress=False)
seconds = time.perf_counter() - start
y = np.load({str(Path(folder) / "y.npy")!r}, mmap_mode="r")
error = float(np.abs(np.asarray(y[-1000:]) - np.asarray(x[-1000:]) @ q).max())
print(json.dumps({{"seconds": seconds, "peak": peak(), "base": base, "blocks": run.n_blocks,
                   "rows": run.shape[0], "error": error}}))
"""
        )
    input_mib = args.stream_rows * args.d * 4 / 2**20
    if "error" in result and "seconds" not in result:
        return f"Streaming failed: {result['error']}"
    return "\n".join(
        [
            "Streaming: `translate_to_file` (what `relreps project X.npy --translator "
            f"T.safetensors --memory {args.budget_mib}MiB` runs) on a memmapped "
            f"{args.stream_rows:,} x {args.d} "
            f"float32 file ({input_mib:,.0f} MiB), budget {args.budget_mib} MiB for the whole "
            f"process: {result['blocks']} blocks in {result['seconds']:.1f} s "
            f"({result['rows'] / result['seconds']:,.0f} rows/s), peak RSS "
            f"{result['peak'] / 2**20:.0f} MiB (interpreter and libraries alone: "
            f"{result['base'] / 2**20:.0f} MiB); max error against x @ Q: {result['error']:.1e}.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=10_000, help="anchors")
    parser.add_argument("--d", type=int, default=768, help="width of both spaces")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--others",
        nargs="*",
        default=["linear", "affine", "ridge", "affine-sgd"],
        help="the least-squares estimators timed once each (affine-sgd: minutes at 10k x 768)",
    )
    parser.add_argument("--stream-rows", type=int, default=1_000_000)
    parser.add_argument("--budget-mib", type=int, default=1024)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    text = "\n".join(
        [
            "### Translation (`relreps.translation.Translator`)",
            "",
            f"Command: `{command_line('bench_translation.py')}` (part of `make bench`). "
            f"Machine: {machine()}.",
            "",
            fit_section(args),
            "",
            stream_section(args),
        ]
    )
    write_section("translation", text, write=not args.no_write)


if __name__ == "__main__":
    main()
