"""The `kvgg` command line: start-up speed and quiet, one option vocabulary, re-runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kvgg.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "recipes" / "quickstart.yaml"
TINY = [
    "model.width=0.0625",
    "model.fc_units=16",
    "optimizer.batch_size=16",
    "run.steps_per_epoch=2",
    "run.val_steps=1",
]
FRAMEWORKS = ("keras", "tensorflow", "jax", "torch")
START_UP_NOISE = (
    "absl::InitializeLog",
    "cudart",
    "oneDNN",
    "cpu_feature_guard",
    "cuInit",
    "rebuild TensorFlow",
)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def run_kvgg(*args, **env):
    """Run ``kvgg ARGS`` in a fresh process; the environment as a user's (no TF_CPP_* set)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    return subprocess.run(
        [sys.executable, "-m", "kvgg", *map(str, args)],
        capture_output=True,
        text=True,
        env={**environment, **env},
        cwd=ROOT,
        timeout=600,
    )


# --- start-up: --help, --version and option errors start no framework --------------------


@pytest.mark.parametrize(
    "args, code",
    [
        (["--help"], 0),
        (["--version"], 0),
        (["evaluate", "--help"], 0),
        (["summary", "--no-such-option"], 2),
        (["predict", "--model", "m.keras"], 2),  # IMAGES missing
    ],
)
def test_help_version_and_option_errors_import_no_framework(args, code):
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['kvgg', *{args!r}]\n"
        "try:\n"
        "    runpy.run_module('kvgg', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    code = exit.code or 0\n"
        f"loaded = [m for m in {FRAMEWORKS!r} if m in sys.modules]\n"
        "print('LOADED', loaded, 'EXIT', code, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert f"LOADED [] EXIT {code}" in result.stderr, result.stderr[-2000:]


def test_version_is_the_package_version():
    import kvgg

    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"kvgg, version {kvgg.__version__}"


