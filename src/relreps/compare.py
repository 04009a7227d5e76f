"""How similar are two models' representations of the same samples, and can one replace the other?

:func:`compare` answers both for two embedding matrices whose row ``i`` is the same sample: every
measure of :mod:`relreps.measures` on the absolute spaces (with its invariances), the same on
relative representations to shared anchors, every translator's held-out quality, and, with
labels, how well a classifier trained on one model reads the other (absolute, relative,
translated). Each number comes with an interval over resamples of the rows. ``relreps compare A
B`` is the command line face.

Inputs larger than memory (paths, memmaps, zarr, Dask arrays) are read in row blocks: beyond
``max_rows`` rows, the neighbourhood measures, intervals, translators and classifier stitching
see a seeded random sample of ``max_rows`` rows, and linear CKA and the mean cosines are also
computed over every row, streamed (with Dask; ``pip install relreps[dask]``).

It composes the core (measures, anchors, projection, translation); it adds no method of its own.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Comparison", "compare", "draw", "load_embeddings"]


@dataclass
class Comparison:
    """What :func:`compare` measured: ``rows`` of ``{"group", "measure", "value", "low",
    "high", "invariances", "note"}``, and the facts of the run."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    #: ``(a, b, labels, anchor positions)``: the in-memory rows the sampled measures saw (for
    #: :func:`draw`); not part of the JSON.
    sample: Any = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"facts": self.facts, "rows": self.rows}

    def to_markdown(self) -> str:
        lines = [
            f"# Comparing {self.facts['a']} and {self.facts['b']}",
            "",
            f"{self.facts['n']:,} paired samples ({self.facts['dims'][0]}-d and "
            f"{self.facts['dims'][1]}-d); {self.facts['n_anchors']} random anchors (seed "
            f"{self.facts['seed']}); intervals: {self.facts['interval']}.",
            *(["", f"Sampled: {self.facts['sampled']}."] if self.facts.get("sampled") else []),
            "",
            *([f"Command: `{self.facts['command']}`", ""] if "command" in self.facts else []),
            "| group | measure | value | interval | invariant to | note |",
            "|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            interval = "" if row["low"] is None else f"[{row['low']:.3f}, {row['high']:.3f}]"
            value = "undefined" if row["value"] is None else f"{row['value']:.3f}"
            lines.append(
                f"| {row['group']} | {row['measure']} | {value} | {interval} | "
                f"{row['invariances']} | {row['note']} |"
            )
        return "\n".join(lines) + "\n"


def load_embeddings(source: str | os.PathLike[str]) -> np.ndarray:
    """An ``(n, d)`` float array from a ``.npy`` file, a folder of ``.npy`` shards, a zarr
    store or a ``.safetensors`` file holding one tensor."""
    from relreps.storage import open_rows

    path = Path(source)
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(path))
        except Exception as error:  # the library raises its own error types
            raise ValueError(f"{path} is not a readable safetensors file ({error}).") from None
        if len(tensors) != 1:
            raise ValueError(
                f"{path} holds {len(tensors)} tensors ({sorted(tensors)}); expected exactly one."
            )
        array = next(iter(tensors.values()))
    else:
        rows = open_rows(path)
        array = rows.read(0, rows.n_rows)
    if array.ndim != 2 or array.dtype.kind not in "fiu":
        raise ValueError(f"{path}: expected a 2-D numeric array, got {array.shape} {array.dtype}.")
    return array


