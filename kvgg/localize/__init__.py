"""Localisation (paper Appendix A): box regression nets, box-aware data, merging, the metric.

`boxes` (the normalised frame, IoU, greedy merging), `metrics` (the ILSVRC criterion),
`model` (the localisation net and its loss), `annotations` (XML trees, Kaggle CSV),
`data` (box-aware augmentation, the datasets), `protocols` (the two test protocols),
`report` (Tables 8 and 9 beside the user's numbers), `training` (what `kvgg fit` does
for a ``localization:`` recipe), `demo` (a small dataset with known boxes).

Names are imported lazily (PEP 562), so reading a recipe does not start TensorFlow.
"""

from __future__ import annotations

from kvgg.lazy import lazy_names

_HOMES = {
    "BoxSource": ".annotations",
    "box_folder": ".annotations",
    "kaggle_boxes": ".annotations",
    "DEFAULT_MERGE_THRESHOLD": ".boxes",
    "corners_to_frame": ".boxes",
    "frame_to_corners": ".boxes",
    "greedy_merge": ".boxes",
    "iou": ".boxes",
    "match_scores": ".boxes",
    "box_eval_dataset": ".data",
    "box_train_dataset": ".data",
    "box_is_correct": ".metrics",
    "localization_error": ".metrics",
    "BoxAccuracy": ".model",
    "BoxLoss": ".model",
    "build_localizer": ".model",
    "DenseLocalizer": ".protocols",
    "Guess": ".protocols",
    "centre_crop_boxes": ".protocols",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_names(globals(), _HOMES)
