"""The localisation recipes validate, quote the paper, and smoke-run through `kvgg fit`."""

from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kvgg.cli import main
from kvgg.train import load_train_recipe
from kvgg.train.run_dir import read_history

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "localization"
EXPECTED = {  # name: (regression, fine-tuned layers, S, a number the comment must quote)
    "vgg16_scr_fc_s384": ("scr", "fc", 384, "36.4"),
    "vgg16_pcr_fc_s384": ("pcr", "fc", 384, "34.3"),
    "vgg16_pcr_all_s384": ("pcr", "all", 384, "33.1"),
    "vgg16_pcr_all_s256": ("pcr", "all", 256, "29.5"),
}


def test_the_four_recipes_of_tables_8_and_9_are_there():
    assert sorted(p.stem for p in RECIPES.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_localisation_recipe_validates_and_follows_the_paper(name):
    path = RECIPES / f"{name}.yaml"
    text = path.read_text()
    assert text.startswith(f"# kvgg fit recipes/localization/{name}.yaml")
    regression, fine_tune, scale, number = EXPECTED[name]
    assert f"{number} %" in text
    recipe = load_train_recipe(path, check_paths=False)
    assert recipe.name == name and recipe.localization is not None
    assert (recipe.localization.regression, recipe.localization.fine_tune) == (
        regression,
        fine_tune,
    )
    assert recipe.data.scale == scale and recipe.optimizer.lr == 1e-3
    assert recipe.model.init_from == f"runs/vgg16_s{scale}"  # the classifier at the same S
    smoke = load_train_recipe(path, smoke=True)
    assert smoke.data.crop == 32 and smoke.schedule.epochs == 1


def test_bad_localisation_setting_is_named_with_its_line():
    with pytest.raises(ValueError, match="--set localization.regression=box: localization.regr"):
        load_train_recipe(
            RECIPES / "vgg16_pcr_all_s384.yaml", ["localization.regression=box"], check_paths=False
        )


def test_smoke_run_trains_a_box_regressor_from_a_classification_run(tmp_path):
    """`kvgg fit` on a localisation recipe: init from a classifier, random box layer, box loss,
    run directory with history, checkpoints and a plot; a second call resumes."""
    import kvgg
    from kvgg.io import save_model

    parent = kvgg.build("D", width=1 / 16, num_classes=3, input_shape=(32, 32, 3))
    save_model(parent, tmp_path / "parent.keras", class_names=["blue", "green", "red"])
    run_dir = tmp_path / "run"
    args = [
        "fit",
        str(RECIPES / "vgg16_pcr_fc_s384.yaml"),
        "--smoke",
        "--set",
        f"model.init_from={tmp_path / 'parent.keras'}",
        "--run-dir",
        str(run_dir),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "box accuracy" in result.output and "best validation box accuracy" in result.output
    history = read_history(run_dir)
    assert len(history) == 1 and "val_box_accuracy" in history[0]
    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    assert model.output_shape == (None, 12)  # PCR: 4 x 3 classes
    # Only FC-1/FC-2 and the box layer were trained: the convolutions are the parent's.
    np.testing.assert_array_equal(
        model.get_layer("block1_conv1").get_weights()[0],
        parent.get_layer("block1_conv1").get_weights()[0],
    )
    assert not np.array_equal(
        model.get_layer("fc1").get_weights()[0], parent.get_layer("fc1").get_weights()[0]
    )
    plot = CliRunner().invoke(main, ["plot", str(run_dir)])
    assert plot.exit_code == 0, plot.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "nothing to do" in again.output


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_localisation_recipe_smoke_runs(name, tmp_path):
    result = CliRunner().invoke(
        main, ["fit", str(RECIPES / f"{name}.yaml"), "--smoke", "--run-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model.keras").is_file()