def compare(
    a: np.ndarray,
    b: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    n_anchors: int = 300,
    anchors: np.ndarray | None = None,
    ks: tuple[int, ...] = (5, 10),
    resamples: int = 20,
    seed: int = 0,
    names: tuple[str, str] = ("A", "B"),
    max_rows: int | None = 10_000,
) -> Comparison:
    """Compare two models' embeddings ``a`` ``(n, d_a)`` and ``b`` ``(n, d_b)`` of the same samples.

    Parameters
    ----------
    a, b
        Arrays (numpy, memmap), or anything :func:`relreps.storage.open_rows` reads: a ``.npy``
        path, a folder of ``.npy`` shards, a zarr store, a Dask array. Read in row blocks.
    labels
        Optional class labels ``(n,)``: adds classifier stitching (a logistic regression trained
        on ``b``'s representation of 80% of the rows, scored on ``a``'s of the other 20%).
    n_anchors, anchors
        Random rows used as anchors (``select_anchors(..., seed=seed)``), or their row indices.
    ks
        Neighbourhood sizes.
    resamples
        Row subsamples (80%, without replacement) behind each interval (5th-95th percentile).
    max_rows
        Above this many rows, the measures that need all rows in memory (neighbourhoods,
        intervals, translators, stitching) use a random sample of this many (seeded, anchors
        included); CKA and mean cosines are then also streamed over every row. ``None``: all rows.
    """
    from relreps import relative_projection, select_anchors
    from relreps.measures import get_measure, linear_cka, mean_cosine, neighbourhood_agreement

    source_a, source_b = _source(a, "A"), _source(b, "B")
    total = source_a.n_rows
    if max_rows is not None and max_rows < 10:
        raise ValueError(f"max_rows must be at least 10 (or None for all rows), got {max_rows}.")
    if anchors is not None:
        anchors = np.asarray(anchors, dtype=np.int64)
        if anchors.ndim != 1 or len(anchors) < 2 or anchors.min() < 0 or anchors.max() >= total:
            raise ValueError(f"anchor rows must be at least 2 indices in [0, {total}).")
    kept = _sample_rows(total, max_rows, seed, anchors)
    a, b = _checked(*_read_rows(source_a, source_b, kept), labels, total)
    if labels is not None and kept is not None:
        labels = np.asarray(labels)[kept]
    n = len(a)
    rng = np.random.default_rng(seed)
    if anchors is None:
        if not 2 <= n_anchors < n:
            raise ValueError(f"n_anchors must be in [2, {n - 1}] for {n} samples, got {n_anchors}.")
        anchors = select_anchors(None, n_anchors, n_samples=n, seed=seed).indices
    elif kept is not None:
        anchors = np.searchsorted(kept, anchors)  # positions of the anchor rows in the sample
    anchors = np.asarray(anchors, dtype=np.int64)
    ks = tuple(k for k in ks if k < n - 1)
    rel_a, rel_b = relative_projection(a, a[anchors]), relative_projection(b, b[anchors])
    subsets = [rng.choice(n, int(0.8 * n), replace=False) for _ in range(resamples)]
    out = Comparison(
        facts={
            "a": names[0], "b": names[1], "n": n, "dims": [a.shape[1], b.shape[1]],
            "n_anchors": len(anchors), "seed": seed, "ks": ks,
            "anchor_rows": (anchors if kept is None else kept[anchors]).tolist(),
            "interval": f"5th-95th percentile over {resamples} subsamples of 80% of the rows "
            "(neighbourhood measures see sparser neighbourhoods in a subsample, so their interval "
            "can sit beside the full-data value)",
        }
    )  # fmt: skip

    for group, (x, y) in (("absolute", (a, b)), ("relative", (rel_a, rel_b))):
        same = x.shape[1] == y.shape[1]

        def measured(r, x=x, y=y, same=same) -> dict[str, float | None]:
            """Every measure of this group on rows ``r``, each neighbourhood search done once."""
            found = neighbourhood_agreement(x[r], y[r], ks) if ks else None
            values: dict[str, float | None] = {"linear CKA": linear_cka(x[r], y[r])}
            for k in ks:
                values[f"Jaccard@{k} (each space's own neighbours)"] = found.jaccard[k]
                values[f"mutual k-NN@{k}"] = found.mutual_knn[k]
                values[f"MRR@{k}, {names[0]} -> {names[1]}"] = found.mrr_xy[k] if same else None
            if same:
                values["mean cosine of paired rows"] = mean_cosine(x[r], y[r])
            return values

        value = measured(np.arange(n))
        spread = [measured(rows) for rows in subsets]
        for measure, v in value.items():
            name = {"linear": "linear_cka", "Jaccard": "jaccard_at_k", "mutual": "mutual_knn_at_k",
                    "MRR@": "mrr_at_k", "mean": "mean_cosine"}  # fmt: skip
            registered = next(name[p] for p in name if measure.startswith(p))
            low = high = None
            if v is not None and spread:
                low, high = np.percentile([s[measure] for s in spread], [5, 95]).tolist()
            note = ""
            if measure.startswith("MRR") and v is None:
                note = "needs equal widths"
            elif measure.startswith("mean cosine"):
                note = ("relative vectors: the paper's similarity" if group == "relative"
                        else "coordinates of unaligned spaces: near 0 unless aligned")  # fmt: skip
            out.rows.append({
                "group": group, "measure": measure, "value": v, "low": low, "high": high,
                "invariances": ", ".join(sorted(get_measure(registered).invariances)),
                "note": note,
            })  # fmt: skip
    _translators(out, a, b, anchors, ks, names)
    if labels is not None:
        _stitching(out, a, b, rel_a, rel_b, anchors, np.asarray(labels), seed, names)
    if kept is not None:
        out.facts["n"], out.facts["sample_rows"] = total, n
        out.facts["sampled"] = (
            f"{n:,} of {total:,} rows (seed {seed}) for the neighbourhood measures, intervals, "
            "translators and stitching"
        )
        _streamed(out, source_a, source_b, a[anchors], b[anchors])
    out.sample = (a, b, labels, anchors)
    return out


