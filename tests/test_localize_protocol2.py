"""Protocol 2 takes its classes from the classification protocol; nets that must agree do.

Tiny untrained nets on random PNG images of 7 classes, so that the top-5 is a choice.
"""

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kvgg.cli import main
from kvgg.evaluate import evaluate_files
from kvgg.io import save_model
from kvgg.localize import build_localizer
from tests.helpers import tiny_model

NAMES = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("protocol2")
    rng = np.random.default_rng(0)
    photos = []
    for name in NAMES:
        (root / "images" / name).mkdir(parents=True)
        path = root / "images" / name / f"{name}.png"  # PNG: lossless, one decoder
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype="uint8")).save(path)
        photos.append(path)
    keras.utils.set_random_seed(1)
    first = tiny_model("A", num_classes=7)
    second = tiny_model("A", num_classes=7)  # other random weights
    save_model(first, root / "c1.keras", class_names=NAMES, info={"scale": 40})
    save_model(second, root / "c2.keras", class_names=NAMES, info={"scale": 40})
    save_model(first, root / "reversed.keras", class_names=NAMES[::-1], info={"scale": 40})
    pcr = build_localizer(first, regression="pcr", seed=0)
    save_model(pcr, root / "pcr.keras", class_names=NAMES, info={"scale": 40})
    save_model(pcr, root / "pcr_other.keras", class_names=[n.upper() for n in NAMES])
    scr = build_localizer(first, regression="scr", seed=0)
    save_model(scr, root / "scr.keras", class_names=NAMES[::-1], info={"scale": 40})
    return root, photos


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _localize(root, photos, tmp_path, *extra):
    out = tmp_path / "boxes.json"
    result = invoke(
        "localize", "--model", root / "pcr.keras", *photos, "--scales", "40",
        "--no-pictures", "-o", out, *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    return [rows[str(photo)] for photo in photos]


def _evaluate(root, names, scales):
    report = evaluate_files(
        [root / name for name in names], f"folder:{root / 'images'}", method="dense",
        scales=scales, flip=True, progress=False, record=False,
    )  # fmt: skip
    return report.posteriors  # one image per class folder, in NAMES order


@pytest.mark.backend  # the same on JAX (shape buckets) and PyTorch
def test_protocol_2_top_5_is_kvgg_evaluate_dense_top_5(files, tmp_path):
    root, photos = files
    rows = _localize(root, photos, tmp_path, "--classifier", root / "c1.keras",
                     "--classifier-scales", "40,64")  # fmt: skip
    posteriors = _evaluate(root, ["c1.keras"], [(40, 64)])
    for image_rows, expected in zip(rows, posteriors, strict=True):
        assert [row["index"] for row in image_rows] == list(np.argsort(-expected)[:5])
        np.testing.assert_allclose([row["posterior"] for row in image_rows],
                                   np.sort(expected)[::-1][:5], atol=2e-6)  # fmt: skip


def test_the_classifier_s_own_scales_are_the_default(files, tmp_path):
    root, photos = files  # c1 was trained at S=40: kvgg evaluate tests it at Q = {40, 72}
    rows = _localize(root, photos, tmp_path, "--classifier", root / "c1.keras")
    posteriors = _evaluate(root, ["c1.keras"], None)
    got = [[row["posterior"] for row in image_rows] for image_rows in rows]
    np.testing.assert_allclose(got, -np.sort(-posteriors)[:, :5], atol=2e-6)


@pytest.mark.backend  # the same on JAX (shape buckets) and PyTorch
def test_two_classifiers_are_fused_as_kvgg_evaluate_fuses(files, tmp_path):
    root, photos = files
    fused = _localize(root, photos, tmp_path, "--classifier", root / "c1.keras",
                      "--classifier", root / "c2.keras", "--classifier-scales", "40")  # fmt: skip
    alone = [
        _localize(root, photos, tmp_path, "--classifier", root / name, "--classifier-scales", "40")
        for name in ("c1.keras", "c2.keras")
    ]
    expected = _evaluate(root, ["c1.keras", "c2.keras"], [(40,)])

    def ranked(rows):
        return [[(row["index"], row["posterior"]) for row in image] for image in rows]

    assert ranked(fused) != ranked(alone[0]) and ranked(fused) != ranked(alone[1])
    for image_rows, posteriors in zip(fused, expected, strict=True):
        assert [row["index"] for row in image_rows] == list(np.argsort(-posteriors)[:5])


MISMATCHES = {  # args -> (the two files named, the class named)
    "pcr_vs_reversed_classifier": (
        ["--model", "pcr.keras", "--classifier", "reversed.keras"], "'ant'", "'gnu'"),
    "pcr_vs_other_names": (
        ["--model", "pcr_other.keras", "--classifier", "c1.keras"], "'ANT'", "'ant'"),
    "fused_classifiers": (
        ["--model", "pcr.keras", "--classifier", "c1.keras", "--classifier", "reversed.keras"],
        "'ant'", "'gnu'"),
}  # fmt: skip


@pytest.mark.parametrize("command", ["localize", "evaluate"])
@pytest.mark.parametrize("case", sorted(MISMATCHES))
def test_nets_with_other_classes_are_refused_before_any_work(files, tmp_path, command, case):
    root, photos = files
    args, first, other = MISMATCHES[case]
    args = [str(root / a) if a.endswith(".keras") else a for a in args]
    if command == "localize":
        args += [photos[0], "--pictures", tmp_path, "-o", tmp_path / "out.json"]
    else:
        args += ["--data", root / "images", "--boxes", tmp_path / "no_boxes_needed"]
    result = invoke(command, *args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    files_named = [a for a in args if str(a).endswith(".keras")]
    assert all(str(path) in lines[0] for path in files_named[-2:])
    assert f"class 0 is {first}" in lines[0] and other in lines[0]
    assert not list(tmp_path.iterdir())


def test_an_scr_net_fits_any_classifier(files, tmp_path):
    root, photos = files  # SCR shares one box between the classes: no order to agree on
    rows = _localize(root, photos[:1], tmp_path, "--classifier", root / "c1.keras")
    assert len(rows[0]) == 5
    result = invoke("localize", "--model", root / "scr.keras", "--classifier",
                    root / "c1.keras", photos[0], "--no-pictures")  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--method", "multicrop"], "--method multicrop does not apply with --boxes"),
        (["--method", "both"], "--method both does not apply"),
        (["--merge-threshold", "nan"], "finite"),
        (["--merge-threshold", "inf"], "finite"),
        (["--merge-threshold", "-1"], "finite number >= 0"),
    ],
)
def test_options_that_cannot_apply_with_boxes_are_refused(files, tmp_path, extra, words):
    root, _ = files
    result = invoke(
        "evaluate", "--model", root / "pcr.keras", "--classifier", root / "c1.keras",
        "--data", root / "images", "--boxes", tmp_path / "boxes", *extra,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert words in result.output


def test_localize_refuses_a_non_finite_merge_threshold(files):
    root, photos = files
    result = invoke("localize", "--model", root / "pcr.keras", "--classifier",
                    root / "c1.keras", photos[0], "--merge-threshold", "nan")  # fmt: skip
    assert result.exit_code == 2 and "finite" in result.output
