"""Recipes: the typed YAML loader, the training recipe's checks, every recipe in the repo."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from click.testing import CliRunner

from kvgg.cli import main
from kvgg.recipe import ExistingPath, Invalid, load, to_yaml
from kvgg.train import TrainRecipe, load_train_recipe

RECIPES = Path(__file__).resolve().parent.parent / "recipes"

pytestmark = pytest.mark.backend


@dataclass
class Optim:
    lr: float = 0.01
    schedule: Literal["plateau", "constant"] = "plateau"


@dataclass
class Experiment:
    name: str
    optim: Optim = field(default_factory=Optim)
    sizes: tuple[int, int] = (1, 2)
    stats: ExistingPath | None = None

    def __post_init__(self):
        if self.sizes[0] > self.sizes[1]:
            raise Invalid("sizes", "must be increasing")


def write(tmp_path, text, name="recipe.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_nested_sections_defaults_and_yaml_exponents(tmp_path):
    path = write(tmp_path, "name: a\noptim:\n  lr: 5e-4\nsizes: [3, 4]\n")
    experiment = load(path, Experiment)
    assert experiment == Experiment("a", Optim(lr=5e-4), (3, 4))


def test_unknown_key_names_key_line_and_the_closest_known_key(tmp_path):
    path = write(tmp_path, "name: a\noptim:\n  lr: 0.1\n  shedule: constant\n")
    with pytest.raises(ValueError) as error:
        load(path, Experiment)
    message = str(error.value)
    assert f"{path} line 4" in message
    assert "optim.shedule is not a known key (did you mean optim.schedule?)" in message
    assert "Received: optim.shedule='constant'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: a\noptim:\n  lr: fast\n",
            "line 3: optim.lr must be a number. Received: optim.lr='fast'",
        ),
        (
            "name: a\noptim:\n  schedule: cosine\n",
            "optim.schedule must be one of 'plateau', 'constant'",
        ),
        ("name: a\nsizes: [1, 2, 3]\n", "line 2: sizes must be a list of 2 values"),
        ("name: a\nsizes: [5, 2]\n", "line 2: sizes must be increasing. Received: sizes=[5, 2]"),
        ("optim: {lr: 0.1}\n", "name is required but missing"),
        ("name: a\nname: b\n", "line 2: key 'name' is given twice"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_values_are_errors_naming_key_value_and_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as error:
        load(path, Experiment)
    assert expected in str(error.value)


def test_overrides_apply_and_their_errors_name_the_override(tmp_path):
    path = write(tmp_path, "name: a\n")
    experiment = load(path, Experiment, ["optim.lr=1e-3", "sizes=[2, 8]"])
    assert experiment.optim.lr == 1e-3 and experiment.sizes == (2, 8)
    with pytest.raises(ValueError, match=r"--set optim.momentum=0.9: optim.momentum is not a"):
        load(path, Experiment, ["optim.momentum=0.9"])
    with pytest.raises(ValueError, match="Overrides are written key.sub=value"):
        load(path, Experiment, ["optim.lr"])


def test_missing_paths_are_errors_unless_paths_are_not_checked(tmp_path):
    path = write(tmp_path, "name: a\nstats: nowhere/stats.json\n")
    with pytest.raises(ValueError, match="line 2: stats is invalid: no such file or directory"):
        load(path, Experiment)
    assert load(path, Experiment, check_paths=False).stats == "nowhere/stats.json"
    (tmp_path / "stats.json").write_text("{}")
    assert load(path, Experiment, [f"stats={tmp_path / 'stats.json'}"]).stats


def test_to_yaml_round_trips(tmp_path):
    recipe = load_train_recipe(RECIPES / "vgg16_s256_512.yaml", check_paths=False)
    again = load(write(tmp_path, to_yaml(recipe)), TrainRecipe, check_paths=False)
    assert again == recipe
    assert again.data.scale == (256, 512)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.scale=[512, 256]", "data.scale must be [S_min, S_max] with S_min <= S_max"),
        ("data.crop=300", "data.crop must not exceed the (smallest) training scale S = 256"),
        ("model.config=F", "model.config is not a configuration of Table 1"),
        ("run.distribute=horovod", "run.distribute must be one of"),
        ("schedule.factor=2", "schedule.factor must be in (0, 1)"),
        ("optimizer.batch_size=0", "optimizer.batch_size must be a positive integer"),
    ],
)
def test_training_recipe_rejects_impossible_values(override, expected):
    with pytest.raises(ValueError) as error:
        load_train_recipe(RECIPES / "vgg16_s256.yaml", [override], check_paths=False)
    assert expected in str(error.value)
    assert f"--set {override}" in str(error.value)


def test_training_recipe_points_at_the_line_of_a_missing_parent_run(tmp_path):
    with pytest.raises(ValueError) as error:
        load_train_recipe(RECIPES / "vgg16_s384.yaml")
    assert "vgg16_s384.yaml line 14: model.init_from is invalid: no such file" in str(error.value)


def test_table3_chain_is_explicit():
    """Deeper S=256 nets start from net A; S=384 from S=256; [256, 512] from S=384 (lr 1e-3)."""
    for config in ("vgg13", "vgg16_conv1", "vgg16", "vgg19"):
        recipe = load_train_recipe(RECIPES / f"{config}_s256.yaml", check_paths=False)
        assert recipe.model.warm_start == "runs/vgg11_s256"
    for config in ("vgg16_conv1", "vgg16", "vgg19"):
        s384 = load_train_recipe(RECIPES / f"{config}_s384.yaml", check_paths=False)
        jitter = load_train_recipe(RECIPES / f"{config}_s256_512.yaml", check_paths=False)
        assert s384.model.init_from == f"runs/{config}_s256" and s384.optimizer.lr == 1e-3
        assert jitter.model.init_from == f"runs/{config}_s384" and jitter.data.scale == (256, 512)


def test_cli_recipe_show_prints_the_resolved_recipe():
    result = CliRunner().invoke(
        main, ["recipe", "show", str(RECIPES / "quickstart.yaml"), "--set", "optimizer.lr=0.5"]
    )
    assert result.exit_code == 0, result.output
    assert "lr: 0.5" in result.output and "momentum: 0.9" in result.output


def test_cli_bad_recipe_exits_2_with_one_line_and_writes_nothing(tmp_path):
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "fit",
            str(RECIPES / "quickstart.yaml"),
            "--set",
            "data.scale=[40, 32]",
            "--run-dir",
            str(run_dir),
        ],
    )
    assert result.exit_code == 2
    assert "quickstart.yaml" in result.output and "data.scale" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not run_dir.exists()


def test_a_huge_smoke_section_is_checked_in_one_pass(tmp_path):
    # 50,000 smoke keys: checked (a typo fails early) in linear time; the overrides used to
    # rescan every key already set, quadratic (10k keys 28 s, 50k over ten minutes).
    keys = "\n".join(f"  run.note{i}: {i}" for i in range(50_000))
    path = write(tmp_path, f"name: big\nsmoke:\n{keys}\n")
    with pytest.raises(ValueError, match=r"run\.note0 is not a known key"):
        load_train_recipe(path)


def test_a_smoke_key_that_is_not_a_string_is_named(tmp_path):
    path = write(tmp_path, "name: odd\nsmoke:\n  1: 2\n")
    for smoke in (False, True):
        with pytest.raises(ValueError, match=r"line 3: smoke\.1 .*keys must be strings"):
            load_train_recipe(path, smoke=smoke)


def test_a_huge_list_gives_a_short_error_saying_what_list_is_wanted(tmp_path):
    values = ", ".join(["32"] * 200_000)
    path = write(tmp_path, f"name: long\ndata:\n  scale: [{values}]\n")
    with pytest.raises(ValueError) as info:
        load_train_recipe(path)
    message = str(info.value)
    assert len(message) < 400 and "\n" not in message, message[:400]
    assert "line 3: data.scale must be an integer or a list of 2 values" in message
    assert "200,000 values" in message


def test_recipe_show_checks_the_data_source_options_as_fit_does(tmp_path):
    path = write(
        tmp_path, "name: src\ndata:\n  train: {kind: folder, path: images, colour: blue}\n"
    )
    result = CliRunner().invoke(main, ["recipe", "show", str(path)])
    assert result.exit_code == 2, result.output
    assert "data.train" in result.output and "Unknown option 'colour'" in result.output
    fit = CliRunner().invoke(main, ["fit", str(path)])
    assert fit.exit_code == 2 and "Unknown option 'colour'" in fit.output, fit.output
    fine = write(tmp_path, "name: ok\ndata:\n  train: {kind: folder, path: absent}\n", "ok.yaml")
    assert CliRunner().invoke(main, ["recipe", "show", str(fine)]).exit_code == 0
