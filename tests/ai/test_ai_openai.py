"""igny8d.ai.providers.openai against the fake OpenAI-compatible server
(tests/helpers/fake_openai.py): the wire (headers, the JSON schema, the account prompt as system
message), parsing into the contract's dataclasses, retries with backoff and Retry-After, the
readable failures, embeddings, images, test() and provider selection."""

from __future__ import annotations

import base64
import email.utils
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from igny8d.ai.cluster import KeywordItem
from igny8d.ai.prompts import DEFAULT_PROMPTS
from igny8d.ai.providers import provider_for
from igny8d.ai.providers.openai import (
    MAX_EMBEDDING_BATCH,
    RETRY_AFTER_CAP_S,
    OpenAIProvider,
    image_size,
    schemas,
    token_cost,
)
from igny8d.ai.text import slug as slug_of
from igny8d.ai.types import (
    ArticleBrief,
    ClusterBrief,
    ImageBrief,
    ImageRequest,
    OutlineSection,
    Prompts,
    ProviderConfig,
    ProviderError,
)
from igny8d.schemas.planner_clusters import (
    CONTENT_STRUCTURES,
    CONTENT_TYPES,
    MAX_OUTLINE_ITEMS,
)
from igny8d.settings import Settings
from igny8d.text import cut_at_word
from tests.helpers.fake_openai import FakeOpenAI, Reply, small_png

KEY = "sk-test-9f8e7d6c5b4a"


