"""Graph node classifiers: shapes, anchors as rows of the forward pass, determinism, storage."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from relreps.projection import relative_projection

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch_geometric") is None, reason="needs the 'graphs' extra"
)


def small_graph(n: int = 40, features: int = 12, classes: int = 3, seed: int = 0):
    """A random graph whose labels follow its features (so a network can learn them)."""
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, features, generator=generator) < 0.2).float()
    y = x[:, :classes].argmax(dim=1)
    source = torch.randint(0, n, (120,), generator=generator)
    target = torch.randint(0, n, (120,), generator=generator)
    edges = torch.cat([torch.stack([source, target]), torch.stack([target, source])], dim=1)
    masks = {"train": torch.arange(n) < 30, "val": torch.arange(n) >= 30}
    return x, edges, y, masks


def config(**changes):
    from relreps.models.gnn import GNNConfig

    values = {"n_features": 12, "n_classes": 3, "n_layers": 2, "hidden": 8, "n_anchors": 5}
    return GNNConfig(**{**values, **changes})


ROWS = torch.tensor([0, 3, 7, 11, 20])


@pytest.mark.parametrize("layer", ["gcn", "gcn2", "gin"])
@pytest.mark.parametrize("relative", [False, True])
def test_every_layer_type_and_head(layer, relative):
    from relreps.models.gnn import NodeClassifier

    x, edges, _, _ = small_graph()
    model = NodeClassifier(config(layer=layer, relative=relative), ROWS if relative else None)
    model.eval()
    logits, represented = model(x, edges), model.represent(x, edges)
    assert logits.shape == (40, 3)
    assert represented.shape == (40, 5 if relative else 8)
    norms = represented.norm(dim=1)
    assert torch.allclose(norms[norms > 0], torch.ones(1), atol=1e-5)
    if relative:  # the head reads the cosine to the anchor rows of the same forward pass
        latent = model.embed(x, edges)
        expected = torch.nn.functional.normalize(relative_projection(latent, latent[ROWS]), dim=1)
        assert torch.allclose(represented, expected, atol=1e-6)


def test_sparse_and_dense_features_give_the_same_outputs():
    from relreps.models.gnn import NodeClassifier, sparse_features

    x, edges, _, _ = small_graph()
    model = NodeClassifier(config(), ROWS).eval()
    assert sparse_features(x).layout == torch.sparse_csr
    assert sparse_features(torch.ones(4, 4)).layout == torch.strided  # dense stays dense
    assert torch.allclose(model(x, edges), model(sparse_features(x), edges), atol=1e-5)


def test_training_is_seeded_keeps_the_best_epoch_and_learns():
    from relreps.models.gnn import train_node_classifier

    x, edges, y, masks = small_graph()
    run = lambda seed: train_node_classifier(  # noqa: E731
        config(center="anchors"), x, edges, y, masks, anchor_rows=ROWS, seed=seed, epochs=30
    )
    model, record = run(0)
    again, same = run(0)
    other, _ = run(1)
    assert record["loss"] == same["loss"] and record["val_accuracy"] == same["val_accuracy"]
    pairs = zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert not torch.equal(model.input.weight, other.input.weight)
    assert len(record["val_accuracy"]) == 30 and not record["diverged"]
    best = record["best_epoch"]
    assert (
        record["best_val_accuracy"]
        == max(record["val_accuracy"])
        == record["val_accuracy"][best - 1]
    )
    with torch.no_grad():  # the returned weights are the best epoch's
        predicted = model(x, edges).argmax(dim=1)
    accuracy = float((predicted[masks["val"]] == y[masks["val"]]).float().mean())
    assert accuracy == pytest.approx(record["best_val_accuracy"])
    assert record["train_accuracy"][-1] > 0.6  # it learns the features' labels
    assert model.record is record


def test_similarity_to_a_reference_is_tracked_per_epoch():
    from relreps.models.gnn import train_node_classifier

    x, edges, y, masks = small_graph()
    reference, first = train_node_classifier(
        config(), x, edges, y, masks, anchor_rows=ROWS, epochs=5
    )
    with torch.no_grad():
        target = reference.represent(x, edges)
    _, record = train_node_classifier(
        config(), x, edges, y, masks, anchor_rows=ROWS, epochs=5, reference=target
    )
    similarity = record["reference_similarity"]
    assert len(similarity) == 5 and all(abs(value) <= 1 + 1e-6 for value in similarity)
    # the same run again: at the reference's best epoch the two representations coincide
    assert similarity[first["best_epoch"] - 1] == pytest.approx(1.0, abs=1e-5)


def test_divergence_is_recorded_and_the_weights_stay_finite():
    from relreps.models.gnn import train_node_classifier

    x, edges, y, masks = small_graph()
    model, record = train_node_classifier(
        config(relative=False), x, edges, y, masks, epochs=20, optimizer="sgd", lr=1e35
    )
    assert record["diverged"] and len(record["loss"]) < 20
    assert all(torch.isfinite(t).all() for t in model.state_dict().values())


def test_save_and_load_round_trip(tmp_path):
    from relreps.models.gnn import load_node_classifier, save_node_classifier, train_node_classifier

    x, edges, y, masks = small_graph()
    model, record = train_node_classifier(
        config(layer="gin"), x, edges, y, masks, anchor_rows=ROWS, epochs=3
    )
    save_node_classifier(model, tmp_path / "gnn.safetensors", {"note": "kept"})
    loaded, metadata = load_node_classifier(tmp_path / "gnn.safetensors")
    assert metadata["note"] == "kept" and loaded.record == record
    assert torch.equal(loaded.projection.anchor_rows, ROWS)
    assert torch.equal(loaded(x, edges), model(x, edges))
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    (tmp_path / "bad.safetensors.json").write_text("{}")
    with pytest.raises(ValueError):
        load_node_classifier(tmp_path / "bad.safetensors")


def test_bad_configurations_are_refused():
    from relreps.models.gnn import NodeClassifier, train_node_classifier

    with pytest.raises(ValueError, match="layer must be one of"):
        config(layer="gat")
    with pytest.raises(ValueError, match="activation must be one of"):
        config(activation="gelu")
    with pytest.raises(ValueError, match="dropout"):
        config(dropout=1.0)
    with pytest.raises(ValueError, match="needs anchor_rows"):
        NodeClassifier(config())
    with pytest.raises(ValueError, match="node indices"):
        NodeClassifier(config(), torch.randn(5, 8))
    x, edges, y, masks = small_graph()
    with pytest.raises(ValueError, match="one entry per node"):
        train_node_classifier(config(relative=False), x, edges, y[:-1], masks)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        train_node_classifier(config(relative=False), x, edges, y, masks, optimizer="rmsprop")
