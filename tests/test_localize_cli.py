"""`kvgg localize` and `kvgg evaluate --boxes` on files, with tiny untrained nets."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kvgg.cli import main
from kvgg.io import save_model
from kvgg.localize import build_localizer
from kvgg.localize.demo import pasted_objects
from kvgg.localize.files import draw_boxes
from tests.helpers import tiny_model

NAMES = ["blue", "green", "red"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("loc_cli")
    classifier = tiny_model("A", num_classes=3)
    save_model(classifier, root / "cls.keras", class_names=NAMES, info={"scale": 40})
    for regression in ("pcr", "scr"):
        net = build_localizer(classifier, regression=regression, seed=0)
        info = {"scale": 40, "recipe": {"localization": {"regression": regression}}}
        save_model(net, root / f"{regression}.keras", class_names=NAMES, info=info)
    images, annotations = pasted_objects(root / "data", per_class=2, size=(48, 64))
    return root, images, annotations


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_localize_prints_top_classes_with_boxes_writes_json_and_pictures(files, tmp_path):
    root, images, _ = files
    photos = sorted(images.rglob("*.jpg"))[:2]
    result = invoke(
        "localize", "--model", root / "pcr.keras", "--classifier", root / "cls.keras",
        *photos, "--scales", "40,64", "-o", tmp_path / "boxes.json", "--pictures", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    boxes = json.loads((tmp_path / "boxes.json").read_text())
    assert list(boxes) == [str(p) for p in photos]
    for rows in boxes.values():
        assert sorted(row["class"] for row in rows) == NAMES  # top 5 of 3 classes
        assert all(len(row["box"]) == 4 and np.isfinite(row["box"]).all() for row in rows)
        posteriors = [row["posterior"] for row in rows]
        assert posteriors == sorted(posteriors, reverse=True)
    assert "box (" in result.output
    assert result.output.index(str(photos[0])) < result.output.index("Boxes written")
    for photo in photos:
        picture = Image.open(tmp_path / f"{photo.name}.boxes.png")
        assert picture.size[0] >= 480  # small photos are enlarged to draw legibly


def test_fused_nets_and_no_pictures(files, tmp_path):
    root, images, _ = files
    photo = sorted(images.rglob("*.jpg"))[0]
    result = invoke(
        "localize", "--model", root / "pcr.keras", "--model", root / "scr.keras",
        "--classifier", root / "cls.keras", photo, "--top", "2", "--no-pictures",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count("box (") == 2
    assert not list(images.rglob("*.boxes.png"))


WRONG_KIND = {  # what a user passes where the other kind of net belongs -> words expected
    "evaluate_loc": (
        ["evaluate", "--model", "{pcr}", "--data", "{images}"],
        "pcr.keras", ["localisation net, not a classifier", "--boxes", "--classifier"],
    ),
    "evaluate_scr": (
        ["evaluate", "--model", "{scr}", "--data", "{images}"],
        "scr.keras", ["localisation net, not a classifier", "--boxes", "--classifier"],
    ),
    "evaluate_boxes_cls_model": (
        ["evaluate", "--model", "{cls}", "--classifier", "{cls}", "--data", "{images}",
         "--boxes", "{annotations}"],
        "cls.keras", ["not a localisation net", "--classifier"],
    ),
    "evaluate_boxes_loc_classifier": (
        ["evaluate", "--model", "{pcr}", "--classifier", "{scr}", "--data", "{images}",
         "--boxes", "{annotations}"],
        "scr.keras", ["localisation net, not a classifier", "--classifier"],
    ),
    "localize_cls_model": (
        ["localize", "--model", "{cls}", "--classifier", "{cls}", "{photo}"],
        "cls.keras", ["not a localisation net", "--classifier"],
    ),
    "localize_loc_classifier": (
        ["localize", "--model", "{pcr}", "--classifier", "{pcr}", "{photo}"],
        "pcr.keras", ["localisation net, not a classifier", "--classifier"],
    ),
    "predict_loc": (
        ["predict", "--model", "{pcr}", "{photo}"],
        "pcr.keras", ["localisation net, not a classifier", "kvgg localize"],
    ),
    "scoremap_loc": (
        ["scoremap", "--model", "{scr}", "{photo}", "-o", "{out}"],
        "scr.keras", ["localisation net, not a classifier", "kvgg localize"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(WRONG_KIND))
def test_the_wrong_kind_of_net_is_a_one_line_error_naming_the_file(files, tmp_path, case):
    root, images, annotations = files
    template, named, words = WRONG_KIND[case]
    paths = {name: root / f"{name}.keras" for name in ("cls", "pcr", "scr")}
    photo = sorted(images.rglob("*.jpg"))[0]
    args = [
        a.format(**paths, images=images, annotations=annotations, photo=photo, out=tmp_path)
        for a in template
    ]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert str(root / named) in lines[0]
    for word in words:
        assert word in lines[0]
    assert not list(tmp_path.iterdir())  # nothing drawn or written


def test_evaluate_with_boxes_reports_both_protocols_beside_the_paper(files, tmp_path):
    root, images, annotations = files
    result = invoke(
        "evaluate", "--model", root / "pcr.keras", "--model", root / "scr.keras",
        "--classifier", root / "cls.keras", "--data", images, "--boxes", annotations,
        "--scales", "40", "-o", tmp_path / "report.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Table 8" in result.output and "Table 9" in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["images"] == 6
    protocols = [row["protocol"] for row in report["rows"]]
    assert protocols == [1, 2, 1, 2, 2]  # each net, then their fusion
    assert all(0 <= row["error"] <= 1 for row in report["rows"])
    # tiny nets at S=40 (a PCR and an SCR fused): nothing the paper ran, so no paper number
    assert [row["paper"] for row in report["rows"]] == [None] * 5
    assert [n["train_scale"] for n in report["rows"][-1]["nets"]] == [40, 40]


def test_evaluate_boxes_needs_a_classifier(files):
    root, images, annotations = files
    result = invoke("evaluate", "--model", root / "pcr.keras", "--data", images,
                    "--boxes", annotations)  # fmt: skip
    assert result.exit_code == 2 and "--classifier" in result.output


def _left_edge(picture: np.ndarray, box, zoom: float) -> tuple[np.ndarray, int]:
    """Across the middle of a box's left edge: the colour of its brightest pixel, scaled to
    a brightest channel of 1 (on a black photo an anti-aliased line is a darker shade),
    and the line's width in pixels."""
    x0, y0, _, y1 = (v * zoom for v in box)
    row, col = int((y0 + y1) / 2), int(round(x0))
    across = picture[row, max(col - 6, 0) : col + 7, :3].astype(float) / 255
    brightest = across[across.sum(axis=1).argmax()]
    assert brightest.max() > 0.3, "no box edge drawn there"
    return brightest / brightest.max(), int((across.max(axis=1) > 0.5 * brightest.max()).sum())


