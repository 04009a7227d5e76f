"""Planning and running independent trainings in worker processes."""

from __future__ import annotations

import math
import operator

import pytest

from relreps.models.training import available_cpus, map_in_processes, plan_workers


def test_plan_workers_uses_the_cpus_without_oversubscribing():
    cpus = available_cpus()
    processes, threads = plan_workers(None, 100)
    assert 1 <= processes <= min(cpus, 4)
    assert processes * threads <= max(cpus, processes)
    assert plan_workers(None, 1) == (1, cpus)  # one task: one process with every thread
    assert plan_workers(1, 100) == (1, cpus)
    assert plan_workers(3, 2)[0] == 2  # never more processes than tasks
    assert plan_workers(None, 0)[0] == 1
    assert plan_workers(2, 10) == (2, max(1, cpus // 2))


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True, "2"])
def test_plan_workers_rejects_bad_jobs(jobs):
    with pytest.raises((ValueError, TypeError), match="jobs must be an integer of at least 1"):
        plan_workers(jobs, 4)


def test_map_in_processes_returns_every_result_by_index():
    tasks = list(range(7))
    results = dict(map_in_processes(operator.neg, tasks, processes=2))
    assert results == {i: -i for i in tasks}


def test_map_in_processes_raises_a_worker_error_here():
    with pytest.raises(ValueError, match="math domain error"):
        list(map_in_processes(math.sqrt, [4.0, -1.0, 9.0], processes=2))
