"""Every YAML file under recipes/ (all folders) validates with the loader its header names."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kvgg.cli import main
from kvgg.io import load_model
from kvgg.models import get_config
from kvgg.recipe import load
from kvgg.train import load_train_recipe
from kvgg.transfer.recipe import TransferRecipe

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
ALL = sorted(RECIPES.rglob("*.yaml"))


def _command(path: Path) -> str:
    """The `kvgg COMMAND` of the recipe's first line, ``# kvgg COMMAND recipes/...``."""
    first = path.read_text().splitlines()[0].split()
    assert first[:2] == ["#", "kvgg"] and first[3] == str(path.relative_to(RECIPES.parent)), (
        f"{path} must start with the command that runs it: # kvgg COMMAND {path.name}"
    )
    return first[2]


def _validate_fit(path: Path) -> None:
    recipe = load_train_recipe(path, check_paths=False)
    assert recipe.name == path.stem
    smoke = load_train_recipe(path, smoke=True)  # the smoke setting needs no external files
    assert smoke.data.crop == 32 and smoke.schedule.epochs == 1


def _validate_transfer(path: Path) -> None:
    recipe = load(path, TransferRecipe, check_paths=False)
    assert recipe.name == path.stem


LOADERS = {"fit": _validate_fit, "transfer": _validate_transfer}


def test_recipes_are_found_in_every_folder():
    folders = {path.parent.name for path in ALL}
    assert {"recipes", "transfer", "ablation"} <= folders
    assert {"vgg16.yaml", "vgg19.yaml", "b_5x5.yaml", "voc2012_action.yaml"} <= {
        path.name for path in ALL
    }


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(RECIPES)))
def test_every_recipe_validates_with_its_loader(path):
    command = _command(path)
    assert command in LOADERS, f"{path}: no loader for `kvgg {command}` recipes"
    LOADERS[command](path)


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_one_command_recipes_train_from_scratch_at_jittered_scales(name):
    recipe = load_train_recipe(RECIPES / f"{name}.yaml", check_paths=False)
    assert recipe.model.config == {"vgg16": "D", "vgg19": "E"}[name]
    assert recipe.model.warm_start is None and recipe.model.init_from is None
    assert recipe.model.init == "glorot_uniform" and recipe.optimizer.lr == 1e-2
    assert recipe.data.scale == (256, 512) and recipe.data.eval_scale == 384
    assert recipe.schedule.epochs == 74 and recipe.schedule.max_reductions == 3
    header = (RECIPES / f"{name}.yaml").read_text().split("\nname:")[0]
    assert "24.8 / 7.5" in header and "_s256.yaml -> _s384 -> _s256_512" in header


def test_cli_recipe_show_vgg16():
    result = CliRunner().invoke(main, ["recipe", "show", str(RECIPES / "vgg16.yaml")])
    assert result.exit_code == 0, result.output
    assert "config: D" in result.output and "val_scale: 384" in result.output
    assert "lr: 0.01" in result.output and "warm_start: null" in result.output


@pytest.mark.slow
def test_cli_fit_vgg16_smoke(tmp_path):
    result = CliRunner().invoke(
        main, ["fit", str(RECIPES / "vgg16.yaml"), "--smoke", "--run-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "Training vgg16" in result.output
    assert load_model(tmp_path / "model.keras").output_shape == (None, 10)


def test_ablation_recipe_is_b_with_each_pair_of_3x3_replaced_by_one_5x5():
    recipe = load_train_recipe(RECIPES / "ablation" / "b_5x5.yaml", check_paths=False)
    custom, b = recipe.model.vgg_config, get_config("B")
    assert all(len(pair) == 2 for pair in b.kernels)  # B: a pair of 3x3 convs per block
    assert custom.kernels == ((5,),) * 5 and custom.filters == b.filters
    assert custom.weight_layers == b.weight_layers - 5


def test_cli_summary_of_the_ablation_recipe():
    result = CliRunner().invoke(
        main,
        [
            "summary",
            "--config",
            str(RECIPES / "ablation" / "b_5x5.yaml"),
            "--width",
            "0.0625",
            "--image-size",
            "32",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines() if line}
    assert rows["block1_conv1"][1:3] == ["32x32x4", "304"]  # 5*5*3*4 weights + 4 biases
    assert "block1_conv2" not in rows and "block5_conv1" in rows


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        ("[[[5, 64], [3, 32]]]", "model.stages is invalid: the convolutions of a stage share"),
        ("[[]]", "model.stages is invalid: every stage needs at least one"),
        ("[[[5, 0]]]", "model.stages is invalid: a convolution is a (kernel, filters) pair"),
        ("[[[5]]]", "model.stages[0][0] must be a list of 2 values"),
    ],
)
def test_bad_custom_stages_are_named(stages, expected):
    with pytest.raises(ValueError) as error:
        load_train_recipe(
            RECIPES / "ablation" / "b_5x5.yaml", [f"model.stages={stages}"], check_paths=False
        )
    assert expected in str(error.value) and "b_5x5.yaml" in str(error.value)


def test_unknown_config_without_stages_points_at_stages():
    with pytest.raises(ValueError, match="give model.stages for another one"):
        load_train_recipe(RECIPES / "vgg16.yaml", ["model.config=B-5x5"], check_paths=False)
