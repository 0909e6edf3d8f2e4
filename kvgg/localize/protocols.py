"""The paper's two localisation test protocols (Appendix A).

Protocol 1 (`centre_crop_boxes`, Table 8): the net sees the central crop of the image
rescaled to Q; the box of the ground-truth class is the answer. Protocol 2
(`DenseLocalizer`, Table 9): the nets run fully-convolutionally over the whole image at
each scale Q, each output location predicting a box per class; the top-5 classes of the
classification protocol (`kvgg.evaluate.DenseScorer`: dense, flips, the classifiers'
scales, fusion) are kept, and for each the boxes of every location, scale and net are merged by
OverFeat's greedy procedure (`kvgg.localize.boxes.greedy_merge`), each rated by the
classifier's posterior of the class at the windows that predicted it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from kvgg.evaluate.common import check_scales, crop_size
from kvgg.evaluate.forward import Forward
from kvgg.localize.boxes import DEFAULT_MERGE_THRESHOLD, frame_to_corners, greedy_merge
from kvgg.localize.model import regression_of
from kvgg.models.configs import STRIDE
from kvgg.models.surgery import fully_convolutional

__all__ = ["DenseLocalizer", "Guess", "centre_crop_boxes", "rescaled"]


def rescaled(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` isotropically rescaled so that its smallest side is ``size`` (float32)."""
    from kvgg.data import transforms

    return transforms.rescale(image, size).numpy()


def centre_crop_boxes(
    localizer: keras.Model, images: Sequence[np.ndarray], labels, *, scale: int
) -> np.ndarray:
    """Protocol 1: the ground-truth class's box from the central crop at scale Q.

    Args:
        localizer: a localisation net (`kvgg.localize.build_localizer`).
        images: whole RGB images (H, W, 3), any sizes.
        labels: their ground-truth class indices.
        scale: Q, the smallest side after rescaling (>= the net's input size).

    Returns:
        (N, 4) boxes as pixel corners of the original images.

    Example:
        >>> import kvgg
        >>> from kvgg.localize.model import build_localizer
        >>> net = kvgg.build("A", width=1 / 16, num_classes=3, input_shape=(32, 32, 3))
        >>> localizer = build_localizer(net, regression="pcr")  # untrained: random boxes
        >>> photo = np.zeros((48, 64, 3), "uint8")
        >>> centre_crop_boxes(localizer, [photo], [2], scale=32).shape  # paper: scale=384
        (1, 4)
    """
    crop = crop_size(localizer)
    check_scales([scale], crop)
    crops, offsets, factors = [], [], []
    for image in images:
        resized = rescaled(image, scale)
        height, width = resized.shape[:2]
        top, left = (height - crop) // 2, (width - crop) // 2
        crops.append(resized[top : top + crop, left : left + crop])
        offsets.append((left, top))
        factors.append((width / image.shape[1], height / image.shape[0]))
    outputs = np.concatenate(
        [localizer.predict_on_batch(np.stack(crops[i : i + 32])) for i in range(0, len(crops), 32)]
    )
    per_class = np.asarray(outputs, np.float64).reshape(len(crops), -1, 4)
    labels = np.asarray(labels, np.int64)
    if per_class.shape[1] == 1:  # SCR: the shared box
        chosen = per_class[:, 0]
    else:
        chosen = per_class[np.arange(len(crops)), labels]
    corners = frame_to_corners(chosen, crop, crop)
    shift = np.array([[x, y, x, y] for x, y in offsets], np.float64)
    scale_back = np.array([[fx, fy, fx, fy] for fx, fy in factors], np.float64)
    return (corners + shift) / scale_back


@dataclass(frozen=True)
class Guess:
    """One (class, box) guess of protocol 2.

    Args:
        label: class index.
        posterior: the classifier's posterior of the class (averaged over scales).
        box: pixel corners ``(xmin, ymin, xmax, ymax)`` in the original image.
        rating: the merged box's accumulated window scores.
    """

    label: int
    posterior: float
    box: tuple[float, float, float, float]
    rating: float


