"""`kvgg localize` and `kvgg scoremap` write their pictures where the user points (-o,
--pictures) or to the working directory, never into the image folders they read: a class
folder would then count the pictures as images."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import kvgg
import kvgg.io
from kvgg.cli import main
from kvgg.evaluate.files import score_map_paths
from kvgg.io import save_model
from kvgg.localize.demo import pasted_objects
from kvgg.localize.model import build_localizer

NAMES = ["blue", "green", "red"]


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nets")
    images, _ = pasted_objects(folder / "data", per_class=1)
    net = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
    classifier = save_model(net, folder / "cls.keras", class_names=NAMES, info={"scale": 32})
    localizer = save_model(
        build_localizer(net, regression="pcr"), folder / "loc.keras", class_names=NAMES
    )
    return images, classifier, localizer


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_score_map_pictures_go_to_the_working_directory_by_default():
    assert score_map_paths(["a/cat.jpg", "b/dog.png"]) == [
        Path("cat.scoremap.png"),
        Path("dog.scoremap.png"),
    ]
    with pytest.raises(ValueError, match="same picture"):
        score_map_paths(["a/cat.jpg", "b/cat.jpg"])


def test_scoremap_and_localize_leave_the_image_folders_as_they_were(nets, tmp_path, monkeypatch):
    images, classifier, localizer = nets
    before = listing(images)
    image = str(images / "red" / "red_0000.jpg")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner().invoke(main, ["scoremap", "--model", str(classifier), image])
    assert result.exit_code == 0, result.output
    args = ["localize", "--model", str(localizer), "--classifier", str(classifier), image]
    result = CliRunner().invoke(main, [*args, "--top", "1"])
    assert result.exit_code == 0, result.output
    assert listing(images) == before
    assert listing(work) == ["red_0000.jpg.boxes.png", "red_0000.scoremap.png"]


@pytest.mark.parametrize("shape", [(40, 40), (40, 90)])
def test_the_score_map_covers_the_whole_image_and_its_caption_fits(nets, tmp_path, shape):
    import numpy as np
    from PIL import Image

    from kvgg.evaluate.predict import draw_score_map

    _, classifier, _ = nets
    model = kvgg.io.load_model(classifier)
    grey = np.full((*shape, 3), 128, np.uint8)  # a side that is no multiple of the stride
    out = tmp_path / "map.png"
    name, _ = draw_score_map(model, grey, out, class_names=NAMES, scale=40)
    picture = np.asarray(Image.open(out).convert("RGB")).astype(int)
    height, width = picture.shape[:2]
    assert height / width == pytest.approx(shape[0] / shape[1], rel=0.02)
    # The map (half-transparent colours) lies over every edge, the bottom-right corner too.
    for y, x in [(height - 2, width - 2), (height - 2, 1), (height // 2, width - 2)]:
        assert np.abs(picture[y, x] - 128).max() > 10, (y, x, picture[y, x])
    # The caption ends with its last words inside the picture (it used to be cut at the
    # right edge of square images): its light box ends before the right edge.
    top = picture[: height // 3]
    caption_rows = [row for row in top if (row > 200).all(axis=1).sum() > width // 4]
    assert caption_rows, "no caption box found"
    assert all(not (row[-3:] > 200).all() for row in caption_rows)
