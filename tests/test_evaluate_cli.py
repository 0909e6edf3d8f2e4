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
    args = ("--data", folder, "--method", "both", "--scales", "32,48", "-o", out)
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


def test_evaluate_json_still_writes_the_report_with_a_deprecation_line(
    saved_model, folder, tmp_path
):
    out = tmp_path / "report.json"
    args = ("--model", saved_model, "--data", folder, "--scales", "32", "--json", out)
    result = CliRunner().invoke(main, ["evaluate", *map(str, args)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["images"] == 6
    assert "--json is deprecated; use -o/--out" in result.stderr


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


def photo(path, size):
    """A (height, width) RGB JPEG of smooth colours."""
    rows, cols = np.mgrid[0 : size[0], 0 : size[1]]
    pixels = np.stack([rows * 255 // size[0], cols * 255 // size[1], 0 * rows + 128], axis=-1)
    Image.fromarray(pixels.astype("uint8")).save(path)
    return path


def test_scoremap_draws_the_whole_photo_at_its_aspect_in_the_working_directory(
    saved_model, tmp_path, monkeypatch
):
    (tmp_path / "photos").mkdir()
    wide = photo(tmp_path / "photos" / "wide.jpg", (120, 300))
    tall = photo(tmp_path / "photos" / "tall.png", (500, 260))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = invoke("scoremap", "--model", saved_model, wide, tall, "--scales", 64)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2 and all(line.split(" (")[0] in CLASSES for line in lines)
    for image, size in [(wide, (300, 120)), (tall, (260, 500))]:
        picture_path = Path(image.stem + ".scoremap.png")  # not beside the image
        assert f"wrote {picture_path}" in result.output
        assert not image.with_name(picture_path.name).exists()
        with Image.open(picture_path) as picture:
            assert picture.format == "PNG"
            width, height = picture.size
        assert abs(width / height - size[0] / size[1]) < 0.02, (picture.size, size)
        assert max(width, height) >= max(size)  # at least the photo's own resolution


def test_scoremap_writes_into_a_folder_or_one_named_file(saved_model, tmp_path):
    image = photo(tmp_path / "cat.jpg", (60, 90))
    into = invoke("scoremap", "--model", saved_model, image, "-o", tmp_path / "maps")
    assert into.exit_code == 0, into.output
    assert (tmp_path / "maps" / "cat.scoremap.png").is_file()
    named = invoke("scoremap", "--model", saved_model, image, "-o", tmp_path / "map.pdf")
    assert named.exit_code == 0, named.output
    assert (tmp_path / "map.pdf").read_bytes().startswith(b"%PDF")


def test_scoremap_old_scale_option_warns_and_works(saved_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image = photo(tmp_path / "cat.jpg", (60, 90))
    result = CliRunner().invoke(
        main, ["scoremap", "--model", str(saved_model), str(image), "--scale", "48"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cat.scoremap.png").is_file()
    assert "--scale is deprecated; use --scales" in result.stderr


# --- flips: as the model was trained ------------------------------------------------------


@pytest.fixture(scope="module")
def no_flip_model(tmp_path_factory):
    """A model whose saved recipe trained without flips (as `kvgg fit` records it)."""
    path = tmp_path_factory.mktemp("noflip") / "noflip.keras"
    recipe = {"data": {"flip": False, "scale": 32, "crop": 32}}
    return save_model(
        tiny_model("A", num_classes=3), path, class_names=CLASSES, info={"recipe": recipe}
    )


def test_evaluate_flips_as_the_model_was_trained(no_flip_model, saved_model, folder, tmp_path):
    def report(model, *flags):
        out = tmp_path / "r.json"
        result = invoke("evaluate", "--model", model, "--data", folder, "-o", out, *flags)
        assert result.exit_code == 0, result.output
        return json.loads(out.read_text()), result.output

    trained_without, table = report(no_flip_model)
    assert trained_without["flip"] is False and "with flips" not in table
    assert report(no_flip_model, "--flip")[0]["flip"] is True
    assert report(saved_model)[0]["flip"] is True  # no recipe saved: the paper's flips
    assert report(saved_model, "--no-flip")[0]["flip"] is False


def test_predict_and_features_flip_as_the_model_was_trained(no_flip_model, folder, tmp_path):
    from kvgg.evaluate import predict_files

    images = sorted(str(p) for p in folder.rglob("*.jpg"))[:2]
    default = predict_files(no_flip_model, images, scales=(32,), top=3)
    assert default == predict_files(no_flip_model, images, scales=(32,), flip=False, top=3)
    assert default != predict_files(no_flip_model, images, scales=(32,), flip=True, top=3)
    out = tmp_path / "f.npz"
    args = ["--model", no_flip_model, folder, "-o", out, "--scales", 32, "--cache-dir", tmp_path]
    result = invoke("features", *args)
    assert result.exit_code == 0, result.output
    with np.load(out) as saved:
        assert json.loads(str(saved["settings"]))["flip"] is False


def test_surgery_fcn_writes_a_model_plain_keras_loads(saved_model, tmp_path):
    out = tmp_path / "fcn.keras"
    result = invoke("surgery", "fcn", "--model", saved_model, "-o", out)
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
    old = CliRunner().invoke(main, ["surgery", "fcn", str(saved_model), str(out), "--until", "fc2"])
    assert old.exit_code == 0 and "IN.keras OUT.keras is deprecated" in old.stderr
    assert keras.saving.load_model(out).output_shape[-1] == 256


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "--model", "missing.keras", "--data", "."], "No model file at"),
        (["evaluate", "--data", "{folder}", "--scales", "32,x"], "Received: scales='32,x'"),
        (["evaluate", "--data", "{folder}", "--scales", "16"], "Received: scales=(16,)"),
        (["evaluate", "--data", "{voc}", "--scales", "32"], "multi-label"),
        (["predict", "{bad}", "--scales", "32"], "not a readable image"),
        (["surgery", "fcn", "--model", "{bad}", "-o", "out.keras"], "not a Keras model file"),
        (["scoremap", "{bad}", "--scales", "32,40"], "A score map is drawn at one scale Q"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_message(saved_model, folder, tmp_path, args, message):
    bad = tmp_path / "readme.txt"
    bad.write_text("not an image")
    voc = make_voc(tmp_path, 2007)
    paths = {"folder": folder, "bad": bad, "voc": f"voc:{voc}?year=2007&split=test"}
    args = [a.format(**paths) for a in args]
    if args[0] in ("evaluate", "predict", "scoremap") and "--model" not in args:
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
