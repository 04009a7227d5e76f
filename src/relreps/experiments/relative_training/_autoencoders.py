"""The autoencoder rows of ``relative-training``: why the relative AE of ``ae-stitching``
reconstructs worse, and what each remedy a user would try does to it."""

from __future__ import annotations

from typing import Any

from relreps.experiments import base
from relreps.experiments.report import markdown_table

__all__ = ["REMEDIES", "autoencoders"]

REMEDIES = {
    "paper": {},
    "centred": {"center": "anchors"},
    "layernorm": {"latent_norm": "layernorm"},
    "batchnorm": {"latent_norm": "batchnorm"},
    "1000 anchors": {"n_anchors": 1000},
    "2000 anchors": {"n_anchors": 2000},
}


def autoencoders(run: base.Run) -> dict[str, Any]:
    """The absolute AE and each remedy's relative AE, each an ``ae-stitching`` run."""
    import relreps.experiments as experiments

    s = run.settings
    common_settings = {
        "train_size": s.ae_train_size,
        "test_size": 2_000,
        "epochs": s.ae_epochs,
        "seeds": s.ae_seeds,
        "batch_size": 128,
        "figures": False,
        "progress": s.progress,
        "jobs": s.jobs,
    }
    runs = {
        "absolute AE": experiments.run(
            "ae-stitching",
            variants=("ae",),
            out=run.out / "autoencoders" / "absolute",
            **common_settings,
        )
    }
    for remedy in s.remedies:
        runs[f"relative AE, {remedy}"] = experiments.run(
            "ae-stitching",
            variants=("rel-ae",),
            **REMEDIES[remedy],
            **common_settings,
            out=run.out / "autoencoders" / remedy.replace(" ", "-"),
        )
    rows = []
    for name, result in runs.items():
        variant = next(iter(result.metrics["mse_x1e3"]))
        mse = result.metrics["mse_x1e3"][variant]
        spread = result.metrics["relative_cosine_spread"].get(variant)
        rows.append(
            {
                "model": name,
                "non_stitched": mse["non_stitched_mean"],
                "stitched": mse["stitched_mean"],
                "ratio": mse["stitched_mean"] / mse["non_stitched_mean"],
                "cosine_to_anchors": spread,
                "cross_seed_cosine": result.metrics["cross_seed_cosine"][variant],
            }
        )
    table = markdown_table(
        [
            "model",
            "non-stitched MSE x10³",
            "stitched MSE x10³",
            "stitched / non-stitched",
            "raw cosine to anchors (mean ± std across anchors)",
            "cross-seed cosine",
        ],
        [
            [
                r["model"],
                f"{r['non_stitched']:.2f}",
                f"{r['stitched']:.2f}",
                f"{r['ratio']:.2f}x",
                _spread(r["cosine_to_anchors"]),
                f"{r['cross_seed_cosine']:.3f}",
            ]
            for r in rows
        ],
    )
    return {"rows": rows, "text": table + "\n\n" + _ae_reading(rows, s)}


def _spread(cosines: dict[str, float] | None) -> str:
    if cosines is None:
        return "-"
    return f"{cosines['mean']:.4f} ± {cosines['std_across_anchors']:.4f}"


def _ae_reading(rows: list[dict], s: Any) -> str:
    by = {r["model"]: r for r in rows}
    absolute, paper = by["absolute AE"], by.get("relative AE, paper")
    lines = [
        f"Each row is `relreps reproduce ae-stitching` with {s.ae_seeds} seeds, "
        f"{s.ae_train_size} training images and {s.ae_epochs} epochs (reports under "
        "`autoencoders/`)."
    ]
    if paper is not None:
        times = paper["non_stitched"] / absolute["non_stitched"]
        lines.append(
            f"The paper's relative AE has {times:.2f}x the absolute AE's non-stitched error "
            f"({paper['non_stitched']:.2f} vs {absolute['non_stitched']:.2f})."
        )
        for name, row in by.items():
            if name.startswith("relative AE, ") and row is not paper:
                change = row["non_stitched"] / paper["non_stitched"]
                lines.append(
                    f"- {name.split(', ', 1)[1]}: non-stitched error x{change:.2f} of the "
                    f"paper's, stitching ratio {row['ratio']:.2f}x (paper's "
                    f"{paper['ratio']:.2f}x)"
                )
    return "\n".join(lines)
