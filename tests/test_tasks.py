"""One training loop for every task: `fit` asks a `Task`, localisation is one built on
`kvgg.train`, both go through the same dataset path, and every model.keras they write
loads with a bare `keras.saving.load_model` in an interpreter that never imports kvgg."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kvgg.cli import main
from kvgg.io import read_info
from kvgg.localize.annotations import BoxSource
from kvgg.localize.data import box_train_dataset
from kvgg.train import fit, load_train_recipe
from kvgg.train.recipes import installed_tasks, task_for_recipe
from tests.data_fixtures import write_image
from tests.helpers import run_benchmark, run_python
from tests.test_imports import import_graph

ROOT = Path(__file__).resolve().parents[1]
LOCALIZATION = ROOT / "recipes" / "localization" / "vgg16_pcr_all_s384.yaml"
QUICKSTART = ROOT / "recipes" / "quickstart.yaml"
FILES = 14


def test_train_imports_nothing_from_localize():
    graph = import_graph()
    train = {name: edges for name, edges in graph.items() if name.startswith("kvgg.train")}
    offending = {
        (name, edge) for name, edges in train.items() for edge in edges if "localize" in edge
    }
    assert not offending
    # ... and localisation is built on kvgg.train, as transfer is on evaluate.
    assert "kvgg.train.task" in graph["kvgg.localize.task"]


def test_fit_has_no_task_specific_branch():
    """No task is named in fit's code (its docstrings may name the installed ones)."""
    tree = ast.parse((ROOT / "kvgg" / "train" / "fit.py").read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", 0), str):
            body[0] = ast.Pass()  # a docstring
    code = ast.unparse(tree).lower()  # without comments
    for word in ("localiz", "localis", "box", "top1", "top-1", "classif"):
        assert word not in code, word


def test_a_recipe_file_selects_its_task_by_its_section():
    plain = load_train_recipe(QUICKSTART)
    boxes = load_train_recipe(LOCALIZATION, check_paths=False)
    assert task_for_recipe(plain).name == "classification"
    assert task_for_recipe(boxes).name == "localisation"
    assert [task.name for task in installed_tasks()] == ["classification", "localisation"]
    # A localisation key given on the command line selects the task too.
    overridden = load_train_recipe(QUICKSTART, ["localization.regression=scr"])
    assert task_for_recipe(overridden).name == "localisation"


def test_a_clean_localisation_fit_warns_of_nothing(tmp_path):
    """Keras's "Your input ran out of data" came after every epoch of a file-based fit."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(
            LOCALIZATION,
            smoke=True,
            overrides=["run.val_steps=null", "schedule.epochs=2"],
            run_dir=tmp_path,
            echo=lambda line: None,
        )
    assert not [str(w.message) for w in caught if "ran out of data" in str(w.message)]


@pytest.mark.backend
def test_localisation_and_classification_runs_load_in_plain_keras(tmp_path):
    """Both tasks through the shared path (cache on, bfloat16 for one), each model.keras
    loaded with a bare load_model (compile state included) in a fresh interpreter."""
    loc = CliRunner().invoke(
        main,
        [
            "fit",
            str(LOCALIZATION),
            "--smoke",
            "--set",
            "data.cache=true",
            "--set",
            "run.precision=mixed_bfloat16",
            "--run-dir",
            str(tmp_path / "loc"),
        ],
    )
    assert loc.exit_code == 0, loc.output
    assert "Done after 1 epoch (schedule.epochs); best validation box accuracy" in loc.output
    assert "1 epochs" not in loc.output and "val_top1" not in loc.output
    header = (tmp_path / "loc" / "history.csv").read_text().splitlines()[0]
    assert header == "epoch,loss,box_accuracy,val_loss,val_box_accuracy,lr,seconds"
    info = read_info(tmp_path / "loc" / "model.keras")
    assert "val_top1" not in info and set(info["best"]) == {"val_box_accuracy"}

    result = fit(
        QUICKSTART,
        overrides=[
            "schedule.epochs=1",
            "run.steps_per_epoch=2",
            "run.val_steps=1",
            "data.cache=true",
        ],
        run_dir=tmp_path / "cls",
        echo=lambda line: None,
    )
    assert result.monitor == "val_top1" and result.best == result.history[0]["val_top1"]
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.save(tmp_path / "x.npy", images)
    out = run_python(
        """
        import sys, warnings, numpy as np, keras
        warnings.filterwarnings("error", message="Skipping variable loading")  # a stale state
        x = np.load("x.npy")
        for run in ("loc", "cls"):
            model = keras.saving.load_model(run + "/model.keras")  # compile state included
            y = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
            assert np.isfinite(y).all()
            print(run, model.compiled, y.shape)
        assert not any(name.startswith("kvgg") for name in sys.modules)
        """,
        backend=keras.backend.backend(),
        cwd=tmp_path,
    )
    assert out.split("\n")[:2] == ["loc False (2, 12)", "cls True (2, 10)"]


@pytest.fixture(scope="module")
def numbered_boxes(tmp_path_factory):
    """A box source whose i-th image is one flat grey, 8 + 17 i: its number, decoded."""
    root = tmp_path_factory.mktemp("numbered_boxes")
    paths = []
    for i in range(FILES):
        paths.append(root / f"{i:02d}.jpg")
        write_image(paths[-1], np.full((32, 32, 3), 8 + 17 * i, np.uint8), quality=100)
    boxes = [np.array([[4.0, 4.0, 28.0, 28.0]], "float32")] * FILES
    return BoxSource("numbered", ["a", "b"], [str(p) for p in paths], np.arange(FILES) % 2, boxes)


def _seen(source, shard, cache=False):
    data = box_train_dataset(
        source, batch_size=4, scale=32, crop=32, seed=3, shard=shard, cache=cache
    )
    greys = [image.mean() for images, _, _ in data.as_numpy_iterator() for image in images]
    return [int(round((grey - 8) / 17)) for grey in greys]


@pytest.mark.backend
@pytest.mark.parametrize("cache", [False, True])
def test_localisation_workers_decode_disjoint_shares(numbered_boxes, cache):
    first, second = _seen(numbered_boxes, (2, 0), cache), _seen(numbered_boxes, (2, 1), cache)
    assert len(first) == len(second) == FILES // 2
    assert not set(first) & set(second)
    assert sorted(first + second) == list(range(FILES))


def test_summary_of_a_recipe_builds_what_fit_builds():
    out = CliRunner().invoke(main, ["summary", "--config", str(QUICKSTART)])
    assert out.exit_code == 0, out.output
    assert "678,506" in out.output and "10 classes" in out.output
    loc = CliRunner().invoke(main, ["summary", "--config", str(LOCALIZATION), "--width", "0.0625"])
    assert loc.exit_code == 0, loc.output
    assert "1000 classes assumed" in loc.output and "boxes" in loc.output


@pytest.mark.slow
def test_the_localisation_step_benchmark_prints_its_ratios():
    stdout = run_benchmark("localize_train", "--quick")
    lines = [line for line in stdout.splitlines() if "ratio" in line]
    assert [line.split()[0] for line in lines] == ["data.cache=false", "data.cache=true"]
