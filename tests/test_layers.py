"""The layout holds: arrows point down, no private imports across modules, ``__all__`` resolves.

Reads every module's imports with ``ast`` (imports inside functions included), so a lazy import
that breaks a layer is caught as well as a top-level one. The layers (``ARCHITECTURE.md``):

    app       cli, experiments, demo, __main__
    wrappers  nn, sklearn
    edges     io, cache, storage, blockwise, dask, encoders, datasets, models
    core      similarities, projection, anchors, neighbours, measures, stitching, invariances,
              statistics
    base      _backend, _checks, _registry
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "relreps"

BASE = {"_backend", "_checks", "_registry"}
CORE = {"similarities", "projection", "anchors", "neighbours", "measures", "stitching",
        "invariances", "translation", "statistics", "whitening", "sparse"}  # fmt: skip
WRAPPERS = {"nn", "sklearn"}
EDGES = {"io", "cache", "storage", "blockwise", "dask", "encoders", "datasets", "models"}
APP = {"cli", "compare", "experiments", "demo", "__main__"}


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package."""
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def layer(module: str) -> str:
    if module == "relreps":
        return "package"
    top = module.split(".")[1]
    for name, members in (("base", BASE), ("core", CORE), ("wrappers", WRAPPERS),
                          ("edges", EDGES), ("app", APP)):  # fmt: skip
        if top in members:
            return name
    raise AssertionError(f"{module} belongs to no layer: add it to test_layers.py")


def imports(path: Path, *, top_level_only: bool = False) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for every ``import``/``from ... import`` of a relreps module."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names if alias.name.startswith("relreps")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("relreps"):
            names = [alias.name for alias in node.names]
            # "from relreps.x import y" may import the submodule relreps.x.y
            out.append((node.module, names))
    return out


MODULES = modules()
ORDER = {"base": 0, "core": 1, "edges": 2, "wrappers": 3, "app": 4, "package": 5}


def test_every_module_has_a_layer():
    for name in MODULES:
        layer(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name):
    own = layer(name)
    for target, names in imports(MODULES[name]):
        targets = [target] + [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
        for module in targets:
            if module == "relreps" or module == name:
                continue
            other = layer(module)
            if own == "core":
                assert other in ("base", "core"), f"core module {name} imports {module} ({other})"
            elif own == "base":
                assert other == "base", f"base module {name} imports {module} ({other})"
            elif own in ("edges", "wrappers"):
                # models build on the nn wrapper (RelativeProjection): the one edge-to-wrapper
                # arrow; nothing below the app imports the app.
                assert other not in ("app", "package"), f"{name} imports {module} ({other})"
                if own == "wrappers":
                    assert other in ("base", "core", "edges", "wrappers"), f"{name} -> {module}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_names_from_other_modules(name):
    for target, names in imports(MODULES[name]):
        if target == name:
            continue
        private = [
            n
            for n in names
            if n.startswith("_") and not n.startswith("__") and f"{target}.{n}" not in MODULES
        ]
        assert not private, f"{name} imports private {private} from {target}"


def test_no_import_cycles_at_import_time():
    graph = {}
    for name, path in MODULES.items():
        edges = set()
        for target, names in imports(path, top_level_only=True):
            for module in [target] + [f"{target}.{n}" for n in names]:
                if module in MODULES and module != name:
                    edges.add(module)
        graph[name] = edges
    # a package imports its submodules; a submodule importing its package's names is normal
    visiting, done = set(), set()

    def visit(node, trail):
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join([*trail, node])
        visiting.add(node)
        for child in graph[node]:
            if child.startswith(node + ".") or node.startswith(child + "."):
                continue
            visit(child, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for name in graph:
        visit(name, [])


PUBLIC = sorted(
    name for name in MODULES if not any(part.startswith("_") for part in name.split("."))
)


@pytest.mark.parametrize("name", PUBLIC)
def test_public_modules_declare_all_and_every_name_resolves(name):
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    assert declared is not None, f"{name} has no __all__"
    assert len(set(declared)) == len(declared), f"{name}.__all__ repeats a name"
    for item in declared:
        assert getattr(module, item, None) is not None, f"{name}.__all__ names missing {item!r}"
