"""Transfer descriptors: dense FC-2 features pooled, flipped, over scales, cached and resumable."""

from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import kvgg.transfer.features as features_module
from kvgg.data.sources import image_folder
from kvgg.data.transforms import decode_rgb, rescale
from kvgg.models.surgery import fully_convolutional
from kvgg.transfer import (
    descriptor_model,
    extract_features,
    fuse,
    model_fingerprint,
    save_features,
)
from tests.helpers import tiny_model

DESCRIBE = features_module._describe
SIZES = [(40, 52), (52, 40), (40, 52), (36, 36), (40, 52), (64, 48)]  # (height, width)


def make_folder(root, sizes=SIZES, seed=0):
    rng = np.random.default_rng(seed)
    for i, (height, width) in enumerate(sizes):
        folder = root / ("cat" if i % 2 else "dog")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.jpg", quality=95)
    return image_folder(root)


@pytest.fixture(scope="module")
def model():
    return tiny_model("A", num_classes=3)


@pytest.fixture
def source(tmp_path):
    return make_folder(tmp_path / "images")


def reference(model, path, scales, combine):
    """The paper's recipe written out for one image with stock ops."""
    network = fully_convolutional(model, until="fc2")
    image = decode_rgb(Path(path).read_bytes())  # the decoder is not what is under test
    per_scale = []
    for q in scales:
        x = np.asarray(rescale(image, q))[None]
        maps = [keras.ops.convert_to_numpy(network(v)) for v in (x, x[:, :, ::-1])]
        per_scale.append(np.mean([m.mean(axis=(1, 2))[0] for m in maps], axis=0))
    vector = np.mean(per_scale, axis=0) if combine == "average" else np.concatenate(per_scale)
    return vector / np.linalg.norm(vector)


@pytest.mark.backend
@pytest.mark.parametrize("combine", ["average", "stack"])
def test_features_follow_the_paper_recipe(model, source, combine):
    out = extract_features(
        model, source, scales=[32, 48], combine=combine, batch_size=2, progress=False
    )
    width = 256 if combine == "average" else 512  # FC-2 of a width-1/16 model: 4096 / 16
    assert out.shape == (len(SIZES), width)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-5)
    for row in (0, 3, 5):
        expected = reference(model, source.paths[row], [32, 48], combine)
        np.testing.assert_allclose(out[row], expected, rtol=1e-4, atol=1e-6)


@pytest.mark.backend
def test_batching_by_shape_does_not_change_features(model, source):
    one = extract_features(model, source, scales=[40], batch_size=1, progress=False)
    many = extract_features(model, source, scales=[40], batch_size=4, progress=False)
    np.testing.assert_allclose(one, many, rtol=1e-4, atol=1e-6)


