"""The adversarial corpus: hostile images, model files, recipes and command lines, generated.

Every case is built from bytes in the real formats (JPEG, PNG, WebP, zip archives, YAML) by
the functions here, so the corpus needs no stored files. Tests in this folder feed each
case to kvgg and hold it to one oracle: exit 0 (accepted) or a one-line ``Error: ...``
with exit 2 (a clean error); never a traceback, a hang or a silently wrong number.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from tests.data_fixtures import class_image, make_bad_files, write_image

# ---------------------------------------------------------------------------- images


def make_bad_images(folder) -> dict[str, Path]:
    """Every hostile image kind, keyed by kind: the wild-dataset ones of `make_bad_files`
    and more (WebP in a .jpg, a RIFF that is no WebP, a JPEG with the end marker but a cut
    body, a PNG with a bad CRC, junk after a JPEG, a huge-dimension header, 1x1 pixels)."""
    folder = Path(folder)
    files = make_bad_files(folder)
    rgb = class_image(2, 40)
    webp = io.BytesIO()
    Image.fromarray(rgb).save(webp, format="WEBP")
    files["webp_named_jpg"] = folder / "webp_named.jpg"
    files["webp_named_jpg"].write_bytes(webp.getvalue())
    files["riff_not_webp"] = folder / "riff.jpg"
    files["riff_not_webp"].write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32))
    jpeg = io.BytesIO()
    Image.fromarray(rgb).save(jpeg, format="JPEG")
    data = jpeg.getvalue()
    files["jpeg_cut_with_end_marker"] = folder / "cut_end.jpg"
    files["jpeg_cut_with_end_marker"].write_bytes(data[: len(data) // 3] + b"\xff\xd9")
    files["jpeg_trailing_junk"] = folder / "trailing.jpg"
    files["jpeg_trailing_junk"].write_bytes(data + b"junk" * 4)
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    bad_crc = bytearray(png.getvalue())
    bad_crc[-20] ^= 0xFF
    files["png_bad_crc"] = folder / "bad_crc.png"
    files["png_bad_crc"].write_bytes(bytes(bad_crc))
    files["one_pixel"] = write_image(folder / "one_pixel.png", rgb[:1, :1])
    files["bmp"] = write_image(folder / "bitmap.bmp", rgb, format="BMP")
    files["only_signature"] = folder / "signature.jpg"
    files["only_signature"].write_bytes(b"\xff\xd8\xff\xd9")
    return files


BAD_IMAGE_KINDS = [
    "grayscale_jpeg",
    "cmyk_jpeg",
    "rgba_png",
    "png_named_jpg",
    "gif_named_jpg",
    "tiny",
    "truncated_jpeg",
    "empty",
    "text_named_jpg",
    "corrupt_jpeg",
    "corrupt_png",
    "webp_named_jpg",
    "riff_not_webp",
    "jpeg_cut_with_end_marker",
    "jpeg_trailing_junk",
    "png_bad_crc",
    "one_pixel",
    "bmp",
    "only_signature",
]


def write_wide_image(path, height=10, width=10_000) -> Path:
    """A valid, extremely elongated image (rescaled to Q it has Q * 1000 columns)."""
    return write_image(path, np.full((height, width, 3), 128, np.uint8))


# ---------------------------------------------------------------------------- model files


def make_bad_model_files(folder, good_model_path) -> dict[str, Path]:
    """Damaged `.keras` files and foreign files named like model files, keyed by kind.

    Args:
        folder: where to write them.
        good_model_path: a valid kvgg `.keras` file to damage.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    good = Path(good_model_path).read_bytes()
    files = {}

    def put(kind, name, data: bytes):
        files[kind] = folder / name
        files[kind].write_bytes(data)

    put("empty", "empty.keras", b"")
    put("truncated", "truncated.keras", good[: len(good) // 2])
    put("only_zip_head", "head.keras", good[:200])
    put("text", "text.keras", b"not a model\n")
    put("flipped_bytes", "flipped.keras", _flip_middle(good))
    put("junk_weights", "junk.weights.h5", b"\x00junk" * 50)
    put("empty_weights", "empty.weights.h5", b"")
    for kind, metadata in METADATA_CASES.items():
        files[f"metadata_{kind}"] = _with_metadata(good, folder / f"meta_{kind}.keras", metadata)
    put("empty_zip", "empty_zip.keras", _zip({}))
    put("zip_without_config", "noconfig.keras", _zip({"metadata.json": b"{}"}))
    put("zip_bad_config", "badconfig.keras", _zip({"config.json": b"[1, 2"}))
    return files


METADATA_CASES = {
    "list": b"[1, 2, 3]",
    "invalid_json": b"{not json",
    "integer_class_names": json.dumps({"class_names": [1, 2, 3, 4, 5]}).encode(),
    "class_names_string": json.dumps({"class_names": "cat"}).encode(),
    "train_state_list": json.dumps({"train_state": [1]}).encode(),
    "binary": bytes(range(256)),
}


def _flip_middle(data: bytes) -> bytes:
    damaged = bytearray(data)
    for i in range(len(data) // 3, len(data) // 3 + 64):
        damaged[i] ^= 0xFF
    return bytes(damaged)


def _with_metadata(good: bytes, path: Path, metadata: bytes) -> Path:
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            if item.filename != "kvgg.json":
                target.writestr(item, source.read(item))
        target.writestr("kvgg.json", metadata)
    return path


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# ---------------------------------------------------------------------------- recipes

RECIPE_HEAD = "name: adversarial\n"

#: Hand-made hostile recipes (text after the name line), keyed by what they attack.
BAD_RECIPES = {
    "recursive_alias": "model: &m\n  config: A\n  again: *m\n",
    "recursive_list_alias": "smoke: &s [*s]\n",
    "alias_bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n"
            for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        )
        + "smoke: {x: *i}\n"
    ),
    "width_inf": "model: {width: .inf}\n",
    "width_nan": "model: {width: .nan}\n",
    "lr_inf": "optimizer: {lr: .inf}\n",
    "min_delta_nan": "schedule: {min_delta: .nan}\n",
    "fc_units_zero": "model: {fc_units: 0}\n",
    "fc_units_negative": "model: {fc_units: -4}\n",
    "folder_without_path": "data: {train: {kind: folder}}\n",
    "labels_without_file": "data: {train: 'labels:/tmp'}\n",
    "empty_source": "data: {train: ''}\n",
    "smoke_unknown_key": "smoke: {model.widht: 0.1}\n",
    "smoke_bad_value": "smoke: {schedule.epochs: many}\n",
    "smoke_not_mapping": "smoke: [1, 2]\n",
    "top_level_list": None,  # the whole file is a list
    "binary_garbage": None,
    "tab_indent": "model:\n\tconfig: A\n",
    "duplicate_key": "model: {config: A}\nmodel: {config: B}\n",
    "python_tag": "model: !!python/object/apply:os.system ['echo hi']\n",
    "huge_int": "schedule: {epochs: 1" + "0" * 400 + "}\n",
    "bool_width": "model: {width: yes}\n",
    "null_model": "model: null\n",
    "key_is_list": "[a, b]: 1\n",
    "key_is_int": "7: 1\n",
    "deep_nesting": "smoke: " + "[" * 2000 + "]" * 2000 + "\n",
}


def write_bad_recipe(folder, kind) -> Path:
    """Write the `BAD_RECIPES` case ``kind`` as a YAML file; return its path."""
    path = Path(folder) / f"{kind}.yaml"
    if kind == "top_level_list":
        path.write_text("- name: x\n- model: A\n")
    elif kind == "binary_garbage":
        path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 512, dtype=np.uint8)))
    else:
        path.write_text(RECIPE_HEAD + BAD_RECIPES[kind])
    return path


