"""``services.process.freeze_startup_objects``: a serving process's start-up objects are
frozen (left out of the collector's full passes). Run in a child process: freezing is for
the life of the process, and this one runs the whole suite."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc
import tokenmall.web.app  # what a serving process has loaded before it serves
before = gc.get_freeze_count()
from tokenmall.services.process import freeze_startup_objects
freeze_startup_objects()
print(before, gc.get_freeze_count(), len(gc.get_objects(generation=2)))
"""


def test_start_up_objects_are_frozen() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    before, frozen, left_in_oldest = (int(n) for n in out)
    assert before == 0
    assert frozen > 10_000  # the web stack's modules, classes and functions
    assert left_in_oldest < frozen // 100  # nothing much left for a full pass to walk
