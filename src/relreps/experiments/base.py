"""One shape for every experiment: settings declared once, a Run that provides, a Result.

An experiment module defines

- ``NAME`` (its summary is registered in :mod:`relreps.experiments`);
- ``Settings``, a frozen dataclass derived from :class:`Settings` whose fields are
  :func:`option` s: each declares its full-run value, its quick-run value, its minimum and its
  help once, and the command line, the validation and the JSON in ``metrics.json`` all derive from
  that declaration;
- ``run(run: Run) -> Result``: the experiment's own decisions, composed from the library.

The :class:`Run` gives the experiment its log, output folder, embedding cache, model store,
figures, facts and the record of every anchor set it used; the registry
(:mod:`relreps.experiments`) writes ``report.md`` and ``metrics.json`` from the :class:`Result`.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shlex
import time
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from relreps._checks import check_int

__all__ = ["Result", "Run", "Settings", "arguments_for", "command_line", "option"]

_MISSING = object()


def option(
    full: Any,
    *,
    quick: Any = _MISSING,
    minimum: int | float | None = None,
    above: float | None = None,
    why: str = "",
    choices: Sequence[Any] | None = None,
    help: str = "",
    flag: str | None = None,
    metavar: str | None = None,
    shown: str | None = None,
) -> Any:
    """A setting of an experiment: a dataclass field with everything the command line needs.

    Parameters
    ----------
    full
        The value of a full run (lists become tuples).
    quick
        The value of a ``--quick`` run, when it differs.
    minimum
        The smallest allowed value (numbers); ``why`` explains it in the error.
    above
        A bound the value must exceed (a learning rate above 0).
    choices
        The allowed values (for a tuple setting: of each element).
    help
        One line for ``--help``; the defaults are appended.
    flag
        The command-line flag when it is not ``--`` + the name with dashes (a setting whose
        flag is repeated, like ``--space A --space B``, gives a tuple).
    shown
        How ``--help`` shows a ``None`` default ("all", "$RELREPS_CACHE"). A boolean whose full
        value is ``True`` gets a ``--no-NAME`` flag, and ``help`` says what that flag does.
    """
    full = tuple(full) if isinstance(full, list) else full
    quick = tuple(quick) if isinstance(quick, list) else quick
    metadata = {
        "quick": quick,
        "minimum": minimum,
        "above": above,
        "why": why,
        "choices": None if choices is None else tuple(choices),
        "help": help,
        "flag": flag,
        "metavar": metavar,
        "shown": shown,
    }
    return field(default=full, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """The options every experiment has; experiments add their own :func:`option` fields.

    ``UNUSED`` names common options an experiment does not read: they are left off its command
    line and refused by :func:`relreps.experiments.run`.
    """

    UNUSED: ClassVar[frozenset[str]] = frozenset()

    quick: bool = option(False, help="the quick variant: small slices, minutes on 2 cores")
    out: Path | None = option(None, shown="results/NAME", help="output folder")
    cache_dir: Path | None = option(
        None, shown="$RELREPS_CACHE or ~/.cache/relreps", help="embeddings, data, word vectors"
    )
    device: str = option("cpu", help="torch device for torch models")
    progress: bool = option(True, help="hide the progress bars")
    figures: bool = option(True, help="skip the figures")
    jobs: int | None = option(
        None,
        minimum=1,
        shown="one per CPU, at most 4",
        help="models trained at once, each in its own process (1: in this process)",
    )

    # --- derived from the declarations -------------------------------------------------------

    @classmethod
    def fields(cls) -> list[dataclasses.Field]:
        """The settings this experiment reads, in declaration order."""
        return [f for f in dataclasses.fields(cls) if f.name not in cls.UNUSED]

    @classmethod
    def create(cls, *, quick: bool = False, **overrides: Any) -> Settings:
        """Settings for a full run (or a quick one), with ``overrides`` (``None`` = default).

        Every value is validated here: a wrong type, a value below its minimum or outside its
        choices, or an unknown name is a ``ValueError`` naming the command-line flag.
        """
        known = {f.name: f for f in cls.fields()}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(
                f"Unknown setting(s) {unknown} for this experiment; valid ones are "
                f"{sorted(n for n in known if n != 'quick')}."
            )
        values = {}
        types_ = cls._types()
        for name, spec in known.items():
            given = overrides.get(name)
            if name == "quick":
                value = bool(quick)
            elif given is not None:
                value = _coerce(types_[name], given)
            elif quick and spec.metadata.get("quick", _MISSING) is not _MISSING:
                value = spec.metadata["quick"]
            else:
                value = spec.default
            values[name] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Check every value against its declaration; experiments extend this for relations
        between settings (call ``super().validate()``)."""
        if "device" not in self.UNUSED:
            _check_device(self.device)
        for spec in self.fields():
            value = getattr(self, spec.name)
            if value is None:
                continue
            flag = _flag(spec)
            minimum, choices = spec.metadata.get("minimum"), spec.metadata.get("choices")
            kind = _element_type(self._types()[spec.name]) or _base_type(self._types()[spec.name])
            for item in value if isinstance(value, tuple) else (value,):
                if minimum is not None and kind is int:
                    check_int(item, flag, minimum=int(minimum), why=spec.metadata.get("why", ""))
                elif minimum is not None and item < minimum:
                    raise ValueError(f"{flag} must be at least {minimum}, got {item!r}.")
                above = spec.metadata.get("above")
                if above is not None and not item > above:
                    raise ValueError(f"{flag} must be greater than {above}, got {item!r}.")
                if choices is not None and item not in choices:
                    raise ValueError(
                        f"{flag} must be one of {', '.join(map(str, choices))}; got {item!r}."
                    )

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON values (paths as text, tuples as lists)."""

        def plain(value: Any) -> Any:
            if isinstance(value, tuple):
                return [plain(item) for item in value]
            return str(value) if isinstance(value, Path) else value

        return {spec.name: plain(getattr(self, spec.name)) for spec in self.fields()}

    @classmethod
    def _types(cls) -> dict[str, Any]:
        return typing.get_type_hints(cls)

    # --- the command line --------------------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        """One argparse option per setting; unset options stay ``None`` (the default applies)."""
        types_ = cls._types()
        for spec in cls.fields():
            kind = types_[spec.name]
            base = _base_type(kind)
            flag = _flag(spec)
            help_text = _help(spec)
            if base is bool:
                if spec.default:
                    parser.add_argument(
                        "--no-" + spec.name.replace("_", "-"),
                        dest=spec.name,
                        action="store_const",
                        const=False,
                        help=help_text,
                    )
                else:
                    parser.add_argument(
                        flag, dest=spec.name, action="store_const", const=True, help=help_text
                    )
                continue
            options: dict[str, Any] = {"dest": spec.name, "default": None, "help": help_text}
            if spec.metadata.get("metavar"):
                options["metavar"] = spec.metadata["metavar"]
            element = _element_type(kind)
            if element is not None:
                if spec.metadata.get("flag"):
                    options["action"] = "append"
                else:
                    options["nargs"] = "+"
                options["type"] = element
            else:
                options["type"] = base
            if spec.metadata.get("choices") is not None and element is None:
                options["choices"] = spec.metadata["choices"]
            parser.add_argument(flag, **options)

    @classmethod
    def from_arguments(cls, namespace: Any) -> Settings:
        values = {spec.name: getattr(namespace, spec.name, None) for spec in cls.fields()}
        quick = bool(values.pop("quick"))
        return cls.create(quick=quick, **values)

    @classmethod
    def path_flags(cls) -> set[str]:
        """Flags whose values are folders or files (recorded relative to the working folder)."""
        types_ = cls._types()
        return {
            _flag(spec)
            for spec in cls.fields()
            if _base_type(types_[spec.name]) is Path
            or _element_type(types_[spec.name]) is Path
            or spec.metadata.get("metavar") == "PATH"
        }


def _check_device(device: str) -> None:
    """``--device`` names a torch device this machine has."""
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise ValueError(
            f"--device {device!r} is not a torch device (cpu, cuda, cuda:1, mps)."
        ) from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }.get(kind, True)
    if not available:
        raise ValueError(
            f"--device {device!r}: this machine has no {kind} device; use --device cpu."
        )


def _flag(spec: dataclasses.Field) -> str:
    return spec.metadata.get("flag") or "--" + spec.name.replace("_", "-")


def _help(spec: dataclasses.Field) -> str:
    text = spec.metadata.get("help", "")
    default = spec.default
    quick = spec.metadata.get("quick", _MISSING)
    show = lambda v: " ".join(map(str, v)) if isinstance(v, tuple) else v  # noqa: E731
    if isinstance(default, bool):
        return text
    shown = spec.metadata.get("shown")
    parts = [f"default {show(default) if default is not None else shown}"]
    if default is None and shown is None:
        parts = []
    if quick is not _MISSING:
        parts.append(f"quick {show(quick)}")
    return f"{text} ({'; '.join(parts)})" if parts else text


def _base_type(kind: Any) -> Any:
    """``int`` for ``int`` and ``int | None``; ``tuple`` for ``tuple[str, ...]``."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return _base_type(args[0])
    origin = typing.get_origin(kind)
    return origin if origin is not None else kind


