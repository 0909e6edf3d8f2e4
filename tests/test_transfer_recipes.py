"""The transfer recipes end to end on tiny datasets in the real VOC and Caltech layouts."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import kvgg.transfer.svm as svm_module
from kvgg.cli import main
from kvgg.data.sources import voc
from kvgg.io import save_model
from kvgg.recipe import load
from kvgg.transfer import voc_average_precision
from kvgg.transfer.experiment import write_voc_results
from kvgg.transfer.recipe import TransferRecipe
from kvgg.transfer.svm import fit_one_vs_rest
from tests.data_fixtures import VOC_CLASSES, class_image, make_caltech, make_voc, write_image
from tests.helpers import tiny_model

RECIPES = "recipes/transfer"
SMALL = ["features.scales=[32, 48]", "features.batch_size=8"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)  # the same random nets (and so the same numbers) each run
    paths = {}
    for config in ("D", "E"):
        paths[config] = save_model(tiny_model(config, num_classes=1000), folder / f"{config}.keras")
    return paths


def voc_images(count=36):
    """Images of 4 classes (plus some second objects and difficult-only ones)."""
    classes = ["dog", "cat", "car", "person"]
    images = {}
    for i in range(count):
        main_class = classes[i % 4]
        objects = [(main_class, (2, 2, 30, 30), False)]
        if i % 5 == 0:
            objects.append(("person", (4, 4, 20, 20), False))
        if i % 7 == 3:
            objects.append(("bird", (3, 3, 15, 15), True))  # difficult only: ignored
        images[f"{i:06d}"] = objects
    return images


def make_tiny_voc(root, year, count=36):
    images = voc_images(count)
    ids = list(images)
    trainval, test = ids[: count * 2 // 3], ids[count * 2 // 3 :]
    splits = {"train": trainval[::2], "val": trainval[1::2], "trainval": trainval, "test": test}
    return make_voc(root, year, images=images, splits=splits, size=(40, 52))


def run_cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def overrides(models, tmp_path, root, fuse=True):
    values = [
        f"data.root={root}",
        f"models.D={models['D']}",
        f"models.E={models['E']}",
        f"out_dir={tmp_path / 'run'}",
        f"features.cache_dir={tmp_path / 'cache'}",
        *SMALL,
    ]
    return values if fuse else [*values, "fuse=[]"]


def cli_sets(values):
    return [item for value in values for item in ("--set", value)]


def read_server_file(path):
    """(image ids, float scores) of a ``comp2_cls_*.txt`` file, as the VOC devkit reads it."""
    lines = Path(path).read_text().split("\n")[:-1]
    ids, scores = zip(*(line.split(" ") for line in lines), strict=True)
    return list(ids), np.array(scores, float)


def test_server_files_hold_the_exact_scores_and_their_ranking(tmp_path):
    # Four confidences closer together than 1e-6: a fixed-point format would tie them.
    base, ulp = np.float32(-0.0812345), np.spacing(np.float32(0.0812345))
    column = np.array([base + np.float32(k) * ulp for k in (0, 2, 1, 3)], np.float32)
    assert len(set(column.tolist())) == 4 and np.ptp(column) < 1e-6
    scores = np.stack([column, -column], axis=1)
    source = SimpleNamespace(image_ids=["a", "b", "c", "d"], class_names=["dog", "cat"])
    labels = np.array([0, 0, 1, 0])  # ranked by score: d b c a
    folder = write_voc_results(tmp_path, 2007, "test", source, scores)
    for index, name in enumerate(source.class_names):
        ids, written = read_server_file(folder / f"comp2_cls_test_{name}.txt")
        assert ids == source.image_ids
        np.testing.assert_array_equal(written.astype(np.float32), scores[:, index])
    ids, written = read_server_file(folder / "comp2_cls_test_dog.txt")
    for method in ("11point", "area"):
        assert voc_average_precision(written, labels, method=method) == voc_average_precision(
            scores[:, 0], labels, method=method
        )


def fit_svms_again_and_again(times, between=lambda: None):
    rng = np.random.default_rng(0)
    features = rng.normal(1, 1, (40, 64)).astype(np.float32)  # fewer images than dims: dual
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    targets = (rng.random((40, 8)) < 0.4).astype(int)
    first = fit_one_vs_rest(features, targets, c_values=[0.1, 10.0])
    between()
    for _ in range(times):
        again = fit_one_vs_rest(features, targets, c_values=[0.1, 10.0])
        assert again.c == first.c and again.validation == first.validation
        np.testing.assert_array_equal(again.weights, first.weights)
        np.testing.assert_array_equal(again.bias, first.bias)


def test_svm_training_is_reproducible():
    """The same features and recipe give the same SVMs, bit for bit (liblinear visits the
    images in a random order, which `fit_one_vs_rest` seeds)."""
    fit_svms_again_and_again(2)


@pytest.mark.slow  # starts worker processes
def test_svm_training_in_parallel_gives_the_same_svms(monkeypatch):
    """Classes fitted in parallel give the SVMs of a sequential fit: liblinear's generator is
    global to a process, which concurrent threads would share."""
    fit_svms_again_and_again(  # the first fit one class after the other, then in parallel
        2, lambda: monkeypatch.setattr(svm_module, "PARALLEL_MIN_VALUES", 0)
    )


@pytest.mark.slow  # two nets, features at two scales, SVMs for 20 classes x 5 values of C
def test_voc2007_end_to_end(models, tmp_path):
    root = make_tiny_voc(tmp_path / "voc", 2007)
    result = run_cli(
        "transfer", f"{RECIPES}/voc2007.yaml", *cli_sets(overrides(models, tmp_path, root))
    )
    assert result.exit_code == 0, result.output
    assert "| D & E |" in result.output and "89.7" in result.output  # the paper beside ours

    run = tmp_path / "run"
    results = json.loads((run / "results.json").read_text())
    assert set(results["rows"]) == {"D", "E", "D & E"}
    test = voc(root, 2007, "test")
    present = {"dog", "cat", "car", "person"}  # the test images' (non-difficult) classes
    for label, row in results["rows"].items():
        assert row["c"] in results["recipe"]["svm"]["c_values"]
        assert {name for name, ap in row["ap_11point"].items() if ap is not None} == present
        assert row["ap_11point"]["bird"] is None  # difficult-only: no AP, not in the mean
        # The server-format files hold the scores that gave the reported APs, every class.
        folder = Path(row["submission"])
        assert folder == run / label.replace(" & ", "+") / "results" / "VOC2007" / "Main"
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            f"comp2_cls_test_{name}.txt" for name in VOC_CLASSES
        )
        for method in ("11point", "area"):
            recomputed = {}
            for name in present:
                ids, scores = read_server_file(folder / f"comp2_cls_test_{name}.txt")
                assert ids == test.image_ids
                column = VOC_CLASSES.index(name)
                recomputed[name] = 100 * voc_average_precision(
                    scores, test.labels[:, column], test.difficult[:, column], method=method
                )
                assert row[f"ap_{method}"][name] == pytest.approx(recomputed[name], abs=1e-9)
            assert row[f"map_{method}"] == pytest.approx(np.mean(list(recomputed.values())))
    # Colour-coded classes are easy: even a random tiny VGG's descriptors separate them.
    print({label: round(row["map_11point"], 1) for label, row in results["rows"].items()})
    assert results["rows"]["D & E"]["map_11point"] > 80

    report = json.loads((run / "report.json").read_text())
    fused = next(row for row in report["rows"] if row["features"] == "D & E")
    assert fused["voc2007"]["paper"] == {"value": 89.7, "std": None}
    assert fused["voc2007"]["kvgg"]["value"] == pytest.approx(
        results["rows"]["D & E"]["map_11point"]
    )
    assert "VOC2007 11-point AP" in (run / "report.md").read_text()


def test_voc2012_writes_server_files_and_a_local_check(models, tmp_path):
    root = make_tiny_voc(tmp_path / "voc", 2012)
    test_ids = (root / "VOC2012" / "ImageSets" / "Main" / "test.txt").read_text().split()
    for image_id in test_ids:  # the public VOC2012 test set has no annotations
        (root / "VOC2012" / "Annotations" / f"{image_id}.xml").unlink()
    values = overrides(models, tmp_path, root, fuse=False) + [f"models={{D: {models['D']}}}"]
    result = run_cli("transfer", f"{RECIPES}/voc2012.yaml", *cli_sets(values))
    assert result.exit_code == 0, result.output

    results = json.loads((tmp_path / "run" / "results.json").read_text())
    row = results["rows"]["D"]
    assert "map_area" not in row  # test labels are the server's
    assert row["check"]["splits"] == "trained on train, scored on val"
    val = voc(root, 2012, "val")
    present = {VOC_CLASSES[c] for c in np.flatnonzero(((val.labels > 0) & ~val.difficult).any(0))}
    check_aps = {name: ap for name, ap in row["check"]["ap_area"].items() if ap is not None}
    assert set(check_aps) == present and all(0 < ap <= 100 for ap in check_aps.values())
    assert row["check"]["map_area"] == pytest.approx(np.mean(list(check_aps.values())))
    main_folder = tmp_path / "run" / "D" / "results" / "VOC2012" / "Main"
    lines = (main_folder / "comp2_cls_test_aeroplane.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == test_ids
    assert all(len(line.split()) == 2 and math.isfinite(float(line.split()[1]))
               for line in lines)  # fmt: skip
    entry = results["table"][0]
    assert entry["value"] == row["check"]["map_area"] and "val" in entry["metric"]


def make_tiny_caltech(root):
    """Caltech-101's real layout (102 folders of 31 JPEGs), each class with its own colour;
    three distinct pictures per class, repeated (the feature cache computes each once)."""
    folder = make_caltech(root, 101, per_class=31)
    for index, name in enumerate(sorted(p.name for p in folder.iterdir())):
        pictures = [class_image(index, 32, seed=seed) for seed in range(3)]
        for i, path in enumerate(sorted((folder / name).iterdir())):
            write_image(path, pictures[i % 3], format="JPEG")
    return root


@pytest.mark.slow  # 3 splits x 102 classes x 30 images: the real Caltech-101 protocol
def test_caltech101_end_to_end(models, tmp_path):
    root = make_tiny_caltech(tmp_path / "caltech")
    values = overrides(models, tmp_path, root, fuse=False)
    values += [f"models={{D: {models['D']}}}", "svm.c=1.0", "features.scales=[32]"]
    values += [f"data.split_dir={tmp_path / 'splits'}"]
    result = run_cli("transfer", f"{RECIPES}/caltech101.yaml", *cli_sets(values))
    assert result.exit_code == 0, result.output

    results = json.loads((tmp_path / "run" / "results.json").read_text())
    row = results["rows"]["D"]
    assert [split["seed"] for split in row["splits"]] == [0, 1, 2]
    recalls = [split["mean_class_recall"] for split in row["splits"]]
    assert row["mean_class_recall"] == pytest.approx(np.mean(recalls))
    assert row["std"] == pytest.approx(np.std(recalls, ddof=1))
    for split in row["splits"]:
        assert split["train_images"] == 102 * 30 and split["test_images"] == 102
        saved = json.loads(Path(split["split_file"]).read_text())
        assert sum(len(files) for files in saved["train"].values()) == 102 * 30
    # One colour per class: even a random tiny VGG's descriptors tell most classes apart.
    assert row["mean_class_recall"] > 50
    assert "91.8 +- 1.0" in result.output


def test_recipe_errors_name_the_key_and_line(models, tmp_path):
    recipe = f"{RECIPES}/voc2007.yaml"
    lines = Path(recipe).read_text().splitlines()
    line_of = {key: 1 + next(i for i, t in enumerate(lines) if t.strip().startswith(f"{key}:"))
               for key in ("root", "combine")}  # fmt: skip
    result = run_cli("transfer", recipe)  # the data is not on this machine
    assert result.exit_code == 2
    assert f"{recipe} line {line_of['root']}: data.root" in result.output
    assert "data/VOCdevkit" in result.output
    paths = [f"data.root={tmp_path}", f"models.D={models['D']}", f"models.E={models['E']}"]
    result = run_cli("transfer", recipe, *cli_sets([*paths, "features.scale=[256]"]))
    assert result.exit_code == 2
    assert "did you mean features.scales" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(recipe).read_text().replace("combine: average", "combine: median"))
    result = run_cli("transfer", bad, *cli_sets(paths))
    assert result.exit_code == 2
    assert (
        f"line {line_of['combine']}: features.combine" in result.output
        and "'median'" in result.output
    )


def test_shipped_recipes_follow_the_paper():
    for name, scales, combine in [
        ("voc2007", [256, 384, 512, 640, 768], "average"),
        ("voc2012", [256, 384, 512, 640, 768], "average"),
        ("caltech101", [256, 384, 512], "stack"),
        ("caltech256", [256, 384, 512], "stack"),
    ]:
        recipe = load(f"{RECIPES}/{name}.yaml", TransferRecipe, check_paths=False)
        assert recipe.data.dataset == name
        assert recipe.features.scales == scales and recipe.features.combine == combine
        assert recipe.features.flip and recipe.svm.holdout == 0.2
        assert recipe.fuse == ["D", "E"]


def test_features_command_writes_npz(models, tmp_path):
    root = make_tiny_voc(tmp_path / "voc", 2007, count=8)
    out = tmp_path / "f.npz"
    spec = f"voc:{root}?year=2007&split=test"
    result = run_cli(
        "features", models["D"], spec, "-o", out, "--scales", "32,40", "--combine", "stack",
        "--cache-dir", tmp_path / "cache",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    source = voc(root, 2007, "test")
    with np.load(out) as saved:
        assert saved["features"].shape == (len(source), 2 * 256)
        np.testing.assert_allclose(np.linalg.norm(saved["features"], axis=1), 1, rtol=1e-5)
        np.testing.assert_array_equal(saved["labels"], source.labels)
        assert saved["image_ids"].tolist() == source.image_ids
        assert saved["class_names"].tolist() == VOC_CLASSES
        settings = json.loads(str(saved["settings"]))
        assert settings["scales"] == [32, 40] and settings["combine"] == "stack"
    result = run_cli("features", models["D"], tmp_path / "nowhere", "-o", out)
    assert result.exit_code == 2 and "nowhere" in result.output


def test_a_model_set_to_null_is_left_out_with_its_fusion_row(models, tmp_path):
    # The command's help: `--set models.D=vgg16.keras --set models.E=null` runs D alone.
    recipe = f"{RECIPES}/caltech101.yaml"
    sets = [f"data.root={tmp_path}", f"models.D={models['D']}"]
    with pytest.raises(ValueError, match=r"models\.E is invalid: .*--set models\.KEY=null"):
        load(recipe, TransferRecipe, sets)
    loaded = load(recipe, TransferRecipe, [*sets, "models.E=null"])
    assert loaded.models == {"D": str(models["D"])} and loaded.fuse == []
    with pytest.raises(ValueError, match=r"models needs at least one model file"):
        load(recipe, TransferRecipe, [*sets, "models.E=null", "models.D=null"])
    help_text = CliRunner().invoke(main, ["transfer", "--help"]).output
    assert "--set models.D=vgg16.keras --set models.E=null" in help_text
