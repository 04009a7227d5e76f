"""What every experiment writes: a Markdown report, metrics.json, and the facts of the run."""

from __future__ import annotations

import os
import platform
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from relreps.io import write_json_atomic, write_text_atomic


@dataclass
class RunInfo:
    """The facts a reader needs to rerun and trust a result."""

    experiment: str
    command: str
    started: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    _start: float = field(default_factory=time.perf_counter, repr=False)
    wall_seconds: float | None = None

    def finish(self) -> None:
        self.wall_seconds = time.perf_counter() - self._start

    def to_dict(self) -> dict[str, Any]:
        import numpy
        import torch

        from relreps import __version__

        return {
            "experiment": self.experiment,
            "command": self.command,
            "started_utc": self.started,
            "wall_seconds": None if self.wall_seconds is None else round(self.wall_seconds, 1),
            "versions": {
                "relreps": __version__,
                "python": platform.python_version(),
                "torch": torch.__version__,
                "numpy": numpy.__version__,
            },
            "machine": {
                "platform": platform.platform(),
                "processor": platform.machine(),
                "cpu_count": os.cpu_count(),
                "torch_threads": torch.get_num_threads(),
            },
        }


def command_line(experiment: str, args: Sequence[str]) -> str:
    """The command as a user would type it: ``relreps reproduce NAME ARGS``."""
    return shlex.join(["relreps", "reproduce", experiment, *args])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def mean_std(mean: float, std: float, digits: int = 2) -> str:
    if mean != mean:  # NaN: not measured / not defined
        return "-"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def write_outputs(
    out_dir: str | os.PathLike[str],
    title: str,
    sections: Sequence[tuple[str, str]],
    metrics: dict[str, Any],
    info: RunInfo,
) -> Path:
    """Write ``report.md`` and ``metrics.json`` into ``out_dir`` atomically; return the report."""
    out_dir = Path(out_dir)
    facts = info.to_dict()
    body = [f"# {title}", ""]
    for heading, text in sections:
        body += [f"## {heading}", "", text.rstrip(), ""]
    body += [
        "## Run",
        "",
        f"- command: `{facts['command']}`",
        f"- started (UTC): {facts['started_utc']}; wall time: {facts['wall_seconds']} s",
        f"- versions: {', '.join(f'{k} {v}' for k, v in facts['versions'].items())}",
        f"- machine: {facts['machine']['platform']}, {facts['machine']['cpu_count']} CPUs, "
        f"torch threads {facts['machine']['torch_threads']}",
        "",
    ]
    report = out_dir / "report.md"
    write_text_atomic(report, "\n".join(body))
    write_json_atomic(out_dir / "metrics.json", {"run": facts, **metrics})
    return report


def check_positive(settings: Any, names: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the command-line option of the first non-positive setting."""
    for name in names:
        value = getattr(settings, name)
        if value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}.")


def pyplot(log: Any) -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or ``None`` (after saying so) when missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed (pip install 'relreps[plot]'); skipping figures.")
        return None
    return plt


def save_figure(figure: Any, path: str | os.PathLike[str]) -> str:
    """Write ``figure`` as a PNG atomically, close it, and return the file name."""
    import matplotlib.pyplot as plt

    from relreps.io import atomic_path

    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)
    return path.name
