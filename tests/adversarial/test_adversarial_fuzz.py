"""The fuzzers in CI: a few dozen seeded cases in the fast suite, a few hundred in the slow.

Oracle: exit 0 (accepted) or one ``Error: ...`` line with exit 2; never a traceback, a
hang, or a recipe accepted with a NaN or infinite value. Each test prints its counts.
"""

from __future__ import annotations

import random

import pytest

from tests.adversarial import fuzz
from tests.adversarial.oracle import Tally
from tests.data_fixtures import class_image, make_image_folder, write_image
from tests.helpers import tiny_model

FAST_RECIPE_CASES = 40
SLOW_RECIPE_CASES = 400
FAST_CLI_CASES = 12


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from kvgg.io import save_model

    root = tmp_path_factory.mktemp("fuzz")
    classes = ("cat", "dog", "fish")
    model = save_model(
        tiny_model(num_classes=3), root / "m.keras", class_names=classes, info={"scale": 32}
    )
    folder = make_image_folder(root / "images", classes, per_class=1)
    image = write_image(root / "one.jpg", class_image(0, 40))
    (root / "a_file").write_text("x")
    bad_recipe = root / "bad.yaml"
    bad_recipe.write_text(f"name: bad\ndata: {{train: {root}/nothing, val: {root}/nothing}}\n")
    work = root / "work"
    work.mkdir()
    return {
        "model": str(model),
        "folder": str(folder),
        "image": str(image),
        "tmp": str(work),
        "file": str(root / "a_file"),
        "recipe": str(fuzz.ROOT / "recipes" / "quickstart.yaml"),
        "bad_recipe": str(bad_recipe),
    }


def _run_recipes(count, seed, folder):
    tally = Tally(f"recipe fuzzer (seed {seed})")
    for name, source, kind in fuzz.recipe_cases(count, seed):
        fuzz.run_recipe_case(source, kind, name, folder, tally)
    print(tally.line())
    assert not tally.failures, [(case, why, detail[:300]) for case, why, detail in tally.failures]
    return tally


def test_recipe_fuzzer_fast(tmp_path):
    tally = _run_recipes(FAST_RECIPE_CASES, 0, tmp_path)
    assert tally.tries == FAST_RECIPE_CASES


@pytest.mark.slow
def test_recipe_fuzzer_slow(tmp_path):
    _run_recipes(SLOW_RECIPE_CASES, 1, tmp_path)


def _run_cli(cases, name):
    tally = Tally(name)
    for case, args in cases:
        fuzz.run_cli_case(case, args, tally)
    print(tally.line())
    assert not tally.failures, [(case, why, detail[:300]) for case, why, detail in tally.failures]
    return tally


def test_cli_fuzzer_covers_every_command(files):
    covered = {case.split(" --")[0].split(" -")[0] for case, _ in fuzz.cli_cases(files)}
    every = {
        " ".join(path)
        for path, command in fuzz.commands()
        if any(not p.is_flag for p in command.params if hasattr(p, "is_flag"))
    }
    assert every <= covered, every - covered


def test_cli_fuzzer_fast(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a case without -o writes its pictures to the working directory
    cases = fuzz.cli_cases(files)
    _run_cli(random.Random(0).sample(cases, FAST_CLI_CASES), "CLI fuzzer (sample)")


@pytest.mark.slow
def test_cli_fuzzer_every_option(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a case without -o writes its pictures to the working directory
    _run_cli(fuzz.cli_cases(files), "CLI fuzzer")
