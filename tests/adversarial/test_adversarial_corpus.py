"""The whole hand-made corpus through the command line (slow: one CLI run per case)."""

from __future__ import annotations

import pytest

from tests.adversarial import corpus
from tests.adversarial.oracle import ACCEPTED, CLEAN_ERROR, Tally, invoke
from tests.data_fixtures import class_image, make_image_folder, write_image
from tests.helpers import tiny_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from kvgg.io import save_model

    root = tmp_path_factory.mktemp("corpus")
    classes = ("cat", "dog", "fish")
    model = save_model(
        tiny_model(num_classes=3), root / "m.keras", class_names=classes, info={"scale": 32}
    )
    folder = make_image_folder(root / "images", classes, per_class=1)
    image = write_image(root / "one.jpg", class_image(0, 40))
    return {"root": root, "model": model, "folder": folder, "image": image}


def _report(tally):
    print(tally.line())
    assert not tally.failures, [(case, why, detail[:300]) for case, why, detail in tally.failures]


def test_every_hostile_recipe_is_accepted_or_a_clean_error(tmp_path):
    tally = Tally("hostile recipes")
    for kind in corpus.BAD_RECIPES:
        outcome, result = invoke(["recipe", "show", corpus.write_bad_recipe(tmp_path, kind)])
        tally.add(kind, outcome, result.output + repr(result.exception))
    _report(tally)
    assert tally.counts[CLEAN_ERROR] > len(corpus.BAD_RECIPES) / 2


@pytest.mark.slow
def test_a_10_mb_recipe_loads(tmp_path):
    from kvgg.train import load_train_recipe

    path = corpus.write_big_recipe(tmp_path / "big.yaml", megabytes=10)
    recipe = load_train_recipe(path, check_paths=False)
    assert len(recipe.data.train["classes"]) > 400_000


@pytest.mark.slow
def test_every_hostile_command_line_is_a_clean_error(files, tmp_path):
    tally = Tally("hostile command lines")
    cases = corpus.cli_cases(files["model"], files["folder"], files["image"], tmp_path)
    for name, args in cases.items():
        outcome, result = invoke(args)
        if outcome == ACCEPTED:
            outcome = "accepted (should be refused)"
        tally.add(name, outcome, result.output + repr(result.exception))
    _report(tally)


@pytest.mark.slow
def test_every_damaged_model_file_is_a_clean_error_in_every_command(files, tmp_path):
    tally = Tally("damaged model files")
    for kind, path in corpus.make_bad_model_files(tmp_path, files["model"]).items():
        for args in (
            ["predict", "--model", path, files["image"], "--scales", "32"],
            ["evaluate", "--model", path, "--data", files["folder"], "--scales", "32"],
            ["surgery", "fcn", "--model", path, "-o", tmp_path / "fcn.keras"],
        ):
            if path.name.endswith(".weights.h5"):
                args = ["fit", _recipe_initialised_from(tmp_path, path, files["folder"])]
            outcome, result = invoke(args)
            tally.add(f"{kind}: {args[0]}", outcome, result.output + repr(result.exception))
            assert outcome != ACCEPTED, (kind, args)
    _report(tally)


def _recipe_initialised_from(folder, weights, images):
    path = folder / f"init_{weights.stem}.yaml"
    path.write_text(
        f"name: init\nmodel: {{config: A, width: 0.0625, fc_units: 8, init_from: {weights}}}\n"
        f"data: {{train: {images}, val: {images}, scale: 32, crop: 32}}\n"
        f"run: {{dir: {folder / 'run'}}}\n"
    )
    return path
