"""Third adversarial round (issue 25): no input overwritten, no damaged box or record believed.

One test per defect, each written to fail before its fix.
"""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest
import yaml

from tests.adversarial.oracle import clean_error_line, invoke
from tests.data_fixtures import class_image, make_image_folder, write_image
from tests.helpers import tiny_model

NAMES = ["blue", "green", "red"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A classifier, a localiser, a run directory, box data and a few photos."""
    from kvgg.io import save_model
    from kvgg.localize import build_localizer
    from kvgg.localize.demo import pasted_objects

    root = tmp_path_factory.mktemp("round3")
    classifier = tiny_model("A", num_classes=3)
    cls = save_model(classifier, root / "cls.keras", class_names=NAMES, info={"scale": 40})
    info = {"scale": 40, "recipe": {"localization": {"regression": "pcr"}}}
    loc = save_model(build_localizer(classifier, regression="pcr", seed=0), root / "loc.keras",
                     class_names=NAMES, info=info)  # fmt: skip
    images, annotations = pasted_objects(root / "data", per_class=2, size=(48, 64))
    run = root / "run"
    run.mkdir()
    save_model(classifier, run / "model.keras", class_names=NAMES, info={"scale": 40})
    (run / "recipe.yaml").write_text("name: run\n")
    (run / "history.csv").write_text("epoch,loss,val_top1,lr\n1,2.1,0.35,0.01\n")
    return {"root": root, "cls": cls, "loc": loc, "images": images, "boxes": annotations,
            "run": run}  # fmt: skip


def _copy(path, folder):
    target = folder / path.name
    target.write_bytes(path.read_bytes())
    return target


def _refused(outcome_and_result, *named):
    line = clean_error_line(outcome_and_result[1])
    for name in named:
        assert str(name) in line, line
    return line


# 1. Outputs overwrite inputs ------------------------------------------------------------


def test_localize_out_equal_to_the_image_is_refused(files, tmp_path):
    photo = _copy(sorted(files["images"].rglob("*.jpg"))[0], tmp_path)
    before = photo.read_bytes()
    result = invoke(["localize", "--model", files["loc"], "--classifier", files["cls"], photo,
                     "--scales", "40", "-o", photo, "--no-pictures"])  # fmt: skip
    _refused(result, photo)
    assert photo.read_bytes() == before


def test_localize_pictures_of_two_images_with_one_name_is_refused(files, tmp_path):
    photos = []
    for index, folder in enumerate((tmp_path / "a", tmp_path / "b")):
        folder.mkdir()
        source = sorted(files["images"].rglob("*.jpg"))[index]
        photos.append(folder / "photo.jpg")
        photos[-1].write_bytes(source.read_bytes())
    result = invoke(["localize", "--model", files["loc"], "--classifier", files["cls"],
                     *photos, "--scales", "40", "--pictures", tmp_path / "pictures"])  # fmt: skip
    _refused(result, photos[0], photos[1])
    assert not (tmp_path / "pictures").exists()


def test_scoremap_out_equal_to_its_png_is_refused(files, tmp_path):
    photo = write_image(tmp_path / "photo.png", class_image(0, 48))
    before = photo.read_bytes()
    result = invoke(["scoremap", "--model", files["cls"], photo, "-o", photo, "--scales", "40"])
    _refused(result, photo)
    assert photo.read_bytes() == before


def test_evaluate_out_equal_to_the_model_is_refused(files, tmp_path):
    model = _copy(files["cls"], tmp_path)
    before = model.read_bytes()
    folder = make_image_folder(tmp_path / "images", ("blue", "green", "red"), per_class=1)
    result = invoke(["evaluate", "--model", model, "--data", folder, "--scales", "40",
                     "-o", model])  # fmt: skip
    _refused(result, model)
    assert model.read_bytes() == before


def test_evaluate_out_into_a_run_directory_model_is_refused(files):
    model = files["run"] / "model.keras"
    before = model.read_bytes()
    result = invoke(["evaluate", "--model", files["run"], "--data", files["images"],
                     "--scales", "40", "-o", model])  # fmt: skip
    _refused(result, model)
    assert model.read_bytes() == before


@pytest.mark.parametrize("which", ["loc", "cls"])
def test_evaluate_boxes_out_equal_to_a_model_is_refused(files, tmp_path, which):
    model = _copy(files[which], tmp_path)
    before = model.read_bytes()
    roles = {"loc": model, "cls": files["cls"]} if which == "loc" else {"loc": files["loc"],
                                                                       "cls": model}  # fmt: skip
    result = invoke(["evaluate", "--model", roles["loc"], "--classifier", roles["cls"], "--data",
                     files["images"], "--boxes", files["boxes"], "-o", model])  # fmt: skip
    _refused(result, model)
    assert model.read_bytes() == before


def test_out_through_a_symlink_to_the_input_is_refused(files, tmp_path):
    model = _copy(files["cls"], tmp_path)
    link = tmp_path / "link.keras"
    link.symlink_to(model)
    result = invoke(["surgery", "fcn", "--model", model, "-o", link])
    _refused(result, link, model)
    assert link.is_symlink()


def test_surgery_out_equal_to_the_model_is_refused(files, tmp_path):
    model = _copy(files["cls"], tmp_path)
    before = model.read_bytes()
    _refused(invoke(["surgery", "fcn", "--model", model, "-o", model]), model)
    assert model.read_bytes() == before


def test_report_out_equal_to_a_record_is_refused(tmp_path):
    record = tmp_path / "report.json"
    record.write_text(json.dumps(_record()))
    before = record.read_text()
    _refused(invoke(["report", record, "-o", record]), record)
    assert record.read_text() == before


def test_features_out_equal_to_the_model_is_refused(files, tmp_path):
    model = _copy(files["cls"], tmp_path)
    before = model.read_bytes()
    result = invoke(["features", "--model", model, files["images"], "-o", model])
    _refused(result, model)
    assert model.read_bytes() == before


def test_plot_out_equal_to_the_history_is_refused(files):
    history = files["run"] / "history.csv"
    before = history.read_text()
    _refused(invoke(["plot", files["run"], "-o", history]), history)
    assert history.read_text() == before


def test_data_stats_out_equal_to_an_image_is_refused(tmp_path):
    folder = make_image_folder(tmp_path / "images", ("cat", "dog"), per_class=1)
    photo = sorted(folder.rglob("*.jpg"))[0]
    before = photo.read_bytes()
    _refused(invoke(["data", "stats", folder, "-o", photo]), photo)
    assert photo.read_bytes() == before


def test_weights_import_out_equal_to_the_file_is_refused(files, tmp_path):
    model = _copy(files["cls"], tmp_path)
    before = model.read_bytes()
    result = invoke(["weights", "import", "--from", "torchvision", "--file", model,
                     "--config", "A", "-o", model])  # fmt: skip
    _refused(result, model)
    assert model.read_bytes() == before


def test_fit_into_the_run_directory_of_its_init_weights_is_refused(files, tmp_path):
    from kvgg.io import save_model

    run = tmp_path / "run"
    run.mkdir()
    weights = save_model(tiny_model(num_classes=2), run / "model.keras")
    before = weights.read_bytes()
    folder = make_image_folder(tmp_path / "images", ("cat", "dog"), per_class=2)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "r", "model": {"config": "A", "width": 1 / 16, "init_from": str(weights)},
        "data": {"train": str(folder), "val": str(folder), "scale": 32, "crop": 32},
        "schedule": {"epochs": 1}, "run": {"steps_per_epoch": 1, "val_steps": 1},
    }))  # fmt: skip
    _refused(invoke(["fit", recipe, "--run-dir", run]), weights)
    assert weights.read_bytes() == before


def _record(**changes):
    from tests.adversarial.fuzz_files import CLASSIFICATION_RECORD

    return copy.deepcopy(CLASSIFICATION_RECORD) | changes


def test_check_outputs_compares_files_not_spellings(tmp_path):
    from kvgg.io import check_outputs

    photo = tmp_path / "cat.jpg"
    photo.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    os.link(photo, tmp_path / "hard.jpg")
    for spelling in (tmp_path / "sub" / ".." / "cat.jpg", tmp_path / "hard.jpg"):
        with pytest.raises(ValueError, match="over the input"):
            check_outputs([spelling], [photo])
    with pytest.raises(ValueError, match="Two outputs"):
        check_outputs([tmp_path / "p.png", tmp_path / "sub/../p.png"], made_from=["a", "b"])
    check_outputs([tmp_path / "new.json"], [photo, None, tmp_path / "missing.jpg"])
    assert np.array_equal(np.frombuffer(photo.read_bytes(), "uint8"), [ord("x")])


# 5. Damaged evaluation records ----------------------------------------------------------

DAMAGED_RECORDS = {
    "top1 true": {"top1_error": True},
    "top5 nan": {"top5_error": float("nan")},
    "per_model empty": {"per_model": []},
    "per_model of numbers": {"per_model": [1, 2]},
    "per_model a mapping": {"per_model": {"config": "D"}},
    "scales a string": {"scales": "384"},
    "scales with a bool": {"scales": [True]},
    "model scales a number": {"per_model": [{"config": "D", "train_scale": 384, "scales": 7}]},
    "train_scale a mapping": {
        "per_model": [{"config": "D", "train_scale": {"a": 1}, "scales": [384]}]
    },  # fmt: skip
    "config a list": {"per_model": [{"config": ["D"], "train_scale": 384, "scales": [384]}]},
    "method a number": {"method": 5},
    "flip a string": {"flip": "yes"},
    "top5 above top1": {"top1_error": 0.1, "top5_error": 0.2},
}


@pytest.mark.parametrize("kind", sorted(DAMAGED_RECORDS))
def test_report_names_and_skips_a_damaged_record(tmp_path, kind):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_record()))
    bad.write_text(json.dumps(_record(**DAMAGED_RECORDS[kind])))
    outcome, result = invoke(["report", good, bad])
    assert result.exit_code == 0, result.output
    assert "25.00 / 8.00" in result.output  # the good record's row
    assert f"Skipped {str(bad)!r}" in result.stderr
    assert result.stdout.count("/") == _report_of(good).count("/")  # no row from the bad one
    outcome, result = invoke(["report", bad])
    assert str(bad) in clean_error_line(result)


def _report_of(record):
    return invoke(["report", record])[1].stdout


# 2. Damaged ground-truth boxes ----------------------------------------------------------

# (xmin, ymin, xmax, ymax) in the files' 1-based inclusive pixels, on 64x48 images
DAMAGED_BOXES = {
    "xmax < xmin": (40, 10, 20, 30),
    "ymax < ymin": (10, 30, 40, 10),
    "zero area": (21, 10, 20, 30),
    "nan": (float("nan"), 10, 40, 30),
    "inf": (10, 10, float("inf"), 30),
    "outside the image": (100, 100, 120, 120),
    "negative": (-30, -30, -10, -10),
}
GOOD = (11, 6, 40, 30)


def _xml(path, name, *boxes):
    objects = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
        f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
        for x1, y1, x2, y2 in boxes
    )
    path.write_text(f"<annotation><size><width>64</width><height>48</height></size>{objects}"
                    "</annotation>")  # fmt: skip


def _box_tree(root, boxes_of):
    """A flat ILSVRC-val-like tree: one 64x48 image per entry, its XML with these boxes."""
    images, annotations = root / "images", root / "bbox"
    images.mkdir(parents=True)
    annotations.mkdir()
    for stem, boxes in boxes_of.items():
        write_image(images / f"{stem}.JPEG", class_image(0, (48, 64)))
        _xml(annotations / f"{stem}.xml", "n01440764", *boxes)
    return images, annotations


@pytest.mark.parametrize("kind", sorted(DAMAGED_BOXES))
def test_a_damaged_xml_box_is_named_and_left_out(tmp_path, kind):
    from kvgg.localize.annotations import box_folder

    damaged = DAMAGED_BOXES[kind]
    images, annotations = _box_tree(tmp_path, {"a": [damaged, GOOD], "b": [damaged], "c": [GOOD]})
    source = box_folder(images, annotations)
    assert [p.rsplit("/", 1)[1] for p in source.paths] == ["a.JPEG", "c.JPEG"]
    assert [b.tolist() for b in source.boxes] == [[[10, 5, 40, 30]]] * 2
    assert source.bad_annotations.count == 2  # a's bad box, b (its only box bad)
    named = str(source.bad_annotations)
    assert "a.xml (object 1:" in named and "b.xml (object 1:" in named


def test_a_box_partly_outside_the_image_is_clipped(tmp_path):
    from kvgg.localize.annotations import box_folder

    images, annotations = _box_tree(tmp_path, {"a": [(-9, 20, 100, 60)]})
    source = box_folder(images, annotations)
    assert source.boxes[0].tolist() == [[0, 19, 64, 48]]
    assert source.bad_annotations.count == 0


def _kaggle(root, rows):
    images = root / "val"
    images.mkdir()
    for image_id in dict.fromkeys(image_id for image_id, _ in rows):
        write_image(images / f"{image_id}.JPEG", class_image(0, (48, 64)))
    lines = ["ImageId,PredictionString"] + [f"{image_id},{text}" for image_id, text in rows]
    (root / "LOC_val_solution.csv").write_text("\n".join(lines) + "\n")
    return images, root / "LOC_val_solution.csv"


@pytest.mark.parametrize("kind", sorted(DAMAGED_BOXES))
def test_a_damaged_kaggle_box_is_named_by_line_and_left_out(tmp_path, kind):
    from kvgg.localize.annotations import kaggle_boxes

    bad = " ".join(str(v) for v in DAMAGED_BOXES[kind])
    good = " ".join(str(v) for v in GOOD)
    images, csv = _kaggle(
        tmp_path,
        [
            ("v1", f"n01440764 {bad} n01440764 {good}"),
            ("v2", f"n01440764 {bad}"),
            ("v3", f"n01440764 {good}"),
        ],
    )
    source = kaggle_boxes(images, csv)
    assert [len(b) for b in source.boxes] == [1, 1]
    assert source.bad_annotations.count == 2
    assert f"{csv}:2 (box 1:" in str(source.bad_annotations)


def test_a_kaggle_image_listed_twice_is_scored_once(tmp_path):
    from kvgg.localize.annotations import kaggle_boxes

    good = " ".join(str(v) for v in GOOD)
    images, csv = _kaggle(tmp_path, [("v1", f"n01440764 {good}"), ("v1", f"n01440764 {good}")])
    source = kaggle_boxes(images, csv)
    assert len(source) == 1
    assert f"{csv}:3 (v1 listed again" in str(source.bad_annotations)


# 6. Memory ------------------------------------------------------------------------------


def test_localize_refuses_a_view_past_the_pixel_bound(files, tmp_path):
    from tests.adversarial.corpus import write_wide_image

    wide = write_wide_image(tmp_path / "wide.jpg")  # 10 x 10000: 512 x 512,000 at Q = 512
    args = ["localize", "--model", files["loc"], "--classifier", files["cls"], "--no-pictures"]
    line = _refused(invoke([*args, wide, "--scales", "512"]), wide)
    assert "--max-pixels" in line
    photo = sorted(files["images"].rglob("*.jpg"))[0]  # 48 x 64: 40 x 53 at Q = 40
    at_40 = [photo, "--scales", "40", "--classifier-scales", "40"]
    assert "--max-pixels" in _refused(invoke([*args, *at_40, "--max-pixels", "2000"]), photo)
    assert invoke([*args, *at_40, "--max-pixels", "3000"])[1].exit_code == 0


def test_evaluate_boxes_refuses_a_view_past_the_pixel_bound(files):
    args = ["evaluate", "--model", files["loc"], "--classifier", files["cls"], "--data",
            files["images"], "--boxes", files["boxes"], "--scales", "40"]  # fmt: skip
    assert "--max-pixels" in _refused(invoke([*args, "--max-pixels", "1000"]))


def test_box_training_items_hold_each_image_s_own_boxes():
    """One image with 20,000 boxes among 200 with one: no (201, 20000, 4) padded array."""
    from kvgg.localize.annotations import BoxSource

    boxes = [np.ones((1, 4), np.float32)] * 200 + [np.ones((20_000, 4), np.float32)]
    source = BoxSource("demo", ["cat"], ["a.jpg"] * 201, np.zeros(201, np.int64), boxes)
    items = source.named_dataset(read=False)
    sizes = [int(b.shape[0]) for _, (_, b), _ in items.skip(199).take(2)]
    assert sizes == [1, 20_000]
    held = len(items._as_serialized_graph().numpy())  # the arrays the dataset holds
    assert held < 2 * 20_201 * 16  # padded: 201 x 20,000 x 16 bytes = 64 MB


# The fuzzers of records and boxes -------------------------------------------------------

FAST_FILE_CASES = 40
SLOW_FILE_CASES = 400


def _fuzz(name, cases, run, tmp_path):
    from tests.adversarial.oracle import Tally

    tally = Tally(name)
    for number, case in enumerate(cases):
        run(*case, tmp_path / str(number), tally) if "boxes" in name else run(
            *case, tmp_path, tally
        )
    print(tally.line())
    assert not tally.failures, [(case, why, detail[:300]) for case, why, detail in tally.failures]
    assert tally.tries == len(cases)


def test_record_fuzzer_fast(tmp_path):
    from tests.adversarial import fuzz_files

    cases = fuzz_files.record_cases(FAST_FILE_CASES, 0)
    _fuzz("record fuzzer (seed 0)", cases, fuzz_files.run_record_case, tmp_path)


def test_box_fuzzer_fast(tmp_path):
    from tests.adversarial import fuzz_files

    cases = fuzz_files.box_cases(FAST_FILE_CASES, 0)
    _fuzz("boxes fuzzer (seed 0)", cases, fuzz_files.run_box_case, tmp_path)


@pytest.mark.slow
def test_record_fuzzer_slow(tmp_path):
    from tests.adversarial import fuzz_files

    cases = fuzz_files.record_cases(SLOW_FILE_CASES, 1)
    _fuzz("record fuzzer (seed 1)", cases, fuzz_files.run_record_case, tmp_path)


@pytest.mark.slow
def test_box_fuzzer_slow(tmp_path):
    from tests.adversarial import fuzz_files

    cases = fuzz_files.box_cases(SLOW_FILE_CASES, 1)
    _fuzz("boxes fuzzer (seed 1)", cases, fuzz_files.run_box_case, tmp_path)
