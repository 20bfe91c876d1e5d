"""The chat steps built for real models (igny8d/ai/providers/openai/chat.py, article.py),
against the fake OpenAI-compatible server: budgets and temperatures on every call, the JSON
schema as response_format and the remembered fallback when a server refuses it, one repair
call on a shape mismatch, failures that carry the tokens they spent, and articles written
outline-first within a bounded budget."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from igny8d.ai.cluster import KeywordItem
from igny8d.ai.providers import provider_for
from igny8d.ai.providers.openai import OpenAIProvider, schemas
from igny8d.ai.providers.openai.article import MAX_SECTIONS
from igny8d.ai.providers.openai.chat import refuses_schema
from igny8d.ai.types import (
    ArticleBrief,
    ChatBudget,
    ClusterBrief,
    ImageBrief,
    LlmOptions,
    OutlineSection,
    Prompts,
    ProviderConfig,
    ProviderError,
)
from igny8d.settings import Settings
from tests.helpers.fake_openai import FakeOpenAI, Reply

Make = Callable[..., OpenAIProvider]
CLUSTER = ClusterBrief(7, "coffee grinder", (KeywordItem(1, "coffee grinder", 900),
                                             KeywordItem(2, "coffee grinders", 90)))
IDEA = {"title": "Grinders", "description": "", "content_type": "blog_post",
        "content_structure": "guide", "target_keywords": ["coffee grinder"], "outline": [],
        "estimated_word_count": 1200}


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def make(fake: FakeOpenAI) -> AsyncIterator[Make]:
    made: list[OpenAIProvider] = []

    def factory(options: LlmOptions | None = None, **config: Any) -> OpenAIProvider:
        values: dict[str, Any] = {"kind": "openai", "base_url": fake.url, "api_key": "sk-x1",
                                  "timeout_s": 2.0, "max_retries": 0, "model": "small-model"}
        values.update(config)
        provider = OpenAIProvider(ProviderConfig(**values), options=options)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        provider.close()


def formats(fake: FakeOpenAI) -> list[str]:
    return [r.json["response_format"]["type"] + ("+schema" if "schema" in r.json[
        "response_format"] else "") for r in fake.requests]


async def test_every_step_carries_its_budget_temperature_and_schema(fake, make):
    options = LlmOptions(clustering=ChatBudget(111, 0.0), ideas=ChatBudget(222, 0.9),
                         image_prompts=ChatBudget(333, 0.3))
    provider = make(options)
    await provider.cluster(CLUSTER.keywords, Prompts())
    await provider.generate_ideas(CLUSTER, Prompts(), count=1)
    await provider.image_prompts(ImageBrief(1, "Grinders", "<h2>Burrs</h2><p>x</p>"),
                                 Prompts())
    sent = [(r.json["max_tokens"], r.json["temperature"], r.json["response_format"])
            for r in fake.requests]
    assert sent == [
        (111, 0.0, {"type": "json_schema", "json_schema": {
            "name": "clustering", "schema": schemas.strict(schemas.clustering(
                ["coffee grinder", "coffee grinders"])), "strict": True}}),
        (222, 0.9, {"type": "json_schema", "json_schema": {
            "name": "ideas", "schema": schemas.strict(schemas.IDEAS), "strict": True}}),
        (333, 0.3, {"type": "json_schema", "json_schema": {
            "name": "image_prompt_extraction", "schema": schemas.strict(schemas.IMAGE_PROMPTS),
            "strict": True}})]
    # strict mode takes no minLength; the grammar form keeps it
    assert "minLength" not in json.dumps(sent) and "minLength" in json.dumps(schemas.IDEAS)
    # a clustering's keywords are those given
    keywords = sent[0][2]["json_schema"]["schema"]["properties"]["clusters"]["items"][
        "properties"]["keywords"]["items"]
    assert keywords == {"type": "string", "enum": ["coffee grinder", "coffee grinders"]}
    # constrained: the schema is not repeated in the prompt
    assert all("answer_schema" not in r.brief for r in fake.requests)


def test_the_settings_make_the_options_the_provider_uses():
    settings = Settings(llm_max_tokens_ideas=321, llm_temperature_ideas=0.25,
                        llm_max_tokens_section=200, llm_max_tokens_content=900,
                        llm_json_schema=False)
    provider = provider_for(ProviderConfig(kind="openai", base_url="http://127.0.0.1:9/v1"),
                            settings)
    assert isinstance(provider, OpenAIProvider)
    assert provider.options.ideas == ChatBudget(321, 0.25)
    assert (provider.options.section.max_tokens, provider.options.content_total) == (200, 900)
    assert provider.chat.json_schema is False


async def test_a_server_that_refuses_json_schema_gets_json_object_and_is_remembered(
        fake, make):
    fake.refuse_json_schema = True
    provider = make()
    got = await provider.generate_ideas(CLUSTER, Prompts(), count=1)
    assert got.value and formats(fake) == ["json_schema", "json_object+schema"]
    assert fake.requests[1].json["response_format"]["schema"] == schemas.IDEAS
    assert fake.requests[1].brief["answer_schema"] == schemas.IDEAS
    assert [s.detail for s in got.response_steps if s.name == "fallback"] == [
        "json_schema refused (400): json_object+schema, the schema in the prompt"]
    # remembered for this server and model: straight to json_object, for every step
    again = make()
    await again.generate_ideas(CLUSTER, Prompts(), count=1)
    await again.cluster(CLUSTER.keywords, Prompts())
    assert formats(fake)[2:] == ["json_object+schema", "json_object+schema"]
    assert fake.requests[3].brief["answer_schema"] == schemas.clustering(
        ["coffee grinder", "coffee grinders"])
    # another model on the same server is asked afresh
    await make(model="other-model").generate_ideas(CLUSTER, Prompts(), count=1)
    assert formats(fake)[4:] == ["json_schema", "json_object+schema"]


async def test_a_request_validators_422_is_a_refusal_too(fake, make):
    """llama-cpp-python's server: json_schema is not a type its validator knows."""
    fake.script(Reply(422, {"detail": [{"loc": ["body", "response_format", "type"],
                                        "msg": "Input should be 'text' or 'json_object'"}]},
                      path="/chat/completions"))
    got = await make(model="m422").generate_ideas(CLUSTER, Prompts(), count=1)
    assert got.value and formats(fake) == ["json_schema", "json_object+schema"]


