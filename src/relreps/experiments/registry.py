"""The experiments ``relreps reproduce`` knows, imported only when one is run."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    """An experiment: a name, a one-line summary, and the module that implements it.

    The module defines ``add_arguments(parser)``, ``settings_from(options)`` and
    ``run_experiment(settings, info) -> dict`` (with the printed ``table`` and the ``report``
    path); running it is the same for every experiment.
    """

    name: str
    summary: str
    module: str

    def _load(self):
        return importlib.import_module(self.module)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        self._load().add_arguments(parser)

    def run(self, options: argparse.Namespace) -> int:
        from relreps.experiments.report import RunInfo, command_line

        module = self._load()
        settings = module.settings_from(options)
        info = RunInfo(self.name, command_line(self.name, getattr(options, "arguments", [])))
        result = module.run_experiment(settings, info)
        print(result["table"])
        print(f"\nreport: {result['report']}")
        return 0


_EXPERIMENTS: dict[str, Experiment] = {}


def register(name: str, summary: str, module: str) -> None:
    _EXPERIMENTS[name] = Experiment(name, summary, module)


def experiments() -> list[Experiment]:
    return [_EXPERIMENTS[name] for name in sorted(_EXPERIMENTS)]


def get(name: str) -> Experiment:
    try:
        return _EXPERIMENTS[name]
    except KeyError:
        raise KeyError(
            f"Unknown experiment {name!r}; available: {', '.join(sorted(_EXPERIMENTS)) or 'none'}."
        ) from None


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
    "cross-lingual",
    "an English-trained classifier on foreign-language encoders via parallel anchors (sec. 5.2)",
    "relreps.experiments.cross_lingual",
)
