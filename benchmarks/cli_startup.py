"""`kvgg --help` against `import keras`: the command line answers without starting Keras.

    python benchmarks/cli_startup.py [--rounds 4]

Each round runs, in fresh processes, ``kvgg --help``, ``kvgg --version`` and
``python -c "import keras"`` (the floor a command that imported Keras would pay), in
ABBA order across rounds; prints the median wall time of each and the ratio of
``kvgg --help`` to ``import keras``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "kvgg --help": [sys.executable, "-m", "kvgg", "--help"],
    "kvgg --version": [sys.executable, "-m", "kvgg", "--version"],
    "import keras": [sys.executable, "-c", "import keras"],
}


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    rounds = parser.parse_args().rounds
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for round_ in range(rounds):
        order = list(COMMANDS) if round_ % 2 == 0 else list(reversed(COMMANDS))  # ABBA
        for name in order:
            times[name].append(seconds(COMMANDS[name]))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:16s} median {median:6.2f} s  ({', '.join(f'{t:.2f}' for t in times[name])})")
    print(f"kvgg --help / import keras: {medians['kvgg --help'] / medians['import keras']:.3f}")


if __name__ == "__main__":
    main()