class Sleeps:
    """The backoff's injected clock: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


Make = Callable[..., OpenAIProvider]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make(fake: FakeOpenAI, sleeps: Sleeps) -> AsyncIterator[Make]:
    made: list[OpenAIProvider] = []

    def factory(**config: Any) -> OpenAIProvider:
        values: dict[str, Any] = {"kind": "openai", "base_url": fake.url + "/",
                                  "api_key": KEY, "timeout_s": 5.0, "max_retries": 3}
        values.update(config)
        provider = OpenAIProvider(ProviderConfig(**values), sleep=sleeps, rand=lambda: 0.5)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        provider.close()


CLUSTER = ClusterBrief(7, "coffee grinder", (KeywordItem(1, "coffee grinder", 900),
                                             KeywordItem(2, "best coffee grinder", 400),
                                             KeywordItem(3, "burr grinder", 90)))


def _idea(**over: Any) -> dict[str, Any]:
    idea = {"title": "The Best Coffee Grinders", "description": "Which to buy.",
            "content_type": "blog_post", "content_structure": "listicle",
            "target_keywords": ["coffee grinder", "best coffee grinder"],
            "outline": [{"heading": "Burr or blade", "subheadings": ["Burr", "Blade"],
                         "keywords": ["burr grinder"]}],
            "estimated_word_count": 1800}
    idea.update(over)
    return idea


# -- the wire ------------------------------------------------------------------------------

async def test_chat_request_uses_json_mode_the_account_prompt_and_the_key(
        fake: FakeOpenAI, make: Make) -> None:
    fake.script(FakeOpenAI.chat({"ideas": [_idea()]}, prompt_tokens=1000,
                                completion_tokens=234))
    prompts = Prompts({"ideas": "Our house style: JSON ideas, please."})
    got = await make().generate_ideas(CLUSTER, prompts, count=2)

    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.json["model"] == "gpt-4o-mini"
    assert request.json["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "ideas", "schema": schemas.strict(schemas.IDEAS), "strict": True}}
    assert (request.json["max_tokens"], request.json["temperature"]) == (1200, 0.7)
    system, user = request.messages
    assert system == {"role": "system", "content": "Our house style: JSON ideas, please."}
    assert user["role"] == "user"
    assert request.brief["task"] == "ideas"
    assert request.brief["count"] == 2
    assert request.brief["cluster"]["name"] == "coffee grinder"
    assert [k["keyword"] for k in request.brief["cluster"]["keywords"]] == \
        ["coffee grinder", "best coffee grinder", "burr grinder"]

    (idea,) = got.value
    assert idea.title == "The Best Coffee Grinders"
    assert idea.content_structure == "listicle"
    assert idea.outline == (OutlineSection("Burr or blade", ("Burr", "Blade"),
                                           ("burr grinder",)),)
    assert idea.estimated_word_count == 1800
    assert got.tokens == 1234
    assert got.cost == pytest.approx(1000 * 0.15 / 1e6 + 234 * 0.60 / 1e6)
    assert [(s.name, s.detail) for s in got.request_steps] == \
        [("request", "POST /chat/completions model=gpt-4o-mini json_schema max_tokens=1200")]
    assert ("response", "200, 1,234 tokens") in [(s.name, s.detail) for s in got.response_steps]


async def test_the_shipped_prompt_is_the_system_message_without_an_account_one(
        fake: FakeOpenAI, make: Make) -> None:
    await make().generate_ideas(CLUSTER, Prompts())
    assert fake.requests[0].messages[0]["content"] == DEFAULT_PROMPTS["ideas"]


async def test_no_authorization_header_without_a_key(fake: FakeOpenAI, make: Make) -> None:
    provider = make(api_key="")
    await provider.generate_ideas(CLUSTER, Prompts())
    await provider.test()
    assert len(fake.requests) == 2
    assert all("authorization" not in r.headers for r in fake.requests)


async def test_a_trailing_slash_and_a_path_in_the_base_url(fake: FakeOpenAI, make: Make
                                                           ) -> None:
    await make(base_url=fake.url + "///").test()
    assert fake.requests[0].path == "/models"  # under /v1, no double slash


# -- parsing -------------------------------------------------------------------------------

async def test_ideas_map_unknown_structures_and_types_and_tolerate_fences(
        fake: FakeOpenAI, make: Make) -> None:
    ideas = [_idea(content_structure="How-To", content_type="Blog"),
             _idea(title="Deep", content_structure="deep dive", content_type="podcast",
                   target_keywords=[], estimated_word_count="90000"),
             _idea(title="Q", content_structure="question", content_type="Landing Page"),
             _idea(title="Too many")]
    fenced = "```json\n" + json.dumps({"ideas": ideas}) + "\n```"
    fake.script(FakeOpenAI.chat(fenced))
    got = (await make().generate_ideas(CLUSTER, Prompts(), count=3)).value
    assert [i.title for i in got] == ["The Best Coffee Grinders", "Deep", "Q"]
    assert [i.content_structure for i in got] == ["how_to", "guide", "faq"]
    assert [i.content_type for i in got] == ["blog_post", "blog_post", "landing_page"]
    assert all(i.content_structure in CONTENT_STRUCTURES and i.content_type in CONTENT_TYPES
               for i in got)
    # no target keywords: the cluster's; an absurd estimate is bounded
    assert got[1].target_keywords == ("coffee grinder", "best coffee grinder", "burr grinder")
    assert got[1].estimated_word_count == 10_000


async def test_an_idea_outline_is_kept_within_the_stores_limit(fake: FakeOpenAI, make: Make
                                                               ) -> None:
    outline = [{"heading": f"Section {n}", "subheadings": [f"Sub {n}.{m}" for m in range(3)]}
               for n in range(60)]
    fake.script(FakeOpenAI.chat({"ideas": [_idea(outline=outline,
                                                 estimated_word_count=1500.7)]}))
    (idea,) = (await make().generate_ideas(CLUSTER, Prompts())).value
    assert sum(1 + len(s.subheadings) for s in idea.outline) <= MAX_OUTLINE_ITEMS
    assert idea.outline[0] == OutlineSection("Section 0", ("Sub 0.0", "Sub 0.1", "Sub 0.2"))
    assert idea.estimated_word_count == 1501


async def test_article_meta_lengths_slug_outline_and_keywords(fake: FakeOpenAI, make: Make
                                                              ) -> None:
    long_title = "The Complete Guide to Choosing a Conical Burr Coffee Grinder for Home Use"
    description = ("A thorough walk through burr shapes, grind settings, motors, noise, "
                   "cleaning and the prices you can expect, with our picks for every budget "
                   "and brewing method from espresso to cold brew.")
    html = ("<p>Choosing a <strong>coffee grinder</strong> matters.</p><h2>Burrs</h2>"
            "<p>Conical or flat.</p><h3>Conical</h3><p>Quiet.</p><h2>Prices</h2><p>Cheap to "
            "dear.</p>")
    fake.script(FakeOpenAI.chat({
        "title": long_title, "html_content": html[:html.index("<h2>")],
        "meta_title": long_title,
        "meta_description": description, "slug": "Pour-Over & Ünïcode: Grinders!",
        "primary_keyword": "coffee grinder",
        "secondary_keywords": ["burr grinder", "Coffee Grinder", "burr grinder", ""]}),
        # a model that repeats the section's heading: it is not doubled
        FakeOpenAI.chat({"html_content": "<h2>Burrs</h2><p>Conical or flat.</p>"
                                         "<h3>Conical</h3><p>Quiet.</p>"}),
        FakeOpenAI.chat({"html_content": "<p>Cheap to dear.</p>"}))
    outline = (OutlineSection("Burrs", ("Conical",)), OutlineSection("Prices"))
    brief = ArticleBrief(11, "Coffee grinders", ("coffee grinder", "burr grinder"),
                         outline=outline)
    got = await make().generate_article(brief, Prompts())
    draft = got.value
    assert draft.title == long_title
    assert len(draft.meta_title) <= 60 and long_title.startswith(draft.meta_title)
    assert long_title[len(draft.meta_title)] == " "  # cut at a word
    assert len(draft.meta_description) <= 160 and description.startswith(
        draft.meta_description) and description[len(draft.meta_description)] == " "
    assert draft.slug == "pour-over-and-unicode-grinders"
    assert draft.primary_keyword == "coffee grinder"
    assert draft.secondary_keywords == ("burr grinder",)
    assert draft.outline == outline  # the brief's outline, as written
    assert draft.word_count == 15
    assert draft.html_content == html
    intro, *parts = [r.brief for r in fake.requests]
    assert intro["task"] == "content_intro" and intro["outline"] == ["Burrs", "Prices"]
    assert [(p["task"], p["section"], p["position"]) for p in parts] == [
        ("content_section", {"heading": "Burrs", "subheadings": ["Conical"], "keywords": []},
         "section 1 of 2"),
        ("content_section", {"heading": "Prices", "subheadings": [], "keywords": []},
         "section 2 of 2")]
    assert {r.messages[0]["content"] for r in fake.requests} == \
        {DEFAULT_PROMPTS["content_generation"]}


async def test_article_without_an_outline_reads_it_from_the_html(fake: FakeOpenAI, make: Make
                                                                 ) -> None:
    fake.script(FakeOpenAI.chat({"html_content": "<h2>One</h2><h3>Sub</h3><h2>Two</h2>"
                                                 "<p>First words here.</p>"}))
    draft = (await make().generate_article(
        ArticleBrief(3, "Espresso at home", ("espresso",), related_keywords=("crema",)),
        Prompts())).value
    assert draft.outline == (OutlineSection("One", ("Sub",)), OutlineSection("Two"))
    assert draft.title == "Espresso at home"
    assert draft.meta_title == "Espresso at home"
    assert draft.meta_description == "First words here."
    assert draft.slug == "espresso-at-home"
    assert draft.primary_keyword == "espresso"
    assert draft.secondary_keywords == ("crema",)


async def test_image_prompts_featured_first_and_capped(fake: FakeOpenAI, make: Make) -> None:
    fake.script(FakeOpenAI.chat({"featured": "A grinder on a counter", "in_article": [
        {"heading": "Burrs", "prompt": "Close-up of burrs"}, "Beans falling",
        {"heading": "", "prompt": "Third"}, {"heading": "Extra", "prompt": "Dropped"}]}))
    brief = ImageBrief(5, "Grinders", "<h2>Burrs</h2><p>x</p><h2>Beans</h2><h2>Prices</h2>",
                       primary_keyword="grinder", max_in_article=3)
    got = (await make().image_prompts(brief, Prompts())).value
    assert [(p.image_type, p.prompt, p.heading) for p in got] == [
        ("featured", "A grinder on a counter", ""),
        ("in_article", "Close-up of burrs", "Burrs"),
        ("in_article", "Beans falling", "Beans"),
        ("in_article", "Third", "Prices")]
    assert fake.requests[0].brief["headings"] == ["Burrs", "Beans", "Prices"]


# -- failures --------------------------------------------------------------------------------

async def test_a_refused_key_is_readable_and_never_quoted() -> None:
    wrong = "sk-wrong-5up3r-s3cr3t-value"
    async with FakeOpenAI(api_key="sk-right") as fake:
        provider = OpenAIProvider(ProviderConfig(kind="openai", base_url=fake.url,
                                                 api_key=wrong), sleep=Sleeps())
        try:
            with pytest.raises(ProviderError) as err:
                await provider.generate_ideas(CLUSTER, Prompts())
        finally:
            provider.close()
    assert str(err.value) == "The provider refused the API key (401)."
    assert err.value.status == 401 and not err.value.retryable
    assert len(fake.requests) == 1  # not retried
    assert wrong in json.dumps(fake.requests[0].headers)  # the premise: it was sent
    assert wrong not in str(err.value) and "5up3r" not in repr(err.value)


async def test_forbidden_is_a_refused_key(fake: FakeOpenAI, make: Make) -> None:
    fake.script(FakeOpenAI.error(403, f"Project key {KEY} is not allowed here"))
    with pytest.raises(ProviderError, match=r"^The provider refused the API key \(403\)\.$"):
        await make().test()
    assert len(fake.requests) == 1


async def test_an_exhausted_quota_is_not_retried(fake: FakeOpenAI, make: Make,
                                                 sleeps: Sleeps) -> None:
    fake.script(FakeOpenAI.quota_exhausted())
    with pytest.raises(ProviderError) as err:
        await make().generate_ideas(CLUSTER, Prompts())
    assert str(err.value) == "The provider's quota is exhausted."
    assert len(fake.requests) == 1 and sleeps.delays == []


async def test_429_then_success_retries_once_with_backoff(fake: FakeOpenAI, make: Make,
                                                          sleeps: Sleeps) -> None:
    fake.script(FakeOpenAI.rate_limited(), FakeOpenAI.chat({"ideas": [_idea()]}))
    got = await make().generate_ideas(CLUSTER, Prompts())
    assert len(got.value) == 1
    assert len(fake.requests) == 2
    assert sleeps.delays == [pytest.approx(0.375)]  # half of 0.5 s plus rand()=0.5 of the rest
    details = [s.detail for s in got.response_steps]
    assert any("429" in d and "attempt 2 of 4" in d for d in details), details


async def test_retry_after_is_honoured_and_capped(fake: FakeOpenAI, make: Make,
                                                  sleeps: Sleeps) -> None:
    when = email.utils.formatdate(time.time() + 12, usegmt=True)
    fake.script(FakeOpenAI.rate_limited(retry_after=7), FakeOpenAI.rate_limited(3600),
                FakeOpenAI.rate_limited(when))
    await make().test()
    assert len(fake.requests) == 4
    assert sleeps.delays[:2] == [7.0, RETRY_AFTER_CAP_S]
    assert 9.0 <= sleeps.delays[2] <= 12.0  # an HTTP date: the seconds until then


async def test_5xx_fails_after_max_retries_plus_one_attempts(fake: FakeOpenAI, make: Make,
                                                             sleeps: Sleeps) -> None:
    fake.script(*[FakeOpenAI.server_error(500) for _ in range(4)])
    with pytest.raises(ProviderError) as err:
        await make(max_retries=3).generate_ideas(CLUSTER, Prompts())
    assert len(fake.requests) == 4
    assert str(err.value).startswith("The provider failed (500) after 4 attempts")
    assert err.value.status == 500 and err.value.retryable
    assert sleeps.delays == [pytest.approx(0.375), pytest.approx(0.75), pytest.approx(1.5)]


async def test_503_then_502_then_success(fake: FakeOpenAI, make: Make) -> None:
    fake.script(FakeOpenAI.server_error(503), FakeOpenAI.server_error(502))
    assert (await make().test())["ok"] is True
    assert len(fake.requests) == 3


@pytest.mark.parametrize("status", [400, 404])
async def test_client_errors_are_not_retried(fake: FakeOpenAI, make: Make, status: int
                                             ) -> None:
    fake.script(FakeOpenAI.error(status, "Invalid value for 'model': 'nope'."))
    with pytest.raises(ProviderError) as err:
        await make().generate_ideas(CLUSTER, Prompts())
    assert len(fake.requests) == 1
    assert f"({status})" in str(err.value)
    assert "Invalid value for 'model'" in str(err.value)  # the provider's short reason


async def test_a_long_provider_message_is_cut_and_scrubbed(fake: FakeOpenAI, make: Make
                                                           ) -> None:
    fake.script(FakeOpenAI.error(400, f"Bad request for key {KEY}: " + "x" * 5000))
    with pytest.raises(ProviderError) as err:
        await make().generate_ideas(CLUSTER, Prompts())
    assert KEY not in str(err.value)
    assert len(str(err.value)) < 300


async def test_a_hang_times_out_after_every_attempt(fake: FakeOpenAI, make: Make,
                                                    sleeps: Sleeps) -> None:
    fake.script(*[FakeOpenAI.hang(30) for _ in range(3)])
    start = time.monotonic()
    with pytest.raises(ProviderError) as err:
        await make(timeout_s=0.2, max_retries=2).generate_ideas(CLUSTER, Prompts())
    assert str(err.value) == "The provider did not answer within 0.2 s (3 attempts)."
    assert len(fake.requests) == 3 and len(sleeps.delays) == 2
    assert time.monotonic() - start < 5


async def test_connection_refused_names_the_host(make: Make, sleeps: Sleeps) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ProviderError) as err:
        await make(base_url=f"http://127.0.0.1:{port}/v1", max_retries=2).test()
    assert str(err.value) == f"Could not reach the provider at 127.0.0.1:{port}."
    assert len(sleeps.delays) == 2  # connection errors are retried


async def test_garbage_is_not_valid_json(fake: FakeOpenAI, make: Make) -> None:
    """A garbage HTTP answer fails at once; a model's prose answer is repaired once."""
    fake.script(FakeOpenAI.garbage(),
                FakeOpenAI.chat("Sure! Here are your ideas: 1. grind 2. brew"),
                FakeOpenAI.chat("Of course! 1. grind 2. brew"))
    provider = make()
    with pytest.raises(ProviderError) as err:
        await provider.generate_ideas(CLUSTER, Prompts())
    assert str(err.value) == "The provider's answer was not valid JSON."
    with pytest.raises(ProviderError) as err:
        await provider.generate_ideas(CLUSTER, Prompts())
    assert str(err.value) == \
        "The provider's answer was not valid JSON (after one repair attempt)."
    assert len(fake.requests) == 3


