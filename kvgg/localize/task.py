"""Localisation as a `kvgg.train.task.Task`: what `kvgg fit` trains for a recipe with a
``localization:`` section (paper Appendix A).

The recipe's classifier (``model``) is built, initialised from the classification run
(``model.init_from``, matched by layer name), and its last FC layer replaced by the box
regressor (`build_localizer`, a random ``boxes`` layer); the data are a `BoxSource`'s,
augmented by `kvgg.localize.data.box_augmentation` inside the shared training pipeline
(cache, shards and JAX's per-process batch as for classification); the loss is `BoxLoss`
and the validation metric `BoxAccuracy` on centre crops (the run keeps the epoch where it
is best, and the learning-rate schedule watches it). The task is installed under the
``kvgg.tasks`` entry point, so `kvgg.train.fit` finds it by the recipe's section.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kvgg.recipe import Invalid
from kvgg.train.config import TrainRecipe
from kvgg.train.task import Task

__all__ = ["LOCALIZATION", "Localization", "LocalizationConfig", "LocalizationRecipe"]

DEMO = "pasted_objects"


@dataclass
class LocalizationConfig:
    """A localisation run (paper Appendix A): the recipe's net regresses boxes.

    Args:
        regression: ``pcr`` (a box per class) or ``scr`` (one box for all classes).
        fine_tune: ``all`` layers, or only ``fc`` (FC-1, FC-2 and the box layer; the
            convolutions frozen).
        train_boxes: the boxes of ``data.train``: a folder of XML files parallel to the
            image folder (ILSVRC ``bbox`` layout), Kaggle's ``LOC_train_solution.csv``, or
            ``pasted_objects`` (a small generated dataset with known boxes, images
            included, for smoke runs).
        val_boxes: the same for ``data.val`` (``pasted_objects:val`` for the demo's
            validation images).
    """

    regression: Literal["scr", "pcr"] = "pcr"
    fine_tune: Literal["all", "fc"] = "all"
    train_boxes: str = DEMO
    val_boxes: str = f"{DEMO}:val"

    def __post_init__(self):
        for name in ("train_boxes", "val_boxes"):
            if not str(getattr(self, name)).strip():
                raise Invalid(name, "must name an XML folder, a Kaggle CSV or pasted_objects")


def open_box_source(images, boxes, classes=None):
    """A `BoxSource` from a recipe's image spec and its ``*_boxes`` setting.

    Args:
        images: the ``data.train``/``data.val`` spec: a folder path, ``folder:PATH`` or
            ``{kind: folder, path: PATH}`` (ignored for ``pasted_objects``).
        boxes: an XML folder, a Kaggle ``.csv`` or ``pasted_objects[:val]``.
        classes: the class order (the training source's, for validation).

    Example:
        >>> open_box_source(None, "pasted_objects").num_classes
        3
    """
    from kvgg.localize.annotations import box_folder, kaggle_boxes

    boxes = str(boxes)
    if boxes.split(":")[0] == DEMO:
        folder, annotations = _demo(boxes.partition(":")[2] or "train")
        return box_folder(folder, annotations, classes)
    folder = _image_folder(images)
    if boxes.lower().endswith(".csv"):
        return kaggle_boxes(folder, boxes, classes)
    return box_folder(folder, boxes, classes)


@dataclass
class LocalizationRecipe(TrainRecipe):
    """A training recipe with a ``localization:`` section: `kvgg fit` trains a box
    regression net (see `LocalizationConfig`).

    Example:
        >>> from kvgg.train import load_train_recipe
        >>> recipe = load_train_recipe("recipes/localization/vgg16_pcr_all_s384.yaml",
        ...                            check_paths=False)
        >>> type(recipe).__name__, recipe.localization.regression
        ('LocalizationRecipe', 'pcr')
    """

    localization: LocalizationConfig = field(default_factory=LocalizationConfig)


class Localization(Task):
    """Box regression (paper Appendix A): `BoxLoss`, `BoxAccuracy` on centre crops."""

    name = "localisation"
    section = "localization"
    recipe_type = LocalizationRecipe
    metrics = (("box_accuracy", "box accuracy"),)
    monitor = "val_box_accuracy"

    def check_recipe(self, recipe) -> None:
        if isinstance(recipe.data.scale, tuple):
            raise ValueError(
                "data.scale: localisation nets train at a single scale S (the paper: 256 or "
                f"384). Received: data.scale={list(recipe.data.scale)}"
            )

    def open_sources(self, recipe):
        """(train, val) box sources; errors name the recipe key.

        Images left out for a bad annotation are logged now (``source.bad_annotations``);
        undecodable ones as training meets them (``source.bad_files``), as for
        classification. A source of which no image decodes is refused at once.
        """
        from kvgg.localize.data import require_decodable

        loc = recipe.localization
        sources = []
        for key, classes in (("train", None), ("val", "train")):
            spec = getattr(loc, f"{key}_boxes")
            try:
                order = sources[0].class_names if classes else None
                sources.append(open_box_source(getattr(recipe.data, key), spec, order))
                require_decodable(sources[-1])  # else the repeated batches never come
            except (ValueError, FileNotFoundError) as error:
                raise ValueError(
                    f"localization.{key}_boxes: {error} Received: localization.{key}_boxes={spec!r}"
                ) from None
        return tuple(sources)

    def train_transform(self, recipe, color_stats):
        from kvgg.localize.data import box_augmentation

        data = recipe.data
        return box_augmentation(
            scale=data.scale, crop=data.crop, flip=data.flip, color_stats=color_stats
        )

    def eval_transform(self, recipe):
        from kvgg.localize.data import centre_view

        return centre_view(scale=recipe.data.eval_scale, crop=recipe.data.crop)

    def batches(self, dataset):
        from kvgg.localize.data import flat_batches

        return flat_batches(dataset)

    def build(self, recipe, classifier):
        from kvgg.localize.model import build_localizer

        loc = recipe.localization
        return build_localizer(
            classifier, regression=loc.regression, fine_tune=loc.fine_tune, seed=recipe.run.seed
        )

    def objective(self, recipe) -> dict:
        from kvgg.localize.model import BoxAccuracy, BoxLoss

        return {"loss": BoxLoss(), "weighted_metrics": [BoxAccuracy()]}  # no box: weight 0


LOCALIZATION = Localization()


def _image_folder(spec) -> str:
    if isinstance(spec, dict):
        if spec.get("kind", "folder") != "folder" or "path" not in spec:
            raise ValueError(f"localisation images must be a class folder tree; got {spec!r}")
        return spec["path"]
    text = str(spec)
    return text.split(":", 1)[1] if text.startswith("folder:") else text


def _demo(subset: str):
    """The pasted-objects demo dataset, generated once per machine (a temporary folder)."""
    from kvgg.localize.demo import pasted_objects

    if subset not in ("train", "val"):
        raise ValueError(f"pasted_objects subsets are train and val. Received: {subset!r}")
    root = Path(tempfile.gettempdir()) / f"kvgg_pasted_objects_{subset}"
    done = root / "done"
    if not done.is_file():
        size = 40 if subset == "train" else 10
        pasted_objects(root, per_class=size, size=(96, 128), seed=subset == "val")
        done.write_text("ok\n")
    return root / "images", root / "annotations"