async def test_llama_cpp_pythons_500_naming_the_format_is_a_refusal_not_retried(fake, make):
    """What llama-cpp-python 0.3's server answers to json_schema (recorded from it)."""
    fake.script(FakeOpenAI.error(500, "1 validation error:\n  {'type': 'literal_error', 'loc': "
                                      "('body', 'response_format', 'type'), 'msg': \"Input "
                                      "should be 'text' or 'json_object'\"}",
                                 type_="internal_server_error", path="/chat/completions"))
    got = await make(model="llama", max_retries=3).generate_ideas(CLUSTER, Prompts(), count=1)
    assert got.value and formats(fake) == ["json_schema", "json_object+schema"]
    fake.script(FakeOpenAI.server_error(500), FakeOpenAI.server_error(500))
    with pytest.raises(ProviderError, match=r"failed \(500\) after 2 attempts"):
        await make(model="llama", max_retries=1).generate_ideas(CLUSTER, Prompts(), count=1)


async def test_a_server_that_refuses_both_schemas_gets_plain_json_object(fake, make):
    fake.script(FakeOpenAI.error(400, "Unknown response_format type json_schema",
                                 path="/chat/completions"),
                FakeOpenAI.error(400, "response_format: extra field 'schema' not permitted",
                                 path="/chat/completions"))
    got = await make(model="plain").generate_ideas(CLUSTER, Prompts(), count=1)
    assert got.value
    assert formats(fake) == ["json_schema", "json_object+schema", "json_object"]
    assert fake.requests[2].brief["answer_schema"] == schemas.IDEAS
    await make(model="plain").generate_ideas(CLUSTER, Prompts(), count=1)
    assert formats(fake)[3:] == ["json_object"]