async def test_wrong_shapes_say_what_did_not_match(fake: FakeOpenAI, make: Make) -> None:
    prefix = "The provider's answer did not match the expected shape: "
    fake.script(FakeOpenAI.wrong_shape(), FakeOpenAI.chat({"ideas": []}),
                FakeOpenAI.chat({"ideas": []}),
                FakeOpenAI.chat({"ideas": [{"description": "no title"}]}),
                FakeOpenAI.chat({"ideas": [{"description": "no title"}]}))
    provider = make()
    messages = []
    for _ in range(3):
        with pytest.raises(ProviderError) as err:
            await provider.generate_ideas(CLUSTER, Prompts())
        messages.append(str(err.value))
    assert all(m.startswith(prefix) for m in messages), messages
    assert len(fake.requests) == 5  # the answers of the wrong shape were repaired once
    assert "choices" in messages[0]
    assert "ideas" in messages[1]
    assert "ideas.0.title" in messages[2]


async def test_a_json_answer_cut_at_the_token_limit(fake: FakeOpenAI, make: Make) -> None:
    fake.script(FakeOpenAI.chat('{"ideas": [{"title": "Half', finish_reason="length"),
                FakeOpenAI.chat('{"ideas": [{"title": "Half', finish_reason="length"))
    with pytest.raises(ProviderError, match=r"^The provider's answer was not valid JSON"):
        await make().generate_ideas(CLUSTER, Prompts())


