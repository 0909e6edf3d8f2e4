import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kvgg.data import IMAGENET_STATS, transforms
from tests.data_fixtures import class_image, make_bad_files


def _jpeg(array, quality=95):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return tf.constant(buffer.getvalue())


def _photo(height, width):
    from sklearn.datasets import load_sample_images

    return load_sample_images().images[1][:height, :width]


def _in_map(fn, *args):
    """Run fn(*args) inside a tf.data map (graph mode) and return the result."""
    dataset = tf.data.Dataset.from_tensors(args).map(lambda *a: fn(*a))
    return next(iter(dataset)).numpy()


@pytest.mark.parametrize(
    "kind", ["grayscale_jpeg", "cmyk_jpeg", "rgba_png", "png_named_jpg", "gif_named_jpg", "tiny"]
)
def test_decode_rgb_gives_three_channel_rgb_matching_pillow(tmp_path, kind):
    path = make_bad_files(tmp_path)[kind]
    decoded = transforms.decode_rgb(tf.io.read_file(str(path))).numpy()
    with Image.open(path) as image:
        expected = np.asarray(image.convert("RGB"))
    assert decoded.dtype == np.uint8 and decoded.shape == expected.shape
    tolerance = 40 if kind == "cmyk_jpeg" else 3  # CMYK conversion differs between libraries
    assert np.abs(decoded.astype(int) - expected).mean() < tolerance


@pytest.mark.parametrize("shape", [(375, 500), (500, 375), (12, 7), (256, 256)])
def test_rescale_sets_smallest_side_and_keeps_aspect(shape):
    image = tf.zeros(shape + (3,), tf.uint8)
    for result in (transforms.rescale(image, 256).numpy(), _in_map(transforms.rescale, image, 256)):
        assert min(result.shape[:2]) == 256 and result.dtype == np.float32
        assert abs(result.shape[0] / result.shape[1] - shape[0] / shape[1]) < 0.02


def test_center_crop_is_the_middle_window():
    image = np.arange(10 * 12 * 3, dtype=np.float32).reshape(10, 12, 3)
    np.testing.assert_array_equal(transforms.center_crop(image, 4).numpy(), image[3:7, 4:8])
    np.testing.assert_array_equal(
        _in_map(lambda x: transforms.center_crop(x, 4), image), image[3:7, 4:8]
    )


def _find_window(image, crop):
    size = crop.shape[0]
    for top in range(image.shape[0] - size + 1):
        for left in range(image.shape[1] - size + 1):
            if np.array_equal(image[top : top + size, left : left + size], crop):
                return top, left
    return None


def test_random_crop_is_a_seeded_window_same_eager_and_in_tf_data():
    image = np.random.default_rng(0).integers(0, 255, (20, 30, 3)).astype(np.float32)
    seed = tf.constant([4, 2])
    eager = transforms.random_crop(image, 8, seed).numpy()
    assert _find_window(image, eager) is not None
    np.testing.assert_array_equal(
        _in_map(lambda x, s: transforms.random_crop(x, 8, s), image, seed), eager
    )
    windows = {
        _find_window(image, transforms.random_crop(image, 8, [i, 0]).numpy()) for i in range(30)
    }
    assert len(windows) > 10  # seeds spread the windows


def test_random_flip_mirrors_half_the_time_deterministically():
    image = np.random.default_rng(1).uniform(0, 255, (5, 6, 3)).astype(np.float32)
    flipped = 0
    for i in range(40):
        out = transforms.random_flip(image, [i, 1]).numpy()
        np.testing.assert_array_equal(
            _in_map(transforms.random_flip, image, tf.constant([i, 1])), out
        )
        if np.array_equal(out, image[:, ::-1]):
            flipped += 1
        else:
            np.testing.assert_array_equal(out, image)
    assert 8 < flipped < 32


def test_color_shift_adds_one_pca_offset_per_image():
    image = np.full((4, 4, 3), 128.0, np.float32)
    out = transforms.color_shift(image, IMAGENET_STATS, seed=[7, 7]).numpy()
    offset = out[0, 0] - 128.0
    np.testing.assert_allclose(out - 128.0, np.broadcast_to(offset, out.shape), atol=1e-4)
    # The offset lies in the span of eigenvectors scaled by eigenvalues: solve for alpha.
    basis = np.array(IMAGENET_STATS.eigenvectors) * np.array(IMAGENET_STATS.eigenvalues)
    alpha = np.linalg.solve(basis, offset)
    assert np.all(np.abs(alpha) < 0.6) and np.any(alpha != 0)
    np.testing.assert_allclose(
        _in_map(
            lambda x, s: transforms.color_shift(x, IMAGENET_STATS, seed=s),
            image,
            tf.constant([7, 7]),
        ),
        out,
    )
    alphas = []
    for i in range(200):
        shifted = transforms.color_shift(image, IMAGENET_STATS, seed=[i, 3]).numpy()[0, 0] - 128
        alphas.append(np.linalg.solve(basis, shifted))
    assert 0.07 < np.std(alphas) < 0.13  # alpha ~ N(0, 0.1)


