"""Planetoid citation graphs (Cora, CiteSeer, PubMed) from their raw ``ind.<name>.*`` files.

The files are the original Planetoid release, the layout torch_geometric keeps in
``<root>/<Name>/raw/``. They are Python pickles (SciPy sparse matrices, NumPy arrays and a dict of
lists), so they are read with a restricted unpickler that admits only those types: a file that
asks for anything else is refused, never executed (``torch_geometric.io.read_planetoid_data``
calls ``pickle.load`` on them unrestricted). The graph that comes out is node-for-node and
edge-for-edge the one ``read_planetoid_data`` builds (tested), without needing torch_geometric.

Where the files come from, in order: the ``folder`` given; ``$RELREPS_PLANETOID``;
``<cache_dir>/planetoid``; a ``shared/data/planetoid`` folder in or beside the working folder or
beside the source checkout (this project's development machines). With none of them the error
says how to get the files.

>>> graph = load_planetoid("cora")
>>> graph.x.shape, graph.num_classes, graph.edge_index.shape
(torch.Size([2708, 1433]), 7, torch.Size([2, 10556]))
"""

from __future__ import annotations

import functools
import io
import os
import pickle
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from relreps._checks import check_choice, check_int

if TYPE_CHECKING:
    from relreps.anchors import Anchors

__all__ = [
    "PLANETOID",
    "Graph",
    "find_planetoid_folder",
    "load_planetoid",
    "random_node_split",
    "read_planetoid_file",
]

#: The Planetoid graphs this loader knows: file prefix -> display name.
PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
_HOW_TO_GET = (
    "Get the eight raw files ind.{name}.{{x,tx,allx,y,ty,ally,graph,test.index}} from the "
    "Planetoid release (github.com/kimiyoung/planetoid, folder data/) or from an earlier "
    "torch_geometric download (<root>/{Name}/raw/), and pass their folder (--graph-dir, or "
    "load_planetoid(name, folder)) or set RELREPS_PLANETOID."
)