# -- clustering ----------------------------------------------------------------------------

async def test_cluster_maps_answers_back_by_normalised_text(fake: FakeOpenAI, make: Make
                                                            ) -> None:
    items = (KeywordItem(1, "pour over coffee maker", 50),
             KeywordItem(2, "pourover coffee maker", 80),
             KeywordItem(3, "Pour-over coffee makers", 10), KeywordItem(4, "hubspot login", 40),
             KeywordItem(5, "hubspot pricing", 30), KeywordItem(6, "hubspot sign in", 20),
             KeywordItem(7, "zebra migration facts", 5), KeywordItem(8, "espresso machine", 9))
    fake.script(FakeOpenAI.chat({
        "clusters": [
            {"name": "Pour over", "keywords": ["POUR OVER COFFEE MAKER", "pourover coffee maker",
                                               "pour over coffee makers", "magic beans"]},
            {"name": "HubSpot", "keywords": ["hubspot login", "hubspot pricing",
                                             {"keyword": "hubspot sign-in"}]},
            {"name": "Lonely", "keywords": ["espresso machine"]}],
        "unclustered": [{"keyword": "zebra migration facts", "reason": "off topic"}]}))
    prompts = Prompts({"clustering": "Group these, JSON."})
    got = await make().cluster(items, prompts)

    sent = fake.requests[0]
    assert sent.messages[0]["content"] == "Group these, JSON."
    assert sorted(k["keyword"] for k in sent.brief["keywords"]) == \
        sorted(k.text for k in items)
    result = got.value
    by_name = {c.name: c.keyword_ids for c in result.clusters}
    # named after the highest-volume keyword, not the model's name
    assert by_name["pourover coffee maker"] == (2, 1, 3)
    # navigational and commercial never share a cluster: the model's group is split
    assert by_name["hubspot login"] == (4, 6)
    assert all(5 not in ids for ids in by_name.values())
    reasons = {u.keyword_id: u.reason for u in result.unclustered}
    assert reasons[5].startswith("intent_conflict: ")
    assert reasons[7] == "no_match: the model did not place it (off topic)"
    assert reasons[8].startswith("no_match: ")  # a cluster of one
    assert set(reasons) == {5, 7, 8}
    assert dict(result.intents)[4] == "navigational"
    assert any("1 keyword the model invented ignored" in s.detail for s in got.response_steps)


