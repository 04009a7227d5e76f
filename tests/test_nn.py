from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from safetensors.torch import load, save

import relreps
from relreps.nn import OUTPUT_NORMS


@pytest.mark.parametrize("output_norm", OUTPUT_NORMS)
def test_forward_shapes_and_norms(output_norm):
    layer = relreps.RelativeProjection(n_anchors=6, output_norm=output_norm)
    out = layer(torch.randn(2, 5, 8), torch.randn(6, 8))
    assert out.shape == (2, 5, 6)
    if output_norm == "l2":
        torch.testing.assert_close(out.norm(dim=-1), torch.ones(2, 5))
    if output_norm == "layernorm":
        torch.testing.assert_close(out.mean(dim=-1), torch.zeros(2, 5), atol=1e-5, rtol=0)


def test_trains_inside_a_loop_and_round_trips_state_dict():
    torch.manual_seed(0)
    encoder = torch.nn.Linear(10, 8)
    layer = relreps.RelativeProjection(n_anchors=5, output_norm="layernorm")
    head = torch.nn.Linear(5, 2)
    params = [*encoder.parameters(), *layer.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    x, y = torch.randn(64, 10), torch.randint(0, 2, (64,))
    anchor_inputs = torch.randn(5, 10)
    losses = []
    for _ in range(30):
        with torch.no_grad():
            anchors = encoder(anchor_inputs)
        loss = torch.nn.functional.cross_entropy(head(layer(encoder(x), anchors)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert layer.norm.weight.grad is not None

    restored = relreps.RelativeProjection(n_anchors=5, output_norm="layernorm")
    restored.load_state_dict(load(save(layer.state_dict())))
    z = encoder(x).detach()
    torch.testing.assert_close(restored(z, anchors), layer(z, anchors))


def test_stored_anchors_buffer_round_trips():
    anchors = torch.randn(4, 3)
    layer = relreps.RelativeProjection(anchors=anchors, output_norm="batchnorm", center="anchors")
    layer.eval()
    buffer = io.BytesIO(save(layer.state_dict()))
    restored = relreps.RelativeProjection(
        anchors=torch.zeros(4, 3), output_norm="batchnorm", center="anchors"
    )
    restored.load_state_dict(load(buffer.getvalue()))
    restored.eval()
    x = torch.randn(7, 3)
    torch.testing.assert_close(restored(x), layer(x))
    assert "similarity='cosine'" in repr(layer)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="pass n_anchors"):
        relreps.RelativeProjection(output_norm="layernorm")
    with pytest.raises(ValueError, match="valid names are"):
        relreps.RelativeProjection(similarity="nope")
    with pytest.raises(ValueError, match="output_norm must be one of"):
        relreps.RelativeProjection(output_norm="rmsnorm")
    with pytest.raises(ValueError, match="center must be one of"):
        relreps.RelativeProjection(center="mean")
    with pytest.raises(ValueError, match="No anchors"):
        relreps.RelativeProjection()(torch.randn(2, 3))
    with pytest.raises(ValueError, match="built for 4 anchors but got 3"):
        relreps.RelativeProjection(n_anchors=4)(torch.randn(2, 3), torch.randn(3, 3))


def test_anchor_rows_are_rows_of_the_same_forward_pass():
    x = torch.randn(10, 4, requires_grad=True)
    rows = torch.tensor([1, 4, 7])
    for given in (rows, np.array([1, 4, 7]), [1, 4, 7],
                  relreps.Anchors(np.array([1, 4, 7]), "random", 0, 10)):  # fmt: skip
        layer = relreps.RelativeProjection(anchors=given)
        assert layer.n_anchors == 3 and torch.equal(layer.anchor_rows, rows)
        expected = relreps.relative_projection(x, x[rows])
        assert torch.allclose(layer(x), expected)
        assert torch.allclose(relreps.RelativeProjection()(x, given), expected)
    layer(x).sum().backward()  # the gradient reaches the anchor rows through both arguments
    assert x.grad is not None and x.grad[rows].abs().sum() > 0
    restored = relreps.RelativeProjection(anchors=torch.tensor([0, 0, 0]))
    restored.load_state_dict(layer.state_dict())
    assert torch.equal(restored.anchor_rows, rows)


def test_anchor_rows_are_checked_against_the_input():
    layer = relreps.RelativeProjection(anchors=torch.tensor([0, 12]))
    with pytest.raises(ValueError, match=r"Anchor rows must lie in \[0, 10\)"):
        layer(torch.randn(10, 4))
    with pytest.raises(ValueError, match="need x of shape"):
        layer(torch.randn(2, 13, 4))
    selected = relreps.Anchors(np.array([0, 2]), "random", 0, n_samples=20)
    with pytest.raises(ValueError, match="selected from 20 samples but x has 10 rows"):
        relreps.RelativeProjection(anchors=selected)(torch.randn(10, 4))
    with pytest.raises(ValueError, match="Anchor rows must be 1-D"):
        relreps.RelativeProjection(anchors=torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="rows of the input"):
        relreps.RelativeProjection(anchors=torch.randn(3))


# --- learned anchors ---------------------------------------------------------------------------


def test_learned_anchors_stay_parallel_and_convex():
    from relreps.nn import LearnedAnchors

    torch.manual_seed(0)
    pool_x = torch.randn(60, 6, dtype=torch.float64)
    m = torch.randn(6, 9, dtype=torch.float64)
    pool_y = pool_x @ m + 1.0  # a linear map and a shift: mixtures commute with both
    learned = LearnedAnchors([pool_x, pool_y], 5, seed=3)
    a_x, a_y = learned()
    torch.testing.assert_close(a_y, a_x @ m + 1.0)
    weights = learned.mixture()
    assert weights.shape == (5, 60) and bool((weights >= 0).all())
    torch.testing.assert_close(weights.sum(1), torch.ones(5, dtype=torch.float64))
    again = LearnedAnchors([pool_x, pool_y], 5, seed=3)
    torch.testing.assert_close(again.logits, learned.logits)  # the seed decides


def test_learned_anchors_train_to_cover_and_align():
    from relreps.nn import LearnedAnchors, alignment_loss, coverage_loss, diversity_loss

    torch.manual_seed(1)
    data = torch.cat([torch.randn(100, 4) + 6, torch.randn(100, 4) - 6])  # two clusters
    q = torch.linalg.qr(torch.randn(4, 4))[0]
    learned = LearnedAnchors([data, data @ q], 2, temperature=0.1)
    optimiser = torch.optim.Adam(learned.parameters(), lr=0.5)

    def objective():
        a_x, a_y = learned()
        rel_x = relreps.relative_projection(data, a_x)
        rel_y = relreps.relative_projection(data @ q, a_y)
        return coverage_loss(data, a_x) + 0.1 * diversity_loss(a_x) + alignment_loss(rel_x, rel_y)

    before = coverage_loss(data, learned()[0]).item()
    for _ in range(150):
        optimiser.zero_grad()
        objective().backward()
        optimiser.step()
    after = coverage_loss(data, learned()[0]).item()
    assert after < 0.7 * before, (before, after)  # one anchor per cluster
    a_x, a_y = learned()
    assert alignment_loss(relreps.relative_projection(data, a_x),
                          relreps.relative_projection(data @ q, a_y)).item() < 1e-10  # fmt: skip


def test_learned_anchor_errors():
    from relreps.nn import LearnedAnchors, alignment_loss, diversity_loss

    with pytest.raises(ValueError, match="same number of rows"):
        LearnedAnchors([torch.randn(5, 2), torch.randn(6, 2)], 2)
    with pytest.raises(ValueError, match="temperature"):
        LearnedAnchors([torch.randn(5, 2)], 2, temperature=0)
    with pytest.raises(ValueError, match="at least 2 anchors"):
        diversity_loss(torch.randn(1, 3))
    with pytest.raises(ValueError, match="same samples"):
        alignment_loss(torch.randn(3, 2), torch.randn(3, 4))


@pytest.mark.slow
def test_compiles_and_traces_but_does_not_script():
    """torch.compile works (graph breaks at the input checks, which are data-dependent), tracing
    works for any batch size, TorchScript's scripting does not (documented in the class)."""
    import warnings

    torch.manual_seed(0)
    layer = relreps.RelativeProjection(anchors=torch.randn(5, 8), center="anchors")
    x = torch.randn(4, 8, requires_grad=True)
    compiled = torch.compile(layer, backend="aot_eager")
    out = compiled(x)
    torch.testing.assert_close(out, layer(x))
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(layer, torch.randn(4, 8))
    other = torch.randn(9, 8)
    torch.testing.assert_close(traced(other), layer(other))
    with pytest.raises(Exception):  # noqa: B017 (TorchScript's own error types)
        torch.jit.script(layer)
