"""The public surface: what importing relreps costs, and that every exported name resolves."""

from __future__ import annotations

import json
import subprocess
import sys

import relreps

OPTIONAL = [
    "sklearn",
    "scipy",
    "matplotlib",
    "sentence_transformers",
    "transformers",
    "gensim",
    "torch_geometric",
    "dask",
    "faiss",
    "safetensors",
    "tqdm",
]


def test_import_loads_only_numpy_and_torch():
    # Whatever numpy and torch load themselves is not ours to judge; relreps must add none of these.
    code = (
        "import sys, json, numpy, torch; before = set(sys.modules); import relreps; "
        f"print(json.dumps([m for m in {OPTIONAL!r} if m in sys.modules and m not in before]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_exported_name_resolves():
    for name in relreps.__all__:
        assert getattr(relreps, name) is not None, name
    namespace: dict = {}
    exec("from relreps import *", namespace)
    assert set(relreps.__all__) <= set(namespace)


def test_unknown_attribute_is_an_attribute_error():
    try:
        relreps.does_not_exist
    except AttributeError as error:
        assert "does_not_exist" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_package_is_typed():
    from importlib.resources import files

    assert files("relreps").joinpath("py.typed").is_file()