async def test_keywords_the_model_dropped_are_unclustered(fake: FakeOpenAI, make: Make) -> None:
    items = (KeywordItem(1, "coffee grinder", 10), KeywordItem(2, "coffee grinders", 5),
             KeywordItem(3, "burr grinder", 3))
    fake.script(FakeOpenAI.chat({"clusters": [{"name": "x", "keywords": [
        "coffee grinder", "coffee grinders", "coffee grinder"]}]}))
    result = (await make().cluster(items, Prompts())).value
    assert [c.keyword_ids for c in result.clusters] == [(1, 2)]
    assert result.unclustered[0].keyword_id == 3
    assert result.unclustered[0].reason == "no_match: the model did not place it"


async def test_the_default_fake_clusters_sensibly_end_to_end(fake: FakeOpenAI, make: Make
                                                             ) -> None:
    """The fake's own answer (no script) goes through the same mapping: useful to the
    end-to-end tests that use it."""
    items = (KeywordItem(1, "pour over kettle", 10), KeywordItem(2, "pourover kettle", 20),
             KeywordItem(3, "zebra facts", 1))
    result = (await make().cluster(items, Prompts())).value
    assert [(c.name, c.keyword_ids) for c in result.clusters] == \
        [("pourover kettle", (2, 1))]
    assert [u.keyword_id for u in result.unclustered] == [3]


