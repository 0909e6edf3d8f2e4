"""PASCAL VOC annotation files (``Annotations/*.xml``) and image-set lists."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from kvgg.io import read_text_file

VOC_CLASSES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
]  # fmt: skip

SPLITS = ("train", "val", "trainval", "test")

logger = logging.getLogger("kvgg.data")


@dataclass(frozen=True)
class VOCObject:
    """One annotated object: class name, box (xmin, ymin, xmax, ymax) in 1-based pixels."""

    name: str
    box: tuple[float, float, float, float]
    difficult: bool
    truncated: bool


def pixel_box(box, width: int, height: int):
    """A ground-truth box in the files' 1-based inclusive corners, as continuous pixel
    corners clipped to the image (as the ILSVRC devkit clips), or why it is unusable.

    Args:
        box: (xmin, ymin, xmax, ymax) as written in a VOC/ILSVRC XML file or Kaggle CSV.
        width, height: the image's size in pixels.

    Returns:
        ``(corners, None)`` with corners ``(xmin - 1, ymin - 1, xmax, ymax)`` clipped to
        ``[0, width] x [0, height]``, or ``(None, reason)`` for a box with a NaN or
        infinite coordinate, reversed or empty, or wholly outside the image.

    Example:
        >>> pixel_box((-9, 20, 100, 60), 64, 48)  # partly outside: clipped
        ((0.0, 19.0, 64.0, 48.0), None)
        >>> pixel_box((40, 10, 20, 30), 64, 48)
        (None, 'xmax < xmin: (40, 10, 20, 30)')
    """
    import math

    shown = "(" + ", ".join(f"{v:g}" for v in box) + ")"
    x1, y1, x2, y2 = box[0] - 1.0, box[1] - 1.0, float(box[2]), float(box[3])
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return None, f"NaN or infinite coordinate: {shown}"
    if x2 < x1 or y2 < y1:
        axis = "x" if x2 < x1 else "y"
        return None, f"{axis}max < {axis}min: {shown}"
    if x2 == x1 or y2 == y1:
        return None, f"zero area: {shown}"
    clipped = (max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height)))
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        return None, f"outside the {width}x{height} image: {shown}"
    return clipped, None


def read_split(year_dir: Path, split: str) -> list[str]:
    """Image ids listed in ``ImageSets/Main/<split>.txt``, each once (a repeated one is
    named in a warning of the ``kvgg.data`` logger)."""
    if split not in SPLITS:
        raise ValueError(f"VOC split must be one of {SPLITS}. Received: split={split!r}")
    path = year_dir / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"No VOC image set file at '{path}'.")
    first = {}  # image id -> the line that listed it first
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        if not line.strip():
            continue
        image_id = line.split()[0]
        if image_id in first:  # counted once: twice would weigh it double in the AP
            logger.warning(
                "%s line %d: %s listed again (first on line %d); counted once.",
                path, number, image_id, first[image_id],
            )  # fmt: skip
        else:
            first[image_id] = number
    ids = list(first)
    if not ids:
        raise ValueError(f"VOC image set file '{path}' lists no images.")
    return ids


def parse_annotation_xml(path: Path) -> ElementTree.Element:
    """The root element of a VOC-style XML file; a missing or malformed file is named.

    Raises:
        FileNotFoundError: when the file is missing.
        ValueError: when it is not well-formed XML.
    """
    if not path.is_file():
        raise FileNotFoundError(f"No VOC annotation file at '{path}'.")
    try:
        return ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise ValueError(f"VOC annotation '{path}' is not valid XML: {error}") from None


def read_annotation(path: Path, classes=VOC_CLASSES) -> list[VOCObject]:
    """The objects of one annotation file; errors name the file and the bad element.

    Args:
        path: a PASCAL-VOC-style XML file (VOC ``Annotations/`` or ILSVRC ``bbox`` files).
        classes: the accepted object names (VOC's 20 by default); None accepts any name.
    """
    root = parse_annotation_xml(path)
    objects = []
    for element in root.iter("object"):
        name = (element.findtext("name") or "").strip()
        if not name or (classes is not None and name not in classes):
            raise ValueError(f"VOC annotation '{path}' has an unknown class: name={name!r}")
        box = element.find("bndbox")
        try:
            coords = tuple(float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError) as error:
            raise ValueError(f"VOC annotation '{path}' has a bad bndbox for '{name}'.") from error
        objects.append(
            VOCObject(
                name=name,
                box=coords,
                difficult=(element.findtext("difficult") or "0").strip() == "1",
                truncated=(element.findtext("truncated") or "0").strip() == "1",
            )
        )
    return objects
