"""Graph node classifiers (GCN, GCNII, GIN) with an absolute or a relative head (paper 4.2, 4.3).

The paper's graph network: dropout, Linear(features -> hidden) and an activation; then
``n_layers`` graph convolutions, each after dropout and followed by an activation; dropout; then
the head. A relative head takes the cosine of every node to the *anchor nodes* (rows of the same
forward pass: :class:`~relreps.nn.RelativeProjection` with anchor rows), L2-normalises it and
classifies it with a Linear layer; an absolute head L2-normalises the latent itself.

Layers come from torch_geometric (``pip install 'relreps[graphs]'``), imported when a model is
built. ``GCN2Conv`` follows the paper (alpha 0.1, theta 0.5, shared weights, a skip to the first
layer's output); ``GINConv`` wraps a two-layer MLP; ``GCNConv`` is Kipf and Welling's.

>>> import torch
>>> config = GNNConfig(n_features=5, n_classes=3, layer="gcn2", n_layers=2, hidden=8, n_anchors=4)
>>> model = NodeClassifier(config, anchor_rows=torch.tensor([0, 1, 2, 3]))
>>> x, edges = torch.rand(10, 5), torch.tensor([[0, 1, 2], [1, 2, 3]])
>>> model(x, edges).shape, model.represent(x, edges).shape
(torch.Size([10, 3]), torch.Size([10, 4]))
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from relreps._checks import check_choice, check_int
from relreps.nn import RelativeProjection

__all__ = [
    "ACTIVATIONS",
    "LAYERS",
    "OPTIMIZERS",
    "GNNConfig",
    "NodeClassifier",
    "load_node_classifier",
    "require_torch_geometric",
    "save_node_classifier",
    "sparse_features",
    "train_node_classifier",
]

LAYERS = ("gcn", "gcn2", "gin")
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}
OPTIMIZERS = ("adam", "sgd")


def require_torch_geometric() -> Any:
    """``torch_geometric.nn``, or an ``ImportError`` that says how to install it."""
    try:
        with warnings.catch_warnings():  # its import calls torch.jit.script, deprecated
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            import torch_geometric.nn as geometric
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Graph networks need torch_geometric: pip install 'relreps[graphs]' "
            f"(or pip install torch_geometric). ({error})"
        ) from None
    return geometric


@dataclass(frozen=True)
class GNNConfig:
    """Everything that defines a node classifier's architecture (saved beside the weights).

    ``activation`` follows the input layer, ``conv_activation`` every graph convolution (the
    paper's sweep varies both). ``n_anchors`` anchor nodes feed a relative head; with
    ``center="anchors"`` the latents are centred on the anchors' mean before the cosine (after
    a ReLU every latent lies in one orthant, the cosines all sit near 1 and the paper's head
    learns slowly; centring spreads them).
    """

    n_features: int
    n_classes: int
    layer: str = "gcn2"
    n_layers: int = 32
    hidden: int = 300
    dropout: float = 0.5
    activation: str = "relu"
    conv_activation: str = "relu"
    relative: bool = True
    n_anchors: int = 300
    center: str | None = None
    alpha: float = 0.1
    theta: float = 0.5

    def __post_init__(self) -> None:
        for name in ("n_features", "n_layers", "hidden", "n_anchors"):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.n_classes, "n_classes", minimum=2)
        check_choice(self.layer, "layer", LAYERS)
        check_choice(self.activation, "activation", ACTIVATIONS)
        check_choice(self.conv_activation, "conv_activation", ACTIVATIONS)
        check_choice(self.center, "center", (None, "anchors"))
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}.")

    @property
    def name(self) -> str:
        kind = "relative" if self.relative else "absolute"
        return f"{kind} {self.layer.upper()}-{self.n_layers}x{self.hidden}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class NodeClassifier(nn.Module):
    """The node classifier of :class:`GNNConfig`; ``forward(x, edge_index)`` gives the logits of
    every node.

    A relative classifier needs ``anchor_rows``: the anchor nodes (an
    :class:`~relreps.anchors.Anchors` or integer indices), stored with the weights.

    Attributes
    ----------
    record
        What training recorded (see :func:`train_node_classifier`), saved with the model.
    """

    def __init__(self, config: GNNConfig, anchor_rows: Any = None) -> None:
        super().__init__()
        geometric = require_torch_geometric()
        self.config = config
        h = config.hidden
        self.input = nn.Linear(config.n_features, h)
        self.act = ACTIVATIONS[config.activation]()
        self.conv_act = ACTIVATIONS[config.conv_activation]()
        convs: list[nn.Module] = []
        for depth in range(config.n_layers):
            if config.layer == "gcn2":
                conv = geometric.GCN2Conv(
                    h, config.alpha, config.theta, layer=depth + 1, shared_weights=True
                )
            elif config.layer == "gin":
                conv = geometric.GINConv(nn.Sequential(nn.Linear(h, h), nn.ReLU(), nn.Linear(h, h)))
            else:
                conv = geometric.GCNConv(h, h)
            convs.append(conv)
        self.convs = nn.ModuleList(convs)
        if config.relative:
            if anchor_rows is None:
                raise ValueError("A relative node classifier needs anchor_rows (the anchor nodes).")
            self.projection = RelativeProjection(
                config.n_anchors, center=config.center, anchors=anchor_rows
            )
            if self.projection.anchor_rows is None:
                raise ValueError("anchor_rows must be node indices (integers) or an Anchors.")
            head_input = config.n_anchors
        else:
            self.projection = None
            head_input = h
        self.head = nn.Linear(head_input, config.n_classes)
        self.record: dict[str, Any] = {}

    def embed(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Every node's latent ``(n_nodes, hidden)``: the absolute representation.

        ``x`` may be dense or a sparse CSR tensor (:func:`sparse_features`); bag-of-words
        features such as Cora's are 99% zeros, and the sparse product is 20x faster."""
        c = self.config
        x = _sparse_if_mostly_zero(x)
        if x.layout == torch.sparse_csr:
            values = F.dropout(x.values(), c.dropout, self.training)
            dropped = torch.sparse_csr_tensor(
                x.crow_indices(), x.col_indices(), values, x.shape, check_invariants=False
            )
            x = torch.sparse.mm(dropped, self.input.weight.T) + self.input.bias
        else:
            x = self.input(F.dropout(x, c.dropout, self.training))
        x = first = self.act(x)
        for conv in self.convs:
            x = F.dropout(x, c.dropout, self.training)
            x = conv(x, first, edge_index) if c.layer == "gcn2" else conv(x, edge_index)
            x = self.conv_act(x)
        return F.dropout(x, c.dropout, self.training)

    def represent(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """What the head reads: the L2-normalised relative representation ``(n_nodes,
        n_anchors)`` (cosine to the anchor nodes), or the L2-normalised latent when absolute."""
        latent = self.embed(x, edge_index)
        if self.projection is not None:
            latent = self.projection(latent)
        return F.normalize(latent, dim=-1)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.head(self.represent(x, edge_index))


def sparse_features(x: torch.Tensor) -> torch.Tensor:
    """``x`` as a sparse CSR tensor when at most a quarter of it is non-zero (else ``x``):
    convert node features once before many forward passes."""
    return _sparse_if_mostly_zero(x)


def _sparse_if_mostly_zero(x: torch.Tensor) -> torch.Tensor:
    if x.layout != torch.strided or x.ndim != 2 or x.requires_grad:
        return x
    if int(torch.count_nonzero(x)) > x.numel() // 4:
        return x
    with warnings.catch_warnings():  # torch calls its CSR support "beta" once per process
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        return x.to_sparse_csr()


def train_node_classifier(
    config: GNNConfig,
    x: torch.Tensor,
    edge_index: torch.Tensor,
    y: torch.Tensor,
    masks: dict[str, torch.Tensor],
    *,
    anchor_rows: Any = None,
    seed: int = 0,
    epochs: int = 500,
    optimizer: str = "adam",
    lr: float = 0.02,
    reference: torch.Tensor | None = None,
    progress: bool = False,
    description: str = "",
) -> tuple[NodeClassifier, dict[str, Any]]:
    """Train full-batch on the ``masks["train"]`` nodes; keep the epoch with the best accuracy on
    ``masks["val"]`` (the earliest on ties), as the paper does.

    Initialisation and dropout derive from ``seed`` (the caller's random state is untouched).
    Returns the model at its best epoch, in eval mode, and its record (also ``model.record``):
    ``loss``, ``train_accuracy`` and ``val_accuracy`` per epoch, ``best_epoch`` (1-based; 0 when
    no epoch finished), ``best_val_accuracy`` and ``diverged`` (the loss or the outputs became
    NaN or infinite: training stops there). With ``reference`` (another model's
    :meth:`NodeClassifier.represent` of these nodes) the record also holds
    ``reference_similarity``: the mean cosine of every node's representation to the
    reference's, per epoch.
    """
    from tqdm.auto import tqdm

    from relreps.measures import mean_cosine
    from relreps.models.training import seeded

    check_int(epochs, "epochs", minimum=1)
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}.")
    n = x.shape[0]
    if y.shape != (n,) or any(m.shape != (n,) for m in masks.values()):
        raise ValueError(f"y and every mask need one entry per node ({n}).")
    train, val = masks["train"], masks["val"]
    if not train.any() or not val.any():
        raise ValueError("Both the train and the val mask need at least one node.")
    record: dict[str, Any] = {"loss": [], "train_accuracy": [], "val_accuracy": []}
    if reference is not None:
        record["reference_similarity"] = []
    best, diverged = -1.0, False
    x = sparse_features(x)
    with seeded(seed):
        model = NodeClassifier(config, anchor_rows if config.relative else None)
        best_state = copy.deepcopy(model.state_dict())  # kept if no epoch finishes
        make = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
        step = make(model.parameters(), lr=lr)
        bar = tqdm(
            range(epochs), desc=description or config.name, disable=None if progress else True,
            leave=False, unit="epoch",
        )  # fmt: skip
        for _ in bar:
            model.train()
            loss = F.cross_entropy(model(x, edge_index)[train], y[train])
            if not torch.isfinite(loss).item():
                diverged = True
                break
            step.zero_grad(set_to_none=True)
            loss.backward()
            step.step()
            model.eval()
            with torch.no_grad():
                represented = model.represent(x, edge_index)
                logits = model.head(represented)
            if not torch.isfinite(logits).all():
                diverged = True
                break
            predicted = logits.argmax(dim=1)
            accuracy = {
                name: float((predicted[mask] == y[mask]).float().mean())
                for name, mask in (("train", train), ("val", val))
            }
            record["loss"].append(loss.item())
            record["train_accuracy"].append(accuracy["train"])
            record["val_accuracy"].append(accuracy["val"])
            if reference is not None:
                record["reference_similarity"].append(mean_cosine(represented, reference))
            if accuracy["val"] > best:
                best, best_state = accuracy["val"], copy.deepcopy(model.state_dict())
            bar.set_postfix(loss=f"{loss.item():.4g}", val=f"{accuracy['val']:.3f}", refresh=False)
    model.load_state_dict(best_state)
    accuracies = record["val_accuracy"]
    record.update(
        best_epoch=int(np.argmax(accuracies)) + 1 if accuracies else 0,
        best_val_accuracy=max(accuracies) if accuracies else None,
        diverged=diverged,
        seed=seed,
        epochs=epochs,
        optimizer=optimizer,
        lr=lr,
    )
    model.record = record
    return model.eval(), record


def save_node_classifier(model: NodeClassifier, path, metadata: dict | None = None) -> None:
    """Weights (safetensors, the anchor rows included) and config plus the training record and
    ``metadata`` (JSON beside them), atomically."""
    from relreps.io import save_tensors

    state = {k: v for k, v in model.state_dict().items() if v is not None}
    extra = {"config": model.config.to_dict(), "record": model.record, **(metadata or {})}
    save_tensors(path, state, extra)


def load_node_classifier(path) -> tuple[NodeClassifier, dict]:
    """Inverse of :func:`save_node_classifier`; ``ValueError`` when the files do not match."""
    from relreps.io import load_tensors

    state, metadata = load_tensors(path)
    try:
        config = GNNConfig(**metadata["config"])
        model = NodeClassifier(config, anchor_rows=state.get("projection.anchor_rows"))
        model.load_state_dict(state)
        model.record = dict(metadata.get("record") or {})
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        raise ValueError(f"{path} does not hold a relreps node classifier ({error}).") from None
    return model.eval(), metadata
