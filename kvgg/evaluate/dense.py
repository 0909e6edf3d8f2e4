"""Dense evaluation (paper Sec. 3.2): the fully-convolutional net over the whole image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np

from kvgg.evaluate.common import check_scales, crop_size, softmax
from kvgg.evaluate.forward import dense_forward
from kvgg.models.configs import STRIDE


class DenseScorer:
    """Posteriors of one image by dense evaluation at one or more test scales.

    Per scale Q the image, rescaled so that its smallest side is Q, goes whole through
    `fully_convolutional(model, logits=True)`; the class score map (one vector of
    pre-soft-max scores per 224x224 window, at a stride of 32 pixels) is averaged over
    its locations. **The soft-max comes after this spatial average**: the paper averages
    ("sum-pools") the class *scores*, then averages the soft-max *posteriors* of the image
    and of its horizontal mirror. Averaging the scores rather than the sum keeps the
    posterior's sharpness independent of the image size, so posteriors from different
    scales, from multi-crop evaluation and from other models can be averaged on an equal
    footing. Posteriors are then averaged over the scales.

    The image and its mirror run as one batch, at the image's own size on TensorFlow
    and PyTorch (exact; one trace serves all sizes, see `Forward`). With shape buckets
    (the default on JAX, whose compiled programs have fixed shapes) the batch is padded
    at the bottom/right to a multiple of ``bucket`` pixels with the model's mean colour,
    and only the map locations whose window lies inside the image are averaged, the same
    locations as without padding. Their values can differ from the unpadded ones only
    where the deeper layers' receptive fields reach past the image edge and now see the
    padding instead of each layer's own zero padding. ``benchmarks/evaluate.py``
    measures the effect: at most 1.1e-5 on the posteriors of a random-weight VGG16 of
    width 1/16 at Q = 256, 384, 512 (100 images, the same top-1 class for all); on a tiny
    32x32 model, whose few windows all touch a border, it reaches a few 1e-2. Images
    whose sides are multiples of ``bucket`` are never padded.

    Args:
        model: a kvgg classifier (fixed input size, FC head).
        scales: test scales Q, each at least the classifier's input size.
        flip: also score the mirrored image and average the two posteriors.
        bucket: shape bucket in pixels (a multiple of 32), None for exact sizes, or
            "auto" (32 on JAX, None elsewhere).

    Example:
        >>> import kvgg
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=5)
        >>> scorer = DenseScorer(model, scales=(32, 64))
        >>> views = {q: np.full((q, q * 3 // 2, 3), 128.0, "float32") for q in scorer.scales}
        >>> posteriors = scorer(views)  # views[Q]: the image rescaled to smallest side Q
        >>> posteriors.shape, round(float(posteriors.sum()), 4)
        ((5,), 1.0)
    """

    def __init__(
        self,
        model: keras.Model,
        *,
        scales: Sequence[int],
        flip: bool = True,
        bucket: int | str | None = "auto",
    ):
        if isinstance(bucket, int) and bucket % STRIDE:
            raise ValueError(f"`bucket` must be a multiple of {STRIDE}. Received: {bucket}")
        self.scales = check_scales(scales, crop_size(model))
        self.flip = flip
        # the logits FCN in a `Forward`, or a dense export's runtime (kvgg.deploy)
        self.forward, self.window = dense_forward(model, bucket=bucket)

    def __call__(self, views: Mapping[int, np.ndarray]) -> np.ndarray:
        """Average posteriors (num_classes,) from ``views[Q]``, the image rescaled to Q."""
        return np.mean([self.score_map_posteriors(views[q]) for q in self.scales], axis=0)

    def score_map_posteriors(self, image: np.ndarray) -> np.ndarray:
        """Posteriors of one rescaled (H, W, 3) image, averaged with its mirror."""
        return self.posteriors_and_map(image)[0]

    def posteriors_and_map(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`score_map_posteriors` of one rescaled image, and its window posteriors.

        Returns:
            The image's posteriors (num_classes,), as `score_map_posteriors`, and the
            (rows, cols, num_classes) soft-max of the class scores at each window of the
            image itself (not its mirror), from the same forward pass. Protocol 2 of
            localisation rates each window's box with the latter
            (`kvgg.localize.DenseLocalizer`).
        """
        batch = np.stack([image, image[:, ::-1]]) if self.flip else image[None]
        (height, width), (k_rows, k_cols) = image.shape[:2], self.window
        rows, cols = height // STRIDE - k_rows + 1, width // STRIDE - k_cols + 1
        scores = self.forward(batch)[:, :rows, :cols]
        return softmax(scores.mean(axis=(1, 2))).mean(axis=0), softmax(scores[0])
