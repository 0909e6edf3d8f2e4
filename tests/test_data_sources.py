import json

import numpy as np
import pytest
import tensorflow as tf

from kvgg import data
from tests.data_fixtures import class_image, make_caltech, make_image_folder, make_voc, write_image


def _decoded(source):
    return [
        (data.transforms.decode_rgb(image).numpy(), int(label)) for image, label in source.dataset()
    ]


def test_image_folder_classes_sorted_labels_and_bytes(tmp_path):
    root = make_image_folder(tmp_path, classes=("zebra", "ant", "cat"), per_class=2)
    source = data.image_folder(root)
    assert source.class_names == ["ant", "cat", "zebra"] and source.num_classes == 3
    assert len(source) == 6 and list(source.labels) == [0, 0, 1, 1, 2, 2]
    image, label = next(iter(source.dataset()))
    assert image.dtype == tf.string and int(label) == 0
    pixels, _ = _decoded(source)[4]  # a zebra (class index 0 in the fixture)
    assert np.abs(pixels.astype(int) - class_image(0, 32, seed=0)).mean() < 6


def test_image_folder_with_a_class_list_file(tmp_path):
    root = make_image_folder(tmp_path / "train", classes=("b", "a"), per_class=1)
    (tmp_path / "synsets.txt").write_text("b first\na second\n")
    source = data.image_folder(root, classes=tmp_path / "synsets.txt")
    assert source.class_names == ["b", "a"] and list(source.labels) == [0, 1]


def test_image_folder_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        data.image_folder(tmp_path / "missing")
    root = make_image_folder(tmp_path / "t", classes=("a",), per_class=1)
    (root / "empty_class").mkdir()
    (root / "empty_class" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="empty_class"):
        data.image_folder(root)
    with pytest.raises(FileNotFoundError, match="nope"):
        data.image_folder(root, classes=["a", "nope"])


def test_labels_file_txt_in_file_name_order(tmp_path):
    for i, name in enumerate(["c.jpg", "a.jpg", "b.png"]):
        write_image(tmp_path / "val" / name, class_image(i))
    (tmp_path / "labels.txt").write_text("2\n0\n1\n")  # for a.jpg, b.png, c.jpg
    source = data.labels_file(tmp_path / "val", tmp_path / "labels.txt")
    assert [p.rsplit("/", 1)[-1] for p in source.paths] == ["a.jpg", "b.png", "c.jpg"]
    assert list(source.labels) == [2, 0, 1] and source.num_classes == 3


def test_labels_file_with_file_label_lines(tmp_path):
    for name in ["x.jpg", "y.jpg", "z.jpg"]:
        write_image(tmp_path / "val" / name, class_image(0))
    (tmp_path / "val.txt").write_text("z.jpg 4\nx.jpg 0\n")
    source = data.labels_file(tmp_path / "val", tmp_path / "val.txt")
    assert [p.rsplit("/", 1)[-1] for p in source.paths] == ["z.jpg", "x.jpg"]
    assert list(source.labels) == [4, 0] and source.num_classes == 5
    (tmp_path / "bad.txt").write_text("w.jpg 1\n")
    with pytest.raises(FileNotFoundError, match="'w.jpg', which is not in"):
        data.labels_file(tmp_path / "val", tmp_path / "bad.txt")


def test_labels_file_csv_with_class_names(tmp_path):
    for name in ["x.jpg", "y.jpg"]:
        write_image(tmp_path / "val" / name, class_image(0))
    (tmp_path / "val.csv").write_text("file,label\ny.jpg,n02\nx.jpg,n01\n")
    (tmp_path / "classes.txt").write_text("n01\nn02\nn03\n")
    source = data.labels_file(
        tmp_path / "val", tmp_path / "val.csv", classes=tmp_path / "classes.txt"
    )
    assert source.paths[0].endswith("y.jpg") and list(source.labels) == [1, 0]
    assert source.num_classes == 3


