"""Input and output schemas of the system module's AI settings: the prompt library and the
integration settings (`openai`, `runware`, `image_generation`).

Bodies are strict (unknown fields are refused). Integration bodies are merges: a field that is
absent keeps its saved value, `null` puts it back to its default (for `api_key`, `null` or ""
clears the key).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, RootModel

from igny8d.ai.prompts import PROMPT_TYPES

PromptType = Literal["clustering", "ideas", "content_generation", "image_prompt_extraction",
                     "image_prompt_template", "negative_prompt"]
assert get_args(PromptType) == PROMPT_TYPES

IntegrationId = Literal["openai", "runware", "image_generation"]
INTEGRATION_IDS: tuple[str, ...] = get_args(IntegrationId)
ImageProvider = Literal["local", "openai", "runware"]
TestProvider = Literal["local", "openai", "runware"]
KeyStatus = Literal["none", "ok", "unreadable"]

PROMPT_MAX = 20_000
URL_MAX = 500
NAME_MAX = 200
KEY_MAX = 1000
#: Image sides a size setting may name (the local renderer draws every pixel).
SIDE_MIN, SIDE_MAX = 64, 2048


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _storable(value: str) -> str:
    """No NUL (no text column takes one) and valid Unicode (no lone surrogates)."""
    if "\x00" in value:
        raise ValueError("Null characters are not allowed.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("Invalid characters (lone surrogates) are not allowed.") from None
    return value


def _choice(choices: tuple[str, ...], what: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and value not in choices:
            raise ValueError(f'"{value}" is not a valid {what}; choose one of: '
                             f"{', '.join(choices)}.")
        return value
    return check


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("This field may not be blank.")
    return value


def _http_url(value: str) -> str:
    """An http(s) URL with a host and nothing a client secret could hide in (no user info);
    kept without a trailing slash, so paths join as `<base_url>/chat/completions`."""
    if not value:
        raise ValueError("This field may not be blank.")
    if any(ch.isspace() for ch in value):
        raise ValueError("Enter a valid URL (no spaces).")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError("Enter a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("Enter an http:// or https:// URL.")
    if not parts.hostname:
        raise ValueError("Enter a valid URL with a host.")
    if parts.username is not None or parts.password is not None:
        raise ValueError("Put credentials in api_key, not in the URL.")
    if parts.query or parts.fragment:
        raise ValueError("The URL may not have a query or a fragment.")
    del port
    return value.rstrip("/")


_NAME = re.compile(r"^[^\s]+$")


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("Enter a model name without spaces.")
    return value


_SIZE = re.compile(r"^(\d{2,4})x(\d{2,4})$")


def parse_size(value: str) -> tuple[int, int]:
    """`"1024x1024"` -> (1024, 1024)."""
    found = _SIZE.fullmatch(value)
    if found is None:
        raise ValueError('Enter a size as WIDTHxHEIGHT, e.g. "1024x1024".')
    width, height = int(found.group(1)), int(found.group(2))
    if not (SIDE_MIN <= width <= SIDE_MAX and SIDE_MIN <= height <= SIDE_MAX):
        raise ValueError(f"Each side must be between {SIDE_MIN} and {SIDE_MAX} pixels.")
    return width, height


def _size(value: str) -> str:
    parse_size(value)
    return value


Text = Annotated[str, AfterValidator(_storable)]
PromptTypeField = Annotated[PromptType, BeforeValidator(_choice(PROMPT_TYPES, "prompt type"))]
BaseUrl = Annotated[str, Field(max_length=URL_MAX, description="http(s) URL of the API"),
                    AfterValidator(_storable), AfterValidator(_http_url)]
ModelName = Annotated[str, Field(min_length=1, max_length=NAME_MAX),
                      AfterValidator(_storable), AfterValidator(_name)]
Size = Annotated[str, Field(max_length=9, examples=["1024x1024"]), AfterValidator(_size)]
ApiKey = Annotated[str, Field(max_length=KEY_MAX), AfterValidator(_storable)]
Timeout = Annotated[float, Field(gt=0, le=600)]


# -- prompts ------------------------------------------------------------------------------------


class PromptUpdateBody(Body):
    """A saved prompt's text (its type is fixed: it is what the prompt is for)."""

    prompt_value: Annotated[str, Field(min_length=1, max_length=PROMPT_MAX),
                            AfterValidator(_storable), AfterValidator(_not_blank)]


class PromptBody(PromptUpdateBody):
    prompt_type: PromptTypeField


class PromptResetBody(Body):
    prompt_type: PromptTypeField


class PromptOut(BaseModel):
    """A saved prompt, or the shipped default of its type (`is_default`, no id or dates)."""

    id: int | None
    prompt_type: str
    prompt_value: str
    is_default: bool
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


# -- integration settings -------------------------------------------------------------------------

def _enabled() -> Any:
    return Field(False, description="Use this integration (absent: unchanged)")


def _key() -> Any:
    return Field(None, description="The API key; write-only (reads show it masked). Absent: "
                                   "unchanged; null or \"\": cleared")


