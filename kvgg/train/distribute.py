"""Data-parallel training on existing engines: tf.distribute on TensorFlow, keras.distribution
on JAX. The global batch is split across replicas; the learning rate stays the same."""

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
    """

    mode: str
    num_replicas: int
    is_chief: bool = True
    strategy: Any = None
    description: str = "one device"
    devices: list[str] = field(default_factory=list)

    def scope(self):
        """The context in which to build and compile the model."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def replicate(mode: str = "auto") -> Replication:
    """Set up data-parallel training for the current Keras backend.

    Call it before any model or dataset is created (MultiWorkerMirroredStrategy must be
    created before TensorFlow starts running ops).

    Args:
        mode: ``auto`` (every worker of TF_CONFIG, else every local GPU / JAX device,
            else one device), ``none``, ``mirrored`` (all local devices: GPUs, else the
            logical CPU devices) or ``multi_worker`` (TensorFlow:
            MultiWorkerMirroredStrategy from TF_CONFIG; JAX: keras.distribution.initialize
            from the JAX coordinator variables, then DataParallel over every process).

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
        task = config.get("task", {})
        cluster = config.get("cluster", {})
        chief = task.get("type") == "chief" or (
            "chief" not in cluster and task.get("type") == "worker" and task.get("index") == 0
        )
        return Replication(
            "multi_worker",
            strategy.num_replicas_in_sync,
            is_chief=chief,
            strategy=strategy,
            description=f"MultiWorkerMirroredStrategy: {strategy.num_replicas_in_sync} replicas "
            f"over {workers} workers",
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


def _jax(mode: str) -> Replication:
    import jax

    if mode == "multi_worker":
        keras.distribution.initialize()
    devices = keras.distribution.list_devices()
    if mode == "auto":
        mode = "mirrored" if len(devices) > 1 else "none"
    if mode == "none":
        keras.distribution.set_distribution(None)
        return Replication("none", 1, devices=devices[:1])
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return Replication(
        mode,
        len(devices),
        is_chief=jax.process_index() == 0,
        description=f"keras.distribution.DataParallel over {len(devices)} devices",
        devices=devices,
    )
