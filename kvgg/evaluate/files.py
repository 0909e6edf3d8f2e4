"""The file-level entry points behind `kvgg evaluate`, `kvgg predict` and `kvgg scoremap`.

A model argument is a `.keras` file or a `kvgg fit` run directory (its ``model.keras``,
the best epoch). Class names come from the file (`kvgg.io.class_names_for`); test scales
default to the preset of the training scale stored in it (`default_scales`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kvgg.evaluate.common import crop_size
from kvgg.evaluate.predict import draw_score_map, predict
from kvgg.evaluate.report import Report, evaluate
from kvgg.evaluate.scales import default_scales


def load_classifier(path):
    """Load a classifier from a `.keras` file or a run directory.

    Returns:
        (model, class names, kvgg metadata dict).

    Example:
        >>> model, names, info = load_classifier("runs/quickstart")  # doctest: +SKIP
    """
    from kvgg import io

    path = Path(path)
    if path.is_dir():
        if not (path / "model.keras").is_file():
            raise FileNotFoundError(f"{str(path)!r} is a directory without a model.keras.")
        path = path / "model.keras"
    model = io.load_model(path)
    return model, io.class_names_for(path, model.output_shape[-1]), io.read_info(path)


def evaluate_files(
    model_paths: Sequence,
    data,
    *,
    method: str = "dense",
    scales: Sequence[int] | None = None,
    flip: bool = True,
    bucket: int | str | None = "auto",
    json_path=None,
    progress: bool = True,
) -> Report:
    """`evaluate` saved models (fused when several) on a source; optionally save JSON.

    Args:
        model_paths: `.keras` files or run directories, all with the same classes.
        data: a source spec for `kvgg.data.open_source`.
        method: "dense", "multicrop" or "both".
        scales: test scales; default: the first model's `default_scales`.
        flip: average in mirrored images.
        bucket: dense evaluation's shape bucket (pixels, None, or "auto").
        json_path: where to write the report as JSON (atomically), or None.
        progress: show a progress bar.

    Example:
        >>> print(evaluate_files(["runs/d"], "folder:val", method="both").table())
        ... # doctest: +SKIP
    """
    if not model_paths:
        raise ValueError("Give at least one model (--model M.keras).")
    loaded = [load_classifier(path) for path in model_paths]
    models = [model for model, _, _ in loaded]
    names = loaded[0][1]
    for path, (_, other, _) in zip(model_paths, loaded, strict=True):
        if other != names:
            raise ValueError(
                f"{str(path)!r} has other classes than {str(model_paths[0])!r}; fused models "
                "must share their classes."
            )
    if scales is None:
        scales = default_scales(loaded[0][2], crop_size(models[0]))
    report = evaluate(
        models,
        data,
        method=method,
        scales=scales,
        flip=flip,
        class_names=names,
        bucket=bucket,
        progress=progress,
    )
    if json_path is not None:
        report.save_json(json_path)
    return report


def predict_files(
    model_path, image_paths: Sequence, *, scales: Sequence[int] | None = None, top: int = 5
) -> list[list[tuple[str, float]]]:
    """`predict` with a saved model on image files: per image, ``top`` (name, posterior).

    Example:
        >>> predict_files("vgg16.keras", ["cat.jpg"])[0][0]  # doctest: +SKIP
        ('tabby, tabby cat', 0.62)
    """
    model, names, info = load_classifier(model_path)
    if scales is None:
        scales = default_scales(info, crop_size(model))
    return predict(model, image_paths, class_names=names, scales=scales, top=top)


def score_map_file(model_path, image_path, out, *, scale: int | None = None) -> tuple[str, float]:
    """`draw_score_map` with a saved model; ``scale`` defaults to the middle default scale.

    Example:
        >>> score_map_file("vgg16.keras", "cat.jpg", "cat_map.png")  # doctest: +SKIP
        ('tabby, tabby cat', 0.62)
    """
    model, names, info = load_classifier(model_path)
    if scale is None:
        scales = default_scales(info, crop_size(model))
        scale = scales[len(scales) // 2]
    return draw_score_map(model, image_path, out, class_names=names, scale=scale)
