"""Labelled image collections in the layouts users already have on disk.

A :class:`Source` knows its class names and labels and yields an unbatched, unshuffled
``tf.data.Dataset`` of ``(image, label)``: ``image`` is the encoded file bytes (tf.string)
for file sources or a uint8 (H, W, 3) tensor for in-memory ones. Turn it into training or
evaluation batches with :mod:`kvgg.data.pipeline`; name one from a recipe or the command
line with :func:`kvgg.data.open_source`.
"""

from __future__ import annotations

import glob
import json
from functools import cached_property
from pathlib import Path

import numpy as np
import tensorflow as tf

from kvgg.data import caltech_splits, tfrecord, voc_annotations
from kvgg.data.bad_files import BadFiles, logger
from kvgg.data.class_names import KERAS_CLASS_NAMES
from kvgg.io import imagenet_synsets, read_csv_rows, read_text_file

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")

__all__ = [
    "IMAGE_EXTENSIONS",
    "ArraySource",
    "CaltechSource",
    "FileSource",
    "Source",
    "TFRecordSource",
    "VOCSource",
    "caltech",
    "digits",
    "file_items",
    "image_folder",
    "keras_dataset",
    "labels_file",
    "tfrecords",
    "voc",
]


class Source:
    """A labelled image collection: class names, labels and a tf.data view of the images.

    Attributes:
        name: a short description (used in messages and reports).
        class_names: one name per class, in label order.
        labels: int64 (N,) class indices, or float32 (N, C) multi-hot targets (VOC).
        bad_files: the undecodable images met by pipelines reading this source.
        stores_files: whether the images are files (read lazily with
            ``named_dataset(read=False)``).
    """

    stores_files = False

    def __init__(self, name: str, class_names, labels):
        self.name = name
        self.class_names = [str(c) for c in class_names]
        self._labels = labels
        self.bad_files = BadFiles()

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r}: {len(self)} images, {self.num_classes} classes>"
        )

    def dataset(self) -> tf.data.Dataset:
        """Unbatched, unshuffled (image, label) pairs in a fixed order."""
        return self.named_dataset().map(lambda image, label, _: (image, label))

    def named_dataset(self, *, shuffle=False, seed=None, shuffle_buffer=10_000, read=True):
        """Like :meth:`dataset`, with a third item naming each image (its path) for reports.

        Args:
            shuffle: yield the images in a random order, different every iteration.
            seed: makes that order reproducible.
            shuffle_buffer: buffer size where the source cannot shuffle the whole list.
            read: False makes a source with ``stores_files`` yield each image's path in
                place of its bytes, for a caller that reads the file inside its own
                decoding map (one tf.data stage fewer); other sources ignore it.
        """
        raise NotImplementedError


class FileSource(Source):
    """Images stored as individual files; ``paths[i]`` has label ``labels[i]``."""

    stores_files = True

    def __init__(self, name: str, class_names, labels, paths):
        super().__init__(name, class_names, labels)
        self.paths = [str(p) for p in paths]

    def named_dataset(self, *, shuffle=False, seed=None, shuffle_buffer=10_000, read=True):
        return file_items(self.paths, self.labels, shuffle=shuffle, seed=seed, read=read)


