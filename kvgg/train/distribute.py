"""Data-parallel training on existing engines: tf.distribute on TensorFlow, keras.distribution
on JAX. The global batch is split across replicas; the learning rate stays the same.

With several workers (hosts), each reads its own share of the files
(`Replication.num_workers`, `worker_index`; see ``kvgg.data.train_dataset(shard=...)``).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import keras

MODES = ("auto", "none", "mirrored", "multi_worker")


@dataclass
class Replication:
    """How a run is replicated.

    Args:
        mode: the resolved mode (``none``, ``mirrored`` or ``multi_worker``).
        num_replicas: model replicas that share each global batch.
        is_chief: whether this process writes the run directory.
        strategy: the tf.distribute strategy (TensorFlow backend), else None.
        description: one line for the log, e.g. "MirroredStrategy over 2 devices".
        devices: the devices of this process that hold replicas.
        num_workers: processes that feed the replicas (hosts of a multi-worker run).
        worker_index: this process's place among them (0 on the chief); the input
            pipeline reads the ``worker_index``-th share of the files.
    """

    mode: str
    num_replicas: int
    is_chief: bool = True
    strategy: Any = None
    description: str = "one device"
    devices: list[str] = field(default_factory=list)
    num_workers: int = 1
    worker_index: int = 0

    def scope(self):
        """The context in which to build and compile the model."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def replicate(mode: str = "auto") -> Replication:
    """Set up data-parallel training for the current Keras backend.

    Call it before any model or dataset is created (MultiWorkerMirroredStrategy must be
    created before TensorFlow starts running ops).

    Args:
        mode: ``auto`` (every worker of TF_CONFIG, or on JAX of the cluster that
            `jax_cluster` finds; else every local GPU / JAX device; else one device),
            ``none``, ``mirrored`` (all local devices: GPUs, else the logical CPU
            devices) or ``multi_worker`` (TensorFlow: MultiWorkerMirroredStrategy from
            TF_CONFIG; JAX: keras.distribution.initialize from the cluster variables,
            then DataParallel over every device of every process).

    Returns:
        A `Replication`; build and compile the model inside ``replication.scope()``.

    Example:
        >>> replication = replicate("none")
        >>> replication.num_replicas
        1
    """
    if mode not in MODES:
        raise ValueError(f"`distribute` must be one of {', '.join(MODES)}. Received: {mode!r}")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(mode)
    if backend == "jax":
        return _jax(mode)
    if mode in ("mirrored", "multi_worker"):
        raise ValueError(
            f"distribute={mode!r} needs the tensorflow or jax backend; the {backend} backend "
            "trains on one device here. Set KERAS_BACKEND, or run.distribute=none."
        )
    return Replication("none", 1)


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}. Received: {raw!r}") from None


def _tensorflow(mode: str) -> Replication:
    import tensorflow as tf

    config = _tf_config()
    workers = sum(len(hosts) for hosts in config.get("cluster", {}).values())
    if mode == "auto":
        gpus = tf.config.list_physical_devices("GPU")
        mode = "multi_worker" if workers > 1 else "mirrored" if len(gpus) > 1 else "none"
    if mode == "none":
        return Replication("none", 1, devices=[d.name for d in tf.config.list_logical_devices()])
    if mode == "multi_worker":
        if not config:
            raise ValueError(
                "distribute='multi_worker' needs TF_CONFIG (the cluster and this worker's "
                "task); see https://www.tensorflow.org/guide/distributed_training"
            )
        strategy = _multi_worker_strategy()
        index = _worker_index(config)
        return Replication(
            "multi_worker",
            strategy.num_replicas_in_sync,
            is_chief=index == 0,
            strategy=strategy,
            description=f"MultiWorkerMirroredStrategy: {strategy.num_replicas_in_sync} replicas "
            f"over {workers} workers",
            num_workers=workers,
            worker_index=index,
        )
    devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices=devices)
    return Replication(
        "mirrored",
        strategy.num_replicas_in_sync,
        strategy=strategy,
        description=f"MirroredStrategy over {len(devices)} devices",
        devices=devices,
    )