def test_draw_scale_covers_the_jitter_range():
    draws = [int(transforms.draw_scale((256, 512), [i, 9])) for i in range(300)]
    assert min(draws) >= 256 and max(draws) <= 512 and max(draws) - min(draws) > 200
    assert int(transforms.draw_scale(384, [0, 0])) == 384


def _neighbour_difference(image):
    """Mean change between horizontally adjacent pixels: what a one-pixel shift costs."""
    image = np.asarray(image, np.float32)
    return np.abs(image[:, 1:] - image[:, :-1]).mean()


@pytest.mark.parametrize("scale", [384, 512, (256, 512), 256])
def test_fused_decode_crop_matches_the_naive_path(scale):
    encoded = _jpeg(_photo(375, 500))
    decoded = transforms.decode_rgb(encoded)
    for i in range(4):
        seed = tf.constant([i, 11])
        fast = transforms.decode_random_crop(encoded, scale, 224, seed, flip=True).numpy()
        naive = transforms.rescale_random_crop(decoded, scale, 224, seed, flip=True).numpy()
        assert fast.shape == (224, 224, 3)
        # The same window and flip up to half a source pixel (and antialiasing in the naive
        # path when it shrinks): closer than a one-pixel shift of the reference.
        largest = max([scale] if isinstance(scale, int) else scale)
        half_source_pixel = 0.5 * max(1.0, largest / 375)  # in output pixels
        assert np.abs(fast - naive).mean() < (half_source_pixel + 0.2) * _neighbour_difference(
            naive
        )


def test_fused_decode_crop_samples_within_half_a_source_pixel_of_the_naive_path():
    # Red = source column, green = source row: after a bilinear resize each output pixel
    # holds the source coordinates it was sampled at, so the two paths' geometry compare.
    rows, cols = np.mgrid[0:200, 0:250]
    ramp = np.stack([cols, rows, np.zeros_like(rows)], axis=-1).astype(np.uint8)
    png = io.BytesIO()
    Image.fromarray(ramp).save(png, format="PNG")
    encoded = tf.constant(png.getvalue())
    mirrored = 0
    for i in range(20):
        seed = tf.constant([i, 3])
        fast = transforms.decode_random_crop(encoded, (224, 512), 224, seed, flip=True).numpy()
        naive = transforms.rescale_random_crop(ramp, (224, 512), 224, seed, flip=True).numpy()
        inner = (slice(1, -1), slice(1, -1))  # the naive resize renormalises at the border
        assert np.abs(fast - naive)[inner][..., :2].max() < 0.5 + 1e-3
        mirrored += bool(fast[0, 0, 0] > fast[0, -1, 0])  # columns run right to left
    assert 4 <= mirrored <= 16


def test_fused_decode_crop_uses_dct_downscaling_on_large_images():
    big = np.asarray(Image.fromarray(_photo(375, 500)).resize((2000, 1500)))
    encoded = _jpeg(big)
    seed = tf.constant([3, 1])
    fast = transforms.decode_random_crop(encoded, 256, 224, seed).numpy()
    naive = transforms.rescale_random_crop(transforms.decode_rgb(encoded), 256, 224, seed).numpy()
    assert np.abs(fast - naive).mean() < 3.0


def test_fused_decode_crop_in_tf_data_equals_eager_and_handles_png_and_tiny():
    png = io.BytesIO()
    Image.fromarray(class_image(2, (10, 6))).save(png, format="PNG")  # smaller than the crop
    for encoded in (_jpeg(_photo(300, 200)), tf.constant(png.getvalue())):
        seed = tf.constant([5, 6])
        eager = transforms.decode_random_crop(encoded, (64, 96), 48, seed).numpy()
        graph = _in_map(
            lambda e, s: transforms.decode_random_crop(e, (64, 96), 48, s), encoded, seed
        )
        np.testing.assert_allclose(graph, eager, atol=1e-4)
        decoded = transforms.decode_rgb(encoded)
        naive = transforms.rescale_random_crop(decoded, (64, 96), 48, seed).numpy()
        # Within a fraction of a pixel of the coarser grid (the source, for the tiny image).
        coarser = max(_neighbour_difference(decoded), _neighbour_difference(naive))
        assert np.abs(eager - naive).mean() < 0.7 * coarser
