"""Fusion with per-model test scales and methods (the ILSVRC-2014 submission's ensemble)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from kvgg.cli import main
from kvgg.evaluate import evaluate, evaluate_files
from kvgg.io import load_model, save_model
from tests.data_fixtures import make_image_folder
from tests.helpers import tiny_model

CLASSES = ["cat", "dog", "fish"]
OPTIONS = {"class_names": CLASSES, "progress": False, "flip": True}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A fixed-scale model (S = 32: Q in {32, 64}) and a jittered one (S in [32, 64])."""
    root = tmp_path_factory.mktemp("models")
    fixed = save_model(
        tiny_model("A", num_classes=3),
        root / "fixed.keras",
        class_names=CLASSES,
        info={"config": "A", "scale": 32},
    )
    jittered = save_model(
        tiny_model("B", num_classes=3, name="jittered"),
        root / "jittered.keras",
        class_names=CLASSES,
        info={"config": "B", "scale": [32, 64]},
    )
    return fixed, jittered


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "val"
    make_image_folder(root, classes=CLASSES, per_class=2, size=(40, 56))
    return root


def test_each_model_uses_its_own_preset_and_fusion_is_the_mean(models, folder):
    fused = evaluate_files(models, str(folder), method="dense", progress=False, record=False)
    assert [row["scales"] for row in fused.per_model] == [[32, 64], [32, 48, 64]]
    assert [row["train_scale"] for row in fused.per_model] == [32, [32, 64]]
    assert fused.scales == [32, 64, 48]  # every scale some model needed
    alone = [
        evaluate(load_model(path), str(folder), method="dense", scales=scales, **OPTIONS)
        for path, scales in zip(models, [(32, 64), (32, 48, 64)], strict=True)
    ]
    np.testing.assert_allclose(
        fused.posteriors, np.mean([r.posteriors for r in alone], 0), rtol=1e-5, atol=1e-7
    )
    # A shared scale set would have given other posteriors: the per-model sets were used.
    shared = evaluate(
        [load_model(p) for p in models], str(folder), method="dense", scales=(32, 64), **OPTIONS
    )
    assert not np.allclose(shared.posteriors, fused.posteriors, atol=1e-6)


@pytest.mark.slow  # dense and multi-crop over two models; the preset test above stays fast
def test_per_model_methods_average_each_model_first(models, folder):
    loaded = [load_model(p) for p in models]
    fused = evaluate(
        loaded, str(folder), method=["both", "dense"], scales=[(32,), (48,)], **OPTIONS
    )
    assert fused.method == "per-model"
    assert [(r["method"], r["scales"]) for r in fused.per_model] == [
        ("both", [32]),
        ("dense", [48]),
    ]
    first = evaluate(loaded[0], str(folder), method="both", scales=(32,), **OPTIONS)
    second = evaluate(loaded[1], str(folder), method="dense", scales=(48,), **OPTIONS)
    np.testing.assert_allclose(
        fused.posteriors, (first.posteriors + second.posteriors) / 2, rtol=1e-5, atol=1e-7
    )
    assert "per model" in fused.table() and "dense, Q = 48" in fused.table()


def test_cli_scales_repeated_in_model_order(models, folder, tmp_path):
    out = tmp_path / "fused.json"
    args = ["evaluate", "--model", models[0], "--model", models[1], "--data", folder]
    result = CliRunner().invoke(
        main,
        [
            str(a)
            for a in [*args, "--scales", "64", "--scales", "32,48", "--method", "both", "-o", out]
        ],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert [row["scales"] for row in saved["per_model"]] == [[64], [32, 48]]
    assert [row["method"] for row in saved["per_model"]] == ["both", "both"]
    assert f"top-1 error  {100 * saved['top1_error']:6.2f} %" in result.output
    assert result.output.index("top-1 error") < result.output.index(f"Wrote {out}")

    wrong = CliRunner().invoke(
        main, [str(a) for a in [*args, "--scales", "32", "--scales", "48", "--scales", "64"]]
    )
    assert wrong.exit_code == 2
    assert "one per model (2); got 3" in wrong.output and len(wrong.output.splitlines()) == 1