def _ilsvrc_val(tmp_path, synsets):
    """A flat ILSVRC-2012-style val folder, one image per synset, and the devkit meta.mat
    whose ILSVRC2012_IDs run in reverse of kvgg's sorted-synset order."""
    from scipy.io import savemat

    from kvgg.io import imagenet_synsets

    wnids = [wnid for wnid, _ in imagenet_synsets()]
    for i in range(len(synsets)):
        write_image(tmp_path / "val" / f"ILSVRC2012_val_{i + 1:08d}.JPEG", class_image(i))
    meta = np.zeros((1000, 1), dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O")])
    for row, wnid in enumerate(reversed(wnids)):
        meta[row, 0] = (np.array([[row + 1]], np.uint16), np.array([wnid]), np.array(["x"]))
    savemat(tmp_path / "meta.mat", {"synsets": meta})
    ids = [1000 - wnids.index(wnid) for wnid in synsets]  # devkit IDs of the synsets
    return tmp_path / "val", ids, [wnids.index(wnid) for wnid in synsets]


def test_labels_file_reads_the_ilsvrc2012_validation_ground_truth_forms(tmp_path):
    synsets = ["n01440764", "n15075141", "n02119789"]  # kvgg indices 0, 999, 278
    folder, ids, expected = _ilsvrc_val(tmp_path, synsets)
    truth = tmp_path / "ILSVRC2012_validation_ground_truth.txt"
    truth.write_text("".join(f"{i}\n" for i in ids))
    source = data.labels_file(folder, truth, meta=tmp_path / "meta.mat")
    assert list(source.labels) == expected == [0, 999, 278]
    assert source.num_classes == 1000 and source.class_names[278] == "n02119789"
    # The same mapping as a text file of "ID WNID" lines, or one WNID per line in ID order.
    pairs = tmp_path / "ids.txt"
    pairs.write_text("".join(f"{i} {w}\n" for i, w in zip(ids, synsets, strict=True)))
    assert list(data.labels_file(folder, truth, meta=pairs).labels) == expected
    from kvgg.io import imagenet_synsets

    ordered = tmp_path / "devkit_order.txt"
    ordered.write_text("".join(f"{w}\n" for w, _ in reversed(imagenet_synsets())))
    assert list(data.labels_file(folder, truth, meta=ordered).labels) == expected
    # val.txt (file -> synset) and Kaggle's LOC_val_solution.csv.
    names = sorted(p.name for p in folder.iterdir())
    val = tmp_path / "val.txt"
    val.write_text("".join(f"{n} {w}\n" for n, w in zip(names, synsets, strict=True)))
    assert list(data.labels_file(folder, val).labels) == expected
    solution = tmp_path / "LOC_val_solution.csv"
    rows = [f"{n[:-5]},{w} 10 20 30 40 {w} 1 2 3 4" for n, w in zip(names, synsets, strict=True)]
    solution.write_text("ImageId,PredictionString\n" + "\n".join(reversed(rows)) + "\n")
    source = data.labels_file(folder, solution)
    assert list(source.labels) == expected[::-1] and source.paths[0].endswith(names[-1])


def test_labels_file_ilsvrc_ids_without_a_mapping_entry_are_named(tmp_path):
    folder, ids, _ = _ilsvrc_val(tmp_path, ["n01440764"])
    truth = tmp_path / "truth.txt"
    truth.write_text("1001\n")
    with pytest.raises(ValueError, match=r"does not map: \['1001'\]"):
        data.labels_file(folder, truth, meta=tmp_path / "meta.mat")
    with pytest.raises(FileNotFoundError, match="nowhere.mat"):
        data.labels_file(folder, truth, meta=tmp_path / "nowhere.mat")


def test_labels_file_length_mismatch_names_both_files(tmp_path):
    write_image(tmp_path / "val" / "a.jpg", class_image(0))
    (tmp_path / "labels.txt").write_text("0\n1\n")
    with pytest.raises(ValueError, match=r"labels\.txt' has 2 labels but folder .*val' has 1"):
        data.labels_file(tmp_path / "val", tmp_path / "labels.txt")


def test_voc_multi_hot_labels_difficult_flags_and_boxes(tmp_path):
    root = make_voc(tmp_path, 2007)
    source = data.voc(root, 2007, "trainval")
    classes = source.class_names
    assert len(classes) == 20 and source.labels.shape == (4, 20)
    assert source.image_ids == ["000001", "000002", "000003", "000004"]
    row = source.labels[1]
    assert row[classes.index("cat")] == 1 and row[classes.index("person")] == 1 and row.sum() == 2
    # A class whose only objects are difficult is flagged; one with any easy object is not.
    assert source.difficult[2, classes.index("bird")]
    assert not source.difficult[3, classes.index("car")] and source.labels[3, classes.index("car")]
    assert source.objects[0][0].box == (5.0, 6.0, 40.0, 30.0)
    _, label = next(iter(source.dataset()))
    assert label.dtype == tf.float32 and label.shape == (20,)
    assert len(data.voc(root / "VOC2007", 2007, "val")) == 2


def test_voc_errors(tmp_path):
    root = make_voc(tmp_path, 2012)
    with pytest.raises(FileNotFoundError, match="VOC2007"):
        data.voc(root, 2007, "test")
    with pytest.raises(ValueError, match="split='everything'"):
        data.voc(root, 2012, "everything")
    (root / "VOC2012" / "Annotations" / "000001.xml").write_text("<annotation><object>")
    with pytest.raises(ValueError, match="000001.xml"):
        data.voc(root, 2012, "train")
    (root / "VOC2012" / "Annotations" / "000004.xml").unlink()  # some, not all, missing
    with pytest.raises(FileNotFoundError, match="000004.xml"):
        data.voc(root, 2012, "val")


def test_voc_test_split_without_annotations_has_unknown_labels(tmp_path):
    ids = ["000001", "000002", "000003", "000004"]
    root = make_voc(tmp_path, 2012, splits={"test": ids[2:], "val": ids[:2]}, withheld=ids[2:])
    test = data.voc(root, 2012, "test")
    assert not test.annotated and data.voc(root, 2012, "val").annotated
    assert test.image_ids == ids[2:] and test.labels.shape == (2, 20)
    assert np.isnan(test.labels).all() and not test.difficult.any()
    assert test.objects == [[], []]
    images = list(data.image_dataset(test))  # usable for feature extraction
    assert [tuple(image.shape) for image, _ in images] == [(48, 64, 3)] * 2
    assert len(data.open_source(f"voc:{root}?year=2012&split=test")) == 2


def test_caltech101_seeded_split_is_saved_and_reused(tmp_path):
    folder = make_caltech(tmp_path, 101)
    train = data.caltech(tmp_path, 101, "train", seed=1)
    test = data.caltech(tmp_path, 101, "test", seed=1)
    assert train.num_classes == 102 and "BACKGROUND_Google" in train.class_names
    assert np.all(np.bincount(train.labels) == 30)
    assert np.all(
        np.bincount(test.labels)
        == [len(list((folder / c).iterdir())) - 30 for c in sorted(train.class_names)]
    )
    assert not set(train.paths) & set(test.paths)
    saved = json.loads(train.split_file.read_text())
    assert saved["seed"] == 1 and len(saved["train"]["Faces"]) == 30
    assert data.caltech(tmp_path, 101, "train", seed=1).paths == train.paths
    assert data.caltech(tmp_path, 101, "train", seed=2).paths != train.paths


def test_caltech101_test_set_capped_at_50(tmp_path):
    make_caltech(tmp_path, 101, per_class=90)
    test = data.caltech(tmp_path / "101_ObjectCategories", 101, "test", split_dir=tmp_path / "s")
    assert np.all(np.bincount(test.labels) == 50)
    assert (tmp_path / "s" / "caltech101-split-seed0.json").is_file()


def test_caltech256_sixty_train_rest_test(tmp_path):
    make_caltech(tmp_path, 256, per_class=62)
    train = data.caltech(tmp_path, 256, "train")
    test = data.caltech(tmp_path, 256, "test")
    assert train.num_classes == 257 and train.class_names[0] == "class1"
    assert train.class_names[-1] == "clutter"
    assert len(train) == 257 * 60 and len(test) == 257 * 2


def test_caltech_wrong_layout_is_reported(tmp_path):
    make_image_folder(tmp_path / "101_ObjectCategories", classes=("a", "b"))
    with pytest.raises(ValueError, match="has 2 class folders; expected 102"):
        data.caltech(tmp_path, 101)


def test_keras_dataset_conversion(monkeypatch):
    import keras

    rng = np.random.default_rng(0)
    gray = rng.integers(0, 255, (5, 28, 28)).astype(np.uint8)
    monkeypatch.setattr(
        keras.datasets.fashion_mnist,
        "load_data",
        lambda: ((gray, np.arange(5)), (gray[:2], np.array([9, 8]))),
    )
    source = data.keras_dataset("fashion_mnist", "test")
    assert source.images.shape == (2, 28, 28, 3) and list(source.labels) == [9, 8]
    np.testing.assert_array_equal(source.images[1, ..., 2], gray[1])
    assert source.class_names[9] == "ankle boot"
    colour = rng.integers(0, 255, (3, 32, 32, 3)).astype(np.uint8)
    monkeypatch.setattr(
        keras.datasets.cifar100, "load_data", lambda: ((colour, np.array([[1], [2], [99]])), None)
    )
    cifar = data.keras_dataset("cifar100")
    assert list(cifar.labels) == [1, 2, 99] and cifar.class_names[99] == "worm"
    image, label = list(cifar.dataset())[2]
    np.testing.assert_array_equal(image.numpy(), colour[2])
    with pytest.raises(ValueError, match="name='mnist'"):
        data.keras_dataset("mnist")


def test_digits_is_a_fixed_split_of_real_images():
    train, test = data.digits("train"), data.digits("test")
    assert len(train) + len(test) == 1797 and train.images.dtype == np.uint8
    assert train.images.shape[1:] == (8, 8, 3) and train.images.max() == 255
    assert set(np.unique(test.labels)) == set(range(10))
    np.testing.assert_array_equal(data.digits("train").labels, train.labels)


def test_open_source_strings_and_dicts(tmp_path):
    root = make_image_folder(tmp_path / "imgs", per_class=1)
    assert data.open_source(str(root)).class_names == ["cat", "dog", "fish"]
    assert len(data.open_source(f"folder:{root}")) == 3
    assert data.open_source({"kind": "folder", "path": root}).num_classes == 3
    assert data.open_source("digits:test").name == "digits:test"
    assert len(data.open_source({"kind": "digits"})) == 1438
    voc = make_voc(tmp_path)
    assert len(data.open_source(f"voc:{voc}?year=2007&split=train")) == 2
    make_caltech(tmp_path / "cal", 101)
    cal = data.open_source(f"caltech:{tmp_path / 'cal'}?kind=101&subset=test&seed=3")
    assert cal.seed == 3 and cal.split_file.name == "caltech101-split-seed3.json"


def test_open_source_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="'colour'"):
        data.open_source(f"folder:{tmp_path}?colour=red")
    with pytest.raises(ValueError, match="seed='x'"):
        data.open_source(f"caltech:{tmp_path}?seed=x")
    with pytest.raises(ValueError, match="kind='imagenet'"):
        data.open_source({"kind": "imagenet", "path": tmp_path})
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.open_source(str(tmp_path / "nowhere"))


