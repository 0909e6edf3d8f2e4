"""A model's inference call, compiled on the active Keras backend, with shape buckets."""

from __future__ import annotations

import keras
import numpy as np

from kvgg.models.configs import STRIDE


class Forward:
    """Run a model on NumPy batches, compiled on the active backend, counting the traces.

    Whole-image (dense) evaluation sees a different image size almost every time, and a
    compiled function must not be traced again for each. On TensorFlow the function is
    traced once with a shape-polymorphic signature, (None, None, None, 3), that serves
    every size exactly. PyTorch runs eagerly and never traces. JAX (XLA) compiles one
    program per input shape, so there sizes are bucketed: each batch is padded at the
    bottom and right up to the next multiple of ``bucket`` pixels, which at one test scale
    Q (smallest side Q) leaves at most two orientations times
    ``ceil(Q * (max aspect - 1) / bucket) + 1`` shapes, whatever the number of images.
    The padding holds ``pad_value`` (the model's mean RGB, i.e. zero after its
    ``preprocess`` layer, as the first convolution's own zero padding); the caller keeps
    only the output locations that lie inside the image (see `DenseScorer`).

    Args:
        model: a Keras model taking (B, H, W, 3) float32 images.
        bucket: pad height and width up to a multiple of this many pixels; None (or 0,
            as the CLI's ``--bucket 0``) runs every batch at its own size (exact); "auto":
            32 on JAX, None elsewhere.
        pad_value: per-channel value of the padding (RGB on the [0, 255] scale).

    Attributes:
        traces: how many times the model has been traced (compiled) so far.

    On JAX the weights are read when the `Forward` is created; make a new one after
    changing them.

    Example:
        >>> import kvgg
        >>> from kvgg.models.surgery import fully_convolutional
        >>> vgg16 = kvgg.build("D", width=1 / 16)  # 224x224 input, 1000 classes
        >>> forward = Forward(fully_convolutional(vgg16), bucket=32)
        >>> forward(np.zeros((2, 256, 341, 3), "float32")).shape  # run at 256x352
        (2, 2, 5, 1000)
    """

    def __init__(self, model: keras.Model, *, bucket: int | str | None = "auto", pad_value=0.0):
        if bucket == "auto":
            bucket = STRIDE if keras.backend.backend() == "jax" else None
        bucket = bucket or None  # 0: exact sizes
        if bucket is not None and (not isinstance(bucket, int) or bucket < 1):
            raise ValueError(f"`bucket` must be a positive number of pixels. Received: {bucket}")
        self.model = model
        self.bucket = bucket
        self.pad_value = np.asarray(pad_value, dtype="float32")
        self.traces = 0
        self._call = self._compile()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype="float32")
        if self.bucket:
            images = self._pad(images)
        return keras.ops.convert_to_numpy(self._call(images))

    def _pad(self, images):
        batch, height, width, channels = images.shape
        padded_height = -(-height // self.bucket) * self.bucket
        padded_width = -(-width // self.bucket) * self.bucket
        if (padded_height, padded_width) == (height, width):
            return images
        padded = np.empty((batch, padded_height, padded_width, channels), "float32")
        padded[...] = self.pad_value
        padded[:, :height, :width] = images
        return padded

    def _count_trace(self):
        self.traces += 1

    def _compile(self):
        model = self.model
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            def call(images):
                self._count_trace()  # Python side effect: runs only while tracing
                return model(images, training=False)

            signature = [tf.TensorSpec([None, None, None, 3], tf.float32)]
            return tf.function(call, input_signature=signature, autograph=False)
        if backend == "jax":
            import jax

            def stateless(trainable, non_trainable, images):
                self._count_trace()
                return model.stateless_call(trainable, non_trainable, images, training=False)[0]

            jitted = jax.jit(stateless)
            trainable = [v.value for v in model.trainable_variables]
            non_trainable = [v.value for v in model.non_trainable_variables]
            return lambda images: jitted(trainable, non_trainable, images)
        return model.predict_on_batch


def dense_forward(model, *, bucket: int | str | None = "auto") -> tuple[Forward, tuple[int, int]]:
    """The class-score map of a classifier, and its window in block-5 cells (FC-1's kernel).

    For a Keras classifier, a `Forward` over ``fully_convolutional(model, logits=True)``;
    for a dense export (`kvgg.deploy.ExportedModel`), its runtime.

    Example:
        >>> import kvgg
        >>> forward, window = dense_forward(kvgg.build("A", width=1 / 16, num_classes=5))
        >>> forward(np.zeros((1, 256, 256, 3), "float32")).shape, window
        ((1, 2, 2, 5), (7, 7))
    """
    from kvgg.evaluate.common import mean_rgb
    from kvgg.models.surgery import fully_convolutional

    if hasattr(model, "score_map"):  # an exported artifact, run in its own runtime
        return model.score_map, model.window
    fcn = fully_convolutional(model, logits=True)
    return Forward(fcn, bucket=bucket, pad_value=mean_rgb(model)), fcn.get_layer("fc1").kernel_size
