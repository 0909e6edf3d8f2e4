"""VOC-2012 action classification (Table 12) on a small fixture in the real layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from sklearn.datasets import load_sample_images

from kvgg.cli import main
from kvgg.data.voc_actions import ACTIONS, crop_box, voc_action
from kvgg.io import save_model
from kvgg.transfer.actions import action_results
from kvgg.transfer.metrics import voc_average_precision
from tests.helpers import tiny_model

SIZE = (48, 64)  # height, width of every fixture image

# image id -> objects: (name, box (xmin, ymin, xmax, ymax), actions or None for no <actions>)
IMAGES = {
    "2010_000001": [("chair", (1, 1, 10, 10), None), ("person", (5, 5, 30, 40), ["jumping"])],
    "2010_000002": [  # the first person's box runs past the right and bottom edges
        ("person", (40, 20, 90, 70), ["phoning", "walking"]),
        ("person", (1, 1, 20, 20), ["running"]),
    ],
    "2010_000003": [("person", (10, 8, 50, 45), ["jumping"])],
    "2010_000004": [("person", (2, 3, 33, 47), ["running"])],
    "2010_000005": [("person", (20, 10, 60, 40), ["phoning"])],
    "2010_000006": [("person", (4, 4, 44, 44), ["walking"])],
    "2010_000007": [("person", (8, 2, 60, 30), ["jumping"]), ("dog", (1, 1, 5, 5), None)],
    "2010_000008": [("person", (3, 6, 40, 46), ["running"])],
    "2010_000009": [("person", (5, 5, 25, 25), None)],  # a file with no action
    "2010_000010": [("person", (1, 1, 64, 48), ["phoning"])],
    "2010_000011": [("person", (12, 5, 50, 40), ["jumping"])],
}
TRAIN = ["2010_000001", "2010_000002", "2010_000003", "2010_000004", "2010_000005",
         "2010_000006", "2010_000009"]  # fmt: skip
VAL = [("2010_000007", 1), ("2010_000008", 1), ("2010_000010", 1), ("2010_000011", 1)]


def photographs():
    """Crops of scikit-learn's two sample photographs (china.jpg, flower.jpg), resized."""
    china, flower = load_sample_images().images
    for k in range(len(IMAGES)):
        photo = (china, flower)[k % 2]
        top, left = 20 * k, 30 * k
        crop = photo[top : top + 240, left : left + 320]
        yield np.asarray(Image.fromarray(crop).resize(SIZE[::-1], Image.BILINEAR))


def make_voc_action(root: Path) -> Path:
    """A ``VOCdevkit/VOC2012`` with JPEGImages, Annotations (actions) and ImageSets/Action."""
    base = root / "VOCdevkit" / "VOC2012"
    for folder in ("JPEGImages", "Annotations", "ImageSets/Action"):
        (base / folder).mkdir(parents=True)
    for (image_id, objects), pixels in zip(IMAGES.items(), photographs(), strict=True):
        Image.fromarray(pixels).save(base / "JPEGImages" / f"{image_id}.jpg", quality=90)
        xml = [f"<annotation><filename>{image_id}.jpg</filename>"]
        for name, (x0, y0, x1, y1), actions in objects:
            tags = ""
            if actions is not None:
                tags = (
                    "<actions>"
                    + "".join(f"<{a}>{int(a in actions)}</{a}>" for a in ACTIONS)
                    + "</actions>"
                )
            xml.append(
                f"<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
                f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox>{tags}</object>"
            )
        (base / "Annotations" / f"{image_id}.xml").write_text("".join(xml) + "</annotation>")
    action_sets = base / "ImageSets" / "Action"
    (action_sets / "train.txt").write_text("".join(f"{i}\n" for i in TRAIN))
    (action_sets / "val.txt").write_text("".join(f"{i} {p}\n" for i, p in VAL))
    return root / "VOCdevkit"


@pytest.fixture(scope="module")
def devkit(tmp_path_factory):
    return make_voc_action(tmp_path_factory.mktemp("voc"))


