"""Tiny datasets in the exact on-disk layouts kvgg reads: ImageNet-style class folders, a
VOC devkit tree, a Caltech category tree. Images are real JPEG files written with Pillow, each
class in its own colour. The tutorials make their data with them (``kvgg data demo``), and the
tests use them as fixtures.

Example:
    >>> import tempfile
    >>> written = demo_data(["imagenet", "voc", "caltech"], tempfile.mkdtemp())
    >>> [path.name for path in written.values()]
    ['imagenet', 'VOC2007', '101_ObjectCategories']
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from kvgg.data.voc_annotations import VOC_CLASSES

DEMO_KINDS = {
    "imagenet": "imagenet/{train,val}/<synset>/*.jpg: 4 classes, 6 training and 2 validation "
    "images each, 60x80",
    "voc": "VOCdevkit/VOC2007: 30 images of dogs, cats and people (20 trainval, 10 test), "
    "with XML annotations",
    "caltech": "caltech/101_ObjectCategories: 102 folders of 31-34 images, 24x24",
}
"""What ``kvgg data demo KIND`` writes, under its output folder."""


def demo_data(kinds, root) -> dict[str, Path]:
    """Write the tutorials' toy datasets (`DEMO_KINDS`) under ``root``.

    Returns:
        Each kind's dataset folder (``root/imagenet``, ``root/VOCdevkit/VOC2007``, ...).

    Raises:
        ValueError: for an unknown kind, or a dataset folder that already exists.
    """
    root = Path(root)
    targets = {
        "imagenet": root / "imagenet",
        "voc": root / "VOCdevkit",
        "caltech": root / "caltech",
    }
    for kind in kinds:
        if kind not in DEMO_KINDS:
            raise ValueError(
                f"Unknown demo dataset {kind!r}; expected one of {sorted(DEMO_KINDS)}."
            )
        if targets[kind].exists():
            raise ValueError(f"{targets[kind]} already exists; remove it or pick another folder.")
    written = {}
    for kind in kinds:
        if kind == "imagenet":
            synsets = ["n01440764", "n01443537", "n01484850", "n01491361"]
            make_image_folder(targets[kind] / "train", synsets, per_class=6, size=(60, 80))
            make_image_folder(targets[kind] / "val", synsets, per_class=2, size=(60, 80))
            written[kind] = targets[kind]
        elif kind == "voc":
            classes = ["dog", "cat", "person"]
            images = {
                f"{i:06d}": [(classes[i % 3], (4, 4, 60, 44), False)]
                + ([("person", (10, 10, 40, 40), False)] if i % 4 == 0 else [])
                for i in range(1, 31)
            }
            ids = list(images)
            splits = {"trainval": ids[:20], "test": ids[20:], "train": ids[:10], "val": ids[10:20]}
            written[kind] = make_voc(root, 2007, images=images, splits=splits, size=(96, 128))
            written[kind] /= "VOC2007"
        else:
            written[kind] = make_caltech(targets[kind], 101)
    return written


def class_image(index: int, size=(32, 32), seed: int = 0) -> np.ndarray:
    """A uint8 (H, W, 3) image: a class-specific colour plus mild noise and a gradient."""
    height, width = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed + 1000 * index)
    base = np.array([(index * 67) % 256, (index * 131 + 60) % 256, (index * 29 + 120) % 256])
    ramp = np.linspace(-30, 30, width)[None, :, None]
    noise = rng.normal(0, 8, (height, width, 3))
    return np.clip(base + ramp + noise, 0, 255).astype(np.uint8)


def write_image(path, array, format=None, **options) -> Path:
    """Save a uint8 array with Pillow (format from the suffix unless given)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=format, **options)
    return path


