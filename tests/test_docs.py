"""README examples and command output stay true."""

from __future__ import annotations

import re
from pathlib import Path

from relreps.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_python_examples_run():
    blocks = python_blocks()
    assert blocks, "README lost its example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


def test_readme_invariance_table_is_the_command_output(capsys):
    assert main(["similarities"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    readme = README.read_text()
    for line in table:
        if "test_" not in line:  # similarities registered by other tests
            assert line in readme, f"README invariance table is stale: {line}"