def test_import_kvgg_is_lazy_but_every_public_name_resolves():
    probe = (
        "import sys, kvgg\n"
        f"assert not [m for m in {FRAMEWORKS!r} if m in sys.modules], 'eager import'\n"
        "assert set(kvgg.__all__) <= set(dir(kvgg))\n"
        "print('LAZY')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert "LAZY" in result.stdout, result.stderr[-2000:]
    # Resolving the names imports Keras: done here, where it is imported already.
    import kvgg

    assert [name for name in kvgg.__all__ if getattr(kvgg, name) is None] == []


@pytest.mark.slow  # a fresh process that imports TensorFlow (tens of seconds on 2 cores)
def test_a_command_prints_none_of_tensorflows_start_up_lines():
    result = run_kvgg("summary", "--config", "A", "--width", "0.0625", "--image-size", "32")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "vgg11" in result.stdout
    noisy = [line for line in result.stderr.splitlines() if any(n in line for n in START_UP_NOISE)]
    assert not noisy, result.stderr


def test_start_up_noise_filter_keeps_other_lines():
    from kvgg.cli.quiet import is_start_up_noise

    assert is_start_up_noise(
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
    )
    assert is_start_up_noise(
        "I0000 00:00:1796139088.898819    7977 cudart_stub.cc:31] Could not find cuda drivers"
    )
    assert not is_start_up_noise("Traceback (most recent call last):")
    assert not is_start_up_noise("W0000 00:00:17.1 7 my_op.cc:1] a real warning from an op")


# --- summary ------------------------------------------------------------------------------


def test_summary_prints_per_layer_rows_and_paper_totals():
    result = invoke("summary", "--config", "vgg16")
    assert result.exit_code == 0, result.output
    assert "block5_conv3" in result.output and "fc1" in result.output
    assert "138,357,544" in result.output
    assert "15.47 GMACs" in result.output
    assert "15,237,608 per image" in result.output


def test_summary_of_a_tiny_bn_model():
    result = invoke(
        "summary", "--config", "B", "--width", 0.0625, "--batch-norm", "--image-size", 32
    )
    assert result.exit_code == 0, result.output
    assert "block1_conv1_bn" in result.output


def test_unknown_config_exits_2_and_names_it():
    result = invoke("summary", "--config", "F")
    assert result.exit_code == 2
    assert "config='F'" in result.output


def test_summary_without_a_config_is_a_usage_error():
    result = invoke("summary")
    assert result.exit_code == 2 and "Missing option '--config'" in result.output


# --- old spellings: still work for one release, with a deprecation line on stderr ---------


def deprecation_lines(result):
    return [line for line in result.stderr.splitlines() if "is deprecated; use" in line]


def test_positional_config_of_summary_warns_and_works():
    result = invoke("summary", "A", "--width", 0.0625, "--image-size", 32)
    assert result.exit_code == 0, result.output
    assert "vgg11" in result.stdout
    assert deprecation_lines(result) == [
        "Warning: kvgg summary CONFIG is deprecated; use kvgg summary --config CONFIG "
        "(the old spelling goes in the next release)."
    ]


def test_old_and_new_spelling_together_is_a_usage_error():
    result = invoke("summary", "A", "--config", "B")
    assert result.exit_code == 2 and "kvgg summary --config CONFIG" in result.output


def test_plot_output_warns_and_writes(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.csv").write_text(
        "epoch,loss,top1,top5,val_loss,val_top1,val_top5,lr,seconds\n"
        "1,2.0,0.3,0.7,1.9,0.35,0.8,0.01,1.0\n2,1.5,0.5,0.9,1.4,0.55,0.9,0.001,1.0\n"
    )
    old = invoke("plot", run, "--output", tmp_path / "old.png")
    new = invoke("plot", run, "-o", tmp_path / "new.png")
    assert old.exit_code == 0 and new.exit_code == 0, old.output + new.output
    assert (tmp_path / "old.png").stat().st_size > 0 and (tmp_path / "new.png").stat().st_size > 0
    assert deprecation_lines(old) == [
        "Warning: --output is deprecated; use -o/--out (the old spelling goes in the next release)."
    ]
    assert not deprecation_lines(new)
    both = invoke("plot", run, "--output", tmp_path / "a.png", "-o", tmp_path / "b.png")
    assert both.exit_code == 2 and "give only -o/--out" in both.output


def test_data_stats_output_and_to_tfrecord_positional_out_warn_and_work(tmp_path):
    from tests.data_fixtures import make_image_folder

    root = make_image_folder(tmp_path / "images", ["a", "b"], per_class=2, size=(20, 24))
    stats = invoke("data", "stats", root, "--output", tmp_path / "s.json")
    assert stats.exit_code == 0, stats.output
    assert (tmp_path / "s.json").is_file() and len(deprecation_lines(stats)) == 1
    shards = invoke("data", "to-tfrecord", root, tmp_path / "tf", "--shards", 1)
    assert shards.exit_code == 0, shards.output
    assert list((tmp_path / "tf").iterdir()) and len(deprecation_lines(shards)) == 1
    assert "use kvgg data to-tfrecord SOURCE -o OUT" in deprecation_lines(shards)[0]


# --- re-running a run with other settings --------------------------------------------------


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("fit") / "run"
    sets = [arg for item in [*TINY, "schedule.epochs=1"] for arg in ("--set", item)]
    result = invoke("fit", QUICKSTART, *sets, "--run-dir", run)
    assert result.exit_code == 0, result.output
    return run, sets


def snapshot(run):
    return {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()}


def test_rerunning_a_finished_run_unchanged_has_nothing_to_do(one_epoch_run):
    run, sets = one_epoch_run
    before = snapshot(run)
    result = invoke("fit", QUICKSTART, *sets, "--run-dir", run)
    assert result.exit_code == 0 and "nothing to do" in result.output
    assert snapshot(run) == before


def test_rerunning_a_finished_run_with_another_setting_exits_2_naming_it(one_epoch_run):
    run, sets = one_epoch_run
    before = snapshot(run)
    result = invoke("fit", QUICKSTART, *sets, "--set", "optimizer.lr=0.05", "--run-dir", run)
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith("Error: ") and len(message.splitlines()) == 1
    assert "optimizer.lr (0.01 in the run, 0.05 now)" in message
    assert "--run-dir" in message and "--set schedule.epochs=" in message
    assert snapshot(run) == before


def test_a_half_finished_run_continues_only_with_explicit_changes(one_epoch_run, tmp_path):
    run = Path(shutil.copytree(one_epoch_run[0], tmp_path / "run"))
    recipe = tmp_path / "recipe.yaml"  # the user edits the recipe: 2 epochs, another lr
    text = QUICKSTART.read_text().replace("epochs: 15", "epochs: 2").replace("lr: 0.01", "lr: 0.02")
    recipe.write_text(text)
    sets = [arg for item in TINY for arg in ("--set", item)]
    edited = invoke("fit", recipe, *sets, "--run-dir", run)
    assert edited.exit_code == 2, edited.output
    assert "optimizer.lr (0.01 in the run, 0.02 now)" in edited.output
    assert "schedule.epochs (1 in the run, 2 now)" in edited.output
    assert "--set optimizer.lr=0.02 --set schedule.epochs=2" in edited.output
    explicit = ["--set", "optimizer.lr=0.02", "--set", "schedule.epochs=2"]
    resumed = invoke("fit", recipe, *sets, *explicit, "--run-dir", run)
    assert resumed.exit_code == 0, resumed.output
    assert "from epoch 2" in resumed.output and "Done after 2 epochs" in resumed.output