def file_items(paths, labels, *, shuffle=False, seed=None, read=True) -> tf.data.Dataset:
    """(image, label, path) items of image files: the ``named_dataset`` of every source
    that stores files. ``labels`` may be a nest of arrays (e.g. a class index and boxes).

    Args:
        paths: the image files.
        labels: one label (or nest of labels) per file, in the same order.
        shuffle: a random order, different every iteration (the whole list: a perfect
            shuffle, and cheap since only paths move).
        seed: makes that order reproducible.
        read: False yields each path in place of its bytes (the caller reads it).

    Example:
        >>> items = file_items(["a.jpg", "b.jpg"], [3, 4], read=False)
        >>> [(path.numpy(), int(label)) for path, label, _ in items]
        [(b'a.jpg', 3), (b'b.jpg', 4)]
    """
    items = tf.data.Dataset.from_tensor_slices((list(paths), labels, list(paths)))
    if shuffle:
        items = items.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if not read:
        return items
    return items.map(
        lambda path, label, name: (tf.io.read_file(path), label, name),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


class ArraySource(Source):
    """Images held in memory as a uint8 (N, H, W, 3) array."""

    def __init__(self, name: str, class_names, labels, images: np.ndarray):
        super().__init__(name, class_names, labels)
        self.images = images

    def named_dataset(self, *, shuffle=False, seed=None, shuffle_buffer=10_000, read=True):
        indices = tf.data.Dataset.range(len(self.images))
        if shuffle:
            indices = indices.shuffle(len(self.images), seed=seed, reshuffle_each_iteration=True)
        images = tf.constant(self.images)
        labels = tf.constant(self.labels)
        prefix = f"{self.name}["
        return indices.map(
            lambda i: (
                tf.gather(images, i),
                tf.gather(labels, i),
                tf.strings.join([prefix, tf.strings.as_string(i), "]"]),
            )
        )


class TFRecordSource(Source):
    """Shards in the ImageNet TFRecord schema (see :mod:`kvgg.data.tfrecord`), interleaved.

    Labels come from each record's ``image/class/synset`` looked up in ``class_names``, so
    shards written with 0- or 1-based ``image/class/label`` read alike. ``labels`` and
    ``len`` scan the shards once, on first use, with a progress bar.
    """

    def __init__(self, name: str, class_names, files):
        super().__init__(name, class_names, None)
        self.files = list(files)

    @cached_property
    def labels(self) -> np.ndarray:
        from tqdm import tqdm

        records = self.named_dataset().map(lambda image, label, name: label).as_numpy_iterator()
        desc = f"labels of {len(self.files)} TFRecord shards"
        return np.fromiter(tqdm(records, desc=desc, unit="rec", leave=False), dtype=np.int64)

    def named_dataset(self, *, shuffle=False, seed=None, shuffle_buffer=10_000, read=True):
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                self.class_names, tf.range(self.num_classes, dtype=tf.int64)
            ),
            default_value=-1,
        )

        def parse(record, name):
            encoded, synset = tfrecord.parse_example(record)
            label = table.lookup(synset)
            known = tf.debugging.Assert(label >= 0, ["Unknown synset", synset, "in", name])
            with tf.control_dependencies([known]):
                return encoded, tf.identity(label), name

        files = tf.data.Dataset.from_tensor_slices(self.files)
        if shuffle:
            files = files.shuffle(len(self.files), seed=seed, reshuffle_each_iteration=True)
        records = files.interleave(
            lambda file: (
                tf.data.TFRecordDataset(file)
                .enumerate()
                .map(
                    lambda i, record: (
                        record,
                        tf.strings.join([file, "#", tf.strings.as_string(i)]),
                    )
                )
            ),
            cycle_length=min(len(self.files), 16),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        if shuffle:
            records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        return records.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


class VOCSource(FileSource):
    """PASCAL VOC images with 20-class multi-hot labels, difficult flags and boxes.

    A split whose annotations are withheld (the VOC-2012 test set) has ``annotated``
    False: its ``labels`` are all NaN (unknown, so a loss or metric computed from them shows
    NaN instead of a wrong number), ``difficult`` all False and ``objects`` empty; its
    images serve feature extraction and result files for the evaluation server.

    Attributes:
        annotated: whether the split's labels are known.
        image_ids: the VOC image ids ('000005', ...), in order.
        difficult: bool (N, C): True where every object of that class in the image is
            marked difficult (evaluation ignores those; ``labels`` still says 1).
        objects: per image, a list of :class:`~kvgg.data.voc_annotations.VOCObject`
            (class, box (xmin, ymin, xmax, ymax) in pixels, difficult, truncated).
    """

    def __init__(
        self, name, class_names, labels, paths, image_ids, difficult, objects, annotated=True
    ):
        super().__init__(name, class_names, labels, paths)
        self.annotated = annotated
        self.image_ids = list(image_ids)
        self.difficult = difficult
        self.objects = objects


class CaltechSource(FileSource):
    """Caltech-101/256 images of one seeded split.

    Attributes:
        split_file: the JSON file that records the split (relative paths per subset).
        seed: the split's seed.
    """

    def __init__(self, name, class_names, labels, paths, split_file, seed):
        super().__init__(name, class_names, labels, paths)
        self.split_file = Path(split_file)
        self.seed = seed


def image_folder(root, classes=None) -> FileSource:
    """Images in one sub-folder per class (the ILSVRC-2012 training layout).

    Args:
        root: folder holding one sub-folder per class.
        classes: optional class list (or a text file with one class folder name per
            line, e.g. the 1000 ImageNet synsets) fixing the label order; default: the
            sorted sub-folder names.

    Example:
        >>> import tempfile
        >>> from kvgg.localize.demo import pasted_objects  # writes <class>/*.jpg
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> source = image_folder(images)
        >>> source.class_names, len(source)
        (['blue', 'green', 'red'], 6)
    """
    root = _existing_dir(root, "image folder")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    class_names = _class_list(classes) if classes is not None else folders
    if not class_names:
        raise ValueError(f"No class sub-folders in image folder '{root}'.")
    paths, labels = [], []
    for index, name in enumerate(class_names):
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"Class '{name}' has no folder '{folder}'.")
        files = _image_files(folder)
        if not files:
            raise ValueError(f"Class folder '{folder}' contains no images ({_extensions()}).")
        paths += files
        labels += [index] * len(files)
    return FileSource(f"folder:{root}", class_names, np.array(labels, np.int64), paths)


