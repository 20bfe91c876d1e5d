"""One chat step built for real models: a budget, a constrained answer, one repair.

Every call carries the step's `max_tokens` and `temperature` (`LlmOptions`). The answer is
asked for as `response_format: {type: json_schema, json_schema: {name, schema, strict}}`;
a server that refuses that (a 400/422 naming response_format, json_schema or a schema, or a
422 of a request validator) is asked again with `{type: json_object, schema}` (the form
llama-cpp-python's server turns into a grammar), and if refused again with a plain
`{type: json_object}`, the schema in the user message from the first fallback on. The format
a server took is remembered for the process (per base URL and model), so later calls start
there. An answer that is not JSON or not of the step's shape gets ONE
repair call (the answer and what is wrong with it sent back, the corrected JSON asked for);
if that fails too, the step fails. Tokens and cost of every call are summed, and a failure
carries them (`ProviderError.tokens`), so a failed job is metered like a successful one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from igny8d.ai.providers.openai import schemas
from igny8d.ai.providers.openai.prices import token_cost
from igny8d.ai.providers.openai.transport import Transport
from igny8d.ai.providers.openai.wire import ChatResponse, Usage, parse_content, validate
from igny8d.ai.types import ChatBudget, ProviderError, Step

M = TypeVar("M", bound=BaseModel)

#: (base URL, model) → the most constrained answer format it took in this process
#: (`FORMAT_NAMES`; absent: json_schema, not refused yet)
_FORMAT_LEVEL: dict[tuple[str, str], int] = {}
#: words of an error that blames the answer format
_FORMAT_WORDS = ("response_format", "json_schema", "schema", "grammar")
#: the answer sent back in a repair call is cut at this many characters
REPAIR_ECHO_CHARS = 6000
SHAPE_ERROR = "The provider's answer did not match the expected shape"


def refuses_schema(exc: ProviderError) -> bool:
    """A refusal of `response_format: json_schema` (not of the prompt: an over-long prompt's
    400 names no format)."""
    text = str(exc).lower()
    if exc.status == 500:  # llama-cpp-python's validator errors: "… 'response_format' …"
        return "response_format" in text
    return exc.status in (400, 422) and (any(w in text for w in _FORMAT_WORDS) or
                                         (exc.status == 422 and "(422)." in text))


def forget_refusals() -> None:
    """Tests start each from a process that has seen no server refuse."""
    _FORMAT_LEVEL.clear()


@dataclass
class Spent:
    """What a step's calls cost so far, and its steps."""

    tokens: int = 0
    cost: float = 0.0
    request: list[Step] = field(default_factory=list)
    response: list[Step] = field(default_factory=list)

    def charge(self, exc: ProviderError) -> ProviderError:
        """`exc` carrying what was spent (added to what it already carries)."""
        exc.tokens += self.tokens
        exc.cost = round(exc.cost + self.cost, 8)
        exc.request_steps, exc.response_steps = tuple(self.request), tuple(self.response)
        return exc


@dataclass(frozen=True, slots=True)
class Asked(Generic[M]):
    value: M
    spent: Spent


#: the answer formats, most constrained first: OpenAI's json_schema; json_object with a
#: `schema` (llama-cpp-python's server and others decode it as a grammar); plain json_object
JSON_SCHEMA, OBJECT_WITH_SCHEMA, JSON_OBJECT = 0, 1, 2
FORMAT_NAMES = ("json_schema", "json_object+schema", "json_object")


