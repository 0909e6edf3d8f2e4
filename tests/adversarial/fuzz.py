"""Fuzzers: seeded mutations of every recipe in ``recipes/``, and of every command's options.

Both are deterministic (fixed seeds), so a failure reproduces by its case name. The tests
in test_adversarial_fuzz.py print each fuzzer's counts (``pytest -s``); the slow ones run
every case, and their counts are the table of docs/reliability.md.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import click
import yaml

from tests.adversarial.oracle import ACCEPTED, CLEAN_ERROR, HANG, TRACEBACK, Tally, invoke

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted(p for p in (ROOT / "recipes").rglob("*.yaml"))
SLOW_CASE_SECONDS = 30  # an in-process case past this counts as a hang

HOSTILE_VALUES = [
    None, "", " ", -1, 0, 1, 10**30, -(10**30), 1e308, -0.0, math.inf, -math.inf, math.nan,
    True, False, "x" * 5000, [], {}, [1, 2, 3], {"a": 1}, [[[]]], "🙂", "../../../etc/passwd",
    "digits:test", "tfrecord:/no/such/dir/*", "labels:/tmp", {"kind": "folder"},
    "1e-4", "0x10", "null", "~", "A", "vgg16", 0.5, 2**63,
]  # fmt: skip
TEXT_MUTATIONS = ("truncate", "bytes", "tab", "duplicate_line", "alias_bomb", "recursive")


# ---------------------------------------------------------------------------- recipes


def recipe_cases(count: int, seed: int = 0) -> list[tuple[str, Path, str]]:
    """``count`` cases (name, source recipe, kind of mutation), cycling over every recipe."""
    rng = random.Random(seed)
    kinds = ("value", "value", "value", "delete", "unknown_key", "rename", "section", "text")
    return [
        (
            f"{RECIPES[i % len(RECIPES)].stem}-{seed}-{i}",
            RECIPES[i % len(RECIPES)],
            rng.choice(kinds),
        )
        for i in range(count)
    ]


def mutate_recipe(source: Path, kind: str, rng: random.Random) -> str:
    """The YAML text of ``source`` with one hostile mutation of ``kind``."""
    text = source.read_text()
    if kind == "text":
        return _mutate_text(text, rng.choice(TEXT_MUTATIONS), rng)
    data = yaml.safe_load(text) or {}
    paths = list(_paths(data))
    path = rng.choice(paths) if paths else ()
    parent, last = _parent(data, path)
    if kind == "value" and path:
        parent[last] = rng.choice(HOSTILE_VALUES)
    elif kind == "delete" and path:
        del parent[last]
    elif kind == "unknown_key":
        target = parent[last] if path and isinstance(parent[last], dict) else data
        target[rng.choice(["learning_rate", "widht", "epochs ", "", "0", "__class__"])] = 1
    elif kind == "rename" and path and isinstance(last, str):
        parent[last[:-1] or "_"] = parent.pop(last)
    elif kind == "section":
        section = rng.choice(
            [key for key, value in data.items() if isinstance(value, dict)] or ["x"]
        )
        data[section] = rng.choice(HOSTILE_VALUES)
    return yaml.safe_dump(data, allow_unicode=True)


def _mutate_text(text: str, how: str, rng: random.Random) -> str:
    if how == "truncate":
        return text[: rng.randrange(len(text) + 1)]
    if how == "bytes":
        at = rng.randrange(len(text) + 1)
        junk = "".join(
            chr(rng.choice([0, 7, 9, 10, 34, 38, 42, 58, 91, 123, 0xFFFD])) for _ in range(8)
        )
        return text[:at] + junk + text[at:]
    if how == "tab":
        return text.replace("  ", "\t", 1)
    if how == "duplicate_line":
        lines = text.splitlines(keepends=True)
        at = rng.randrange(len(lines))
        return "".join(lines[: at + 1] + lines[at:])
    if how == "alias_bomb":
        bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n"
            for a, b in zip("abcdefg", "bcdefgh", strict=True)
        )
        return (
            text + "smoke:\n  bomb:\n" + "".join("    " + line + "\n" for line in bomb.splitlines())
        )
    return text + "\nrecursive: &r\n  again: *r\n"


def _paths(node, prefix=()):
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _parent(data, path):
    node = data
    for key in path[:-1]:
        node = node[key]
    return node, (path[-1] if path else None)


def run_recipe_case(source: Path, kind: str, name: str, folder: Path, tally: Tally) -> None:
    """Mutate one recipe, validate it the way users do, and record the outcome."""
    rng = random.Random(name)
    path = folder / f"{name}.yaml"
    path.write_text(mutate_recipe(source, kind, rng), encoding="utf-8", errors="surrogatepass")
    start = time.perf_counter()
    if "transfer" in source.parts:
        outcome, detail = _load_transfer(path)
    else:
        outcome, result = invoke(["recipe", "show", path])
        detail = result.output + repr(result.exception)
        if outcome == ACCEPTED and _non_finite(yaml.safe_load(result.stdout)):
            outcome, detail = (
                TRACEBACK,
                "NaN or infinity accepted: " + _non_finite_keys(result.stdout),
            )
    if time.perf_counter() - start > SLOW_CASE_SECONDS:
        outcome = HANG
    tally.add(f"{name} ({kind})", outcome, detail)


def _load_transfer(path: Path):
    from kvgg.transfer.recipe import load_transfer_recipe

    try:
        load_transfer_recipe(path)
    except (ValueError, OSError) as error:
        message = str(error)
        return (CLEAN_ERROR if message and "\n" not in message.strip() else TRACEBACK), message
    except Exception as error:  # noqa: BLE001  (the oracle records any other escape)
        return TRACEBACK, repr(error)
    return ACCEPTED, ""


def _non_finite_keys(text: str) -> str:
    return ", ".join(line.strip() for line in text.splitlines() if ".nan" in line or ".inf" in line)


def _non_finite(node) -> bool:
    if isinstance(node, float):
        return not math.isfinite(node)
    if isinstance(node, dict):
        return any(_non_finite(value) for value in node.values())
    if isinstance(node, list):
        return any(_non_finite(value) for value in node)
    return False


# ---------------------------------------------------------------------------- command lines

HOSTILE_OPTION_VALUES = {
    "int": ["-1", "0", "99999999999999999999", "abc", "", "1.5", "1e3"],
    "float": ["inf", "nan", "-1", "0", "1e309", "x", ""],
    # Never a real device here: before kvgg refused them, `-o /dev/null` replaced the
    # device with a file (test_adversarial_defects.py checks that with a fifo).
    "path": ["", "{tmp}/missing/file.keras", "{file}/under_a_file", "{tmp}"],
    "choice": ["nope", ""],
    "string": ["", "nosuchkind:x", "tfrecord:{tmp}/*", "labels:{tmp}", "x" * 300, "-"],
    "scales": ["0", "100000", "a,b", "", "-256", "256,,384", "1e9"],
}
SKIPPED_COMMANDS = {
    # Network or long work when accepted: downloads of published weights, training and
    # the transfer experiments (their recipes are fuzzed above, their bad paths below).
    ("weights", "import"),
}


def commands(group=None, prefix=()):
    """(name path, click command) of every `kvgg` command."""
    from kvgg.cli import main

    group = group or main
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        elif (*prefix, name) not in SKIPPED_COMMANDS:
            yield (*prefix, name), command


def cli_cases(files: dict[str, str]) -> list[tuple[str, list[str]]]:
    """One case per (command, option, hostile value): the command's valid base arguments
    (from ``files``: model, folder, image, recipe, tmp, file) with one option made hostile.
    """
    bases = _base_arguments(files)
    cases = []
    for path, command in commands():
        base = bases.get(path, [])  # a command added since: its options alone
        for param in command.params:
            if not isinstance(param, click.Option) or param.is_flag or param.hidden:
                continue
            flag = max(param.opts, key=len)
            for value in HOSTILE_OPTION_VALUES[_kind(param)]:
                value = value.format(**files)
                cases.append(
                    (f"{' '.join(path)} {flag}={value[:30]!r}", [*path, *base, flag, value])
                )
    return cases


def _kind(param) -> str:
    kind = type(param.type).__name__
    return {
        "IntParamType": "int",
        "IntRange": "int",
        "FloatParamType": "float",
        "FloatRange": "float",
        "Path": "path",
        "Choice": "choice",
        "Scales": "scales",
    }.get(kind, "string")


def _base_arguments(files) -> dict[tuple, list[str]]:
    model, folder, image, tmp = files["model"], files["folder"], files["image"], files["tmp"]
    return {
        ("summary",): ["A", "--width", "0.0625", "--image-size", "32", "--num-classes", "3"],
        ("data", "to-tfrecord"): [folder, "-o", f"{tmp}/records"],
        ("data", "stats"): [folder, "-o", f"{tmp}/stats.json"],
        ("data", "check"): [folder],
        ("fit",): [files["bad_recipe"]],
        ("recipe", "show"): [files["recipe"]],
        ("plot",): [tmp],
        ("surgery", "fcn"): ["--model", model, "-o", f"{tmp}/fcn.keras"],
        ("evaluate",): ["--model", model, "--data", folder, "--scales", "32", "--no-flip"],
        ("predict",): ["--model", model, image, "--scales", "32"],
        ("scoremap",): ["--model", model, image, "-o", f"{tmp}/map.png"],
        ("transfer",): [files["bad_recipe"]],
        ("features",): [folder, "--model", model, "-o", f"{tmp}/f.npz", "--scales", "32"],
        ("report",): [tmp],
        ("localize",): ["--models", model, "--classifier", model, image, "--scales", "32"],
    }


def run_cli_case(name: str, args: list[str], tally: Tally) -> None:
    start = time.perf_counter()
    outcome, result = invoke(args)
    if time.perf_counter() - start > SLOW_CASE_SECONDS:
        outcome = HANG
    tally.add(name, outcome, result.output + repr(result.exception))