def labels_file(folder, labels, classes=None, meta=None) -> FileSource:
    """A flat folder of images plus a labels file (the ILSVRC-2012 validation layout).

    Accepted forms of ``labels``:

    - One label per line, matching the image files in sorted file-name order. With
      ``meta``, the labels are the devkit's 1-based ILSVRC2012_IDs (as in
      ``ILSVRC2012_validation_ground_truth.txt``), translated to WordNet ids by ``meta``.
    - ``file label`` lines (Caffe's ``val.txt``: ``ILSVRC2012_val_00000001.JPEG 65``).
    - A CSV file with the header ``file,label``.
    - Kaggle's ``LOC_val_solution.csv`` (``ImageId,PredictionString``): the label is the
      first synset of the prediction string, the file ``<ImageId>.JPEG``.

    Labels are class indices, or class names when ``classes`` is given or they are not all
    integers. When they are ImageNet WordNet ids (``n01440764``) and ``classes`` is not
    given, the class order is kvgg's 1000 ILSVRC-2012 synsets
    (:func:`kvgg.io.imagenet_synsets`, the sorted-synset order of Caffe, keras.applications
    and torchvision), not the devkit's ILSVRC2012_ID order.

    Args:
        folder: the flat image folder.
        labels: the .txt or .csv labels file.
        classes: optional class list or file (one name per line) giving the label order.
        meta: translates ILSVRC2012_IDs to WordNet ids: the devkit's ``data/meta.mat``, or
            a text file of ``ID WNID`` lines, or of one WNID per line in ID order.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> folder = Path(tempfile.mkdtemp())
        >>> for name in ("a.jpg", "b.jpg", "c.jpg"):
        ...     Image.new("RGB", (40, 30)).save(folder / name)
        >>> lines = ["a.jpg n01440764", "b.jpg n01443537", "c.jpg n01440764"]  # Caffe's val.txt
        >>> _ = (folder / "val.txt").write_text("\\n".join(lines))
        >>> val = labels_file(folder, folder / "val.txt")  # WordNet ids: ImageNet's order
        >>> val.num_classes, val.labels.tolist()
        (1000, [0, 1, 0])
    """
    folder = _existing_dir(folder, "image folder")
    labels = Path(labels)
    if not labels.is_file():
        raise FileNotFoundError(f"No labels file at '{labels}'.")
    paths, raw = _listed_once(*_read_labels(folder, labels), labels)
    if meta is not None:
        raw = _ilsvrc_ids_to_synsets(raw, meta, labels)
    class_names = _class_list(classes) if classes is not None else None
    if class_names is None and all(value.lstrip("-").isdigit() for value in raw):
        indices = np.array([int(v) for v in raw], np.int64)
        class_names = [str(i) for i in range(int(indices.max(initial=-1)) + 1)]
    else:
        if class_names is None:
            imagenet = [wnid for wnid, _ in imagenet_synsets()]
            class_names = imagenet if raw and set(raw) <= set(imagenet) else sorted(set(raw))
        position = {name: i for i, name in enumerate(class_names)}
        unknown = sorted(set(raw) - set(position))
        if unknown:
            raise ValueError(f"Labels file '{labels}' uses unknown classes: {unknown[:5]}.")
        indices = np.array([position[v] for v in raw], np.int64)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(class_names)):
        raise ValueError(
            f"Labels file '{labels}' has labels outside [0, {len(class_names) - 1}]: "
            f"min={indices.min()}, max={indices.max()}."
        )
    return FileSource(f"labels:{folder}", class_names, indices, paths)


