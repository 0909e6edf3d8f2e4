"""Input pipelines: dataset layouts on disk, the paper's augmentation, statistics, bad files.

Example:
    >>> from kvgg import data
    >>> train = data.train_dataset(data.open_source("digits"), batch_size=32, scale=32, crop=32)
"""

from kvgg.data.bad_files import BadFiles, UndecodableImageError, check_source, strict_errors
from kvgg.data.pipeline import eval_dataset, image_dataset, train_dataset
from kvgg.data.sources import (
    Source,
    caltech,
    digits,
    image_folder,
    keras_dataset,
    labels_file,
    tfrecords,
    voc,
)
from kvgg.data.spec import open_source
from kvgg.data.stats import IMAGENET_STATS, ColorStats, compute_stats
from kvgg.data.tfrecord import write_tfrecords

__all__ = [
    "IMAGENET_STATS",
    "BadFiles",
    "ColorStats",
    "Source",
    "UndecodableImageError",
    "caltech",
    "check_source",
    "compute_stats",
    "digits",
    "eval_dataset",
    "image_dataset",
    "image_folder",
    "keras_dataset",
    "labels_file",
    "open_source",
    "strict_errors",
    "tfrecords",
    "train_dataset",
    "voc",
    "write_tfrecords",
]
