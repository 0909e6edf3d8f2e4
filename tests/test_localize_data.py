"""Boxes from XML trees and Kaggle CSVs; box-aware transforms eagerly and inside tf.data."""

import logging

import numpy as np
import pytest
import tensorflow as tf

from kvgg.localize import box_folder, box_train_dataset, kaggle_boxes
from kvgg.localize.data import (
    box_eval_dataset,
    box_target,
    crop_with_boxes,
    flip_with_boxes,
    random_crop_with_boxes,
    random_flip_with_boxes,
    rescale_with_boxes,
)
from kvgg.localize.demo import pasted_objects, write_box_xml
from tests.data_fixtures import write_image

BOXES = np.array([[10, 20, 50, 60], [0, 0, 100, 5], [0, 0, 0, 0]], np.float32)  # last: padding


def _both(fn, *args):
    """fn's result eagerly and inside a tf.data map, as NumPy."""
    eager = [t.numpy() for t in fn(*args)]
    data = tf.data.Dataset.from_tensors(args).map(fn)
    graph = [t.numpy() for t in next(iter(data))]
    return eager, graph


def test_rescale_scales_the_boxes_with_the_image():
    image = tf.zeros([100, 200, 3], tf.uint8)
    for resized, boxes in _both(lambda i, b: rescale_with_boxes(i, b, 50), image, BOXES):
        assert resized.shape == (50, 100, 3)
        np.testing.assert_allclose(boxes, BOXES / 2)


def test_crop_shifts_and_clips_the_boxes_and_empties_the_ones_cropped_away():
    image = tf.zeros([100, 120, 3])
    fn = lambda i, b: crop_with_boxes(i, b, 30, 40, 32)  # noqa: E731 (window x 40..72, y 30..62)
    for crop, boxes in _both(fn, image, BOXES):
        assert crop.shape == (32, 32, 3)
        np.testing.assert_allclose(boxes[0], [0, 0, 10, 30])  # clipped on the left and top
        np.testing.assert_array_equal(boxes[1], [0, 0, 0, 0])  # y 0..5: cropped away
        np.testing.assert_array_equal(boxes[2], [0, 0, 0, 0])  # padding stays empty


def test_crop_keeps_the_pixels_inside_the_box():
    image = np.zeros([64, 64, 3], np.float32)
    image[20:40, 30:50] = 255  # a white object at x 30..50, y 20..40
    crop, boxes = random_crop_with_boxes(image, [[30, 20, 50, 40]], 48, seed=[3, 4])
    x0, y0, x1, y1 = boxes.numpy()[0].astype(int)
    assert crop.numpy()[y0:y1, x0:x1].min() == 255
    assert crop.numpy().sum() == 255 * 3 * (x1 - x0) * (y1 - y0)


def test_flip_mirrors_the_box_and_twice_is_the_identity():
    image = tf.constant(np.random.default_rng(0).uniform(0, 255, (20, 100, 3)), tf.float32)
    for flipped, boxes in _both(flip_with_boxes, image, BOXES):
        np.testing.assert_allclose(boxes[0], [50, 20, 90, 60])
        np.testing.assert_array_equal(boxes[2], [0, 0, 0, 0])
        np.testing.assert_array_equal(flipped, image.numpy()[:, ::-1])
    twice = flip_with_boxes(*flip_with_boxes(image, BOXES))
    np.testing.assert_array_equal(twice[0].numpy(), image.numpy())
    np.testing.assert_array_equal(twice[1].numpy(), BOXES)


def test_random_flip_moves_image_and_box_together():
    image = np.zeros([8, 40, 3], np.float32)
    image[:, :10] = 255  # the left quarter is the object
    seen = set()
    for seed in range(8):
        flipped, boxes = random_flip_with_boxes(image, [[0, 0, 10, 8]], seed=[seed, 1])
        x0, _, x1, _ = boxes.numpy()[0].astype(int)
        assert flipped.numpy()[:, x0:x1].min() == 255
        seen.add(x0)
    assert seen == {0, 30}