def _source(x: Any, name: str) -> Any:
    """``x`` as a :class:`~relreps.storage.RowSource` (arrays, memmaps, paths, Dask, zarr)."""
    from relreps.storage import open_rows

    if isinstance(x, (list, tuple)) or (hasattr(x, "__array__") and not hasattr(x, "shape")):
        x = np.asarray(x)
    if isinstance(x, np.ndarray) and (x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0):
        raise ValueError(f"{name} must be a non-empty 2-D array (n, d), got {x.shape}.")
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    return open_rows(x)


def _sample_rows(n: int, max_rows: int | None, seed: int, anchors: Any) -> np.ndarray | None:
    """Sorted rows to hold in memory, or ``None`` for all of them."""
    if max_rows is None or n <= max_rows:
        return None
    rng = np.random.default_rng([seed, 1])  # not the generator of the intervals
    rows = rng.choice(n, max_rows, replace=False)
    if anchors is not None:
        rows = np.union1d(rows, anchors)
    return np.sort(rows)


def _read_rows(source_a: Any, source_b: Any, kept: np.ndarray | None, block: int = 65_536):
    """The rows ``kept`` (all when ``None``) of both sources as float64 arrays filled block by
    block (one copy); every row of both is checked for NaN and infinity on the way."""
    if source_a.n_rows != source_b.n_rows:
        raise ValueError(
            f"A has {source_a.n_rows} rows and B has {source_b.n_rows}: row i of both must embed "
            "the same sample."
        )
    n = source_a.n_rows
    chosen_rows = n if kept is None else len(kept)
    out = {name: np.empty((chosen_rows, source.dim), dtype=np.float64)
           for name, source in (("A", source_a), ("B", source_b))}  # fmt: skip
    bad: dict[str, list[np.ndarray]] = {"A": [], "B": []}
    filled = 0
    for start in range(0, n, block):
        stop = min(start + block, n)
        chosen = None if kept is None else kept[(kept >= start) & (kept < stop)] - start
        count = stop - start if chosen is None else len(chosen)
        for name, source in (("A", source_a), ("B", source_b)):
            rows = source.read(start, stop)
            bad[name].append(start + np.flatnonzero(~np.isfinite(rows).all(axis=1)))
            out[name][filled : filled + count] = rows if chosen is None else rows[chosen]
        filled += count
    for name in ("A", "B"):
        found = np.concatenate(bad[name])
        if len(found):
            raise ValueError(
                f"{name} has NaN or infinite values in {len(found)} row(s), first "
                f"{found[:5].tolist()}."
            )
    return out["A"], out["B"]


