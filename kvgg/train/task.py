"""The task interface: what `kvgg.train.fit` asks of the thing it trains.

`fit` knows no task by name. It reads the recipe, opens the data, builds the datasets
(cache, per-worker shards, JAX's per-process batch), the model (precision, initial
weights), the optimiser and the schedule, runs the epochs and writes the run directory,
asking a `Task` only for what differs between tasks:

```
recipe ─ Task.recipe_type ─┐
        Task.open_sources ─┤  (train, val) sources
  Task.train_transform ────┤  per-image augmentation, inside the shared pipeline
   Task.eval_transform ────┤  per-image validation view, inside the shared pipeline
           Task.build ─────┤  the model, from the recipe's classifier
       Task.objective ─────┤  loss and metrics for model.compile
  Task.monitor, metrics ───┘  the metric that picks model.keras and drives the schedule
```

Classification (`kvgg.train.classification.CLASSIFICATION`) is the task of a plain
recipe; localisation (`kvgg.localize.task.LOCALIZATION`) is selected by a recipe's
``localization:`` section. A package adds a task of its own by subclassing `Task` and
either passing it to ``fit(recipe, task=...)`` or declaring it under the ``kvgg.tasks``
entry-point group (its ``section`` key then selects it in recipe files; see
`kvgg.train.recipes`).

Example: a third task, trained by the unchanged `fit`: classification that keeps the
epoch of best validation top-3 accuracy.

    >>> import keras, tempfile
    >>> from kvgg.recipe import parse
    >>> from kvgg.train import TrainRecipe, fit
    >>> from kvgg.train.classification import Classification
    >>> class Top3(Classification):
    ...     name, metrics, monitor = "top-3 classification", (("top3", "top-3"),), "val_top3"
    ...     def objective(self, recipe):
    ...         return {"loss": keras.losses.SparseCategoricalCrossentropy(),
    ...                 "metrics": [keras.metrics.SparseTopKCategoricalAccuracy(3, name="top3")]}
    >>> recipe = parse({"name": "top3", "model": {"config": "A", "width": 1 / 16},
    ...                 "data": {"train": "digits", "val": "digits:test", "scale": 32,
    ...                          "crop": 32, "flip": False}, "schedule": {"epochs": 1},
    ...                 "run": {"steps_per_epoch": 2, "val_steps": 1}}, TrainRecipe)
    >>> result = fit(recipe, task=Top3(), run_dir=tempfile.mkdtemp(), echo=lambda _: None)
    >>> result.monitor, 0 <= result.best <= 1
    ('val_top3', True)
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["Task"]


class Task:
    """What one kind of training run supplies to `kvgg.train.fit`.

    Subclasses set the class attributes and override the methods that differ; every
    method gets the resolved recipe.

    Attributes:
        name: the task's name in messages (``"classification"``).
        section: the recipe section that selects this task in a recipe file (None: the
            default task, classification).
        recipe_type: the recipe dataclass (`kvgg.train.TrainRecipe` or a subclass with
            the task's own section).
        metrics: ``(log key, label)`` of the metrics compiled in, as Keras logs them
            (``val_`` + key on validation data); shown in the progress line and history.
        monitor: the validation log key that picks ``model.keras`` and drives the
            learning-rate schedule (higher is better).
    """

    name: ClassVar[str] = "task"
    section: ClassVar[str | None] = None
    recipe_type: ClassVar[type] = object
    metrics: ClassVar[tuple[tuple[str, str], ...]] = ()
    monitor: ClassVar[str] = ""

    @property
    def monitor_label(self) -> str:
        """How the progress line names `monitor`: ``"validation top-1"``."""
        key = self.monitor.removeprefix("val_")
        return "validation " + dict(self.metrics).get(key, key)

    def open_sources(self, recipe) -> tuple[Any, Any]:
        """The (train, validation) sources, checked; errors name the recipe key."""
        raise NotImplementedError

    def check_recipe(self, recipe) -> None:
        """Refuse settings this task cannot train with (a ValueError naming the key)."""

    def train_transform(self, recipe, color_stats):
        """``transform(image, label, seed) -> (image, label)``: the per-image training
        augmentation (inside `kvgg.data.pipeline.train_dataset`), or None for the
        paper's classification augmentation."""
        return None

    def eval_transform(self, recipe):
        """``transform(image, label, seed) -> (image, label)``: the validation view, or
        None for the classification centre crop."""
        return None

    def batches(self, dataset):
        """The ``model.fit`` form of a dataset of (images, labels) batches."""
        return dataset

    def build(self, recipe, classifier):
        """The model to train, from the recipe's classifier (``kvgg.build`` of
        ``recipe.model``, with the training source's class count)."""
        return classifier

    def objective(self, recipe) -> dict:
        """Keyword arguments of ``model.compile``: ``loss`` and ``metrics`` (or
        ``weighted_metrics``)."""
        raise NotImplementedError

    def saved_objective(self, recipe) -> dict | None:
        """The compile state that ``model.keras`` keeps: stock Keras objects only, so a
        bare ``keras.saving.load_model`` loads it; None keeps no compile state."""
        return None
