"""Multi-crop evaluation (paper Sec. 3.2): a 5x5 grid of crops per scale, each mirrored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np

from kvgg.evaluate.common import check_scales, crop_size, softmax
from kvgg.evaluate.forward import dense_forward


def grid_crops(image: np.ndarray, size: int, grid: int = 5) -> np.ndarray:
    """The ``grid`` x ``grid`` regular grid of ``size`` x ``size`` crops of an image.

    Crop corners are evenly spaced from the top-left to the bottom-right corner (rounded
    to whole pixels), so the grid covers the whole image.

    Args:
        image: (H, W, 3) with H, W >= size.
        size: crop side.
        grid: crops per row and per column.

    Returns:
        (grid * grid, size, size, 3), row by row.

    Example:
        >>> grid_crops(np.zeros((256, 341, 3)), 224).shape
        (25, 224, 224, 3)
    """
    height, width = image.shape[:2]
    tops = np.round(np.linspace(0, height - size, grid)).astype(int)
    lefts = np.round(np.linspace(0, width - size, grid)).astype(int)
    return np.stack([image[t : t + size, s : s + size] for t in tops for s in lefts])


class MultiCropScorer:
    """Posteriors of one image by multi-crop evaluation at one or more test scales.

    Per scale Q: the 5x5 grid of crops of the classifier's input size (224) from the image
    rescaled to smallest side Q, each crop also mirrored: 50 crops, classified as one
    batch; the 50 soft-max posteriors are averaged, then the scales (150 crops over
    three). Every crop has the same shape, so the network is traced once.

    Args:
        model: a kvgg classifier (fixed input size, FC head).
        scales: test scales Q, each at least the classifier's input size.
        flip: also classify the mirrored crops (50 per scale instead of 25).
        grid: crops per row and column.

    Example:
        >>> import kvgg
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=5)
        >>> scorer = MultiCropScorer(model, scales=(32, 64))
        >>> views = {q: np.full((q, q * 3 // 2, 3), 128.0, "float32") for q in scorer.scales}
        >>> posteriors = scorer(views)  # views[Q]: the image rescaled to smallest side Q
        >>> posteriors.shape, round(float(posteriors.sum()), 4)
        ((5,), 1.0)
    """

    def __init__(
        self, model: keras.Model, *, scales: Sequence[int], flip: bool = True, grid: int = 5
    ):
        self.crop = crop_size(model)
        self.scales = check_scales(scales, self.crop)
        self.flip = flip
        self.grid = grid
        self.forward, _ = dense_forward(model, bucket=None)  # or a dense export's runtime

    def __call__(self, views: Mapping[int, np.ndarray]) -> np.ndarray:
        """Average posteriors (num_classes,) from ``views[Q]``, the image rescaled to Q."""
        return np.mean([self.crop_posteriors(views[q]) for q in self.scales], axis=0)

    def crop_posteriors(self, image: np.ndarray) -> np.ndarray:
        """Posteriors of one rescaled (H, W, 3) image, averaged over its crops."""
        crops = grid_crops(image, self.crop, self.grid)
        if self.flip:
            crops = np.concatenate([crops, crops[:, :, ::-1]])
        return softmax(self.forward(crops)[:, 0, 0]).mean(axis=0)
