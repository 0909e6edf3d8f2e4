"""Metrics, test-scale presets and the report, on hand-made numbers."""

import json

import numpy as np
import pytest

from kvgg.evaluate import (
    JITTERED_SCALES,
    Report,
    default_scales,
    parse_scales,
    per_class_accuracy,
    preset_scales,
    top_k_error,
)

POSTERIORS = np.array(
    [
        [0.5, 0.2, 0.1, 0.1, 0.05, 0.05],  # label 0: top-1 hit
        [0.5, 0.2, 0.1, 0.1, 0.05, 0.05],  # label 4: rank 4 (ties 0.05 broken by index)
        [0.5, 0.2, 0.1, 0.1, 0.05, 0.05],  # label 5: rank 5, outside the top 5
        [0.1, 0.6, 0.1, 0.1, 0.05, 0.05],  # label 2: rank 2 (tied with 0, after it)
    ]
)
LABELS = np.array([0, 4, 5, 2])


@pytest.mark.backend
def test_top_k_error_counts_images_whose_label_ranks_below_k():
    assert top_k_error(POSTERIORS, LABELS, 1) == 0.75
    assert top_k_error(POSTERIORS, LABELS, 3) == 0.5
    assert top_k_error(POSTERIORS, LABELS, 5) == 0.25
    assert top_k_error(POSTERIORS, LABELS, 6) == 0.0
    assert top_k_error(POSTERIORS[:, :3], np.array([0, 1, 2, 2]), 5) == 0.0  # k capped at C


@pytest.mark.backend
def test_per_class_accuracy_is_nan_for_classes_without_images():
    accuracy = per_class_accuracy(POSTERIORS, LABELS)
    np.testing.assert_array_equal(accuracy, [1.0, np.nan, 0.0, np.nan, 0.0, 0.0])


@pytest.mark.parametrize(
    "labels, message",
    [(np.array([0, 1]), "labels of shape \\(2,\\)"), (np.array([0, 1, 2, 6]), "\\[0, 6\\)")],
)
def test_bad_labels_are_refused(labels, message):
    with pytest.raises(ValueError, match=message):
        top_k_error(POSTERIORS, labels, 1)


def test_the_papers_scale_presets():
    assert preset_scales(256) == (224, 256, 288)
    assert preset_scales((256, 512)) == JITTERED_SCALES == (256, 384, 512)
    assert default_scales({"scale": 384}) == (352, 384, 416)
    assert default_scales({"scale": [256, 512]}) == (256, 384, 512)
    assert default_scales({"scale": 32}, crop=32) == (32, 64)
    assert default_scales({}) == (256, 384, 512)


@pytest.mark.parametrize("text", ["", "256,,384", "256;384", "-1", "0"])
def test_parse_scales_refuses_what_is_not_a_list_of_sides(text):
    with pytest.raises(ValueError, match="Received: scales="):
        parse_scales(text)


def test_report_table_and_json(tmp_path):
    report = Report(
        models=["vgg16", "vgg19"],
        method="both",
        scales=[256, 384, 512],
        flip=True,
        images=4,
        top1_error=0.75,
        top5_error=0.25,
        mean_class_accuracy=0.25,
        per_class=[
            {"name": "tench", "images": 3, "accuracy": 1 / 3},
            {"name": "goldfish", "images": 0, "accuracy": None},
            {"name": "shark", "images": 1, "accuracy": 0.0},
        ],
        seconds=2.0,
        images_per_second=2.0,
        posteriors=POSTERIORS,
        labels=LABELS,
    )
    table = report.table()
    assert "vgg16 + vgg19" in table and "Q = 256, 384, 512, with flips" in table
    assert "top-1 error   75.00 %" in table and "top-5 error   25.00 %" in table
    assert table.index("shark") < table.index("tench")  # worst classes first
    assert "goldfish" not in table
    saved = json.loads(report.save_json(tmp_path / "out" / "report.json").read_text())
    assert saved["top5_error"] == 0.25 and "posteriors" not in saved
    assert saved["per_class"][1] == {"name": "goldfish", "images": 0, "accuracy": None}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.json"]
