import logging
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from kvgg import data
from tests.data_fixtures import make_bad_files, make_image_folder

UNDECODABLE = {"truncated_jpeg", "empty", "text_named_jpg", "corrupt_jpeg", "corrupt_png"}


@pytest.fixture
def dirty(tmp_path):
    root = make_image_folder(tmp_path, classes=("good",), per_class=3)
    files = make_bad_files(root / "wild")
    return data.image_folder(root), files


def test_training_skips_counts_and_names_undecodable_files(dirty, caplog):
    source, files = dirty
    with caplog.at_level(logging.WARNING, logger="kvgg.data"):
        dataset = data.train_dataset(source, batch_size=4, scale=32, crop=32, seed=0)
        labels = np.concatenate([y.numpy() for _, y in dataset])
    assert len(labels) == len(source) - len(UNDECODABLE)  # the epoch went on
    assert source.bad_files.count == len(UNDECODABLE)
    assert sorted(source.bad_files.paths) == sorted(str(files[k]) for k in UNDECODABLE)
    assert str(files["empty"]) in caplog.text
    assert str(files["corrupt_jpeg"]) in caplog.text  # failed inside the decoder
    assert "5 undecodable images skipped" in str(source.bad_files)


def test_eval_and_image_datasets_count_decoder_failures_too(dirty):
    source, files = dirty
    images = np.concatenate([x.numpy() for x, _ in data.eval_dataset(source, batch_size=4)])
    assert len(images) == len(source) - len(UNDECODABLE)
    assert source.bad_files.count == len(UNDECODABLE)
    assert str(files["corrupt_png"]) in source.bad_files.paths


def test_files_gone_since_listing_are_skipped_and_named(tmp_path):
    source = data.image_folder(make_image_folder(tmp_path, classes=("a", "b"), per_class=3))
    gone = source.paths[1]
    Path(gone).unlink()  # read inside the decoding map: a failure like any other
    labels = [y for _, y in data.train_dataset(source, batch_size=2, scale=32, crop=32, seed=0)]
    assert sum(len(y) for y in labels) == 5 and source.bad_files.paths == [gone]


def test_an_all_bad_last_batch_is_dropped_not_yielded_empty(tmp_path):
    root = make_image_folder(tmp_path / "images", classes=("a",), per_class=2)
    wild = make_bad_files(tmp_path / "wild")
    for kind in ("empty", "corrupt_jpeg"):  # sorted after the good ones: the last batch
        wild[kind].rename(root / "a" / f"zz_{wild[kind].name}")
    source = data.image_folder(root)
    batches = [x.shape[0] for x, _ in data.eval_dataset(source, batch_size=2, scale=32, crop=32)]
    assert batches == [2] and source.bad_files.count == 2


def test_a_bad_file_costs_its_batch_only_itself_and_batches_stay_full(tmp_path):
    root = make_image_folder(tmp_path / "images", classes=("a",), per_class=6)
    bad = make_bad_files(tmp_path / "wild")["corrupt_jpeg"]
    bad = bad.rename(root / "a" / f"a_1b_{bad.name}")  # sorted third: in the first batch
    source = data.image_folder(root)
    assert source.paths[2] == str(bad)
    batches = [x for x, _ in data.eval_dataset(source, batch_size=3, scale=32, crop=32)]
    assert [len(x) for x in batches] == [3, 3]  # refilled, not [2, 3, 1]
    good = data.image_folder(make_image_folder(tmp_path / "clean", classes=("a",), per_class=6))
    expected = [x for x, _ in data.eval_dataset(good, batch_size=3, scale=32, crop=32)]
    np.testing.assert_array_equal(np.concatenate(batches), np.concatenate(expected))
    assert source.bad_files.paths == [str(bad)]


def test_every_decodable_oddity_becomes_rgb(dirty):
    source, files = dirty
    images = list(data.image_dataset(source))
    assert len(images) == len(source) - len(UNDECODABLE)
    assert all(image.shape[-1] == 3 and image.dtype == tf.uint8 for image, _ in images)
    shapes = {tuple(image.shape[:2]) for image, _ in images}
    assert (3, 2) in shapes  # the tiny image is kept


@pytest.mark.parametrize("kind", ["empty", "corrupt_jpeg"])
def test_strict_mode_stops_at_the_first_bad_file_with_a_plain_error(tmp_path, kind):
    root = make_image_folder(tmp_path / "images", classes=("good",), per_class=2)
    bad = make_bad_files(tmp_path / "wild")[kind]
    (root / "zz").mkdir()
    bad.rename(root / "zz" / bad.name)  # a class read last, after the good images
    source = data.image_folder(root)
    dataset = data.train_dataset(
        source, batch_size=1, scale=32, crop=32, shuffle=False, strict=True
    )
    seen = []
    with pytest.raises(data.UndecodableImageError) as error, data.strict_errors():
        for _, label in dataset:
            seen.append(int(label[0]))
    assert error.value.path == str(root / "zz" / bad.name)
    assert str(error.value).startswith(f"Undecodable image (strict mode): {error.value.path} ")
    assert "\n" not in str(error.value) and isinstance(error.value, ValueError)
    assert seen == [0, 0]  # the good images came first; it stopped at the bad one


def test_strict_errors_leaves_other_errors_alone():
    with pytest.raises(tf.errors.InvalidArgumentError), data.strict_errors():
        tf.io.decode_png(tf.constant(b"not a png"))


def test_check_source_lists_bad_files_and_why(dirty):
    source, files = dirty
    findings = {f.path: f for f in data.check_source(source, progress=False)}
    for kind in UNDECODABLE:
        assert findings[str(files[kind])].bad
    assert findings[str(files["empty"])].problem == "empty file (0 bytes)"
    assert "truncated" in findings[str(files["truncated_jpeg"])].problem
    assert findings[str(files["png_named_jpg"])].problem == "PNG data in a .jpg file"
    assert (
        findings[str(files["cmyk_jpeg"])].problem == "CMYK JPEG"
        and not findings[str(files["cmyk_jpeg"])].bad
    )
    assert findings[str(files["grayscale_jpeg"])].problem == "grayscale JPEG"
    assert "alpha" in findings[str(files["rgba_png"])].problem
    assert "tiny" in findings[str(files["tiny"])].problem
    assert not any("good_" in path for path in findings)