def test_box_target_picks_the_largest_visible_box_or_weight_zero():
    target, weight = box_target([[0, 0, 8, 8], [0, 0, 16, 32], [0, 0, 0, 0]], 2, 32)
    np.testing.assert_allclose(target.numpy(), [0.25, 0.5, 0.5, 1.0, 2.0])
    assert float(weight) == 1.0
    _, weight = box_target(np.zeros([2, 4], np.float32), 1, 32)  # every box cropped away
    assert float(weight) == 0.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return pasted_objects(root, per_class=3, size=(48, 64))


def test_box_folder_reads_the_parallel_xml_tree(demo):
    source = box_folder(*demo)
    assert source.class_names == ["blue", "green", "red"] and len(source) == 9
    assert source.bad_annotations.count == 0
    for path, boxes in zip(source.paths, source.boxes, strict=True):
        assert boxes.shape == (1, 4)
        x0, y0, x1, y1 = boxes[0]
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 48
        # The box holds the tinted object: colourful inside, grey outside.
        pixels = np.asarray(tf.io.decode_jpeg(tf.io.read_file(path))).astype(float)
        inside = pixels[int(y0) + 2 : int(y1) - 2, int(x0) + 2 : int(x1) - 2]
        spread = lambda p: np.mean(p.max(-1) - p.min(-1))  # noqa: E731
        assert spread(inside) > 3 * spread(np.delete(pixels, range(int(x0), int(x1)), axis=1))


def test_xml_corners_are_one_based_and_several_boxes_are_kept(tmp_path):
    images, annotations = tmp_path / "images", tmp_path / "annotations"
    write_image(images / "n01" / "a.jpg", np.zeros((40, 50, 3), np.uint8))
    (annotations / "n01").mkdir(parents=True)
    objects = [("n01", (0, 0, 10, 20)), ("n02", (5, 5, 6, 6)), ("n01", (20, 10, 50, 40))]
    write_box_xml(annotations / "n01" / "a.xml", "a.jpg", (40, 50), objects)
    source = box_folder(images, annotations)
    np.testing.assert_array_equal(source.boxes[0], [[0, 0, 10, 20], [20, 10, 50, 40]])


def test_bad_or_missing_xml_is_named_and_counted_not_fatal(tmp_path, caplog):
    images, annotations = tmp_path / "images", tmp_path / "annotations"
    for name in ("good", "broken", "missing", "nobox", "other"):
        write_image(images / "cat" / f"{name}.jpg", np.zeros((40, 50, 3), np.uint8))
    (annotations / "cat").mkdir(parents=True)
    write_box_xml(annotations / "cat" / "good.xml", "good.jpg", (40, 50), [("cat", (1, 1, 9, 9))])
    (annotations / "cat" / "broken.xml").write_text("<annotation><object>")
    (annotations / "cat" / "nobox.xml").write_text(
        "<annotation><object><name>cat</name><bndbox><xmin>a</xmin></bndbox></object></annotation>"
    )
    write_box_xml(annotations / "cat" / "other.xml", "o.jpg", (40, 50), [("dog", (1, 1, 9, 9))])
    with caplog.at_level(logging.WARNING, logger="kvgg.data"):
        source = box_folder(images, annotations)
    assert len(source) == 1 and source.paths[0].endswith("good.jpg")
    bad = source.bad_annotations
    assert bad.count == 4
    text = " ".join(bad.paths)
    assert "broken.xml (not valid XML)" in text and "missing.xml (missing)" in text
    assert "nobox.xml (bad bndbox)" in text and "other.xml (no box of class 'cat')" in text
    assert "broken.xml" in caplog.text
    # Said as what it is, not as an undecodable image.
    assert str(bad).startswith("4 missing or bad annotations or boxes skipped: ")
    assert "Skipped a missing or bad annotation or box: " in caplog.text
    assert "undecodable" not in caplog.text


