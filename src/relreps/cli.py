"""The ``relreps`` command line: a thin layer over the library and the experiments."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from relreps import __version__

__all__ = [
    "build_parser",
    "main",
]


def _cmd_similarities(args: argparse.Namespace) -> int:
    from relreps.similarities import INVARIANCES, get_similarity, similarity_names

    columns = sorted(INVARIANCES)
    print("| similarity | " + " | ".join(columns) + " | description |")
    print("|---|" + "---|" * len(columns) + "---|")
    for name in similarity_names():
        entry = get_similarity(name)
        marks = ["yes" if c in entry.invariances else "no" for c in columns]
        print(f"| `{name}` | " + " | ".join(marks) + f" | {entry.description} |")
    print("\nWith center='anchors', every similarity is also translation-invariant.")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from relreps.demo import run_demo

    run_demo(seed=args.seed)
    return 0


def _cmd_project(args: argparse.Namespace) -> int:
    from relreps.anchors import select_anchors
    from relreps.blockwise import project_to_file, translate_to_file
    from relreps.storage import format_bytes, open_rows

    rows = open_rows(args.input)
    info = {}
    streaming = {
        "memory": args.memory,
        "dtype": args.dtype,
        "block_rows": args.block_rows,
        "scheduler": args.scheduler,
        "progress": not args.no_progress,
    }
    if args.translator is not None:
        if args.anchors is not None or args.n_anchors is not None:
            raise ValueError(
                "--translator translates with the anchors it was fitted on: drop --anchors and "
                "--n-anchors (or drop --translator to project onto anchors)."
            )
        if args.similarity != "cosine" or args.center != "none":
            raise ValueError("--similarity and --center apply to projections, not --translator.")
        info["translator"] = {"file": str(args.translator)}
        run = translate_to_file(rows, args.translator, args.out, info=info, **streaming)
    else:
        if (args.anchors is None) == (args.n_anchors is None):
            raise ValueError(
                "Give the anchors either as --anchors FILE.npy or as --n-anchors K (or translate "
                "with --translator FILE.safetensors)."
            )
        if args.anchors is not None:
            anchors = args.anchors
            info["anchors"] = {"file": str(args.anchors)}
        else:
            # Random rows of the input; the same as select_anchors(x, K, seed=S) on the data.
            chosen = select_anchors(None, args.n_anchors, n_samples=rows.n_rows, seed=args.seed)
            anchors = rows.take(chosen.indices)
            info["anchors"] = {
                "rows": chosen.indices.tolist(),
                "strategy": "random",
                "seed": args.seed,
            }
        run = project_to_file(
            rows,
            anchors,
            args.out,
            similarity=tuple(args.similarity.split(","))
            if "," in args.similarity
            else args.similarity,
            center=None if args.center == "none" else args.center,
            info=info,
            **streaming,
        )
    resumed = " (resumed)" if run.resumed else ""
    print(
        f"wrote {run.path}: {run.shape[0]:,} x {run.shape[1]} {args.dtype}{resumed}; "
        f"{run.blocks_computed} of {run.n_blocks} blocks of {run.block_rows:,} rows computed in "
        f"{run.seconds:.1f} s; peak memory of this process {format_bytes(run.peak_rss)}"
    )
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from relreps.compare import compare, draw, load_embeddings
    from relreps.io import write_json_atomic, write_text_atomic

    if args.texts is not None:  # A and B name encoders: embed the texts with each, cached
        from relreps.cache import EmbeddingCache
        from relreps.encoders import default_cache_dir, get_encoder

        texts = _read_texts(args.texts)
        root = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
        cache = EmbeddingCache(root / "embeddings")
        a, b = (
            cache.embed(get_encoder(name, cache_dir=root), texts, label=Path(args.texts).stem,
                        progress=not args.no_progress)
            for name in (args.a, args.b)
        )  # fmt: skip
    else:  # read in row blocks by compare (safetensors: whole)
        a, b = (load_embeddings(p) if p.endswith(".safetensors") else p for p in (args.a, args.b))
    labels = None if args.labels is None else _read_vector(args.labels, "labels")
    anchors = None
    if args.anchor_file is not None:
        anchors = _read_vector(args.anchor_file, "anchor rows", codes=False)
    result = compare(
        a, b, labels=labels, n_anchors=args.anchors, anchors=anchors, ks=tuple(args.ks),
        resamples=args.resamples, seed=args.seed, names=(Path(args.a).name, Path(args.b).name),
        max_rows=args.max_rows or None,
    )  # fmt: skip
    result.facts["command"] = args.command_line
    text = result.to_markdown()
    print(text)
    if args.out is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        sample_a, sample_b, sample_labels, sample_anchors = result.sample
        figures = draw(sample_a, sample_b, out, labels=sample_labels, anchors=sample_anchors,
                       names=(result.facts["a"], result.facts["b"]))  # fmt: skip
        text += "".join(f"\n![{name}]({name})\n" for name in figures)
        write_text_atomic(out / "report.md", text)
        write_json_atomic(out / "metrics.json", result.to_json())
        print(f"wrote {out / 'report.md'}, {out / 'metrics.json'} and {len(figures)} figure(s)")
    return 0


def _read_texts(path: str) -> list[str]:
    """One sample per line; in a ``.jsonl`` file each line is a JSON string (texts may then hold
    newlines)."""
    import json

    lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
    if not path.endswith(".jsonl"):
        return lines
    texts = []
    for number, line in enumerate(lines, 1):
        try:
            text = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not JSON ({error.msg}).") from None
        if not isinstance(text, str):
            raise ValueError(f"{path}, line {number}: expected a JSON string.")
        texts.append(text)
    return texts


def _read_vector(path: str, what: str, *, codes: bool = True):
    """A 1-D array from a .npy file, or a text file with one value per line (with ``codes``,
    strings become class codes in sorted order; otherwise every value must be an integer)."""
    import numpy as np

    if path.endswith(".npy"):
        values = np.load(path, allow_pickle=False)
    else:
        lines = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
        try:
            values = np.array([int(line) for line in lines])
        except ValueError:
            if not codes:
                raise ValueError(f"{path}: {what} must be integers (row indices).") from None
            values = np.unique(np.array(lines), return_inverse=True)[1]
    if not codes and values.dtype.kind not in "iu":
        raise ValueError(f"{path}: {what} must be integers (row indices).")
    if values.ndim != 1:
        raise ValueError(f"{path}: {what} must be one value per sample, got shape {values.shape}.")
    return values


def _similarity_option(text: str) -> str | tuple[str, ...]:
    """``--similarity``: one name, or several comma-separated (their product)."""
    parts = tuple(part.strip() for part in text.split(","))
    return parts if len(parts) > 1 else parts[0]


def _cmd_fit_translator(args: argparse.Namespace) -> int:
    from relreps.io import save_translator
    from relreps.storage import open_rows
    from relreps.translation import Translator

    def load(path: str):
        rows = open_rows(path)
        return rows.read(0, rows.n_rows)

    options = {} if args.alpha is None else {"alpha": args.alpha}
    translator = Translator(args.method, scaling=args.scaling, l2=args.l2, **options)
    translator.fit(load(args.source_anchors), load(args.target_anchors))
    save_translator(args.out, translator)
    d = translator.diagnostics
    print(
        f"wrote {args.out}: {args.method} translator ({args.scaling} scaling), "
        f"{d['source_dim']} -> {d['target_dim']} dimensions from {d['anchors']:,} anchors "
        f"(cross-covariance rank {d['cross_rank']}); use: relreps project X.npy --translator "
        f"{args.out} --out Y.npy"
    )
    return 0


def _cmd_reproduce(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import relreps.experiments as experiments

    if args.list or args.experiment is None:
        for name in experiments.names():
            print(f"{name:20s} {experiments.get(name).summary}")
        if args.experiment is None and not args.list:
            print(
                "\nRun one with: relreps reproduce NAME [--quick] (see relreps reproduce NAME -h)"
            )
        return 0
    try:
        experiment = experiments.get(args.experiment)
    except ValueError as error:
        parser.error(str(error))
    experiments.run_command(experiment.name, args.rest)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relreps",
        description="Relative representations: compare, stitch and translate latent spaces.",
    )
    parser.add_argument("--version", action="version", version=f"relreps {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="a 10-second end-to-end demonstration of the core")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_cmd_demo)

    sims = commands.add_parser("similarities", help="list similarities and their invariances")
    sims.set_defaults(handler=_cmd_similarities)

    project = commands.add_parser(
        "project",
        help="relative representation of an embeddings file, in blocks within a memory budget",
        description="Project embeddings (a .npy file, a folder of .npy shards or a zarr store) "
        "onto anchors and write the relative representation to a .npy file, in row blocks "
        "within a memory budget. Interrupted runs resume; the file appears when complete.",
    )
    project.add_argument("input", help=".npy file, folder of .npy shards, or zarr store")
    project.add_argument("--out", required=True, help="output .npy file")
    project.add_argument("--anchors", help="anchor embeddings (.npy, k x d, same encoder)")
    project.add_argument(
        "--translator",
        help="or: translate the rows with a translator (.safetensors from fit-translator)",
    )
    project.add_argument("--n-anchors", type=int, help="or: K random rows of the input")
    project.add_argument("--seed", type=int, default=0, help="seed for --n-anchors")
    project.add_argument(
        "--similarity",
        default="cosine",
        help="see relreps similarities; several, comma-separated (cosine,euclidean,l1,linf), give "
        "their concatenated product of invariances",
    )
    project.add_argument("--center", choices=("none", "anchors"), default="none")
    project.add_argument("--memory", default="1GiB", help="peak memory budget (default 1GiB)")
    project.add_argument("--dtype", default="float32", choices=("float16", "float32", "float64"))
    project.add_argument("--block-rows", type=int, help="rows per block (default: from --memory)")
    project.add_argument(
        "--scheduler", help="dask.distributed scheduler address (workers share the files)"
    )
    project.add_argument("--no-progress", action="store_true")
    project.set_defaults(handler=_cmd_project)

    from relreps.translation import SCALINGS, method_names

    comparing = commands.add_parser(
        "compare",
        help="how similar two models' embeddings of the same samples are, and whether one can "
        "replace the other",
        description="Every measure (absolute and relative, with intervals), every translator's "
        "held-out quality and, with --labels, classifier stitching, for two embedding files "
        "whose row i is the same sample (.npy, a folder of .npy shards, zarr, .safetensors).",
    )
    comparing.add_argument("a", help="embeddings by the first model (or an encoder, with --texts)")
    comparing.add_argument("b", help="embeddings of the same samples by the second model")
    comparing.add_argument(
        "--texts",
        help="a text file, one sample per line: A and B are then encoder names "
        "(relreps encoders: minilm, mpnet, use, e5, hf:NAME, st:FOLDER), embedded here",
    )
    comparing.add_argument("--cache-dir", help="embedding cache (default $RELREPS_CACHE)")
    comparing.add_argument("--no-progress", action="store_true")
    comparing.add_argument("--labels", help="class labels (.npy, or a text file, one per line)")
    comparing.add_argument("--anchors", type=int, default=300, help="random anchor rows")
    comparing.add_argument("--anchor-file", help="or: anchor row indices (.npy or text)")
    comparing.add_argument("--ks", type=int, nargs="+", default=[5, 10], help="neighbourhoods")
    comparing.add_argument("--resamples", type=int, default=20, help="subsamples per interval")
    comparing.add_argument("--seed", type=int, default=0)
    comparing.add_argument(
        "--max-rows", type=int, default=10_000,
        help="above this many rows, neighbourhoods, intervals, translators and stitching use a "
        "random sample of this many; CKA and mean cosines also stream over all rows (0: no limit)",
    )  # fmt: skip
    comparing.add_argument("--out", help="folder for report.md and metrics.json")
    comparing.set_defaults(handler=_cmd_compare)

    fit = commands.add_parser(
        "fit-translator",
        help="fit a map between two embedding spaces from parallel anchors",
        description="Fit a translator (relreps.translation.Translator) on parallel anchors: row "
        "i of both files embeds the same sample, each with its own encoder. Translate with "
        "relreps project X.npy --translator OUT --out Y.npy.",
    )
    fit.add_argument("source_anchors", help="source-space anchors (.npy, k x d_source)")
    fit.add_argument("target_anchors", help="target-space anchors (.npy, k x d_target)")
    fit.add_argument("--out", required=True, help="output .safetensors file")
    fit.add_argument("--method", default="ortho", choices=method_names())
    fit.add_argument("--scaling", default="standard", choices=tuple(SCALINGS))
    fit.add_argument("--l2", action="store_true", help="L2-normalise rows around the map")
    fit.add_argument("--alpha", type=float, help="ridge penalty (method ridge)")
    fit.set_defaults(handler=_cmd_fit_translator)

    reproduce = commands.add_parser(
        "reproduce",
        help="reproduce an experiment of the paper (relreps reproduce --list)",
        add_help=False,
    )
    reproduce.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    reproduce.add_argument("--list", action="store_true", help="list the experiments")
    reproduce.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    reproduce.set_defaults(handler=lambda a: _cmd_reproduce(a, parser))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # "relreps reproduce -h" lists experiments; "relreps reproduce NAME -h" is its own help.
    if argv[:1] == ["reproduce"] and len(argv) == 2 and argv[1] in ("-h", "--help"):
        argv = ["reproduce", "--list"]
    args = parser.parse_args(argv)
    # As typed, absolute paths made relative to the working folder (reports must not carry the
    # folders of the machine they ran on).
    typed = [os.path.relpath(a) if os.path.isabs(a) else a for a in argv]
    args.command_line = shlex.join(["relreps", *typed])
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Finished work is saved; run the same command again to resume.",
            file=sys.stderr,
        )
        return 130
    except (
        ValueError,
        TypeError,
        FileNotFoundError,
        FileExistsError,
        KeyError,
        ImportError,
        RuntimeError,
    ) as error:
        # Errors we raise on bad input are written to be read: show the message, not a traceback
        # (RELREPS_DEBUG=1 shows the traceback too).
        if os.environ.get("RELREPS_DEBUG"):
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"relreps: error: {message}", file=sys.stderr)
        return 2
    except OSError as error:  # disk full, permissions: finished blocks and models are kept
        if os.environ.get("RELREPS_DEBUG"):
            raise
        print(
            f"relreps: error: {error}. Finished work is saved; fix this and run the same command "
            "again to resume.",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
