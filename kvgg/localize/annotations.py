"""Images with their ground-truth boxes: ILSVRC/VOC XML trees and Kaggle's LOC_*_solution.csv.

A `BoxSource` holds, per image, its path, its class and the boxes of that class as pixel
corners ``(xmin, ymin, xmax, ymax)`` (continuous coordinates, see `kvgg.localize.boxes`;
the XML's 1-based inclusive corners ``x1..x2`` become ``x1 - 1 .. x2``). An image whose
annotation is missing, is not valid XML, has a bad ``bndbox`` or no box of the image's
class is left out, counted and named in ``source.bad_annotations`` (and logged), like an
undecodable image (which the pipelines of `kvgg.localize.data` count and name in
``source.bad_files``); it never stops the run. So is each damaged box (reversed, of zero
area, with a NaN or infinite coordinate, or wholly outside the image), named by file and
object (XML) or line (CSV); a box partly outside the image is clipped to it, as the
ILSVRC devkit does. A Kaggle image listed twice is scored once (later rows are named and
dropped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from kvgg.data.bad_files import BadFiles
from kvgg.data.voc_annotations import pixel_box, read_annotation
from kvgg.io import read_csv_rows

__all__ = ["BoxSource", "box_folder", "kaggle_boxes"]

_IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".gif")


@dataclass
class BoxSource:
    """Images, their class indices and their ground-truth boxes (pixel corners).

    Args:
        name: where the data came from.
        class_names: the class names, in label order.
        paths: one image file per example.
        labels: (N,) class indices.
        boxes: per image, a (K, 4) float array of the boxes of its class, K >= 1.
        bad_annotations: the images left out for a missing or bad annotation.
        bad_files: the undecodable images met by pipelines reading this source (as
            `kvgg.data.Source.bad_files`).
    """

    name: str
    class_names: list[str]
    paths: list[str]
    labels: np.ndarray
    boxes: list[np.ndarray]
    bad_annotations: BadFiles = field(default_factory=lambda: _bad_annotations())
    bad_files: BadFiles = field(default_factory=BadFiles)
    stores_files: ClassVar[bool] = True  # as `kvgg.data.FileSource`: read lazily

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def box_tensor(self):
        """Every image's boxes as one ragged (N, None, 4) float32 tensor: each image holds
        its own K boxes, so one image with 100,000 boxes costs 1.6 MB, not N x 1.6 MB (as
        padding every image to the largest count would)."""
        import tensorflow as tf

        counts = [len(boxes) for boxes in self.boxes]
        flat = np.concatenate(self.boxes).astype(np.float32) if self.boxes else np.zeros((0, 4))
        return tf.RaggedTensor.from_row_lengths(flat.reshape(-1, 4), counts)

    def named_dataset(self, *, shuffle=False, seed=None, shuffle_buffer=10_000, read=True):
        """(image, (class index, its (K, 4) boxes), path) per image, as
        `kvgg.data.Source.named_dataset`: the items every kvgg pipeline reads.

        Example:
            >>> source = BoxSource("demo", ["cat"], ["a.jpg"], np.array([0]), [np.ones((1, 4))])
            >>> path, (label, boxes), name = next(iter(source.named_dataset(read=False)))
            >>> int(label), tuple(boxes.shape), name.numpy()
            (0, (1, 4), b'a.jpg')
        """
        from kvgg.data.sources import file_items

        labels = (self.labels, self.box_tensor())
        return file_items(self.paths, labels, shuffle=shuffle, seed=seed, read=read)

    def subset(self, indices) -> BoxSource:
        """The source of the images at ``indices`` (in that order); it shares this one's
        ``bad_annotations`` and ``bad_files`` logs.

        Example:
            >>> source = BoxSource("demo", ["cat"], ["a.jpg", "b.jpg"], np.array([0, 0]),
            ...                    [np.ones((1, 4)), np.zeros((2, 4))])
            >>> kept = source.subset([1])
            >>> kept.paths, kept.boxes[0].shape, kept.bad_files is source.bad_files
            (['b.jpg'], (2, 4), True)
        """
        indices = [int(i) for i in indices]
        return BoxSource(
            name=self.name,
            class_names=self.class_names,
            paths=[self.paths[i] for i in indices],
            labels=self.labels[indices],
            boxes=[self.boxes[i] for i in indices],
            bad_annotations=self.bad_annotations,
            bad_files=self.bad_files,
        )


def box_folder(images, annotations, classes=None) -> BoxSource:
    """Images with PASCAL-VOC-style XML boxes (ILSVRC ``bbox`` files, VOC ``Annotations``).

    Two layouts: class folders (``images/n01440764/x.JPEG``) with a parallel annotation
    tree (``annotations/n01440764/x.xml``), the ILSVRC-2012 training layout; or a flat
    folder of images (``images/x.JPEG``) with ``annotations/x.xml`` beside each, where the
    class is the first object's name (the ILSVRC-2012 validation layout).

    Args:
        images: the image folder.
        annotations: the annotation folder.
        classes: the class names in label order (a list); default: the sorted class
            folders, or the sorted object names of a flat folder.

    Returns:
        A `BoxSource`; images without a usable annotation are left out and named in
        ``bad_annotations``.

    Example:
        >>> import tempfile
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, annotations = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> train = box_folder(images, annotations)  # as ILSVRC2012/train, ILSVRC2012/bbox/train
        >>> train.class_names, len(train.paths), train.boxes[0].tolist()
        (['blue', 'green', 'red'], 6, [[13.0, 9.0, 47.0, 27.0]])
    """
    images, annotations = _folder(images, "image"), _folder(annotations, "annotation")
    folders = sorted(p.name for p in images.iterdir() if p.is_dir() and not p.name.startswith("."))
    bad = _bad_annotations()
    examples = []  # (path, class name, boxes)
    if folders:
        for folder in folders:
            for path in _images_in(images / folder):
                xml = annotations / folder / f"{path.stem}.xml"
                boxes = _boxes_of(xml, folder, bad, path)
                if boxes is not None:
                    examples.append((str(path), folder, boxes))
        class_names = list(classes) if classes is not None else folders
    else:
        for path in _images_in(images):
            xml = annotations / f"{path.stem}.xml"
            boxes = _boxes_of(xml, None, bad, path)
            if boxes is not None:
                examples.append((str(path), *boxes))
        names = sorted({name for _, name, _ in examples})
        class_names = list(classes) if classes is not None else names
    return _source(f"boxes:{images}", class_names, examples, bad)


def kaggle_boxes(images, solution, classes=None) -> BoxSource:
    """Images with boxes from Kaggle's ``LOC_train_solution.csv`` / ``LOC_val_solution.csv``.

    Each row is ``ImageId,PredictionString`` with the string a repetition of ``synset xmin
    ymin xmax ymax``. The image's class is the first synset; its boxes are those of that
    synset. The image is ``images/<ImageId>.JPEG`` (validation) or
    ``images/<synset>/<ImageId>.JPEG`` (training).

    Args:
        images: the image folder.
        solution: the CSV file.
        classes: the class names in label order; default: the sorted synsets found.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> val = Path(tempfile.mkdtemp())  # as ILSVRC/Data/CLS-LOC/val
        >>> for image_id in ("val_1", "val_2"):
        ...     Image.new("RGB", (64, 48)).save(val / f"{image_id}.JPEG")
        >>> rows = ["ImageId,PredictionString", "val_1,n01440764 1 1 20 30 n01440764 30 1 60 40",
        ...         "val_2,n01443537 5 5 40 40"]
        >>> _ = (val / "LOC_val_solution.csv").write_text("\\n".join(rows))
        >>> source = kaggle_boxes(val, val / "LOC_val_solution.csv")
        >>> source.class_names, [len(boxes) for boxes in source.boxes]
        (['n01440764', 'n01443537'], [2, 1])
    """
    images = _folder(images, "image")
    solution = Path(solution)
    if not solution.is_file():
        raise FileNotFoundError(f"No Kaggle solution file at '{solution}'.")
    rows = read_csv_rows(solution)
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["imageid", "predictionstring"]:
        raise ValueError(
            f"Kaggle solution file '{solution}' must start with the header "
            "'ImageId,PredictionString'."
        )
    bad = _bad_annotations()
    examples, first_line = [], {}
    for line, row in enumerate(rows[1:], start=2):
        image_id, fields = row[0].strip(), (row[1].split() if len(row) > 1 else [])
        if image_id in first_line:  # scored once: the first row counts
            bad.record(f"{solution}:{line} ({image_id} listed again, first on line "
                       f"{first_line[image_id]}; dropped)")  # fmt: skip
            continue
        first_line[image_id] = line
        if not fields or len(fields) % 5:
            bad.record(f"{solution}:{line} (PredictionString is not 'synset x1 y1 x2 y2 ...')")
            continue
        synset = fields[0]
        try:
            corners = np.array(
                [[float(v) for v in fields[i + 1 : i + 5]] for i in range(0, len(fields), 5)
                 if fields[i] == synset], np.float32,
            )  # fmt: skip
        except ValueError:
            bad.record(f"{solution}:{line} (a box coordinate is not a number)")
            continue
        path = next(
            (p for p in (images / f"{image_id}.JPEG", images / synset / f"{image_id}.JPEG")
             if p.is_file()), None,
        )  # fmt: skip
        if path is None:
            bad.record(f"{solution}:{line} (no image {image_id}.JPEG under {images})")
            continue
        where = [f"{solution}:{line} (box {i + 1}" for i in range(len(fields) // 5)
                 if fields[5 * i] == synset]  # fmt: skip
        boxes = _usable(corners, where, path, bad)
        if boxes is not None:
            examples.append((str(path), synset, boxes))
    names = sorted({name for _, name, _ in examples})
    class_names = list(classes) if classes is not None else names
    return _source(f"kaggle:{solution}", class_names, examples, bad)


def _source(name, class_names, examples, bad) -> BoxSource:
    position = {c: i for i, c in enumerate(class_names)}
    unknown = sorted({c for _, c, _ in examples} - set(position))
    if unknown:
        raise ValueError(f"{name}: classes not in the class list: {unknown[:5]}")
    if not examples:
        raise ValueError(f"{name}: no image with a usable box annotation ({bad}).")
    return BoxSource(
        name=name,
        class_names=list(class_names),
        paths=[p for p, _, _ in examples],
        labels=np.array([position[c] for _, c, _ in examples], np.int64),
        boxes=[b for _, _, b in examples],
        bad_annotations=bad,
    )


def _boxes_of(xml: Path, class_name, bad: BadFiles, image: Path):
    """The boxes of ``class_name`` (or (name, boxes) of the first object's class when
    None) in one XML file, checked and clipped to ``image`` (`_usable`); None (recorded in
    ``bad``) when it has none or is unusable."""
    try:
        objects = read_annotation(xml, classes=None)
    except (ValueError, FileNotFoundError) as error:
        bad.record(f"{xml} ({_reason(error)})")
        return None
    if not objects:
        bad.record(f"{xml} (no <object>)")
        return None
    name = class_name or objects[0].name
    mine = [(i, o) for i, o in enumerate(objects, start=1) if o.name == name]
    if not mine:
        bad.record(f"{xml} (no box of class {name!r})")
        return None
    boxes = _usable([o.box for _, o in mine], [f"{xml} (object {i}" for i, _ in mine], image, bad)
    if boxes is None:
        return None
    return boxes if class_name else (name, boxes)


def _usable(corners, where, image, bad: BadFiles):
    """The boxes (1-based inclusive corners, as in the files) of one image as continuous
    pixel corners clipped to the image (`kvgg.data.voc_annotations.pixel_box`); each bad
    box is recorded in ``bad`` under ``where`` (its file and object or line) and left out.
    None when no box is left."""
    size = _image_size(image)
    kept = []
    for box, place in zip(corners, where, strict=True):
        clipped, problem = pixel_box(tuple(float(v) for v in box), *size)
        if problem:
            bad.record(f"{place}: {problem}; left out)")
        else:
            kept.append(clipped)
    return np.array(kept, np.float32).reshape(-1, 4) if kept else None


def _image_size(path) -> tuple[float, float]:
    """(width, height) from the image's header; infinite when it cannot be read (the
    pipelines then name the undecodable image)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # noqa: BLE001  (any unreadable image: reported when decoded)
        return math.inf, math.inf


def _reason(error) -> str:
    text = str(error)
    if isinstance(error, FileNotFoundError):
        return "missing"
    if "not valid XML" in text:
        return "not valid XML"
    return "bad bndbox" if "bndbox" in text else text


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)


def _folder(path, what) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"No {what} folder at '{path}'.")
    return path


def _bad_annotations() -> BadFiles:
    """The log of images left out for their annotation."""
    return BadFiles(
        one="a missing or bad annotation or box",
        many="missing or bad annotations or boxes",
    )
