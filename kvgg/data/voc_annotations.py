"""PASCAL VOC annotation files (``Annotations/*.xml``) and image-set lists."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

VOC_CLASSES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
]  # fmt: skip

SPLITS = ("train", "val", "trainval", "test")


@dataclass(frozen=True)
class VOCObject:
    """One annotated object: class name, box (xmin, ymin, xmax, ymax) in 1-based pixels."""

    name: str
    box: tuple[float, float, float, float]
    difficult: bool
    truncated: bool


def read_split(year_dir: Path, split: str) -> list[str]:
    """Image ids listed in ``ImageSets/Main/<split>.txt``."""
    if split not in SPLITS:
        raise ValueError(f"VOC split must be one of {SPLITS}. Received: split={split!r}")
    path = year_dir / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"No VOC image set file at '{path}'.")
    ids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
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
