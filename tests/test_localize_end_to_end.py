"""End to end: a tiny localisation net, trained here on objects pasted at known places into
real photographs, beats the whole-image box and the centre box under both protocols."""

import keras
import numpy as np
import pytest
from PIL import Image

import kvgg
from kvgg.data import image_folder, train_dataset
from kvgg.localize import (
    BoxAccuracy,
    BoxLoss,
    DenseLocalizer,
    box_folder,
    box_train_dataset,
    build_localizer,
    centre_crop_boxes,
    localization_error,
)
from kvgg.localize.demo import pasted_objects

pytestmark = pytest.mark.slow  # trains two nets: a few minutes on two busy cores

SIZE = (96, 128)  # images; objects 35-60 % of each side, anywhere
S, CROP = 72, 64  # training scale and crop of the tiny nets
SCALES = (64, 72, 80)  # protocol 2's test scales Q
THRESHOLDS = (0.0, 0.1, 0.2, 0.3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("pasted")
    train = pasted_objects(root / "train", per_class=40, size=SIZE, seed=0)
    keras.utils.set_random_seed(0)
    classifier = kvgg.build(
        "A", width=1 / 8, num_classes=3, input_shape=(CROP, CROP, 3), dropout=0.0
    )
    classifier.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    classifier.fit(
        train_dataset(image_folder(train[0]), batch_size=16, scale=S, crop=CROP, seed=0),
        epochs=6,
        verbose=0,
    )
    localizer = build_localizer(classifier, regression="pcr", fine_tune="all", seed=0)
    localizer.compile(keras.optimizers.Adam(1e-3), BoxLoss(), weighted_metrics=[BoxAccuracy()])
    localizer.fit(
        box_train_dataset(box_folder(*train), batch_size=16, scale=S, crop=CROP, seed=0),
        epochs=30,
        verbose=0,
    )
    splits = {}
    for name, seed, per_class in (("val", 1, 10), ("test", 2, 20)):
        source = box_folder(*pasted_objects(root / name, per_class=per_class, size=SIZE, seed=seed))
        images = [np.asarray(Image.open(path)) for path in source.paths]
        splits[name] = (source, images)
    mean_size = np.mean([b[0, 2:] - b[0, :2] for b in box_folder(*train).boxes], axis=0)
    return classifier, localizer, splits, mean_size


def _baselines(source, images, mean_size):
    """Errors of the whole-image box and of the mean-sized box at the centre."""
    height, width = images[0].shape[:2]
    labels = source.labels
    whole = [[(label, [0, 0, width, height])] for label in labels]
    half_w, half_h = mean_size / 2
    centre_box = [width / 2 - half_w, height / 2 - half_h, width / 2 + half_w, height / 2 + half_h]
    centre = [[(label, centre_box)] for label in labels]
    return (
        localization_error(whole, labels, source.boxes),
        localization_error(centre, labels, source.boxes),
    )


def test_protocol_1_centre_crop_beats_the_baselines(trained):
    _, localizer, splits, mean_size = trained
    source, images = splits["test"]
    boxes = centre_crop_boxes(localizer, images, source.labels, scale=S)
    guesses = [[(label, box)] for label, box in zip(source.labels, boxes, strict=True)]
    error = localization_error(guesses, source.labels, source.boxes)
    whole, centre = _baselines(source, images, mean_size)
    print(f"protocol 1: {error:.3f}; whole image {whole:.3f}; centre box {centre:.3f}")
    assert whole >= 0.9 and centre >= 0.6  # the task is not trivial
    assert error <= centre - 0.3


def test_protocol_2_dense_merged_boxes_beat_the_baselines(trained):
    classifier, localizer, splits, mean_size = trained
    nets = [(localizer, SCALES[:2]), (localizer, SCALES[2:])]  # two "nets": their union merged

    def error_of(split, threshold):
        source, images = splits[split]
        localize = DenseLocalizer(classifier, nets, top=5, threshold=threshold)
        guesses = [[(g.label, g.box) for g in localize(image)] for image in images]
        assert all(len(g) == 3 for g in guesses)  # 3 classes: the top 5 are all of them
        return localization_error(guesses, source.labels, source.boxes)

    on_val = {threshold: error_of("val", threshold) for threshold in THRESHOLDS}
    best = min(on_val, key=on_val.get)
    error = error_of("test", best)
    whole, centre = _baselines(*splits["test"], mean_size)
    print(f"protocol 2 (val {on_val}, threshold {best}): {error:.3f}; whole {whole:.3f}; "
          f"centre {centre:.3f}")  # fmt: skip
    assert error <= centre - 0.3
