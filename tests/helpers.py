"""Shared test helpers: tiny models, subprocess runs, the standard model round-trip check."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np

TINY = {"width": 1 / 16, "num_classes": 5, "input_shape": (32, 32, 3)}


def tiny_model(config="A", **overrides):
    """A VGG small enough for a unit test (widths /16, 32x32 input, 5 classes)."""
    import kvgg

    return kvgg.build(config, **(TINY | overrides))


def random_images(n=2, size=32, seed=0):
    """RGB images with values in [0, 255], float32."""
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def run_python(code: str, backend: str | None = None, cwd=None, env=None) -> str:
    """Run `code` in a fresh interpreter (optionally another Keras backend, more
    environment variables); return stdout."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    if backend:
        env["KERAS_BACKEND"] = backend
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )
    assert result.returncode == 0, f"subprocess failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    return result.stdout


def run_benchmark(name: str, *args: str, timeout: int = 600) -> str:
    """Run ``benchmarks/<name>.py`` with ``args`` in a fresh interpreter; its stdout."""
    script = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks", f"{name}.py")
    result = subprocess.run(
        [sys.executable, script, *args], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def assert_model_roundtrip(model: keras.Model, images, tmp_path):
    """Config round-trip, eager call, tf.data predict and .keras save/load all agree."""
    import tensorflow as tf

    expected = keras.ops.convert_to_numpy(model(images, training=False))
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(images, training=False)), expected, rtol=1e-5, atol=1e-6
    )
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(len(images))
    np.testing.assert_allclose(model.predict(dataset, verbose=0), expected, rtol=1e-5, atol=1e-6)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(images, training=False)), expected, rtol=1e-5, atol=1e-6
    )
    return path
