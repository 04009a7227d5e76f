"""Trained models on disk: train each one once, load it ever after.

A :class:`ModelStore` holds models under a folder, each as safetensors + JSON, named by a
readable stem and a hash of its *key* (everything its weights depend on: architecture, config,
seed, data, training settings). :meth:`ModelStore.obtain` loads every model whose file exists
with the same key and trains the others, in this process or side by side in worker processes,
saving each one atomically as soon as it is trained: an interrupted run loses no finished model
and a rerun trains only what is missing. A corrupt file, or one trained under another key, is
retrained with a warning. Every model gets a ledger entry (trained now or loaded, and how long
its training took) for the report.

Examples
--------
>>> import tempfile, torch
>>> from relreps.io import load_tensors, save_tensors
>>> def train(job, context, progress):
...     return torch.nn.Linear(2, 1), [0.5]
>>> def save(model, path, metadata):
...     save_tensors(path, model.state_dict(), metadata)
>>> def load(path):
...     state, metadata = load_tensors(path)
...     model = torch.nn.Linear(2, 1)
...     model.load_state_dict(state)
...     return model, metadata
>>> store = ModelStore(tempfile.mkdtemp(), save=save, load=load, log=lambda message: None)
>>> job = ModelJob("linear-seed0", {"seed": 0}, label="linear")
>>> first = store.obtain([job], train)
>>> again = ModelStore(store.root, save=save, load=load, log=lambda message: None)
>>> second = again.obtain([job], train)
>>> [entry["trained_now"] for entry in store.ledger + again.ledger]
[True, False]
>>> torch.equal(first[0].weight, second[0].weight)
True
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ModelJob", "ModelStore"]

#: ``train(job, context, progress) -> (model, loss history)``: a module-level function (worker
#: processes import it by name).
Trainer = Callable[["ModelJob", Any, bool], tuple[Any, list[float]]]


@dataclass(frozen=True)
class ModelJob:
    """One model to obtain.

    Attributes
    ----------
    name
        Readable file stem, e.g. ``"rel-ae-seed0"``.
    key
        Everything the trained weights depend on (JSON-serialisable); a saved model is reused
        only when its recorded key is equal.
    label
        How the ledger and the log name it (``name`` when empty).
    seed
        The training seed, for the ledger.
    payload
        Whatever the trainer needs for this job (a config, a row count); picklable.
    """

    name: str
    key: dict[str, Any]
    label: str = ""
    seed: int = 0
    payload: Any = field(default=None, compare=False)


class ModelStore:
    """Train-or-load for a set of models under ``root``.

    Parameters
    ----------
    root
        Folder of the model files (created when the first model is saved).
    save
        ``save(model, path, metadata)``: write one model (safetensors + JSON) atomically.
    load
        ``load(path) -> (model, metadata)``; ``ValueError`` or ``FileNotFoundError`` for a file
        it cannot read. Both are module-level functions (worker processes import ``save``).
    log
        Where progress messages go.
    progress
        Progress bars while training.
    jobs
        Models trained at once, each in its own process; ``None`` picks one process per CPU (at
        most 4), ``1`` trains in this process (see :func:`relreps.models.training.plan_workers`).

    Attributes
    ----------
    ledger : list of dict
        One entry per model obtained, in job order: ``model`` (label), ``seed``, ``file``,
        ``trained_now`` and ``train_seconds``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        save: Callable[[Any, Path, dict[str, Any]], None],
        load: Callable[[Path], tuple[Any, dict[str, Any]]],
        log: Callable[[str], None] = print,
        progress: bool = True,
        jobs: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.save = save
        self.load = load
        self.log = log
        self.progress = progress
        self.jobs = jobs
        self.ledger: list[dict[str, Any]] = []

    def path(self, job: ModelJob) -> Path:
        """Where ``job``'s model lives: the readable stem plus a hash of its key."""
        from relreps.io import short_hash

        return self.root / f"{job.name}-{short_hash(job.key)}.safetensors"

    def load_finished(self, job: ModelJob) -> tuple[Any, dict[str, Any]] | None:
        """The model saved for ``job`` with the same key, or ``None`` (with a warning when a file
        exists but cannot be used)."""
        path = self.path(job)
        if not path.exists():
            return None
        try:
            model, metadata = self.load(path)
        except (ValueError, FileNotFoundError) as error:
            warnings.warn(f"{error} Retraining it.", stacklevel=3)
            return None
        if not isinstance(metadata, dict) or metadata.get("key") != _jsonable(job.key):
            warnings.warn(f"{path} was trained with other settings; retraining.", stacklevel=3)
            return None
        if not _finite(model):
            warnings.warn(f"{path} holds NaN or infinite weights; retraining.", stacklevel=3)
            return None
        return model, metadata

    def obtain(self, jobs: Sequence[ModelJob], train: Trainer, *, context: Any = None) -> list[Any]:
        """Every job's model, loaded when saved before, trained (and saved) otherwise.

        ``train(job, context, progress)`` builds and trains one model; ``context`` is what every
        training shares (the data), sent once to each worker process. Returns the models in job
        order and appends their ledger entries.
        """
        from relreps.models.training import map_in_processes, plan_workers

        models: list[Any] = [None] * len(jobs)
        entries: list[dict[str, Any] | None] = [None] * len(jobs)
        todo = []
        for index, job in enumerate(jobs):
            found = self.load_finished(job)
            if found is None:
                todo.append(index)
                continue
            models[index] = found[0]
            entries[index] = self._entry(job, False, found[1].get("train_seconds"))

        def finished(index: int, seconds: float, history: list[float]) -> None:
            job = jobs[index]
            self.log(
                f"trained {job.label or job.name} seed {job.seed} in {seconds:.0f}s "
                f"(final loss {history[-1]:.4g}) -> {self.path(job).name}"
            )
            entries[index] = self._entry(job, True, seconds)

        processes, threads = plan_workers(self.jobs, len(todo))
        if processes == 1:
            for index in todo:
                model, seconds, history = _train_and_save(
                    jobs[index], self.path(jobs[index]), train, self.save, context, self.progress
                )
                models[index] = model
                finished(index, seconds, history)
        elif todo:
            from tqdm.auto import tqdm

            self.log(f"training {len(todo)} models in {processes} processes x {threads} threads")
            bar = tqdm(
                total=len(todo),
                desc="models",
                unit="model",
                disable=None if self.progress else True,
            )
            try:
                results = map_in_processes(
                    _worker_train,
                    [(jobs[index], self.path(jobs[index])) for index in todo],
                    processes=processes,
                    threads=threads,
                    initializer=_worker_setup,
                    initargs=(train, self.save, context),
                )
                for position, (seconds, history) in results:
                    index = todo[position]
                    models[index] = self.load(self.path(jobs[index]))[0]
                    finished(index, seconds, history)
                    bar.update()
            finally:
                bar.close()
        self.ledger.extend(entries)  # type: ignore[arg-type]
        return models

    def _entry(self, job: ModelJob, trained_now: bool, seconds: Any) -> dict[str, Any]:
        return {
            "model": job.label or job.name,
            "seed": job.seed,
            "file": self.path(job).name,
            "trained_now": trained_now,
            "train_seconds": seconds,
        }


