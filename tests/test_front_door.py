"""The front door: the README's two commands work on a new machine, and CI runs them as written.

CI (.ci/run) runs the README's commands verbatim in a fresh venv before it installs any extra;
an example or test that needs an optional package (torch, ...) skips cleanly without it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / ".ci" / "run"


def readme_commands() -> list[str]:
    """The commands of the README's first two ```bash blocks, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)[:2]
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def ci_lines() -> list[str]:
    return [line.strip() for line in CI.read_text().splitlines()]


def test_readme_opens_with_the_quick_start_and_the_test_command():
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].startswith("pip install -e . &&") and "kvgg fit" in commands[0]
    assert commands[1].startswith('pip install -e ".[test]" &&') and "pytest" in commands[1]


def test_ci_runs_the_readme_commands_verbatim_in_a_fresh_venv_before_any_install():
    lines = ci_lines()
    commands = readme_commands()
    for command in commands:
        assert command in lines, f".ci/run does not run the README's command {command!r}"
    first = lines.index(commands[0])
    assert lines.index(commands[1]) == first + 1
    before = [line for line in lines[:first] if line and not line.startswith("#")]
    venv = [i for i, line in enumerate(before) if re.match(r"python3 -m venv ", line)]
    activate = [i for i, line in enumerate(before) if re.match(r"(source|\.) .*bin/activate", line)]
    assert venv and activate and venv[0] < activate[0], "no fresh venv activated before them"
    assert "--system-site-packages" not in " ".join(before)
    installs = [line for line in before if re.search(r"\bpip\b|\buv\b|conda", line)]
    assert not installs, f".ci/run installs before the README's commands: {installs}"


def test_every_test_module_that_needs_an_extra_is_run_by_ci_after_the_extras():
    text = CI.read_text()
    after_readme = text[text.index(readme_commands()[1]) :]
    needing = sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").rglob("test_*.py")
        if path.name != Path(__file__).name and "pytest.importorskip(" in path.read_text()
    )
    assert needing, "no test module needs an extra: this check would be vacuous"
    missing = [path for path in needing if path not in after_readme]
    assert not missing, f".ci/run does not run these after installing the extras: {missing}"


def test_an_example_that_imports_torch_skips_cleanly_without_it():
    # torch blocked as if not installed: its docstring example is skipped, naming torch.
    script = textwrap.dedent(
        """
        import sys

        class NoTorch:  # as if torch were not installed
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, NoTorch())
        import pytest
        sys.exit(pytest.main(["-n", "0", "-q", "-p", "no:cacheprovider", "-rs",
                              "kvgg/weights/torchvision.py"]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "failed" not in result.stdout, result.stdout[-2000:]
    assert "torchvision.py: the example needs torch, which is not installed" in result.stdout


def test_examples_import_scan_names_every_module():
    import doctest
    import importlib.util

    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    doctest_imports, missing_modules = root_conftest.doctest_imports, root_conftest.missing_modules
    examples = doctest.DocTestParser().get_examples(
        ">>> import tempfile, torch.nn as nn\n>>> from onnx.helper import make_node\n"
        ">>> from . import x\n>>> x = 'import lpips'\n"
    )
    assert doctest_imports(examples) == {"tempfile", "torch", "onnx"}
    assert missing_modules({"json", "no_such_module_kvgg"}) == ["no_such_module_kvgg"]