def test_people_boxes_and_actions_are_read_from_the_annotations(devkit):
    train = voc_action(devkit, "train", region="box")
    # 2010_000002 has two people; the chair of 2010_000001 is object 1, its person object 2.
    assert train.image_ids == [
        "2010_000001",
        "2010_000002",
        "2010_000002",
        "2010_000003",
        "2010_000004",
        "2010_000005",
        "2010_000006",
        "2010_000009",
    ]
    assert train.person_indices == [2, 1, 2, 1, 1, 1, 1, 1]
    expected = np.zeros((8, 11), np.float32)
    for row, names in enumerate(
        [
            ["jumping"],
            ["phoning", "walking"],
            ["running"],
            ["jumping"],
            ["running"],
            ["phoning"],
            ["walking"],
        ]
    ):
        expected[row, [ACTIONS.index(n) for n in names]] = 1
    expected[7] = np.nan  # the file with no action: unknown, not "no action"
    np.testing.assert_array_equal(train.labels, expected)
    assert train.known.tolist() == [True] * 7 + [False] and train.annotated

    crops = [image for image, _ in train.dataset().as_numpy_iterator()]
    assert crops[0].shape == (36, 26, 3)  # rows 5..40, columns 5..30 (1-based, inclusive)
    assert crops[1].shape == (29, 25, 3)  # rows 20..48, columns 40..64: clipped at the edges
    whole = next(voc_action(devkit, "train").dataset().as_numpy_iterator())[0]
    assert isinstance(whole, bytes)  # the whole image: the JPEG file's bytes


def test_crop_box_keeps_the_part_inside_the_image():
    import tensorflow as tf

    image = tf.reshape(tf.range(10 * 20 * 3, dtype=tf.int32), (10, 20, 3))
    crop = crop_box(image, tf.constant([-5.0, 3, 30, 8]))
    np.testing.assert_array_equal(crop.numpy(), image.numpy()[2:8, 0:20])
    assert crop_box(image, tf.constant([50.0, 50, 60, 60])).shape == (1, 1, 3)


def test_bad_action_annotations_name_the_file(devkit, tmp_path):
    copy = make_voc_action(tmp_path)
    xml = copy / "VOC2012" / "Annotations" / "2010_000003.xml"
    xml.write_text(
        xml.read_text().replace("<jumping>", "<flying>").replace("</jumping>", "</flying>")
    )
    with pytest.raises(ValueError, match="2010_000003.xml': person 1 has an unknown action"):
        voc_action(copy, "train")
    (copy / "VOC2012" / "ImageSets" / "Action" / "val.txt").write_text("2010_000007 3\n")
    with pytest.raises(ValueError, match="2010_000007.xml' has no person 3"):
        voc_action(copy, "val")


class _FixedScores:
    """A stand-in for trained SVMs: the decision values are given by hand."""

    def __init__(self, scores):
        self.scores, self.c = np.asarray(scores, float), 1.0

    def decision_function(self, features):
        return self.scores


def test_ap_per_action_and_mean_against_hand_values():
    """4 test people; AP (VOC2010+ area) computed by hand from the ranking."""
    labels = np.zeros((5, 11), np.float32)
    labels[[0, 2], 0] = 1  # jumping: people 0 and 2
    labels[1, 1] = 1  # phoning: person 1
    labels[4] = np.nan  # unknown actions: not scored
    scores = np.zeros((5, 11))
    scores[:, 0] = [0.9, 0.8, 0.7, 0.1, 5.0]  # ranks P, N, P, N -> 1/2 * 1 + 1/2 * 2/3
    scores[:, 1] = [0.5, 0.2, 0.9, 0.8, 5.0]  # phoning ranked 4th -> 1/4
    features = {f"{r}_{g}": np.eye(5) for r in ("train", "test") for g in ("image", "box")}
    train_labels = np.eye(5, 11, dtype=np.float32)
    seen = []

    def fit(x, y):
        seen.append(x.shape)
        return _FixedScores(scores)

    results = action_results(features, train_labels, labels, fit, ACTIONS)
    assert seen == [(5, 5), (5, 10)]  # image only; image and box stacked
    for setting in ("image", "image and box"):
        row = results[setting]
        assert row["ap"]["jumping"] == pytest.approx(100 * (0.5 + 0.5 * 2 / 3))
        assert row["ap"]["phoning"] == pytest.approx(25.0)
        assert row["ap"]["walking"] is None  # no positive test person
        assert row["map"] == pytest.approx(100 * ((0.5 + 1 / 3) + 0.25) / 2)
        assert row["people"] == [5, 4]


