"""One test per defect the adversarial attack found (issue 18), most harmful first."""

from __future__ import annotations

import logging
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.adversarial.corpus import (
    BAD_IMAGE_KINDS,
    make_bad_images,
    make_bad_model_files,
    write_bad_recipe,
    write_wide_image,
)
from tests.adversarial.oracle import CLEAN_ERROR, clean_error_line, invoke
from tests.data_fixtures import class_image, make_image_folder, write_image
from tests.helpers import tiny_model

CLASSES = ("cat", "dog", "fish")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny image folder, a good tiny model and a model whose outputs are all NaN."""
    from kvgg.io import save_model

    root = tmp_path_factory.mktemp("adversarial")
    folder = make_image_folder(root / "images", CLASSES, per_class=2)
    model = tiny_model(num_classes=3)
    good = save_model(model, root / "good.keras", class_names=CLASSES, info={"scale": 32})
    kernel, bias = model.get_layer("predictions").get_weights()
    model.get_layer("predictions").set_weights([np.full_like(kernel, np.nan), bias])
    nan = save_model(model, root / "nan.keras", class_names=CLASSES, info={"scale": 32})
    model.get_layer("predictions").set_weights([np.full_like(kernel, 3e38), bias])
    huge = save_model(model, root / "huge.keras", class_names=CLASSES, info={"scale": 32})
    image = write_image(root / "one.jpg", class_image(0, 40))
    return {"root": root, "folder": folder, "good": good, "nan": nan, "huge": huge, "image": image}


# 1. NaN outputs -------------------------------------------------------------------------


def test_top_k_error_refuses_nan_posteriors():
    from kvgg.evaluate.metrics import top_k_error

    with pytest.raises(ValueError, match="not finite"):
        top_k_error(np.array([[np.nan, np.nan], [0.2, 0.8]]), np.array([0, 1]), 1)


def test_evaluate_with_nan_outputs_is_a_named_error(files):
    outcome, result = invoke(
        ["evaluate", "--model", files["nan"], "--data", files["folder"], "--scales", "32",
         "--no-flip"]
    )  # fmt: skip
    assert outcome == CLEAN_ERROR, result.output
    line = clean_error_line(result)
    assert "NaN" in line and "nan.keras" in line
    assert "0.00 %" not in result.output


def test_predict_with_nan_outputs_is_a_named_error(files):
    outcome, result = invoke(["predict", "--model", files["nan"], files["image"], "--scales", "32"])
    assert outcome == CLEAN_ERROR, result.output
    assert "nan%" not in result.output
    assert "nan.keras" in clean_error_line(result)


@pytest.mark.slow  # two scoring runs
def test_overflowing_outputs_of_finite_weights_are_a_named_error(files):
    """Finite weights whose outputs overflow to infinity give NaN posteriors."""
    outcome, result = invoke(
        ["predict", "--model", files["huge"], files["image"], "--scales", "32"]
    )
    assert outcome == CLEAN_ERROR, result.output
    assert "one.jpg" in clean_error_line(result) and "NaN" in clean_error_line(result)
    outcome, result = invoke(
        ["evaluate", "--model", files["huge"], "--data", files["folder"], "--scales", "32"]
    )
    assert outcome == CLEAN_ERROR, result.output
    assert "not finite" in clean_error_line(result)


def test_features_with_nan_outputs_is_a_named_error(files):
    out = files["root"] / "features.npz"
    outcome, result = invoke(
        ["features", files["folder"], "--model", files["nan"], "-o", out, "--scales", "32",
         "--cache-dir", files["root"] / "cache"]
    )  # fmt: skip
    assert outcome == CLEAN_ERROR, result.output
    assert "NaN" in clean_error_line(result)
    assert not out.exists()


class _FakeRun:
    best, last = Path("best.keras"), Path("last.keras")

    def __init__(self):
        self.saved = []

    def save(self, model, path, **_):
        self.saved.append(path)

    def write_history(self, history):
        self.saved.append("history")


class _Schedule:
    improved = True

    class state:  # noqa: N801  (a stand-in attribute)
        @staticmethod
        def to_dict():
            return {}


def test_nan_validation_loss_is_never_saved_as_best_or_last():
    from kvgg.train.callbacks import NanGuard, RunRecorder
    from kvgg.train.classification import CLASSIFICATION

    model = tiny_model()
    guard = NanGuard()
    run = _FakeRun()
    recorder = RunRecorder(
        run, _Schedule(), [], list("abcde"), {}, 3, task=CLASSIFICATION, echo=lambda _: None
    )
    for callback in (guard, recorder):
        callback.set_model(model)
        callback.on_epoch_begin(0)
    logs = {"loss": 1.2, "top1": 0.5, "val_loss": math.nan, "val_top1": 0.9, "lr": 0.1}
    for callback in (guard, recorder):
        callback.on_epoch_end(0, dict(logs))
    assert run.saved == []
    assert model.stop_training
    assert "validation loss" in guard.reason and "epoch 1" in guard.reason


def test_nan_weights_end_the_run_without_a_checkpoint():
    from kvgg.train.callbacks import NanGuard, RunRecorder
    from kvgg.train.classification import CLASSIFICATION

    model = tiny_model()
    kernel, bias = model.get_layer("fc1").get_weights()
    model.get_layer("fc1").set_weights([kernel, np.full_like(bias, np.inf)])
    guard, run = NanGuard(), _FakeRun()
    recorder = RunRecorder(
        run, _Schedule(), [], list("abcde"), {}, 3, task=CLASSIFICATION, echo=lambda _: None
    )
    for callback in (guard, recorder):
        callback.set_model(model)
        callback.on_epoch_begin(1)
        callback.on_epoch_end(1, {"loss": 1.0, "val_loss": 1.0, "val_top1": 0.5})
    assert run.saved == []
    assert "fc1" in guard.reason and "epoch 2" in guard.reason


# 2. No decodable training image ---------------------------------------------------------


def test_fit_without_one_decodable_training_image_fails_instead_of_hanging(tmp_path):
    bad = tmp_path / "bad"
    for name in CLASSES:
        (bad / name).mkdir(parents=True)
        (bad / name / "x.jpg").write_text("not an image")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"name: nothing\nmodel: {{config: A, width: 0.0625, fc_units: 8}}\n"
        f"data: {{train: {bad}, val: {bad}, scale: 32, crop: 32}}\n"
        f"schedule: {{epochs: 1}}\nrun: {{dir: {tmp_path / 'run'}, steps_per_epoch: 1}}\n"
    )
    outcome, result = invoke(["fit", recipe])
    assert outcome == CLEAN_ERROR, result.output
    line = clean_error_line(result)
    assert "data.train" in line and "decoded" in line and "x.jpg" in line


# 3. One image-acceptance rule -----------------------------------------------------------


def test_check_pipeline_and_predict_agree_on_every_hostile_image(tmp_path):
    """The verdict of `kvgg data check`, of the pipelines and of predict is one rule."""
    from kvgg.data import image_dataset
    from kvgg.data.bad_files import check_source
    from kvgg.data.sources import FileSource
    from kvgg.evaluate.predict import load_image

    images = make_bad_images(tmp_path)
    assert set(images) == set(BAD_IMAGE_KINDS)
    kinds = sorted(images)
    source = FileSource("hostile", ["x"], [0] * len(kinds), [images[k] for k in kinds])
    bad_in_check = {f.path for f in check_source(source, progress=False) if f.bad}
    decoded = len(list(image_dataset(source).as_numpy_iterator()))
    dropped = set(source.bad_files.paths)
    assert source.bad_files.count == len(kinds) - decoded
    refused = set()
    for kind in kinds:
        try:
            load_image(images[kind])
        except ValueError:
            refused.add(str(images[kind]))
    assert bad_in_check == dropped == refused
    assert str(images["webp_named_jpg"]) not in refused  # tf.io decodes WebP: accepted
    assert str(images["empty"]) in refused and str(images["riff_not_webp"]) in refused


def test_data_check_notes_webp_in_a_jpg(tmp_path):
    from kvgg.data.bad_files import check_source
    from kvgg.data.sources import FileSource

    path = make_bad_images(tmp_path)["webp_named_jpg"]
    findings = check_source(FileSource("w", ["x"], [0], [path]), progress=False)
    assert [(f.problem, f.bad) for f in findings] == [("WebP data in a .jpg file", False)]


# 4. A failed write loses nothing --------------------------------------------------------


def test_evaluate_prints_the_report_before_a_failed_json_write(files):
    blocker = files["root"] / "a_file"
    blocker.write_text("x")
    destination = blocker / "report.json"
    outcome, result = invoke(
        ["evaluate", "--model", files["good"], "--data", files["folder"], "--scales", "32",
         "--no-flip", "-o", destination]
    )  # fmt: skip
    assert outcome == CLEAN_ERROR, result.output
    assert "top-1 error" in result.stdout
    line = clean_error_line(result)
    assert str(destination) in line and ".partial" not in line


def test_data_stats_prints_before_a_failed_write(files):
    destination = files["root"] / "a_file2" / "stats.json"
    (files["root"] / "a_file2").write_text("x")
    outcome, result = invoke(["data", "stats", files["folder"], "-o", destination])
    assert outcome == CLEAN_ERROR, result.output
    assert "mean RGB" in result.stdout
    assert str(destination) in clean_error_line(result)


# 5. data check on vanished files --------------------------------------------------------


def test_check_source_reports_a_vanished_file_as_bad(tmp_path):
    from kvgg.data.bad_files import check_source
    from kvgg.data.sources import FileSource

    good = write_image(tmp_path / "good.jpg", class_image(0, 40))
    gone = tmp_path / "gone.jpg"
    findings = check_source(FileSource("v", ["x"], [0, 0], [good, gone]), progress=False)
    assert [(f.path, f.bad) for f in findings] == [(str(gone), True)]
    assert "cannot be read" in findings[0].problem


# 6. Damaged model files -----------------------------------------------------------------


def test_every_damaged_model_file_is_a_one_line_error_naming_it(files, tmp_path):
    from kvgg.evaluate.files import load_classifier

    for kind, path in make_bad_model_files(tmp_path, files["good"]).items():
        if path.name.endswith(".weights.h5"):
            continue
        with pytest.raises((ValueError, FileNotFoundError)) as caught:
            load_classifier(path)
        assert str(path) in str(caught.value), kind
        assert "\n" not in str(caught.value).strip(), kind


def test_resuming_from_a_truncated_last_keras_names_it(tmp_path):
    from kvgg.train.run_dir import RunDirectory

    run = RunDirectory(tmp_path / "run")
    run.path.mkdir(parents=True, exist_ok=True)
    run.last.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(ValueError, match="last.keras"):
        run.resume_state()
    run.last.write_bytes(b"")
    with pytest.raises(ValueError, match="last.keras"):
        run.resume_state()


def test_init_from_junk_weights_names_the_file(tmp_path):
    from kvgg.train.initial_weights import init_from

    junk = tmp_path / "junk.weights.h5"
    junk.write_bytes(b"\x00junk" * 50)
    with pytest.raises(ValueError, match="junk.weights.h5"):
        init_from(tiny_model(), junk)


# 7. Recipes -----------------------------------------------------------------------------

RECIPE_ERRORS = {
    "recursive_alias": "recursive",
    "recursive_list_alias": "recursive",
    "alias_bomb": "alias",
    "width_inf": "model.width",
    "min_delta_nan": "schedule.min_delta",
    "fc_units_zero": "model.fc_units",
    "smoke_unknown_key": "model.widht",
    "folder_without_path": "path",
    "labels_without_file": "labels",
}


@pytest.mark.parametrize("kind", sorted(RECIPE_ERRORS))
def test_hostile_recipe_is_a_clean_error(kind, tmp_path):
    path = write_bad_recipe(tmp_path, kind)
    if kind in ("folder_without_path", "labels_without_file"):
        outcome, result = invoke(["fit", path])
    else:
        outcome, result = invoke(["recipe", "show", path])
    assert outcome == CLEAN_ERROR, result.output
    assert RECIPE_ERRORS[kind] in clean_error_line(result)


def test_recipe_is_parsed_once_with_the_c_loader(tmp_path, monkeypatch):
    import yaml

    from kvgg.recipe import load
    from kvgg.train.config import TrainRecipe

    calls = []
    original = yaml.CSafeLoader.get_single_node

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(yaml.CSafeLoader, "get_single_node", counted)
    path = tmp_path / "r.yaml"
    path.write_text("name: once\nmodel: &m {config: A}\nsmoke: {schedule.epochs: 1}\n")
    assert load(path, TrainRecipe).model.config == "A"
    assert calls == [1]


# 8. Command lines -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, named",
    [
        (["summary", "A", "--width", "inf"], "width"),
        (["data", "stats", "digits", "--max-images", "-1"], "--max-images"),
        (["data", "check", ""], "source"),
    ],
)
def test_hostile_options_are_clean_errors(args, named):
    outcome, result = invoke(args)
    assert outcome == CLEAN_ERROR, result.output
    assert named in clean_error_line(result)


def test_tfrecord_source_on_a_foreign_file_names_it(tmp_path):
    path = tmp_path / "fake.tfrecord"
    path.write_bytes(b"no record here" * 10)
    outcome, result = invoke(["data", "check", f"tfrecord:{path}"])
    assert outcome == CLEAN_ERROR, result.output
    assert "fake.tfrecord" in clean_error_line(result)


def test_evaluate_data_empty_string_is_refused(files):
    outcome, result = invoke(["evaluate", "--model", files["good"], "--data", ""])
    assert outcome == CLEAN_ERROR, result.output
    assert "empty" in clean_error_line(result)  # not silently the current folder


def test_scoring_refuses_views_past_the_pixel_bound(files):
    wide = write_wide_image(files["root"] / "wide.png")  # 10 x 10000 pixels
    outcome, result = invoke(["predict", "--model", files["good"], wide, "--scales", "512"])
    assert outcome == CLEAN_ERROR, result.output  # 512 x 512000 by default: refused
    line = clean_error_line(result)
    assert "wide.png" in line and "--max-pixels" in line
    args = ["predict", "--model", files["good"], wide, "--scales", "32"]
    outcome, result = invoke([*args, "--max-pixels", "500000"])
    assert outcome == CLEAN_ERROR, result.output  # 32 x 32000 over a lowered bound


@pytest.mark.slow  # scores a 32 x 32000 view
def test_a_wide_image_within_the_bound_is_scored(files):
    wide = write_wide_image(files["root"] / "wide.png")
    outcome, result = invoke(["predict", "--model", files["good"], wide, "--scales", "32"])
    assert outcome == "accepted", result.output


def test_evaluate_refuses_a_huge_scale_before_running_out_of_memory(files):
    outcome, result = invoke(
        ["evaluate", "--model", files["good"], "--data", files["folder"], "--scales", "100000"]
    )
    assert outcome == CLEAN_ERROR, result.output
    assert "--max-pixels" in clean_error_line(result)


# 9. Listing and leftovers ---------------------------------------------------------------


def test_a_symlink_loop_is_named_at_listing(tmp_path, caplog):
    from kvgg.data.sources import image_folder

    folder = make_image_folder(tmp_path / "f", ("a", "b"), per_class=1)
    os.symlink(folder / "a" / "loop.jpg", folder / "a" / "loop.jpg")
    with caplog.at_level(logging.WARNING, logger="kvgg.data"):
        source = image_folder(folder)
    assert len(source) == 2
    assert "loop.jpg" in caplog.text


def test_a_write_never_replaces_a_device_or_folder(tmp_path):
    """`-o /dev/null` once replaced the device with a regular file (as root)."""
    from kvgg.io import write_text

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in (fifo, tmp_path):
        with pytest.raises(OSError, match="not a regular file"):
            write_text(target, "x")
    assert fifo.is_fifo()


def test_stale_partial_files_are_removed_at_the_next_write(tmp_path):
    from kvgg.io import write_text

    stale = tmp_path / ".notes.txt.abc123.partial.txt"
    stale.write_text("half")
    other = tmp_path / ".other.txt.abc123.partial.txt"
    other.write_text("someone else's")
    write_text(tmp_path / "notes.txt", "whole")
    assert not stale.exists() and other.exists()
    assert (tmp_path / "notes.txt").read_text() == "whole"
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == [other.name]


def test_damaged_metadata_read_info_names_the_file(files, tmp_path):
    from kvgg.io import read_info

    for kind, path in make_bad_model_files(tmp_path, files["good"]).items():
        if not kind.startswith("metadata_"):
            continue
        with pytest.raises(ValueError, match=path.name):
            read_info(path)
    with zipfile.ZipFile(files["good"]) as archive:
        assert "kvgg.json" in archive.namelist()


@pytest.mark.slow  # extracts features
def test_features_whose_descriptors_overflow_are_a_named_error(files):
    from kvgg.io import save_model

    model = tiny_model(num_classes=3)
    kernel, bias = model.get_layer("fc2").get_weights()
    model.get_layer("fc2").set_weights([np.full_like(kernel, 3e38), bias])
    path = save_model(model, files["root"] / "huge_fc2.keras", class_names=CLASSES)
    out = files["root"] / "huge_features.npz"
    outcome, result = invoke(
        ["features", files["folder"], "--model", path, "-o", out, "--scales", "32"]
    )
    assert outcome == CLEAN_ERROR, result.output
    assert "descriptors" in clean_error_line(result) and not out.exists()
