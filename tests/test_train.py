"""Training: fit into a run directory, resume (also after SIGKILL), NaN stop, schedule, init."""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import kvgg
from kvgg.cli import main
from kvgg.io import load_model, read_info
from kvgg.train import (
    PlateauSchedule,
    PlateauState,
    ScheduleConfig,
    TrainingDiverged,
    fit,
    init_from,
    warm_start,
)
from tests.helpers import tiny_model

QUICKSTART = Path(__file__).resolve().parent.parent / "recipes" / "quickstart.yaml"
TINY = [
    "model.width=0.0625",
    "model.fc_units=16",
    "optimizer.batch_size=16",
    "run.steps_per_epoch=3",
    "run.val_steps=2",
]


def tiny_fit(run_dir, *extra, lines=None):
    echo = lines.append if lines is not None else (lambda line: None)
    return fit(QUICKSTART, overrides=[*TINY, *extra], run_dir=run_dir, echo=echo)


def copy_of(run_dir, tmp_path):
    """A copy of a finished run, for tests that go on training it or must not change it."""
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def history_rows(run_dir):
    with open(Path(run_dir) / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    lines = []
    result = tiny_fit(run_dir, "schedule.epochs=2", lines=lines)
    return run_dir, result, lines


@pytest.mark.backend
def test_fit_writes_a_complete_run_directory(finished_run):
    run_dir, result, lines = finished_run
    names = {p.name for p in run_dir.iterdir()}
    assert {"recipe.yaml", "model.keras", "last.keras", "history.csv", "env.json"} <= names
    assert not [name for name in names if "partial" in name]
    assert result.epochs == 2 and result.stop_reason == "epochs"
    rows = history_rows(run_dir)
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert {"loss", "top1", "top5", "val_loss", "val_top1", "val_top5", "lr"} <= set(rows[0])
    assert float(rows[0]["lr"]) == pytest.approx(0.01)
    model = load_model(run_dir / "model.keras")
    assert model.output_shape == (None, 10)
    assert read_info(run_dir / "model.keras")["class_names"] == [str(d) for d in range(10)]
    assert "epoch   2/2" in "\n".join(lines) and "top-5" in lines[-2] and "lr 1e-02" in lines[-2]
    assert "epochs" in (run_dir / "recipe.yaml").read_text()


def test_fit_writes_tensorboard_logs_when_tensorboard_is_installed(finished_run):
    run_dir, _, lines = finished_run
    events = list(run_dir.rglob("events.out.tfevents.*"))
    if importlib.util.find_spec("tensorboard") is None:
        assert any("TensorBoard logs skipped" in line for line in lines) and not events
    else:
        assert events and events[0].is_relative_to(run_dir / "tensorboard")


def test_fit_without_tensorboard_says_so_and_trains(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` fails
    lines = []
    result = tiny_fit(tmp_path, "schedule.epochs=1", "run.steps_per_epoch=1", lines=lines)
    assert "TensorBoard logs skipped: `pip install tensorboard`" in "\n".join(lines)
    assert result.epochs == 1 and not (tmp_path / "tensorboard").exists()
    assert (tmp_path / "model.keras").is_file()


@pytest.mark.backend
def test_rerunning_a_finished_run_trains_nothing(finished_run):
    run_dir, _, _ = finished_run
    before = (run_dir / "last.keras").stat().st_mtime_ns
    lines = []
    result = tiny_fit(run_dir, "schedule.epochs=2", lines=lines)
    assert "already finished after 2 epochs" in lines[0]
    assert result.epochs == 2
    assert (run_dir / "last.keras").stat().st_mtime_ns == before


@pytest.mark.backend
def test_resume_continues_from_the_last_epoch_with_optimizer_state(finished_run, tmp_path):
    run_dir = copy_of(finished_run[0], tmp_path)
    lines = []
    result = tiny_fit(run_dir, "schedule.epochs=3", lines=lines)
    assert "from epoch 3" in lines[0]
    assert [int(row["epoch"]) for row in history_rows(run_dir)] == [1, 2, 3]
    assert result.epochs == 3
    resumed = keras.saving.load_model(run_dir / "last.keras", compile=True)
    assert int(resumed.optimizer.iterations) == 3 * 3  # steps of all three epochs


def test_resume_refuses_a_different_model(finished_run, tmp_path):
    run_dir = copy_of(finished_run[0], tmp_path)
    before = {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()}
    with pytest.raises(ValueError, match=r"different model settings \(model.config\)"):
        tiny_fit(run_dir, "schedule.epochs=3", "model.config=B")
    assert {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()} == before


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_epoch(finished_run, tmp_path):
    run_dir = copy_of(finished_run[0], tmp_path)
    good = (run_dir / "last.keras").read_bytes()
    with pytest.raises(TrainingDiverged, match=r"NaN or infinite at epoch 3, batch \d+") as error:
        tiny_fit(run_dir, "schedule.epochs=4", "optimizer.lr=1e12")
    assert "epoch 2 in" in str(error.value) and "is intact" in str(error.value)
    assert (run_dir / "last.keras").read_bytes() == good
    assert read_info(run_dir / "last.keras")["train_state"]["epoch"] == 2
    assert len(history_rows(run_dir)) == 2
    load_model(run_dir / "last.keras")


@pytest.mark.slow  # two real `kvgg fit` processes
def test_sigkill_mid_run_then_rerun_finishes_with_every_epoch(tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "kvgg",
        "fit",
        str(QUICKSTART),
        *[
            arg
            for item in [*TINY, "schedule.epochs=6", "run.steps_per_epoch=8"]
            for arg in ("--set", item)
        ],
        "--run-dir",
        str(run_dir),
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if (run_dir / "history.csv").exists() and len(history_rows(run_dir)) >= 2:
            break
        time.sleep(0.2)
    assert process.poll() is None, process.stderr.read().decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = len(history_rows(run_dir))
    assert 2 <= killed_at < 6

    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"from epoch {killed_at + 1}" in result.stdout
    assert [int(row["epoch"]) for row in history_rows(run_dir)] == [1, 2, 3, 4, 5, 6]
    assert load_model(run_dir / "model.keras").output_shape == (None, 10)
    assert read_info(run_dir / "last.keras")["train_state"]["epoch"] == 6


@pytest.mark.backend
def test_plateau_schedule_divides_the_lr_then_stops():
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    schedule = PlateauSchedule(ScheduleConfig(patience=2, max_reductions=2), initial_lr=0.01)
    schedule.set_model(model)
    accuracies = [0.1, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3]
    lrs = []
    for epoch, accuracy in enumerate(accuracies):
        schedule.on_epoch_begin(epoch)
        logs = {"val_top1": accuracy}
        schedule.on_epoch_end(epoch, logs)
        lrs.append(logs["lr"])
        if model.stop_training:
            break
    assert lrs == pytest.approx([0.01, 0.01, 0.01, 0.01, 1e-3, 1e-3, 1e-3, 1e-4, 1e-4])
    assert model.stop_training and schedule.state.finished and schedule.state.reductions == 2
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
    assert PlateauState.from_dict(schedule.state.to_dict()) == schedule.state


@pytest.mark.backend
def test_warm_start_copies_net_a_first_four_convs_and_fc_layers():
    net_a = tiny_model("A", input_shape=(32, 32, 3))
    net_d = tiny_model("D", input_shape=(32, 32, 3))
    untouched = net_d.get_layer("block1_conv2").get_weights()[0].copy()
    copied = warm_start(net_d, source=net_a)
    assert copied == [
        "block1_conv1",
        "block2_conv1",
        "block3_conv1",
        "block3_conv2",
        "fc1",
        "fc2",
        "predictions",
    ]
    for name in copied:
        for ours, theirs in zip(
            net_d.get_layer(name).get_weights(), net_a.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(net_d.get_layer("block1_conv2").get_weights()[0], untouched)


def test_warm_start_shape_mismatch_is_an_error_and_copies_nothing():
    net_a = tiny_model("A", width=1 / 8)
    net_e = tiny_model("E")
    before = net_e.get_layer("block1_conv1").get_weights()[0].copy()
    with pytest.raises(ValueError, match="Layer 'block1_conv1' differs in shape"):
        warm_start(net_e, source=net_a)
    np.testing.assert_array_equal(net_e.get_layer("block1_conv1").get_weights()[0], before)


def test_init_from_keras_file_by_name_and_weights_h5(tmp_path):
    parent = tiny_model("D")
    kvgg.io.save_model(parent, tmp_path / "parent.keras")
    parent.save_weights(tmp_path / "parent.weights.h5")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(parent(images))
    for source in (tmp_path / "parent.keras", tmp_path, tmp_path / "parent.weights.h5"):
        if source == tmp_path:
            (tmp_path / "parent.keras").rename(tmp_path / "model.keras")
        child = tiny_model("D")
        assert "fc1" in init_from(child, source)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(child(images)), expected, rtol=1e-5)


def test_fit_with_warm_start_reports_the_copied_layers(tmp_path, finished_run):
    run_dir, _, _ = finished_run
    lines = []
    tiny_fit(
        tmp_path,
        "schedule.epochs=1",
        "run.steps_per_epoch=1",
        "run.val_steps=1",
        "model.config=B",
        f"model.warm_start={run_dir}",
        lines=lines,
    )
    assert any("Warm start from" in line and "block3_conv2, fc1, fc2" in line for line in lines)


def test_kvgg_plot_writes_png_curves(finished_run, tmp_path):
    run_dir, _, _ = finished_run
    output = tmp_path / "curves.png"
    result = CliRunner().invoke(main, ["plot", str(run_dir), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and output.stat().st_size > 10_000
    missing = CliRunner().invoke(main, ["plot", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "No history.csv" in missing.output


def test_plot_that_fails_part_way_keeps_the_old_png_and_leaves_no_partial(tmp_path, monkeypatch):
    import matplotlib.figure

    from kvgg.train import plot_run

    columns = ["epoch", "loss", "top1", "val_loss", "val_top1", "lr", "seconds"]
    rows = [",".join(columns)] + [
        ",".join(str(epoch if key == "epoch" else 0.5) for key in columns) for epoch in (1, 2)
    ]
    (tmp_path / "history.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "curves.png").write_bytes(b"the previous plot")

    def savefig_then_fail(figure, path, **kwargs):
        Path(path).write_bytes(b"half a png")
        raise OSError("No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig_then_fail)
    with pytest.raises(OSError, match="No space left"):
        plot_run(tmp_path)
    assert (tmp_path / "curves.png").read_bytes() == b"the previous plot"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "history.csv"]


@pytest.mark.parametrize(
    "recipe",
    ["vgg11_lrn_s256", "vgg16_s256_512", pytest.param("vgg16_bn_cifar100", marks=pytest.mark.slow)],
)
def test_paper_recipes_run_their_smoke_setting(tmp_path, recipe):
    path = QUICKSTART.parent / f"{recipe}.yaml"
    result = CliRunner().invoke(main, ["fit", str(path), "--smoke", "--run-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert len(history_rows(tmp_path)) == 1
    assert load_model(tmp_path / "model.keras").output_shape == (None, 10)


def test_resuming_from_a_damaged_last_checkpoint_names_it_in_one_line(finished_run, tmp_path):
    # A flipped byte inside last.keras' weights (a bad sector, a torn copy): its CRC fails.
    run_dir = copy_of(finished_run[0], tmp_path)
    last = run_dir / "last.keras"
    with zipfile.ZipFile(last) as archive:
        member = archive.getinfo("model.weights.h5")
    data = bytearray(last.read_bytes())
    start = member.header_offset + 30 + len(member.filename.encode()) + len(member.extra)
    data[start + member.compress_size // 2] ^= 0xFF
    last.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"last\.keras.*damaged.*model\.weights\.h5") as info:
        tiny_fit(run_dir, "schedule.epochs=3")
    assert "\n" not in str(info.value)
