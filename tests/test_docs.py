"""Every code block of the documentation runs here, at tiny sizes, so the site cannot rot.

The rules, also stated for writers in docs/design.md ("How the docs are tested"):

- The ```python blocks of a page run in order in one namespace and the ```bash blocks in
  one shell session (variables carry over), all in a fresh directory (holding only a link
  to recipes/), so later blocks use what earlier ones wrote. A page makes every input it
  uses, as a reader would (``kvgg data demo`` for toy datasets).
- A ```text block right after a runnable block is its expected output: it must match what
  the block printed, line by line; ``...`` alone on a line matches any lines, inside a
  line any text.
- A block whose title starts with "Needs " (``title="Needs ImageNet on disk"``) is shown
  but not run: the title is the visible reason. Every other python/bash block runs.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import click
import keras
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUNNABLE = {"python", "bash"}
KNOWN_LANGUAGES = RUNNABLE | {"text", "yaml", "json", "toml"}
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass
class Block:
    page: str
    line: int
    lang: str
    title: str
    code: str
    expected: str | None = None

    @property
    def runs(self) -> bool:
        return self.lang in RUNNABLE and not self.title.startswith("Needs ")

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def read_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a docs page, each runnable one with its expected output."""
    return parse_blocks(page.read_text(), page.relative_to(DOCS).as_posix())


def parse_blocks(text: str, page: str) -> list[Block]:
    blocks: list[Block] = []
    previous_end = 0
    for match in FENCE.finditer(text):
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        title = re.search(r'title="([^"]*)"', match["attrs"])
        block = Block(
            page=page,
            line=text.count("\n", 0, match.start()) + 1,
            lang=match["lang"],
            title=title[1] if title else "",
            code=code,
        )
        follows_runnable = blocks and blocks[-1].runs and blocks[-1].expected is None
        if (
            block.lang == "text"
            and follows_runnable
            and not text[previous_end : match.start()].strip()
        ):
            blocks[-1].expected = code
        else:
            blocks.append(block)
        previous_end = match.end()
    return blocks


def assert_output(block: Block, output: str) -> None:
    """The block printed what the page shows (``...``: any lines, or any text in a line)."""
    pattern = "".join(
        r"(?:[^\n]*\n)*?"
        if line.strip() == "..."
        else r"[^\n]*".join(map(re.escape, line.rstrip().split("..."))) + r"[ \t]*\n"
        for line in block.expected.strip("\n").splitlines()
    )
    printed = "\n".join(line.rstrip() for line in output.strip("\n").splitlines()) + "\n"
    assert re.fullmatch(pattern, printed), (
        f"{block.where}: the output shown on the page differs from the real one.\n"
        f"--- page ---\n{block.expected}--- real ---\n{output}"
    )


def run_python(block: Block, namespace: dict) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block.code, block.where, "exec"), namespace)
    return printed.getvalue()


