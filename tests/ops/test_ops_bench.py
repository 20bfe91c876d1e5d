"""`make bench` on a fresh clone (no ../shared/peers) measures igny8d alone (issue 5, item 21)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.paths import ROOT
from tests.helpers.process import free_port

RUN_PY = ROOT / "bench" / "run.py"


def bench_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/run.py loaded from its path; its SIGTERM handler kept out of the test process."""
    monkeypatch.setattr("signal.signal", lambda *_args: None)
    spec = importlib.util.spec_from_file_location("bench_run", RUN_PY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.subprocess
def test_bench_without_peers_measures_igny8d_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = bench_module(monkeypatch)
    monkeypatch.setattr(bench, "DEFAULT_PEERS", tmp_path / "shared" / "peers")
    monkeypatch.setattr(bench.shutil, "which", lambda _name: None)  # the stdlib driver
    monkeypatch.delenv("IGNY8_PEERS_DIR", raising=False)
    results = tmp_path / "results"
    monkeypatch.setattr(sys, "argv", [
        "run.py", "--python", sys.executable, "--duration", "1", "--warmup", "0",
        "--workers", "1", "--connections", "2", "--port", str(free_port()),
        "--results", str(results), "--data-dir", str(tmp_path / "data")])
    assert bench.main() == 0
    out = capsys.readouterr().out
    assert "igny8d alone" in out
    assert "not found at" in out and "IGNY8_PEERS_DIR" in out  # how to add them
    [jsonl] = results.glob("*-alone.jsonl")
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["endpoint"] for r in rows] == ["ping", "login"]
    assert all(r["requests"] > 0 and r["non_2xx"] == 0 for r in rows)


def test_bench_asked_for_peers_without_them_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = bench_module(monkeypatch)
    monkeypatch.setattr(bench, "DEFAULT_PEERS", tmp_path / "none")
    monkeypatch.delenv("IGNY8_PEERS_DIR", raising=False)
    monkeypatch.setattr(sys, "argv", ["run.py", "drf", "--python", sys.executable])
    with pytest.raises(SystemExit, match=r"cannot measure drf.*IGNY8_PEERS_DIR"):
        bench.main()
