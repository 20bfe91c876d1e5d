"""The server's event loop choice: uvloop when installed, asyncio when asked."""

from __future__ import annotations

import asyncio
import builtins
import subprocess
import sys

import pytest

from igny8d.app import use_event_loop
from igny8d.settings import StartupError, load_settings


@pytest.fixture(autouse=True)
def _restore_policy():
    before = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(before)


def test_asyncio_is_kept_when_asked():
    assert use_event_loop("asyncio") == "asyncio"


def test_auto_takes_uvloop_when_installed():
    pytest.importorskip("uvloop")
    assert use_event_loop("auto") == "uvloop"
    assert type(asyncio.get_event_loop_policy()).__module__.startswith("uvloop")


def test_forced_uvloop_without_it_is_one_line(monkeypatch):
    real_import = builtins.__import__

    def no_uvloop(name, *args, **kwargs):
        if name == "uvloop":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert use_event_loop("auto") == "asyncio"
    with pytest.raises(StartupError, match="uvloop is not installed"):
        use_event_loop("uvloop")


@pytest.mark.subprocess
def test_setting_is_validated():
    assert load_settings(env={"IGNY8_EVENT_LOOP": "asyncio"}).event_loop == "asyncio"
    out = subprocess.run([sys.executable, "-m", "igny8d", "serve"], capture_output=True,
                         text=True, env={"IGNY8_EVENT_LOOP": "tokio", "PATH": ""}, timeout=60)
    assert out.returncode == 2 and "event_loop" in out.stderr