def make_image_folder(root, classes=("cat", "dog", "fish"), per_class=4, size=32, ext="jpg"):
    """An ImageNet-train-style folder: ``root/<class>/<class>_<i>.<ext>``.

    Returns:
        The root path.
    """
    root = Path(root)
    for index, name in enumerate(classes):
        for i in range(per_class):
            write_image(root / name / f"{name}_{i}.{ext}", class_image(index, size, seed=i))
    return root


def make_voc(root, year=2007, images=None, splits=None, size=(48, 64), withheld=()):
    """A ``VOCdevkit/VOC<year>`` tree with JPEGImages, Annotations and ImageSets/Main.

    Args:
        root: where ``VOCdevkit`` is created.
        year: 2007 or 2012.
        images: {image_id: [(class, (xmin, ymin, xmax, ymax), difficult), ...]}; default:
            four images covering single, multiple, difficult-only and mixed objects.
        splits: {split: [image_id, ...]}; default: train = first two, val = rest,
            trainval = all, test = all.
        withheld: image ids whose annotation file is not written (as in the VOC-2012 test
            set, which ships only JPEGs and the image list).

    Returns:
        The ``VOCdevkit`` path.
    """
    images = images or {
        "000001": [("dog", (5, 6, 40, 30), False)],
        "000002": [("cat", (1, 1, 20, 20), False), ("person", (10, 12, 50, 40), False)],
        "000003": [("bird", (3, 3, 30, 30), True)],
        "000004": [("car", (2, 2, 60, 40), True), ("car", (5, 5, 25, 25), False)],
    }
    ids = list(images)
    splits = splits or {"train": ids[:2], "val": ids[2:], "trainval": ids, "test": ids}
    base = Path(root) / "VOCdevkit" / f"VOC{year}"
    for image_id, objects in images.items():
        first = VOC_CLASSES.index(objects[0][0]) if objects else 0
        write_image(base / "JPEGImages" / f"{image_id}.jpg", class_image(first, size))
        xml = [
            f"<annotation><folder>VOC{year}</folder><filename>{image_id}.jpg</filename>",
            f"<size><width>{size[1]}</width><height>{size[0]}</height><depth>3</depth></size>",
        ]
        for name, (x0, y0, x1, y1), difficult in objects:
            xml.append(
                f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
                f"<difficult>{int(difficult)}</difficult><bndbox><xmin>{x0}</xmin>"
                f"<ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
            )
        xml.append("</annotation>")
        if image_id in withheld:
            continue
        path = base / "Annotations" / f"{image_id}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(xml))
    main = base / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    for split, members in splits.items():
        (main / f"{split}.txt").write_text("".join(f"{m}\n" for m in members))
    return base.parent


def make_caltech(root, kind=101, per_class=None, size=24):
    """A ``101_ObjectCategories`` (102 folders incl. BACKGROUND_Google) or
    ``256_ObjectCategories`` (257 ``NNN.name`` folders incl. ``257.clutter``) tree.

    Args:
        root: where the category folder is created.
        kind: 101 or 256.
        per_class: images per class; default one more than the training count plus a few
            (34 for 101, 63 for 256), varied by class so test sets differ in size.
        size: image side.

    Returns:
        The category folder.
    """
    if kind == 101:
        names = ["BACKGROUND_Google", "Faces", "Faces_easy"] + [f"class{i:03d}" for i in range(99)]
        folder = Path(root) / "101_ObjectCategories"
        base_count = 31
    else:
        names = [f"{i:03d}.class{i}" for i in range(1, 257)] + ["257.clutter"]
        folder = Path(root) / "256_ObjectCategories"
        base_count = 61
    image = Image.fromarray(class_image(0, size))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    data = buffer.getvalue()  # one encoded image copied everywhere: the tree is large
    for index, name in enumerate(sorted(names)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        count = per_class if per_class is not None else base_count + index % 4
        for i in range(count):
            prefix = f"{name.split('.')[0]}_" if kind == 256 else "image_"
            (folder / name / f"{prefix}{i + 1:04d}.jpg").write_bytes(data)
    return folder
