"""Every number of the paper that could be recovered, in one shape, with its source.

Moschella et al., ICLR 2023 (arXiv 2209.15430). Sources: ``[repo]`` saved in the official code's
outputs (lucmos/relreps), ``[slides]`` hard-coded in the authors' slides, ``[early]`` an earlier
run in the repository's history, ``[?]`` recalled and unconfirmed. Reports read their paper
columns from here.

>>> value("word-embeddings", "FastText->Word2Vec relative", "MRR@5")
0.93
>>> lookup("cross-lingual", column="fr")[0].row
'absolute'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NUMBERS", "PaperNumber", "lookup", "value"]


@dataclass(frozen=True)
class PaperNumber:
    """One number: which experiment, row and column of its table, the value, and the source."""

    experiment: str
    row: str
    column: str
    value: float
    source: str


def _table(experiment: str, source: str, rows: dict[str, dict[str, float]]) -> list[PaperNumber]:
    return [
        PaperNumber(experiment, row, column, value, source)
        for row, columns in rows.items()
        for column, value in columns.items()
    ]


_WORDS = "[repo] Table 1, k = 5, mean over 10 seeds (visualize_quantitative_analysis.ipynb)"
_TEXT = "[early] TREC / DBpedia / Amazon 5-class, weighted F1 x100 (aggregate_results.ipynb)"
_CROSS = "[slides] Amazon reviews coarse, RoBERTa per language, weighted F1 x100"
_VISION = "[slides] weighted F1 x100, 3 seeds, 768 anchors (relreps_stitching_vision.py)"


def _words() -> list[PaperNumber]:
    def jmc(jaccard: float, mrr: float, cosine: float) -> dict[str, float]:
        return {"Jaccard@5": jaccard, "MRR@5": mrr, "cosine": cosine}

    rows = {
        "FastText->Word2Vec absolute": jmc(0.00, 0.00, 0.01),
        "Word2Vec->FastText absolute": jmc(0.00, 0.00, 0.01),
        "FastText->Word2Vec relative": jmc(0.38, 0.93, 0.86),
        "Word2Vec->FastText relative": jmc(0.44, 0.97, 0.86),
        "FastText->Word2Vec relative, fps anchors": jmc(0.38, 0.94, 0.81),
        "Word2Vec->FastText relative, fps anchors": jmc(0.47, 0.98, 0.83),
        "FastText->Word2Vec relative, kmeans anchors": jmc(0.39, 0.94, 0.87),
        "Word2Vec->FastText relative, kmeans anchors": jmc(0.43, 0.97, 0.87),
        "FastText->Word2Vec relative, top-1000 anchors": jmc(0.30, 0.84, 0.85),
        "Word2Vec->FastText relative, top-1000 anchors": jmc(0.40, 0.97, 0.85),
        "FastText->Word2Vec relative, top-5000 anchors": jmc(0.36, 0.91, 0.86),
        "Word2Vec->FastText relative, top-5000 anchors": jmc(0.43, 0.97, 0.86),
        "FastText->Word2Vec relative, top-10000 anchors": jmc(0.37, 0.93, 0.86),
        "Word2Vec->FastText relative, top-10000 anchors": jmc(0.44, 0.97, 0.86),
    }
    return _table("word-embeddings", _WORDS, rows)


def _text() -> list[PaperNumber]:
    rows = {
        "absolute non-stitched": {"TREC": 91.36, "DBpedia": 98.59, "Amazon fine": 59.18},
        "absolute stitched": {"TREC": 21.51, "DBpedia": 7.02, "Amazon fine": 19.37},
        "relative non-stitched": {"TREC": 87.24, "DBpedia": 97.49, "Amazon fine": 55.86},
        "relative stitched": {"TREC": 74.49, "DBpedia": 80.79, "Amazon fine": 44.28},
    }
    return _table("text-stitching", _TEXT, rows)


def _cross_lingual() -> list[PaperNumber]:
    rows = {
        "absolute": {"en": 91.54, "es": 43.67, "fr": 54.41, "ja": 48.72},
        "relative, translated anchors": {"en": 90.06, "es": 82.78, "fr": 78.49, "ja": 65.72},
        "relative, Wikipedia anchors": {"en": 90.45, "es": 78.53, "fr": 70.41, "ja": 66.31},
    }
    return _table("cross-lingual", _CROSS, rows)


def _vision() -> list[PaperNumber]:
    # decoder <- encoder: CIFAR-100 (coarse, likely) and ImageNet (20%), absolute / relative;
    # absolute is undefined between different widths and left out.
    cells = {
        ("RexNet", "RexNet"): (82.06, 80.22, 73.78, 72.61),
        ("RexNet", "ViT-base"): (None, 54.98, None, 37.39),
        ("RexNet", "ViT-ResNet"): (None, 53.33, None, 42.36),
        ("RexNet", "ViT-small"): (None, 59.82, None, 43.75),
        ("ViT-base", "RexNet"): (None, 76.81, None, 30.78),
        ("ViT-base", "ViT-base"): (93.15, 91.94, 80.91, 78.86),
        ("ViT-base", "ViT-ResNet"): (6.21, 81.42, 0.07, 44.72),
        ("ViT-base", "ViT-small"): (None, 84.29, None, 48.31),
        ("ViT-ResNet", "RexNet"): (None, 79.79, None, 53.46),
        ("ViT-ResNet", "ViT-base"): (4.69, 84.46, 0.08, 62.21),
        ("ViT-ResNet", "ViT-ResNet"): (91.41, 90.77, 82.55, 81.88),
        ("ViT-ResNet", "ViT-small"): (None, 84.66, None, 61.32),
        ("ViT-small", "RexNet"): (None, 75.35, None, 37.58),
        ("ViT-small", "ViT-base"): (None, 81.23, None, 50.08),
        ("ViT-small", "ViT-ResNet"): (None, 78.35, None, 45.45),
        ("ViT-small", "ViT-small"): (90.07, 88.85, 77.73, 76.36),
    }
    columns = ("CIFAR-100 absolute", "CIFAR-100 relative", "ImageNet absolute", "ImageNet relative")
    out = []
    for (decoder, encoder), values in cells.items():
        for column, number in zip(columns, values, strict=True):
            if number is not None:
                row = f"decoder {decoder}, encoder {encoder}"
                out.append(PaperNumber("image-stitching", row, column, number, _VISION))
    return out


def _other() -> list[PaperNumber]:
    unconfirmed = "[?] recalled, unconfirmed (PAPER.md item 3)"
    out = _table(
        "relative-training",
        unconfirmed,
        {
            "relative": {"MNIST": 97.91, "F-MNIST": 90.19, "CIFAR-10": 87.70, "CIFAR-100": 66.72,
                         "Cora": 0.89, "CiteSeer": 0.77, "PubMed": 0.91},
            "absolute": {"MNIST": 97.95, "F-MNIST": 90.32, "CIFAR-10": 87.85, "CIFAR-100": 68.88,
                         "Cora": 0.90, "CiteSeer": 0.78, "PubMed": 0.91},
        },
    )  # fmt: skip
    out.append(
        PaperNumber(
            "graph-proxy",
            "reference model (GCN2Conv, 32 layers, seed 1, best epoch 335)",
            "validation accuracy",
            0.915129151291513,
            "[repo] visualize_graph_manifold.ipynb",
        )
    )
    out.append(
        PaperNumber("graph-proxy", "grid", "runs", 1920, "[repo] visualize_graph_manifold.ipynb")
    )
    return out


def _translation() -> list[PaperNumber]:
    # Maiorca et al., NeurIPS 2023, Table 1 (accuracy, mean over encoder/decoder pairs), as
    # transcribed by a third-party note (FOLLOWUPS.md 1.7); its "affine" is our "affine-sgd" and
    # its "relative" is the ICLR paper's relative stitching.
    source = "[T] Maiorca et al. 2023 Table 1, third-party transcription (FOLLOWUPS.md 1.7)"
    rows = {
        "non-stitched": {"F-MNIST": 0.88, "TREC": 0.87},
        "absolute": {"F-MNIST": 0.15, "TREC": 0.20},
        "relative stitching": {"F-MNIST": 0.63, "TREC": 0.36},
        "affine-sgd": {"F-MNIST": 0.86, "TREC": 0.82},
        "linear": {"F-MNIST": 0.83, "TREC": 0.74},
        "l-ortho": {"F-MNIST": 0.82, "TREC": 0.57},
        "ortho": {"F-MNIST": 0.85, "TREC": 0.79},
    }
    return _table("translation", source, rows)


#: Every recovered number.
NUMBERS: tuple[PaperNumber, ...] = tuple(
    _words() + _text() + _cross_lingual() + _vision() + _other() + _translation()
)


def lookup(experiment: str, row: str | None = None, column: str | None = None) -> list[PaperNumber]:
    """The paper's numbers of ``experiment``, optionally of one row and/or column."""
    return [
        number
        for number in NUMBERS
        if number.experiment == experiment
        and (row is None or number.row == row)
        and (column is None or number.column == column)
    ]


def value(experiment: str, row: str, column: str) -> float:
    """The one number at ``(experiment, row, column)``; ``KeyError`` when the paper has none."""
    found = lookup(experiment, row, column)
    if len(found) != 1:
        raise KeyError(f"The paper has no number for {experiment!r}, {row!r}, {column!r}.")
    return found[0].value
