"""relative_projection against the ways people compute it by hand, and linear CKA's two forms.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_projection.py``). Writes two sections
of ``docs/benchmarks.md``. Times are medians of several runs, side by side in one process; memory
is the peak RSS of a fresh process above its RSS once the inputs exist (Linux only).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import command_line, interleaved, machine, run_python, table, write_section

from relreps import relative_projection


def data(n: int, d: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n, d), dtype=np.float32),
        rng.standard_normal((k, d), dtype=np.float32),
    )


def bare_matmul(x, a):
    return (torch.from_numpy(x) @ torch.from_numpy(a).T).numpy()


def normalize_then_matmul(x, a):
    # The official implementation's way: F.normalize both sides, then one product.
    f = torch.nn.functional.normalize
    return (f(torch.from_numpy(x), dim=-1) @ f(torch.from_numpy(a), dim=-1).T).numpy()


def sklearn_cosine(x, a):
    from sklearn.metrics.pairwise import cosine_similarity

    return cosine_similarity(x, a)


def torch_cdist(x, a):
    return torch.cdist(torch.from_numpy(x), torch.from_numpy(a)).numpy()


METHODS = {
    "cosine": {
        "relreps `relative_projection`": lambda x, a: relative_projection(x, a),
        "bare `x @ anchors.T` (roofline)": bare_matmul,
        "`F.normalize` both, then matmul": normalize_then_matmul,
        "scikit-learn `cosine_similarity`": sklearn_cosine,
    },
    "euclidean": {
        "relreps `relative_projection(..., 'euclidean')`": lambda x, a: relative_projection(
            x, a, "euclidean"
        ),
        "bare `x @ anchors.T` (roofline)": bare_matmul,
        "`torch.cdist`": torch_cdist,
    },
}


def peak_extra(similarity: str, method: str, n: int, d: int, k: int) -> dict:
    return run_python(
        f"""
import bench_projection as b
x, a = b.data({n}, {d}, {k})
base = reset_peak()
out = b.METHODS[{similarity!r}][{method!r}](x, a)
print(json.dumps({{"extra": peak() - base, "out": out.nbytes, "input": x.nbytes}}))
"""
    )


def projection_section(args) -> str:
    x, a = data(args.n, args.d, args.k)
    mb = 2**20
    reference = {
        "cosine": relative_projection(x.astype(np.float64), a.astype(np.float64)),
        "euclidean": relative_projection(x.astype(np.float64), a.astype(np.float64), "euclidean"),
    }
    rows = []
    for similarity, methods in METHODS.items():
        times = interleaved(
            {name: (lambda fn=fn: fn(x, a)) for name, fn in methods.items()}, args.repeats
        )
        roofline = times["bare `x @ anchors.T` (roofline)"]
        for name, seconds in times.items():
            memory = peak_extra(similarity, name, args.n, args.d, args.k)
            if "error" in memory:
                extra = f"failed: {memory['error'][-80:]}"
                over = "-"
            else:
                extra = f"{memory['extra'] / mb:.0f} MB"
                beyond = memory["extra"] - memory["out"]
                over = f"{100 * beyond / (memory['input'] + memory['out']):+.1f}%"
            error = "-"
            if "roofline" not in name:
                error = f"{np.abs(methods[name](x, a) - reference[similarity]).max():.1e}"
            rows.append(
                [
                    similarity,
                    name,
                    f"{seconds:.3f} s",
                    f"{seconds / roofline:.2f}x",
                    extra,
                    over,
                    error,
                ]
            )
    out_mb = args.n * args.k * 4 / mb
    in_mb = args.n * args.d * 4 / mb
    return "\n".join(
        [
            "### Relative projection (`relreps.relative_projection`)",
            "",
            f"Command: `{command_line('bench_projection.py')}` (part of `make bench`). "
            f"Machine: {machine()}.",
            "",
            f"x: {args.n:,} x {args.d} float32 ({in_mb:.0f} MB), anchors: {args.k} x {args.d}; "
            f"output {args.n:,} x {args.k} float32 ({out_mb:.0f} MB). Time: median of "
            f"{args.repeats} runs, the methods taking turns in each; ratio to the bare matmul, "
            "which computes inner products only and bounds any method from below. Extra memory: "
            "peak RSS above the inputs in a fresh process; 'beyond output' is the extra memory "
            "minus the output, as a share of input + output (target: under 5%, i.e. no copy of "
            "x). Max error: against float64.",
            "",
            table(
                [
                    "similarity",
                    "method",
                    "time",
                    "ratio to matmul",
                    "extra memory",
                    "beyond output",
                    "max error",
                ],
                rows,
            ),
        ]
    )


def gram_cka(x: np.ndarray, y: np.ndarray) -> float:
    """The Gram-matrix form: centred n x n kernels (Kornblith et al., 2019, eq. 3)."""
    xt, yt = torch.from_numpy(x).double(), torch.from_numpy(y).double()
    k, l_ = xt @ xt.T, yt @ yt.T

    def centre(g):
        g -= g.mean(0, keepdim=True)
        g -= g.mean(1, keepdim=True)
        return g

    k, l_ = centre(k), centre(l_)
    return float((k * l_).sum() / torch.sqrt((k * k).sum() * (l_ * l_).sum()))


def cka_run(form: str, n: int, d: int) -> dict:
    return run_python(
        f"""
