"""Tiny datasets in the exact on-disk layouts kvgg reads, for everyone's tests.

Images are real JPEG (or PNG) files written with Pillow; each class gets its own colour so
that a model or a check can tell them apart.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor"]  # fmt: skip


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


def make_bad_files(folder, size=40) -> dict[str, Path]:
    """One file of each kind found in datasets in the wild, keyed by kind.

    Decodable: ``grayscale_jpeg``, ``cmyk_jpeg``, ``rgba_png``, ``png_named_jpg``,
    ``gif_named_jpg``, ``tiny``. Undecodable: ``truncated_jpeg``, ``empty``, ``text_named_jpg``,
    and two that look fine from their first and last bytes but fail inside the decoder:
    ``corrupt_jpeg`` (JPEG markers around garbage) and ``corrupt_png`` (a PNG signature and
    garbage).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rgb = class_image(3, size)
    files = {
        "grayscale_jpeg": write_image(folder / "gray.jpg", rgb[..., 0]),
        "cmyk_jpeg": folder / "cmyk.jpg",
        "rgba_png": folder / "rgba.png",
        "png_named_jpg": write_image(folder / "png_named.jpg", rgb, format="PNG"),
        "gif_named_jpg": write_image(folder / "gif_named.jpg", rgb, format="GIF"),
        "tiny": write_image(folder / "tiny.jpg", rgb[:3, :2]),
        "truncated_jpeg": folder / "truncated.jpg",
        "empty": folder / "empty.jpg",
        "text_named_jpg": folder / "text.jpg",
        "corrupt_jpeg": folder / "corrupt.jpg",
        "corrupt_png": folder / "corrupt.png",
    }
    Image.fromarray(rgb).convert("CMYK").save(files["cmyk_jpeg"], format="JPEG")
    alpha = np.full((size, size, 1), 128, np.uint8)
    Image.fromarray(np.concatenate([rgb, alpha], axis=-1), "RGBA").save(files["rgba_png"])
    whole = io.BytesIO()
    Image.fromarray(class_image(1, 64)).save(whole, format="JPEG", quality=90)
    files["truncated_jpeg"].write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    files["empty"].write_bytes(b"")
    files["text_named_jpg"].write_text("this is not an image\n")
    garbage = np.random.default_rng(0).integers(0, 256, 600, dtype=np.uint8).tobytes()
    files["corrupt_jpeg"].write_bytes(whole.getvalue()[:20] + garbage + b"\xff\xd9")
    files["corrupt_png"].write_bytes(b"\x89PNG\r\n\x1a\n" + garbage)
    return files
