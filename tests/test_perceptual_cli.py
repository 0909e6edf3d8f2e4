"""`kvgg lpips`: distances of image pairs, and one-line errors for bad input."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import kvgg
from kvgg.cli import main
from kvgg.perceptual import LPIPS

CHANNELS = (64, 128, 256, 512, 512)


def invoke(*args):
    return CliRunner().invoke(main, ["lpips", *map(str, args)])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A random full-width VGG-16 (.keras), linear weights (.npz) and three PNG photos."""
    from sklearn.datasets import load_sample_images

    root = tmp_path_factory.mktemp("lpips_cli")
    keras.utils.set_random_seed(0)
    kvgg.build("D", include_top=False).save(root / "vgg16.keras")
    rng = np.random.default_rng(0)
    np.savez(root / "lin.npz", **{f"lin{k}": rng.uniform(0, 1, c) for k, c in enumerate(CHANNELS)})
    china = load_sample_images().images[0]
    photo = china[100:164, 200:264]
    noisy = np.clip(photo + rng.normal(0, 25, photo.shape), 0, 255).astype("uint8")
    for name, image in (("photo", photo), ("noisy", noisy), ("small", photo[:40, :50])):
        Image.fromarray(image).save(root / f"{name}.png")
    return root


def test_prints_one_distance_per_pair_equal_to_the_python_api(files):
    result = invoke(
        "--model", files / "vgg16.keras", "--linear", files / "lin.npz",
        files / "photo.png", files / "noisy.png", files / "photo.png", files / "photo.png",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    noisy_distance = float(lines[0].split()[0])
    assert lines[0].endswith("photo.png  " + str(files / "noisy.png"))
    assert lines[1].startswith("0.0000  ")
    metric = LPIPS(backbone=str(files / "vgg16.keras"), linear=str(files / "lin.npz"))
    photo = np.asarray(Image.open(files / "photo.png"))[None]
    noisy = np.asarray(Image.open(files / "noisy.png"))[None]
    expected = float(keras.ops.convert_to_numpy(metric(photo, noisy))[0])
    assert expected > 0.001
    assert noisy_distance == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    "case, message",
    [
        ("odd", "IMAGES come in pairs"),
        ("sizes", "is 50x40"),
        ("corrupt", "broken.png' is not a readable image"),
        ("linear", "lin_bad.npz: LPIPS (VGG) needs five finite weight vectors"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, case, message):
    (files / "broken.png").write_bytes(b"not a png")
    np.savez(files / "lin_bad.npz", **{f"lin{k}": np.ones(3) for k in range(5)})
    model, linear = files / "vgg16.keras", files / "lin.npz"
    pairs = {
        "odd": [files / "photo.png"],
        "sizes": [files / "photo.png", files / "small.png"],
        "corrupt": [files / "photo.png", files / "broken.png"],
        "linear": [files / "photo.png", files / "photo.png"],
    }[case]
    if case == "linear":
        linear = files / "lin_bad.npz"
    result = invoke("--model", model, "--linear", linear, *pairs)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
