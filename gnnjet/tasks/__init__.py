"""The tasks a config's task.type names: output size, weighted loss, metrics and prediction columns.

A task is one module with a `Task` subclass and one line in `TASKS`; loss terms beside a task (DisCo) live in
`tasks/decorrelation.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gnnjet.nn.user import load_reference
from gnnjet.references import is_user_code
from gnnjet.tasks.base import LossFunction, Task
from gnnjet.tasks.classification import Classification
from gnnjet.tasks.node import NodeClassification, NodeRegression, NodeTask
from gnnjet.tasks.regression import Regression

TASKS: dict[str, type[Task]] = {"classification": Classification, "regression": Regression}
NODE_TASKS: dict[str, type[NodeTask]] = {"node_classification": NodeClassification,
                                         "node_regression": NodeRegression}


def build_task(task_section: dict[str, Any], training_section: dict[str, Any] | None = None,
               loss_file: Path | None = None, loss_function: LossFunction | None = None,
               node_types: list[str] | None = None) -> Task:
    """The Task of a validated config's task section (with its training section: label smoothing; a node task with
    the names of data.node_types, in order). A task.loss naming users' code imports it (from `loss_file`, a run's
    copy of its file, if given), unless `loss_function` is that loss already built (a weaver-core network file's
    get_loss)."""
    if task_section["type"] in NODE_TASKS:
        return NODE_TASKS[task_section["type"]].from_section(task_section, training_section,
                                                             type_names=list(node_types or []))
    loss = task_section.get("loss")
    if loss_function is None and is_user_code(loss):
        loss_function = load_reference(loss, loss_file)
    return TASKS[task_section["type"]].from_section(task_section, training_section, loss_function)


__all__ = ["TASKS", "NODE_TASKS", "Task", "Classification", "Regression", "NodeClassification", "NodeRegression",
           "build_task"]
