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


def test_a_classifier_given_as_localisation_net_is_a_one_line_error(files):
    root, images, _ = files
    photo = sorted(images.rglob("*.jpg"))[0]
    result = invoke("localize", "--model", root / "cls.keras", "--classifier", root / "cls.keras",
                    photo)  # fmt: skip
    assert result.exit_code == 2
    assert "cls.keras" in result.output and "not a localisation net" in result.output
    assert "Traceback" not in result.output


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
    assert report["rows"][-1]["paper"] == 26.9  # the paper's fusion, beside ours


def test_evaluate_boxes_needs_a_classifier(files):
    root, images, annotations = files
    result = invoke("evaluate", "--model", root / "pcr.keras", "--data", images,
                    "--boxes", annotations)  # fmt: skip
    assert result.exit_code == 2 and "--classifier" in result.output
