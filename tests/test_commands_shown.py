"""Every `kvgg ...` command line shown to users (README, docs pages, recipe headers, the
commands' own help) names a subcommand and options that the CLI has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from kvgg.cli import main

ROOT = Path(__file__).resolve().parents[1]
_INLINE = re.compile(r"`(kvgg [^`]+)`")


def shown_command_lines() -> list[tuple[str, str]]:
    """(where, command line) for each `kvgg ...` line in the README's and the docs' code
    (blocks and inline) and in the recipes' header comments."""
    found = []
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for path in pages + sorted((ROOT / "recipes").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8").replace("\\\n", " ")
        in_block = fenced = False
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            if path.suffix == ".yaml":
                if line.lstrip().startswith("#"):
                    found += [(where, m) for m in re.findall(r"(kvgg [a-z][^`]*)", line)]
                continue
            if line.lstrip().startswith("```"):  # shell blocks; not a program's output
                language = line.strip().strip("`").strip()
                fenced = not fenced
                in_block = fenced and language in ("bash", "sh", "shell", "console", "")
                continue
            command = line.strip().removeprefix("$ ")
            if in_block and command.startswith("kvgg "):
                found.append((where, command))
            elif not in_block:
                found += [(where, inline) for inline in _INLINE.findall(line)]
    return found


def help_command_lines() -> list[tuple[str, str]]:
    """(command, example line) for each `kvgg ...` line in every command's own help."""
    found = []

    def walk(command: click.Command, path: str):
        for line in (command.help or "").splitlines():
            stripped = line.strip()
            if stripped.startswith(("kvgg ", "Example:  kvgg ")):
                found.append((path, stripped.removeprefix("Example:").strip()))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(main, "kvgg")
    return found


def unknown_parts(line: str) -> list[str]:
    """The subcommands and options of a `kvgg ...` line that the CLI does not have."""
    line = line.split(" #")[0].split(" > ")[0].split(" && ")[0].split(" | ")[0]
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    command: click.Command = main
    problems = []
    for position, word in enumerate(words[1:], 1):
        if isinstance(command, click.Group) and not word.startswith("-"):
            if word.isupper() or word in ("...", "COMMAND"):
                return problems  # a placeholder: `kvgg COMMAND --help`
            alternatives = word.split("/")  # `kvgg data check/stats/to-tfrecord`
            missing = [name for name in alternatives if name not in command.commands]
            if missing:
                return [f"subcommand {' '.join([*words[:position], missing[0]])!r}"]
            if len(alternatives) > 1:
                return problems
            command = command.commands[word]
            continue
        if word.startswith("--") or re.fullmatch(r"-[a-zA-Z]", word):
            name = word.split("=", 1)[0]
            options = {"--help", "-h"}
            for param in command.params:
                options |= set(getattr(param, "opts", ())) | set(
                    getattr(param, "secondary_opts", ())
                )
            if name not in options:
                problems.append(f"option {name!r} of {command.name!r}")
    return problems


def test_the_checker_finds_a_missing_option_and_subcommand():
    assert unknown_parts("kvgg evaluate --model m --localize x") == [
        "option '--localize' of 'evaluate'"
    ]
    assert unknown_parts("kvgg evaluaet --model m") == ["subcommand 'kvgg evaluaet'"]
    assert unknown_parts("kvgg fit recipes/quickstart.yaml --set a=1 --smoke") == []
    assert unknown_parts("kvgg data check DIR") == []


def test_the_pages_show_many_command_lines():
    lines = shown_command_lines()
    assert len(lines) > 50
    assert any("recipes/localization" in where for where, _ in lines)


@pytest.mark.parametrize(
    "source", ["pages", "help"], ids=["README, docs and recipes", "commands' help"]
)
def test_every_command_line_shown_to_users_exists(source):
    lines = shown_command_lines() if source == "pages" else help_command_lines()
    problems = [
        f"{where}: {line} -> {', '.join(found)}"
        for where, line in lines
        if (found := unknown_parts(line))
    ]
    assert not problems, "\n".join(problems)