def _element_type(kind: Any) -> Any:
    """The element type of a ``tuple[X, ...]`` setting, else ``None``."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        return _element_type(args[0])
    if typing.get_origin(kind) is tuple:
        return typing.get_args(kind)[0]
    return None


def _coerce(kind: Any, value: Any) -> Any:
    """A Python-given value in the setting's shape: lists as tuples, paths as ``Path``."""
    element = _element_type(kind)
    if element is not None:
        if isinstance(value, (str, os.PathLike)):
            value = (value,)
        value = tuple(Path(v) if element is Path else v for v in value)
    elif _base_type(kind) is Path and isinstance(value, (str, os.PathLike)):
        value = Path(value)
    return value


# --- a run -------------------------------------------------------------------------------------


class Run:
    """What an experiment gets to work with, and what it leaves for the report.

    Attributes
    ----------
    name
        The experiment's name.
    settings
        Its validated settings.
    out
        The output folder (``settings.out`` or ``results/NAME``), created.
    command
        The command that reproduces this run, as typed, folders relative to where it ran.
    facts
        Facts for the report and ``metrics.json`` (data hashes, encoder ids, cache use...); the
        experiment adds to it.
    anchor_sets
        Every anchor set used, by name (see :meth:`anchors`).
    figures
        The figure files written, in order.
    """

    def __init__(self, name: str, settings: Settings, command: str) -> None:
        self.name = name
        self.settings = settings
        self.command = command
        self.out = Path(settings.out) if settings.out is not None else Path("results") / name
        try:  # before any work: a bad output folder must not cost a trained model
            self.out.mkdir(parents=True, exist_ok=True)
            probe = self.out / ".relreps-write-check"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise ValueError(
                f"Cannot write into the output folder {self.out} ({error.strerror}): choose "
                "another one with --out."
            ) from None
        self.facts: dict[str, Any] = {}
        self.anchor_sets: dict[str, dict[str, Any]] = {}
        self.figures: list[str] = []
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._start = time.perf_counter()
        self.wall_seconds: float | None = None
        self._cache = None
        self._encoders: dict[tuple, Any] = {}
        self._said_no_matplotlib = False

    def log(self, message: str) -> None:
        """A line of progress, prefixed with the experiment's name."""
        print(f"[{self.name}] {message}", flush=True)

    @property
    def cache_dir(self) -> Path:
        from relreps.encoders import default_cache_dir

        return Path(self.settings.cache_dir or default_cache_dir())

    @property
    def cache(self) -> Any:
        """The embedding cache under ``cache_dir/embeddings``; its hits and misses go to the
        facts."""
        if self._cache is None:
            from relreps.cache import EmbeddingCache

            self._cache = EmbeddingCache(self.cache_dir / "embeddings")
        return self._cache

    def use_encoder(self, name: str, encoder: Any) -> Any:
        """Make :meth:`encoder` (and so :func:`~relreps.experiments.common.embed_all`) serve
        ``encoder`` under ``name``: an encoder built by the experiment itself (a model it
        trained)."""
        self._encoders[(name, ())] = encoder
        return encoder

    def encoder(self, name: str, **options: Any) -> Any:
        """The encoder called ``name`` (:func:`relreps.encoders.get_encoder`, with ``options``
        such as ``resolution=``), loaded once per run on the run's device."""
        key = (name, tuple(sorted(options.items())))
        if key not in self._encoders:
            from relreps.encoders import get_encoder

            self._encoders[key] = get_encoder(
                name, device=self.settings.device, cache_dir=self.cache_dir, **options
            )
        return self._encoders[key]

    def models(
        self,
        save: Callable[[Any, Path, dict[str, Any]], None],
        load: Callable[[Path], tuple[Any, dict[str, Any]]],
    ) -> Any:
        """A :class:`~relreps.models.store.ModelStore` under ``out/models``."""
        from relreps.models.store import ModelStore

        return ModelStore(
            self.out / "models",
            save=save,
            load=load,
            log=self.log,
            progress=self.settings.progress,
            jobs=getattr(self.settings, "jobs", None),
        )

    def anchors(self, name: str, anchors: Any, *, source: str | None = None) -> Any:
        """Record an anchor set (an :class:`~relreps.anchors.Anchors`) under ``name`` for
        ``metrics.json``: its indices, strategy, seed, options and source (which samples the
        indices point into: ``source``, else the one the anchors carry). Returns the anchors."""
        if name in self.anchor_sets:
            raise ValueError(f"An anchor set named {name!r} is already recorded in this run.")
        record = anchors.to_dict()
        record.pop("labels", None)
        record["source"] = source or record["source"]
        if not record["source"]:
            raise ValueError(f"Say where the anchor set {name!r} comes from: pass source=.")
        self.anchor_sets[name] = record
        return anchors

    def anchor_rows(self, name: str, draw: Callable[[], Any]) -> np.ndarray:
        """The indices of the anchor set ``name``: drawn with ``draw()`` (which returns an
        :class:`~relreps.anchors.Anchors` carrying its source) and recorded the first time a
        run asks for it, read back from the record after that (the same rows every time)."""
        if name not in self.anchor_sets:
            self.anchors(name, draw())
        return np.asarray(self.anchor_sets[name]["indices"])

    # --- figures -----------------------------------------------------------------------------

    @property
    def drawing(self) -> bool:
        """Whether figures are drawn: asked for, and matplotlib installed (said once if not)."""
        if not self.settings.figures:
            return False
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            if not self._said_no_matplotlib:
                self.log("matplotlib is not installed (pip install 'relreps[plot]'): no figures.")
                self._said_no_matplotlib = True
            return False
        return True

    def figure(self, **options: Any) -> Any:
        """A new matplotlib ``Figure`` (object API, no pyplot state, no backend switch)."""
        from matplotlib.figure import Figure

        return Figure(**options)

    def save_figure(self, figure: Any, name: str) -> str:
        """Write ``figure`` as ``out/name`` (PNG) atomically and list it in the report."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        from relreps.io import atomic_path

        FigureCanvasAgg(figure)
        with atomic_path(self.out / name) as temporary:
            figure.savefig(temporary, dpi=110, format="png")
        self.figures.append(name)
        return name

    # --- facts of the run --------------------------------------------------------------------

    def finish(self) -> None:
        self.wall_seconds = time.perf_counter() - self._start
        if self._cache is not None:
            self.facts["cache"] = {"hits": self._cache.hits, "misses": self._cache.misses}

    def run_facts(self) -> dict[str, Any]:
        """Command, time, versions and machine: what a reader needs to rerun and trust it."""
        import numpy
        import torch

        from relreps import __version__

        return {
            "experiment": self.name,
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


@dataclass(frozen=True)
class Result:
    """What an experiment found.

    Attributes
    ----------
    title
        The report's title.
    table
        The headline table (Markdown), printed at the end of the run.
    sections
        The report's sections, ``(heading, Markdown)`` in order.
    metrics
        The experiment's numbers for ``metrics.json`` (JSON values).
    """

    title: str
    table: str
    sections: tuple[tuple[str, str], ...]
    metrics: Mapping[str, Any] = field(default_factory=dict)


def command_line(name: str, arguments: Sequence[str], path_flags: set[str]) -> str:
    """``relreps reproduce NAME ARGS`` as typed, with absolute folders made relative to the
    working folder (a report must not carry the paths of the machine it ran on)."""
    cwd = os.getcwd()
    out: list[str] = []
    expecting_path = False
    for token in arguments:
        if expecting_path and not token.startswith("--"):
            token = _relative(token, cwd)
        elif "=" in token and token.split("=", 1)[0] in path_flags:
            flag, value = token.split("=", 1)
            token = f"{flag}={_relative(value, cwd)}"
        if token.startswith("--"):
            expecting_path = token in path_flags
        out.append(token)
    return shlex.join(["relreps", "reproduce", name, *out])


def _relative(value: str, cwd: str) -> str:
    return os.path.relpath(value, cwd) if os.path.isabs(value) else value


def arguments_for(
    settings_class: type[Settings], quick: bool, overrides: Mapping[str, Any]
) -> list[str]:
    """The command-line arguments equivalent to ``run(name, quick=..., **overrides)``."""
    specs = {spec.name: spec for spec in settings_class.fields()}
    types_ = settings_class._types()
    out = ["--quick"] if quick else []
    for name, value in overrides.items():
        if value is None or name not in specs:
            continue
        spec = specs[name]
        if _base_type(types_[name]) is bool:
            if value != spec.default:
                out.append(_flag(spec) if value else "--no-" + name.replace("_", "-"))
            continue
        values = value if isinstance(value, (list, tuple)) else (value,)
        if spec.metadata.get("flag"):
            for item in values:
                out += [_flag(spec), str(item)]
        else:
            out += [_flag(spec), *(str(item) for item in values)]
    return out
