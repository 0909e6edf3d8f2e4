"""Every example in every command's ``--help`` runs as written, on tiny inputs made here.

The examples are read from the help text itself (a line starting with ``kvgg``, continued
by a trailing backslash), so an example added to a command is run without touching this
file. Each runs in a fresh folder holding what it names: tiny models at the paths it uses
(``vgg16.keras``, ``runs/d``, ...), photos, an image folder with boxes (``val/``,
``bbox/val/``), and the repository's ``recipes/``. The few that cannot run here say why in
`NOT_RUN`; the costly ones are slow; those that need an optional package skip without it.
"""

from __future__ import annotations

import glob
import re
import shlex
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kvgg.cli import main

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["blue", "green", "red"]  # the classes of kvgg.localize.demo.pasted_objects

NOT_RUN = {
    "kvgg fit recipes/vgg16_s256.yaml --set optimizer.batch_size=128": "trains the full-size "
    "VGG16 on ImageNet for 74 epochs (tests/test_recipes_all.py runs its --smoke setting)",
    "kvgg weights import --from keras --config D -o vgg16.keras": "downloads keras.applications' "
    "weights (tests/test_weights_keras.py imports a file in their layout)",
}
SLOW = {
    "kvgg fit recipes/quickstart.yaml",  # a minute of training
    "kvgg transfer recipes/transfer/voc2007.yaml",  # five scales up to 768
    "kvgg transfer recipes/transfer/caltech101.yaml --set models.D=vgg16.keras "
    "--set models.E=null",  # 3,200 images at three scales
    "kvgg lpips --model vgg16_tv.keras photo.png photo_blurred.png",  # a full-width VGG16
}
NEEDS = {  # example prefix -> the optional packages it needs
    "kvgg export --model runs/quickstart --format onnx --int8": ("tf2onnx", "onnxruntime"),
    "kvgg export --model runs/quickstart --format onnx": ("tf2onnx", "onnx"),
    "kvgg export --model vgg16.keras --format openvino": ("openvino",),
    "kvgg weights import --from torchvision": ("torch",),
    "kvgg lpips": ("lpips",),
}
PREPARE = {  # example prefix -> commands that make its inputs first
    "kvgg report": ["kvgg evaluate --model runs/d --data val/"],
    "kvgg features": ["kvgg data demo voc"],
    "kvgg transfer recipes/transfer/voc2007.yaml": ["kvgg data demo voc"],
    "kvgg transfer recipes/transfer/caltech101.yaml": ["kvgg data demo caltech"],
}


def help_examples(command=main, path=("kvgg",)) -> list[str]:
    """The example command lines of ``command``'s help and its sub-commands', in order."""
    lines = command.get_help(click.Context(command, info_name=" ".join(path))).splitlines()
    examples, i = [], 0
    while i < len(lines):
        line = re.sub(r"^Example:\s*", "", lines[i].strip())
        if line.startswith("kvgg "):
            while line.endswith("\\"):
                i += 1
                line = f"{line[:-1].rstrip()} {lines[i].strip()}"
            examples.append(" ".join(shlex.split(line, comments=True)))
        i += 1
    for name, sub in getattr(command, "commands", {}).items():
        examples += help_examples(sub, (*path, name))
    return examples


EXAMPLES = help_examples()


