"""Planetoid graphs from their raw files: equal to torch_geometric's reader, safe, clear errors."""

from __future__ import annotations

import importlib.util
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from relreps.anchors import Anchors
from relreps.datasets.graphs import (
    find_planetoid_folder,
    load_planetoid,
    random_node_split,
    read_planetoid_file,
)

PLANETOID = Path(__file__).resolve().parents[2] / "shared" / "data" / "planetoid"
pytestmark = pytest.mark.skipif(not PLANETOID.is_dir(), reason="needs shared/data/planetoid")
SIZES = {"cora": (2708, 1433, 7, 10556), "citeseer": (3327, 3703, 6, 9104)}


@pytest.fixture
def copy_of(tmp_path):
    def copy(name: str = "cora") -> Path:
        folder = tmp_path / "raw"
        folder.mkdir(exist_ok=True)
        for path in PLANETOID.glob(f"ind.{name}.*"):
            shutil.copy(path, folder / path.name)
        return folder

    return copy


@pytest.mark.parametrize("name", sorted(SIZES))
def test_the_graph_has_the_published_sizes(name):
    graph = load_planetoid(name, PLANETOID)
    nodes, features, classes, edges = SIZES[name]
    assert graph.x.shape == (nodes, features) and graph.x.dtype == torch.float32
    assert graph.num_classes == classes and graph.edge_index.shape == (2, edges)
    assert [int(graph.masks[s].sum()) for s in ("train", "val", "test")] == [
        20 * classes,
        500,
        1000,
    ]
    sums = graph.x.sum(dim=1)  # normalised features: each row sums to 1 (or is empty)
    assert torch.allclose(sums[sums > 0], torch.ones(1), atol=1e-5)
    assert len(graph.sha256) == 64 and graph.source == str(PLANETOID)


@pytest.mark.skipif(importlib.util.find_spec("torch_geometric") is None, reason="torch_geometric")
@pytest.mark.parametrize("name", sorted(SIZES))
def test_equal_to_torch_geometric_without_unpickling_freely(name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch_geometric.io import read_planetoid_data

        reference = read_planetoid_data(str(PLANETOID), name)
    graph = load_planetoid(name, PLANETOID, normalize=False)
    assert torch.equal(graph.x, reference.x) and torch.equal(graph.y, reference.y)
    assert torch.equal(graph.edge_index, reference.edge_index)
    for split in ("train", "val", "test"):
        assert torch.equal(graph.masks[split], getattr(reference, f"{split}_mask"))


class _Payload:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_a_file_asking_for_other_code_is_refused_and_not_run(copy_of, tmp_path):
    folder = copy_of()
    marker = tmp_path / "executed"
    (folder / "ind.cora.graph").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ValueError, match=r"ind\.cora\.graph is not a Planetoid file.*pathlib"):
        load_planetoid("cora", folder)
    assert not marker.exists()


def test_truncated_and_missing_files_are_named(copy_of):
    folder = copy_of()
    data = (folder / "ind.cora.allx").read_bytes()
    (folder / "ind.cora.allx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"ind\.cora\.allx is not a Planetoid file"):
        load_planetoid("cora", folder)
    (folder / "ind.cora.ty").unlink()
    with pytest.raises(ValueError, match=r"lacks ind\.cora\.ty"):
        load_planetoid("cora", folder)
    (folder / "ind.cora.test.index").write_text("12 x\n")
    (folder / "ind.cora.allx").write_bytes(data)
    shutil.copy(PLANETOID / "ind.cora.ty", folder / "ind.cora.ty")
    with pytest.raises(ValueError, match="not a list of node numbers"):
        load_planetoid("cora", folder)


def test_no_files_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv("RELREPS_PLANETOID", raising=False)
    with pytest.raises(FileNotFoundError, match=r"No Cora files.*kimiyoung/planetoid.*--graph-dir"):
        find_planetoid_folder("cora", tmp_path)
    with pytest.raises(ValueError, match="graph must be one of"):
        load_planetoid("reddit", tmp_path)


def test_torch_geometric_layouts_and_the_environment_variable(copy_of, tmp_path, monkeypatch):
    raw = copy_of()  # tmp/raw
    assert find_planetoid_folder("cora", tmp_path) == raw
    nested = tmp_path / "root" / "Cora"
    nested.mkdir(parents=True)
    raw.rename(nested / "raw")
    assert find_planetoid_folder("cora", tmp_path / "root") == nested / "raw"
    monkeypatch.setenv("RELREPS_PLANETOID", str(tmp_path / "root"))
    assert find_planetoid_folder("cora") == nested / "raw"


def test_read_planetoid_file_gives_the_stored_types():
    allx = read_planetoid_file(PLANETOID / "ind.cora.allx")
    graph = read_planetoid_file(PLANETOID / "ind.cora.graph")
    assert allx.shape == (1708, 1433) and isinstance(graph, dict) and len(graph) == 2708


def test_random_split_is_a_seeded_partition():
    masks = random_node_split(2708, val=0.1, test=0.1, seed=3)
    counts = [int(masks[s].sum()) for s in ("train", "val", "test")]
    assert counts == [2708 - 271 - 271, 271, 271]
    assert torch.equal(masks["train"] | masks["val"] | masks["test"], torch.ones(2708, dtype=bool))
    assert not (masks["train"] & masks["val"]).any() and not (masks["val"] & masks["test"]).any()
    again = random_node_split(2708, val=0.1, test=0.1, seed=3)
    other = random_node_split(2708, val=0.1, test=0.1, seed=4)
    assert all(torch.equal(masks[s], again[s]) for s in masks)
    assert not torch.equal(masks["val"], other["val"])
    assert int(random_node_split(10, val=0.1)["test"].sum()) == 0
    with pytest.raises(ValueError, match="leave no training nodes"):
        random_node_split(10, val=0.5, test=0.5)
    with pytest.raises(ValueError, match=r"val must be a fraction"):
        random_node_split(10, val=1.5)


def test_anchor_nodes_are_seeded_training_nodes():
    graph = load_planetoid("cora", PLANETOID)
    anchors = graph.anchor_nodes(50, seed=2)
    assert isinstance(anchors, Anchors) and anchors.n_samples == graph.num_nodes
    assert graph.masks["train"][torch.tensor(anchors.indices)].all()
    assert np.array_equal(anchors.labels, graph.y.numpy()[anchors.indices])
    assert anchors == graph.anchor_nodes(50, seed=2) and anchors != graph.anchor_nodes(50, seed=3)
    assert "140 train nodes" in anchors.source
    with pytest.raises(ValueError, match="between 1 and the 140 train nodes"):
        graph.anchor_nodes(141)
