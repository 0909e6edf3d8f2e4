"""The same saved weights give the same outputs on TensorFlow, JAX and PyTorch."""

import importlib.util

import keras
import numpy as np
import pytest

from tests.helpers import random_images, run_python, tiny_model

OTHER_BACKENDS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            importlib.util.find_spec(module) is None, reason=f"{module} is not installed"
        ),
    )
    for name, module in (("tensorflow", "tensorflow"), ("jax", "jax"), ("torch", "torch"))
]


@pytest.mark.slow  # a fresh interpreter per backend (tests/test_models.py keeps one fast)
@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_outputs_agree_across_backends(backend, tmp_path):
    images = random_images(2)
    np.save(tmp_path / "x.npy", images)
    expected = {}
    for config, batch_norm in (("A-LRN", False), ("D", False), ("B", True)):
        model = tiny_model(config, batch_norm=batch_norm)
        model.save(tmp_path / f"{config}.keras")
        expected[config] = keras.ops.convert_to_numpy(model(images, training=False))
        np.save(tmp_path / f"{config}.npy", expected[config])
    # float32 on CPU: different kernels and summation orders, agreement to 1e-4 relative.
    run_python(
        f"""
        import numpy as np, keras, kvgg.layers  # kvgg.layers registers A-LRN's LRN layer
        assert keras.backend.backend() == {backend!r}
        x = np.load("x.npy")
        for config in ("A-LRN", "D", "B"):
            out = keras.saving.load_model(config + ".keras")(x, training=False)
            np.testing.assert_allclose(keras.ops.convert_to_numpy(out), np.load(config + ".npy"),
                                       rtol=1e-4, atol=1e-6)
        """,
        backend=backend,
        cwd=tmp_path,
    )
