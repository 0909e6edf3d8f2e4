"""What `kvgg fit` does differently for a localisation recipe (a ``localization:`` section).

The recipe's classifier (``model``) is built, initialised from the classification run
(``model.init_from``, matched by layer name), and its last FC layer replaced by the box
regressor (`build_localizer`, a random ``boxes`` layer); the loss is `BoxLoss` and the
validation metric `BoxAccuracy` on centre crops (the run keeps the epoch where it is
best, and the learning-rate schedule watches it).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kvgg.recipe import Invalid

__all__ = ["MONITOR", "LocalizationConfig", "open_box_source"]

MONITOR = "val_box_accuracy"
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


def open_sources(recipe):
    """(train, val) box sources of a localisation recipe; errors name the recipe key.

    Images left out for a bad annotation are logged now (``source.bad_annotations``);
    undecodable ones as training meets them (``source.bad_files``), as for classification.
    A source of which no image decodes is refused at once.
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


def datasets(recipe, train_source, val_source, color_stats=None):
    """(train batches, validation batches, steps per epoch) of a localisation recipe;
    ``color_stats``: the recipe's ``data.color_stats``, resolved (enables the colour shift)."""
    from kvgg.localize.data import box_eval_dataset, box_train_dataset

    data, batch = recipe.data, recipe.optimizer.batch_size
    if isinstance(data.scale, tuple):
        raise ValueError(
            "data.scale: localisation nets train at a single scale S (the paper: 256 or "
            f"384). Received: data.scale={list(data.scale)}"
        )
    train = box_train_dataset(
        train_source,
        batch_size=batch,
        scale=data.scale,
        crop=data.crop,
        flip=data.flip,
        color_stats=color_stats,
        seed=recipe.run.seed,
        repeat=True,
    )
    val = box_eval_dataset(val_source, batch_size=batch, scale=data.eval_scale, crop=data.crop)
    steps = recipe.run.steps_per_epoch or math.ceil(len(train_source) / batch)
    return train, val, steps


def localizer(classifier, recipe):
    """The recipe's classifier turned into its localisation net."""
    from kvgg.localize.model import build_localizer

    loc = recipe.localization
    return build_localizer(
        classifier, regression=loc.regression, fine_tune=loc.fine_tune, seed=recipe.run.seed
    )


def objective():
    """(loss, metrics) for ``model.compile`` of a localisation net."""
    from kvgg.localize.model import BoxAccuracy, BoxLoss

    return BoxLoss(), [BoxAccuracy()]


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
