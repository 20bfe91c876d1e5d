"""The AI functions' contract: what the services hand a provider and what they get back.

Two providers implement `Provider`: `igny8d.ai.providers.local.LocalProvider` (the offline
default, real algorithms, deterministic) and `igny8d.ai.providers.openai.OpenAIProvider` (an
OpenAI-compatible HTTP API: OpenAI, Ollama, vLLM, llama.cpp by base URL).
`igny8d.ai.providers.provider_for` picks one from the account's `ProviderConfig`. The services
(`igny8d/services/ai_*.py`) read the rows, build these briefs, call the provider OUTSIDE any
write transaction, and write what comes back in one transaction; a provider never touches the
store.

Everything here is plain data (frozen dataclasses), so a brief can go to a worker thread and
a test can build one by hand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

from igny8d.ai.cluster import ClusterResult, KeywordItem
from igny8d.ai.prompts import DEFAULT_PROMPTS
from igny8d.vocab import Intent

if TYPE_CHECKING:
    from igny8d.settings import Settings

T = TypeVar("T")

#: The reference's content structures and types (schemas/planner_clusters.py has the lists).
ImageType = Literal["featured", "in_article", "desktop", "mobile"]


class ProviderError(Exception):
    """A provider call that failed in a way the client may read (bad key, exhausted quota,
    timeout, unparseable answer): the job fails with `str(error)` and its credits go back.
    Never carries a traceback, a key or a whole response body."""

    def __init__(self, message: str, *, status: int | None = None,
                 retryable: bool = False, tokens: int = 0, cost: float = 0.0) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        #: what the failed call(s) spent before failing (a paid answer of the wrong shape):
        #: metered like a success's, so a failed job's usage row shows it too
        self.tokens = tokens
        self.cost = cost
        #: the failed step's calls (its requests, answers, repair), for the job's progress
        self.request_steps: tuple[Step, ...] = ()
        self.response_steps: tuple[Step, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """An account's provider, from its integration settings (decrypted key).

    `kind` "local" needs nothing else. "openai" talks to `base_url` (default
    https://api.openai.com/v1) with `api_key` (may be empty for a local Ollama/vLLM),
    `model` for chat, `embedding_model` for embeddings (None: embeddings not offered),
    `image_model` for images (None: images rendered locally)."""

    kind: Literal["local", "openai"] = "local"
    base_url: str = "https://api.openai.com/v1"
    api_key: str = field(default="", repr=False)  # never in a log line or an assert
    model: str = "gpt-4o-mini"
    embedding_model: str | None = None
    image_model: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 3


@dataclass(frozen=True, slots=True)
class ChatBudget:
    """What one chat call of a step carries: `max_tokens` and `temperature`."""

    max_tokens: int
    temperature: float


@dataclass(frozen=True, slots=True)
class LlmOptions:
    """The chat calls' budgets per step and the answer-format policy (the `llm_*` settings).

    Content is written outline-first: the intro call and each section call get at most
    `section.max_tokens`, all of them together at most `content_total`."""

    clustering: ChatBudget = ChatBudget(1500, 0.1)
    ideas: ChatBudget = ChatBudget(1200, 0.7)
    section: ChatBudget = ChatBudget(600, 0.6)
    content_total: int = 4000
    image_prompts: ChatBudget = ChatBudget(500, 0.5)
    #: send each step's schema as response_format json_schema (else json_object)
    json_schema: bool = True

    @classmethod
    def from_settings(cls, s: Settings) -> LlmOptions:
        return cls(
            clustering=ChatBudget(s.llm_max_tokens_clustering, s.llm_temperature_clustering),
            ideas=ChatBudget(s.llm_max_tokens_ideas, s.llm_temperature_ideas),
            section=ChatBudget(s.llm_max_tokens_section, s.llm_temperature_content),
            content_total=s.llm_max_tokens_content,
            image_prompts=ChatBudget(s.llm_max_tokens_image_prompts,
                                     s.llm_temperature_image_prompts),
            json_schema=s.llm_json_schema)


#: `generate_article`'s progress hook: (section number from 1, sections, heading), awaited
#: before each section is written
SectionHook = Callable[[int, int, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Step:
    """One request or response step of a job's progress (`request_steps`/`response_steps`)."""

    name: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Generation(Generic[T]):
    """A provider's answer with what it cost: `tokens` and `cost` (USD, 0 for local) go into
    the job's progress meta and the usage row; `steps` into its progress."""

    value: T
    tokens: int = 0
    cost: float = 0.0
    request_steps: tuple[Step, ...] = ()
    response_steps: tuple[Step, ...] = ()


# -- ideas ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ClusterBrief:
    """One cluster to write ideas for: its keywords (name keyword first, then by volume)."""

    cluster_id: int
    name: str
    keywords: tuple[KeywordItem, ...]
    description: str = ""
    #: the cluster's dominant intent (None: the provider classifies)
    intent: Intent | None = None


@dataclass(frozen=True, slots=True)
class OutlineSection:
    """An H2 with its H3s; `keywords` are the target keywords the section covers."""

    heading: str
    subheadings: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IdeaDraft:
    """A content idea as the `content_ideas` row takes it (the service adds scope columns).

    `content_structure` is one of schemas/planner_clusters.CONTENT_STRUCTURES and
    `content_type` one of CONTENT_TYPES; `outline` is stored flattened as the ideas API
    shows it, `[{"heading", "level": 2|3, "points": [...]}, ...]` (services/ai_common.py)."""

    title: str
    description: str
    content_type: str
    content_structure: str
    target_keywords: tuple[str, ...]
    outline: tuple[OutlineSection, ...]
    estimated_word_count: int


# -- articles ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ArticleBrief:
    """A writer task to draft: its idea's outline when it has one (a user-edited outline is
    followed as written), else the provider makes one from title and keywords first."""

    task_id: int
    title: str
    keywords: tuple[str, ...]
    description: str = ""
    content_type: str = "blog_post"
    content_structure: str = "guide"
    outline: tuple[OutlineSection, ...] = ()
    target_word_count: int = 1500
    #: the cluster's keywords beyond the task's own (secondary keyword candidates)
    related_keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """An article as the `content` row takes it. `html_content` goes through the HTML
    sanitiser on the way in like any other; `word_count` is recomputed from it there.
    meta_title ≤ 60 characters, meta_description ≤ 160, slug lowercase-hyphenated."""

    title: str
    html_content: str
    meta_title: str
    meta_description: str
    slug: str
    primary_keyword: str
    secondary_keywords: tuple[str, ...]
    outline: tuple[OutlineSection, ...]
    word_count: int


# -- images --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ImageBrief:
    """A content row to make image prompts for."""

    content_id: int
    title: str
    html_content: str
    primary_keyword: str = ""
    #: at most this many `in_article` prompts (one per major heading, in order)
    max_in_article: int = 3


@dataclass(frozen=True, slots=True)
class ImagePromptDraft:
    """One pending image: `featured` first, then `in_article` ones per heading."""

    image_type: ImageType
    prompt: str
    #: the heading it illustrates ("" for the featured image)
    heading: str = ""


@dataclass(frozen=True, slots=True)
class ImageRequest:
    prompt: str
    #: shown on a locally rendered image (the article title or heading)
    title: str = ""
    negative_prompt: str = ""
    width: int = 1200
    height: int = 630
    #: seeds the local renderer's palette (same request → same bytes)
    seed: int = 0


@dataclass(frozen=True, slots=True)
class RenderedImage:
    data: bytes
    content_type: str = "image/png"
    width: int = 0
    height: int = 0


# -- the provider ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Prompts:
    """The account's prompt library for one call (saved or shipped defaults, by type):
    ai/prompts.py has the types and the defaults. The local provider ignores them (its
    algorithms are the prompt); an LLM provider sends them as the system message."""

    by_type: dict[str, str] = field(default_factory=dict)

    def get(self, prompt_type: str) -> str:
        return self.by_type.get(prompt_type) or DEFAULT_PROMPTS[prompt_type]


class Provider(Protocol):
    """What every provider offers. Every method may raise ProviderError."""

    name: str
    #: the most keyword ids one auto_cluster call may take (the reference's 20 for an LLM;
    #: the `local_cluster_max_ids` setting for local)
    max_cluster_ids: int

    async def cluster(self, items: tuple[KeywordItem, ...],
                      prompts: Prompts) -> Generation[ClusterResult]: ...

    async def embed(self, texts: tuple[str, ...]) -> Generation[tuple[tuple[float, ...], ...]]:
        """Embeddings of `texts`, in order: one per text, non-empty, finite, all of one
        dimension (the provider checks what it got and raises a readable ProviderError
        otherwise, or when it has none)."""
        ...

    async def generate_ideas(self, cluster: ClusterBrief, prompts: Prompts, *,
                             count: int = 3) -> Generation[tuple[IdeaDraft, ...]]: ...

    async def generate_article(self, brief: ArticleBrief, prompts: Prompts, *,
                               on_section: SectionHook | None = None
                               ) -> Generation[ArticleDraft]:
        """The article; a provider that writes it in parts awaits `on_section` before each
        (the job's progress)."""
        ...

    async def image_prompts(self, brief: ImageBrief,
                            prompts: Prompts) -> Generation[tuple[ImagePromptDraft, ...]]: ...

    async def render_image(self, request: ImageRequest) -> Generation[RenderedImage]: ...

    async def test(self) -> dict[str, object]:
        """A cheap call that proves the configuration works: `{ok, provider, model, detail}`;
        raises ProviderError with a readable message otherwise."""
        ...
