"""`kvgg evaluate`, `kvgg predict`, `kvgg scoremap` and `kvgg surgery fcn` end to end."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kvgg.cli import main
from kvgg.data import open_source
from kvgg.evaluate import evaluate
from kvgg.io import load_model, read_info, save_model
from tests.data_fixtures import make_image_folder, make_voc
from tests.helpers import random_images, tiny_model

CLASSES = ["cat", "dog", "fish"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    return save_model(tiny_model("A", num_classes=3), path, class_names=CLASSES)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "val"
    make_image_folder(root, classes=CLASSES[:2], per_class=2, size=(40, 56))
    make_image_folder(root, classes=CLASSES[2:], per_class=2, size=(48, 36))
    return root


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_evaluate_prints_the_errors_and_writes_the_same_report_as_json(
    saved_model, folder, tmp_path
):
    out = tmp_path / "report.json"
    args = ("--data", folder, "--method", "both", "--scales", "32,48", "--json", out)
    result = invoke("evaluate", "--model", saved_model, *args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    expected = evaluate(
        load_model(saved_model),
        str(folder),
        method="both",
        scales=(32, 48),
        class_names=CLASSES,
        progress=False,
    )
    assert report["images"] == 6
    assert report["scales"] == [32, 48] and report["method"] == "both"
    assert report["top1_error"] == pytest.approx(expected.top1_error)
    assert [row["name"] for row in report["per_class"]] == CLASSES
    assert f"top-1 error  {100 * expected.top1_error:6.2f} %" in result.output
    assert not [p for p in tmp_path.iterdir() if p.name != "report.json"]  # no partial file


def test_fusing_two_models_averages_their_posteriors(saved_model, folder, tmp_path):
    other = save_model(tiny_model("B", num_classes=3), tmp_path / "b.keras", class_names=CLASSES)
    models = [load_model(saved_model), load_model(other)]
    options = {"method": "dense", "scales": (32,), "class_names": CLASSES, "progress": False}
    fused = evaluate(models, str(folder), **options)
    alone = [evaluate(model, str(folder), **options).posteriors for model in models]
    np.testing.assert_allclose(fused.posteriors, np.mean(alone, 0), rtol=1e-5)
    assert fused.models == ["vgg11", "vgg13"]


def test_sources_are_matched_to_the_model_classes_by_name(saved_model, tmp_path):
    root = make_image_folder(tmp_path / "val", classes=["fish", "cat"], per_class=1)
    report = evaluate(
        load_model(saved_model),
        str(root),
        scales=(32,),
        class_names=CLASSES,
        progress=False,
    )
    assert sorted(report.labels.tolist()) == [0, 2]  # cat is output 0, fish output 2
    assert report.per_class[1] == {"name": "dog", "images": 0, "accuracy": None}


def test_imagenet_folders_named_by_wordnet_id_match_a_1000_class_model(tmp_path):
    from kvgg.io import imagenet_class_names

    root = make_image_folder(tmp_path / "val", classes=["n01484850", "n01440764"], per_class=1)
    model = tiny_model("A", num_classes=1000)
    report = evaluate(
        model, str(root), scales=(32,), class_names=imagenet_class_names(), progress=False
    )
    assert sorted(report.labels.tolist()) == [0, 2]  # tench, great white shark


def test_predict_prints_the_top_classes_by_name(saved_model, folder):
    image = next((folder / "dog").iterdir())
    result = invoke("predict", "--model", saved_model, image, "--scales", "32,40", "--top", 2)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == str(image)
    assert len(lines) == 3 and all(line.split()[-1] in CLASSES for line in lines[1:])
    shares = [float(line.split()[0].rstrip("%")) for line in lines[1:]]
    assert shares == sorted(shares, reverse=True)


def test_scoremap_draws_a_picture(saved_model, folder, tmp_path):
    image = next((folder / "cat").iterdir())
    out = tmp_path / "maps" / "map.png"
    result = invoke("scoremap", "--model", saved_model, image, "--out", out, "--scale", 96)
    assert result.exit_code == 0, result.output
    assert result.output.split(" (")[0] in CLASSES
    with Image.open(out) as picture:
        assert picture.format == "PNG" and min(picture.size) > 100


def test_surgery_fcn_writes_a_model_plain_keras_loads(saved_model, tmp_path):
    out = tmp_path / "fcn.keras"
    result = invoke("surgery", "fcn", saved_model, out)
    assert result.exit_code == 0, result.output
    fcn = keras.saving.load_model(out)
    images = random_images(2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fcn(images))[:, 0, 0],
        keras.ops.convert_to_numpy(load_model(saved_model)(images)),
        rtol=1e-5,
    )
    assert fcn.input_shape == (None, None, None, 3)
    assert read_info(out)["class_names"] == CLASSES
    invoke("surgery", "fcn", saved_model, out, "--until", "fc2")
    assert keras.saving.load_model(out).output_shape[-1] == 256


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "--model", "missing.keras", "--data", "."], "No model file at"),
        (["evaluate", "--data", "{folder}", "--scales", "32,x"], "Received: scales='32,x'"),
        (["evaluate", "--data", "{folder}", "--scales", "16"], "Received: scales=(16,)"),
        (["evaluate", "--data", "{voc}", "--scales", "32"], "multi-label"),
        (["predict", "{bad}", "--scales", "32"], "not a readable image"),
        (["surgery", "fcn", "{bad}", "out.keras"], "not a Keras model file"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_message(saved_model, folder, tmp_path, args, message):
    bad = tmp_path / "readme.txt"
    bad.write_text("not an image")
    voc = make_voc(tmp_path, 2007)
    paths = {"folder": folder, "bad": bad, "voc": f"voc:{voc}?year=2007&split=test"}
    args = [a.format(**paths) for a in args]
    if args[0] in ("evaluate", "predict") and "--model" not in args:
        args[1:1] = ["--model", str(saved_model)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow  # a training run, then 359 images at three scales
def test_evaluate_runs_on_a_kvgg_fit_run(tmp_path):
    run = tmp_path / "run"
    recipe = Path(__file__).parents[1] / "recipes" / "quickstart.yaml"
    assert invoke("fit", recipe, "--smoke", "--run-dir", run).exit_code == 0
    result = invoke("evaluate", "--model", run, "--data", "digits:test")
    assert result.exit_code == 0, result.output
    assert "Q = 32, 36, 40" in result.output  # the preset of the recipe's scale [32, 40]
    assert f"images       {len(open_source('digits:test'))} (" in result.output
