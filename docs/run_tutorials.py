"""Execute the tutorials (docs/tutorials/*.py, jupytext percent scripts) as notebooks.

``python docs/run_tutorials.py [OUT]`` writes each executed notebook, outputs included, to
``OUT/NAME.ipynb`` (default ``build/tutorials``) at the tutorials' own sizes; ``--small`` uses the
slices of the test suite. ``tests/test_tutorials.py`` calls :func:`execute`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

TUTORIALS = sorted((Path(__file__).resolve().parent / "tutorials").glob("*.py"))
#: The test suite's slices: 30 texts per topic, 120,000 rows for the Dask tutorial.
SMALL = {"RELREPS_TUTORIAL_PER_TOPIC": "30", "RELREPS_TUTORIAL_ROWS": "120000"}


def execute(source: Path, cwd: Path, env: dict[str, str] | None = None, timeout: int = 900):
    """``source`` run in a fresh Jupyter kernel started in ``cwd`` with ``env`` added to this
    process's environment (which the kernel inherits); the executed notebook. A failing cell
    raises ``nbclient.exceptions.CellExecutionError`` with its traceback."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(source)
    env = env or {}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd)}})  # fmt: skip
        return client.execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="build/tutorials", type=Path)
    parser.add_argument("--small", action="store_true", help="the test suite's slices")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    env = {"HF_HUB_OFFLINE": "1", **(SMALL if args.small else {})}
    for source in TUTORIALS:
        start = time.perf_counter()
        notebook = execute(source, args.out, env)
        nbformat.write(notebook, args.out / f"{source.stem}.ipynb")
        seconds = time.perf_counter() - start
        print(f"{source.name}: {seconds:.0f} s -> {args.out / source.stem}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
