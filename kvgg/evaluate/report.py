"""`evaluate`: a labelled source through one or more models, to top-1/top-5 errors."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
from tqdm.auto import tqdm

from kvgg.evaluate.common import MAX_PIXELS, check_pixels
from kvgg.evaluate.dense import DenseScorer
from kvgg.evaluate.metrics import check_finite, per_class_accuracy, top_k_error
from kvgg.evaluate.multicrop import MultiCropScorer
from kvgg.evaluate.scales import JITTERED_SCALES
from kvgg.io import write_text

METHODS = ("dense", "multicrop", "both")


@dataclass
class Report:
    """The outcome of `evaluate`; errors are fractions (0.075 is 7.5 %).

    Attributes:
        models: the names of the fused models.
        method: "dense", "multicrop" or "both" (their posteriors averaged); "per-model"
            when fused models were evaluated by different methods (see `per_model`).
        scales: the test scales Q (all of them, when fused models had their own sets).
        flip: whether mirrored images were averaged in.
        images: number of images evaluated (undecodable files are skipped).
        top1_error, top5_error: the paper's metrics.
        mean_class_accuracy: top-1 accuracy averaged over the classes that have images.
        per_class: one dict per class: name, images, accuracy (None without images).
        seconds, images_per_second: wall time of the evaluation.
        posteriors, labels: the (N, C) averaged posteriors and (N,) labels (not in JSON).
        per_model: one dict per fused model: name, method, scales (`evaluate_files` adds
            the file's path, configuration and training scale).
        data: the evaluated source's name.
    """

    models: list[str]
    method: str
    scales: list[int]
    flip: bool
    images: int
    top1_error: float
    top5_error: float
    mean_class_accuracy: float
    per_class: list[dict]
    seconds: float
    images_per_second: float
    posteriors: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    per_model: list[dict] = field(default_factory=list)
    data: str = ""

    def to_dict(self) -> dict:
        """Everything but the arrays, JSON-ready."""
        data = asdict(self)
        del data["posteriors"], data["labels"]
        return data

    def save_json(self, path) -> Path:
        """Write `to_dict` as JSON atomically (a crash never leaves half a file)."""
        return write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    def table(self, worst: int = 10) -> str:
        """A readable summary: the errors, then the ``worst`` classes by accuracy."""
        scales = ", ".join(str(q) for q in self.scales)
        lines = [
            f"models       {' + '.join(self.models)}",
            f"method       {self.method}, Q = {scales}{', with flips' if self.flip else ''}",
            f"images       {self.images} ({self.images_per_second:.1f} images/s)",
            f"top-1 error  {100 * self.top1_error:6.2f} %",
            f"top-5 error  {100 * self.top5_error:6.2f} %",
            f"mean class accuracy {100 * self.mean_class_accuracy:6.2f} %",
        ]
        settings = {(row["method"], tuple(row["scales"])) for row in self.per_model}
        if len(settings) > 1:  # fused models, each tested its own way
            lines[1:2] = [f"method       per model{', with flips' if self.flip else ''}"] + [
                f"  {row['name']:<10} {row['method']}, Q = {', '.join(map(str, row['scales']))}"
                for row in self.per_model
            ]
        rated = [row for row in self.per_class if row["accuracy"] is not None]
        rated.sort(key=lambda row: row["accuracy"])
        if rated:
            shown = rated if len(rated) <= worst else rated[:worst]
            title = "per class" if len(shown) == len(rated) else f"worst {len(shown)} classes"
            width = max(len(title), *(len(row["name"]) for row in shown))
            lines += ["", f"{title:<{width}}  images  accuracy"]
            lines += [
                f"{row['name']:<{width}}  {row['images']:>6}  {100 * row['accuracy']:7.2f} %"
                for row in shown
            ]
        return "\n".join(lines)


def evaluate(
    models: keras.Model | Sequence[keras.Model],
    source,
    *,
    method: str | Sequence[str] = "dense",
    scales: Sequence[int] | Sequence[Sequence[int]] = JITTERED_SCALES,
    flip: bool = True,
    class_names: Sequence[str] | None = None,
    bucket: int | str | None = "auto",
    progress: bool = True,
    max_pixels: int | None = MAX_PIXELS,
) -> Report:
    """Evaluate one model, or the fusion of several, on a labelled image source.

    Each image is decoded whole, rescaled to every test scale Q (smallest side), scored
    by dense evaluation (`DenseScorer`), multi-crop evaluation (`MultiCropScorer`) or
    both, and the soft-max posteriors are averaged over flips, scales, methods and
    models, in that order (all are plain means, so the order does not matter). This is
    the paper's protocol (Sec. 3.2, Tables 3-7).

    Args:
        models: a kvgg classifier or a list of classifiers with the same classes (fusion).
        source: a `kvgg.data.Source` or anything `kvgg.data.open_source` accepts
            (``"folder:val"``, ``"digits:test"``, ...); single-label.
        method: "dense", "multicrop" or "both", or a list with one per model.
        scales: test scales Q, or a list of them with one set per model (the ILSVRC
            submission tested each net at its own set); see `kvgg.evaluate.preset_scales`.
        flip: average in the horizontally mirrored image (crops).
        class_names: the models' class names, to match the source's classes by name
            (a source holding a subset of the classes works); None means the source's
            class indices are the models' output indices. For 1000-class models,
            sources named by ImageNet WordNet ids (n01440764, ...) are matched too.
        bucket: shape bucket of dense evaluation (see `DenseScorer`): pixels, None for
            exact sizes, "auto" for 32 on JAX only.
        progress: show a progress bar.
        max_pixels: refuse scales, or an image, whose rescaled view would exceed this
            many pixels (`kvgg.evaluate.common.MAX_PIXELS`, 16.8 M); None for no bound.

    Returns:
        A `Report`.

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 3 classes, 48x64 px
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> report = evaluate(model, f"folder:{images}", method="both", scales=(32,),
        ...                   progress=False)  # ImageNet: scales=(256, 384, 512)
        >>> print(report.table())
        models       vgg11
        method       both, Q = 32, with flips
        images       6 (...)
        top-1 error ...
    """
    from kvgg.data import image_dataset, open_source
    from kvgg.data.transforms import rescale

    models = [models] if isinstance(models, keras.Model) else list(models)
    if not models:
        raise ValueError("evaluate needs at least one model.")
    methods = per_model(method, len(models), "method")
    model_scales = per_model(scales, len(models), "scales")
    for name in methods:
        if name not in METHODS:
            raise ValueError(f"`method` must be one of {', '.join(METHODS)}. Received: {name!r}")
    num_classes = _common_classes(models)
    source = open_source(source)
    label_map = _label_map(source, num_classes, class_names)
    groups = [  # per model, its scorers: the model's posteriors are their mean
        _scorers(model, name, scales=qs, flip=flip, bucket=bucket)
        for model, name, qs in zip(models, methods, model_scales, strict=True)
    ]
    scales = tuple(dict.fromkeys(q for group in groups for s in group for q in s.scales))
    check_pixels(scales, max_pixels)

    import tensorflow as tf

    def views_of(image, label):
        if max_pixels is not None:  # checked before rescaling: the view is what is too big
            view = _view_shape(tf.shape(image)[:2], max(scales))
            largest = tf.reduce_prod(tf.cast(view, "int64"))
            bound = min(max_pixels, 2**62)  # int64
            fits = tf.debugging.Assert(largest <= bound, [_TOO_LARGE, tf.shape(image)])
            with tf.control_dependencies([fits]):
                image = tf.identity(image)
        return tuple(rescale(image, q) for q in scales), label

    views = image_dataset(source).map(views_of, num_parallel_calls=tf.data.AUTOTUNE)
    # tqdm writes to stderr, so `kvgg evaluate > report.txt` keeps only the report.
    posteriors, labels = [], []
    start = time.perf_counter()
    # Closed on errors too, so that an error message starts on a line of its own.
    with tqdm(total=len(source), unit="image", desc="evaluate", disable=not progress) as bar:
        for images, label in _bounded(views.prefetch(tf.data.AUTOTUNE), scales, max_pixels):
            by_scale = dict(zip(scales, images, strict=True))
            scores = np.mean([np.mean([s(by_scale) for s in group], 0) for group in groups], 0)
            check_finite(scores[None], f"posteriors of {' + '.join(m.name for m in models)}")
            posteriors.append(scores)
            labels.append(label_map[int(label)])
            bar.update()
    seconds = time.perf_counter() - start
    if not labels:
        raise ValueError(f"No readable image in {source!r}; nothing to evaluate.")
    posteriors = np.stack(posteriors).astype("float32")
    labels = np.asarray(labels)
    accuracy = per_class_accuracy(posteriors, labels)
    names = (
        list(class_names)
        if class_names is not None
        else _indices_to_names(source, label_map, num_classes)
    )
    counts = np.bincount(labels, minlength=num_classes)
    return Report(
        models=[model.name for model in models],
        method=methods[0] if len(set(methods)) == 1 else "per-model",
        scales=list(scales),
        flip=flip,
        images=len(labels),
        top1_error=top_k_error(posteriors, labels, 1),
        top5_error=top_k_error(posteriors, labels, 5),
        mean_class_accuracy=float(np.nanmean(accuracy)),
        per_class=[
            {
                "name": names[c],
                "images": int(counts[c]),
                "accuracy": None if np.isnan(accuracy[c]) else float(accuracy[c]),
            }
            for c in range(num_classes)
        ],
        seconds=seconds,
        images_per_second=len(labels) / seconds,
        posteriors=posteriors,
        labels=labels,
        per_model=[
            {"name": model.name, "method": name, "scales": list(group[0].scales)}
            for model, name, group in zip(models, methods, groups, strict=True)
        ],
        data=str(source.name),
    )


def per_model(value, count: int, name: str) -> list:
    """One value per fused model: ``value`` for all, or a list with one entry per model.

    A string or a flat list of scales is shared; a list of such values is taken per model,
    in model order, and must have one entry per model (or a single one, shared).

    Args:
        value: a method name, a sequence of scales, or a list of either (one per model).
        count: the number of models.
        name: the argument's name, for the error message.

    Example:
        >>> per_model((256, 384, 512), 2, "scales")
        [(256, 384, 512), (256, 384, 512)]
        >>> per_model([(224, 256, 288), (256, 384, 512)], 2, "scales")
        [(224, 256, 288), (256, 384, 512)]
        >>> per_model(["dense", "both"], 2, "method")
        ['dense', 'both']
    """
    shared = isinstance(value, str) or (
        isinstance(value, Sequence) and all(isinstance(item, int | np.integer) for item in value)
    )
    values = [value] if shared else list(value)
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise ValueError(
            f"Give one `{name}` for all models or one per model ({count}); got {len(values)}. "
            f"Received: {name}={value!r}"
        )
    return values


_TOO_LARGE = "kvgg: view over max_pixels; image (H, W) ="


def _view_shape(extent, scale):
    import tensorflow as tf

    extent = tf.cast(extent, "float32")
    return tf.round(extent * (float(scale) / tf.reduce_min(extent)))


def _bounded(views, scales, max_pixels):
    """Iterate ``views`` as NumPy; the in-graph pixel bound becomes a one-line ValueError."""
    import tensorflow as tf

    try:
        yield from views.as_numpy_iterator()
    except tf.errors.InvalidArgumentError as error:
        if _TOO_LARGE not in error.message:
            raise
        shape = re.findall(r"\d+", error.message.split(_TOO_LARGE)[1])
        check_pixels(scales, max_pixels, (int(shape[0]), int(shape[1])))
        raise


def _scorers(model, method, **options):
    dense = [DenseScorer(model, **options)] if method in ("dense", "both") else []
    options.pop("bucket")
    crops = [MultiCropScorer(model, **options)] if method in ("multicrop", "both") else []
    return dense + crops


def _common_classes(models) -> int:
    counts = {model.name: model.output_shape[-1] for model in models}
    if len(set(counts.values())) != 1:
        raise ValueError(f"Fused models must have the same number of classes. Received: {counts}")
    return next(iter(counts.values()))


def _label_map(source, num_classes: int, class_names) -> np.ndarray:
    """Model output index of each source class index."""
    labels = np.asarray(source.labels)
    if labels.ndim != 1:
        raise ValueError(
            f"evaluate reports top-k errors of single-label sources; {source.name!r} is "
            "multi-label (e.g. PASCAL VOC): use `kvgg transfer` for mean AP."
        )
    source_names = list(source.class_names)
    if class_names is None:
        if len(source_names) > num_classes:
            raise ValueError(
                f"{source.name!r} has {len(source_names)} classes but the model has "
                f"{num_classes} outputs."
            )
        return np.arange(len(source_names))
    class_names = [str(name) for name in class_names]
    if len(class_names) != num_classes:
        raise ValueError(
            f"Got {len(class_names)} class names for a model with {num_classes} outputs."
        )
    index = {name: i for i, name in enumerate(class_names)}
    if num_classes == 1000:
        from kvgg.io import imagenet_synsets

        if class_names == [name for _, name in imagenet_synsets()]:
            index |= {wnid: i for i, (wnid, _) in enumerate(imagenet_synsets())}
    missing = [name for name in source_names if name not in index]
    if missing:
        raise ValueError(
            f"Classes of {source.name!r} that the model does not know: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} "
            f"(the model's classes: {', '.join(class_names[:5])}, ...)"
        )
    return np.array([index[name] for name in source_names])


def _indices_to_names(source, label_map, num_classes) -> list[str]:
    names = [str(i) for i in range(num_classes)]
    for source_index, model_index in enumerate(label_map):
        names[model_index] = source.class_names[source_index]
    return names
