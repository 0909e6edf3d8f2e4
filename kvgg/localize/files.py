"""The file-level entry points behind `kvgg localize` and `kvgg evaluate --boxes`.

Models are `.keras` files or `kvgg fit` run directories. A localisation net's test
scales default to the training scale S stored in it; the classifier gives the top
classes (and their names).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kvgg.evaluate.files import load_classifier
from kvgg.evaluate.predict import load_image
from kvgg.io import write_atomic, write_text
from kvgg.localize.boxes import DEFAULT_MERGE_THRESHOLD
from kvgg.localize.metrics import localization_error
from kvgg.localize.protocols import DenseLocalizer, centre_crop_boxes

__all__ = ["class_colour", "draw_boxes", "evaluate_localization", "localize_files"]

PAPER_TABLE_8 = {  # S=384, centre crop, ground-truth class, localisation error %
    ("scr", "fc"): 36.4,
    ("pcr", "fc"): 34.3,
    ("pcr", "all"): 33.1,
}
PAPER_TABLE_9 = {  # PCR, all layers, dense, top-5 classes: val top-5 localisation error %
    "S=256, Q=256": 29.5,
    "S=384, Q=384": 28.2,
    "S=384, Q={352, 384}": 27.5,
    "fusion of both": 26.9,
}


def load_localizer(path) -> tuple:
    """(model, its training scale S or None, its recipe's localization section or {})."""
    model, _, info = load_classifier(path, kind="localizer")
    scale = info.get("scale")
    section = (info.get("recipe") or {}).get("localization") or {}
    return model, scale if isinstance(scale, int) else None, section


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
    top: int = 5,
    threshold: float = DEFAULT_MERGE_THRESHOLD,
    out=None,
    pictures=None,
    echo: Callable[[str], None] = print,
) -> list[list[dict]]:
    """Top classes and a box each for image files (protocol 2), with pictures of the boxes.

    Args:
        models: localisation nets (files or run directories); several are fused.
        classifier: the classifier giving the top classes (file or run directory).
        images: image files.
        scales: per model, its test scales Q (default: its training scale S).
        top: classes per image.
        threshold: the greedy merging threshold.
        out: a JSON file for the boxes (pixel corners of the original images).
        pictures: a folder for the pictures (``NAME.boxes.png``); default beside each
            image; ``False`` draws none.
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
        >>> classifier = save_model(net, folder / "cls.keras", class_names=["blue", "green", "red"])
        >>> localizer = save_model(build_localizer(net, regression="pcr"), folder / "loc.keras")
        >>> rows = localize_files([localizer], classifier, [images / "red" / "red_0000.jpg"],
        ...                       top=2, pictures=folder, echo=lambda line: None)
        >>> len(rows[0]), sorted(rows[0][0]), (folder / "red_0000.jpg.boxes.png").is_file()
        (2, ['box', 'class', 'index', 'posterior'], True)
    """
    nets = []
    for index, path in enumerate(models):
        model, scale, _ = load_localizer(path)
        nets.append((model, _scales_of(model, scale, scales[index] if scales else None)))
    cls_model, names, _ = load_classifier(classifier)
    localize = DenseLocalizer(cls_model, nets, top=top, threshold=threshold)
    results = []
    for path in images:
        pixels = load_image(path)
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
            folder = Path(pictures) if pictures else Path(path).parent
            picture = draw_boxes(load_image(path), rows, folder / f"{Path(path).name}.boxes.png")
            echo(f"Picture: {picture}")
    return results


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
    threshold: float = DEFAULT_MERGE_THRESHOLD,
    out=None,
    echo: Callable[[str], None] = print,
) -> dict:
    """Both protocols on images with ground-truth boxes; a report like Tables 8 and 9.

    Protocol 1 (each net alone, centre crop at its training scale, ground-truth class) and
    protocol 2 (each net densely over its scales, then all nets fused, top-5 classes of
    ``classifier``, greedy merging), the paper's numbers beside.

    Args:
        models: localisation nets (files or run directories).
        classifier: the classifier for protocol 2's top-5 classes.
        images: the image folder (class folders, or flat).
        boxes: its boxes: an XML folder (parallel tree, or flat) or a Kaggle CSV.
        scales: per model, protocol 2's test scales (default: its training scale).
        threshold: the greedy merging threshold.
        out: a JSON file for the report.
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
        >>> classifier = save_model(net, folder / "cls.keras", class_names=["blue", "green", "red"])
        >>> localizer = save_model(build_localizer(net, regression="pcr"), folder / "loc.keras")
        >>> report = evaluate_localization([localizer], classifier, images, boxes,
        ...                                echo=lambda line: None)
        >>> report["images"], sorted(report)  # the rows: both protocols, the paper's beside
        (6, ['images', 'rows', 'threshold'])
    """
    from kvgg.localize.data import box_images
    from kvgg.localize.training import open_box_source

    cls_model, names, _ = load_classifier(classifier)
    loaded = [load_localizer(path) for path in models]  # a wrong file fails before the images
    source = open_box_source(images, boxes, classes=names)
    pixels, source = box_images(source)  # undecodable images left out, in source.bad_files
    for left_out in (source.bad_annotations, source.bad_files):
        if left_out.count:
            echo(f"Left out: {left_out}")
    rows, nets = [], []
    for index, (path, (model, scale, section)) in enumerate(zip(models, loaded, strict=True)):
        test_scales = _scales_of(model, scale, scales[index] if scales else None)
        nets.append((model, test_scales))
        centre = centre_crop_boxes(model, pixels, source.labels, scale=scale or test_scales[0])
        guesses = [[(label, box)] for label, box in zip(source.labels, centre, strict=True)]
        design = (section.get("regression", "?"), section.get("fine_tune", "?"))
        rows.append(
            {
                "model": str(path),
                "protocol": 1,
                "setting": f"{design[1]} layers, {design[0].upper()}, S={scale}",
                "error": localization_error(guesses, source.labels, source.boxes),
                "paper": PAPER_TABLE_8.get(design),
            }
        )
        rows.append(_dense_row(cls_model, [nets[-1]], pixels, source, threshold, str(path)))
    if len(nets) > 1:
        rows.append(_dense_row(cls_model, nets, pixels, source, threshold, "fusion"))
    report = {"images": len(source), "threshold": threshold, "rows": rows}
    echo(localization_table(report))
    if out:
        write_text(out, json.dumps(report, indent=1) + "\n")
        echo(f"Report written to {out}")
    return report


