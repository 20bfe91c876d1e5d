"""The mixed scenario's writer (bench/mixed.py, issue 14 item 5): its pacing and its figures.

The scenario itself needs the peers and wrk (`make bench`); these check the logic that decides
which write counts as done and what latency is reported, on a simulated clock.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest

from tests.helpers.paths import ROOT


@pytest.fixture(scope="module")
def mixed() -> Iterator[ModuleType]:
    """bench/mixed.py loaded from its path (bench/ is not a package); registered while the
    tests run because its dataclasses look their module up."""
    spec = importlib.util.spec_from_file_location("bench_mixed_test", ROOT / "bench/mixed.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


class Clock:
    """A simulated clock: sleeping and writing advance it."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def writer(clock: Clock, seconds: dict[int, float],
           failing: frozenset[int] = frozenset()) -> Callable[[int], tuple[bool, str]]:
    def write(i: int) -> tuple[bool, str]:
        clock.now += seconds.get(i, 0.002)
        return (i not in failing, "409 duplicate" if i in failing else "")

    return write


def test_fast_writes_go_out_on_their_slots(mixed: ModuleType) -> None:
    clock = Clock(100.0)
    out = mixed.pace(writer(clock, {}), 10, 1.0, 100.5, clock.time, clock.sleep)
    assert [o.index for o in out] == list(range(10))
    assert [round(o.sent - 100.5, 6) for o in out] == [round(i / 10, 6) for i in range(10)]
    assert all(o.sent >= o.due for o in out)
    summary = mixed.summarize(out, 10)
    assert (summary["attempted"], summary["sent"], summary["done"], summary["failed"]) == (
        10, 10, 10, 0)
    assert summary["p50_ms"] == summary["p99_ms"] == 2.0
    assert summary["late_max_ms"] == 0.0


def test_a_slow_write_delays_the_next_and_the_window_ends_the_run(mixed: ModuleType) -> None:
    clock = Clock(0.0)
    # write 1 holds the client 0.5 s: writes 2.. go out late, back to back, until the
    # schedule catches up; write 8 holds it past the 1 s window: write 9 is never sent
    out = mixed.pace(writer(clock, {1: 0.5, 8: 0.5}), 10, 1.0, 0.0, clock.time, clock.sleep)
    assert [o.index for o in out] == list(range(9))
    assert out[2].sent == pytest.approx(0.6) and out[2].due == pytest.approx(0.2)
    assert out[7].sent == pytest.approx(0.7)  # caught up: on its slot again
    summary = mixed.summarize(out, 10)
    assert (summary["attempted"], summary["sent"], summary["done"]) == (10, 9, 9)
    assert summary["max_ms"] == pytest.approx(500.0)
    assert summary["late_max_ms"] == pytest.approx(400.0)


def test_failed_writes_count_as_not_done_but_their_latency_counts(mixed: ModuleType) -> None:
    clock = Clock(0.0)
    out = mixed.pace(writer(clock, {1: 0.5}, frozenset({1})), 2, 2.0, 0.0, clock.time,
                     clock.sleep)
    summary = mixed.summarize(out, 4)
    assert (summary["sent"], summary["done"], summary["failed"]) == (4, 3, 1)
    assert summary["max_ms"] == pytest.approx(500.0)
    assert summary["errors"] == ["409 duplicate"]


def test_nearest_rank_percentiles(mixed: ModuleType) -> None:
    values = [float(v) for v in range(10, 0, -1)]
    assert mixed.percentile(values, 50) == 5.0
    assert mixed.percentile(values, 99) == 10.0  # of 10 samples: the largest
    assert mixed.percentile(values, 90) == 9.0
    assert mixed.percentile([3.0], 99) == 3.0
    assert mixed.percentile([], 50) is None
    assert mixed.summarize([], 10)["p99_ms"] is None


def test_reader_paths_and_written_rows(mixed: ModuleType) -> None:
    paths = mixed.reader_paths()
    assert len(paths) == len(set(paths)) == 40 * 3
    assert all("status=active" in p and "ordering=-volume" in p and "page_size=25" in p
               for p in paths)
    assert sum("page=" in p.replace("page_size=", "") for p in paths) == 80  # page 1 bare
    rows = [mixed.keyword_row(tag, i) for tag in ("idle1", "load1") for i in range(200)]
    assert len({r["keyword"] for r in rows}) == len(rows)
    for r in rows:
        assert sum(w in r["keyword"].split() for w in mixed.WORDS) >= 1
        assert r["status"] == "active" and 10 <= r["volume"] <= 100_000