async def test_cluster_of_nothing_calls_nobody(fake: FakeOpenAI, make: Make) -> None:
    got = await make().cluster((), Prompts())
    assert got.value.clusters == () and fake.requests == []


# -- embeddings ------------------------------------------------------------------------------

async def test_embeddings_are_batched_and_ordered_by_index(fake: FakeOpenAI, make: Make
                                                           ) -> None:
    texts = tuple(f"keyword number {i}" for i in range(300))
    got = await make(embedding_model="text-embedding-3-small").embed(texts)
    sizes = [len(r.json["input"]) for r in fake.requests]
    assert sizes == [MAX_EMBEDDING_BATCH, 300 - MAX_EMBEDDING_BATCH]
    assert all(r.json["model"] == "text-embedding-3-small" for r in fake.requests)
    assert len(got.value) == 300
    expected = await make(embedding_model="text-embedding-3-small").embed((texts[257],))
    assert got.value[257] == expected.value[0]  # the fake answers in reverse order
    assert got.tokens > 0 and got.cost > 0
    assert len(got.request_steps) == 2


async def test_no_embedding_model_is_a_readable_error(fake: FakeOpenAI, make: Make) -> None:
    with pytest.raises(ProviderError) as err:
        await make(embedding_model=None).embed(("a",))
    assert str(err.value) == "This provider has no embedding model configured."
    assert fake.requests == []


