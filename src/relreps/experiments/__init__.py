"""The paper's experiments, each runnable from Python, a notebook or ``relreps reproduce``.

>>> import relreps.experiments as experiments
>>> experiments.names()[:3]
('ae-stitching', 'anchor-count', 'cross-lingual')
>>> experiments.get("ae-stitching").summary.startswith("zero-shot stitching")
True

``experiments.run("ae-stitching", quick=True, seeds=2)`` runs one and returns its
:class:`~relreps.experiments.base.Result` after writing ``report.md`` and ``metrics.json``
under ``results/NAME`` (``out=`` elsewhere). Each experiment module is imported only when it
runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from relreps._registry import Registry

__all__ = ["EXPERIMENTS", "Experiment", "get", "names", "register", "run", "run_command"]


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its name, a one-line summary and the module that implements it
    (``Settings`` and ``run(run) -> Result``, see :mod:`relreps.experiments.base`)."""

    name: str
    summary: str
    module: str

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    @property
    def settings_class(self) -> Any:
        return self.load().Settings

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            prog=f"relreps reproduce {self.name}", description=self.summary
        )
        self.settings_class.add_arguments(parser)
        return parser


#: Every experiment ``relreps reproduce`` knows.
EXPERIMENTS: Registry[Experiment] = Registry("experiment", hint="See relreps reproduce --list.")


def register(name: str, summary: str, module: str) -> Experiment:
    """Register the experiment implemented by ``module`` under ``name``."""
    return EXPERIMENTS.add(name, Experiment(name, summary, module))


def names() -> tuple[str, ...]:
    return EXPERIMENTS.names()


def get(name: str) -> Experiment:
    return EXPERIMENTS.get(name)


def run(name: str, *, quick: bool = False, **overrides: Any) -> Any:
    """Run the experiment ``name`` and write its report; return its ``Result``.

    ``overrides`` are settings by name (``seeds=3``, ``out="results/x"``); ``None`` keeps the
    default, and an unknown name or a bad value is a ``ValueError`` before anything runs.
    """
    from relreps.experiments.base import arguments_for, command_line

    experiment = get(name)
    settings_class = experiment.settings_class
    settings = settings_class.create(quick=quick, **overrides)
    arguments = arguments_for(settings_class, quick, overrides)
    command = command_line(name, arguments, settings_class.path_flags())
    return _execute(experiment, settings, command)


def run_command(name: str, arguments: Sequence[str]) -> Any:
    """``relreps reproduce NAME ARGUMENTS``: parse, validate, run, write the report."""
    from relreps.experiments.base import command_line

    experiment = get(name)
    settings_class = experiment.settings_class
    namespace = experiment.parser().parse_args(list(arguments))
    settings = settings_class.from_arguments(namespace)
    command = command_line(name, arguments, settings_class.path_flags())
    return _execute(experiment, settings, command)


def _execute(experiment: Experiment, settings: Any, command: str) -> Any:
    from relreps.experiments.base import Run
    from relreps.experiments.report import write_report

    run_ = Run(experiment.name, settings, command)
    result = experiment.load().run(run_)
    run_.finish()
    report = write_report(run_, result)
    print(result.table)
    print(f"\nreport: {report}")
    return result


register(
    "anchor-count",
    "accuracy and stitched accuracy against the number of anchors, 1 to 2,000 (paper sec. 4.3)",
    "relreps.experiments.anchor_count",
)
register(
    "ae-stitching",
    "zero-shot stitching of AE/VAE encoders and decoders on Fashion-MNIST (paper sec. 5.1)",
    "relreps.experiments.ae_stitching",
)
register(
    "word-embeddings",
    "Word2Vec vs FastText vs GloVe neighbourhoods, absolute vs relative (paper sec. 4.1)",
    "relreps.experiments.word_embeddings",
)
register(
    "text-stitching",
    "text classifiers stitched across pretrained encoders, absolute vs relative (paper sec. 5.2)",
    "relreps.experiments.text_stitching",
)
register(
    "image-stitching",
    "image classifiers stitched across EfficientNet-Lite and from-scratch CNNs (paper sec. 5.3)",
    "relreps.experiments.image_stitching",
)
register(
    "relative-training",
    "absolute vs relative bottlenecks trained end to end and on frozen encoders (paper sec. 4.3)",
    "relreps.experiments.relative_training",
)
register(
    "graph-proxy",
    "latent similarity to a reference model as a proxy of GNN accuracy on Cora (paper sec. 4.2)",
    "relreps.experiments.graph_proxy",
)
register(
    "translation",
    "translators (Procrustes, least squares, affine, inverse relative projection) vs relative "
    "stitching on text, images and autoencoders (Maiorca et al. 2023)",
    "relreps.experiments.translation",
)
register(
    "invariances",
    "each similarity alone, their products and whitened similarities, stitched across text and "
    "image encoders (Cannistraci et al. 2024, Svendsen et al. 2026)",
    "relreps.experiments.invariances",
)
register(
    "zero-shot",
    "ASIF: translated descriptions classified against English topic descriptions through "
    "paired anchors, no training (Norelli et al. 2023)",
    "relreps.experiments.zero_shot",
)
register(
    "cross-lingual",
    "an English-trained classifier on foreign-language encoders via parallel anchors (sec. 5.2)",
    "relreps.experiments.cross_lingual",
)