def _streamed(out: Comparison, source_a: Any, source_b: Any, anchors_a, anchors_b) -> None:
    """Linear CKA and mean cosines over every row, in blocks, through Dask arrays."""
    from relreps import relative_projection
    from relreps.measures import get_measure, linear_cka, mean_cosine

    try:
        from relreps.dask import from_rows

        x, y = from_rows(source_a, chunk_rows=16_384), from_rows(source_b, chunk_rows=16_384)
    except ImportError as error:
        out.facts["streamed"] = f"not computed: {error}"
        return
    rel_x, rel_y = relative_projection(x, anchors_a), relative_projection(y, anchors_b)
    found = {("absolute", "linear CKA"): (linear_cka, x, y),
             ("relative", "linear CKA"): (linear_cka, rel_x, rel_y),
             ("relative", "mean cosine of paired rows"): (mean_cosine, rel_x, rel_y)}  # fmt: skip
    if x.shape[1] == y.shape[1]:
        found["absolute", "mean cosine of paired rows"] = (mean_cosine, x, y)
    for (space, measure), (function, p, q) in found.items():
        out.rows.append({
            "group": f"{space}, all {out.facts['n']:,} rows (streamed)", "measure": measure,
            "value": function(p, q), "low": None, "high": None,
            "invariances": ", ".join(sorted(get_measure(function.__name__).invariances)),
            "note": "",
        })  # fmt: skip


def _checked(a: Any, b: Any, labels: Any, n_rows: int | None = None):
    a, b = np.asarray(a), np.asarray(b)
    for name, x in (("A", a), ("B", b)):
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"{name} must be a non-empty 2-D array (n, d), got {x.shape}.")
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        if len(bad):
            raise ValueError(
                f"{name} has NaN or infinite values in {len(bad)} row(s), first {bad[:5].tolist()}."
            )
    if len(a) != len(b):
        raise ValueError(
            f"A has {len(a)} rows and B has {len(b)}: row i of both must embed the same sample."
        )
    if len(a) < 10:
        raise ValueError(f"Need at least 10 paired samples, got {len(a)}.")
    n_rows = len(a) if n_rows is None else n_rows
    if labels is not None and len(labels) != n_rows:
        raise ValueError(f"{len(labels)} labels for {n_rows} samples.")
    return a.astype(np.float64), b.astype(np.float64)


def _translators(out: Comparison, a, b, anchors, ks, names) -> None:
    """Each translator fitted on the anchors, scored on the other rows: the mean cosine of the
    translated rows with their true counterparts, and MRR of the counterpart among B's rows.
    Centring and one isotropic scale per side (``scaling="isotropic"``): unlike per-dimension
    standardisation, it keeps an exact rotation exact."""
    from relreps.measures import mean_cosine, mrr_at_k
    from relreps.translation import METHODS, Translator

    held = np.setdiff1d(np.arange(len(a)), anchors)
    k = max(ks) if ks else 1
    for method in METHODS.names():
        if method == "affine-sgd":
            continue  # the paper's gradient-descent variant: slow, and never better than affine
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            translator = Translator(method, scaling="isotropic").fit(a[anchors], b[anchors])
        moved = translator.transform(a[held])
        cosine = mean_cosine(moved, b[held])
        determined = "" if translator.diagnostics["determined"] else "under-determined"
        out.rows.append({"group": "translation (held out)", "measure": f"{method}: mean cosine",
                         "value": cosine, "low": None, "high": None, "invariances": "",
                         "note": determined})  # fmt: skip
        if k < len(held):
            out.rows.append({"group": "translation (held out)",
                             "measure": f"{method}: MRR@{k}, {names[0]} -> {names[1]}",
                             "value": mrr_at_k(moved, b[held], k), "low": None, "high": None,
                             "invariances": "", "note": determined})  # fmt: skip


