"""torchvision VGG state dicts imported into kvgg give the torch model's posteriors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.helpers import random_images

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'kvgg[torch]')")
nn = torch.nn

from click.testing import CliRunner  # noqa: E402

from kvgg.cli import main  # noqa: E402
from kvgg.io import read_info  # noqa: E402
from kvgg.weights import from_torchvision, import_weights  # noqa: E402

# torchvision.models.vgg's layer lists ("M" = max-pool), written out independently of kvgg.
TORCHVISION_LAYERS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M"]
    + [512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M"]
    + [512, 512, 512, 512, "M"],
}
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class TorchVisionVGG(nn.Module):
    """torchvision's VGG module layout and state-dict keys, with a width divisor for speed."""

    def __init__(self, config, batch_norm=False, divisor=16, fc_units=32, num_classes=10, size=32):
        super().__init__()
        layers, channels = [], 3
        for item in TORCHVISION_LAYERS[config]:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            out = item // divisor
            layers.append(nn.Conv2d(channels, out, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(channels * 7 * 7, fc_units),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(fc_units, fc_units),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(fc_units, num_classes),
        )
        self._randomise()
        self.eval()
        self._sharpen(random_images(4, size=size, seed=99))

    def _randomise(self):
        """He-scaled weights and random BN statistics, so posteriors are far from uniform."""
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Conv2d | nn.Linear):
                    fan_in = module.weight[0].numel()
                    module.weight.normal_(0, (2 / fan_in) ** 0.5, generator=generator)
                    module.bias.uniform_(-0.1, 0.1, generator=generator)
                elif isinstance(module, nn.BatchNorm2d):
                    module.weight.uniform_(0.5, 1.5, generator=generator)
                    module.bias.uniform_(-0.2, 0.2, generator=generator)
                    module.running_mean.uniform_(-0.5, 0.5, generator=generator)
                    module.running_var.uniform_(0.5, 2.0, generator=generator)

    def _sharpen(self, rgb):
        """Scale the last layer so logits spread by ~3: deep random nets are near-uniform."""
        last = self.classifier[6]
        with torch.no_grad():
            scale = 3 / self.logits(rgb).std()
            last.weight *= scale
            last.bias *= scale

    def logits(self, rgb):
        """Outputs for NHWC RGB [0, 255] images, with torchvision's preprocessing."""
        x = torch.from_numpy(rgb).permute(0, 3, 1, 2) / 255
        x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
        with torch.no_grad():
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    def posteriors(self, rgb):
        return torch.softmax(self.logits(rgb), dim=1).numpy()


def save_state_dict(module, path):
    torch.save(module.state_dict(), path)
    return path


def assert_same_posteriors(model, peer, images):
    import keras

    expected = peer.posteriors(images)
    assert expected.max() > 2 / expected.shape[1], "random peer too close to uniform to check"
    actual = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_allclose(actual, expected, atol=1e-4)
    np.testing.assert_array_equal(actual.argmax(1), expected.argmax(1))


@pytest.mark.backend
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("config", ["A", "B", "D", "E"])
def test_import_gives_torchvision_posteriors(tmp_path, config, batch_norm):
    peer = TorchVisionVGG(config, batch_norm=batch_norm)
    path = save_state_dict(peer, tmp_path / "vgg.pth")
    model = from_torchvision(path, config, input_shape=(32, 32, 3))
    assert model.output_shape == (None, 10)
    assert ("block1_conv1_bn" in [layer.name for layer in model.layers]) == batch_norm
    assert_same_posteriors(model, peer, random_images(4, size=32))


@pytest.mark.backend
@pytest.mark.parametrize("size", [64, 96, 224])
def test_adaptive_average_pool_is_folded_exactly_into_fc1(tmp_path, size):
    # The block-5 map is 2x2, 3x3 or 7x7: torchvision pools it to 7x7 before FC-1.
    peer = TorchVisionVGG("A", batch_norm=True, size=size)
    path = save_state_dict(peer, tmp_path / "vgg.pth")
    model = from_torchvision(path, "vgg11", input_shape=(size, size, 3))
    assert_same_posteriors(model, peer, random_images(2, size=size, seed=size))


def test_data_parallel_prefix_is_stripped(tmp_path):
    peer = TorchVisionVGG("A")
    path = tmp_path / "vgg.pth"
    torch.save(nn.DataParallel(peer).state_dict(), path)
    model = from_torchvision(path, "A", input_shape=(32, 32, 3))
    assert_same_posteriors(model, peer, random_images(2))


