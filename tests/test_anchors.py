from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import relreps
from relreps.anchors import STRATEGIES


def data(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, 4, size=n)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_deterministic_per_seed_and_distinct_valid(strategy):
    x, labels = data()
    options = {"top_n": 40} if strategy == "top" else {}
    first = relreps.select_anchors(x, 12, strategy, labels=labels, seed=7, **options)
    second = relreps.select_anchors(x, 12, strategy, labels=labels, seed=7, **options)
    assert first == second
    assert len(first) == 12
    assert len(set(first.indices.tolist())) == 12
    assert first.indices.min() >= 0 and first.indices.max() < len(x)
    assert first.strategy == strategy and first.seed == 7 and first.n_samples == len(x)
    np.testing.assert_array_equal(first.labels, labels[first.indices])


@pytest.mark.parametrize("strategy", ["random", "stratified", "fps"])
def test_different_seeds_differ(strategy):
    x, labels = data(n=200)
    a = relreps.select_anchors(x, 20, strategy, labels=labels, seed=0)
    b = relreps.select_anchors(x, 20, strategy, labels=labels, seed=1)
    assert a != b


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_classes=st.integers(1, 8),
    per_class=st.integers(1, 30),
    data=st.data(),
)
def test_stratified_is_class_balanced(seed, n_classes, per_class, data):
    labels = np.repeat(np.arange(n_classes), per_class)
    n_anchors = data.draw(st.integers(1, len(labels)))
    anchors = relreps.select_anchors(
        np.zeros((len(labels), 1)), n_anchors, "stratified", labels=labels, seed=seed
    )
    counts = np.bincount(anchors.labels, minlength=n_classes)
    assert counts.sum() == n_anchors
    assert counts.max() - counts.min() <= 1
    assert len(set(anchors.indices.tolist())) == n_anchors


def test_stratified_with_an_exhausted_class_fills_from_the_others():
    labels = np.array([0] * 2 + [1] * 20 + [2] * 20)
    anchors = relreps.select_anchors(np.zeros((42, 1)), 12, "stratified", labels=labels, seed=0)
    assert np.bincount(anchors.labels).tolist() == [2, 5, 5]


def test_stratified_accepts_string_labels():
    labels = np.array(["cat", "dog"] * 10)
    anchors = relreps.select_anchors(np.zeros((20, 2)), 4, "stratified", labels=labels)
    assert sorted(anchors.labels.tolist()) == ["cat", "cat", "dog", "dog"]


def test_fps_picks_extremes():
    x = np.array([[0.0], [1.0], [2.0], [10.0], [-10.0], [0.5]])
    anchors = relreps.select_anchors(x, 3, "fps", seed=0)
    assert {3, 4} <= set(anchors.indices.tolist())


def test_fps_with_duplicates_stays_distinct():
    x = np.zeros((10, 3))
    anchors = relreps.select_anchors(x, 10, "fps")
    assert sorted(anchors.indices.tolist()) == list(range(10))


