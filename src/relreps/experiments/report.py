"""What every experiment writes: ``report.md``, ``metrics.json``, tables and stitching figures.

Figures use matplotlib's object API through :meth:`Run.figure` (no pyplot state, no backend
switch); tables are GitHub Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relreps.io import write_json_atomic, write_text_atomic

__all__ = [
    "correlation_table",
    "curve_figure",
    "format_mean_std",
    "image_grid",
    "markdown_table",
    "models_table",
    "scatter_grid",
    "stitching_heatmaps",
    "stitching_matrix_table",
    "write_report",
]


def markdown_table(headers: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def format_mean_std(entry: Any, digits: int = 2, *, hide_small_std: bool = False) -> str:
    """``"m ± s"`` for an aggregate (``{"mean", "std"}``, as :func:`relreps.stitching.mean_std`
    gives) or a ``(mean, std)`` pair, ``"m"`` for a single number; ``"-"`` when undefined.
    ``hide_small_std`` drops a std that rounds to zero."""
    if entry is None:
        return "-"
    if isinstance(entry, (int, float)):  # one measurement, no spread
        return "-" if entry != entry else f"{entry:.{digits}f}"
    mean, std = (entry["mean"], entry["std"]) if isinstance(entry, Mapping) else entry
    if mean is None or mean != mean:
        return "-"
    if hide_small_std and std < 0.5 * 10**-digits:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def stitching_matrix_table(
    matrix: Sequence[Sequence[float | None]],
    encoders: Sequence[str],
    decoders: Sequence[str],
    *,
    digits: int = 1,
    corner: str = "encoder \\ decoder",
) -> str:
    """One row per encoder, one column per decoder; ``"-"`` where a pair is undefined."""
    rows = [
        [f"**{encoder}**", *("-" if v is None or v != v else f"{v:.{digits}f}" for v in row)]
        for encoder, row in zip(encoders, matrix, strict=True)
    ]
    return markdown_table([corner, *decoders], rows)


def stitching_heatmaps(
    run: Any,
    panels: Mapping[str, Sequence[Sequence[float | None]]],
    encoders: Sequence[str],
    decoders: Sequence[str],
    name: str,
    *,
    title: str,
    vmax: float = 100.0,
    xlabel: str = "decoder (head trained on)",
    ylabel: str = "encoder at test time",
) -> str | None:
    """One heatmap per panel (e.g. per representation) of a stitching matrix, saved as ``name``;
    ``None`` when the run draws no figures."""
    if not run.drawing:
        return None
    figure = run.figure(figsize=(4.2 * len(panels), 4.0))
    axes = np.atleast_1d(figure.subplots(1, len(panels)))
    for axis, (label, matrix) in zip(axes, panels.items(), strict=True):
        values = np.array([[np.nan if v is None else v for v in row] for row in matrix])
        axis.imshow(values, vmin=0, vmax=vmax, cmap="viridis")
        for i in range(len(encoders)):
            for j in range(len(decoders)):
                undefined = np.isnan(values[i, j])
                text = "-" if undefined else f"{values[i, j]:.0f}"
                axis.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    color="0.5" if undefined else "w",
                    fontsize=10,
                )
        axis.set_xticks(range(len(decoders)), decoders, rotation=30)
        axis.set_yticks(range(len(encoders)), encoders)
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        axis.set_title(label, fontsize=10)
    figure.suptitle(title)
    figure.tight_layout()
    return run.save_figure(figure, name)


def correlation_table(correlations: Mapping[str, Mapping[str, Any]], what: str) -> str:
    """One row per group and series of :func:`relreps.statistics.correlations` results
    (``{group: {series: {method: result}}}``): Pearson and Spearman with their intervals."""
    rows = []
    for group, by_series in correlations.items():
        for label, entry in by_series.items():
            cells = [
                "undefined"
                if "undefined" in found
                else f"{found['r']:+.3f} [{found['low']:+.3f}, {found['high']:+.3f}]"
                for found in (entry["pearson"], entry["spearman"])
            ]
            rows.append([group, label, *cells, entry["pearson"].get("n")])
    headers = ["runs", what, "Pearson r [95% CI]", "Spearman ρ [95% CI]", "n"]
    return markdown_table(headers, rows)


def curve_figure(
    run: Any,
    panels: Mapping[str, tuple[str, Mapping[str, Mapping[str, Any]]]],
    name: str,
    *,
    xlabel: str,
    width: float = 5.0,
) -> str | None:
    """Curves with bands of one standard deviation on a log x axis, one panel per entry:
    ``{title: (ylabel, {curve label: {str(x): {"mean", "std"} or None}})}`` (undefined points
    left out), saved as ``name``; ``None`` when the run draws no figures."""
    if not run.drawing:
        return None
    figure = run.figure(figsize=(width * len(panels), 3.8))
    axes = np.atleast_1d(figure.subplots(1, len(panels)))
    for axis, (title, (ylabel, curves)) in zip(axes, panels.items(), strict=True):
        for label, points in curves.items():
            shown = sorted((int(x), v) for x, v in points.items() if v)
            x = np.array([c for c, _ in shown])
            mean = np.array([v["mean"] for _, v in shown])
            std = np.array([v["std"] for _, v in shown])
            axis.plot(x, mean, "o-", label=label, markersize=3)
            axis.fill_between(x, mean - std, mean + std, alpha=0.2)
        axis.set_xscale("log")
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        axis.set_title(title, fontsize=10)
        axis.legend(fontsize=7)
    figure.tight_layout()
    return run.save_figure(figure, name)


def models_table(ledger: Sequence[Mapping[str, Any]]) -> str:
    """The models a run obtained (a :class:`~relreps.models.store.ModelStore` ledger): how many
    it trained and loaded, their summed training time, and one row per model."""
    trained = sum(entry["trained_now"] for entry in ledger)
    total = sum(entry["train_seconds"] or 0 for entry in ledger)
    rows = [[e["model"], e["seed"], e["train_seconds"], f"`{e['file']}`"] for e in ledger]
    return (
        f"{len(ledger)} models ({trained} trained by this invocation, {len(ledger) - trained} "
        f"loaded from `models/`); their training took {total:.0f} s summed over the models (from "
        "each model's metadata; with `--jobs` processes this exceeds the wall time).\n\n"
        + markdown_table(["model", "seed", "train s", "file"], rows)
    )


def image_grid(run: Any, rows: Sequence[tuple[str, Any]], name: str, *, title: str) -> str | None:
    """A grid of grey images, one row per ``(label, images)`` (``(n, 1, h, w)`` or
    ``(n, h, w)`` in [0, 1], the same ``n`` in every row), saved as ``name``."""
    if not run.drawing:
        return None
    columns = len(rows[0][1])
    figure = run.figure(figsize=(columns * 0.9 + 1.6, len(rows) * 0.95))
    axes = np.atleast_2d(figure.subplots(len(rows), columns))
    for r, (label, images) in enumerate(rows):
        images = np.asarray(images).reshape(columns, *np.shape(images)[-2:])
        for c in range(columns):
            axis = axes[r, c]
            axis.imshow(images[c], cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if c == 0:
                axis.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return run.save_figure(figure, name)


def scatter_grid(
    run: Any,
    panels: Mapping[str, Sequence[np.ndarray]],
    labels: np.ndarray,
    class_names: Sequence[str],
    name: str,
    *,
    title: str,
    column_label: str = "seed",
) -> str | None:
    """2-D points coloured by class: one row per panel, one column per model (its points,
    ``(n, 2)`` each), with one legend of the classes; saved as ``name``."""
    if not run.drawing:
        return None
    from matplotlib.lines import Line2D

    n_columns = len(next(iter(panels.values())))
    figure = run.figure(figsize=(3.1 * n_columns, 3.0 * len(panels) + 0.6))
    axes = np.atleast_2d(figure.subplots(len(panels), n_columns))
    for row, (panel, spaces) in enumerate(panels.items()):
        for column, points in enumerate(spaces):
            axis = axes[row, column]
            scatter = axis.scatter(
                points[:, 0], points[:, 1], c=labels, cmap="tab10", s=2, vmin=-0.5, vmax=9.5
            )
            axis.set_title(f"{column_label} {column}: {panel}", fontsize=9)
            axis.set_xticks([])
            axis.set_yticks([])
    handles = [
        Line2D([], [], marker="o", ls="", color=scatter.cmap(scatter.norm(c)), label=n)
        for c, n in enumerate(class_names)
    ]
    figure.legend(handles=handles, loc="lower center", ncol=5, fontsize=7, frameon=False)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return run.save_figure(figure, name)


def write_report(run: Any, result: Any) -> Path:
    """Write ``report.md`` and ``metrics.json`` into ``run.out`` atomically; return the report.

    ``metrics.json`` holds the run's facts (command, versions, machine), its settings, the
    experiment's facts, every anchor set it used and the experiment's metrics.
    """
    facts = run.run_facts()
    body = [f"# {result.title}", ""]
    for heading, text in result.sections:
        body += [f"## {heading}", "", text.rstrip(), ""]
    if run.figures:
        body += ["## Figures", "", "\n\n".join(f"![{n}]({n})" for n in run.figures), ""]
    if run.anchor_sets:
        body += ["## Anchor sets", "", _anchor_lines(run.anchor_sets), ""]
    body += [
        "## Run",
        "",
        f"- command: `{facts['command']}`",
        f"- started (UTC): {facts['started_utc']}; wall time: {facts['wall_seconds']} s",
        f"- versions: {', '.join(f'{k} {v}' for k, v in facts['versions'].items())}",
        f"- machine: {facts['machine']['platform']}, {facts['machine']['cpu_count']} CPUs, "
        f"torch threads {facts['machine']['torch_threads']}",
        "",
    ]
    report = run.out / "report.md"
    write_text_atomic(report, "\n".join(body))
    metrics = {
        "run": facts,
        "settings": run.settings.to_dict(),
        "facts": run.facts,
        "anchors": run.anchor_sets,
        **result.metrics,
    }
    write_json_atomic(run.out / "metrics.json", metrics)
    return report


def _anchor_lines(anchor_sets: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per group of anchor sets that differ only in their seed (the indices are in
    ``metrics.json``)."""
    groups: dict[tuple, list[int]] = {}
    for record in anchor_sets.values():
        options = ", ".join(f"{k}={v}" for k, v in record.get("options", {}).items())
        key = (len(record["indices"]), record["strategy"], options, record["source"])
        groups.setdefault(key, []).append(record["seed"])
    lines = []
    for (count, strategy, options, source), seeds in groups.items():
        detail = f" ({options})" if options else ""
        listed = ", ".join(str(seed) for seed in seeds)
        which = f"seed {listed}" if len(seeds) == 1 else f"{len(seeds)} sets, seeds {listed}"
        lines.append(f"- {count} anchors, `{strategy}`{detail}, {which}; from {source}")
    return "\n".join(lines) + (
        "\n\nEvery set's indices, strategy and seed are in `metrics.json` (`anchors`)."
    )