class DenseLocalizer:
    """Protocol 2: dense localisation over scales, top-k classes, greedy merging, fusion.

    The classes and the window ratings come from the classification protocol's own code
    (`kvgg.evaluate.DenseScorer`, as `kvgg evaluate --method dense` runs it): each
    classifier scores the whole image at each of its scales, class scores averaged over
    the score map, soft-max, the mirrored image's posteriors averaged in (``flip``); the
    posteriors are averaged over the scales, then over the classifiers (fusion). The
    top-``top`` classes of that posterior are localised. A window's box is rated by the
    soft-max of the class scores at that window of the image at the same scale Q (the
    image itself, not its mirror; averaged over the classifiers that run at Q), so the
    rating of a merged box accumulates the class scores of the windows that predicted it.
    At a scale Q where no classifier runs, or whose windows differ from the localisation
    net's, every window is rated by the image's posterior.

    Args:
        classifier: the classification net giving the top classes, or a list of them
            with the same classes (fused: their posteriors averaged).
        localizers: ``[(localisation net, scales Q), ...]``; with several nets the union
            of their boxes is merged (the paper's Table 9 fusion).
        top: classes kept (5 for the ILSVRC top-5 error).
        threshold: the greedy merge threshold (`kvgg.localize.boxes.DEFAULT_MERGE_THRESHOLD`).
        classifier_scales: scales at which the classifiers score the image: one set for
            all, or one set per classifier; default: every scale of the localisation nets.
        flip: average in the mirrored image's posteriors (the classifiers' ``flip``).
        bucket: the classifiers' dense shape bucket (`kvgg.evaluate.DenseScorer`).

    Example:
        >>> import kvgg
        >>> from kvgg.localize.model import build_localizer
        >>> net = kvgg.build("A", width=1 / 16, num_classes=3, input_shape=(32, 32, 3))
        >>> localizer = build_localizer(net, regression="pcr")  # untrained: random boxes
        >>> photo = np.zeros((48, 64, 3), "uint8")
        >>> localize = DenseLocalizer(net, [(localizer, (32, 40))])  # paper: (352, 384)
        >>> guess = localize(photo)[0]  # the best
        >>> 0 <= guess.label < 3, len(guess.box)
        (True, 4)
    """

    def __init__(
        self,
        classifier: keras.Model | Sequence[keras.Model],
        localizers: Sequence[tuple[keras.Model, Sequence[int]]],
        *,
        top: int = 5,
        threshold: float = DEFAULT_MERGE_THRESHOLD,
        classifier_scales: Sequence[int] | Sequence[Sequence[int]] | None = None,
        flip: bool = True,
        bucket: int | str | None = "auto",
    ):
        from kvgg.evaluate.dense import DenseScorer
        from kvgg.evaluate.report import per_model

        classifiers = [classifier] if isinstance(classifier, keras.Model) else list(classifier)
        if not classifiers:
            raise ValueError("DenseLocalizer needs at least one classifier.")
        if not localizers:
            raise ValueError("DenseLocalizer needs at least one localisation net.")
        if top < 1:
            raise ValueError(f"`top` must be positive. Received: top={top}")
        if not np.isfinite(threshold):
            raise ValueError(f"The merge threshold must be finite. Received: threshold={threshold}")
        counts = {net.name: net.output_shape[-1] for net in classifiers}
        if len(set(counts.values())) != 1:
            raise ValueError(f"Fused classifiers must have the same classes. Received: {counts}")
        num_classes = classifiers[0].output_shape[-1]
        self.top = min(top, num_classes)
        self.threshold = float(threshold)
        self.nets = []
        for net, scales in localizers:
            crop = crop_size(net)
            self.nets.append(
                (
                    Forward(fully_convolutional(net), bucket=None),
                    check_scales(scales, crop),
                    crop,
                    regression_of(net, num_classes) == "pcr",
                )
            )
        every = sorted({q for _, scales, _, _ in self.nets for q in scales})
        self.scorers = [
            DenseScorer(net, scales=scales, flip=flip, bucket=bucket)
            for net, scales in zip(
                classifiers,
                per_model(every if classifier_scales is None else classifier_scales,
                          len(classifiers), "classifier_scales"),
                strict=True,
            )
        ]  # fmt: skip

    @property
    def classifier_scales(self) -> list[tuple[int, ...]]:
        """Each classifier's test scales Q."""
        return [scorer.scales for scorer in self.scorers]

    def classify(self, views: dict) -> tuple[np.ndarray, dict]:
        """The fused posteriors of the image and the window posteriors per scale Q.

        Args:
            views: ``views[Q]``: the image rescaled to smallest side Q, for every
                classifier scale.

        Returns:
            (posteriors (num_classes,), ``{Q: [(rows, cols, num_classes) maps]}``).
        """
        fused, maps = [], {}
        for scorer in self.scorers:
            per_scale = []
            for q in scorer.scales:
                posterior, window = scorer.posteriors_and_map(views[q])
                per_scale.append(posterior)
                maps.setdefault(q, []).append(window)
            fused.append(np.mean(per_scale, axis=0))  # as DenseScorer.__call__
        return np.mean(fused, axis=0), maps  # as `kvgg.evaluate.evaluate` fuses

    def __call__(self, image: np.ndarray) -> list[Guess]:
        """The top classes of one whole RGB image (H, W, 3), each with its merged box."""
        scales = {q for scorer in self.scorers for q in scorer.scales} | self._net_scales()
        views = {q: rescaled(image, q) for q in scales}
        posterior, maps = self.classify(views)
        classes = np.argsort(-posterior, kind="stable")[: self.top]
        corners = {int(c): [] for c in classes}
        ratings = {int(c): [] for c in classes}
        for forward, scales, crop, per_class in self.nets:
            for q in scales:
                view = views[q]
                box_map = forward(view[None])[0]  # (rows, cols, 4 or 4 * classes)
                rows, cols = box_map.shape[:2]
                boxes = box_map.reshape(rows, cols, -1, 4).astype(np.float64)
                window = self._window_corners(rows, cols)
                scores = self._window_scores(maps.get(q, []), rows, cols, posterior)
                size = np.array([view.shape[1], view.shape[0]] * 2, np.float64)
                for c in classes:
                    frame = boxes[:, :, c if per_class else 0]
                    pixels = frame_to_corners(frame, crop, crop) + window
                    corners[int(c)].append((pixels / size).reshape(-1, 4))
                    ratings[int(c)].append(scores[:, :, c].reshape(-1))
        height, width = image.shape[:2]
        guesses = []
        for c in classes:
            merged, rating = greedy_merge(
                np.concatenate(corners[int(c)]),
                np.concatenate(ratings[int(c)]),
                threshold=self.threshold,
            )
            box = merged[0] * np.array([width, height, width, height])
            guesses.append(
                Guess(int(c), float(posterior[c]), tuple(box.tolist()), float(rating[0]))
            )
        return guesses

    def _net_scales(self):
        return {q for _, scales, _, _ in self.nets for q in scales}

    @staticmethod
    def _window_corners(rows, cols):
        """(rows, cols, 4) pixel offsets (left, top, left, top) of each location's window."""
        top = np.arange(rows) * STRIDE
        left = np.arange(cols) * STRIDE
        grid_top, grid_left = np.meshgrid(top, left, indexing="ij")
        return np.stack([grid_left, grid_top, grid_left, grid_top], axis=-1).astype(np.float64)

    @staticmethod
    def _window_scores(score_maps, rows, cols, posterior):
        """(rows, cols, classes): the classifiers' posteriors at each window, averaged over
        the classifiers whose windows at this scale match the localisation net's; else the
        image's posterior everywhere."""
        matching = [m for m in score_maps if m.shape[:2] == (rows, cols)]
        if matching:
            return np.mean(matching, axis=0)
        return np.broadcast_to(posterior, (rows, cols, len(posterior)))
