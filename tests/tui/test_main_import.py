"""`tui/__main__.py` starts the console only when run (`python -m tui`): importing it, with no
terminal, does nothing and returns at once (it used to start the console and spin a core)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.helpers.paths import ROOT
from tests.helpers.process import clean_env

pytestmark = pytest.mark.subprocess


def test_importing_the_console_entry_point_starts_nothing() -> None:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "import tui.__main__; print('imported')"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, cwd=ROOT,
        env=clean_env(TERM="dumb"),
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"  # nothing drew on the (absent) terminal
    assert elapsed < 15, elapsed
