"""Issue #23 defect 2 (the rest): a huge ``--epochs`` spun in ``run_cost()``, which walked every
planned iteration before training. The evaluations are now counted without walking them."""

from __future__ import annotations

import itertools
import time

from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import new_project
from qmlstudio.workflow.cost import estimate_cost, evaluation_count


def _walked(iterations: int, per_epoch: int, eval_every: int, early_stopping: bool) -> int:
    """The count as the old loop made it, iteration by iteration."""
    count = 0
    for i in range(1, iterations + 1):
        end_of_epoch = i % per_epoch == 0
        due = end_of_epoch if eval_every == 0 else i % max(1, eval_every) == 0
        count += due or i == iterations or (early_stopping and end_of_epoch)
    return count


def test_defect2_the_evaluation_count_equals_walking_the_iterations():
    for iterations, per_epoch, every, stopping in itertools.product(range(40), range(1, 7), range(8), (False, True)):
        assert evaluation_count(iterations, per_epoch, every, stopping) == _walked(iterations, per_epoch, every, stopping)


def test_defect2_a_run_of_a_trillion_epochs_is_priced_at_once():
    project = new_project(load_plugins(), name="huge", dataset="moons", epochs=1)
    started = time.perf_counter()
    cost = estimate_cost(project, load_plugins(), epochs=10**12)
    assert time.perf_counter() - started < 10
    assert cost["iterations"] == 10**12 * (cost["iterations"] // 10**12)
    assert cost["evaluations"] == 10**12  # once per epoch, the default cadence
