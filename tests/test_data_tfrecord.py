from pathlib import Path

import numpy as np
import tensorflow as tf

from kvgg import data
from tests.data_fixtures import make_image_folder


def test_tfrecord_round_trip_keeps_bytes_labels_and_classes(tmp_path):
    folder = data.image_folder(make_image_folder(tmp_path / "f", per_class=3))
    shards, skipped = data.write_tfrecords(folder, tmp_path / "out", shards=2, prefix="val")
    assert [s.name for s in shards] == [
        "val-00000-of-00002.tfrecord",
        "val-00001-of-00002.tfrecord",
    ]
    assert skipped == [] and (tmp_path / "out" / "classes.txt").read_text() == "cat\ndog\nfish\n"
    source = data.tfrecords(str(tmp_path / "out" / "val-*"))
    assert source.class_names == folder.class_names and len(source) == 9
    by_bytes = {
        Path(p).read_bytes(): int(label)
        for p, label in zip(folder.paths, folder.labels, strict=True)
    }
    pairs = [(image.numpy(), int(label)) for image, label in source.dataset()]
    assert sorted(label for _, label in pairs) == sorted(by_bytes.values())
    assert all(by_bytes[image] == label for image, label in pairs)
    np.testing.assert_array_equal(np.sort(source.labels), np.sort(folder.labels))


def test_tfrecord_schema_is_the_imagenet_one(tmp_path):
    folder = data.image_folder(
        make_image_folder(tmp_path / "f", classes=("n01", "n02"), per_class=1, size=(20, 30))
    )
    shards, _ = data.write_tfrecords(folder, tmp_path / "out", shards=1)
    record = next(iter(tf.data.TFRecordDataset(str(shards[0]))))
    features = tf.train.Example.FromString(record.numpy()).features.feature
    assert features["image/height"].int64_list.value == [20]
    assert features["image/width"].int64_list.value == [30]
    synset = features["image/class/synset"].bytes_list.value[0].decode()
    assert features["image/class/label"].int64_list.value[0] == ["n01", "n02"].index(synset) + 1
    assert features["image/format"].bytes_list.value == [b"jpeg"]


def test_foreign_shards_without_classes_file_scan_synsets(tmp_path):
    folder = data.image_folder(make_image_folder(tmp_path / "f", classes=("b", "a"), per_class=2))
    data.write_tfrecords(folder, tmp_path / "out", shards=3)
    (tmp_path / "out" / "classes.txt").unlink()
    source = data.tfrecords(tmp_path / "out")
    assert source.class_names == ["a", "b"] and len(source) == 4
    batches = data.train_dataset(source, batch_size=2, scale=32, crop=32, seed=0, shuffle_buffer=4)
    assert sum(int(x.shape[0]) for x, _ in batches) == 4


def test_label_scan_of_the_shards_shows_a_progress_bar(tmp_path, capsys):
    folder = data.image_folder(make_image_folder(tmp_path / "f", per_class=2))
    data.write_tfrecords(folder, tmp_path / "out", shards=2)
    capsys.readouterr()
    source = data.tfrecords(tmp_path / "out")
    assert len(source) == 6
    assert "labels of 2 TFRecord shards" in capsys.readouterr().err
    assert len(source.labels) == 6 and capsys.readouterr().err == ""  # scanned once


def test_missing_shards_are_an_error(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="nothing-"):
        data.tfrecords(str(tmp_path / "nothing-*"))