_UNSET = "absent: unchanged; null: the default"


class OpenAISettingsBody(Body):
    """An OpenAI-compatible API: OpenAI itself, or a local Ollama / vLLM / llama.cpp server
    by base URL."""

    enabled: bool = _enabled()
    api_key: ApiKey | None = _key()
    base_url: BaseUrl | None = Field(None, description=f"Default https://api.openai.com/v1 "
                                                       f"({_UNSET})")
    model: ModelName | None = Field(None, description=f"Chat model, default gpt-4o-mini "
                                                      f"({_UNSET})")
    embedding_model: ModelName | None = Field(
        None, description=f"Embeddings model; none: embeddings not used ({_UNSET})")
    image_model: ModelName | None = Field(
        None, description="Images model when image_generation names openai without a model")
    timeout_s: Timeout | None = Field(None, description=f"Per call; default the server's "
                                                        f"ai_timeout_s ({_UNSET})")


class RunwareSettingsBody(Body):
    """Runware's image API: stored and testable; images are not generated through it yet."""

    enabled: bool = _enabled()
    api_key: ApiKey | None = _key()
    base_url: BaseUrl | None = Field(None, description=f"Default https://api.runware.ai/v1 "
                                                       f"({_UNSET})")
    model: ModelName | None = Field(None, description=f"Runware model id ({_UNSET})")
    timeout_s: Timeout | None = Field(None, description=f"Per call ({_UNSET})")


class ImageGenerationSettingsBody(Body):
    """Which provider renders images, and their sizes. `local` (the default) renders on this
    server; `openai` uses the openai integration's images endpoint; `runware` is refused
    (not supported by this server yet)."""

    enabled: bool = Field(False, description="Render images with `provider` (off: locally)")
    provider: ImageProvider = Field("local", description="absent: unchanged")
    model: ModelName | None = Field(None, description=f"Image model ({_UNSET})")
    size: Size | None = Field(None, description=f"Default size, WIDTHxHEIGHT ({_UNSET})")
    featured_size: Size | None = Field(None, description=f"Featured images ({_UNSET})")
    in_article_size: Size | None = Field(None, description=f"In-article images ({_UNSET})")


class IntegrationSettingsBody(RootModel[OpenAISettingsBody | RunwareSettingsBody
                                        | ImageGenerationSettingsBody]):
    """The body of `{pk}/` PUT and `{pk}/save/`: the settings of that integration (each pk
    takes its own fields; another's are refused)."""


class IntegrationTestBody(Body):
    """What to test: `provider` (default: this integration; for image_generation, its
    provider), with its saved settings merged with any settings sent here (unsaved)."""

    provider: TestProvider | None = None
    enabled: bool = _enabled()
    api_key: ApiKey | None = None
    base_url: BaseUrl | None = None
    model: ModelName | None = None
    embedding_model: ModelName | None = None
    image_model: ModelName | None = None
    timeout_s: Timeout | None = None


class GenerateImageBody(Body):
    prompt: Annotated[str, Field(min_length=1, max_length=1000),
                      AfterValidator(_storable)] | None = None


class OpenAISettingsOut(BaseModel):
    integration_id: Literal["openai"]
    enabled: bool
    api_key: str = Field(description='Masked: first 3 and last 4 characters ("sk-…abcd")')
    has_api_key: bool
    key_status: KeyStatus = Field(description='"unreadable": saved under another server '
                                              "secret; save the key again")
    base_url: str
    model: str
    embedding_model: str | None
    image_model: str | None
    timeout_s: float | None
    updated_at: dt.datetime | None


class RunwareSettingsOut(BaseModel):
    integration_id: Literal["runware"]
    enabled: bool
    api_key: str
    has_api_key: bool
    key_status: KeyStatus
    base_url: str
    model: str | None
    timeout_s: float | None
    updated_at: dt.datetime | None


class ImageGenerationSettingsOut(BaseModel):
    integration_id: Literal["image_generation"]
    enabled: bool
    provider: ImageProvider
    model: str | None
    size: str | None
    featured_size: str | None
    in_article_size: str | None
    active_provider: Literal["local", "openai"] = Field(
        description="What renders images now: openai only when enabled with provider openai, "
                    "a model and the openai integration enabled; else local")
    updated_at: dt.datetime | None


IntegrationSettingsOut = OpenAISettingsOut | RunwareSettingsOut | ImageGenerationSettingsOut

#: Fields a read shows that no body sets: a PUT may echo them back (ignored).
READ_ONLY_FIELDS = ("has_api_key", "key_status", "active_provider", "updated_at")

BODIES: dict[str, type[Body]] = {
    "openai": OpenAISettingsBody,
    "runware": RunwareSettingsBody,
    "image_generation": ImageGenerationSettingsBody,
}


class IntegrationTestOut(BaseModel):
    ok: bool
    provider: str
    model: str | None
    detail: str


class GeneratedImageOut(BaseModel):
    url: str
    content_type: str
    width: int
    height: int
    provider: Literal["local", "openai"]
