"""Classification heads and the weighted-F1 stitching metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from relreps.models.heads import classifier_head, train_classifier
from relreps.stitching import WeightedF1


def test_weighted_f1_matches_sklearn_over_batches():
    rng = np.random.default_rng(0)
    logits, target = rng.normal(size=(50, 4)), rng.integers(0, 4, 50)
    metric = WeightedF1()
    for part in (slice(0, 20), slice(20, 50)):
        metric.update(torch.from_numpy(logits[part]), torch.from_numpy(target[part]))
    expected = 100 * f1_score(target, logits.argmax(1), average="weighted")
    assert metric.compute() == pytest.approx(expected)
    with pytest.raises(ValueError, match="no samples"):
        WeightedF1().compute()


def test_head_learns_a_separable_problem_and_is_seeded():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=generator) * 4
    y = torch.arange(300) % 3
    x = centres[y] + torch.randn(300, 8, generator=generator)
    head = train_classifier(x, y, 3, seed=1, epochs=10)
    assert (head(x).argmax(1) == y).float().mean() > 0.95
    again = train_classifier(x, y, 3, seed=1, epochs=10)
    torch.testing.assert_close(head(x), again(x))


def test_head_rejects_bad_shapes():
    with pytest.raises(ValueError, match="n_classes >= 2"):
        classifier_head(4, 1)
    with pytest.raises(ValueError, match=r"Expected x of shape \(n, d\)"):
        train_classifier(torch.zeros(5, 2), torch.zeros(4, dtype=torch.long), 2)