def test_kmeans_finds_one_anchor_per_cluster():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [50.0, 0.0], [0.0, 50.0]])
    x = np.vstack([c + rng.normal(size=(30, 2)) for c in centers])
    anchors = relreps.select_anchors(x, 3, "kmeans", seed=0)
    assert sorted((anchors.indices // 30).tolist()) == [0, 1, 2]


def test_take_gives_parallel_anchors_in_every_kind():
    x, _ = data()
    anchors = relreps.select_anchors(x, 5, seed=3)
    y_numpy = x * 2
    np.testing.assert_array_equal(anchors.take(y_numpy), y_numpy[anchors.indices])
    y_torch = torch.from_numpy(y_numpy)
    assert torch.equal(anchors.take(y_torch), y_torch[torch.tensor(anchors.indices)])
    texts = [f"text {i}" for i in range(len(x))]
    assert anchors.take(texts) == [texts[i] for i in anchors.indices]
    with pytest.raises(ValueError, match="selected from 60 samples but this space has 59"):
        anchors.take(y_numpy[:-1])


def test_anchors_round_trip_through_json_and_are_read_only():
    x, labels = data()
    anchors = relreps.select_anchors(x, 6, "stratified", labels=labels, seed=2)
    restored = relreps.Anchors.from_dict(json.loads(json.dumps(anchors.to_dict())))
    assert restored == anchors
    with pytest.raises(ValueError):
        anchors.indices[0] = 1


def test_torch_input_works():
    x = torch.randn(30, 4)
    for strategy in ("random", "kmeans", "fps"):
        assert len(relreps.select_anchors(x, 5, strategy)) == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_anchors": 61}, ValueError, r"between 1 and the number of samples \(60\), got 61"),
        ({"n_anchors": 0}, ValueError, "between 1 and"),
        ({"n_anchors": 2.5}, TypeError, "n_anchors must be an integer"),
        ({"n_anchors": 3, "strategy": "uniform"}, ValueError, "strategy must be one of 'random'"),
        ({"n_anchors": 3, "strategy": "stratified"}, ValueError, "needs labels"),
        ({"n_anchors": 3, "labels": np.zeros(59)}, ValueError, "one entry per row of x"),
        ({"n_anchors": 3, "seed": 1.5}, TypeError, "seed must be an integer"),
        ({"n_anchors": 3, "strategy": "top"}, ValueError, "needs top_n"),
        ({"n_anchors": 30, "strategy": "top", "top_n": 20}, ValueError, r"top_n=20 rows \(20\)"),
        ({"n_anchors": 3, "top_n": 20}, ValueError, "top_n is an option of the 'top' strategy"),
        ({"n_anchors": 3, "n_samples": 60}, ValueError, "either x or n_samples"),
    ],
)
def test_bad_arguments_are_reported(kwargs, error, match):
    x, _ = data()
    with pytest.raises(error, match=match):
        relreps.select_anchors(x, **kwargs)


def test_top_is_uniform_among_the_first_rows_and_counts_need_no_space():
    top = relreps.select_anchors(None, 10, "top", top_n=25, n_samples=1000, seed=3)
    # by hand: the same draw as numpy's choice among the first 25 rows
    expected = np.random.default_rng(3).choice(25, size=10, replace=False)
    np.testing.assert_array_equal(top.indices, expected)
    assert top.options == {"top_n": 25} and top.n_samples == 1000
    random = relreps.select_anchors(None, 10, n_samples=1000, seed=3, source="rows of a file")
    x = np.zeros((1000, 2))
    assert random.indices.tolist() == relreps.select_anchors(x, 10, seed=3).indices.tolist()
    assert random.source == "rows of a file"
    assert relreps.Anchors.from_dict(top.to_dict()) == top
    with pytest.raises(ValueError, match="needs the space x itself"):
        relreps.select_anchors(None, 3, "fps", n_samples=10)
    with pytest.raises(ValueError, match="n_samples"):
        relreps.select_anchors(None, 3)
    # labels alone give the number of rows
    labels = np.repeat([0, 1], 5)
    by_labels = relreps.select_anchors(None, 4, "stratified", labels=labels, seed=1)
    assert by_labels.n_samples == 10 and sorted(labels[by_labels.indices]) == [0, 0, 1, 1]
    assert by_labels == relreps.select_anchors(
        None, 4, "stratified", labels=labels, n_samples=10, seed=1
    )


def test_empty_and_nan_inputs_are_reported():
    with pytest.raises(ValueError, match="x is empty"):
        relreps.select_anchors(np.zeros((0, 3)), 1)
    x = np.ones((5, 2))
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        relreps.select_anchors(x, 2, "fps")


def test_anchors_refuse_indices_outside_their_space_and_take_rows_of_frames():
    with pytest.raises(ValueError, match=r"must lie in \[0, 5\)"):
        relreps.Anchors(np.array([0, -1]), "random", 0, 5)
    with pytest.raises(ValueError, match=r"must lie in \[0, 5\)"):
        relreps.Anchors(np.array([5]), "random", 0, 5)
    with pytest.raises(ValueError, match="distinct"):
        relreps.Anchors(np.array([1, 1]), "random", 0, 5)
    with pytest.raises(ValueError, match="1-D array of integers"):
        relreps.Anchors(np.array([0.5]), "random", 0, 5)

    class Frame:
        """Enough of a pandas DataFrame: len, and rows by position through iloc."""

        def __init__(self, rows):
            self.rows = rows
            self.iloc = self

        def __len__(self):
            return len(self.rows)

        def __getitem__(self, index):  # as iloc: rows; indexing the frame itself gives columns
            return [self.rows[i] for i in index]

    anchors = relreps.Anchors(np.array([2, 0]), "random", 0, 3)
    assert anchors.take(Frame(["a", "b", "c"])) == ["c", "a"]
