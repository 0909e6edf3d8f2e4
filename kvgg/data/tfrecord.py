"""TFRecord shards in the widely used ImageNet schema, read and written.

Each record is a ``tf.train.Example`` with ``image/encoded`` (the original file bytes),
``image/format``, ``image/filename``, ``image/height``, ``image/width``,
``image/class/label`` (1-based, as in TensorFlow's ImageNet conversion scripts, where 0 is
"background") and ``image/class/synset`` (the class name). kvgg reads the class from the
synset, so 0- and 1-based shards both work.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import tensorflow as tf

from kvgg.io import check_outputs, write_atomic, write_text

CLASSES_FILE = "classes.txt"

_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/synset": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


def parse_example(record):
    """(encoded image bytes, synset) of one serialised record (graph-safe)."""
    features = tf.io.parse_single_example(record, _FEATURES)
    return features["image/encoded"], features["image/class/synset"]


def scan_synsets(files) -> list[str]:
    """The sorted distinct ``image/class/synset`` values of all records in ``files``."""
    from tqdm import tqdm

    records = tf.data.TFRecordDataset(list(files)).map(lambda record: parse_example(record)[1])
    desc = f"class names of {len(files)} TFRecord shards"
    synsets = set(tqdm(records.as_numpy_iterator(), desc=desc, unit="rec", leave=False))
    synsets = {synset.decode() for synset in synsets}
    if "" in synsets:
        raise ValueError(f"Records in '{files[0]}' lack image/class/synset; pass classes=.")
    return sorted(synsets)


def write_tfrecords(
    source,
    out_dir: str | Path,
    *,
    shards: int = 8,
    prefix: str = "train",
    seed: int = 0,
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Write a file source (e.g. an image folder) as ``shards`` TFRecord files.

    Files go to ``out_dir/<prefix>-00000-of-000NN.tfrecord`` in a seeded random order (so
    every shard mixes all classes), each written beside its destination and renamed when
    complete; ``classes.txt`` lists the class names in label order. Files whose header
    cannot be read as an image are left out and returned.

    Args:
        source: a `~kvgg.data.Source` of image files (e.g. an image folder); open a spec
            string with :func:`~kvgg.data.open_source` first.
        out_dir: output folder (created).
        shards: number of shards (ImageNet's training set is usually 1024, validation 128).
        prefix: shard name prefix.
        seed: seed of the record order.

    Returns:
        (list of shard paths, list of (path, reason) for the files left out).

    Example:
        >>> import tempfile
        >>> from kvgg.data import image_folder
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> shards, left_out = write_tfrecords(image_folder(images), tempfile.mkdtemp(), shards=2)
        >>> [path.name for path in shards], left_out
        (['train-00000-of-00002.tfrecord', 'train-00001-of-00002.tfrecord'], [])
    """
    from PIL import Image
    from tqdm import tqdm

    if shards < 1:
        raise ValueError(f"shards must be at least 1. Received: shards={shards}")
    if not hasattr(source, "paths"):
        name = getattr(source, "name", source)
        raise ValueError(f"to-tfrecord needs a source of image files; got {name!r}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(seed).permutation(len(source.paths))
    shards = min(shards, max(len(order), 1))
    outputs = [out_dir / f"{prefix}-{i:05d}-of-{shards:05d}.tfrecord" for i in range(shards)]
    check_outputs([*outputs, out_dir / CLASSES_FILE], source.paths)
    skipped = []

    def write_shard(indices, partial: Path):
        with tf.io.TFRecordWriter(str(partial)) as writer:
            for index in indices:
                path = source.paths[index]
                data = Path(path).read_bytes()
                try:
                    with Image.open(path) as image:
                        width, height = image.size
                        kind = (image.format or "").lower()
                except Exception as error:  # Pillow raises many types for bad files.
                    skipped.append((path, f"not an image: {error}"))
                else:
                    label = int(source.labels[index])
                    name = source.class_names[label]
                    example = _example(
                        data,
                        path=path,
                        kind=kind,
                        height=height,
                        width=width,
                        synset=name,
                        label=label,
                    )
                    writer.write(example)
                progress.update()

    with tqdm(total=len(order), desc="to-tfrecord", unit="img") as progress:
        for shard, indices in zip(outputs, np.array_split(order, shards), strict=True):
            write_atomic(shard, functools.partial(write_shard, indices))
    write_text(out_dir / CLASSES_FILE, "".join(f"{name}\n" for name in source.class_names))
    return outputs, skipped


def _example(
    data: bytes, *, path: str, kind: str, height: int, width: int, synset: str, label: int
) -> bytes:
    def as_bytes(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def as_int(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    features = {
        "image/encoded": as_bytes(data),
        "image/format": as_bytes(kind.encode()),
        "image/filename": as_bytes(Path(path).name.encode()),
        "image/height": as_int(height),
        "image/width": as_int(width),
        "image/class/label": as_int(label + 1),
        "image/class/synset": as_bytes(synset.encode()),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()
