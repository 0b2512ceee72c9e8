"""Classification and regression tasks: output size, loss, metrics and prediction columns."""

from __future__ import annotations

from typing import Any

from gnnjet.tasks.base import Task
from gnnjet.tasks.classification import Classification
from gnnjet.tasks.regression import Regression


def build_task(task_section: dict[str, Any]) -> Task:
    """The Task of a validated config's task section."""
    if task_section["type"] == "classification":
        return Classification(list(task_section["labels"]))  # the class names of a list or a mapping
    return Regression(task_section["loss"], task_section["target_abs_max"])


__all__ = ["Task", "Classification", "Regression", "build_task"]
