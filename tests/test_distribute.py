"""Data-parallel training on CPU: 2 logical devices (MirroredStrategy), 2 JAX host devices
(keras.distribution.DataParallel), and 2 local processes (MultiWorkerMirroredStrategy)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from kvgg.train import replicate

RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "quickstart.yaml"
OVERRIDES = [
    "model.width=0.125",
    "model.fc_units=32",
    "optimizer.batch_size=32",
    "optimizer.lr=0.02",
    "schedule.epochs=3",
    "run.steps_per_epoch=6",
    "run.val_steps=1",
]

FIT = """
import json
import numpy as np
from kvgg.train import fit
result = fit({recipe!r}, overrides={overrides!r}, run_dir={run_dir!r}, echo=lambda line: None)
weights = [np.asarray(w, dtype="float64") for w in result.model.get_weights()]
print("RESULT", json.dumps({{"replicas": result.replicas,
                            "losses": [row["loss"] for row in result.history],
                            "weights": sum(float(np.abs(w).sum()) for w in weights)}}))
"""

TWO_LOGICAL_CPUS = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""


def start(code, run_dir, distribute, **env):
    overrides = [*OVERRIDES, f"run.distribute={distribute}"]
    script = textwrap.dedent(code) + FIT.format(
        recipe=str(RECIPE), overrides=overrides, run_dir=str(run_dir)
    )
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result_of(process):
    stdout, stderr = process.communicate(timeout=600)
    return parse_result(process, stdout, stderr)


def parse_result(process, stdout, stderr):
    assert process.returncode == 0, f"{stdout[-2000:]}\n{stderr[-4000:]}"
    line = next(line for line in stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def results_of(processes):
    """Results of processes that train together; a failed one stops the others at once."""
    outputs = {}  # in the order the processes ended, so a failure's cause is reported

    def collect(process):
        try:
            outputs[process] = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            outputs[process] = process.communicate()
        finally:
            if process.returncode != 0:
                for other in processes:
                    if other.poll() is None:
                        other.kill()

    threads = [threading.Thread(target=collect, args=(process,)) for process in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = {process: parse_result(process, *output) for process, output in outputs.items()}
    return [results[process] for process in processes]


def assert_two_replicas_learn(result):
    assert result["replicas"] == 2
    losses = result["losses"]
    assert len(losses) == 3 and losses[-1] < losses[0], losses


@pytest.mark.slow  # two processes or replicas: 30-60 s on a shared 2-core CPU
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    result = result_of(start(TWO_LOGICAL_CPUS, tmp_path, "mirrored"))
    assert_two_replicas_learn(result)
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["replicas"] == 2 and "MirroredStrategy over 2 devices" in env["distribution"]


@pytest.mark.slow  # two processes or replicas: 30-60 s on a shared 2-core CPU
def test_jax_data_parallel_on_two_host_devices(tmp_path):
    process = start(
        "",
        tmp_path,
        "auto",
        KERAS_BACKEND="jax",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    assert_two_replicas_learn(result_of(process))
    assert "DataParallel over 2 devices" in (tmp_path / "env.json").read_text()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two processes or replicas: 30-60 s on a shared 2-core CPU
def test_multi_worker_mirrored_strategy_with_two_local_processes(tmp_path):
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = [
        start(
            "",
            tmp_path,
            "multi_worker",
            TF_CONFIG=json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            ),
        )
        for index in range(2)
    ]
    results = results_of(processes)
    for result in results:
        assert_two_replicas_learn(result)
    # each worker trains on its own shard; all-reduced gradients keep one model
    assert results[0]["weights"] == pytest.approx(results[1]["weights"], rel=1e-6)
    assert results[0]["losses"] == pytest.approx(results[1]["losses"])
    assert "over 2 workers" in (tmp_path / "env.json").read_text()
    assert (tmp_path / "model.keras").is_file()  # written by the chief only


@pytest.mark.backend
def test_bad_modes_are_errors():
    with pytest.raises(ValueError, match="`distribute` must be one of"):
        replicate("horovod")
    assert replicate("none").num_replicas == 1