def test_only_format_errors_are_refusals():
    assert refuses_schema(ProviderError("The provider refused the request (400): "
                                        "response_format json_schema unsupported", status=400))
    assert not refuses_schema(ProviderError(
        "The provider refused the request (400): This model's maximum context length is 2048 "
        "tokens.", status=400))
    assert not refuses_schema(ProviderError("The provider failed (500): schema", status=500))


async def test_an_over_long_prompt_is_not_taken_for_a_refusal(fake, make):
    fake.script(FakeOpenAI.context_exceeded())
    with pytest.raises(ProviderError) as err:
        await make().generate_ideas(CLUSTER, Prompts(), count=1)
    assert "maximum context length is 2048 tokens" in str(err.value)
    assert err.value.status == 400 and len(fake.requests) == 1


async def test_json_object_only_when_the_setting_says_so(fake, make):
    await make(LlmOptions(json_schema=False)).generate_ideas(CLUSTER, Prompts(), count=1)
    assert formats(fake) == ["json_object"]
    assert fake.requests[0].brief["answer_schema"] == schemas.IDEAS


async def test_a_wrong_shape_is_repaired_once_and_both_calls_are_counted(fake, make):
    fake.script(FakeOpenAI.chat({"ideas": [{"titel": "typo"}]}, prompt_tokens=100,
                                completion_tokens=20),
                FakeOpenAI.chat({"ideas": [IDEA]}, prompt_tokens=150, completion_tokens=30))
    got = await make().generate_ideas(CLUSTER, Prompts(), count=1)
    assert [i.title for i in got.value] == ["Grinders"]
    assert got.tokens == 300
    assert [s.name for s in got.request_steps] == ["request", "request"]
    repair = fake.requests[1].messages
    assert repair[2] == {"role": "assistant",
                         "content": json.dumps({"ideas": [{"titel": "typo"}]})}
    problem = json.loads(repair[3]["content"])
    assert problem["task"] == "repair" and "ideas.0.title" in problem["problem"]
    assert fake.requests[1].json["response_format"]["type"] == "json_schema"


async def test_a_failed_repair_fails_the_step_with_the_tokens_it_spent(fake, make):
    fake.script(FakeOpenAI.chat("not json at all", prompt_tokens=100, completion_tokens=20),
                FakeOpenAI.chat({"ideas": []}, prompt_tokens=150, completion_tokens=30))
    with pytest.raises(ProviderError) as err:
        await make(model="gpt-4o-mini").generate_ideas(CLUSTER, Prompts(), count=1)
    assert str(err.value) == ("The provider's answer did not match the expected shape: ideas: "
                              "List should have at least 1 item after validation, not 0 "
                              "(after one repair attempt).")
    assert err.value.tokens == 300
    assert err.value.cost == pytest.approx((250 * 0.15 + 50 * 0.60) / 1e6)


async def test_a_clustering_that_places_no_keyword_fails(fake, make):
    fake.script(FakeOpenAI.chat({"clusters": [{"name": "x", "keywords": ["tea", "milk"]}],
                                 "unclustered": []}, prompt_tokens=40, completion_tokens=10))
    with pytest.raises(ProviderError) as err:
        await make().cluster(CLUSTER.keywords, Prompts())
    assert "placed no keyword in a cluster" in str(err.value)
    assert "2 keywords the model invented ignored" in str(err.value)
    assert err.value.tokens == 50
    # no clusters key at all: repaired once, then failed
    fake.script(FakeOpenAI.chat({"groups": []}), FakeOpenAI.chat({"clusters": []}))
    with pytest.raises(ProviderError, match="clusters"):
        await make().cluster(CLUSTER.keywords, Prompts())


