"""Shared pieces of the benchmarks: machine facts, median timing, peak memory in a fresh process,
and writing a section of ``docs/benchmarks.md`` between markers."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
HERE = Path(__file__).resolve().parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            total = int(handle.readline().split()[1]) * 1024
            memory = f", {total / 2**30:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs{memory}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )


def interleaved(methods: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median wall time of each method, the methods taking turns in every repetition (after one
    warm-up call each): this machine's speed drifts, and round-robin spreads it over all alike."""
    for fn in methods.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


PEAK_HELPERS = """
import json, sys
def _status(field):
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
def reset_peak():
    with open('/proc/self/clear_refs', 'w') as handle:
        handle.write('5')  # the peak (VmHWM) restarts from the current RSS
    return _status('VmRSS')
def peak():
    return _status('VmHWM')
"""


def run_python(code: str, timeout: float | None = None) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter (with :data:`PEAK_HELPERS` and ``benchmarks/`` on the
    path); it prints one JSON object on its last line, returned here (``{"error": ...}`` if it
    failed)."""
    program = f"import sys\nsys.path.insert(0, {str(HERE)!r})\n{PEAK_HELPERS}\n{code}"
    try:
        result = subprocess.run(
            [sys.executable, "-c", program],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit {result.returncode}"]
        return {"error": lines[-1][-200:]}  # the exception's own line, fit for a table cell
    return json.loads(result.stdout.strip().splitlines()[-1])


def command_line(script: str) -> str:
    """The command as typed, absolute paths made relative to the working folder."""
    args = [os.path.relpath(a) if os.path.isabs(a) else a for a in sys.argv[1:]]
    return " ".join([f"python benchmarks/{script}", *args])


def write_section(name: str, text: str, write: bool = True) -> None:
    """Print ``text`` and put it in docs/benchmarks.md between ``<!-- name:start/end -->``."""
    block = f"<!-- {name}:start -->\n{text.strip()}\n<!-- {name}:end -->"
    print(block)
    if not write:
        return
    DOCS.parent.mkdir(exist_ok=True)
    old = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"<!-- {name}:start -->.*<!-- {name}:end -->", re.S)
    new = (
        pattern.sub(lambda _: block, old)
        if pattern.search(old)
        else old.rstrip() + "\n\n" + block + "\n"
    )
    DOCS.write_text(new)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def dumps(data: Any) -> str:
    return json.dumps(data)