def _listed_once(paths, raw, labels) -> tuple[list, list]:
    """Each image of a labels file once: a repeat with the same label is named in a
    warning and dropped (it would count twice in every error rate); a repeat with another
    label is refused."""
    first: dict[str, str] = {}
    kept_paths, kept_raw = [], []
    for path, value in zip(paths, raw, strict=True):
        key = str(path)
        if key not in first:
            first[key] = value
            kept_paths.append(path)
            kept_raw.append(value)
        elif first[key] != value:
            raise ValueError(
                f"Labels file '{labels}' labels {Path(path).name!r} both {first[key]} and "
                f"{value}; give each image one label."
            )
        else:
            logger.warning(
                "Labels file '%s': %s listed again; counted once.", labels, Path(path).name
            )
    return kept_paths, kept_raw


def _read_labels(folder: Path, labels: Path):
    """(image paths, raw label strings) from any of the forms :func:`labels_file` takes."""
    if labels.suffix.lower() == ".csv":
        rows = read_csv_rows(labels)
        header = [c.strip().lower() for c in rows[0][:2]] if rows else []
        if header == ["imageid", "predictionstring"]:  # Kaggle's LOC_val_solution.csv
            rows = [row for row in rows[1:] if len(row) > 1 and row[1].split()]
            names = [f"{row[0].strip()}.JPEG" for row in rows]
            return _listed_files(folder, names, labels), [row[1].split()[0] for row in rows]
        if header != ["file", "label"]:
            raise ValueError(
                f"Labels file '{labels}' must start with the header 'file,label' (or be "
                "Kaggle's LOC_val_solution.csv, 'ImageId,PredictionString')."
            )
        paths = _listed_files(folder, [row[0].strip() for row in rows[1:]], labels)
        return paths, [row[1].strip() for row in rows[1:]]
    lines = [line.split() for line in read_text_file(labels).splitlines() if line.strip()]
    if lines and all(len(fields) == 2 for fields in lines):  # "file label" (Caffe val.txt)
        paths = _listed_files(folder, [fields[0] for fields in lines], labels)
        return paths, [fields[1] for fields in lines]
    raw = [" ".join(fields) for fields in lines]
    paths = [Path(p) for p in _image_files(folder)]
    if len(raw) != len(paths):
        raise ValueError(
            f"Labels file '{labels}' has {len(raw)} labels but folder '{folder}' has "
            f"{len(paths)} images; they must match one to one in file-name order."
        )
    return paths, raw