OUTLINE = tuple(OutlineSection(f"Part {n}", (f"Detail {n}",), (f"kw {n}",))
                for n in range(1, 5))


async def test_an_article_is_written_section_by_section_within_its_budget(fake, make):
    seen: list[tuple[int, int, str]] = []

    async def hook(k: int, total: int, heading: str) -> None:
        seen.append((k, total, heading))

    options = LlmOptions(section=ChatBudget(600, 0.6), content_total=1000)
    brief = ArticleBrief(3, "Grinders", ("coffee grinder",), outline=OUTLINE,
                         target_word_count=1000)
    got = await make(options).generate_article(brief, Prompts(), on_section=hook)
    assert seen == [(0, 4, "introduction"), *[(n, 4, f"Part {n}") for n in range(1, 5)]]
    tasks = [r.brief["task"] for r in fake.requests]
    assert tasks == ["content_intro"] + ["content_section"] * 4
    # 5 calls share 1,000 tokens: 200 each, under the section cap of 600
    assert {r.json["max_tokens"] for r in fake.requests} == {200}
    assert {r.json["temperature"] for r in fake.requests} == {0.6}
    assert fake.requests[2].brief["previous_heading"] == "Part 1"
    assert fake.requests[2].brief["next_heading"] == "Part 3"
    assert fake.requests[2].brief["target_word_count"] == 200
    html = got.value.html_content
    assert html.startswith("<p>This article covers coffee grinder.</p><h2>Part 1</h2>")
    assert [h for h in (f"<h2>Part {n}</h2>" for n in range(1, 5)) if h in html] == \
        [f"<h2>Part {n}</h2>" for n in range(1, 5)]
    assert got.value.outline == OUTLINE and got.tokens > 0


async def test_a_long_outline_is_capped_and_a_section_of_no_text_fails(fake, make):
    long = tuple(OutlineSection(f"Part {n}") for n in range(MAX_SECTIONS + 3))
    got = await make().generate_article(ArticleBrief(3, "T", ("k",), outline=long), Prompts())
    assert len(fake.requests) == 1 + MAX_SECTIONS
    assert any(s.name == "outline" and "3 sections" in s.detail for s in got.response_steps)

    fake.requests.clear()
    fake.script(Reply(path="/chat/completions"),  # the intro: the default answer
                FakeOpenAI.chat({"html_content": "<p>Fine words.</p>"}),
                FakeOpenAI.chat({"html_content": "<p> </p><ul></ul>"}, prompt_tokens=7,
                                completion_tokens=3),
                FakeOpenAI.chat({"html_content": "<h2>Part 2</h2>"}, prompt_tokens=7,
                                completion_tokens=3))
    with pytest.raises(ProviderError) as err:
        await make().generate_article(ArticleBrief(3, "T", ("k",), outline=OUTLINE),
                                      Prompts())
    assert "the section has no text (after one repair attempt)" in str(err.value)
    assert len(fake.requests) == 4
    assert err.value.tokens > 20  # the intro's and the first section's tokens too


async def test_without_an_outline_one_call_and_an_empty_article_fails(fake, make):
    got = await make().generate_article(ArticleBrief(3, "Grinders", ("coffee grinder",)),
                                        Prompts())
    assert [r.brief["task"] for r in fake.requests] == ["content_generation"]
    assert got.value.outline  # read back from the HTML
    fake.script(FakeOpenAI.chat({"html_content": "<p></p>"}),
                FakeOpenAI.chat({"html_content": "   "}))
    with pytest.raises(ProviderError, match="after one repair attempt"):
        await make().generate_article(ArticleBrief(3, "Grinders", ("coffee grinder",)),
                                      Prompts())
