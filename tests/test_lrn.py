import keras
import numpy as np
import pytest

from kvgg.models import LocalResponseNormalization


def numpy_lrn(a, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """Caffe's across-channel LRN written out with loops over the channel window."""
    out = np.empty_like(a)
    channels = a.shape[-1]
    half = size // 2
    for c in range(channels):
        lo, hi = max(0, c - half), min(channels, c + half + 1)
        window = (a[..., lo:hi] ** 2).sum(axis=-1)
        out[..., c] = a[..., c] / (k + alpha / size * window) ** beta
    return out


@pytest.mark.backend
@pytest.mark.parametrize("size", [1, 3, 5])
def test_lrn_matches_numpy_reference(size):
    # Large values so the normalisation really bites.
    x = np.random.default_rng(0).normal(0, 60, (2, 3, 4, 11)).astype("float32")
    layer = LocalResponseNormalization(size=size, alpha=1e-2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), numpy_lrn(x, size=size, alpha=1e-2), rtol=1e-5
    )


def test_lrn_matches_tensorflow_with_parameter_mapping():
    import tensorflow as tf

    x = np.random.default_rng(1).normal(0, 60, (2, 5, 5, 16)).astype("float32")
    layer = LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, k=2.0)
    expected = tf.nn.local_response_normalization(
        x, depth_radius=2, bias=2.0, alpha=1e-4 / 5, beta=0.75
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected.numpy(), rtol=1e-5)


@pytest.mark.backend
def test_lrn_rejects_even_window():
    with pytest.raises(ValueError, match="size=4"):
        LocalResponseNormalization(size=4)