def _ilsvrc_ids_to_synsets(raw, meta, labels) -> list[str]:
    """Devkit ILSVRC2012_IDs (1-based) -> WordNet ids, by the devkit's meta.mat or a text
    mapping."""
    meta = Path(meta)
    if not meta.is_file():
        raise FileNotFoundError(f"No ILSVRC2012_ID mapping (meta) file at '{meta}'.")
    if meta.suffix.lower() == ".mat":
        from scipy.io import loadmat

        synsets = loadmat(str(meta), squeeze_me=True)["synsets"]
        mapping = {str(int(s["ILSVRC2012_ID"])): str(s["WNID"]) for s in synsets}
    else:
        lines = [line.split() for line in read_text_file(meta).splitlines() if line.strip()]
        if all(len(fields) >= 2 and fields[0].isdigit() for fields in lines):
            mapping = {fields[0]: fields[1] for fields in lines}
        else:
            mapping = {str(i): fields[0] for i, fields in enumerate(lines, start=1)}
    unknown = sorted({value for value in raw if value not in mapping})
    if unknown:
        raise ValueError(
            f"Labels file '{labels}' has ILSVRC2012_IDs that '{meta}' does not map: {unknown[:5]}."
        )
    return [mapping[value] for value in raw]


def tfrecords(pattern, classes=None) -> TFRecordSource:
    """TFRecord shards in the ImageNet schema, e.g. written by ``kvgg data to-tfrecord``.

    Class names come from ``classes``, else from the ``classes.txt`` that
    ``kvgg data to-tfrecord`` writes beside the shards, else from one scan of the shards'
    ``image/class/synset`` values (sorted).

    Args:
        pattern: a glob such as ``"imagenet/train-*"``, or a folder of ``*.tfrecord`` files.
        classes: optional class list or file (one synset per line).

    Example:
        >>> import tempfile
        >>> from kvgg.data.tfrecord import write_tfrecords
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> out = tempfile.mkdtemp()
        >>> shards, left_out = write_tfrecords(image_folder(images), out, shards=2)
        >>> source = tfrecords(f"{out}/train-*")  # class names from the classes.txt beside
        >>> source.class_names, len(source)
        (['blue', 'green', 'red'], 6)
    """
    pattern = str(pattern)
    if Path(pattern).is_dir():
        pattern = str(Path(pattern) / "*.tfrecord")
    files = sorted(path for path in glob.glob(pattern) if Path(path).is_file())
    if not files:
        raise FileNotFoundError(f"No TFRecord files match '{pattern}'.")
    for file in files:
        _check_tfrecord(file)
    if classes is not None:
        class_names = _class_list(classes)
    elif (Path(files[0]).parent / tfrecord.CLASSES_FILE).is_file():
        class_names = _class_list(Path(files[0]).parent / tfrecord.CLASSES_FILE)
    else:
        class_names = tfrecord.scan_synsets(files)
    return TFRecordSource(f"tfrecord:{pattern}", class_names, files)