def _params():
    for example in EXAMPLES:
        if example in NOT_RUN:
            continue
        marks = [pytest.mark.slow] if example in SLOW else []
        yield pytest.param(example, id=example[5:60], marks=marks)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Everything the examples name, once: tiny models, photos, images with boxes."""
    import kvgg
    from kvgg.io import save_model
    from kvgg.localize.demo import pasted_objects
    from kvgg.localize.model import build_localizer

    root = tmp_path_factory.mktemp("inputs")
    images, boxes = pasted_objects(root / "pasted", per_class=2)
    net = kvgg.build("D", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
    info = {"config": "D", "scale": 32}
    save_model(net, root / "vgg16.keras", class_names=NAMES, info=info)
    for run in ("d", "d_s384", "vgg16", "vgg16_s384", "vgg19", "quickstart"):
        save_model(net, root / "runs" / run / "model.keras", class_names=NAMES, info=info)
        shutil.copy(ROOT / "recipes" / "quickstart.yaml", root / "runs" / run / "recipe.yaml")
    for run in ("vgg16_s256_512", "vgg19_s256_512"):  # the transfer recipes' models
        save_model(net, root / "runs" / run / "model.keras", class_names=NAMES, info=info)
    localizer = build_localizer(net, regression="pcr")
    for run in ("loc_s256", "loc_s384", "vgg16_pcr_all_s384"):
        save_model(localizer, root / "runs" / run / "model.keras", class_names=NAMES, info=info)
    photo = images / "red" / "red_0000.jpg"
    for name in ("cat.jpg", "dog.jpg", "photo.jpg", "photo.png", "photo_blurred.png"):
        shutil.copy(photo, root / name)
    (root / "val").symlink_to(images)
    (root / "bbox").mkdir()
    (root / "bbox" / "val").symlink_to(boxes)
    (root / "data" / "imagenet").mkdir(parents=True)
    (root / "data" / "imagenet" / "train").symlink_to(images)
    (root / "recipes").symlink_to(ROOT / "recipes")
    return root


def _workspace(inputs: Path, folder: Path) -> None:
    """``folder`` with links to the inputs; the run directories and data/ are real folders
    (the examples write into them)."""
    for entry in inputs.iterdir():
        if entry.name == "runs":
            for run in entry.iterdir():
                (folder / "runs" / run.name).mkdir(parents=True)
                for item in run.iterdir():  # model.keras, recipe.yaml
                    (folder / "runs" / run.name / item.name).symlink_to(item)
        elif entry.name == "data":
            (folder / "data").mkdir()
            for item in entry.iterdir():
                (folder / "data" / item.name).symlink_to(item)
        else:
            (folder / entry.name).symlink_to(entry)


def _torchvision_file(path: Path) -> None:
    """A torchvision-layout vgg16_bn state dict, at a sixteenth of the widths."""
    import torch

    from kvgg.models import get_config
    from kvgg.weights.torchvision import _layout

    state, channels = {}, 3
    widths = iter(w // 16 for w, kernels in zip((64, 128, 256, 512, 512), get_config("D").kernels,
                                                 strict=True) for _ in kernels)  # fmt: skip
    for module in _layout("D", batch_norm=True):
        key = module.key
        if module.kind == "conv":
            out = next(widths)
            state[f"{key}.weight"], state[f"{key}.bias"] = (
                torch.randn(out, channels, 3, 3),
                torch.zeros(out),
            )
            channels = out
        elif module.kind == "bn":
            for suffix in ("weight", "running_var"):
                state[f"{key}.{suffix}"] = torch.ones(channels)
            for suffix in ("bias", "running_mean"):
                state[f"{key}.{suffix}"] = torch.zeros(channels)
        elif module.kind == "fc1":
            state[f"{key}.weight"], state[f"{key}.bias"] = (
                torch.randn(8, channels * 49),
                torch.zeros(8),
            )
        else:
            out = 8 if key != "classifier.6" else 5
            state[f"{key}.weight"], state[f"{key}.bias"] = torch.randn(out, 8), torch.zeros(out)
    torch.save(state, path)


def _full_width_backbone(path: Path) -> None:
    import kvgg

    kvgg.build("D", include_top=False, input_shape=(None, None, 3)).save(path)


MADE = {  # example prefix -> a function that writes an input it names
    "kvgg weights import --from torchvision": lambda: _torchvision_file(
        Path("vgg16_bn-6c64b313.pth")
    ),
    "kvgg lpips": lambda: _full_width_backbone(Path("vgg16_tv.keras")),
}


def _run(command: str):
    args = []
    for arg in shlex.split(command, comments=True)[1:]:
        args += sorted(glob.glob(arg)) if "*" in arg else [arg]
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("example", list(_params()))
def test_the_example_runs_as_written(example, inputs, tmp_path, monkeypatch):
    for prefix, packages in NEEDS.items():
        if example.startswith(prefix):
            for package in packages:
                pytest.importorskip(package)
            break
    _workspace(inputs, tmp_path)
    monkeypatch.chdir(tmp_path)
    for prefix, make in MADE.items():
        if example.startswith(prefix):
            make()
    for prefix, commands in PREPARE.items():
        if example.startswith(prefix):
            for command in commands:
                result = _run(command)
                assert result.exit_code == 0, f"{command}:\n{result.output}"
    result = _run(example)
    assert result.exit_code == 0, f"{example}:\n{result.output}"
    assert result.output.strip(), f"{example} printed nothing"


def test_the_examples_are_found_and_the_exceptions_are_current():
    assert len(EXAMPLES) > 20 and "kvgg data demo voc caltech" in EXAMPLES
    for listed in [*NOT_RUN, *SLOW]:
        assert listed in EXAMPLES, f"{listed!r} is no longer an example of any --help"
    for prefix in [*NEEDS, *PREPARE, *MADE]:
        assert any(example.startswith(prefix) for example in EXAMPLES), prefix
