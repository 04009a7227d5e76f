"""A small, deterministic training loop shared by the experiments' models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from relreps._checks import check_int

__all__ = ["available_cpus", "map_in_processes", "plan_workers", "seeded", "train_model"]


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's CPU random state seeded by ``seed``, then restore the caller's.

    Layer initialisation, dropout and sampling inside draw from the forked state, so a model's
    weights derive from ``seed`` alone and nothing outside the block sees its draws.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def train_model(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    tensors: tuple[torch.Tensor, ...],
    *,
    epochs: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    description: str = "training",
) -> list[float]:
    """Train ``model`` with Adam on row-aligned ``tensors``, shuffled by ``seed``.

    ``loss_fn(model, batch)`` returns the scalar loss of a batch (a tuple with one slice of each
    tensor). Returns the mean loss of each epoch. The model is left in eval mode.
    """
    from tqdm.auto import tqdm

    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError(
            f"All tensors must have the same number of rows; got {[t.shape[0] for t in tensors]}."
        )
    check_int(epochs, "epochs", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[float] = []
    n_batches = (n + batch_size - 1) // batch_size
    # disable=None: bars on a terminal only, so logs and CI output stay readable.
    bar = tqdm(
        total=epochs * n_batches,
        desc=description,
        disable=None if progress else True,
        leave=False,
        unit="batch",
    )
    model.train()
    try:
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for start in range(0, n, batch_size):
                index = order[start : start + batch_size]
                loss = loss_fn(model, tuple(t[index] for t in tensors))
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"{description}: the loss became {loss.item()}; lower the learning rate."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(index)
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.4g}", refresh=False)
            history.append(total / n)
    finally:
        bar.close()
        model.eval()
    return history


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def plan_workers(jobs: int | None, n_tasks: int, *, max_auto: int = 4) -> tuple[int, int]:
    """``(processes, threads per process)`` for ``n_tasks`` independent trainings.

    Meant for machines where one process cannot keep every core busy with small models; on 2
    cores it gains little (``benchmarks/bench_parallel_training.py``: 1.00-1.10x). Float
    rounding, and so the trained weights, depend on the thread count. ``jobs=None`` picks
    ``min(cpus, max_auto, n_tasks)`` processes; ``jobs=1`` trains in this process with all its
    threads.
    """
    if jobs is not None:
        check_int(jobs, "jobs", minimum=1)
    cpus = available_cpus()
    processes = min(cpus, max_auto) if jobs is None else jobs
    processes = max(1, min(processes, n_tasks))
    return processes, max(1, cpus // processes)


def _set_threads(threads: int, initializer, initargs) -> None:
    import signal

    # Ctrl-C reaches the whole process group: the parent handles it and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)
    if initializer is not None:
        initializer(*initargs)


def _call_indexed(item: tuple[int, Callable, object]) -> tuple[int, object]:
    index, fn, task = item
    return index, fn(task)


def map_in_processes(
    fn: Callable,
    tasks: list,
    *,
    processes: int,
    threads: int = 1,
    initializer: Callable | None = None,
    initargs: tuple = (),
):
    """Run ``fn(task)`` for every task in ``processes`` fresh worker processes.

    Yields ``(index, result)`` as tasks finish (not in order). Workers are started with the
    ``spawn`` method (a forked process can hang in an OpenMP runtime its parent already started)
    and use ``threads`` torch threads each; ``initializer(*initargs)`` runs once per worker, e.g.
    to receive the training data once instead of with every task. ``fn``, the tasks and the
    initializer must be importable module-level objects. On an exception, Ctrl-C or an abandoned
    loop, the workers are terminated at once and the exception is raised here; tasks already
    finished keep whatever they wrote.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    pool = context.Pool(
        processes, initializer=_set_threads, initargs=(threads, initializer, initargs)
    )
    try:
        items = [(index, fn, task) for index, task in enumerate(tasks)]
        yield from pool.imap_unordered(_call_indexed, items)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
