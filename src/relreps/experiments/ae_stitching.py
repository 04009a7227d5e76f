"""Zero-shot stitching of image autoencoders (paper section 5.1).

For each of AE, relative AE, VAE and relative VAE, train several seeds on the same data with the
same anchor images, then decode every test image with every (encoder seed, decoder seed) pair.
Absolute latents of different seeds are incompatible (stitched error explodes); relative ones are
not (stitched error stays near the non-stitched one).

The experiment only composes library parts: ``datasets.images`` -> ``select_anchors`` ->
``models.autoencoders`` (trained by ``models.training``) -> ``stitching.evaluate_stitching`` ->
``experiments.report``.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from relreps.experiments.report import check_positive, pyplot, save_figure

NAME = "ae-stitching"
VARIANTS = {
    "ae": ("ae", False),
    "rel-ae": ("ae", True),
    "vae": ("vae", False),
    "rel-vae": ("vae", True),
}
# Quick: batches of 128, so that 3 epochs on 10k images are 237 Adam steps rather than 120; with
# 120 the absolute VAE is so far from converged that its own error hides the cost of stitching.
QUICK = {"seeds": 3, "epochs": 3, "train_size": 10_000, "test_size": 2_000, "batch_size": 128}
FULL = {"seeds": 5, "epochs": 5, "train_size": None, "test_size": None, "batch_size": 256}


@dataclass(frozen=True)
class Settings:
    quick: bool
    seeds: int
    epochs: int
    train_size: int | None
    test_size: int | None
    n_anchors: int
    anchor_seed: int
    latent_dim: int
    batch_size: int
    lr: float
    beta: float
    center: str | None
    data_dir: str | None
    out: Path
    progress: bool
    figures: bool
    jobs: int | None = None

    def training_key(self) -> dict[str, Any]:
        """What a trained model depends on besides its own config and seed."""
        return {
            "epochs": self.epochs,
            "train_size": self.train_size,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "anchor_seed": self.anchor_seed,
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 seeds, 10k/2k images, 3 epochs, batch 128 (~4 min on 2 cores)",
    )
    parser.add_argument("--seeds", type=int, help="seeds per model (default 5; quick 3)")
    parser.add_argument("--epochs", type=int, help="training epochs (default 5; quick 3)")
    parser.add_argument(
        "--train-size", type=int, help="training images, class-stratified (default all)"
    )
    parser.add_argument("--test-size", type=int, help="test images, class-stratified (default all)")
    parser.add_argument(
        "--n-anchors", type=int, default=500, help="class-balanced anchors (default 500)"
    )
    parser.add_argument(
        "--anchor-seed", type=int, default=0, help="seed of the anchor choice (default 0)"
    )
    parser.add_argument(
        "--latent-dim", type=int, default=256, help="absolute latent size (default 256)"
    )
    parser.add_argument("--batch-size", type=int, help="training batch (default 256; quick 128)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--beta", type=float, default=0.1, help="VAE KL weight (default 0.1)")
    parser.add_argument(
        "--center",
        choices=["anchors"],
        help="relative models: centre latents on the anchors' mean before the cosine "
        "(later work; the paper does not centre)",
    )
    parser.add_argument(
        "--data-dir", help="folder with MNIST-format IDX files (default: Debian's Fashion-MNIST)"
    )
    parser.add_argument("--out", type=Path, default=Path("results") / NAME, help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    parser.add_argument(
        "--jobs",
        type=int,
        help="models trained at once, each in its own process (default: one per CPU, at most 4; "
        "1 trains in this process)",
    )


def settings_from(options: argparse.Namespace) -> Settings:
    defaults = QUICK if options.quick else FULL
    pick = lambda name: defaults[name] if getattr(options, name) is None else getattr(options, name)  # noqa: E731
    settings = Settings(
        quick=options.quick,
        seeds=pick("seeds"),
        epochs=pick("epochs"),
        train_size=pick("train_size"),
        test_size=pick("test_size"),
        n_anchors=options.n_anchors,
        anchor_seed=options.anchor_seed,
        latent_dim=options.latent_dim,
        batch_size=pick("batch_size"),
        lr=options.lr,
        beta=options.beta,
        center=options.center,
        data_dir=options.data_dir,
        out=Path(options.out),
        progress=not options.no_progress,
        figures=not options.no_figures,
        jobs=options.jobs,
    )
    if settings.seeds < 2:
        raise ValueError(
            f"--seeds must be at least 2 to stitch different seeds, got {settings.seeds}."
        )
    check_positive(settings, ("epochs", "n_anchors", "latent_dim", "batch_size"))
    if settings.jobs is not None:
        check_positive(settings, ("jobs",))
    return settings


def _log(message: str) -> None:
    print(f"[{NAME}] {message}", flush=True)


def run_experiment(settings: Settings, info) -> dict[str, Any]:
    """Train (or load) every model, evaluate stitching, write the report; return its pieces."""
    from relreps import select_anchors
    from relreps.datasets.images import load_image_dataset
    from relreps.experiments.report import markdown_table, mean_std, write_outputs
    from relreps.io import short_hash
    from relreps.models.autoencoders import AutoencoderConfig
    from relreps.stitching import MeanMetric, evaluate_stitching, squared_error

    dataset = load_image_dataset(settings.data_dir)
    for note in dataset.notes:
        _log(note)
    dataset = dataset.subset(settings.train_size, settings.test_size, seed=0)
    train_images = _to_tensor(dataset.train_images)
    test_images = _to_tensor(dataset.test_images)
    if settings.n_anchors > len(train_images):
        raise ValueError(
            f"--n-anchors {settings.n_anchors} exceeds the {len(train_images)} training images."
        )
    anchors = select_anchors(
        dataset.train_images.reshape(len(train_images), -1),
        settings.n_anchors,
        "stratified",
        labels=dataset.train_labels,
        seed=settings.anchor_seed,
    )
    anchor_images = anchors.take(train_images)
    data_key = {
        "sha256": dataset.sha256,
        "anchors": short_hash(anchors.indices),
        **settings.training_key(),
    }
    _log(
        f"{dataset.name}: {len(train_images)} train / {len(test_images)} test images, "
        f"{len(anchors)} class-balanced anchors, {settings.seeds} seeds x {len(VARIANTS)} models"
    )

    jobs: list[_Job] = []
    variants: list[str] = []  # the variant of each job
    for variant, (kind, relative) in VARIANTS.items():
        config = AutoencoderConfig(
            kind=kind,
            relative=relative,
            latent_dim=settings.latent_dim,
            n_anchors=settings.n_anchors,
            image_size=dataset.image_shape,
            beta=settings.beta,
            center=settings.center if relative else None,
        )
        jobs += [
            _job(config, seed, len(train_images), data_key, settings)
            for seed in range(settings.seeds)
        ]
        variants += [variant] * settings.seeds
    figure_jobs = []
    if settings.figures and pyplot(_log) is not None:
        figure_jobs = _latent_rotation_jobs(settings, dataset, len(train_images), data_key)
    ledger: list[dict[str, Any]] = []  # one entry per model: trained now or loaded, and its cost
    trained = _obtain_models(jobs + figure_jobs, train_images, anchor_images, settings, ledger)
    models: dict[str, dict[str, torch.nn.Module]] = {variant: {} for variant in VARIANTS}
    for variant, job, model in zip(variants, jobs, trained[: len(jobs)], strict=True):
        models[variant][str(job.seed)] = model
    figure_models = trained[len(jobs) :]

    batches = [
        (test_images[i : i + 500], test_images[i : i + 500])
        for i in range(0, len(test_images), 500)
    ]
    results = {}
    for variant, by_seed in models.items():
        results[variant] = evaluate_stitching(
            {seed: model.embed for seed, model in by_seed.items()},
            {seed: model.decode for seed, model in by_seed.items()},
            batches,
            MeanMetric(squared_error, scale=1e3),
            progress=settings.progress,
            description=f"stitching {variant}",
        )

    similarity = {
        variant: _cross_seed_cosine(by_seed, test_images) for variant, by_seed in models.items()
    }
    spread = {
        variant: _cosine_spread(by_seed["0"], test_images)
        for variant, by_seed in models.items()
        if VARIANTS[variant][1]
    }
    rows, checks = [], {}
    for variant, result in results.items():
        summary = result.summary()
        ratio = summary["stitched_mean"] / summary["non_stitched_mean"]
        relative = VARIANTS[variant][1]
        passed = ratio <= 1.5 if relative else ratio >= 5.0
        checks[variant] = {
            "ratio": ratio,
            "criterion": "<= 1.5" if relative else ">= 5",
            "passed": passed,
        }
        rows.append(
            [
                models[variant]["0"].config.name,
                mean_std(summary["non_stitched_mean"], summary["non_stitched_std"]),
                mean_std(summary["stitched_mean"], summary["stitched_std"]),
                f"{ratio:.2f}x",
                ("<= 1.5x: " if relative else ">= 5x: ") + ("yes" if passed else "no"),
                f"{similarity[variant]:.3f}",
            ]
        )
    table = markdown_table(
        [
            "model",
            "non-stitched MSE x10³",
            "stitched MSE x10³",
            "stitched / non-stitched",
            "paper's pattern",
            "cross-seed cosine",
        ],
        rows,
    )

    figures = []
    if figure_jobs:
        figures = [
            _reconstructions_figure(settings, dataset, models, test_images),
            _latent_rotation_figure(
                settings, dataset, figure_models, train_images, test_images, anchors
            ),
        ]

    info.finish()
    table += (
        "\n\n"
        + "; ".join(
            f"{variant}: raw cosines to the anchors {value['mean']:.4f} ± "
            f"{value['std_across_anchors']:.4f}"
            for variant, value in spread.items()
        )
        + " (seed 0, test images; mean ± std across anchors, averaged over images)."
    )
    sections = _report_sections(settings, dataset, anchors, table, results, figures, ledger)
    metrics = {
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()
        },
        "data": {
            "name": dataset.name,
            "source": dataset.source,
            "sha256": dataset.sha256,
            "notes": dataset.notes,
        },
        "anchors": anchors.to_dict(),
        "mse_x1e3": {variant: result.to_dict() for variant, result in results.items()},
        "pattern_checks": checks,
        "cross_seed_cosine": similarity,
        "relative_cosine_spread": spread,
        "models": ledger,
    }
    report = write_outputs(
        settings.out, "Zero-shot stitching of image autoencoders", sections, metrics, info
    )
    return {
        "table": table,
        "report": report,
        "results": results,
        "checks": checks,
        "figures": figures,
    }


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).float().div_(255).unsqueeze(1)


def _cross_seed_cosine(by_seed: dict, test_images: torch.Tensor, n_images: int = 2000) -> float:
    """Agreement of the representations two seeds transmit for the same test images.

    Mean cosine of row-centred representations (a per-image Pearson correlation), which is what a
    decoder sees after its LayerNorm: near 0 for absolute latents (each seed has its own basis),
    near 1 when the relative representations of different seeds agree.
    """
    from relreps.measures import mean_cosine

    with torch.inference_mode():
        embeddings = [model.embed(test_images[:n_images]) for model in by_seed.values()]
        embeddings = [e - e.mean(dim=1, keepdim=True) for e in embeddings]
    pairs = [
        mean_cosine(embeddings[i], embeddings[j])
        for i in range(len(embeddings))
        for j in range(i + 1, len(embeddings))
    ]
    return float(np.mean(pairs))


def _cosine_spread(model, test_images: torch.Tensor, n_images: int = 2000) -> dict[str, float]:
    """How spread out a relative model's raw cosines to its anchors are, for seed 0.

    Mean over images of the mean and of the standard deviation across anchors. A mean near 1 with
    a tiny spread means every latent lies in a narrow cone around the anchors' direction.
    """
    with torch.inference_mode():
        cosines = model.embed(test_images[:n_images])
    return {"mean": float(cosines.mean()), "std_across_anchors": float(cosines.std(dim=1).mean())}


@dataclass(frozen=True)
class _Job:
    """One model to obtain: its config and seed, the training rows it sees, its file and key."""

    config: Any  # AutoencoderConfig
    seed: int
    n_train: int  # the first n_train training images
    path: Path
    key: dict[str, Any]


def _job(config, seed: int, n_train: int, data_key: dict, settings: Settings) -> _Job:
    from relreps.io import short_hash
    from relreps.models.autoencoders import ARCHITECTURE_VERSION

    key = {
        "architecture": ARCHITECTURE_VERSION,
        "config": config.to_dict(),
        "seed": seed,
        "data": data_key,
    }
    variant = (
        ("rel-" if config.relative else "")
        + config.kind
        + ("" if config.latent_dim != 2 else "-2d")
    )
    path = settings.out / "models" / f"{variant}-seed{seed}-{short_hash(key)}.safetensors"
    return _Job(config, seed, n_train, path, _jsonable(key))


def _load_finished(job: _Job):
    """The model a previous run saved for this job, or ``None`` (with a warning if unusable)."""
    from relreps.models.autoencoders import load_autoencoder

    if not job.path.exists():
        return None
    try:
        model, metadata = load_autoencoder(job.path)
    except (ValueError, FileNotFoundError) as error:
        warnings.warn(f"{error} Retraining it.", stacklevel=3)
        return None
    if metadata.get("key") != job.key:
        warnings.warn(f"{job.path} was trained with other settings; retraining.", stacklevel=3)
        return None
    return model, metadata


def _train_job(job: _Job, train_images, anchor_images, settings: Settings, progress: bool):
    """Train one model from its seed and save it atomically; return (model, seconds, history)."""
    import time

    from relreps.models.autoencoders import ImageAutoencoder, save_autoencoder
    from relreps.models.training import train_model

    torch.manual_seed(job.seed)
    relative = job.config.relative
    model = ImageAutoencoder(job.config, anchor_images=anchor_images if relative else None)
    start = time.perf_counter()
    history = train_model(
        model,
        lambda m, batch: m.loss(batch[0]),
        (train_images[: job.n_train],),
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        lr=settings.lr,
        seed=job.seed,
        progress=progress,
        description=f"{job.config.name} seed {job.seed}",
    )
    seconds = round(time.perf_counter() - start, 1)
    save_autoencoder(
        model, job.path, {"key": job.key, "loss_history": history, "train_seconds": seconds}
    )
    return model, seconds, history


# What a training worker process receives once (see ``models.training.map_in_processes``).
_WORKER: dict[str, Any] = {}


def _worker_setup(train_images, anchor_images, settings: Settings) -> None:
    _WORKER.update(train_images=train_images, anchor_images=anchor_images, settings=settings)


def _worker_train(job: _Job) -> tuple[float, list[float]]:
    _, seconds, history = _train_job(
        job, _WORKER["train_images"], _WORKER["anchor_images"], _WORKER["settings"], False
    )
    return seconds, history


def _obtain_models(
    jobs: list[_Job], train_images, anchor_images, settings: Settings, ledger: list
) -> list:
    """Load each job's finished model, or train it: in this process or in worker processes.

    Every model is saved as soon as it is trained, so an interrupted run loses no finished model
    and a rerun trains only what is missing. Appends one ledger entry per job, in job order.
    """
    from relreps.models.autoencoders import load_autoencoder
    from relreps.models.training import map_in_processes, plan_workers

    models: list[Any] = [None] * len(jobs)
    entries: list[Any] = [None] * len(jobs)
    todo = []
    for index, job in enumerate(jobs):
        found = _load_finished(job)
        if found is None:
            todo.append(index)
            continue
        models[index] = found[0]
        entries[index] = _ledger_entry(
            job.config, job.seed, job.path, False, found[1].get("train_seconds")
        )

    def finished(index: int, seconds: float, history: list[float]) -> None:
        job = jobs[index]
        _log(
            f"trained {job.config.name} seed {job.seed} in {seconds:.0f}s "
            f"(final loss {history[-1]:.4g}) -> {job.path.name}"
        )
        entries[index] = _ledger_entry(job.config, job.seed, job.path, True, seconds)

    processes, threads = plan_workers(settings.jobs, len(todo))
    if processes == 1:
        for index in todo:
            model, seconds, history = _train_job(
                jobs[index], train_images, anchor_images, settings, settings.progress
            )
            models[index] = model
            finished(index, seconds, history)
    elif todo:
        from tqdm.auto import tqdm

        _log(f"training {len(todo)} models in {processes} processes x {threads} threads")
        bar = tqdm(
            total=len(todo),
            desc="models",
            unit="model",
            disable=None if settings.progress else True,
        )
        try:
            results = map_in_processes(
                _worker_train,
                [jobs[index] for index in todo],
                processes=processes,
                threads=threads,
                initializer=_worker_setup,
                initargs=(train_images, anchor_images, settings),
            )
            for position, (seconds, history) in results:
                index = todo[position]
                models[index] = load_autoencoder(jobs[index].path)[0]
                finished(index, seconds, history)
                bar.update()
        finally:
            bar.close()
    ledger.extend(entries)
    return models


def _ledger_entry(config, seed: int, path: Path, trained_now: bool, seconds) -> dict[str, Any]:
    name = config.name + (" (2-D, figure)" if config.latent_dim == 2 else "")
    return {
        "model": name,
        "seed": seed,
        "file": path.name,
        "trained_now": trained_now,
        "train_seconds": seconds,
    }


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(
        json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
    )


# --- figures -----------------------------------------------------------------------------------


def _latent_rotation_jobs(settings, dataset, n_images: int, data_key: dict) -> list[_Job]:
    """The three AEs with a 2-D bottleneck that :func:`_latent_rotation_figure` draws."""
    from relreps.models.autoencoders import AutoencoderConfig

    config = AutoencoderConfig(
        kind="ae", relative=False, latent_dim=2, image_size=dataset.image_shape
    )
    # The figure's models are small; in quick mode they see 5,000 images to keep the run short.
    n_train = min(5_000, n_images) if settings.quick else n_images
    figure_key = {**data_key, "figure_train_size": n_train}
    return [_job(config, seed, n_train, figure_key, settings) for seed in range(3)]


def _reconstructions_figure(settings, dataset, models, test_images) -> str:
    import matplotlib.pyplot as plt

    columns = [
        int(np.flatnonzero(dataset.test_labels == c)[0]) for c in np.unique(dataset.test_labels)
    ][:10]
    images = test_images[columns]
    rows = [("original", images)]
    with torch.inference_mode():
        for by_seed in models.values():
            name = by_seed["0"].config.name
            rows.append(
                (f"{name}\n(non-stitched)", by_seed["0"].decode(by_seed["0"].embed(images)))
            )
            rows.append((f"{name}\nstitched 0→1", by_seed["1"].decode(by_seed["0"].embed(images))))
    figure, axes = plt.subplots(
        len(rows), len(columns), figsize=(len(columns) * 0.9 + 1.6, len(rows) * 0.95)
    )
    for r, (label, batch) in enumerate(rows):
        for c in range(len(columns)):
            axis = axes[r, c]
            axis.imshow(batch[c, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if c == 0:
                axis.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    figure.suptitle(
        "Encoder of seed 0 → decoder of seed 1 (stitched) vs the model alone", fontsize=9
    )
    figure.tight_layout()
    path = settings.out / "reconstructions.png"
    return save_figure(figure, path)


def _latent_rotation_figure(
    settings, dataset, seed_models, train_images, test_images, anchors
) -> str:
    """Figure 1 of the paper: 2-D latents of AEs trained with different seeds, absolute vs relative.

    Row 1: absolute latents. Rows 2-3: relative representations over the same anchors, reduced to
    2-D by one PCA fitted on seed 0 and applied to every seed (relative spaces share their axes,
    the anchors, so one map fits all). In two dimensions cosine keeps only the angle around the
    anchors' mean (row 2 is a ring, ordered the same way for every seed); the RBF similarity is
    also invariant to rotation, scaling and translation and keeps distances, so row 3 shows the
    whole layout coinciding across seeds.
    """
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    from relreps import relative_projection

    seeds = range(len(seed_models))
    n_points = min(2000, len(test_images))
    labels = dataset.test_labels[:n_points]
    rows: dict[str, list[np.ndarray]] = {
        "absolute latent": [],
        "relative, cosine": [],
        "relative, rbf": [],
    }
    for model in seed_models:
        with torch.inference_mode():
            latents = model.embed(test_images[:n_points])
            anchor_latents = model.embed(anchors.take(train_images))
        rows["absolute latent"].append(latents.numpy())
        rows["relative, cosine"].append(
            relative_projection(latents, anchor_latents, center="anchors").numpy()
        )
        rows["relative, rbf"].append(relative_projection(latents, anchor_latents, "rbf").numpy())
    for name in ("relative, cosine", "relative, rbf"):
        pca = PCA(n_components=2, random_state=0).fit(rows[name][0])
        rows[name] = [pca.transform(r) for r in rows[name]]

    figure, axes = plt.subplots(
        len(rows), len(seeds), figsize=(3.1 * len(seeds), 3.0 * len(rows) + 0.6)
    )
    for row, (title, spaces) in enumerate(rows.items()):
        for column, seed in enumerate(seeds):
            axis = axes[row, column]
            points = spaces[column]
            scatter = axis.scatter(
                points[:, 0], points[:, 1], c=labels, cmap="tab10", s=2, vmin=-0.5, vmax=9.5
            )
            axis.set_title(f"seed {seed}: {title}", fontsize=9)
            axis.set_xticks([])
            axis.set_yticks([])
    handles = [
        plt.Line2D(
            [],
            [],
            marker="o",
            ls="",
            color=scatter.cmap(scatter.norm(c)),
            label=dataset.class_names[c],
        )
        for c in range(len(dataset.class_names))
    ]
    figure.legend(handles=handles, loc="lower center", ncol=5, fontsize=7, frameon=False)
    figure.suptitle(
        f"AEs with a 2-D bottleneck, three seeds ({dataset.name} test images). Absolute latents\n"
        f"differ between seeds; relative ones over {len(anchors)} shared anchors (one PCA) agree",
        fontsize=9,
    )
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    path = settings.out / "latent_rotation.png"
    return save_figure(figure, path)


# --- report ------------------------------------------------------------------------------------


def _report_sections(
    settings, dataset, anchors, table, results, figures, ledger
) -> list[tuple[str, str]]:
    from relreps.experiments.report import markdown_table

    data_lines = [
        f"- data: **{dataset.name}** ({dataset.source}), sha256 `{dataset.sha256[:16]}…`",
        f"- {len(dataset.train_labels)} training / {len(dataset.test_labels)} test images "
        "(class-stratified subsets when smaller than the full splits)",
        f"- anchors: {len(anchors)} class-balanced training images (`select_anchors(..., "
        f"'stratified', seed={anchors.seed})`), the same images for every seed",
        f"- models: conv AE / VAE, absolute latent {settings.latent_dim}; relative variants "
        "project the latent onto the anchors' latents (cosine, re-encoded at every step without "
        "gradient; "
        + ("centred on the anchors' mean" if settings.center else "not centred, as in the paper")
        + "), then LayerNorm; the relative VAE computes mu/logvar from the relative vector; "
        f"VAE KL weight beta = {settings.beta}",
        f"- training: {settings.seeds} seeds, {settings.epochs} epochs, Adam lr {settings.lr}, "
        f"batch {settings.batch_size}",
        "- metric: per-image MSE on the test images, x10³; non-stitched = each seed alone; "
        "stitched = encoder of seed i, decoder of seed j, every ordered pair i ≠ j "
        "(mean ± std over pairs)",
    ]
    for note in dataset.notes:
        data_lines.append(f"- note: {note}")
    pattern = (
        "The paper (section 5.1; its exact table was not recovered, see `PAPER.md`): absolute "
        "stitched error grows by one to two orders of magnitude (VAE outputs are plausible but "
        "wrong images); relative stitched stays near its non-stitched error. The acceptance check "
        "of this reproduction: relative stitched ≤ 1.5x relative non-stitched, absolute stitched "
        "≥ 5x absolute non-stitched.\n\n"
        "*cross-seed cosine*: mean cosine between the row-centred representations two different "
        "seeds transmit for the same test images (first 2,000; centring each row is what the "
        "decoder's LayerNorm does), averaged over pairs of seeds "
        "(`relreps.measures.mean_cosine`). Absolute latents of different seeds are unrelated "
        "bases (near 0); relative ones agree to the extent that the seeds' latent spaces differ "
        "only by an angle-preserving map, which bounds how well stitching can work."
    )
    trained = [entry for entry in ledger if entry["trained_now"]]
    total = sum(entry["train_seconds"] or 0 for entry in ledger)
    training = (
        f"{len(ledger)} models ({len(trained)} trained by this invocation, "
        f"{len(ledger) - len(trained)} loaded from `models/`); their training took {total:.0f} s "
        "summed over the models (from each model's metadata; models train side by side in "
        "`--jobs` processes, so this exceeds the wall time), on the machine below.\n\n"
        + markdown_table(
            ["model", "seed", "train s", "file"],
            [[e["model"], e["seed"], e["train_seconds"], f"`{e['file']}`"] for e in ledger],
        )
    )
    matrices = []
    for variant, result in results.items():
        headers = ["encoder \\ decoder", *[f"seed {d}" for d in result.decoders]]
        rows = [
            [f"seed {e}", *[f"{v:.2f}" for v in result.scores[i]]]
            for i, e in enumerate(result.encoders)
        ]
        matrices.append(f"**{variant}**\n\n" + markdown_table(headers, rows))
    sections = [
        ("Setup", "\n".join(data_lines)),
        ("Result", table + "\n\n" + pattern),
        ("Every pair (MSE x10³; the diagonal is non-stitched)", "\n\n".join(matrices)),
        ("Models", training),
    ]
    if figures:
        sections.append(("Figures", "\n\n".join(f"![{name}]({name})" for name in figures)))
    return sections
