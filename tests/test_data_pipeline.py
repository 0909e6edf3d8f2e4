import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kvgg import data
from tests.data_fixtures import class_image, make_image_folder, write_image

# The module of each backend's tensor type.
NATIVE_MODULE = {"tensorflow": "tensorflow", "jax": "jaxlib", "torch": "torch"}


def _colour_label(images, class_count):
    """The fixture class whose base colour is nearest each image's mean colour."""
    bases = np.array([class_image(i, 8, seed=0).mean(axis=(0, 1)) for i in range(class_count)])
    means = images.mean(axis=(1, 2))
    return np.argmin(((means[:, None] - bases[None]) ** 2).sum(-1), axis=1)


@pytest.fixture
def folder(tmp_path):
    return data.image_folder(make_image_folder(tmp_path, per_class=5, size=(40, 56)))


def test_train_dataset_batches_float_images_with_matching_labels(folder):
    dataset = data.train_dataset(folder, batch_size=4, scale=(32, 48), crop=32, seed=0)
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True)
    images, labels = np.concatenate(images), np.concatenate(labels)
    assert images.shape == (15, 32, 32, 3) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 255 and images.max() > 1
    assert sorted(labels) == sorted(folder.labels)
    np.testing.assert_array_equal(_colour_label(images, 3), labels)


def test_train_dataset_is_reproducible_with_a_seed_and_varies_by_epoch(folder):
    def epochs(seed):
        dataset = data.train_dataset(
            folder,
            batch_size=5,
            scale=(32, 64),
            crop=32,
            seed=seed,
            color_stats=data.IMAGENET_STATS,
        )
        return [np.concatenate([x.numpy() for x, _ in dataset]) for _ in range(2)]

    first, second = epochs(7), epochs(7)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], epochs(8)[0])


def test_train_dataset_on_in_memory_images_repeats():
    source = data.digits("test")
    dataset = data.train_dataset(source, batch_size=64, scale=16, crop=16, seed=0, repeat=True)
    images, labels = next(iter(dataset.take(8)))
    assert images.shape == (64, 16, 16, 3)
    assert len(list(dataset.take(10))) == 10  # 640 > 359 images: it repeats


@pytest.mark.parametrize("where", ["memory", "files"])
def test_cached_epochs_reuse_the_images_read_in_the_first(folder, tmp_path, where):
    cache = True if where == "memory" else str(tmp_path / "cache" / "train")
    (tmp_path / "cache").mkdir()
    options = {"batch_size": 5, "scale": (32, 48), "crop": 32, "seed": 0}
    cached = data.train_dataset(folder, cache=cache, **options)
    plain = data.train_dataset(folder, **options)

    def colours_and_labels(dataset):
        images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True)
        return _colour_label(np.concatenate(images), 3), np.concatenate(labels)

    colours, labels = colours_and_labels(cached)
    np.testing.assert_array_equal(colours, labels)
    for path in folder.paths:  # after the first epoch, every picture on disk changes
        write_image(path, class_image(0, (40, 56)))
    assert set(colours_and_labels(plain)[0]) == {0}  # read again: the new pictures
    colours, labels = colours_and_labels(cached)  # the cached pictures of the first epoch
    assert sorted(labels) == sorted(folder.labels)
    np.testing.assert_array_equal(colours, labels)
    if where == "files":
        assert list((tmp_path / "cache").glob("train*.index"))


def test_train_dataset_rejects_scales_below_the_crop(folder):
    with pytest.raises(ValueError, match=r"scale=\(200, 512\)"):
        data.train_dataset(folder, batch_size=2, scale=(200, 512))
    with pytest.raises(ValueError, match="scale=100"):
        data.eval_dataset(folder, batch_size=2, scale=100)


def test_eval_dataset_centre_crops_in_source_order(folder):
    batches = list(data.eval_dataset(folder, batch_size=4, scale=40, crop=32))
    images = np.concatenate([x.numpy() for x, _ in batches])
    labels = np.concatenate([y.numpy() for _, y in batches])
    np.testing.assert_array_equal(labels, folder.labels)
    first = data.transforms.decode_rgb(tf.io.read_file(folder.paths[0]))
    expected = data.transforms.center_crop(data.transforms.rescale(first, 40), 32)
    np.testing.assert_allclose(images[0], expected.numpy(), atol=1e-4)


def test_image_dataset_gives_whole_uint8_images(folder):
    items = list(data.image_dataset(folder))
    assert len(items) == 15 and items[0][0].shape == (40, 56, 3) and items[0][0].dtype == tf.uint8
    np.testing.assert_array_equal([int(y) for _, y in items], folder.labels)


@pytest.mark.backend
def test_train_dataset_feeds_fit_on_this_backend(tmp_path):
    from tests.helpers import tiny_model

    source = data.image_folder(make_image_folder(tmp_path, classes=list("abcde"), per_class=2))
    model = tiny_model("A")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    untrained = keras.ops.convert_to_numpy(model.get_layer("fc1").kernel).copy()
    dataset = data.train_dataset(source, batch_size=4, scale=(32, 40), crop=32, seed=0)
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    predictions = model.predict(
        data.eval_dataset(source, batch_size=4, scale=32, crop=32), verbose=0
    )
    assert predictions.shape == (10, 5)
    trained = keras.ops.convert_to_numpy(model.get_layer("fc1").kernel)
    assert not np.array_equal(trained, untrained)  # fit took steps on the pipeline's batches
    # The model ran on the backend this run asked for (CI: KERAS_BACKEND=jax, then torch).
    assert keras.backend.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")
    native = type(model.get_layer("fc1").kernel.value).__module__.split(".")[0]
    assert native == NATIVE_MODULE[keras.backend.backend()]
