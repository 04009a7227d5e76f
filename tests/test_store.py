"""The model store: train once, load after; a changed key or a damaged file retrains with a
warning; worker processes give the models the parent loads."""

from __future__ import annotations

import warnings

import pytest
import torch

from relreps.io import load_tensors, save_tensors
from relreps.models.store import ModelJob, ModelStore


def train(job, context, progress):
    """A 'model' whose weights are a known function of its seed and the shared context."""
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(job.seed + context["offset"])
        model.bias.zero_()
    return model, [float(job.seed)]


def save(model, path, metadata):
    save_tensors(path, model.state_dict(), metadata)


def load(path):
    state, metadata = load_tensors(path)
    model = torch.nn.Linear(2, 1)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"{path} is not a Linear(2, 1): {error}") from None
    return model, metadata


def store(root, jobs=1):
    return ModelStore(root, save=save, load=load, log=lambda message: None, progress=False,
                      jobs=jobs)  # fmt: skip


JOBS = [ModelJob(f"linear-seed{seed}", {"seed": seed, "data": "x"}, seed=seed) for seed in (0, 1)]


def test_trains_once_then_loads(tmp_path):
    first = store(tmp_path).obtain(JOBS, train, context={"offset": 10})
    assert [float(m.weight[0, 0].detach()) for m in first] == [10.0, 11.0]
    again = store(tmp_path)
    second = again.obtain(JOBS, train, context={"offset": 99})  # would train other weights
    assert [float(m.weight[0, 0].detach()) for m in second] == [10.0, 11.0]
    assert [e["trained_now"] for e in again.ledger] == [False, False]
    assert [e["file"] for e in again.ledger] == [store(tmp_path).path(job).name for job in JOBS]


def test_other_key_or_damaged_file_retrains_with_a_warning(tmp_path):
    store(tmp_path).obtain(JOBS, train, context={"offset": 0})
    changed = [ModelJob("linear-seed0", {"seed": 0, "data": "y"}, seed=0)]  # another key
    fresh = store(tmp_path)
    fresh.obtain(changed, train, context={"offset": 0})
    assert fresh.ledger[0]["trained_now"]  # another key is another file: no warning needed
    store(tmp_path).path(JOBS[1]).write_bytes(b"not safetensors")
    damaged = store(tmp_path)
    with pytest.warns(UserWarning, match="Retraining it"):
        damaged.obtain(JOBS, train, context={"offset": 0})
    assert [e["trained_now"] for e in damaged.ledger] == [False, True]
    # a file whose recorded key differs (e.g. copied over) is retrained too
    path = store(tmp_path).path(JOBS[0])
    state, metadata = load_tensors(path)
    save_tensors(path, state, {**metadata, "key": {"seed": 5}})
    with pytest.warns(UserWarning, match="other settings"):
        store(tmp_path).obtain(JOBS[:1], train, context={"offset": 0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store(tmp_path).obtain(JOBS, train, context={"offset": 0})  # all repaired: clean loads


def test_worker_processes_give_the_same_models(tmp_path):
    here = store(tmp_path / "here", jobs=1).obtain(JOBS, train, context={"offset": 3})
    pool = store(tmp_path / "there", jobs=2)
    there = pool.obtain(JOBS, train, context={"offset": 3})
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(here, there, strict=True))
    assert [e["trained_now"] for e in pool.ledger] == [True, True]


def test_nan_weights_or_a_flipped_byte_retrain_with_a_warning(tmp_path):
    store(tmp_path).obtain(JOBS, train, context={"offset": 1})
    path = store(tmp_path).path(JOBS[0])
    state, metadata = load_tensors(path)
    state["weight"] = torch.full_like(state["weight"], float("nan"))
    save_tensors(path, state, metadata)  # a consistent file, with NaN weights
    with pytest.warns(UserWarning, match="NaN or infinite weights"):
        again = store(tmp_path)
        again.obtain(JOBS, train, context={"offset": 1})
    assert [e["trained_now"] for e in again.ledger] == [True, False]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a flipped bit in the weights, the header intact
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="checksum"):
        store(tmp_path).obtain(JOBS, train, context={"offset": 1})
