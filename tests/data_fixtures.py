"""Tiny datasets in the exact on-disk layouts kvgg reads, for everyone's tests.

Images are real JPEG (or PNG) files written with Pillow; each class gets its own colour so
that a model or a check can tell them apart.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from kvgg.data.demo import (  # noqa: F401 (the generators live in the package: `kvgg data demo`)
    class_image,
    make_caltech,
    make_image_folder,
    make_voc,
    write_image,
)
from kvgg.data.voc_annotations import VOC_CLASSES  # noqa: F401


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
