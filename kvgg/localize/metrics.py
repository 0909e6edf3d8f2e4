"""The ILSVRC localisation criterion (paper Appendix A): IoU > 0.5 with a box of the class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kvgg.localize.boxes import iou

__all__ = ["IOU_THRESHOLD", "box_is_correct", "localization_error"]

IOU_THRESHOLD = 0.5
"""A predicted box is correct when its IoU with a ground-truth box of the class is above
this (strictly, as ILSVRC scores it)."""


def box_is_correct(box, truth_boxes) -> bool:
    """Whether ``box`` overlaps one of ``truth_boxes`` with IoU above 0.5.

    Args:
        box: (4,) corners ``(xmin, ymin, xmax, ymax)``.
        truth_boxes: (K, 4) ground-truth corners of the class (any K >= 0), same units.

    Example:
        >>> box_is_correct([0, 0, 10, 10], [[50, 50, 60, 60], [1, 0, 10, 10]])
        True
    """
    truth = np.asarray(truth_boxes, dtype=np.float64).reshape(-1, 4)
    return bool(len(truth)) and bool((iou(np.asarray(box)[None], truth) > IOU_THRESHOLD).any())


def localization_error(
    guesses: Sequence[Sequence[tuple[int, Sequence[float]]]],
    labels: Sequence[int],
    truth_boxes: Sequence,
) -> float:
    """Top-k localisation error: the fraction of images none of whose (class, box) guesses
    has the right class and a correct box.

    With one guess per image holding the ground-truth class (test protocol 1) this is the
    paper's Table 8 "ground-truth class" error; with the classifier's top-5 classes
    (protocol 2) it is the ILSVRC top-5 localisation error of Table 9.

    Args:
        guesses: per image, a list of ``(class_index, corners)`` guesses.
        labels: per image, the ground-truth class index.
        truth_boxes: per image, (K, 4) ground-truth corners of that class.

    Returns:
        The error in [0, 1].

    Example:
        >>> guesses = [[(3, [0, 0, 10, 10])], [(1, [0, 0, 10, 10])]]
        >>> localization_error(guesses, [3, 2], [[[0, 0, 10, 9]], [[0, 0, 10, 10]]])
        0.5
    """
    if not (len(guesses) == len(labels) == len(truth_boxes)):
        raise ValueError(
            "localization_error needs guesses, labels and boxes for the same images. Received: "
            f"{len(guesses)} guesses, {len(labels)} labels, {len(truth_boxes)} box lists"
        )
    if not len(labels):
        raise ValueError("localization_error needs at least one image.")
    wrong = 0
    for image_guesses, label, truth in zip(guesses, labels, truth_boxes, strict=True):
        hit = any(
            int(cls) == int(label) and box_is_correct(box, truth) for cls, box in image_guesses
        )
        wrong += not hit
    return wrong / len(labels)