def test_wrong_config_names_the_missing_keys(tmp_path):
    path = save_state_dict(TorchVisionVGG("D"), tmp_path / "vgg16.pth")
    with pytest.raises(ValueError, match=r"vgg16\.pth.*missing keys \['features\.3\.bias"):
        from_torchvision(path, "A", input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match=r"missing keys \['features\.16\.bias"):
        from_torchvision(path, "E", input_shape=(32, 32, 3))


def test_shape_mismatch_names_the_key_and_shapes(tmp_path):
    state = TorchVisionVGG("A").state_dict()
    state["classifier.3.weight"] = torch.zeros(32, 16)
    path = tmp_path / "vgg.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"'classifier\.3'.*'fc2'.*\(32, 32\).*\(16, 32\)"):
        from_torchvision(path, "A", input_shape=(32, 32, 3))


def test_foreign_state_dict_is_rejected(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(8, 3, 7, 7), "fc.weight": torch.zeros(10, 8)}, path)
    with pytest.raises(ValueError, match=r"resnet\.pth.*missing keys \['classifier\.0\.bias"):
        from_torchvision(path, "D")


def test_pickled_module_is_not_a_state_dict(tmp_path):
    path = tmp_path / "whole_model.pth"
    torch.save(TorchVisionVGG("A"), path)
    with pytest.raises(
        ValueError, match=r"whole_model\.pth.*not a readable torch state dict"
    ) as info:
        from_torchvision(path, "A")
    # One line naming the file and what it holds, not torch's page of unpickling advice.
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    assert "pickled Python objects" in message


def test_non_torch_file_and_missing_file(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="notes.pth"):
        from_torchvision(path, "A")
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        from_torchvision(tmp_path / "absent.pth", "A")


def test_configs_torchvision_does_not_publish_are_rejected(tmp_path):
    path = save_state_dict(TorchVisionVGG("A"), tmp_path / "vgg.pth")
    for config in ("C", "A-LRN"):
        with pytest.raises(ValueError, match=f"config='{config}'"):
            from_torchvision(path, config)


def test_missing_torch_gives_install_hint(tmp_path, monkeypatch):
    path = save_state_dict(TorchVisionVGG("A"), tmp_path / "vgg.pth")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'kvgg\[torch\]'"):
        from_torchvision(path, "A")


def test_cli_import_attaches_imagenet_names_and_the_weights_origin(tmp_path):
    peer = TorchVisionVGG("B", batch_norm=True, num_classes=1000, size=224)
    path = save_state_dict(peer, tmp_path / "vgg13_bn.pth")
    out = tmp_path / "models" / "vgg13_bn.keras"
    args = ["weights", "import", "--from", "torchvision", "--file", path, "--config", "vgg13"]
    result = CliRunner().invoke(main, [str(arg) for arg in args + ["--out", out]])
    assert result.exit_code == 0, result.output
    info = read_info(out)
    assert info["config"] == "B" and info["batch_norm"] is True
    assert info["weights"]["source"] == "torchvision"
    assert info["weights"]["file"] == str(path)
    assert info["weights"]["preprocessing"]["std"] == [58.395, 57.12, 57.375]
    assert info["class_names"][1] == "goldfish, Carassius auratus"
    import keras

    loaded = keras.saving.load_model(out)
    assert_same_posteriors(loaded, peer, random_images(2, size=224))


def test_import_weights_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="source='caffe'"):
        import_weights("caffe", "D", tmp_path / "x.keras")
    with pytest.raises(ValueError, match=r"out='.*x\.h5'"):
        import_weights("torchvision", "D", tmp_path / "x.h5", file="vgg16.pth")
    args = ["weights", "import", "--from", "torchvision", "--config", "D", "--out", "x.keras"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "needs the .pth file" in result.output and "--file" in result.output


def test_cli_reports_a_bad_file_in_one_line(tmp_path):
    path = save_state_dict(TorchVisionVGG("D"), tmp_path / "vgg16.pth")
    out = tmp_path / "vgg11.keras"
    args = ["weights", "import", "--from", "torchvision", "--file", str(path), "--config", "A"]
    result = CliRunner().invoke(main, args + ["--out", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and "vgg16.pth" in result.output
    assert not out.exists()