def _dense_row(classifier, nets, pixels, source, threshold, name):
    localize = DenseLocalizer(classifier, nets, top=5, threshold=threshold)
    guesses = [[(g.label, g.box) for g in localize(image)] for image in pixels]
    described = " + ".join(f"Q={{{', '.join(map(str, q))}}}" for _, q in nets)
    paper = PAPER_TABLE_9.get("fusion of both" if name == "fusion" else "")
    if len(nets) == 1 and len(nets[0][1]) == 1:
        (q,) = nets[0][1]
        paper = PAPER_TABLE_9.get(f"S={q}, Q={q}")
    return {
        "model": name,
        "protocol": 2,
        "setting": f"dense, {described}, top-5",
        "error": localization_error(guesses, source.labels, source.boxes),
        "paper": paper,
    }


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
    for protocol, title in (
        (1, "Table 8: centre crop, ground-truth class"),
        (2, "Table 9: dense, top-5 classes, greedy merging"),
    ):
        rows = [row for row in report["rows"] if row["protocol"] == protocol]
        if not rows:
            continue
        lines += ["", title, f"  {'model':<30} {'setting':<36} {'yours':>7} {'paper':>7}"]
        for row in rows:
            paper = f"{row['paper']:.1f}" if row["paper"] is not None else "-"
            lines.append(
                f"  {row['model'][-30:]:<30} {row['setting'][:36]:<36} "
                f"{100 * row['error']:7.1f} {paper:>7}"
            )
    return "\n".join(lines)