async def test_embeddings_with_missing_indices_are_refused(fake: FakeOpenAI, make: Make
                                                           ) -> None:
    fake.script(Reply(200, {"data": [{"index": 0, "embedding": [0.1, 0.2]}]},
                      path="/embeddings"))
    with pytest.raises(ProviderError, match="did not match the expected shape: data"):
        await make(embedding_model="e").embed(("a", "b"))


# -- images ----------------------------------------------------------------------------------

async def test_an_image_comes_back_as_png_bytes(fake: FakeOpenAI, make: Make) -> None:
    got = await make(image_model="dall-e-3").render_image(
        ImageRequest("a grinder", title="Grinders", width=1200, height=630))
    image = got.value
    assert image.data == small_png() and image.content_type == "image/png"
    assert (image.width, image.height) == (64, 36)
    body = fake.requests[0].json
    assert body["response_format"] == "b64_json" and body["size"] == "1792x1024"
    assert body["model"] == "dall-e-3" and body["prompt"] == "a grinder"
    assert got.cost == pytest.approx(0.08)


async def test_an_image_answered_by_url_is_downloaded_without_the_key(make: Make) -> None:
    async with FakeOpenAI(image_as_url=True) as fake:
        provider = make(base_url=fake.url, image_model="my-sd-model")
        image = (await provider.render_image(ImageRequest("x", width=512, height=512))).value
    assert image.data == small_png()
    assert [r.path for r in fake.requests] == ["/images/generations", "/files/image-0.png"]
    assert fake.requests[0].json["size"] == "512x512"
    assert "authorization" not in fake.requests[1].headers


async def test_an_image_url_over_10_mb_is_refused(fake: FakeOpenAI, make: Make) -> None:
    fake.script(Reply(200, {"data": [{"url": f"{fake.origin}/files/big-12"}]},
                      path="/images/generations"))
    with pytest.raises(ProviderError) as err:
        await make(image_model="dall-e-2").render_image(ImageRequest("x"))
    assert str(err.value) == "The provider's image is larger than 10 MB."


@pytest.mark.parametrize("item", [{"b64_json": "***not base64***"},
                                  {"b64_json": base64.b64encode(b"plain text").decode()},
                                  {"revised_prompt": "neither"}])
async def test_bad_images_are_readable_errors(fake: FakeOpenAI, make: Make,
                                              item: dict[str, str]) -> None:
    fake.script(Reply(200, {"data": [item]}, path="/images/generations"))
    with pytest.raises(ProviderError, match=r"^The provider's"):
        await make(image_model="dall-e-3").render_image(ImageRequest("x"))