class Chat:
    """The chat steps of one provider (see the module doc)."""

    def __init__(self, http: Transport, model: str, *, json_schema: bool = True) -> None:
        self.http = http
        self.model = model
        self.json_schema = json_schema

    @property
    def _key(self) -> tuple[str, str]:
        return self.http.base_url, self.model

    def _level(self) -> int:
        return _FORMAT_LEVEL.get(self._key, JSON_SCHEMA) if self.json_schema else JSON_OBJECT

    async def _post_any(self, task: str, messages: list[dict[str, Any]], user: dict[str, Any],
                        schema: dict[str, Any], budget: ChatBudget,
                        spent: Spent) -> tuple[str | None, bool]:
        """One call in the most constrained format the server takes: a refusal moves this
        server and model one format down, for the process, and the call is made again."""
        while True:
            level = self._level()
            if level != JSON_SCHEMA:
                user["answer_schema"] = schema
            messages[1]["content"] = json.dumps(user, ensure_ascii=False)
            try:
                return await self._post(task, messages, budget, schema, level, spent)
            except ProviderError as exc:
                if level == JSON_OBJECT or not refuses_schema(exc):
                    raise
                _FORMAT_LEVEL[self._key] = level + 1
                spent.response.append(Step("fallback", f"{FORMAT_NAMES[level]} refused "
                                           f"({exc.status}): {FORMAT_NAMES[level + 1]}, the "
                                           "schema in the prompt"))

    async def ask(self, task: str, system: str, brief: dict[str, Any], shape: type[M], *,
                  schema: dict[str, Any], budget: ChatBudget, answer: str,
                  check: Callable[[M], None] | None = None,
                  spent: Spent | None = None) -> Asked[M]:
        """The step's answer as `shape`, checked by `check` (which raises a ProviderError for
        an answer that has the shape but not the content: an empty article)."""
        spent = spent if spent is not None else Spent()
        user = {"task": task, **brief, "answer": answer}
        messages: list[dict[str, Any]] = [{"role": "system", "content": system},
                                          {"role": "user", "content": ""}]
        try:
            content, cut = await self._post_any(task, messages, user, schema, budget, spent)
            try:
                return Asked(self._read(content, cut, shape, check), spent)
            except ProviderError as first:
                if first.status is not None:
                    raise
                problem = str(first)
                spent.response.append(Step("repair", str(first)[len(SHAPE_ERROR):][:200]
                                           .lstrip(": ") or str(first)[:200]))
            messages += [
                {"role": "assistant", "content": (content or "")[:REPAIR_ECHO_CHARS]},
                {"role": "user", "content": json.dumps({
                    "task": "repair", "problem": problem,
                    "answer": "Answer again with only the corrected JSON object, nothing else."
                              + ("" if self._level() == JSON_SCHEMA else
                                 " It must match answer_schema.")},
                    ensure_ascii=False)}]
            content, cut = await self._post(task, messages, budget, schema, self._level(),
                                            spent)
            try:
                return Asked(self._read(content, cut, shape, check), spent)
            except ProviderError as exc:
                raise ProviderError(f"{str(exc).rstrip('.')} (after one repair attempt).",
                                    status=exc.status) from None
        except ProviderError as exc:
            raise spent.charge(exc) from None

    async def _post(self, task: str, messages: list[dict[str, Any]], budget: ChatBudget,
                    schema: dict[str, Any], level: int,
                    spent: Spent) -> tuple[str | None, bool]:
        """One call: (content, cut off at max_tokens); tokens and cost added to `spent`."""
        response_format: dict[str, Any] = {"type": "json_object"}
        if level == JSON_SCHEMA:
            response_format = {"type": "json_schema", "json_schema": {
                "name": task, "schema": schemas.strict(schema), "strict": True}}
        elif level == OBJECT_WITH_SCHEMA:
            response_format["schema"] = schema
        body: dict[str, Any] = {
            "model": self.model, "messages": messages,
            "max_tokens": budget.max_tokens, "temperature": budget.temperature,
            "response_format": response_format,
        }
        fmt = FORMAT_NAMES[level]
        spent.request.append(Step("request", f"POST /chat/completions model={self.model} "
                                             f"{fmt} max_tokens={budget.max_tokens}"))
        answer = await self.http.call("POST", "/chat/completions", body)
        spent.response.extend(answer.retries)
        chat = validate(ChatResponse, answer.data)
        usage = chat.usage or Usage()
        spent.tokens += usage.total
        spent.cost = round(spent.cost + token_cost(self.model, usage.prompt_tokens,
                                                   usage.completion_tokens), 8)
        choice = chat.choices[0]
        cut = choice.finish_reason == "length"
        spent.response.append(Step("response", f"200, {usage.total:,} tokens"
                                               + (", cut at max_tokens" if cut else "")))
        if not (choice.message.content or "").strip() and choice.message.refusal:
            raise ProviderError("The model refused: " + self.http.scrub(
                " ".join(choice.message.refusal.split()))[:160], status=200)
        return choice.message.content, cut

    @staticmethod
    def _read(content: str | None, cut: bool, shape: type[M],
              check: Callable[[M], None] | None) -> M:
        if content is None or not content.strip():
            raise ProviderError(f"{SHAPE_ERROR}: choices.0.message.content: no content")
        value = validate(shape, parse_content(content, cut_off=cut))
        if check is not None:
            check(value)
        return value