@pytest.mark.backend
def test_flip_averages_with_the_mirrored_image(model, tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    (tmp_path / "a" / "x").mkdir(parents=True)
    (tmp_path / "b" / "x").mkdir(parents=True)
    Image.fromarray(image).save(tmp_path / "a" / "x" / "0.png")
    Image.fromarray(image[:, ::-1]).save(tmp_path / "b" / "x" / "0.png")
    original, mirrored = (
        extract_features(model, image_folder(tmp_path / d), scales=[40], progress=False)
        for d in "ab"
    )
    np.testing.assert_allclose(original, mirrored, rtol=1e-4, atol=1e-6)
    unflipped = extract_features(
        model, image_folder(tmp_path / "a"), scales=[40], flip=False, progress=False
    )
    assert not np.allclose(unflipped, original, atol=1e-4)


class Interrupted(BaseException):
    """Stands in for Ctrl-C (pytest reserves KeyboardInterrupt for itself)."""


def count_images(monkeypatch, fail_after=None):
    """Count the images described (and optionally stop, like Ctrl-C, after some batches)."""
    calls = {"images": 0, "batches": 0}

    def counting(network, batch, flip):
        if fail_after is not None and calls["batches"] == fail_after:
            raise Interrupted
        calls["batches"] += 1
        calls["images"] += len(batch)
        return DESCRIBE(network, batch, flip)

    monkeypatch.setattr(features_module, "_describe", counting)
    return calls


def test_cache_resumes_an_interrupted_extraction(model, source, tmp_path, monkeypatch):
    settings = {"scales": [32, 48], "batch_size": 1, "progress": False}
    expected = extract_features(model, source, **settings)
    cache = tmp_path / "cache"

    calls = count_images(monkeypatch, fail_after=len(SIZES) + 2)  # all of Q=32, two of Q=48
    with pytest.raises(Interrupted):
        extract_features(model, source, cache_dir=cache, chunk_size=1, **settings)
    assert calls["images"] == len(SIZES) + 2
    assert len(list(cache.glob("*/q32-flip/chunk-*.npz"))) == len(SIZES)
    assert not list(cache.rglob("*.part"))

    calls = count_images(monkeypatch)
    resumed = extract_features(model, source, cache_dir=cache, chunk_size=1, **settings)
    assert calls["images"] == len(SIZES) - 2  # only the unfinished images of Q=48
    np.testing.assert_allclose(resumed, expected, rtol=1e-5, atol=1e-7)

    calls = count_images(monkeypatch)
    again = extract_features(model, source, cache_dir=cache, **settings)
    assert calls["images"] == 0
    np.testing.assert_array_equal(again, resumed)


def test_cache_is_keyed_by_weights_and_content(model, source, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    extract_features(model, source, scales=[32], cache_dir=cache, progress=False)
    retrained = tiny_model("A", num_classes=3)
    retrained.set_weights([w + 0.01 for w in model.get_weights()])
    calls = count_images(monkeypatch)
    extract_features(retrained, source, scales=[32], cache_dir=cache, progress=False)
    assert calls["images"] == len(SIZES)  # other weights: nothing reused
    more = make_folder(tmp_path / "more", sizes=SIZES + [(48, 48)])  # same pixels + one image
    calls = count_images(monkeypatch)
    extract_features(model, more, scales=[32], cache_dir=cache, progress=False)
    assert calls["images"] == 1  # same image bytes in another folder are reused


def test_fingerprint_survives_save_and_load(model, tmp_path):
    import kvgg.io

    kvgg.io.save_model(model, tmp_path / "m.keras")
    loaded = kvgg.io.load_model(tmp_path / "m.keras")
    assert model_fingerprint(descriptor_model(loaded)) == model_fingerprint(descriptor_model(model))


def test_undecodable_image_is_named_and_finished_work_kept(model, source, tmp_path):
    bad = tmp_path / "images" / "dog" / "zzz.jpg"
    bad.write_bytes(b"not a jpeg at all")
    broken = image_folder(tmp_path / "images")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="zzz.jpg"):
        extract_features(
            model, broken, scales=[32], batch_size=1, cache_dir=cache, chunk_size=1, progress=False
        )
    assert len(list(cache.glob("*/q32-flip/chunk-*.npz"))) >= 1


def test_bad_settings_are_rejected(model, source):
    with pytest.raises(ValueError, match=r"scales=\[16\]"):
        extract_features(model, source, scales=[16], progress=False)
    with pytest.raises(ValueError, match="combine"):
        extract_features(model, source, scales=[32], combine="max", progress=False)


def test_fuse_stacks_and_normalises():
    a = np.eye(2, 3, dtype=np.float32)
    b = np.full((2, 2), 0.5, np.float32) / np.sqrt(0.5)
    both = fuse(a, b)
    assert both.shape == (2, 5)
    np.testing.assert_allclose(both, np.hstack([a, b]) / np.sqrt(2), rtol=1e-6)


def test_save_features_writes_a_self_describing_npz(tmp_path):
    x = np.random.default_rng(0).random((3, 4)).astype(np.float32)
    path = save_features(
        tmp_path / "f.npz", x, labels=np.array([0, 1, 1]), image_ids=["a", "b", "c"],
        settings={"scales": [256], "class_names": ["cat", "dog"]},
    )  # fmt: skip
    with np.load(path) as saved:
        np.testing.assert_array_equal(saved["features"], x)
        assert saved["image_ids"].tolist() == ["a", "b", "c"]
        assert saved["class_names"].tolist() == ["cat", "dog"]
        assert '"scales": [256]' in str(saved["settings"])
    with pytest.raises(ValueError, match="npz"):
        save_features(tmp_path / "f.txt", x, labels=[0, 1, 1], image_ids="abc", settings={})