def test_voc_image_listed_twice_counts_once_and_is_named(tmp_path, caplog):
    root = make_voc(tmp_path, 2007)
    listing = root / "VOC2007" / "ImageSets" / "Main" / "val.txt"
    listing.write_text(listing.read_text() + "000003\n")
    with caplog.at_level("WARNING", logger="kvgg.data"):
        source = data.voc(root, 2007, "val")
    assert source.image_ids == ["000003", "000004"]
    assert f"{listing} line 3: 000003 listed again (first on line 1)" in caplog.text


def test_labels_file_listing_an_image_twice_counts_it_once(tmp_path, caplog):
    for name in ["x.jpg", "y.jpg"]:
        write_image(tmp_path / "val" / name, class_image(0))
    (tmp_path / "val.txt").write_text("x.jpg 1\ny.jpg 0\nx.jpg 1\n")
    with caplog.at_level("WARNING", logger="kvgg.data"):
        source = data.labels_file(tmp_path / "val", tmp_path / "val.txt")
    assert [p.rsplit("/", 1)[-1] for p in source.paths] == ["x.jpg", "y.jpg"]
    assert list(source.labels) == [1, 0]
    assert "x.jpg listed again" in caplog.text
    (tmp_path / "clash.txt").write_text("x.jpg 1\ny.jpg 0\nx.jpg 0\n")
    with pytest.raises(ValueError, match="x.jpg.*both 1 and 0"):
        data.labels_file(tmp_path / "val", tmp_path / "clash.txt")