@dataclass(frozen=True, eq=False)
class Graph:
    """One graph for node classification.

    Attributes
    ----------
    name
        Display name ("Cora").
    x
        Node features, ``float32 (n_nodes, n_features)``.
    y
        Node labels, ``int64 (n_nodes,)``.
    edge_index
        Directed edges ``int64 (2, n_edges)`` (source row, target row; both directions of an
        undirected edge are listed).
    masks
        Boolean node masks by split name (``train``, ``val``, ``test``).
    class_names
        One name per class.
    source
        The folder the files were read from.
    sha256
        Hash of the raw files' bytes.
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    edge_index: torch.Tensor
    masks: dict[str, torch.Tensor]
    class_names: tuple[str, ...]
    source: str
    sha256: str
    notes: list[str] = field(default_factory=list)

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def nodes(self, split: str) -> np.ndarray:
        """The node indices of ``split`` (ascending)."""
        if split not in self.masks:
            raise ValueError(f"{self.name} has no {split!r} split; it has {sorted(self.masks)}.")
        return self.masks[split].nonzero().flatten().numpy()

    def with_split(self, masks: dict[str, torch.Tensor], note: str) -> Graph:
        """The same graph with other split masks (``note`` says how they were made)."""
        return replace(self, masks=masks, notes=[*self.notes, note])

    def anchor_nodes(self, n_anchors: int, *, seed: int = 0, split: str = "train") -> Anchors:
        """``n_anchors`` nodes drawn uniformly (with ``seed``) from ``split``, as an
        :class:`~relreps.anchors.Anchors` whose indices are node numbers (the paper's 300 random
        training nodes)."""
        from relreps.anchors import Anchors, select_anchors

        pool = self.nodes(split)
        if not 1 <= n_anchors <= len(pool):
            raise ValueError(
                f"n_anchors must be between 1 and the {len(pool)} {split} nodes of {self.name}, "
                f"got {n_anchors}."
            )
        chosen = select_anchors(None, n_anchors, n_samples=len(pool), seed=seed)
        return Anchors(
            indices=pool[chosen.indices],
            strategy="random",
            seed=seed,
            n_samples=self.num_nodes,
            labels=self.y[pool[chosen.indices]].numpy(),
            source=f"{self.name} nodes, drawn among its {len(pool)} {split} nodes",
            options={"split": split},
        )

    def normalized(self) -> Graph:
        """Features scaled to sum to 1 per node (torch_geometric's ``NormalizeFeatures``, which
        the paper's code applies); all-zero rows stay zero."""
        total = self.x.sum(dim=1, keepdim=True)
        x = self.x / torch.where(total == 0, torch.ones_like(total), total)
        return replace(self, x=x, notes=[*self.notes, "features normalised to sum 1 per node"])


def random_node_split(
    n_nodes: int, *, val: float = 0.1, test: float = 0.0, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Masks of a random split: ``round(val * n)`` validation nodes, ``round(test * n)`` test
    nodes and every other node for training (torch_geometric's ``RandomNodeSplit(split=
    "train_rest")``, as the paper's graph code uses with ``val=0.1, test=0``). Drawn from a
    NumPy generator seeded by ``seed``: the same seed gives the same split."""
    check_int(n_nodes, "n_nodes", minimum=1)
    for name, fraction in (("val", val), ("test", test)):
        if not 0 <= fraction < 1:
            raise ValueError(f"{name} must be a fraction in [0, 1), got {fraction!r}.")
    n_val, n_test = round(val * n_nodes), round(test * n_nodes)
    if n_val + n_test >= n_nodes:
        raise ValueError(
            f"val={val} and test={test} leave no training nodes out of {n_nodes}; lower them."
        )
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n_nodes))
    masks = {}
    for name, rows in (
        ("val", order[:n_val]),
        ("test", order[n_val : n_val + n_test]),
        ("train", order[n_val + n_test :]),
    ):
        mask = torch.zeros(n_nodes, dtype=torch.bool)
        mask[rows] = True
        masks[name] = mask
    return {name: masks[name] for name in ("train", "val", "test")}


# --- files -------------------------------------------------------------------------------------


@functools.cache
def _allowed() -> dict[tuple[str, str], object]:
    import scipy.sparse

    try:  # NumPy >= 2 keeps the pickle helper under numpy._core
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    allowed: dict[tuple[str, str], object] = {
        ("collections", "defaultdict"): defaultdict,
        ("__builtin__", "list"): list,
        ("builtins", "list"): list,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = _reconstruct
    for module in ("scipy.sparse.csr", "scipy.sparse._csr", "scipy.sparse"):
        allowed[(module, "csr_matrix")] = scipy.sparse.csr_matrix
    return allowed


class _PlanetoidUnpickler(pickle.Unpickler):
    """Admits the types the Planetoid files hold and nothing else."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _allowed()[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"it asks for {module}.{name}, which a Planetoid file never holds"
            ) from None


def read_planetoid_file(path: str | os.PathLike[str]) -> object:
    """One pickled Planetoid file (a SciPy CSR matrix, a NumPy array or the adjacency dict),
    read with the restricted unpickler; ``ValueError`` naming the file when it is not one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"Cannot read {path} ({error.strerror}).") from None
    try:
        return _PlanetoidUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as error:  # any unpickling failure: truncated, foreign, refused
        raise ValueError(
            f"{path} is not a Planetoid file ({type(error).__name__}: {error}); restore it from "
            "the Planetoid release or delete it and fetch the files again."
        ) from None


def _candidates(cache_dir: str | os.PathLike[str] | None) -> list[Path]:
    places = []
    if os.environ.get("RELREPS_PLANETOID"):
        places.append(Path(os.environ["RELREPS_PLANETOID"]))
    if cache_dir is not None:
        places.append(Path(cache_dir) / "planetoid")
    places += [Path("shared/data/planetoid"), Path("../shared/data/planetoid")]
    checkout = Path(__file__).resolve().parents[4] / "shared" / "data" / "planetoid"
    if checkout.resolve() not in {p.resolve() for p in places}:
        places.append(checkout)  # a development checkout beside the project's shared folder
    return places


def _holding(folder: Path, name: str) -> Path | None:
    """``folder`` itself, its ``raw/`` or its ``<Name>/raw/``: whichever holds ``ind.name.x``."""
    for place in (folder, folder / "raw", folder / PLANETOID[name] / "raw"):
        if (place / f"ind.{name}.x").is_file():
            return place
    return None


def find_planetoid_folder(
    name: str,
    folder: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The folder holding ``ind.<name>.*`` (see the module's search order); ``FileNotFoundError``
    saying where it looked and how to get the files."""
    name = check_choice(name.lower(), "graph", PLANETOID)
    places = [Path(folder)] if folder is not None else _candidates(cache_dir)
    for place in places:
        found = _holding(place, name)
        if found is not None:
            return found
    raise FileNotFoundError(
        f"No {PLANETOID[name]} files (ind.{name}.x ...) in "
        + ", ".join(str(p) for p in places)
        + ". "
        + _HOW_TO_GET.format(name=name, Name=PLANETOID[name])
    )


def load_planetoid(
    name: str,
    folder: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    normalize: bool = True,
) -> Graph:
    """The Planetoid graph ``name`` ("cora", "citeseer", "pubmed") with its public split (140
    training nodes on Cora, 500 validation, 1,000 test).

    ``normalize`` scales every node's features to sum 1 (the paper's ``NormalizeFeatures``).
    For the paper's random split use :meth:`Graph.with_split` with :func:`random_node_split`.
    A missing, truncated or foreign file is a ``ValueError`` naming it.
    """
    from relreps.io import sha256_files

    key = check_choice(name.lower(), "graph", PLANETOID)
    where = find_planetoid_folder(key, folder, cache_dir=cache_dir)
    paths = {part: where / f"ind.{key}.{part}" for part in _PARTS}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise ValueError(
            f"{where} lacks {', '.join(missing)}. "
            + _HOW_TO_GET.format(name=key, Name=PLANETOID[key])
        )
    pickled = ("x", "tx", "allx", "y", "ty", "ally")
    parts = {part: read_planetoid_file(paths[part]) for part in pickled}
    graph = read_planetoid_file(paths["graph"])
    test_index = _read_index(paths["test.index"])
    dense = {part: _dense(value, paths[part]) for part, value in parts.items()}
    x, y, edge_index, masks = _assemble(key, dense, graph, test_index, paths["graph"])
    result = Graph(
        name=PLANETOID[key],
        x=x,
        y=y,
        edge_index=edge_index,
        masks=masks,
        class_names=tuple(f"class {c}" for c in range(dense["y"].shape[1])),
        source=str(where),
        sha256=sha256_files(sorted(paths.values())),
        notes=["the Planetoid public split"],
    )
    return result.normalized() if normalize else result


def _read_index(path: Path) -> torch.Tensor:
    try:
        values = [int(line) for line in path.read_text().split()]
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path} is not a list of node numbers ({error}).") from None
    if not values:
        raise ValueError(f"{path} is empty: it should list the test nodes.")
    return torch.tensor(values, dtype=torch.long)


