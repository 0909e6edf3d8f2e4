"""The file-level entry points behind `kvgg evaluate`, `kvgg predict` and `kvgg scoremap`.

A model argument is a `.keras` file or a `kvgg fit` run directory (its ``model.keras``,
the best epoch). Class names come from the file (`kvgg.io.class_names_for`); test scales
default to the preset of the training scale stored in it (`default_scales`), flips to the
recipe it was trained with (`default_flip`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import keras

from kvgg.data.sources import Source
from kvgg.evaluate.common import MAX_PIXELS, crop_size
from kvgg.evaluate.predict import draw_score_map, predict
from kvgg.evaluate.records import write_records
from kvgg.evaluate.report import Report, evaluate
from kvgg.evaluate.scales import default_flip, default_scales
from kvgg.io import check_outputs, resolve_model_file
from kvgg.models.kinds import check_kind


def load_classifier(
    path: str | Path, *, kind: Literal["classifier", "localizer"] = "classifier"
) -> tuple[keras.Model, list[str], dict]:
    """Load a classifier from a `.keras` file or a run directory.

    Args:
        path: a `.keras` file or a `kvgg fit` run directory (its ``model.keras``), or a
            classifier exported by ``kvgg export --dense`` (``.onnx``, ``.xml``, ``.tflite``
            or a SavedModel folder; `kvgg.deploy.load_exported_classifier`).
        kind: the kind of net expected: a ``"classifier"``, or a ``"localizer"``
            (`kvgg.localize.build_localizer`); the other kind is refused by
            `kvgg.models.kinds.check_kind` with a message naming the file.

    Returns:
        (model, class names, kvgg metadata dict).

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.io import save_model
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=2)
        >>> path = save_model(model, f"{tempfile.mkdtemp()}/a.keras", class_names=["cat", "dog"])
        >>> model, names, info = load_classifier(path)  # or a run directory
        >>> names
        ['cat', 'dog']
    """
    from kvgg import io
    from kvgg.deploy.runtime import is_exported, load_exported_classifier

    if is_exported(path) and kind == "classifier":  # `kvgg export --dense`, in its runtime
        return load_exported_classifier(path)
    path = io.resolve_model_file(path)
    model = io.load_model(path)
    check_kind(model, path, kind)
    _check_finite_weights(model, path)
    return model, io.class_names_for(path, model.output_shape[-1]), io.read_info(path)


def check_same_classes(names: Sequence[str], path, others: Sequence[str], other_path) -> None:
    """Refuse two nets used together whose classes differ in names or order.

    Fused classifiers, and a per-class localisation net and its classifiers, must agree
    class by class: an output index has to mean the same class in both.

    Args:
        names: the class names of the net in ``path``.
        path: its file, named in the message.
        others: the class names of the net in ``other_path``.
        other_path: its file.

    Raises:
        ValueError: one line naming both files and the first class that differs.

    Example:
        >>> check_same_classes(["cat", "dog"], "a.keras", ["cat", "dog"], "b.keras")
        >>> try:
        ...     check_same_classes(["cat", "dog"], "a.keras", ["dog", "cat"], "b.keras")
        ... except ValueError as error:
        ...     print(str(error).split(": ")[1])
        class 0 is 'cat' in 'a.keras' but 'dog' in 'b.keras'.
    """
    names, others = [str(name) for name in names], [str(name) for name in others]
    if names == others:
        return
    first = f"{str(path)!r} and {str(other_path)!r} must have the same classes in the same order"
    for index, (name, other) in enumerate(zip(names, others, strict=False)):
        if name != other:
            raise ValueError(
                f"{first}: class {index} is {name!r} in {str(path)!r} but {other!r} in "
                f"{str(other_path)!r}."
            )
    index = min(len(names), len(others))
    longer, extra = (path, names) if len(names) > len(others) else (other_path, others)
    raise ValueError(
        f"{first}: {str(path)!r} has {len(names)} classes, {str(other_path)!r} "
        f"{len(others)}; class {index} ({extra[index]!r}) is only in {str(longer)!r}."
    )


def _check_finite_weights(model, path) -> None:
    """Refuse a model whose weights hold NaN or infinity (a run that diverged): its
    outputs would be NaN, which no error rate or prediction can use."""
    import numpy as np

    for weight in model.weights:
        if not np.isfinite(keras.ops.convert_to_numpy(weight)).all():
            raise ValueError(
                f"{str(path)!r} holds NaN or infinite weights ({weight.path}): the run that "
                "wrote it diverged, or the file is damaged; use an earlier checkpoint."
            )


def evaluate_files(
    model_paths: Sequence[str | Path],
    data: Source | str | dict,
    *,
    method: str | Sequence[str] = "dense",
    scales: Sequence[int] | Sequence[Sequence[int]] | None = None,
    flip: bool | None = None,
    bucket: int | str | None = "auto",
    json_path: str | Path | None = None,
    progress: bool = True,
    max_pixels: int | None = MAX_PIXELS,
    record: bool = True,
    echo: Callable[[str], None] | None = None,
) -> Report:
    """`evaluate` saved models (fused when several) on a source; record and save the report.

    Args:
        model_paths: `.keras` files or run directories, all with the same classes.
        data: a source spec for `kvgg.data.open_source`.
        method: "dense", "multicrop" or "both", or one per model (fusion).
        scales: test scales for all models, or one set per model (in model order);
            default: each model's own `default_scales` (its training scale's preset).
        flip: average in mirrored images; default: the first model's `default_flip`.
        bucket: dense evaluation's shape bucket (pixels, None, or "auto").
        json_path: where to write the report as JSON (atomically), or None.
        progress: show a progress bar.
        max_pixels: bound on the pixels of one rescaled view (see `evaluate`).
        record: write the report into the ``evaluations/`` folder of each model's run
            directory (`kvgg.evaluate.records`), where `kvgg report` finds it.
        echo: called with the report's table (then with each file written) before
            anything is written; None prints nothing.

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 3 classes, 48x64 px
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> from kvgg.io import save_model
        >>> names = ["blue", "green", "red"]  # the folder's classes
        >>> path = save_model(model, f"{tempfile.mkdtemp()}/a.keras", class_names=names)
        >>> report = evaluate_files([path], f"folder:{images}", method="dense", scales=(32,),
        ...                         progress=False, record=False, echo=lambda line: None)
        >>> print(report.table())
        models       vgg11
        method       dense, Q = 32, with flips
        images       6 (...)
        top-1 error ...
    """
    if not model_paths:
        raise ValueError("Give at least one model (--model M.keras).")
    check_outputs([json_path], [resolve_model_file(path) for path in model_paths])
    loaded = [load_classifier(path) for path in model_paths]
    models = [model for model, _, _ in loaded]
    names = loaded[0][1]
    for path, (_, other, _) in zip(model_paths, loaded, strict=True):
        check_same_classes(names, model_paths[0], other, path)  # fused: the same classes
    if scales is None:  # each model its own preset (the ILSVRC submission's fusion)
        scales = [default_scales(info, crop_size(model)) for model, _, info in loaded]
    if flip is None:
        flip = default_flip(loaded[0][2])
    report = evaluate(
        models,
        data,
        method=method,
        scales=scales,
        flip=flip,
        class_names=names,
        bucket=bucket,
        progress=progress,
        max_pixels=max_pixels,
    )
    if isinstance(data, str):
        report.data = data
    for row, path, (_, _, info) in zip(report.per_model, model_paths, loaded, strict=True):
        row.update(path=str(path), config=info.get("config"), train_scale=info.get("scale"))
    echo = echo or (lambda line: None)
    echo(report.table())
    written = [report.save_json(json_path)] if json_path is not None else []
    written += write_records(report, model_paths) if record else []
    for path in written:
        echo(f"Wrote {path}")
    return report


def predict_files(
    model_path: str | Path,
    image_paths: Sequence[str | Path],
    *,
    scales: Sequence[int] | None = None,
    flip: bool | None = None,
    top: int = 5,
    max_pixels: int | None = MAX_PIXELS,
) -> list[list[tuple[str, float]]]:
    """`predict` with a saved model on image files: per image, ``top`` (name, posterior).

    Scales and flips default to the model's own (`default_scales`, `default_flip`).

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 3 classes, 48x64 px
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> from kvgg.io import save_model
        >>> names = ["blue", "green", "red"]  # the folder's classes
        >>> path = save_model(model, f"{tempfile.mkdtemp()}/a.keras", class_names=names)
        >>> photo = images / "red" / "red_0000.jpg"
        >>> top = predict_files(path, [photo], scales=(32,))[0]  # untrained: any order
        >>> sorted(name for name, posterior in top), round(sum(p for _, p in top), 4)
        (['blue', 'green', 'red'], 1.0)
    """
    model, names, info = load_classifier(model_path)
    if scales is None:
        scales = default_scales(info, crop_size(model))
    if flip is None:
        flip = default_flip(info)
    return predict(
        model,
        image_paths,
        class_names=names,
        scales=scales,
        flip=flip,
        top=top,
        max_pixels=max_pixels,
    )


SCORE_MAP_SUFFIX = ".scoremap.png"  # `photo.jpg` -> `photo.scoremap.png`


def score_map_paths(image_paths: Sequence, out=None) -> list[Path]:
    """Where `score_map_files` writes each image's picture.

    In the working directory (``a/photo.jpg`` -> ``photo.scoremap.png``) when ``out`` is
    None, never in the image's own folder (a class folder would count it as an image); in
    the directory ``out`` under the same names; or, for a single image, at ``out`` itself
    when it names a file (a suffix such as ``.png``, ``.pdf``, ``.svg`` and no directory
    there).

    Example:
        >>> [str(p) for p in score_map_paths(["a/cat.jpg", "b/dog.png"], "maps")]
        ['maps/cat.scoremap.png', 'maps/dog.scoremap.png']
        >>> [str(p) for p in score_map_paths(["a/cat.jpg"])]
        ['cat.scoremap.png']
        >>> [str(p) for p in score_map_paths(["a/cat.jpg"], "cat.pdf")]
        ['cat.pdf']
    """
    images = [Path(image) for image in image_paths]
    if out is not None and len(images) == 1 and Path(out).suffix and not Path(out).is_dir():
        return [Path(out)]
    folders = [Path(".") if out is None else Path(out) for image in images]
    paths = [
        folder / (image.stem + SCORE_MAP_SUFFIX)
        for folder, image in zip(folders, images, strict=True)
    ]
    clashes = sorted({str(path) for path in paths if paths.count(path) > 1})
    if clashes:
        raise ValueError(
            f"Several images would write the same picture ({', '.join(clashes)}): give "
            "images with different names, or run them one at a time with -o FILE."
        )
    return paths


def score_map_files(
    model_path: str | Path,
    image_paths: Sequence[str | Path],
    out: str | Path | None = None,
    *,
    scale: int | None = None,
    flip: bool | None = None,
) -> list[tuple[Path, str, float]]:
    """`draw_score_map` of each image with a saved model (loaded once).

    Args:
        model_path: a `.keras` file or a run directory.
        image_paths: image files.
        out: None (the working directory), a directory, or for one image a file;
            see `score_map_paths`.
        scale: test scale Q; default: the middle of the model's `default_scales`.
        flip: pick the class with the mirrored image too; default: `default_flip`.

    Returns:
        Per image: (picture written, top class name, its posterior).

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 3 classes, 48x64 px
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> from kvgg.io import save_model
        >>> names = ["blue", "green", "red"]  # the folder's classes
        >>> path = save_model(model, f"{tempfile.mkdtemp()}/a.keras", class_names=names)
        >>> photo = images / "red" / "red_0000.jpg"
        >>> [(picture, name, posterior)] = score_map_files(path, [photo], tempfile.mkdtemp(),
        ...                                                scale=32)  # default: the model's S
        >>> picture.name, name in names
        ('red_0000.scoremap.png', True)
    """
    outs = score_map_paths(image_paths, out)
    check_outputs(outs, [resolve_model_file(model_path), *image_paths], made_from=image_paths)
    model, names, info = load_classifier(model_path)
    if scale is None:
        scales = default_scales(info, crop_size(model))
        scale = scales[len(scales) // 2]
    if flip is None:
        flip = default_flip(info)
    return [
        (path, *draw_score_map(model, image, path, class_names=names, scale=scale, flip=flip))
        for image, path in zip(image_paths, outs, strict=True)
    ]