def _multi_worker_strategy():
    """MultiWorkerMirroredStrategy with a `reduce` that accepts what Keras 3 passes it.

    Keras 3.15's TensorFlow trainer makes two calls that MirroredStrategy accepts but
    MultiWorkerMirroredStrategy's collective all-reduce rejects (keras-team/keras#20585):
    ``Model._maybe_symbolic_build`` (start of ``fit``/``evaluate``) reduces the first
    distributed batch, an ``(x, y)`` tuple, in one call; and ``reduce_per_replica``
    reduces each replica's scalar loss and metrics with ``axis=0``. Here a nest is
    reduced value by value (as MirroredStrategy does), and a scalar is averaged across
    replicas (``axis=None``: the only meaning ``axis=0`` can have for it). Any other
    value is reduced exactly as before.
    """
    import tensorflow as tf

    class KerasCompatibleStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            if tf.nest.is_nested(value):
                return tf.nest.map_structure(lambda v: self.reduce(reduce_op, v, axis), value)
            if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
                axis = None
            return super().reduce(reduce_op, value, axis)

    return KerasCompatibleStrategy()


def _worker_index(config: dict) -> int:
    """This task's place in TF_CONFIG's cluster: the chief (if any) first, then the workers."""
    task, cluster = config.get("task", {}), config.get("cluster", {})
    if task.get("type") == "chief":
        return 0
    return len(cluster.get("chief", [])) + int(task.get("index", 0))


def jax_cluster(environ=None) -> dict | None:
    """How this process joins a multi-host JAX run, from the usual cluster variables.

    Checked in order: Keras' own ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` /
    ``_NUM_PROCESSES`` / ``_PROCESS_ID``; JAX's ``JAX_COORDINATOR_ADDRESS`` (with
    ``JAX_NUM_PROCESSES`` / ``JAX_PROCESS_ID``); a TF_CONFIG of several tasks (the first
    task's address becomes the coordinator, so one TF_CONFIG serves both backends); a
    Slurm job step or Open MPI run of several tasks, which `jax.distributed.initialize`
    detects by itself.

    Args:
        environ: the environment to read; default ``os.environ``.

    Returns:
        Keyword arguments for `keras.distribution.initialize` (empty: let JAX detect the
        cluster), or None when this is a single-process run.

    Example:
        >>> jax_cluster({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4"})
        {}
        >>> jax_cluster({}) is None
        True
    """
    env = os.environ if environ is None else environ
    if env.get("KERAS_DISTRIBUTION_JOB_ADDRESSES"):
        return {}  # keras.distribution.initialize reads them itself
    if env.get("JAX_COORDINATOR_ADDRESS"):
        return {
            "job_addresses": env["JAX_COORDINATOR_ADDRESS"],
            "num_processes": int(env["JAX_NUM_PROCESSES"]),
            "process_id": int(env["JAX_PROCESS_ID"]),
        }
    config = _tf_config() if environ is None else json.loads(env.get("TF_CONFIG") or "{}")
    cluster = config.get("cluster", {})
    tasks = [*cluster.get("chief", []), *cluster.get("worker", [])]
    if len(tasks) > 1:
        return {
            "job_addresses": tasks[0],
            "num_processes": len(tasks),
            "process_id": _worker_index(config),
        }
    for variable in ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE"):
        if int(env.get(variable) or 1) > 1:
            return {}
    return None


def _jax(mode: str) -> Replication:
    import jax

    cluster = jax_cluster()
    if mode == "multi_worker" or (mode == "auto" and cluster is not None):
        try:
            keras.distribution.initialize(**(cluster or {}))
        except (RuntimeError, ValueError) as error:
            raise ValueError(
                "distribute='multi_worker' on JAX could not join the cluster: set TF_CONFIG, "
                "JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID, or run under "
                f"Slurm or mpirun ({error})"
            ) from None
        mode = "multi_worker"
    devices = keras.distribution.list_devices()
    if mode == "auto":
        mode = "mirrored" if len(devices) > 1 else "none"
    if mode == "none":
        keras.distribution.set_distribution(None)
        return Replication("none", 1, devices=devices[:1])
    processes = jax.process_count()
    # Several processes: each feeds its own share of the files (see `fit`), so Keras must
    # not shard the batches again.
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices, auto_shard_dataset=processes == 1)
    )
    hosts = f" on {processes} processes" if processes > 1 else ""
    return Replication(
        mode,
        len(devices),
        is_chief=jax.process_index() == 0,
        description=f"keras.distribution.DataParallel over {len(devices)} devices{hosts}",
        devices=devices,
        num_workers=processes,
        worker_index=jax.process_index(),
    )
