"""Classification, the paper's task (Sec. 3.1), as the `kvgg.train.task.Task` of a plain
recipe: single-label sources, the classification augmentation of `kvgg.data.pipeline`,
soft-max cross-entropy, top-1 and top-5 accuracy, model.keras at the best validation top-1.
"""

from __future__ import annotations

import keras

from kvgg.train.config import TrainRecipe
from kvgg.train.task import Task

__all__ = ["CLASSIFICATION", "Classification"]


class Classification(Task):
    """Image classification: the task of every recipe without a task section."""

    name = "classification"
    recipe_type = TrainRecipe
    metrics = (("top1", "top-1"), ("top5", "top-5"))
    monitor = "val_top1"

    def open_sources(self, recipe):
        """(train, val) single-label sources with the same classes; errors name the key."""
        from kvgg.data import open_source
        from kvgg.data.pipeline import require_decodable

        sources = []
        for key in ("train", "val"):
            spec = getattr(recipe.data, key)
            try:
                source = open_source(spec)
                if source.labels.ndim != 1:
                    raise ValueError(
                        f"{source.name} is multi-label; kvgg fit trains single-label "
                        "classifiers (use kvgg transfer for VOC)."
                    )
                require_decodable(source)  # else the repeated batches never come
            except (ValueError, FileNotFoundError, NotADirectoryError) as error:
                raise ValueError(f"data.{key}: {error} Received: data.{key}={spec!r}") from None
            sources.append(source)
        train, val = sources
        if train.class_names != val.class_names:
            raise ValueError(
                f"data.train and data.val have different classes ({train.num_classes} vs "
                f"{val.num_classes}; first names {train.class_names[:3]} vs "
                f"{val.class_names[:3]})."
            )
        return train, val

    def objective(self, recipe) -> dict:
        return {
            "loss": keras.losses.SparseCategoricalCrossentropy(),
            "metrics": [
                keras.metrics.SparseCategoricalAccuracy(name="top1"),
                keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"),
            ],
        }

    def saved_objective(self, recipe) -> dict:
        return self.objective(recipe)  # stock Keras objects: a bare load_model compiles them


CLASSIFICATION = Classification()
