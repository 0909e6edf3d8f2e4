import json

import numpy as np
import pytest

from kvgg import data
from kvgg.data import ColorStats
from tests.data_fixtures import write_image


def test_compute_stats_matches_numpy_on_every_pixel(tmp_path):
    rng = np.random.default_rng(0)
    arrays = []
    for i in range(4):
        base = rng.normal(120, 40, (16, 20, 1))
        image = np.clip(base + rng.normal(0, [5, 10, 20], (16, 20, 3)), 0, 255).astype(np.uint8)
        arrays.append(image)
        write_image(tmp_path / "c" / f"{i}.png", image)
    stats = data.compute_stats(data.image_folder(tmp_path), max_images=None, progress=False)
    pixels = np.concatenate([a.reshape(-1, 3) for a in arrays]).astype(np.float64)
    np.testing.assert_allclose(stats.mean, pixels.mean(0), rtol=1e-6)
    values, vectors = np.linalg.eigh(np.cov(pixels.T, bias=True))
    np.testing.assert_allclose(stats.eigenvalues, values[::-1] / 255, rtol=1e-5)
    for k in range(3):  # same eigenvectors up to sign
        assert abs(abs(np.dot(np.array(stats.eigenvectors)[:, k], vectors[:, 2 - k])) - 1) < 1e-6
    assert stats.eigenvectors[0][0] < 0  # sign convention of IMAGENET_STATS


def test_compute_stats_samples_in_memory_sources():
    stats = data.compute_stats(data.digits("test"), max_images=50, progress=False)
    assert 0 < stats.mean[0] < 255 and stats.mean[0] == pytest.approx(stats.mean[2])
    assert stats.eigenvalues[0] > stats.eigenvalues[1] >= stats.eigenvalues[2] >= 0


def test_save_load_round_trip_and_errors(tmp_path):
    path = data.IMAGENET_STATS.save(tmp_path / "s" / "imagenet.json")
    assert ColorStats.load(path) == data.IMAGENET_STATS
    assert json.loads(path.read_text())["eigenvalues"] == [55.46, 4.794, 1.148]
    (tmp_path / "bad.json").write_text('{"mean": [1, 2, 3]}')
    with pytest.raises(ValueError, match=r"bad\.json"):
        ColorStats.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match=r"none\.json"):
        ColorStats.load(tmp_path / "none.json")
    with pytest.raises(ValueError, match="eigenvectors"):
        ColorStats(mean=(1, 2, 3), eigenvalues=(1, 2, 3), eigenvectors=((1, 0, 0),))


def test_imagenet_eigenvectors_are_orthonormal():
    vectors = np.array(data.IMAGENET_STATS.eigenvectors)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(3), atol=2e-3)
