"""RGB statistics for the colour augmentation: mean and the covariance's eigen basis.

Eigenvalues follow AlexNet's convention on the [0, 255] scale: ``lambda = 255 * eig(cov(x /
255))`` = ``eig(cov(x)) / 255`` for pixels x in [0, 255]. AlexNet's shift ``sum_i alpha_i *
lambda_i * p_i`` was defined on [0, 1] pixels with eigenvalues (0.2175, 0.0188, 0.0045);
with kvgg's [0, 255] pixels the same shift needs them times 255 (55.46, 4.794, 1.148), and
:func:`compute_stats` reports them that way too, so computed and shipped values are
interchangeable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kvgg.data.sources import Source
from kvgg.io import read_text_file, write_text
from kvgg.models.configs import IMAGENET_MEAN_RGB

__all__ = ["IMAGENET_STATS", "ColorStats", "compute_stats"]


@dataclass(frozen=True)
class ColorStats:
    """Mean RGB and the RGB covariance's eigenvalues/eigenvectors of a training set.

    Attributes:
        mean: (3,) mean R, G, B on the [0, 255] scale.
        eigenvalues: (3,) in descending order, AlexNet convention on [0, 255] (module doc).
        eigenvectors: (3, 3), one unit eigenvector per column, matching ``eigenvalues``.
    """

    mean: tuple[float, float, float]
    eigenvalues: tuple[float, float, float]
    eigenvectors: tuple[tuple[float, float, float], ...]

    def __post_init__(self):
        shapes = (np.shape(self.mean), np.shape(self.eigenvalues), np.shape(self.eigenvectors))
        if shapes != ((3,), (3,), (3, 3)):
            raise ValueError(
                "ColorStats needs mean (3,), eigenvalues (3,), eigenvectors (3, 3). "
                f"Received shapes: {shapes}"
            )

    def save(self, path) -> Path:
        """Write the statistics as JSON (atomically).

        Example:
            >>> import tempfile
            >>> IMAGENET_STATS.save(f"{tempfile.mkdtemp()}/stats.json").name
            'stats.json'
        """
        data = {
            "mean": [float(v) for v in self.mean],
            "eigenvalues": [float(v) for v in self.eigenvalues],
            "eigenvectors": [[float(v) for v in row] for row in self.eigenvectors],
            "scale": "pixels in [0, 255]; eigenvalues = eig(cov) / 255 (AlexNet convention)",
        }
        return write_text(path, json.dumps(data, indent=1))

    @classmethod
    def load(cls, path) -> ColorStats:
        """Read statistics written by :meth:`save` or ``kvgg data stats``.

        Example:
            >>> import tempfile
            >>> path = IMAGENET_STATS.save(f"{tempfile.mkdtemp()}/stats.json")
            >>> ColorStats.load(path) == IMAGENET_STATS
            True
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No colour statistics file at '{path}'.")
        try:
            data = json.loads(read_text_file(path))
            return cls(
                mean=tuple(data["mean"]),
                eigenvalues=tuple(data["eigenvalues"]),
                eigenvectors=tuple(tuple(row) for row in data["eigenvectors"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"'{path}' is not a colour statistics file: {error!r}") from error


# Mean RGB of the ILSVRC-2012 training set as used by VGG's released models, and the PCA
# basis published with AlexNet (as in fb.resnet.torch), eigenvalues scaled to [0, 255].
IMAGENET_STATS = ColorStats(
    mean=IMAGENET_MEAN_RGB,
    eigenvalues=(55.46, 4.794, 1.148),
    eigenvectors=(
        (-0.5675, 0.7192, 0.4009),
        (-0.5808, -0.0045, -0.8140),
        (-0.5836, -0.6948, 0.4203),
    ),
)


def compute_stats(
    source: Source | str | dict,
    *,
    max_images: int | None = 10_000,
    seed: int = 0,
    progress: bool = True,
) -> ColorStats:
    """Mean RGB and covariance eigen basis over (a random sample of) a source's images.

    Every pixel of every sampled image counts (images are decoded at full size).
    Undecodable images are skipped and logged.

    Args:
        source: a :class:`~kvgg.data.sources.Source` or its spec for
            :func:`~kvgg.data.open_source`.
        max_images: size of the random sample (None: every image).
        seed: seed of the sample.
        progress: show a progress bar.

    Returns:
        :class:`ColorStats`.

    Example:
        >>> import tempfile
        >>> from kvgg.data import image_folder
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> stats = compute_stats(image_folder(images), max_images=5000, progress=False)
        >>> [round(v) for v in stats.mean]
        [112, 114, 111]
    """
    from tqdm import tqdm

    from kvgg.data.pipeline import image_dataset
    from kvgg.data.spec import open_source

    source = open_source(source)
    total = len(source) if max_images is None else min(max_images, len(source))
    if total == 0:
        raise ValueError(f"Source {source.name!r} has no images to compute statistics on.")
    images = image_dataset(source, shuffle=total < len(source), seed=seed).take(total)
    count = 0
    sums = np.zeros(3)
    products = np.zeros((3, 3))
    for image, _ in tqdm(
        images.as_numpy_iterator(), total=total, desc="stats", disable=not progress
    ):
        pixels = image.reshape(-1, 3).astype(np.float64)
        count += len(pixels)
        sums += pixels.sum(axis=0)
        products += pixels.T @ pixels
    if count == 0:
        raise ValueError(f"No image of {source.name!r} could be decoded.")
    mean = sums / count
    covariance = products / count - np.outer(mean, mean)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    eigenvectors = eigenvectors[:, order]
    eigenvectors *= np.where(eigenvectors[0] > 0, -1.0, 1.0)  # sign as in IMAGENET_STATS
    return ColorStats(
        mean=tuple(mean),
        eigenvalues=tuple(np.maximum(eigenvalues[order], 0.0) / 255.0),
        eigenvectors=tuple(tuple(row) for row in eigenvectors),
    )
