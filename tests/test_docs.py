"""README's example, and the tables in the docs that mirror command output and code, stay true."""

from __future__ import annotations

import re
from pathlib import Path

from relreps.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SIMILARITIES = ROOT / "docs" / "similarities.md"
REFERENCE = ROOT / "docs" / "reference.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_python_examples_run():
    blocks = python_blocks()
    assert blocks, "README lost its example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


def test_invariance_table_is_the_command_output(capsys):
    assert main(["similarities"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    page = SIMILARITIES.read_text()
    for line in table:
        if "test_" not in line:  # similarities registered by other tests
            assert line in page, f"docs/similarities.md invariance table is stale: {line}"


def api_rows() -> dict[str, list[str]]:
    """The API table of docs/reference.md: module -> the names listed for it."""
    section = REFERENCE.read_text().split("## API", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| \w+ \| `([\w.]+)` \| (.*) \|$", section, flags=re.M)
    return {module: re.findall(r"`(\w+)`", names) for module, names in rows}


def test_api_table_is_every_public_modules_all():
    import importlib
    import pkgutil

    import relreps

    rows = api_rows()
    assert len(rows) > 20, "docs/reference.md lost its API table"
    for module, names in rows.items():
        assert names == list(importlib.import_module(module).__all__), f"API table: {module}"
    # every public module of the library layers is in the table (experiment implementations,
    # the command line and the demo are entry points, not API)
    skipped = ("relreps.cli", "relreps.demo", "relreps.datasets", "relreps.models")
    for info in pkgutil.walk_packages(relreps.__path__, "relreps."):
        name = info.name
        private = any(part.startswith("_") for part in name.split("."))
        experiment = name.startswith("relreps.experiments.") and name.rsplit(".", 1)[1] not in (
            "base",
            "common",
            "report",
            "paper",
        )
        if not (private or experiment or name in skipped):
            assert name in rows, f"{name} is missing from the API table"
