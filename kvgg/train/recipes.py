"""Which task a recipe trains, and reading a recipe file into that task's recipe type.

The tasks are classification (`kvgg.train.classification`) and those installed under the
``kvgg.tasks`` entry-point group (localisation, `kvgg.localize.task`, is one): a recipe
file selects a task by having its section (``localization:``).
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

from kvgg.recipe import load, sections
from kvgg.train.classification import CLASSIFICATION
from kvgg.train.config import TrainRecipe
from kvgg.train.task import Task

ENTRY_POINTS = "kvgg.tasks"  # the entry-point group of installed tasks

__all__ = [
    "ENTRY_POINTS",
    "installed_tasks",
    "load_train_recipe",
    "task_for_recipe",
    "task_for_sections",
]


@functools.cache
def installed_tasks() -> tuple[Task, ...]:
    """Classification, then the tasks installed under the ``kvgg.tasks`` entry points.

    Example:
        >>> [task.name for task in installed_tasks()][:2]
        ['classification', 'localisation']
    """
    tasks = [CLASSIFICATION]
    for entry in sorted(importlib.metadata.entry_points(group=ENTRY_POINTS), key=str):
        task = entry.load()
        if not isinstance(task, Task):
            raise TypeError(f"Entry point {entry.value!r} ({ENTRY_POINTS}) is not a kvgg Task.")
        tasks.append(task)
    return tuple(tasks)


def task_for_sections(keys) -> Task:
    """The task a recipe file's top-level sections select (classification by default).

    Example:
        >>> task_for_sections(["name", "model", "localization"]).name
        'localisation'
        >>> task_for_sections(["name", "model"]).name
        'classification'
    """
    tasks = installed_tasks()
    chosen = [task for task in tasks if task.section is not None and task.section in keys]
    if len(chosen) > 1:
        names = ", ".join(task.section for task in chosen)
        raise ValueError(f"A recipe has one task; this one has the sections of several: {names}.")
    return chosen[0] if chosen else tasks[0]


def task_for_recipe(recipe) -> Task:
    """The installed task whose ``recipe_type`` is the recipe's own type."""
    for task in reversed(installed_tasks()):  # subclasses before TrainRecipe itself
        if type(recipe) is task.recipe_type:
            return task
    raise TypeError(
        f"No installed kvgg task trains a {type(recipe).__name__}; pass `task=` to fit."
    )


def load_train_recipe(
    path: str | Path,
    overrides: Sequence[str] = (),
    *,
    smoke: bool = False,
    check_paths: bool = True,
    task=None,
) -> TrainRecipe:
    """Read a training recipe, with ``--set`` overrides and optionally its smoke setting.

    Args:
        path: the YAML file.
        overrides: ``["optimizer.lr=0.001", ...]``, applied last.
        smoke: apply the recipe's ``smoke`` overrides first (a tiny local run).
        check_paths: check that the files the recipe names exist.
        task: the `kvgg.train.task.Task` whose recipe type to read; default: the task the
            file's sections select (a ``localization:`` section: localisation).

    Returns:
        The recipe, of the task's recipe type (`TrainRecipe` for classification).

    Example:
        >>> recipe = load_train_recipe("recipes/quickstart.yaml", ["schedule.epochs=1"])
        >>> recipe.model.config
        'A'
    """
    named = [*sections(path), *(str(item).split("=")[0].split(".")[0] for item in overrides)]
    kind = (task or task_for_sections(named)).recipe_type
    recipe = load(path, kind, overrides, check_paths=check_paths and not smoke)
    if smoke and not recipe.smoke:
        raise ValueError(f"{path} has no smoke section, so it cannot run with --smoke.")
    if recipe.smoke:  # checked even without --smoke: a typo there fails when it is used
        merged = [(key, value) for key, value in recipe.smoke.items()]
        smoked = load(path, kind, [*merged, *overrides], check_paths=check_paths and smoke)
        recipe = smoked if smoke else recipe
    return recipe