def voc(root, year: int | str = 2007, split: str = "trainval") -> VOCSource:
    """PASCAL VOC classification data: multi-hot labels over the 20 classes, with boxes.

    Splits without annotations (the VOC-2012 ``test`` set: ``ImageSets/Main/test.txt`` and
    the JPEGs, no ``Annotations``) load too, with ``annotated`` False and NaN labels (see
    :class:`VOCSource`). A split with only some annotation files is an error naming the
    first missing one.

    Args:
        root: the ``VOCdevkit`` folder (holding ``VOC2007``/``VOC2012``) or a ``VOC20xx``
            folder itself.
        year: 2007 or 2012.
        split: ``train``, ``val``, ``trainval`` or ``test`` (a file in ImageSets/Main).

    Example:
        Not run as a doctest: it needs the PASCAL VOC download (VOCdevkit) on disk.

        >>> test = voc("VOCdevkit", 2007, "test")  # doctest: +SKIP
        >>> test.labels.shape, test.difficult.shape  # doctest: +SKIP
        ((4952, 20), (4952, 20))
        >>> voc("VOCdevkit", 2012, "test").annotated  # doctest: +SKIP
        False
    """
    root = _existing_dir(root, "VOC folder")
    year_dir = root if root.name == f"VOC{year}" else root / f"VOC{year}"
    year_dir = _existing_dir(year_dir, f"VOC{year} folder")
    ids = voc_annotations.read_split(year_dir, split)
    paths = [year_dir / "JPEGImages" / f"{image_id}.jpg" for image_id in ids]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} images of split '{split}' missing: '{missing[0]}'."
        )
    classes = voc_annotations.VOC_CLASSES
    annotations = [year_dir / "Annotations" / f"{image_id}.xml" for image_id in ids]
    annotated = any(path.is_file() for path in annotations)
    labels = np.full((len(ids), len(classes)), 0.0 if annotated else np.nan, np.float32)
    difficult = np.zeros((len(ids), len(classes)), bool)
    objects = [[] for _ in ids]
    for row, path in enumerate(annotations if annotated else []):
        objects[row] = voc_annotations.read_annotation(path)
        for obj in objects[row]:
            labels[row, classes.index(obj.name)] = 1.0
        for column, name in enumerate(classes):
            flags = [obj.difficult for obj in objects[row] if obj.name == name]
            difficult[row, column] = bool(flags) and all(flags)
    return VOCSource(
        f"voc:{year_dir}:{split}", classes, labels, paths, ids, difficult, objects, annotated
    )


def caltech(root, kind: int = 101, subset: str = "train", seed: int = 0, split_dir=None):
    """Caltech-101 or Caltech-256 with the paper's seeded random train/test split.

    Caltech-101: all 102 folders of ``101_ObjectCategories`` (incl. ``BACKGROUND_Google``),
    30 training and up to 50 test images per class. Caltech-256: the 257 folders
    ``NNN.name`` of ``256_ObjectCategories`` (incl. ``257.clutter``), 60 training images per
    class and the rest for testing. The split is drawn once per seed and saved as JSON
    (``split_dir``, default ``root``), so later runs, and other people, reuse exactly it.

    Args:
        root: the folder holding ``101_ObjectCategories`` / ``256_ObjectCategories``, or
            that folder itself.
        kind: 101 or 256.
        subset: ``train`` or ``test``.
        seed: the split's seed (the paper averages over 3 splits: seeds 0, 1, 2).
        split_dir: where split files are saved and looked up.

    Example:
        Not run as a doctest: it needs the Caltech-101 download on disk (all 102 class
        folders, each of more than 30 images).

        >>> train = caltech("data/caltech", 101, "train", seed=1)  # doctest: +SKIP
        >>> train.split_file.name  # doctest: +SKIP
        'caltech101-split-seed1.json'
    """
    if subset not in ("train", "test"):
        raise ValueError(f"Caltech subset must be 'train' or 'test'. Received: subset={subset!r}")
    folder = caltech_splits.category_folder(_existing_dir(root, "Caltech folder"), int(kind))
    class_folders = caltech_splits.class_folders(folder, int(kind))
    files = {name: [Path(p).name for p in _image_files(folder / name)] for name in class_folders}
    for name, names in files.items():
        if not names:
            raise ValueError(f"Class folder '{folder / name}' contains no images.")
    split_file = Path(split_dir or folder.parent) / f"caltech{kind}-split-seed{seed}.json"
    split = caltech_splits.load_or_create(split_file, files, kind=int(kind), seed=int(seed))
    class_names = [caltech_splits.class_name(name) for name in class_folders]
    paths, labels = [], []
    for index, name in enumerate(class_folders):
        for file in split[subset][name]:
            paths.append(folder / name / file)
            labels.append(index)
    return CaltechSource(
        f"caltech{kind}:{folder}:{subset}:seed{seed}",
        class_names,
        np.array(labels, np.int64),
        paths,
        split_file,
        int(seed),
    )