def _stitching(out: Comparison, a, b, rel_a, rel_b, anchors, labels, seed, names) -> None:
    """A logistic regression trained on B's representation of 80% of the rows reads A's of the
    rest: absolute (equal widths only), relative, and A translated into B (ortho)."""
    from sklearn.linear_model import LogisticRegression

    from relreps.translation import Translator

    rng = np.random.default_rng(seed)
    test = np.zeros(len(a), dtype=bool)
    test[rng.choice(len(a), max(1, len(a) // 5), replace=False)] = True
    train = ~test & ~np.isin(np.arange(len(a)), anchors)
    if len(np.unique(labels[train])) < 2:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        translated = Translator("ortho", scaling="isotropic").fit(a[anchors], b[anchors])
        translated = translated.transform(a)
    for mode, source, target in (
        ("absolute", a, b), ("relative", rel_a, rel_b), ("translated (ortho)", translated, b),
    ):  # fmt: skip
        head = LogisticRegression(max_iter=2000).fit(target[train], labels[train])
        own = float(head.score(target[test], labels[test]))
        stitched = None
        if source.shape[1] == target.shape[1]:
            stitched = float(head.score(source[test], labels[test]))
        note = f"on {names[1]} itself: {own:.3f}"
        out.rows.append({"group": "classifier stitching", "measure":
                         f"{mode}: head on {names[1]}, read by {names[0]}", "value": stitched,
                         "low": None, "high": None, "invariances": "", "note": note})  # fmt: skip


def draw(
    a: np.ndarray,
    b: np.ndarray,
    folder: str | os.PathLike[str],
    *,
    labels: np.ndarray | None = None,
    anchors: Any = None,
    seed: int = 0,
    names: tuple[str, str] = ("A", "B"),
    ks: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100),
) -> list[str]:
    """Two figures into ``folder``: neighbourhood agreement against k (absolute and relative),
    and a 2-D view (PCA) of both spaces, coloured by ``labels``. ``anchors``: row indices (300
    random rows by default). Needs matplotlib; returns the file names written (none without
    matplotlib)."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        return []
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from relreps import relative_projection, select_anchors
    from relreps.io import atomic_path
    from relreps.measures import neighbourhood_agreement

    a, b = _checked(a, b, labels)
    if anchors is None:
        anchors = select_anchors(None, min(300, len(a) - 1), n_samples=len(a), seed=seed).indices
    rows = np.asarray(anchors, dtype=np.int64)
    ks = tuple(k for k in ks if k < len(a) - 1)
    spaces = {"absolute": (a, b), "relative": (relative_projection(a, a[rows]),
                                               relative_projection(b, b[rows]))}  # fmt: skip
    written = []
    figure = Figure(figsize=(5.5, 3.6))
    axis = figure.subplots()
    for (space, (x, y)), style in zip(spaces.items(), ("--", "-"), strict=True):
        found = neighbourhood_agreement(x, y, ks)
        axis.plot(ks, [found.jaccard[k] for k in ks], "o" + style, label=f"{space}: Jaccard")
        if found.mrr_xy is not None:
            axis.plot(ks, [found.mrr_xy[k] for k in ks], "s" + style,
                      label=f"{space}: MRR {names[0]} -> {names[1]}")  # fmt: skip
    axis.set_xscale("log")
    axis.set_xlabel("k")
    axis.set_ylabel("agreement")
    axis.legend(fontsize=7)
    figure.tight_layout()
    written.append(_save(figure, Path(folder) / "neighbourhoods.png", FigureCanvasAgg, atomic_path))
    figure = Figure(figsize=(8, 3.8))
    for axis, x, name in zip(figure.subplots(1, 2), (a, b), names, strict=True):
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred[: min(len(x), 20_000)], full_matrices=False)
        view = centred @ vt[:2].T
        axis.scatter(view[:, 0], view[:, 1], s=2, c=labels, cmap="tab10" if labels is not None
                     else None, alpha=0.6)  # fmt: skip
        axis.set_title(f"{name} (PCA)", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    written.append(_save(figure, Path(folder) / "spaces.png", FigureCanvasAgg, atomic_path))
    return written


def _save(figure: Any, path: Path, canvas: Any, atomic_path: Any) -> str:
    canvas(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    return path.name
