"""The oracle of the adversarial tests: exit 0, or one clean line ``Error: ...`` and exit 2.

Anything else is a failure: a traceback (an exception escaping the CLI, exit 1), a hang
(a subprocess past its timeout), or an exit 2 whose message is not a single error line.
`Tally` counts the outcomes of a fuzzing run for the report in docs/reliability.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field

from click.testing import CliRunner

ACCEPTED, CLEAN_ERROR, TRACEBACK, HANG, MESSY = (
    "accepted",
    "clean error",
    "traceback",
    "hang",
    "messy error",
)


def invoke(args: list[str]):
    """Run ``kvgg ARGS`` in-process; return (outcome, the click Result)."""
    from kvgg.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args])
    return classify(result.exit_code, result.stderr, result.exception), result


def run_cli(args: list[str], timeout: float = 120, cwd=None):
    """Run ``python -m kvgg ARGS`` in a subprocess (where a hang is possible)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kvgg", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
        )
    except subprocess.TimeoutExpired:
        return HANG, None
    return classify(done.returncode, done.stderr, None), done


def classify(exit_code: int, stderr: str, exception=None) -> str:
    """The outcome of one run (see the module docstring)."""
    if exception is not None and not isinstance(exception, SystemExit):
        return TRACEBACK
    if "Traceback (most recent call last)" in stderr:
        return TRACEBACK
    if exit_code == 0:
        return ACCEPTED
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    if exit_code == 2 and len(errors) == 1 and len(errors[0]) > len("Error: "):
        return CLEAN_ERROR
    return MESSY


def clean_error_line(result) -> str:
    """The one ``Error:`` line of a clean error (asserts there is exactly one)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 2 and len(lines) == 1, (result.exit_code, result.output)
    return lines[0]


@dataclass
class Tally:
    """Outcome counts of a fuzzing run, and the failing cases for the assertion message."""

    name: str
    counts: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)

    def add(self, case, outcome: str, detail: str = "") -> None:
        self.counts[outcome] += 1
        if outcome not in (ACCEPTED, CLEAN_ERROR):
            self.failures.append((case, outcome, detail[-600:]))

    @property
    def tries(self) -> int:
        return sum(self.counts.values())

    def line(self) -> str:
        """One summary row: tries, clean errors, accepted, tracebacks, hangs, messy."""
        c = self.counts
        return (
            f"{self.name}: {self.tries} tries, {c[CLEAN_ERROR]} clean errors, "
            f"{c[ACCEPTED]} accepted, {c[TRACEBACK]} tracebacks, {c[HANG]} hangs, "
            f"{c[MESSY]} messy errors"
        )
