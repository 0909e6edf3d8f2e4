"""Local response normalisation, the one custom layer (configuration A-LRN)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kvgg")
class LocalResponseNormalization(keras.layers.Layer):
    """Across-channel local response normalisation, as in AlexNet and Caffe.

    ``b_c = a_c / (k + alpha / size * sum_{c' in window(c)} a_{c'}^2) ** beta``, the
    window holding ``size`` channels centred on ``c`` (truncated at the edges).

    This is Caffe's formula (alpha divided by the window size), which is what the VGG
    authors ran: A-LRN was trained in their Caffe fork with AlexNet's settings. AlexNet's
    paper writes alpha without the division; to reproduce that, pass
    ``alpha=1e-4 * size``. ``tf.nn.local_response_normalization`` matches with
    ``depth_radius=(size - 1) // 2, bias=k, alpha=alpha / size, beta=beta``.

    Args:
        size: number of channels in the window (odd).
        alpha: scale, divided by ``size`` (Caffe convention).
        beta: exponent.
        k: additive constant.

    Example:
        >>> layer = LocalResponseNormalization()
        >>> tuple(layer(keras.ops.ones((1, 4, 4, 8))).shape)
        (1, 4, 4, 8)
    """

    def __init__(
        self, size: int = 5, *, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0, **kwargs
    ):
        super().__init__(**kwargs)
        if size < 1 or size % 2 == 0:
            raise ValueError(
                f"LRN window size must be a positive odd integer. Received: size={size}"
            )
        self.size = int(size)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)

    def call(self, inputs):
        radius = (self.size - 1) // 2
        squared = ops.square(inputs)
        padded = ops.pad(squared, [[0, 0]] * (len(inputs.shape) - 1) + [[radius, radius]])
        channels = ops.shape(inputs)[-1]
        window_sum = sum(padded[..., i : i + channels] for i in range(self.size))
        scale = self.k + (self.alpha / self.size) * window_sum
        return inputs / ops.power(scale, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return super().get_config() | {
            "size": self.size,
            "alpha": self.alpha,
            "beta": self.beta,
            "k": self.k,
        }