def write_big_recipe(path, megabytes: float = 10) -> Path:
    """A valid recipe of about ``megabytes`` MB: a long class list in ``data.train``."""
    path = Path(path)
    count = int(megabytes * 1e6 / 24)
    classes = "".join(f"      - class_name_{i:012d}\n" for i in range(count))
    path.write_text(
        "name: big\nmodel:\n  config: A\ndata:\n  train:\n    kind: folder\n"
        "    path: train\n    classes:\n" + classes
    )
    return path


# ---------------------------------------------------------------------------- command lines


def cli_cases(model: str, folder: str, image: str, tmp: str) -> dict[str, list[str]]:
    """Hostile command lines, keyed by what they attack; each must end cleanly (exit 2)."""
    not_tfrecord = str(Path(tmp) / "not_a_record.tfrecord")
    Path(not_tfrecord).write_bytes(b"this is no TFRecord file" * 8)
    a_file = str(Path(tmp) / "a_file.txt")
    Path(a_file).write_text("x")
    return {
        "summary_width_inf": ["summary", "A", "--width", "inf"],
        "summary_width_nan": ["summary", "A", "--width", "nan"],
        "summary_width_negative": ["summary", "A", "--width", "-1"],
        "summary_image_size_zero": ["summary", "A", "--image-size", "0", "--width", "0.0625"],
        "summary_num_classes_zero": ["summary", "A", "--num-classes", "0", "--width", "0.0625"],
        "evaluate_huge_scale": [
            "evaluate",
            "--model",
            model,
            "--data",
            folder,
            "--scales",
            "100000",
        ],
        "evaluate_empty_data": ["evaluate", "--model", model, "--data", ""],
        "evaluate_missing_model": [
            "evaluate",
            "--model",
            str(Path(tmp) / "none.keras"),
            "--data",
            folder,
        ],
        "evaluate_model_is_image": ["evaluate", "--model", image, "--data", folder],
        "evaluate_json_under_file": [
            "evaluate",
            "--model",
            model,
            "--data",
            folder,
            "--json",
            str(Path(a_file) / "report.json"),
        ],
        "evaluate_tfrecord_not_record": [
            "evaluate",
            "--model",
            model,
            "--data",
            f"tfrecord:{not_tfrecord}",
        ],
        "evaluate_scales_garbage": [
            "evaluate",
            "--model",
            model,
            "--data",
            folder,
            "--scales",
            "a,b",
        ],
        "predict_missing_image": ["predict", "--model", model, str(Path(tmp) / "none.jpg")],
        "predict_directory": ["predict", "--model", model, tmp],
        "stats_max_images_negative": [
            "data",
            "stats",
            folder,
            "--max-images",
            "-1",
            "-o",
            str(Path(tmp) / "s.json"),
        ],
        "stats_output_under_file": [
            "data",
            "stats",
            folder,
            "-o",
            str(Path(a_file) / "stats.json"),
        ],
        "stats_empty_source": ["data", "stats", ""],
        "check_empty_source": ["data", "check", ""],
        "check_unknown_kind": ["data", "check", "nosuchkind:x"],
        "check_labels_without_file": ["data", "check", f"labels:{folder}"],
        "check_tfrecord_not_record": ["data", "check", f"tfrecord:{not_tfrecord}"],
        "to_tfrecord_zero_shards": [
            "data",
            "to-tfrecord",
            folder,
            str(Path(tmp) / "rec"),
            "--shards",
            "0",
        ],
        "scoremap_out_under_file": [
            "scoremap",
            "--model",
            model,
            image,
            "--out",
            str(Path(a_file) / "map.png"),
        ],
        "recipe_show_missing": ["recipe", "show", str(Path(tmp) / "none.yaml")],
        "fit_missing": ["fit", str(Path(tmp) / "none.yaml")],
        "features_empty_data": ["features", model, "", "--out", str(Path(tmp) / "f.npz")],
        "surgery_missing": [
            "surgery",
            "fcn",
            str(Path(tmp) / "none.keras"),
            str(Path(tmp) / "o.keras"),
        ],
    }
