"""A small localisation dataset with known boxes, built from real photographs.

Backgrounds are random crops of scikit-learn's two sample photographs
(``sklearn.datasets.load_sample_images``: a Chinese temple and a flower), turned grey;
each image gets one object, a patch of the other photograph tinted with its class's
colour, pasted at a random place and size. The files are written in the ILSVRC layout
that `kvgg.localize.box_folder` reads: JPEG class folders and a parallel tree of
PASCAL-VOC-style XML boxes. Used by the tests, the tutorial and the benchmarks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["CLASS_TINTS", "pasted_objects", "write_box_xml"]

CLASS_TINTS = {
    "red": (1.0, 0.25, 0.25),
    "green": (0.25, 1.0, 0.25),
    "blue": (0.3, 0.3, 1.0),
}
"""Class name -> RGB multiplier of its objects."""


def pasted_objects(
    root,
    *,
    per_class: int = 40,
    size: tuple[int, int] = (48, 64),
    object_size: tuple[float, float] = (0.35, 0.6),
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write ``root/images/<class>/*.jpg`` and ``root/annotations/<class>/*.xml``.

    Args:
        root: the output folder.
        per_class: images per class.
        size: (height, width) of every image.
        object_size: the object's side as a fraction of the image's (uniform range).
        seed: random seed (same seed, same files).

    Returns:
        (images folder, annotations folder).

    Example:
        >>> import tempfile
        >>> images, annotations = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> sorted(p.name for p in images.iterdir())
        ['blue', 'green', 'red']
    """
    from PIL import Image
    from sklearn.datasets import load_sample_images

    root = Path(root)
    photos = [np.asarray(photo, np.float32) for photo in load_sample_images().images]
    rng = np.random.default_rng(seed)
    height, width = size
    images, annotations = root / "images", root / "annotations"
    for name, tint in CLASS_TINTS.items():
        (images / name).mkdir(parents=True, exist_ok=True)
        (annotations / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            back, front = rng.permutation(len(photos))
            canvas = _grey(_random_patch(photos[back], height, width, rng))
            side_h = int(round(height * rng.uniform(*object_size)))
            side_w = int(round(width * rng.uniform(*object_size)))
            patch = _random_patch(photos[front], side_h, side_w, rng) * np.array(tint)
            top = int(rng.integers(0, height - side_h + 1))
            left = int(rng.integers(0, width - side_w + 1))
            canvas[top : top + side_h, left : left + side_w] = patch
            stem = f"{name}_{index:04d}"
            pixels = np.clip(canvas, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(images / name / f"{stem}.jpg", quality=95)
            box = (left, top, left + side_w, top + side_h)  # continuous corners
            write_box_xml(annotations / name / f"{stem}.xml", f"{stem}.jpg", size, [(name, box)])
    return images, annotations


def write_box_xml(path, filename: str, size: tuple[int, int], objects) -> Path:
    """Write a PASCAL-VOC-style annotation (1-based inclusive corners, as ILSVRC's).

    Args:
        path: the XML file to write.
        filename: the image file it describes.
        size: (height, width) of the image.
        objects: ``[(name, (xmin, ymin, xmax, ymax)), ...]`` in continuous pixel corners.

    Example:
        >>> import tempfile
        >>> path = write_box_xml(Path(tempfile.mkdtemp()) / "a.xml", "a.jpg", (48, 64),
        ...                      [("red", (0, 0, 10, 10))])
        >>> "<xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>10</ymax>" in path.read_text()
        True
    """
    height, width = size
    parts = [
        f"<annotation><filename>{filename}</filename>",
        f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>",
    ]
    for name, (x0, y0, x1, y1) in objects:
        parts.append(
            f"<object><name>{name}</name><bndbox><xmin>{x0 + 1:g}</xmin><ymin>{y0 + 1:g}</ymin>"
            f"<xmax>{x1:g}</xmax><ymax>{y1:g}</ymax></bndbox></object>"
        )
    path = Path(path)
    path.write_text("".join(parts) + "</annotation>\n")
    return path


def _random_patch(photo, height, width, rng):
    """A random crop of ``photo`` resized to (height, width) (nearest neighbour)."""
    scale = rng.uniform(0.3, 0.9)
    crop_h = max(height, int(photo.shape[0] * scale))
    crop_w = max(width, int(crop_h * width / height))
    crop_w = min(crop_w, photo.shape[1])
    top = rng.integers(0, photo.shape[0] - crop_h + 1)
    left = rng.integers(0, photo.shape[1] - crop_w + 1)
    rows = top + (np.arange(height) * crop_h // height)
    cols = left + (np.arange(width) * crop_w // width)
    return photo[rows][:, cols].copy()


def _grey(image):
    return np.repeat(image.mean(axis=-1, keepdims=True), 3, axis=-1)