def _train_and_save(
    job: ModelJob, path: Path, train: Trainer, save: Callable, context: Any, progress: bool
) -> tuple[Any, float, list[float]]:
    start = time.perf_counter()
    model, history = train(job, context, progress)
    seconds = round(time.perf_counter() - start, 1)
    metadata = {"key": _jsonable(job.key), "loss_history": history, "train_seconds": seconds}
    save(model, path, metadata)
    return model, seconds, history


# What a training worker process receives once (see ``models.training.map_in_processes``).
_WORKER: dict[str, Any] = {}


def _worker_setup(train: Trainer, save: Callable, context: Any) -> None:
    _WORKER.update(train=train, save=save, context=context)


def _worker_train(task: tuple[ModelJob, Path]) -> tuple[float, list[float]]:
    job, path = task
    _, seconds, history = _train_and_save(
        job, path, _WORKER["train"], _WORKER["save"], _WORKER["context"], False
    )
    return seconds, history


def _finite(model: Any) -> bool:
    """Whether every floating-point tensor of a ``torch.nn.Module`` is finite (others: yes)."""
    import torch

    if not isinstance(model, torch.nn.Module):
        return True
    return all(
        bool(torch.isfinite(tensor).all())
        for tensor in model.state_dict().values()
        if tensor.is_floating_point()
    )


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples as lists, numpy values as plain ones)."""
    import json

    from relreps.io import json_default

    return json.loads(json.dumps(value, default=json_default))