def keras_dataset(name: str, subset: str = "train") -> ArraySource:
    """Fashion-MNIST, CIFAR-10 or CIFAR-100 from ``keras.datasets`` (downloaded on first use).

    Grayscale images are repeated to 3 channels; values stay uint8 in [0, 255].

    Args:
        name: ``fashion_mnist``, ``cifar10`` or ``cifar100``.
        subset: ``train`` or ``test``.

    Example:
        Not run as a doctest: the first call downloads the data set.

        >>> cifar = keras_dataset("cifar10", "test")  # doctest: +SKIP
        >>> cifar.images.shape  # doctest: +SKIP
        (10000, 32, 32, 3)
    """
    import keras

    if name not in KERAS_CLASS_NAMES:
        raise ValueError(
            f"Unknown Keras dataset; expected one of {sorted(KERAS_CLASS_NAMES)}. "
            f"Received: name={name!r}"
        )
    subset = _check_subset(subset)
    train, test = getattr(keras.datasets, name).load_data()
    images, labels = train if subset == "train" else test
    return _array_source(f"{name}:{subset}", KERAS_CLASS_NAMES[name], images, labels)


def digits(subset: str = "train") -> ArraySource:
    """scikit-learn's 8x8 handwritten digits: a real 10-class dataset needing no download.

    1797 images (0-9), scaled from 0..16 to uint8 0..255 and repeated to 3 channels; a fixed
    seeded 80/20 split gives 1438 training and 359 test images.

    Args:
        subset: ``train`` or ``test``.

    Example:
        >>> train = digits()
        >>> train.images.shape, train.num_classes
        ((1438, 8, 8, 3), 10)
    """
    from sklearn.datasets import load_digits

    subset = _check_subset(subset)
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    cut = int(round(0.8 * len(order)))
    chosen = order[:cut] if subset == "train" else order[cut:]
    images = np.round(data.images[chosen] * (255.0 / 16.0)).astype(np.uint8)
    return _array_source(
        f"digits:{subset}", [str(d) for d in range(10)], images, data.target[chosen]
    )


def _array_source(name, class_names, images, labels) -> ArraySource:
    images = np.asarray(images, np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    labels = np.asarray(labels, np.int64).reshape(-1)
    return ArraySource(name, class_names, labels, images)


def _check_tfrecord(file) -> None:
    """Refuse a file whose first record is not a TFRecord (a cheap read of one record)."""
    try:
        for _ in tf.data.TFRecordDataset(file).take(1):
            pass
    except tf.errors.OpError as error:  # DataLossError, mostly
        first = error.message.strip().splitlines()[0] if error.message.strip() else ""
        raise ValueError(f"'{file}' is not a TFRecord file (or is damaged): {first}") from None


def _check_subset(subset):
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test'. Received: subset={subset!r}")
    return subset


def _existing_dir(path, what) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"No {what} at '{path}'.")
    if not path.is_dir():
        raise NotADirectoryError(f"The {what} '{path}' is not a directory.")
    return path


def _image_files(folder: Path) -> list[str]:
    candidates = [
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    for path in candidates:
        if path.is_symlink() and not path.exists():  # a loop, or a link to nothing
            logger.warning("Skipped %s: a symbolic link that leads to no file (a loop?)", path)
    return sorted(str(p) for p in candidates if p.is_file())


def _listed_files(folder: Path, names, listing) -> list[Path]:
    paths = [folder / name for name in names]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"'{listing}' names '{path.name}', which is not in '{folder}'.")
    return paths


def _extensions():
    return ", ".join(IMAGE_EXTENSIONS)


def _class_list(classes) -> list[str]:
    """A class list given as a list, or as a text/JSON file naming one class per line."""
    if isinstance(classes, (list, tuple)):
        return [str(c) for c in classes]
    path = Path(classes)
    if not path.is_file():
        raise FileNotFoundError(f"No class list file at '{path}'.")
    if path.suffix == ".json":
        return [str(c) for c in json.loads(read_text_file(path))]
    return [line.split()[0] for line in read_text_file(path).splitlines() if line.strip()]