import time, numpy as np
import bench_projection as b
import relreps.measures as m
rng = np.random.default_rng(0)
x = rng.standard_normal(({n}, {d}), dtype=np.float32)
y = np.tanh(x @ rng.standard_normal(({d}, {d}), dtype=np.float32) / {d**0.5})
base = reset_peak()
start = time.perf_counter()
value = m.linear_cka(x, y) if {form!r} == "feature" else b.gram_cka(x, y)
print(json.dumps({{"seconds": time.perf_counter() - start, "extra": peak() - base,
                   "value": value}}))
"""
    )


def cka_section(args) -> str:
    total_ram = 0
    with open("/proc/meminfo") as handle:
        total_ram = int(handle.readline().split()[1]) * 1024
    rows = []
    per_n2 = None
    for n in args.cka_n:
        feature = cka_run("feature", n, args.cka_d)
        gram_bytes = 4 * n * n * 8  # K, L and two temporaries, float64
        if per_n2 is not None:
            gram_bytes = per_n2 * n * n
        if gram_bytes < 0.6 * total_ram:
            gram = cka_run("gram", n, args.cka_d)
            if "error" not in gram:
                per_n2 = gram["extra"] / n**2
        else:
            gram = {
                "error": f"not run: needs ~{gram_bytes / 2**30:.0f} GiB, over 60% of this "
                f"machine's {total_ram / 2**30:.0f} GiB"
            }

        def cell(result, key):
            if "error" in result:
                return result["error"] if key == "seconds" else "-"
            if key == "seconds":
                return f"{result['seconds']:.2f} s"
            return f"{result['extra'] / 2**20:,.0f} MB"

        agree = "-"
        if "error" not in gram and "error" not in feature:
            agree = f"{abs(gram['value'] - feature['value']):.0e}"
        rows.append(
            [
                f"{n:,}",
                cell(feature, "seconds"),
                cell(feature, "extra"),
                cell(gram, "seconds"),
                cell(gram, "extra"),
                agree,
            ]
        )
    limit = ""
    if per_n2:
        n_max = int((0.8 * total_ram / per_n2) ** 0.5)
        limit = (
            f" The Gram form's measured memory, {per_n2:.0f} bytes x n², exhausts this machine's "
            f"RAM near n ≈ {n_max:,}; the feature form's is O(d²) plus one row block at any n."
        )
    return "\n".join(
        [
            "### Linear CKA: feature-space form against the Gram-matrix form",
            "",
            f"Command: `{command_line('bench_projection.py')}` (part of `make bench`). "
            f"Machine: {machine()}.",
            "",
            f"x: n x {args.cka_d} float32 Gaussian, y = tanh(x W); one run each in a fresh "
            "process; extra memory = peak RSS above the inputs. Feature form: "
            "`relreps.measures.linear_cka` (float64 sums over row blocks). Gram form: centred "
            f"n x n float64 kernels.{limit}",
            "",
            table(
                [
                    "n",
                    "feature form: time",
                    "feature form: extra memory",
                    "Gram form: time",
                    "Gram form: extra memory",
                    "difference",
                ],
                rows,
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--k", type=int, default=768)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--cka-n", type=int, nargs="+", default=[2_000, 8_000, 16_000, 32_000, 200_000]
    )
    parser.add_argument("--cka-d", type=int, default=256)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--sections", nargs="+", choices=("projection", "cka"), default=["projection", "cka"]
    )
    args = parser.parse_args()
    if "projection" in args.sections:
        write_section("projection", projection_section(args), not args.no_write)
    if "cka" in args.sections:
        write_section("cka", cka_section(args), not args.no_write)


if __name__ == "__main__":
    main()
