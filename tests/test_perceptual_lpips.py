"""kvgg's LPIPS equals the `lpips` package's on real photographs, on every Keras backend.

The reference is ``lpips.LPIPS(net="vgg", pnet_rand=True)``: a random VGG-16 (no download)
and the package's published linear weights (weights/v0.1/vgg.pth). Its backbone is copied
into kvgg through `kvgg.weights.from_torchvision`, as a user imports torchvision's VGG-16.
lpips takes nothing from torchvision but VGG-16's ``features`` layout (indices 0-30); the
registry's torchvision wheel does not load beside PyTorch's CPU build here, so the test hands
lpips that layout built from ``torch.nn`` layers.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kvgg.perceptual import LPIPS, lpips_linear_weights  # noqa: E402

VGG16_FEATURES = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"] + [512, 512, 512, "M"] * 2


def torchvision_vgg16_features() -> torch.nn.Sequential:
    """torchvision's ``vgg16().features`` (same modules, indices and initialisation)."""
    layers, channels = [], 3
    for item in VGG16_FEATURES:
        if item == "M":
            layers.append(torch.nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        conv = torch.nn.Conv2d(channels, item, kernel_size=3, padding=1)
        torch.nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        torch.nn.init.zeros_(conv.bias)
        layers += [conv, torch.nn.ReLU(inplace=True)]
        channels = item
    return torch.nn.Sequential(*layers)


def import_lpips():
    """Import lpips with a stand-in ``torchvision.models`` offering ``vgg16(pretrained=False)``."""
    if "lpips" in sys.modules:
        return sys.modules["lpips"]

    def vgg16(pretrained=False, **kwargs):
        assert not pretrained, "the test must not download torchvision's weights"
        return types.SimpleNamespace(features=torchvision_vgg16_features())

    models = types.ModuleType("torchvision.models")
    models.vgg16 = vgg16
    stub = types.ModuleType("torchvision")
    stub.models = models
    saved = {name: sys.modules.get(name) for name in ("torchvision", "torchvision.models")}
    sys.modules.update({"torchvision": stub, "torchvision.models": models})
    try:
        return pytest.importorskip("lpips", reason="the reference: pip install --no-deps lpips")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def photo_pairs(height=100, width=150):
    """Pairs of real photographs (scikit-learn's samples): crops, noise, blur, other photo."""
    from PIL import Image, ImageFilter
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    rng = np.random.default_rng(0)

    def crop(image, top, left):
        return image[top : top + height, left : left + width].astype("float32")

    def blurred(image):
        picture = Image.fromarray(image.astype("uint8")).filter(ImageFilter.GaussianBlur(2))
        return np.asarray(picture, dtype="float32")

    base = crop(china, 150, 200)
    pairs = [
        (base, np.clip(base + rng.normal(0, 20, base.shape), 0, 255)),  # noise
        (base, blurred(base)),  # blur
        (base, crop(china, 158, 212)),  # shifted crop
        (base, crop(flower, 200, 300)),  # another photograph
        (crop(flower, 100, 100), crop(flower, 100, 100)),  # identical
    ]
    images_a, images_b = (np.stack(side).astype("float32") for side in zip(*pairs, strict=True))
    return images_a, images_b


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The lpips package's distances, and its backbone saved as a torchvision state dict."""
    lpips = import_lpips()
    torch.manual_seed(0)
    metric = lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False)
    images_a, images_b = photo_pairs()
    to_torch = lambda x: torch.from_numpy(x.transpose(0, 3, 1, 2) / 127.5 - 1).float()  # noqa: E731
    with torch.no_grad():
        distances = metric(to_torch(images_a), to_torch(images_b)).reshape(-1).numpy()

    # lpips' slices hold torchvision's features.N modules under their own indices N.
    state = {
        f"features.{key.split('.', 1)[1]}": value for key, value in metric.net.state_dict().items()
    }
    generator = torch.Generator().manual_seed(0)
    # A one-unit classifier: from_torchvision reads widths from the file; LPIPS uses no FC.
    state |= {
        "classifier.0.weight": torch.randn(1, 512 * 7 * 7, generator=generator),
        "classifier.0.bias": torch.zeros(1),
        "classifier.3.weight": torch.ones(1, 1),
        "classifier.3.bias": torch.zeros(1),
        "classifier.6.weight": torch.ones(1, 1),
        "classifier.6.bias": torch.zeros(1),
    }
    path = tmp_path_factory.mktemp("lpips") / "random_vgg16.pth"
    torch.save(state, path)
    return path, images_a, images_b, distances


@pytest.fixture(scope="module")
def kvgg_lpips(reference):
    """kvgg's LPIPS on the reference's backbone; linear=None: the installed package's vgg.pth."""
    return LPIPS(backbone=str(reference[0]))


@pytest.mark.backend
def test_lpips_equals_the_lpips_package_on_real_photographs(reference, kvgg_lpips):
    import keras

    _, images_a, images_b, expected = reference
    lpips = kvgg_lpips

    distances = keras.ops.convert_to_numpy(lpips(images_a, images_b))
    assert distances.shape == (len(images_a),)
    # the pairs differ from each other: the check cannot pass on a constant
    assert expected[4] == 0 and len(np.unique(np.round(expected[:4], 3))) == 4
    assert expected[:4].min() > 0.01
    print("max |kvgg - lpips|:", np.abs(distances - expected).max())
    np.testing.assert_allclose(distances, expected, rtol=0, atol=1e-4)


@pytest.mark.backend
def test_lpips_gradient_reaches_the_image(reference, kvgg_lpips):
    from tests.test_perceptual import gradient_wrt_input

    _, images_a, images_b, _ = reference
    lpips = kvgg_lpips
    a, b = images_a[:1, :32, :32], images_b[:1, :32, :32]  # small: eager autodiff on JAX
    gradient = gradient_wrt_input(lambda x: lpips(a, x), b)
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


def test_package_linear_weights_are_read_without_importing_lpips(monkeypatch):
    import importlib.util

    if importlib.util.find_spec("lpips") is None:
        pytest.skip("the weights ship in the lpips package: pip install --no-deps lpips")
    for name in [name for name in sys.modules if name.split(".")[0] in ("lpips", "torchvision")]:
        monkeypatch.delitem(sys.modules, name)  # (put back after the test)
    weights = lpips_linear_weights()
    assert [w.shape for w in weights] == [(64,), (128,), (256,), (512,), (512,)]
    assert min(w.min() for w in weights) >= 0  # the published weights are non-negative
    assert "lpips" not in sys.modules and "torchvision" not in sys.modules


def test_a_state_dict_that_is_not_lpips_weights_is_named(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(2, 3, 3, 3)}, path)
    with pytest.raises(ValueError, match="other.pth.*not an LPIPS linear-weights file"):
        lpips_linear_weights(path)


@pytest.mark.slow  # two processes (TensorFlow, PyTorch), each builds a VGG-16: ~30 s on 2 cores
def test_benchmark_quick_run_prints_the_speed_ratio():
    import importlib.util

    from tests.helpers import run_benchmark

    if importlib.util.find_spec("lpips") is None:
        pytest.skip("the reference needs `pip install --no-deps lpips`")
    lines = run_benchmark("perceptual", "--quick").splitlines()
    assert lines[0].startswith("LPIPS (VGG) per pair, 32x32, batch 2, 2 interleaved rounds")
    ratio = [line for line in lines if line.startswith("speed ratio lpips / kvgg LPIPS (")]
    assert len(ratio) == 1 and float(ratio[0].rsplit(":", 1)[1]) > 0