@pytest.mark.slow  # end-to-end transfer: two models, four feature sets, SVMs
def test_kvgg_transfer_runs_the_action_recipe(devkit, tmp_path):
    models = {}
    for config in ("D", "E"):
        models[config] = save_model(
            tiny_model(config, num_classes=1000), tmp_path / f"{config}.keras"
        )
    out = tmp_path / "out"
    args = ["transfer", "recipes/transfer/voc2012_action.yaml",
            "--set", f"data.root={devkit}", "--set", f"models.D={models['D']}",
            "--set", f"models.E={models['E']}", "--set", "features.scales=[32, 48]",
            "--set", f"features.cache_dir={tmp_path / 'cache'}", "--set", f"out_dir={out}",
            "--set", "svm.c=1.0"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "| paper: VGG D & E, image and box | - | 84.0 |" in result.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["rows"]) == {"D", "E", "D & E"}
    val = voc_action(devkit, "val")
    for settings in report["rows"].values():
        for row in settings.values():
            assert row["people"] == [7, 4]
            folder = Path(row["submission"])
            for action in ("jumping", "running", "phoning"):
                lines = (folder / f"comp10_action_val_{action}.txt").read_text().split("\n")
                scores = [float(line.split()[2]) for line in lines if line]
                truth = val.labels[:, ACTIONS.index(action)]
                expected = 100 * voc_average_precision(scores, truth, method="area")
                assert row["ap"][action] == pytest.approx(expected)
            assert row["map"] == pytest.approx(
                np.mean([v for v in row["ap"].values() if v is not None])
            )
    # Features come from the cache the second time: the same numbers.
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and json.loads((out / "report.json").read_text()) == report


@pytest.mark.parametrize("region", ["image", "box"])
def test_an_undecodable_image_is_named(tmp_path, region):
    from kvgg.transfer import extract_features

    root = make_voc_action(tmp_path)
    (root / "VOC2012" / "JPEGImages" / "2010_000004.jpg").write_bytes(b"not a jpeg")
    source = voc_action(root, "train", region=region)
    model = tiny_model("D", num_classes=10)
    with pytest.raises(ValueError, match="Could not decode image '2010_000004'"):
        extract_features(model, source, scales=[32], progress=False)


def test_a_person_listed_twice_counts_once_and_is_named(tmp_path, caplog):
    devkit = make_voc_action(tmp_path)
    val = devkit / "VOC2012" / "ImageSets" / "Action" / "val.txt"
    val.write_text(val.read_text() + "2010_000007 1\n2010_000007\n")  # again, and as "all"
    with caplog.at_level("WARNING", logger="kvgg.data"):
        source = voc_action(devkit, "val")
    assert source.image_ids == [i for i, _ in VAL]
    assert f"{val} line 5" in caplog.text and f"{val} line 6" in caplog.text
    assert "2010_000007 person 1 listed again" in caplog.text


def test_a_person_in_both_train_and_test_is_refused(tmp_path):
    from kvgg.transfer.experiment import check_disjoint

    devkit = make_voc_action(tmp_path)
    sets = devkit / "VOC2012" / "ImageSets" / "Action"
    train, val = voc_action(devkit, "train"), voc_action(devkit, "val")
    check_disjoint(train, val)  # the fixture's splits are disjoint
    (sets / "trainval.txt").write_text((sets / "train.txt").read_text() + "2010_000007 1\n")
    with pytest.raises(ValueError, match=r"2010_000007 person 1.*both"):
        check_disjoint(voc_action(devkit, "trainval"), val)


def test_transfer_refuses_a_person_in_train_and_test(devkit, tmp_path):
    sets = devkit / "VOC2012" / "ImageSets" / "Action"
    copy = make_voc_action(tmp_path)
    (copy / "VOC2012" / "ImageSets" / "Action" / "train.txt").write_text(
        (sets / "train.txt").read_text() + "2010_000007 1\n"
    )
    model = save_model(tiny_model("A", num_classes=1000), tmp_path / "m.keras")
    args = ["transfer", "recipes/transfer/voc2012_action.yaml", "--set", f"data.root={copy}",
            "--set", f"models.D={model}", "--set", f"models.E={model}",
            "--set", f"out_dir={tmp_path / 'out'}"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "2010_000007 person 1" in result.output and "both" in result.output
