"""The file-level entry points behind `kvgg localize` and `kvgg evaluate --boxes`.

Models are `.keras` files or `kvgg fit` run directories. A localisation net's test
scales default to the training scale S stored in it; the classifier gives the top
classes (and their names).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kvgg.evaluate.common import MAX_PIXELS, check_pixels
from kvgg.evaluate.files import load_classifier
from kvgg.evaluate.paper_numbers import table8_error, table9_error
from kvgg.evaluate.predict import load_image
from kvgg.io import check_outputs, resolve_model_file, write_atomic, write_text
from kvgg.localize.boxes import DEFAULT_MERGE_THRESHOLD
from kvgg.localize.metrics import localization_error
from kvgg.localize.protocols import DenseLocalizer, centre_crop_boxes

__all__ = [
    "LoadedLocalizer",
    "Nets",
    "class_colour",
    "draw_boxes",
    "evaluate_localization",
    "load_localizer",
    "load_nets",
    "localize_files",
]


@dataclass
class LoadedLocalizer:
    """A localisation net loaded from a file, with what it says about its training.

    Attributes:
        path: the file or run directory given.
        model: the net.
        scale: its training scale S (from the file's recipe or metadata), or None.
        regression: "scr" or "pcr" (from the width of its box layer).
        fine_tune: "all" or "fc" (from its recipe, else from which layers are trainable).
        config: its configuration ("D"), or None when the file does not say.
        class_names: the class names stored in the file, or None.
    """

    path: str
    model: object
    scale: int | None
    regression: str
    fine_tune: str
    config: str | None
    class_names: list[str] | None

    def describe(self) -> str:
        """The Table 8 row label, e.g. ``D, all layers, PCR, S=384``."""
        parts = [self.config] if self.config else []
        parts += [f"{self.fine_tune} layers", self.regression.upper()]
        parts += [f"S={self.scale}"] if self.scale else []
        return ", ".join(parts)


def load_localizer(path) -> LoadedLocalizer:
    """Load a localisation net (a `.keras` file or a run directory), refusing a classifier.

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.io import save_model
        >>> from kvgg.localize.model import build_localizer
        >>> net = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> path = save_model(build_localizer(net, regression="pcr", fine_tune="fc"),
        ...                   f"{tempfile.mkdtemp()}/loc.keras", info={"scale": 40})
        >>> load_localizer(path).describe()
        'fc layers, PCR, S=40'
    """
    from kvgg.io import read_info
    from kvgg.localize.model import FINE_TUNE

    model, _, info = load_classifier(path, kind="localizer")
    section = (info.get("recipe") or {}).get("localization") or {}
    fine_tune = section.get("fine_tune")
    if fine_tune not in FINE_TUNE:
        frozen = [layer for layer in model.layers if layer.weights and not layer.trainable]
        fine_tune = "fc" if frozen else "all"
    scale = info.get("scale")
    names = read_info(resolve_model_file(path)).get("class_names")
    config = info.get("config")
    return LoadedLocalizer(
        path=str(path),
        model=model,
        scale=scale if isinstance(scale, int) else None,
        regression=section.get("regression") or ("scr" if _box_classes(model) == 1 else "pcr"),
        fine_tune=fine_tune,
        config=config if isinstance(config, str) else None,
        class_names=list(names) if names else None,
    )


@dataclass
class Nets:
    """The nets of protocol 2, loaded and checked to agree (`load_nets`).

    Attributes:
        localizers: the localisation nets, each with its test scales: ``[(net, Q set)]``.
        classifiers: the classifiers (fused) and their test scales: ``[(model, Q set)]``.
        class_names: the classifiers' class names.
        flip: whether the classifiers average in the mirrored image.
    """

    localizers: list[tuple[LoadedLocalizer, tuple[int, ...]]]
    classifiers: list[tuple[object, tuple[int, ...]]]
    class_names: list[str]
    flip: bool

    def dense_localizer(
        self,
        *,
        top: int = 5,
        threshold: float = DEFAULT_MERGE_THRESHOLD,
        localizers=None,
        bucket="auto",
    ) -> DenseLocalizer:
        """Protocol 2 with these classifiers and these (or some of these) localisation nets."""
        nets = self.localizers if localizers is None else localizers
        return DenseLocalizer(
            [model for model, _ in self.classifiers],
            [(loaded.model, scales) for loaded, scales in nets],
            top=top,
            threshold=threshold,
            classifier_scales=[scales for _, scales in self.classifiers],
            flip=self.flip,
            bucket=bucket,
        )  # fmt: skip


def load_nets(
    models: Sequence,
    classifiers,
    *,
    scales: Sequence[Sequence[int]] | None = None,
    classifier_scales: Sequence[Sequence[int]] | None = None,
    flip: bool | None = None,
) -> Nets:
    """Load the localisation nets and their classifiers, and check that they agree.

    Before any image is read: every file is the right kind of net; fused classifiers have
    the same classes in the same order; a per-class (PCR) localisation net has the
    classifiers' classes in their order (its box heads are picked by the classifier's
    class index; SCR nets share one box and fit any classifier). A mismatch is one line
    naming both files and the first class that differs.

    Args:
        models: localisation nets (files or run directories).
        classifiers: a classifier, or several (fused as `kvgg evaluate` fuses).
        scales: per localisation net, its test scales Q (default: its training scale S).
        classifier_scales: per classifier, its test scales (default: as `kvgg evaluate`:
            the preset of the classifier's training scale, `kvgg.evaluate.default_scales`).
        flip: the classifiers average in the mirrored image; default: the first
            classifier's recipe (`kvgg.evaluate.default_flip`).
    """
    from kvgg.evaluate.common import crop_size
    from kvgg.evaluate.files import check_same_classes
    from kvgg.evaluate.scales import default_flip, default_scales

    classifiers = [classifiers] if isinstance(classifiers, str | Path) else list(classifiers)
    if not classifiers:
        raise ValueError("Give at least one classifier (--classifier CLASSIFIER).")
    if not models:
        raise ValueError("Give at least one localisation net (--model LOCALIZER).")
    loaded_classifiers = [load_classifier(path) for path in classifiers]
    names = loaded_classifiers[0][1]
    for path, (_, other, _) in zip(classifiers, loaded_classifiers, strict=True):
        check_same_classes(names, classifiers[0], other, path)
    localizers = []
    for index, path in enumerate(models):
        loaded = load_localizer(path)
        if loaded.regression == "pcr":
            own = loaded.class_names
            if own is None:  # no names stored: the count at least
                own = names[: _box_classes(loaded.model)]
                own += [f"class {i}" for i in range(len(own), _box_classes(loaded.model))]
            check_same_classes(own, path, names, classifiers[0])
        given = scales[index] if scales else None
        localizers.append((loaded, _scales_of(loaded.model, loaded.scale, given)))
    if classifier_scales is None:
        classifier_scales = [
            default_scales(info, crop_size(model)) for model, _, info in loaded_classifiers
        ]
    from kvgg.evaluate.report import per_model

    classifier_scales = per_model(classifier_scales, len(classifiers), "classifier_scales")
    return Nets(
        localizers=localizers,
        classifiers=[
            (model, tuple(qs))
            for (model, _, _), qs in zip(loaded_classifiers, classifier_scales, strict=True)
        ],
        class_names=names,
        flip=default_flip(loaded_classifiers[0][2]) if flip is None else bool(flip),
    )


def _box_classes(model) -> int:
    from kvgg.localize.model import BOX_LAYER

    layer = model.get_layer(BOX_LAYER)
    return (layer.units if hasattr(layer, "units") else layer.filters) // 4


def _scales_of(model, scale, scales):
    if scales:
        return tuple(scales)
    return (scale,) if scale else (model.input_shape[1],)


def localize_files(
    models: Sequence,
    classifier,
    images: Sequence,
    *,
    scales: Sequence[Sequence[int]] | None = None,
    classifier_scales: Sequence[Sequence[int]] | None = None,
    flip: bool | None = None,
    top: int = 5,
    threshold: float = DEFAULT_MERGE_THRESHOLD,
    max_pixels: int | None = MAX_PIXELS,
    out=None,
    pictures=None,
    echo: Callable[[str], None] = print,
) -> list[list[dict]]:
    """Top classes and a box each for image files (protocol 2), with pictures of the boxes.

    Args:
        models: localisation nets (files or run directories); several are fused.
        classifier: the classifier giving the top classes (file or run directory), or a
            list of them (fused as `kvgg evaluate` fuses).
        images: image files.
        scales: per model, its test scales Q (default: its training scale S).
        classifier_scales: per classifier, its test scales (default: as `kvgg evaluate`,
            the preset of its training scale); see `load_nets`.
        flip: the classifiers average in the mirrored image (default: as trained).
        top: classes per image.
        threshold: the greedy merging threshold.
        max_pixels: refuse an image whose view at a test scale would exceed this many
            pixels (`kvgg.evaluate.common.MAX_PIXELS`); None for no bound.
        out: a JSON file for the boxes (pixel corners of the original images).
        pictures: a folder for the pictures (``NAME.boxes.png``); default the working
            directory (never the image's folder); ``False`` draws none.
        echo: prints the results (before anything is written).

    Returns:
        Per image, a list of ``{"class", "index", "posterior", "box"}`` dicts, best first.

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.io import save_model
        >>> from kvgg.localize.demo import pasted_objects
        >>> from kvgg.localize.model import build_localizer
        >>> images, boxes = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 3 classes
        >>> folder = Path(tempfile.mkdtemp())
        >>> net = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> names = ["blue", "green", "red"]
        >>> classifier = save_model(net, folder / "cls.keras", class_names=names,
        ...                         info={"scale": 32})  # its test scales: {32, 64}
        >>> localizer = save_model(build_localizer(net, regression="pcr"), folder / "loc.keras",
        ...                        class_names=names)
        >>> rows = localize_files([localizer], classifier, [images / "red" / "red_0000.jpg"],
        ...                       top=2, pictures=folder, echo=lambda line: None)
        >>> len(rows[0]), sorted(rows[0][0]), (folder / "red_0000.jpg.boxes.png").is_file()
        (2, ['box', 'class', 'index', 'posterior'], True)
    """
    drawn = [] if pictures is False else list(images)
    check_outputs(
        [out, *(_picture_path(path, pictures) for path in drawn)],
        [*_model_files(models, classifier), *images],
        made_from=[None, *drawn],
    )
    nets = load_nets(
        models, classifier, scales=scales, classifier_scales=classifier_scales, flip=flip
    )
    names = nets.class_names
    _check_views(nets, max_pixels)
    localize = nets.dense_localizer(top=top, threshold=threshold)
    results = []
    for path in images:
        pixels = load_image(path)
        _check_views(nets, max_pixels, pixels.shape[:2], str(path))
        guesses = localize(pixels)
        rows = [
            {
                "class": names[g.label],
                "index": g.label,
                "posterior": round(g.posterior, 6),
                "box": [round(v, 1) for v in g.box],
            }
            for g in guesses
        ]
        echo(str(path))
        for row in rows:
            corners = ", ".join(f"{v:.0f}" for v in row["box"])
            echo(f"  {row['posterior']:6.1%}  {row['class']}  box ({corners})")
        results.append(rows)
    if out:
        payload = {str(p): rows for p, rows in zip(images, results, strict=True)}
        write_text(out, json.dumps(payload, indent=1) + "\n")
        echo(f"Boxes written to {out}")
    if pictures is not False:
        for path, rows in zip(images, results, strict=True):
            picture = draw_boxes(load_image(path), rows, _picture_path(path, pictures))
            echo(f"Picture: {picture}")
    return results


def _check_views(nets, max_pixels, shape=None, name="An image") -> None:
    """`kvgg.evaluate.common.check_pixels` at every scale any net of ``nets`` sees: the
    localisation nets' test scales and training scale S (protocol 1), the classifiers'."""
    scales = {q for _, qs in [*nets.localizers, *nets.classifiers] for q in qs}
    scales |= {loaded.scale for loaded, _ in nets.localizers if loaded.scale}
    check_pixels(scales, max_pixels, shape, name)


def _picture_path(image, pictures) -> Path:
    """Where `localize_files` draws the boxes of ``image``."""
    folder = Path(pictures) if pictures else Path(".")  # never the image's (class) folder
    return folder / f"{Path(image).name}.boxes.png"


def _model_files(*models) -> list[Path]:
    """The model files that model arguments (files, run directories, lists) name."""
    return [resolve_model_file(path) for given in models for path in _listed(given)]


def draw_boxes(image: np.ndarray, rows: Sequence[dict], out) -> Path:
    """Draw each row's box and class over the whole photo; the best in a thicker line.

    Each class has its own colour, the same in every picture (`class_colour`), so a
    class is recognised at a glance whatever its rank.

    Args:
        image: uint8 (H, W, 3) RGB.
        rows: ``{"class", "index", "posterior", "box"}`` dicts (pixel corners), best
            first; ``index`` (the class index) picks the colour, else the class name.
        out: the picture file (PNG, PDF, ...).

    Example:
        >>> import tempfile
        >>> photo = np.zeros((64, 96, 3), "uint8")
        >>> out = Path(tempfile.mkdtemp()) / "cat.boxes.png"
        >>> draw_boxes(photo, [{"class": "cat", "posterior": 0.9, "box": [1, 2, 50, 60]}], out).name
        'cat.boxes.png'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    height, width = image.shape[:2]
    zoom = max(1.0, 480 / max(height, width))
    figure = plt.figure(figsize=(width * zoom / 100, height * zoom / 100), dpi=100)
    axes = figure.add_axes([0, 0, 1, 1])
    axes.imshow(image)
    axes.set_axis_off()
    for rank, row in reversed(list(enumerate(rows))):
        x0, y0, x1, y1 = row["box"]
        colour = class_colour(row.get("index", row["class"]))
        axes.add_patch(
            Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=3 if rank == 0 else 1.2, ec=colour)
        )
        label = f"{row['class']} {row['posterior']:.0%}"
        axes.text(
            max(x0, 0) + 2, max(y0, 0) + 2, label, color="white", fontsize=8, va="top",
            bbox={"facecolor": colour, "alpha": 0.8, "pad": 1, "lw": 0},
        )  # fmt: skip
    try:
        return write_atomic(Path(out), lambda partial: figure.savefig(partial, format="png"))
    finally:
        plt.close(figure)


def class_colour(label: int | str) -> tuple[float, float, float]:
    """A class's colour in the pictures: stable across pictures, runs and processes.

    A class index picks from matplotlib's qualitative ``tab10`` colours (index mod 10); a
    class name is turned into an index by its CRC-32 (not Python's salted ``hash``).

    Args:
        label: the class index, or its name.

    Returns:
        An RGB triple in [0, 1].

    Example:
        >>> class_colour(0), class_colour(10) == class_colour(0)
        ((0.12156862745098039, 0.4666666666666667, 0.7058823529411765), True)
        >>> class_colour("cat") == class_colour("cat")
        True
    """
    from matplotlib import colormaps

    if isinstance(label, str):
        label = zlib.crc32(label.encode())
    colours = colormaps["tab10"].colors
    return tuple(colours[int(label) % len(colours)])


def evaluate_localization(
    models: Sequence,
    classifier,
    images,
    boxes,
    *,
    scales: Sequence[Sequence[int]] | None = None,
    classifier_scales: Sequence[Sequence[int]] | None = None,
    flip: bool | None = None,
    bucket: int | str | None = "auto",
    threshold: float = DEFAULT_MERGE_THRESHOLD,
    max_pixels: int | None = MAX_PIXELS,
    out=None,
    record: bool = True,
    echo: Callable[[str], None] = print,
) -> dict:
    """Both protocols on images with ground-truth boxes; a report like Tables 8 and 9.

    Protocol 1 (each net alone, centre crop at its training scale, ground-truth class) and
    protocol 2 (each net densely over its scales, then all nets fused, top-5 classes of
    the classifiers by the classification protocol, greedy merging), the paper's numbers
    beside where the paper ran the same thing (`kvgg.evaluate.paper_numbers`). The nets
    are checked to agree before any image is read (`load_nets`).

    Args:
        models: localisation nets (files or run directories).
        classifier: the classifier for protocol 2's top-5 classes, or a list (fused).
        images: the image folder (class folders, or flat).
        boxes: its boxes: an XML folder (parallel tree, or flat) or a Kaggle CSV.
        scales: per model, protocol 2's test scales (default: its training scale).
        classifier_scales: per classifier, its test scales (default: its preset).
        flip: the classifiers average in the mirrored image (default: as trained).
        bucket: the classifiers' dense shape bucket (`kvgg.evaluate.DenseScorer`).
        threshold: the greedy merging threshold.
        max_pixels: refuse an image whose view at a test scale would exceed this many
            pixels (`kvgg.evaluate.common.MAX_PIXELS`); None for no bound.
        out: a JSON file for the report.
        record: also write the report into the ``evaluations/`` folder of each
            localisation net's run directory, where `kvgg report` finds it.
        echo: prints the report (before anything is written).

    Returns:
        The report as a dict.

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.io import save_model
        >>> from kvgg.localize.demo import pasted_objects
        >>> from kvgg.localize.model import build_localizer
        >>> images, boxes = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 3 classes
        >>> folder = Path(tempfile.mkdtemp())
        >>> net = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> names = ["blue", "green", "red"]
        >>> classifier = save_model(net, folder / "cls.keras", class_names=names,
        ...                         info={"scale": 32})  # its test scales: {32, 64}
        >>> localizer = save_model(build_localizer(net, regression="pcr"), folder / "loc.keras",
        ...                        class_names=names)
        >>> report = evaluate_localization([localizer], classifier, images, boxes,
        ...                                echo=lambda line: None)
        >>> report["images"], [row["protocol"] for row in report["rows"]]  # Tables 8, 9
        (6, [1, 2])
    """
    from kvgg.localize.data import box_images
    from kvgg.localize.task import open_box_source

    # every file is checked, and the nets against each other, before the images
    check_outputs([out], [*_model_files(models, classifier), boxes])
    nets = load_nets(
        models, classifier, scales=scales, classifier_scales=classifier_scales, flip=flip
    )
    _check_views(nets, max_pixels)
    source = open_box_source(images, boxes, classes=nets.class_names)
    pixels, source = box_images(source)  # undecodable images left out, in source.bad_files
    for path, image in zip(source.paths, pixels, strict=True):
        _check_views(nets, max_pixels, image.shape[:2], path)
    for left_out in (source.bad_annotations, source.bad_files):
        if left_out.count:
            echo(f"Left out: {left_out}")
    rows = []
    for loaded, test_scales in nets.localizers:
        scale = loaded.scale or test_scales[0]
        centre = centre_crop_boxes(loaded.model, pixels, source.labels, scale=scale)
        guesses = [[(label, box)] for label, box in zip(source.labels, centre, strict=True)]
        rows.append(
            {
                "model": loaded.path,
                "protocol": 1,
                "setting": f"{loaded.describe()}, Q={scale}",
                "nets": [_net_entry(loaded, (scale,))],
                "error": localization_error(guesses, source.labels, source.boxes),
                "paper": table8_error(
                    loaded.config, loaded.regression, loaded.fine_tune, loaded.scale
                ),
            }
        )
        dense = _dense_row(nets, [(loaded, test_scales)], pixels, source, threshold, bucket)
        rows.append(dense)
    if len(nets.localizers) > 1:
        rows.append(_dense_row(nets, nets.localizers, pixels, source, threshold, bucket))
    report = {
        "kind": "localization",
        "data": str(images),
        "boxes": str(boxes),
        "images": len(source),
        "threshold": threshold,
        "classifiers": [
            {"path": str(path), "scales": list(qs)}
            for path, (_, qs) in zip(_listed(classifier), nets.classifiers, strict=True)
        ],
        "flip": nets.flip,
        "rows": rows,
    }
    echo(localization_table(report))
    written = [write_text(out, json.dumps(report, indent=1) + "\n")] if out else []
    written += write_localization_records(report, models) if record else []
    for path in written:
        echo(f"Wrote {path}")
    return report


def _listed(paths) -> list:
    return [paths] if isinstance(paths, str | Path) else list(paths)


def _net_entry(loaded: LoadedLocalizer, scales) -> dict:
    return {
        "path": loaded.path,
        "config": loaded.config,
        "regression": loaded.regression,
        "fine_tune": loaded.fine_tune,
        "train_scale": loaded.scale,
        "scales": [int(q) for q in scales],
    }


def _dense_row(nets: Nets, fused, pixels, source, threshold, bucket) -> dict:
    localize = nets.dense_localizer(top=5, threshold=threshold, localizers=fused, bucket=bucket)
    guesses = [[(g.label, g.box) for g in localize(image)] for image in pixels]
    described = " + ".join(
        f"S={loaded.scale or '?'} Q={','.join(map(str, qs))}" for loaded, qs in fused
    )
    paper = table9_error([(n.config, n.regression, n.fine_tune, n.scale, qs) for n, qs in fused])
    return {
        "model": fused[0][0].path if len(fused) == 1 else "fusion",
        "protocol": 2,
        "setting": f"dense, {described}, top-5",
        "nets": [_net_entry(loaded, qs) for loaded, qs in fused],
        "error": localization_error(guesses, source.labels, source.boxes),
        "paper": None if paper is None else paper[0],
    }


def write_localization_records(report: dict, model_paths: Sequence) -> list[Path]:
    """Write a localisation report into ``RUN/evaluations/`` of each net's run directory.

    The file is ``boxes-<key>.json`` (``key``: a hash of the data, the nets, their scales
    and the classifiers), beside the classification records of `kvgg evaluate`, where
    `kvgg report` lays it out as Tables 8 and 9.

    Returns:
        The files written (none for nets that are not in a run directory).
    """
    import hashlib

    from kvgg.evaluate.records import EVALUATIONS, run_directory_of

    identity = json.dumps(
        [report["data"], report["classifiers"], report["flip"], report["threshold"]]
        + [row["nets"] for row in report["rows"]]
    )
    name = f"boxes-{hashlib.sha256(identity.encode()).hexdigest()[:8]}.json"
    runs = dict.fromkeys(run for run in map(run_directory_of, model_paths) if run is not None)
    text = json.dumps(report, indent=1) + "\n"
    return [write_text(run / EVALUATIONS / name, text) for run in runs]


def localization_table(report: dict) -> str:
    """The report as text: Table 8 rows (protocol 1), then Table 9 rows (protocol 2).

    Example:
        >>> print(localization_table({"images": 2, "threshold": 0.1, "rows": []}))
        Localisation error on 2 images (IoU > 0.5; merge threshold 0.1)
    """
    lines = [
        f"Localisation error on {report['images']} images (IoU > 0.5; merge threshold "
        f"{report['threshold']:g})"
    ]
    if report.get("classifiers"):
        used = " + ".join(
            f"{c['path']} (Q={','.join(map(str, c['scales']))})" for c in report["classifiers"]
        )
        lines.append(f"Top-5 classes: {used}, {'with' if report['flip'] else 'no'} flips")
    for protocol, title in (
        (1, "Table 8: centre crop, ground-truth class"),
        (2, "Table 9: dense, top-5 classes, greedy merging"),
    ):
        rows = [row for row in report["rows"] if row["protocol"] == protocol]
        if not rows:
            continue
        lines += ["", title, f"  {'model':<30} {'setting':<44} {'yours':>7} {'paper':>7}"]
        for row in rows:
            paper = f"{row['paper']:.1f}" if row["paper"] is not None else "-"
            lines.append(
                f"  {row['model'][-30:]:<30} {row['setting'][:44]:<44} "
                f"{100 * row['error']:7.1f} {paper:>7}"
            )
    return "\n".join(lines)