def run_bash(block: Block, session: Path) -> str:
    """Run a bash block; shell variables carry over to the page's next blocks, as in a terminal."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    script = f"set -a\n[ -f {session} ] && . {session}\n{block.code}\nexport -p > {session}\n"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, (
        f"{block.where} failed (exit {result.returncode}):\n{block.code}\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


PAGES = sorted(DOCS.rglob("*.md"))
# Pages whose blocks only use kvgg models and Keras: CI runs them on JAX and PyTorch too.
BACKEND_NEUTRAL = {"tutorials/models.md"}
# Pages that train or evaluate for real (minutes on a CPU), the home page, which builds
# full-size models, and the installation page, which starts a fresh interpreter (10 s each).
SLOW = {
    "deploy.md",
    "index.md",
    "installation.md",
    "quickstart.md",
    "tutorials/distributed.md",
    "tutorials/evaluate.md",
    "tutorials/imagenet.md",
    "tutorials/localize.md",
    "tutorials/perceptual.md",
    "tutorials/pretrained.md",
    "tutorials/transfer.md",
}


# Pages that run optional packages: skipped without them (CI installs the extras).
PAGE_NEEDS = {
    "deploy.md": ("tf2onnx", "onnxruntime", "openvino", "nncf", "ai_edge_litert"),
    "tutorials/perceptual.md": ("torch",),  # and `pip install --no-deps lpips`: its weights
}


def _page_params():
    for page in PAGES:
        name = page.relative_to(DOCS).as_posix()
        if any(block.runs for block in read_blocks(page)):
            marks = [pytest.mark.backend] if name in BACKEND_NEUTRAL else []
            marks += [pytest.mark.slow] if name in SLOW else []
            yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("page", list(_page_params()))
def test_every_block_of_the_page_runs_and_prints_what_it_shows(page, tmp_path, monkeypatch):
    for module in PAGE_NEEDS.get(page, ()):
        pytest.importorskip(module)
    (tmp_path / "recipes").symlink_to(ROOT / "recipes")
    monkeypatch.chdir(tmp_path)
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    namespace = {"__name__": "__docs__"}
    with _tensorflow_determinism_restored():  # a page may enable it (the localisation page)
        for block in read_blocks(DOCS / page):
            if not block.runs:
                continue
            if block.lang == "python":
                output = run_python(block, namespace)
            else:
                output = run_bash(block, session=tmp_path / ".docs-shell")
            if block.expected is not None:
                assert_output(block, output)


@contextlib.contextmanager
def _tensorflow_determinism_restored():
    """Leave TensorFlow's op determinism as it was: a page that turns it on must not change
    the kernels (and so the numbers) of the tests that run after it in the process."""
    from tensorflow.python.framework import config  # the switch back has no public name

    before = config.is_op_determinism_enabled()
    try:
        yield
    finally:
        if config.is_op_determinism_enabled() != before:
            (config.enable_op_determinism if before else config.disable_op_determinism)()


def test_every_code_block_has_a_known_language():
    unknown = [
        f"{block.where} ({block.lang or 'no language'})"
        for page in PAGES
        for block in read_blocks(page)
        if block.lang not in KNOWN_LANGUAGES
    ]
    assert not unknown, f"code blocks the harness would silently skip: {unknown}"


def test_excluded_blocks_are_few_and_say_why():
    excluded = [b for page in PAGES for b in read_blocks(page) if not b.runs and b.lang in RUNNABLE]
    ran = [b for page in PAGES for b in read_blocks(page) if b.runs]
    assert all(len(b.title) > len("Needs ") for b in excluded)
    assert len(excluded) <= len(ran) / 2, [b.where for b in excluded]


def test_output_check_catches_a_wrong_page():
    code = "print(1)\nprint(2)\nprint('loss 0.25 top-1 97%')\n"
    block = Block("x.md", 1, "python", "", code, expected="1\n...\nloss ... top-1 97%\n")
    assert_output(block, run_python(block, {}))
    block.expected = "1\n4\n"
    with pytest.raises(AssertionError, match="differs from the real one"):
        assert_output(block, run_python(block, {}))


def test_blocks_are_paired_with_their_output_and_titles_are_read():
    text = textwrap.dedent(
        """\
        ```python
        print("hi")
        ```

        ```text
        hi
        ```

        !!! note
            ```bash title="Needs the network"
            pip download kvgg
            ```
        """
    )
    first, second = parse_blocks(text, "probe.md")
    assert (first.lang, first.expected, first.runs) == ("python", "hi\n", True)
    assert (second.lang, second.title, second.runs, second.line) == (
        "bash",
        "Needs the network",
        False,
        10,
    )
    assert second.code == "pip download kvgg\n"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return False
        return True
    return False


def test_the_paper_map_names_only_real_code_recipes_and_tests():
    text = (DOCS / "paper-map.md").read_text()
    tests = {
        path.name: set(re.findall(r"^\s*def (test_\w+)", path.read_text(), re.MULTILINE))
        for path in (ROOT / "tests").glob("test_*.py")
    }
    every_test = set().union(*tests.values())
    missing = [
        f"{file}::{name}"
        for file, name in re.findall(r"`(test_\w+\.py)::(test_\w+)`", text)
        if name not in tests.get(file, ())
    ]
    missing += [name for name in re.findall(r"`(test_\w+)`", text) if name not in every_test]
    missing += [name for name in re.findall(r"`(kvgg(?:\.\w+)+)", text) if not _resolves(name)]
    recipes = {path.name for path in (ROOT / "recipes").rglob("*.yaml")}
    missing += [name for name in re.findall(r"(\w+\.yaml)", text) if name not in recipes]
    assert not missing, f"docs/paper-map.md names what does not exist: {missing}"


def _kvgg_command_lines(code: str):
    """The argument lists of the `kvgg ...` commands of a shell block (env prefixes dropped)."""
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            words = words[1:]
        if words[:1] == ["kvgg"]:
            yield words[1:]


def _parse_only(args: list[str]) -> None:
    """Resolve a `kvgg` command line down to its command and parse its options, running nothing."""
    from kvgg.cli import main

    command, ctx = main, main.make_context("kvgg", list(args), resilient_parsing=False)
    while isinstance(command, click.Group):
        name, command, rest = command.resolve_command(ctx, ctx.protected_args + ctx.args)
        ctx = command.make_context(name, rest, parent=ctx)


def test_commands_shown_but_not_run_exist_with_those_options():
    checked = 0
    for page in PAGES:
        for block in read_blocks(page):
            if block.lang != "bash" or block.runs:
                continue
            for args in _kvgg_command_lines(block.code):
                try:
                    _parse_only(args)
                except click.UsageError as error:
                    pytest.fail(f"{block.where}: kvgg {' '.join(args)}: {error}")
                checked += 1
    assert checked >= 10