def _dense(value: object, path: Path) -> torch.Tensor:
    array = value.toarray() if hasattr(value, "toarray") else value
    if not isinstance(array, np.ndarray) or array.ndim != 2:
        raise ValueError(f"{path} should hold a 2-D matrix, found {type(value).__name__}.")
    return torch.from_numpy(np.asarray(array, dtype=np.float32))


def _assemble(
    name: str, parts: dict[str, torch.Tensor], graph: object, test_index: torch.Tensor, where: Path
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    tx, ty, allx, ally = parts["tx"], parts["ty"], parts["allx"], parts["ally"]
    n_train = parts["y"].shape[0]
    ordered = test_index.sort().values
    if name == "citeseer":
        # Some CiteSeer test nodes are isolated and absent from tx/ty: zero rows keep the
        # numbering (as torch_geometric does; those nodes get class 0).
        span = int(test_index.max() - test_index.min()) + 1
        tx_full, ty_full = tx.new_zeros(span, tx.shape[1]), ty.new_zeros(span, ty.shape[1])
        tx_full[ordered - test_index.min()] = tx
        ty_full[ordered - test_index.min()] = ty
        tx, ty = tx_full, ty_full
    if tx.shape[0] != len(test_index) and name != "citeseer":
        raise ValueError(f"{where.parent}: {len(test_index)} test nodes but tx has {tx.shape[0]}.")
    x = torch.cat([allx, tx])
    x[test_index] = x[ordered]
    y = torch.cat([ally, ty]).argmax(dim=1)
    y[test_index] = y[ordered]
    n = x.shape[0]
    if not isinstance(graph, dict) or len(graph) > n or int(test_index.max()) >= n:
        raise ValueError(f"{where} does not describe the {n} nodes of the feature files.")
    edge_index = _edges(graph, n, where)
    masks = {}
    for split, rows in (
        ("train", torch.arange(n_train)),
        ("val", torch.arange(n_train, n_train + 500)),
        ("test", test_index),
    ):
        mask = torch.zeros(n, dtype=torch.bool)
        mask[rows] = True
        masks[split] = mask
    return x, y, edge_index, masks


def _edges(graph: dict, n: int, where: Path) -> torch.Tensor:
    """Edges of the adjacency dict without self loops or duplicates, ordered by (target,
    source): torch_geometric's ``edge_index_from_dict``."""
    try:
        rows = [int(key) for key, values in graph.items() for _ in values]
        cols = [int(value) for values in graph.values() for value in values]
    except (TypeError, ValueError):
        raise ValueError(f"{where} should map each node to a list of its neighbours.") from None
    edges = torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1)
    if edges.numel() and (int(edges.min()) < 0 or int(edges.max()) >= n):
        raise ValueError(f"{where} names nodes outside 0..{n - 1}.")
    edges = edges[:, edges[0] != edges[1]]
    key = torch.unique(edges[1] * n + edges[0])  # sorted by target, then source
    return torch.stack([key % n, key // n])
