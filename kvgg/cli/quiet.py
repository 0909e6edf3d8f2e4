"""Keep TensorFlow's start-up lines off the terminal of `kvgg` commands.

While its native libraries load, TensorFlow writes lines such as "All log messages before
absl::InitializeLog() is called are written to STDERR", the oneDNN, cudart and CPU-feature
notes straight to file descriptor 2, whatever ``TF_CPP_MIN_LOG_LEVEL`` says. The CLI
installs `quiet_tensorflow_import`: the first ``import tensorflow`` (whichever module asks
for it) then runs with descriptor 2 captured, and only the lines that are not start-up
notes are written back to stderr. Library users' own imports are left alone.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

# What TensorFlow prints while it loads: glog-style lines from these sources, and two
# free-standing lines.
_NOISE = re.compile(
    r"^(?:[IWE]\d{4} [\d:.]+\s+\d+ (?:port|cudart_stub|cpu_feature_guard|cuda_dnn|cuda_fft"
    r"|cuda_blas|cuda_executor|cuda_diagnostics|computation_placer)\.cc:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|WARNING: Logging before InitGoogleLogging\(\))"
)


def is_start_up_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's start-up notes.

    Example:
        >>> is_start_up_noise("I0000 00:00:17.8 7977 port.cc:153] oneDNN custom operations")
        True
        >>> is_start_up_noise("Error: No model file at 'x.keras'.")
        False
    """
    return bool(_NOISE.match(line))


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # resource readers, get_source, ...: the real loader's
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with tempfile.TemporaryFile(mode="w+b") as captured:
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(captured.fileno(), 2)
            try:
                self._loader.exec_module(module)
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                text = captured.read().decode(errors="replace")
                kept = [line for line in text.splitlines(True) if not is_start_up_noise(line)]
                sys.stderr.write("".join(kept))


class _QuietFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # one use: find the real spec, then step aside
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_import() -> None:
    """Make the process's first ``import tensorflow`` keep its start-up lines to itself."""
    if "tensorflow" not in sys.modules and not any(
        isinstance(finder, _QuietFinder) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _QuietFinder())
