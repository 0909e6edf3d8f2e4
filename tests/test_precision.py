"""Mixed precision and XLA: each precision trains, saves a float32 model that loads without
kvgg, resumes (also across precisions and after SIGKILL); float16 loss scaling survives an
overflow; evaluation computes in the precision asked for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import kvgg
from kvgg.cli import main
from kvgg.io import load_model, read_info
from kvgg.precision import (
    copy_optimizer_state,
    dtype_policy,
    float32_copy,
    resolve_jit_compile,
    training_optimizer,
    with_precision,
)
from kvgg.train import fit, init_from, load_train_recipe
from tests.helpers import random_images, run_python, tiny_model

QUICKSTART = Path(__file__).resolve().parent.parent / "recipes" / "quickstart.yaml"
TINY = [
    "model.width=0.0625",
    "model.fc_units=32",
    "optimizer.batch_size=32",
    "optimizer.lr=0.02",
    "run.steps_per_epoch=5",
    "run.val_steps=1",
]
SLOW = pytest.mark.slow  # float32 and float16 (emulated on CPU: ~40 s) runs; bf16 stays fast
COMPUTE_DTYPE = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def precision_fit(run_dir, precision, *extra, lines=None):
    echo = lines.append if lines is not None else (lambda line: None)
    overrides = [*TINY, f"run.precision={precision}", *extra]
    return fit(QUICKSTART, overrides=overrides, run_dir=run_dir, echo=echo)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("float32", marks=SLOW),
        "mixed_bfloat16",
        pytest.param("mixed_float16", marks=SLOW),
    ],
)
def trained(request, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp(request.param)
    lines = []
    result = precision_fit(run_dir, request.param, "schedule.epochs=3", lines=lines)
    return request.param, run_dir, result, lines


def test_each_precision_trains_with_falling_loss_in_16_bit_layers(trained):
    precision, _, result, lines = trained
    losses = [row["loss"] for row in result.history]
    assert len(losses) == 3 and all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    assert "XLA" not in lines[0]  # TensorFlow on CPU: XLA measured slower, so auto is off
    assert (f"per epoch, {precision}, one device" in lines[0]) == (precision != "float32")
    model = result.model
    assert model.get_layer("fc1").compute_dtype == COMPUTE_DTYPE[precision]
    assert model.get_layer("predictions").compute_dtype == "float32"  # the soft-max
    assert {w.dtype for w in model.weights} == {"float32"}  # variables stay float32
    optimizer = type(model.optimizer).__name__
    assert optimizer == ("LossScaleOptimizer" if precision == "mixed_float16" else "SGD")


@pytest.mark.slow  # a fresh interpreter; test_models.py keeps one fast check of plain loading
def test_saved_models_load_without_kvgg_and_predict_in_float32(trained):
    precision, run_dir, result, _ = trained
    images = random_images(4)
    np.save(run_dir / "images.npy", images)
    out = run_python(
        f"""
        import json, sys, keras, numpy as np
        images = np.load({str(run_dir / "images.npy")!r})
        report = {{}}
        for name in ("model.keras", "last.keras"):
            model = keras.saving.load_model({str(run_dir)!r} + "/" + name)
            outputs = keras.ops.convert_to_numpy(model(images, training=False))
            report[name] = {{"dtypes": sorted({{l.compute_dtype for l in model.layers}}),
                            "output": str(outputs.dtype), "probs": outputs.tolist()}}
        assert "kvgg" not in sys.modules
        print(json.dumps(report))
        """
    )
    report = json.loads(out.splitlines()[-1])
    assert report["model.keras"]["dtypes"] == ["float32"]  # whatever the training precision
    assert report["model.keras"]["output"] == report["last.keras"]["output"] == "float32"
    assert COMPUTE_DTYPE[precision] in report["last.keras"]["dtypes"]  # the training model
    # model.keras is the best epoch: with one improving epoch per run it may be older than
    # last.keras, so compare it with the float32 twin of itself, computed here
    best = load_model(run_dir / "model.keras")
    expected = keras.ops.convert_to_numpy(best(images, training=False))
    np.testing.assert_allclose(report["model.keras"]["probs"], expected, rtol=1e-5, atol=1e-6)
    mixed = keras.ops.convert_to_numpy(result.model(images, training=False))
    if read_info(run_dir / "model.keras")["epoch"] == len(result.history):
        np.testing.assert_allclose(report["model.keras"]["probs"], mixed, atol=2e-2)


def test_init_from_a_run_of_another_precision(trained, tmp_path):
    precision, run_dir, _, _ = trained
    other = "float32" if precision != "float32" else "mixed_bfloat16"
    saved = load_model(run_dir / "model.keras")
    with dtype_policy(other):
        model = kvgg.build("A", width=0.0625, fc_units=32, num_classes=10, input_shape=(32, 32, 3))
    copied = init_from(model, run_dir)
    assert "fc1" in copied and "predictions" in copied
    for layer in ("block1_conv1", "fc2", "predictions"):
        for mine, theirs in zip(
            model.get_layer(layer).get_weights(), saved.get_layer(layer).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(mine, theirs)


@SLOW  # two short trainings: tens of seconds on 2 cores
@pytest.mark.parametrize("resumed_in", ["float32", "mixed_float16"])
def test_resume_in_another_precision_carries_weights_and_sgd_state(resumed_in, tmp_path):
    run_dir = tmp_path / "run"
    started_in = "mixed_bfloat16" if resumed_in == "mixed_float16" else "mixed_float16"
    extra = ["schedule.epochs=1", "run.steps_per_epoch=2"]
    precision_fit(run_dir, started_in, *extra)
    before = load_model(run_dir / "last.keras", compile=True)
    lines = []
    result = precision_fit(run_dir, resumed_in, "schedule.epochs=2", extra[1], lines=lines)
    assert f"Resuming a {started_in} run in {resumed_in}: weights and SGD state" in lines[0]
    assert "from epoch 2" in lines[1] and result.epochs == 2
    after = load_model(run_dir / "last.keras", compile=True)
    # SGD's step count went on from the saved one: the state was carried, not restarted
    assert int(after.optimizer.iterations) == int(before.optimizer.iterations) + 2
    assert type(after.optimizer).__name__ == (
        "LossScaleOptimizer" if resumed_in == "mixed_float16" else "SGD"
    )


def test_copy_optimizer_state_moves_momenta_into_a_loss_scale_optimizer():
    models, optimizers = [], []
    for precision in ("float32", "mixed_float16"):
        with dtype_policy(precision):
            model = tiny_model()
        optimizer = training_optimizer(keras.optimizers.SGD(0.01, momentum=0.9), precision)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        models.append(model)
        optimizers.append(model.optimizer)
    images, labels = random_images(4), np.array([0, 1, 2, 3])
    models[0].train_on_batch(images, labels)
    optimizers[1].build(models[1].trainable_variables)
    copy_optimizer_state(optimizers[0], optimizers[1])
    saved = [keras.ops.convert_to_numpy(v) for v in optimizers[0].variables]
    copied = [keras.ops.convert_to_numpy(v) for v in optimizers[1].inner_optimizer.variables]
    assert any(np.abs(v).sum() > 0 for v in saved[2:])  # real momenta, not zeros
    for a, b in zip(saved, copied, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="do not train the same model"):
        other = keras.optimizers.SGD(0.01)
        other.build(models[0].trainable_variables[:2])
        copy_optimizer_state(optimizers[0], other)


@SLOW  # compiles a float16 training step (emulated on CPU)
def test_float16_loss_scaling_survives_an_overflow():
    # A loss scale of 2**40 makes the float16 gradients overflow to inf: each such step
    # must be skipped (weights untouched, still finite) and the scale halved, until the
    # scale fits and training goes on.
    with dtype_policy("mixed_float16"):
        model = tiny_model()
    optimizer = training_optimizer(keras.optimizers.SGD(0.01), "mixed_float16", 2.0**40)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    images, labels = random_images(8), np.arange(8) % 5
    start = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(images, labels)
    assert np.isfinite(loss)
    assert all(np.array_equal(a, b) for a, b in zip(start, model.get_weights(), strict=True))
    assert float(optimizer.dynamic_scale) == 2.0**39
    for _ in range(40):
        loss = model.train_on_batch(images, labels)
    assert np.isfinite(loss) and float(optimizer.dynamic_scale) < 2.0**20
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    assert not all(np.array_equal(a, b) for a, b in zip(start, weights, strict=True))


@pytest.mark.backend
def test_with_precision_keeps_weights_and_a_float32_softmax():
    model = tiny_model(classifier_activation="softmax")
    mixed = with_precision(model, "mixed_bfloat16")
    assert mixed.get_layer("block1_conv1").compute_dtype == "bfloat16"
    assert mixed.get_layer("predictions").compute_dtype == "float32"
    assert mixed.get_layer("image").dtype == "float32"
    for a, b in zip(model.get_weights(), mixed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    images = random_images(2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(mixed(images)),
        keras.ops.convert_to_numpy(model(images)),
        atol=3e-2,
    )
    assert float32_copy(model) is model and with_precision(mixed, "mixed_bfloat16") is mixed
    headless = tiny_model(include_top=False, pooling="avg")
    assert with_precision(headless, "mixed_float16").outputs[0].dtype == "float32"


def test_load_model_follows_a_mixed_global_policy(tmp_path):
    path = tmp_path / "m.keras"
    tiny_model().save(path)
    assert load_model(path).get_layer("fc1").compute_dtype == "float32"
    with dtype_policy("mixed_bfloat16"):
        model = load_model(path)
    assert model.get_layer("fc1").compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"  # restored


@SLOW  # a dense evaluation per precision
def test_evaluate_accepts_precision(trained, tmp_path):
    precision, run_dir, _, _ = trained
    runner = CliRunner()
    tops = {}
    for asked in ("float32", "mixed_bfloat16"):
        result = runner.invoke(
            main,
            [
                "evaluate",
                "--model",
                str(run_dir),
                "--data",
                "digits:test",
                "--scales",
                "32",
                "--no-flip",
                "-o",
                str(tmp_path / f"{asked}.json"),
                "--precision",
                asked,
            ],
        )
        assert result.exit_code == 0, result.output
        tops[asked] = json.loads((tmp_path / f"{asked}.json").read_text())
        assert keras.config.dtype_policy().name == "float32"  # restored after the command
    for key in ("top1_error", "top5_error"):  # bfloat16 rounding moves a few images at most
        assert tops["mixed_bfloat16"][key] == pytest.approx(tops["float32"][key], abs=0.05)
    bad = runner.invoke(
        main,
        ["evaluate", "--model", str(run_dir), "--data", "digits:test", "--precision", "float8"],
    )
    assert bad.exit_code == 2 and "precision must be one of" in bad.output


def test_recipes_check_precision_and_jit_compile():
    recipe = load_train_recipe(QUICKSTART, ["run.precision=mixed_bfloat16"])
    assert recipe.run.precision == "mixed_bfloat16"
    with pytest.raises(ValueError, match="run.precision must be one of"):
        load_train_recipe(QUICKSTART, ["run.precision=float8"])
    with pytest.raises(ValueError, match="run.jit_compile"):
        load_train_recipe(QUICKSTART, ["run.jit_compile=sometimes"])


def test_jit_compile_auto_picks_what_measured_best():
    assert resolve_jit_compile("auto", "tensorflow", "cpu") is False  # measured slower here
    assert resolve_jit_compile("auto", "tensorflow", "gpu") is True
    assert resolve_jit_compile("auto", "jax", "cpu") is True  # JAX without jit: op by op
    assert resolve_jit_compile("auto", "torch", "gpu") is False
    assert resolve_jit_compile(True, "tensorflow", "cpu") is True
    assert resolve_jit_compile(False, "jax", "gpu") is False
    with pytest.raises(ValueError, match="jit_compile must be auto, true or false"):
        resolve_jit_compile("xla")


@pytest.mark.slow  # two real `kvgg fit` processes per precision
@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_sigkill_mid_run_then_rerun_finishes_in_mixed_precision(precision, tmp_path):
    run_dir = tmp_path / "run"
    settings = [*TINY, f"run.precision={precision}", "schedule.epochs=5", "run.steps_per_epoch=4"]
    command = [sys.executable, "-m", "kvgg", "fit", str(QUICKSTART), "--run-dir", str(run_dir)]
    command += [arg for item in settings for arg in ("--set", item)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        history = run_dir / "history.csv"
        if history.exists() and len(history.read_text().splitlines()) >= 3:  # header + 2
            break
        time.sleep(0.2)
    assert process.poll() is None, process.stderr.read().decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = read_info(run_dir / "last.keras")["train_state"]["epoch"]
    assert 2 <= killed_at < 5

    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"from epoch {killed_at + 1}" in result.stdout and precision in result.stdout
    assert read_info(run_dir / "last.keras")["train_state"]["epoch"] == 5
    model = load_model(run_dir / "model.keras")
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