def test_kaggle_solution_csv_gives_the_boxes_of_the_first_synset(tmp_path):
    write_image(tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG", np.zeros((30, 40, 3), np.uint8))
    write_image(tmp_path / "val" / "n02" / "n02_7.JPEG", np.zeros((30, 40, 3), np.uint8))
    csv = tmp_path / "LOC_val_solution.csv"
    csv.write_text(
        "ImageId,PredictionString\n"
        "ILSVRC2012_val_00000001,n01 1 2 11 12 n03 5 5 6 6 n01 21 2 40 30 \n"
        "n02_7,n02 1 1 40 30\n"
        "ILSVRC2012_val_00000009,n01 1 1 2 2\n"  # no such image
        "ILSVRC2012_val_00000010,n01 1 1 2\n"  # a box short of a number
    )
    source = kaggle_boxes(tmp_path / "val", csv)
    assert source.class_names == ["n01", "n02"] and source.labels.tolist() == [0, 1]
    np.testing.assert_array_equal(source.boxes[0], [[0, 1, 11, 12], [20, 1, 40, 30]])
    assert source.bad_annotations.count == 2
    assert "LOC_val_solution.csv:4 (no image" in source.bad_annotations.paths[0]
    with pytest.raises(ValueError, match="ImageId,PredictionString"):
        (tmp_path / "x.csv").write_text("file,label\n")
        kaggle_boxes(tmp_path / "val", tmp_path / "x.csv")


def test_training_batches_hold_crops_targets_and_weights(demo):
    source = box_folder(*demo)
    data = box_train_dataset(source, batch_size=4, scale=40, crop=32, seed=0)
    images, targets, weights = next(iter(data))
    assert images.shape == (4, 32, 32, 3) and targets.shape == (4, 5) and weights.shape == (4,)
    frame = targets.numpy()[:, :4][weights.numpy() > 0]
    assert ((frame >= 0) & (frame <= 1)).all()
    again = next(iter(box_train_dataset(source, batch_size=4, scale=40, crop=32, seed=0)))
    np.testing.assert_array_equal(again[1].numpy(), targets.numpy())
    evaluation = next(iter(box_eval_dataset(source, batch_size=9, scale=32, crop=32)))
    np.testing.assert_array_equal(evaluation[1].numpy()[:, 4], source.labels)


def _damaged_folder(root):
    """The demo folder with one empty image and one truncated JPEG (their XML intact)."""
    images, annotations = pasted_objects(root, per_class=3, size=(48, 64))
    empty, truncated = images / "blue" / "blue_0001.jpg", images / "red" / "red_0002.jpg"
    empty.write_bytes(b"")
    truncated.write_bytes(truncated.read_bytes()[:300])
    return images, annotations, {str(empty), str(truncated)}


def _all(data):
    return [np.concatenate([t.numpy() for t in part]) for part in zip(*data, strict=True)]


def test_bad_images_are_counted_and_named_and_the_good_ones_still_come(tmp_path, caplog):
    images, annotations, bad = _damaged_folder(tmp_path)
    for make in (
        lambda source: box_train_dataset(source, batch_size=4, scale=40, crop=32, seed=0),
        lambda source: box_eval_dataset(source, batch_size=4, scale=40, crop=32),
    ):
        source = box_folder(images, annotations)
        assert len(source) == 9  # the annotations are fine: only decoding finds them
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="kvgg.data"):
            crops, targets, weights = _all(make(source))
        assert crops.shape == (7, 32, 32, 3) and targets.shape == (7, 5)
        assert source.bad_files.count == 2 and set(source.bad_files.paths) == bad
        assert all(path in caplog.text for path in bad)
        assert source.bad_annotations.count == 0


def test_good_images_get_the_same_crops_whether_or_not_others_are_bad(tmp_path):
    clean = box_folder(*pasted_objects(tmp_path / "clean", per_class=3, size=(48, 64)))
    images, annotations, bad = _damaged_folder(tmp_path / "damaged")
    damaged = box_folder(images, annotations)
    good = [i for i, path in enumerate(damaged.paths) if path not in bad]
    for make in (
        lambda s: box_train_dataset(s, batch_size=4, scale=40, crop=32, seed=3, shuffle=False),
        lambda s: box_eval_dataset(s, batch_size=4, scale=40, crop=32),
    ):
        expected = [part[good] for part in _all(make(clean))]
        for part, want in zip(_all(make(damaged)), expected, strict=True):
            np.testing.assert_array_equal(part, want)


