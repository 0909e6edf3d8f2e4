"""Input for many workers: each worker decodes its own share of the files, the pipeline's
threads follow the CPUs a container grants, and JAX finds its cluster from the usual
variables; JAX data parallelism through `kvgg fit` on two host devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kvgg.data import image_folder, train_dataset
from kvgg.data.cpus import usable_cpus
from kvgg.train.distribute import jax_cluster
from tests.data_fixtures import write_image

RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "quickstart.yaml"
FILES = 14  # not a multiple of the batch, nor of the workers


@pytest.fixture(scope="module")
def numbered_files(tmp_path_factory):
    """An image folder whose i-th file is one flat grey, 8 + 17 i: its number, decoded."""
    root = tmp_path_factory.mktemp("numbered")
    for i in range(FILES):
        grey = np.full((32, 32, 3), 8 + 17 * i, np.uint8)
        write_image(root / f"class{i % 2}" / f"{i:02d}.jpg", grey, quality=100)
    return image_folder(root)


def files_seen(source, shard, epochs=1):
    data = train_dataset(
        source, batch_size=4, scale=32, crop=32, seed=3, shard=shard, repeat=epochs > 1
    )
    batches = data.take(-(-FILES // 2 // 4) * epochs) if epochs > 1 else data
    greys = [image.mean() for images, _ in batches.as_numpy_iterator() for image in images]
    return [int(round((grey - 8) / 17)) for grey in greys]


@pytest.mark.backend
def test_two_workers_decode_disjoint_files_that_cover_the_dataset(numbered_files):
    first, second = files_seen(numbered_files, (2, 0)), files_seen(numbered_files, (2, 1))
    assert len(first) == len(second) == FILES // 2
    assert not set(first) & set(second)
    assert sorted(first + second) == list(range(FILES))
    assert sorted(files_seen(numbered_files, None)) == list(range(FILES))


@pytest.mark.backend
def test_sharding_needs_a_seed_and_a_valid_worker(numbered_files):
    with pytest.raises(ValueError, match="needs a seed"):
        train_dataset(numbered_files, batch_size=4, scale=32, crop=32, shard=(2, 0))
    with pytest.raises(ValueError, match=r"0 <= worker_index < num_workers.*\(2, 2\)"):
        train_dataset(numbered_files, batch_size=4, scale=32, crop=32, seed=0, shard=(2, 2))


def fake_cgroup(tmp_path, files: dict[str, str], membership: str) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text(membership)
    return root, proc


def test_usable_cpus_follows_a_cgroup_v2_quota(tmp_path):
    affinity = len(os.sched_getaffinity(0))
    root, proc = fake_cgroup(
        tmp_path,
        {"cpu.max": "max 100000\n", "kubepods/pod1/cpu.max": "150000 100000\n"},
        "0::/kubepods/pod1\n",
    )
    assert usable_cpus(root, proc) == min(affinity, 2)  # 1.5 CPUs: two threads
    (root / "kubepods" / "cpu.max").write_text("50000 100000\n")  # a parent's quota binds
    assert usable_cpus(root, proc) == 1
    unlimited, proc = fake_cgroup(tmp_path / "u", {"cpu.max": "max 100000\n"}, "0::/\n")
    assert usable_cpus(unlimited, proc) == affinity


def test_usable_cpus_follows_a_cgroup_v1_quota(tmp_path):
    affinity = len(os.sched_getaffinity(0))
    files = {"cpu,cpuacct/cpu.cfs_quota_us": "100000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000"}
    root, proc = fake_cgroup(tmp_path, files, "4:cpu,cpuacct:/\n")
    assert usable_cpus(root, proc) == 1
    (root / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("-1\n")  # no quota
    assert usable_cpus(root, proc) == affinity
    assert usable_cpus(tmp_path / "nothing", tmp_path / "missing") == affinity


def test_jax_finds_its_cluster_from_the_usual_variables():
    tf_config = {
        "cluster": {"chief": ["host0:2222"], "worker": ["host1:2222", "host2:2222"]},
        "task": {"type": "worker", "index": 1},
    }
    assert jax_cluster({"TF_CONFIG": json.dumps(tf_config)}) == {
        "job_addresses": "host0:2222",
        "num_processes": 3,
        "process_id": 2,
    }
    explicit = {"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"}
    assert jax_cluster(explicit) == {"job_addresses": "h:1", "num_processes": 2, "process_id": 1}
    assert jax_cluster({"SLURM_JOB_ID": "1", "SLURM_NTASKS": "8"}) == {}  # JAX detects Slurm
    assert jax_cluster({"SLURM_JOB_ID": "1", "SLURM_NTASKS": "1"}) is None
    assert jax_cluster({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}})}) is None


@pytest.mark.slow  # a `kvgg fit` process on two JAX host devices: ~30-60 s on 2 shared cores
def test_kvgg_fit_on_jax_uses_data_parallel_over_two_host_devices(tmp_path):
    settings = [
        "model.width=0.0625",
        "model.fc_units=32",
        "optimizer.batch_size=32",
        "optimizer.lr=0.02",
        "schedule.epochs=3",
        "run.steps_per_epoch=4",
        "run.val_steps=1",
    ]
    command = [sys.executable, "-m", "kvgg", "fit", str(RECIPE), "--run-dir", str(tmp_path)]
    command += [arg for item in settings for arg in ("--set", item)]
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "keras.distribution.DataParallel over 2 devices" in result.stdout
    assert "per epoch, XLA, keras.distribution" in result.stdout  # JAX compiles its steps
    environment = json.loads((tmp_path / "env.json").read_text())
    assert environment["backend"] == "jax" and environment["replicas"] == 2
    rows = (tmp_path / "history.csv").read_text().splitlines()[1:]
    losses = [float(row.split(",")[1]) for row in rows]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
