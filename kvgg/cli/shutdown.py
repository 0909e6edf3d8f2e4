"""Let a `kvgg` command's process end at once instead of spending most of a second exiting.

When Python exits it clears every module and collects garbage over all the objects still
alive, several times; once TensorFlow and Keras are imported that is about 0.8 s on a
2-core machine (`benchmarks/localize.py`), more than protocol 2 takes on one photo with
small nets. A command that calls `freeze_at_exit` has those objects frozen (`gc.freeze`)
when it exits: atexit handlers still run, the standard streams are flushed, and objects
are still freed as their references go; only objects held in reference cycles are left
to the operating system, whose finalisers Python does not promise to run at exit anyway.
Call it only from commands that close what they write (kvgg writes through `kvgg.io`).
"""

from __future__ import annotations

import atexit
import gc

_registered = False


def freeze_at_exit() -> None:
    """Freeze the objects alive when the process exits, so that exiting skips collecting them.

    Example:
        >>> import subprocess, sys
        >>> code = ("import atexit, gc; atexit.register(lambda: print(gc.get_freeze_count() > 0));"
        ...         " from kvgg.cli.shutdown import freeze_at_exit; freeze_at_exit()")
        >>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        'True\\n'
    """
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True