def test_training_crops_follow_the_documented_per_image_seeds(demo):
    """Image i of an unshuffled epoch is rescaled, cropped and flipped with the seeds split
    from (draw i of ``Dataset.random(seed)``, i), as before bad images were accounted for."""
    source = box_folder(*demo)
    crops, targets, weights = _all(
        box_train_dataset(source, batch_size=4, scale=40, crop=32, seed=7, shuffle=False)
    )
    draws = tf.data.Dataset.random(seed=7, rerandomize_each_iteration=True).take(len(source))
    for index, draw in enumerate(draws):
        crop_seed, flip_seed = tf.unstack(
            tf.random.experimental.stateless_split(tf.stack([draw, index]), 2)
        )
        image = tf.io.decode_jpeg(tf.io.read_file(source.paths[index]), channels=3)
        image, boxes = rescale_with_boxes(image, source.boxes[index], 40)
        image, boxes = random_crop_with_boxes(image, boxes, 32, crop_seed)
        image, boxes = random_flip_with_boxes(image, boxes, flip_seed)
        target, weight = box_target(boxes, source.labels[index], 32)
        np.testing.assert_array_equal(crops[index], image.numpy())
        np.testing.assert_array_equal(targets[index], target.numpy())
        assert weights[index] == float(weight)


def test_colour_shift_changes_the_pixels_but_not_the_targets(demo):
    from kvgg.data.stats import IMAGENET_STATS

    source = box_folder(*demo)
    plain, shifted = (
        _all(box_train_dataset(source, batch_size=4, scale=40, crop=32, seed=2, color_stats=stats))
        for stats in (None, IMAGENET_STATS)
    )
    np.testing.assert_array_equal(shifted[1], plain[1])  # the same crops, flips and boxes
    np.testing.assert_array_equal(shifted[2], plain[2])
    offsets = shifted[0] - plain[0]  # one RGB offset per image, a few pixel units
    assert np.abs(offsets).max() > 0.1
    np.testing.assert_allclose(
        offsets, np.broadcast_to(offsets[:, :1, :1], offsets.shape), atol=1e-3
    )
    assert not np.allclose(offsets[0, 0, 0], offsets[1, 0, 0])


def test_evaluation_leaves_out_and_names_undecodable_images(tmp_path):
    import kvgg
    from kvgg.io import save_model
    from kvgg.localize.files import evaluate_localization
    from kvgg.localize.model import build_localizer

    images, annotations, bad = _damaged_folder(tmp_path / "data")
    net = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
    classifier = save_model(net, tmp_path / "cls.keras", class_names=["blue", "green", "red"])
    localizer = save_model(build_localizer(net, regression="pcr"), tmp_path / "loc.keras")
    lines = []
    report = evaluate_localization([localizer], classifier, images, annotations, echo=lines.append)
    assert report["images"] == 7
    (left_out,) = [line for line in lines if line.startswith("Left out:")]
    assert "2 undecodable images" in left_out and all(path in left_out for path in bad)


def test_kvgg_fit_refuses_box_images_of_which_none_decodes(tmp_path):
    from pathlib import Path

    from click.testing import CliRunner

    from kvgg.cli import main

    images, annotations = pasted_objects(tmp_path, per_class=1)
    for path in images.rglob("*.jpg"):
        path.write_bytes(b"")
    recipe = Path(__file__).resolve().parents[1] / "recipes/localization/vgg16_pcr_fc_s384.yaml"
    settings = [f"data.train={images}", f"localization.train_boxes={annotations}"]
    args = ["fit", str(recipe), "--smoke", "--run-dir", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args + [f"--set={item}" for item in settings])
    assert result.exit_code == 2, result.output
    assert "localization.train_boxes: none of the 3 images" in result.output
    assert "blue_0000.jpg" in result.output and "Traceback" not in result.output