def test_pictures_colour_each_class_the_same_whatever_its_rank(tmp_path):
    photo = np.zeros((60, 120, 3), "uint8")  # black: the edges show their colour
    cat = {"class": "cat", "index": 3, "posterior": 0.6, "box": [10, 10, 50, 50]}
    dog = {"class": "dog", "index": 7, "posterior": 0.3, "box": [70, 10, 110, 50]}
    colours = {}
    for order in ("cat_first", "dog_first"):
        rows = [cat, dog] if order == "cat_first" else [dict(dog, posterior=0.7), cat]
        out = draw_boxes(photo, rows, tmp_path / f"{order}.png")
        picture = np.asarray(Image.open(out).convert("RGB"))
        zoom = picture.shape[1] / photo.shape[1]
        colours[order] = {row["class"]: _left_edge(picture, row["box"], zoom) for row in rows}
    (cat_1, cat_1_width), (dog_2, dog_2_width) = colours["cat_first"].values()
    (dog_1, dog_1_width), (cat_2, cat_2_width) = colours["dog_first"].values()
    np.testing.assert_allclose(cat_1, cat_2, atol=0.06)  # the same colour at rank 1 and 2
    np.testing.assert_allclose(dog_1, dog_2, atol=0.06)
    assert np.abs(cat_1 - dog_1).max() > 0.2  # two classes told apart
    assert cat_1_width > cat_2_width and dog_1_width > dog_2_width  # the best one thicker