def test_image_sizes_per_model() -> None:
    assert image_size("dall-e-3", 1200, 630) == "1792x1024"
    assert image_size("dall-e-3", 630, 1200) == "1024x1792"
    assert image_size("gpt-image-1", 1200, 630) == "1536x1024"
    assert image_size("dall-e-2", 1200, 630) == "1024x1024"
    assert image_size("flux-dev", 1200, 630) == "1200x630"


async def test_without_an_image_model_images_are_rendered_locally(fake: FakeOpenAI,
                                                                  make: Make) -> None:
    pytest.importorskip("igny8d.ai.providers.local")
    got = await make(image_model=None).render_image(ImageRequest("a grinder", title="Hi",
                                                                 width=320, height=200))
    assert fake.requests == []
    assert got.value.data.startswith(b"\x89PNG") and got.cost == 0.0


# -- test() ----------------------------------------------------------------------------------

async def test_test_lists_models(fake: FakeOpenAI, make: Make) -> None:
    got = await make(embedding_model="text-embedding-3-small").test()
    assert got["ok"] is True and got["provider"] == "openai" and got["model"] == "gpt-4o-mini"
    assert "3 models" in str(got["detail"])
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/models")]


async def test_test_refuses_a_model_the_server_does_not_offer(make: Make) -> None:
    async with FakeOpenAI(models=("llama3.1:latest", "nomic-embed-text")) as fake:
        with pytest.raises(ProviderError, match="does not list the model 'gpt-4o-mini'"):
            await make(base_url=fake.url).test()
        assert (await make(base_url=fake.url, model="llama3.1").test())["ok"] is True


async def test_test_falls_back_to_a_one_token_chat_without_models(fake: FakeOpenAI,
                                                                  make: Make) -> None:
    fake.script(FakeOpenAI.error(404, "no such route", path="/models"))
    got = await make().test()
    assert got["ok"] is True
    assert [r.path for r in fake.requests] == ["/models", "/chat/completions"]
    assert fake.requests[1].json["max_tokens"] == 1


# -- prices, text helpers, selection -----------------------------------------------------------

def test_token_prices() -> None:
    assert token_cost("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)
    assert token_cost("gpt-4o", 0, 1_000_000) == pytest.approx(10.0)
    assert token_cost("gpt-4.1-mini", 1_000_000, 1_000_000) == pytest.approx(2.0)
    assert token_cost("llama3.1:8b", 10**9, 10**9) == 0.0  # unknown: not guessed


async def test_an_unknown_model_costs_nothing_but_counts_tokens(fake: FakeOpenAI, make: Make
                                                                ) -> None:
    fake.script(FakeOpenAI.chat({"ideas": [_idea()]}, prompt_tokens=10, completion_tokens=5))
    got = await make(model="qwen2.5:7b").generate_ideas(CLUSTER, Prompts())
    assert (got.tokens, got.cost) == (15, 0.0)


def test_cut_at_word_and_slug() -> None:
    assert cut_at_word("short", 60) == "short"
    assert cut_at_word("alpha beta gamma delta", 12) == "alpha beta"
    assert cut_at_word("a" * 100, 10) == "a" * 10
    assert cut_at_word("one two, three", 8) == "one two"
    assert slug_of("Café & Crème — 10 Tips!") == "cafe-and-creme-10-tips"
    assert len(slug_of("word " * 60)) <= 100 and not slug_of("word " * 60).endswith("-")


def test_provider_for_picks_by_kind() -> None:
    local_module = pytest.importorskip("igny8d.ai.providers.local")
    settings = Settings(local_cluster_max_ids=1234)
    for config in (None, ProviderConfig(kind="local")):
        provider = provider_for(config, settings)
        assert isinstance(provider, local_module.LocalProvider)
        assert provider.max_cluster_ids == 1234
    openai = provider_for(ProviderConfig(kind="openai", image_model=None), settings)
    assert isinstance(openai, OpenAIProvider)
    assert openai.name == "openai" and openai.max_cluster_ids == 20
    assert isinstance(openai._images, local_module.LocalProvider)
    with_images = provider_for(ProviderConfig(kind="openai", image_model="dall-e-3"), settings)
    assert isinstance(with_images, OpenAIProvider) and with_images._images is None