def _row(target: str, rate: int, rps: float, p99: float, done: int, workers: int = 2
         ) -> dict[str, object]:
    writes = {"attempted": 10 * rate, "done": done, "p50_ms": 3.0, "p99_ms": 9.0}
    return {"target": target, "workers": workers, "rate": rate, "requests": int(10 * rps),
            "rps": rps, "p50_ms": p99 / 2, "p99_ms": p99, "non_2xx": 0, "socket_errors": {},
            "server_cpu_s": 5.0, "worker_cpu_s": [5.0], "write_path": "api",
            "writes": writes, "idle_writes": {**writes, "p99_ms": 4.0}}


def test_the_issues_targets_met_and_missed(mixed: ModuleType) -> None:
    res = {"cpus": 2, "rows": [
        _row("drf", 10, 100.0, 900.0, 100), _row("fastapi", 10, 120.0, 800.0, 100),
        _row("igny8d", 10, 500.0, 99.0, 100, workers=1),
        _row("drf", 1, 100.0, 900.0, 10), _row("igny8d", 1, 600.0, 60.0, 10, workers=1)]}
    lines = {line.split(" | ")[0].lstrip("| "): line
             for line in mixed.mixed_targets_table(res).splitlines()}
    assert lines["10 writes/s: igny8d (1 proc) ÷ drf (2 proc)"].endswith("| 5.00× | yes |")
    assert lines["10 writes/s: igny8d (1 proc) ÷ fastapi (2 proc)"].endswith("| 4.17× | **no** |")
    assert lines["10 writes/s: igny8d read p99"].endswith("| 99.0 ms | yes |")
    assert lines["10 writes/s: igny8d writes done"].endswith("| 100 / 100 | yes |")
    assert lines["1 write/s: igny8d read p99"].endswith("| 60.0 ms | **no** |")  # < 60
    # igny8d 1,000 reads per CPU-second on its 1 core, drf 200 on each of 2: 2.5 times
    [estimate] = [v for k, v in lines.items() if k.startswith("10 writes/s: igny8d by CPU")]
    assert "÷ drf 2.50×" in estimate


def test_errors_or_a_missed_write_fail_the_targets(mixed: ModuleType) -> None:
    me = _row("igny8d", 10, 900.0, 50.0, 99, workers=1)
    me["non_2xx"] = 3
    res = {"cpus": 2, "rows": [_row("drf", 10, 100.0, 900.0, 100), me]}
    table = mixed.mixed_targets_table(res)
    assert "| 9.00× | **no** |" in table  # answered errors: not comparable
    assert "| 99 / 100 | **no** |" in table


def test_cpu_per_read_leaves_out_the_writes_share(mixed: ModuleType) -> None:
    row = _row("igny8d", 10, 500.0, 50.0, 100, workers=1)
    assert mixed.read_cpu_s(row) == 5.0  # a run without the field: the whole window
    row["read_cpu_s"] = 4.0
    assert mixed.read_cpu_s(row) == 4.0
    other = _row("drf", 10, 100.0, 900.0, 100)
    # 5,000 reads on 4 CPU-s on 1 core against 1,000 on 5 CPU-s on 2 cores
    assert mixed.cpu_capacity_ratio(row, other, {"cpus": 2}) == pytest.approx(3.125)


def test_the_idle_writes_wait_for_the_server_to_settle(mixed: ModuleType) -> None:
    clock = Clock(0.0)
    busy = iter([0.0, 0.5, 0.9, 0.91, 0.92])  # CPU seconds: working off a backlog, then quiet
    assert mixed.settle(lambda: next(busy), clock=clock.time, sleep=clock.sleep) is True
    assert clock.now == pytest.approx(1.5)
    spinning = iter(float(i) for i in range(1000))
    assert mixed.settle(lambda: next(spinning), limit=5.0, clock=clock.time,
                        sleep=clock.sleep) is False
