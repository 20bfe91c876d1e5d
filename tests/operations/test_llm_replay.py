"""A real model's recorded answers (tests/fixtures/llm/, written by test_llm_real.py with
IGNY8_LLM_RECORD=1: SmolLM2-135M-Instruct in llama-cpp-python's server) replayed through the
API: the pipeline's four steps make the same calls and end as they did against the real
server, each success having done its job and each failure readable and refunded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from igny8d.ai.providers.openai.chat import forget_refusals
from tests.helpers.fake_openai import FakeOpenAI, default_chat
from tests.helpers.llm_pipeline import check_outcomes, run_through
from tests.helpers.llm_record import Recorder, Replay

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "llm").glob("*.json"))


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
async def test_recorded_real_model_answers_replay(tmp_path, db_url, fixture):
    recorded: dict[str, Any] = json.loads(fixture.read_text())
    forget_refusals()
    replay = Replay(recorded["calls"], recorded["model"])
    outcomes = await run_through(replay, tmp_path, db_url, recorded["model"],
                                 "replay@example.com",
                                 llm_json_schema=recorded["mode"] == "json_schema")
    check_outcomes(outcomes)
    assert [(o["step"], o["state"]) for o in outcomes] == \
        [(s["step"], s["state"]) for s in recorded["steps"]]
    assert [o["error"] for o in outcomes] == [s["error"] for s in recorded["steps"]]
    assert replay.left() == 0, "calls recorded but not made: the pipeline asks differently"


async def test_what_the_recorder_records_replays_the_same(tmp_path, db_url):
    """The record/replay machinery itself, on the fake server's answers (one of them
    repaired): recorded through the proxy, replayed with the same outcome and every answer
    used."""
    forget_refusals()
    async with FakeOpenAI() as fake:
        broken: list[str] = []

        def once_empty(brief: Any) -> Any:  # the first ideas answer needs a repair
            if brief.get("task") == "ideas" and not broken:
                broken.append("ideas")
                return {"ideas": []}
            return default_chat(brief)

        fake.on_chat = once_empty
        recorder = Recorder(fake.url)
        first = await run_through(recorder, tmp_path, db_url, "gpt-4o-mini", "rec@example.com")
    check_outcomes(first)
    assert [o["state"] for o in first] == ["SUCCESS"] * 4
    kinds = [(c["task"], c["kind"], c["shape_valid"]) for c in recorder.calls]
    assert kinds[:3] == [("clustering", "ask", True), ("ideas", "ask", False),
                         ("ideas", "repair", True)]
    assert [k[0] for k in kinds[3:]] == ["content_intro"] + ["content_section"] * 3 + [
        "image_prompt_extraction"]
    replay = Replay(recorder.calls, "gpt-4o-mini")
    # the same database, another account
    again = await run_through(replay, tmp_path, db_url, "gpt-4o-mini", "rep@example.com")
    assert [(o["step"], o["state"]) for o in again] == [(o["step"], o["state"]) for o in first]
    assert replay.left() == 0


def test_the_recordings_exist_and_say_what_they_measured():
    modes = {json.loads(f.read_text())["mode"] for f in FIXTURES}
    assert modes == {"json_schema", "json_object"}
    for f in FIXTURES:
        data = json.loads(f.read_text())
        assert {s["step"] for s in data["steps"]} == {"clustering", "ideas", "content",
                                                      "image_prompts"}
        assert all("shape_valid" in c and "seconds" in c for c in data["calls"])
