"""How the numbers are computed: mixed precision (Keras dtype policies, loss scaling) and XLA.

Under ``mixed_bfloat16`` and ``mixed_float16`` the layers compute in 16 bits while every
variable stays float32; a model's output layers (the soft-max of a classifier) compute in
float32, and so do the loss and the metrics. ``mixed_float16`` also scales the loss
(`keras.optimizers.LossScaleOptimizer`): a step whose gradients overflow is skipped and the
scale halved, so an overflow costs one step, never the run.

Saved models load and predict in float32 (`float32_copy`); `with_precision` turns a loaded
model into one that computes in 16 bits, for evaluation and feature extraction.

Example:
    >>> import kvgg
    >>> with dtype_policy("mixed_bfloat16"):
    ...     model = kvgg.build("A", width=1 / 16, num_classes=3, input_shape=(32, 32, 3))
    >>> model.get_layer("fc1").compute_dtype, model.get_layer("predictions").compute_dtype
    ('bfloat16', 'float32')
    >>> float32_copy(model).get_layer("fc1").compute_dtype
    'float32'
"""

from __future__ import annotations

import contextlib
import typing
from collections.abc import Iterator
from typing import Literal

import keras

Precision = Literal["float32", "mixed_bfloat16", "mixed_float16"]  # a recipe's run.precision
PRECISIONS = typing.get_args(Precision)
JIT_CHOICES = ("auto", True, False)

# What `jit_compile: auto` picks, by (backend, device kind), as measured by
# benchmarks/gpu.py (docs/tutorials/distributed.md has the figures). TensorFlow on CPU:
# XLA made VGG16's step 2.7-3.5x slower at width 1/4, 64 px on the build machine; on
# GPUs XLA fuses the convolutions' element-wise tails (no GPU figure yet). JAX without
# jit runs op by op (17-190x slower). PyTorch: off, as Keras' own `auto` does.
AUTO_JIT = {
    ("tensorflow", "cpu"): False,
    ("tensorflow", "gpu"): True,
    ("jax", "cpu"): True,
    ("jax", "gpu"): True,
    ("torch", "cpu"): False,
    ("torch", "gpu"): False,
}


def check_precision(precision: str) -> str:
    """`precision` if it is one of `PRECISIONS`, else a ValueError naming it."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(PRECISIONS)}. Received: precision={precision!r}"
        )
    return precision


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Layers created inside compute in `precision`; the global policy is restored after.

    Args:
        precision: one of `PRECISIONS`.
    """
    check_precision(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def training_optimizer(
    optimizer: keras.optimizers.Optimizer, precision: str, initial_scale: float = 2.0**15
) -> keras.optimizers.Optimizer:
    """`optimizer`, wrapped in a dynamic `LossScaleOptimizer` for ``mixed_float16``.

    Args:
        optimizer: the optimiser proper (SGD with momentum in `kvgg fit`).
        precision: one of `PRECISIONS`.
        initial_scale: the loss scale to start from (Keras' default, 2**15).

    Returns:
        The optimiser to compile with.

    Example:
        >>> training_optimizer(keras.optimizers.SGD(0.01), "mixed_float16").__class__.__name__
        'LossScaleOptimizer'
    """
    if check_precision(precision) != "mixed_float16":
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=initial_scale)


def optimizer_proper(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """The optimiser inside a `LossScaleOptimizer`, or `optimizer` itself."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def copy_optimizer_state(source, target) -> None:
    """Copy the state of one optimiser proper (momenta, iterations) into another's.

    Used to resume a run under another precision: a `LossScaleOptimizer` wraps the same
    SGD whose state a float32 run saved, so the SGD state carries over either way.

    Args:
        source: a built optimiser (possibly a `LossScaleOptimizer`).
        target: a built optimiser over the same model variables.
    """
    source, target = optimizer_proper(source), optimizer_proper(target)
    if len(source.variables) != len(target.variables):
        raise ValueError(
            f"The saved optimiser has {len(source.variables)} variables and this one "
            f"{len(target.variables)}; they do not train the same model."
        )
    for saved, variable in zip(source.variables, target.variables, strict=True):
        variable.assign(keras.ops.convert_to_numpy(saved))


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """A copy of `model` computing in `precision`, its output layers in float32.

    Variables stay float32 whatever the precision, so the copy holds the same weights.
    The model itself is returned when nothing would change.

    Args:
        model: a functional or sequential Keras model.
        precision: one of `PRECISIONS`.

    Returns:
        The model that computes in `precision`.
    """
    check_precision(precision)
    outputs = {id(layer) for layer in _output_layers(model)}

    def wanted(layer) -> str:
        if isinstance(layer, keras.layers.InputLayer) or id(layer) in outputs:
            return "float32"
        return precision

    if all(layer.dtype_policy.name == wanted(layer) for layer in model.layers):
        return model

    def clone(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": wanted(layer)})

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def float32_copy(model: keras.Model) -> keras.Model:
    """`model` computing in float32 throughout (what kvgg saves: it loads and predicts in
    float32 anywhere); the model itself when it already does."""
    return with_precision(model, "float32")


def follow_global_policy(model: keras.Model) -> keras.Model:
    """`model` computing in Keras' global dtype policy when that is a mixed one.

    A saved model names each layer's dtype, so the global policy does not reach a loaded
    model by itself; `kvgg.io.load_model` passes it on through this.
    """
    policy = keras.config.dtype_policy().name
    return with_precision(model, policy) if policy in PRECISIONS[1:] else model


def resolve_jit_compile(setting: bool | str, backend: str | None = None, device: str | None = None):
    """The `jit_compile` to compile with: `setting`, or for ``auto`` what measured best.

    Args:
        setting: ``"auto"``, True or False.
        backend: the Keras backend; default: the current one.
        device: ``"gpu"`` or ``"cpu"``; default: whether this process sees a GPU.

    Returns:
        True or False.

    Example:
        >>> resolve_jit_compile("auto", "tensorflow", "cpu"), resolve_jit_compile(True)
        (False, True)
    """
    if setting not in JIT_CHOICES:
        raise ValueError(f"jit_compile must be auto, true or false. Received: {setting!r}")
    if setting != "auto":
        return bool(setting)
    backend = backend or keras.backend.backend()
    device = device or accelerator_kind(backend)
    return AUTO_JIT.get((backend, device), False)


def accelerator_kind(backend: str | None = None) -> str:
    """``"gpu"`` when the backend sees a GPU, else ``"cpu"``."""
    backend = backend or keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    if backend == "jax":
        import jax

        return "gpu" if jax.default_backend() == "gpu" else "cpu"
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"


def _output_layers(model: keras.Model) -> list:
    layers = []
    for tensor in model.outputs or []:
        history = getattr(tensor, "_keras_history", None)
        if history is not None:
            layers.append(history.operation)
    return layers
