"""Integration settings (`openai`, `runware`, `image_generation`): read, save (merge), test,
a test image, and the account's `ProviderConfig` for the AI functions.

- A row holds `enabled`, `config` (only what was set: defaults apply to the rest, so a changed
  default reaches every account that never chose) and the API key sealed with the server
  secret (`services/secretbox.py`, bound to the account and integration). Reads show the key
  masked; a key that no longer opens (the server secret changed) reads as
  `key_status: "unreadable"` and makes `provider_config` raise a readable 400, never a 500.
- Testing builds a configuration from the saved settings merged with the body's unsaved ones
  and calls the provider outside any transaction: 200 `{ok: true, ...}`, or a 400 whose
  `error` is the provider's readable message (also in `errors.provider`).
- Images through Runware are not supported yet: `image_generation` with provider `runware` is
  refused at save time (400) rather than silently rendered locally.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai.types import ImageRequest, ProviderConfig, ProviderError
from igny8d.errors import BadRequest, NotFound, ValidationFailed
from igny8d.permissions import Actor
from igny8d.schemas.system_ai import INTEGRATION_IDS, parse_size
from igny8d.services import media
from igny8d.services.base import Deps, Row
from igny8d.services.secretbox import Unreadable, box_for, mask
from igny8d.store import ai_settings as store

if TYPE_CHECKING:
    from igny8d.settings import Settings

KEYED: tuple[str, ...] = ("openai", "runware")

OPENAI_BASE_URL = "https://api.openai.com/v1"
RUNWARE_BASE_URL = "https://api.runware.ai/v1"

#: What each integration's settings are when nothing was saved.
DEFAULTS: dict[str, dict[str, Any]] = {
    "openai": {"base_url": OPENAI_BASE_URL, "model": "gpt-4o-mini", "embedding_model": None,
               "image_model": None, "timeout_s": None},
    "runware": {"base_url": RUNWARE_BASE_URL, "model": None, "timeout_s": None},
    "image_generation": {"provider": "local", "model": None, "size": None,
                         "featured_size": None, "in_article_size": None},
}

#: A connection test waits at most this long, once (no retries): a wrong base URL must not
#: hold the admin's request for minutes.
TEST_TIMEOUT_S = 15.0

_NAMES = {"openai": "OpenAI", "runware": "Runware", "image_generation": "Image generation"}
_EXTENSIONS = {v: k for k, v in media.CONTENT_TYPES.items()}


@dataclass(frozen=True, slots=True)
class Integration:
    """One integration's settings as in force: saved values over the defaults, key opened."""

    integration_id: str
    enabled: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    #: only what was saved (defaults excluded), as stored
    saved: dict[str, Any] = field(default_factory=dict)
    #: never in a repr (a log line or an assertion message must not show it)
    api_key: str | None = field(default=None, repr=False)
    #: "none", "ok", or "unreadable" (sealed under another server secret)
    key_status: str = "none"
    sealed_key: str | None = field(default=None, repr=False)
    updated_at: Any = None

    def require_key(self) -> str:
        """The opened key ("" when none); a key that does not open is a readable 400."""
        if self.key_status == "unreadable":
            raise unreadable_key(self.integration_id)
        return self.api_key or ""


def unreadable_key(integration_id: str) -> ValidationFailed:
    message = (f"The saved {_NAMES[integration_id]} API key cannot be read: the server's "
               "secret key changed since it was saved. Save the key again.")
    return ValidationFailed(message, errors={"api_key": [message]})


def check_id(integration_id: str) -> None:
    if integration_id not in INTEGRATION_IDS:
        raise NotFound(f'Unknown integration "{integration_id}"; the integrations are: '
                       f"{', '.join(INTEGRATION_IDS)}.")


def _context(account_id: int, integration_id: str) -> str:
    """What a sealed key is bound to: it opens only in this account's row of this id."""
    return f"account:{account_id}:integration:{integration_id}"


def _state(row: Row | None, account_id: int, integration_id: str,
           settings: Settings) -> Integration:
    if row is None:
        return Integration(integration_id, config=dict(DEFAULTS[integration_id]))
    saved = {k: v for k, v in dict(row.get("config") or {}).items()
             if k in DEFAULTS[integration_id]}
    sealed = row.get("api_key_encrypted")
    key: str | None = None
    status = "none"
    if sealed:
        try:
            key = box_for(_secret(settings)).open(sealed, context=_context(account_id,
                                                                           integration_id))
            status = "ok"
        except Unreadable:
            status = "unreadable"
    return Integration(integration_id, enabled=bool(row["enabled"]),
                       config={**DEFAULTS[integration_id], **saved}, saved=saved, api_key=key,
                       key_status=status, sealed_key=sealed, updated_at=row.get("updated_at"))


def _secret(settings: Settings) -> str:
    if not settings.secret_key:
        raise RuntimeError("settings.secret_key is unset (Settings.with_secret() sets it)")
    return settings.secret_key


async def load(conn: AsyncConnection, account_id: int, integration_id: str,
               settings: Settings) -> Integration:
    check_id(integration_id)
    row = await store.integration(conn, account_id, integration_id)
    return _state(row, account_id, integration_id, settings)


async def _load_many(conn: AsyncConnection, account_id: int,
                     settings: Settings) -> dict[str, Integration]:
    rows = await store.integrations(conn, account_id, INTEGRATION_IDS)
    return {i: _state(rows.get(i), account_id, i, settings) for i in INTEGRATION_IDS}


# -- what the AI functions read ---------------------------------------------------------------


def _image_model(openai: Integration, image: Integration) -> str | None:
    """The OpenAI image model when images go through OpenAI, else None (rendered locally)."""
    if not (image.enabled and image.config.get("provider") == "openai"):
        return None
    model = image.config.get("model") or openai.config.get("image_model")
    return str(model) if model else None


def _provider_config(openai: Integration, image: Integration, settings: Settings,
                     api_key: str) -> ProviderConfig:
    cfg = openai.config
    return ProviderConfig(
        kind="openai", base_url=str(cfg["base_url"]), api_key=api_key, model=str(cfg["model"]),
        embedding_model=cfg.get("embedding_model") or None,
        image_model=_image_model(openai, image),
        timeout_s=float(cfg.get("timeout_s") or settings.ai_timeout_s),
        max_retries=settings.ai_max_retries,
    )


async def provider_config(conn: AsyncConnection, account_id: int,
                          settings: Settings) -> ProviderConfig | None:
    """The account's provider: None (local) unless its `openai` integration is enabled.

    A saved key that no longer opens raises a readable ValidationFailed (400 in a request,
    the job's error message in a job)."""
    states = await _load_many(conn, account_id, settings)
    openai = states["openai"]
    if not openai.enabled:
        return None
    return _provider_config(openai, states["image_generation"], settings, openai.require_key())


async def image_sizes(conn: AsyncConnection, account_id: int) -> dict[str, tuple[int, int]]:
    """The account's image sizes by image type (`featured`, `in_article`): each type's own
    size, else the default `size`; a type without either is absent (the renderer's default
    applies). Read by the image pipeline next to `provider_config`."""
    row = await store.integration(conn, account_id, "image_generation")
    config = dict(row.get("config") or {}) if row is not None else {}
    out: dict[str, tuple[int, int]] = {}
    for image_type in ("featured", "in_article"):
        size = config.get(f"{image_type}_size") or config.get("size")
        if size:
            out[image_type] = parse_size(str(size))
    return out


# -- reads ------------------------------------------------------------------------------------


def _active_image_provider(openai: Integration, image: Integration) -> str:
    return "openai" if openai.enabled and _image_model(openai, image) else "local"


def present(state: Integration, *, active_image_provider: str = "local") -> Row:
    """The settings as a read shows them: the key masked, never whole."""
    out: Row = {"integration_id": state.integration_id, "enabled": state.enabled}
    if state.integration_id in KEYED:
        out |= {"api_key": mask(state.api_key or ""),
                "has_api_key": state.key_status != "none",
                "key_status": state.key_status}
    out |= state.config
    if state.integration_id == "image_generation":
        out["active_provider"] = active_image_provider
    out["updated_at"] = state.updated_at
    return out


async def get_settings(conn: AsyncConnection, actor: Actor, integration_id: str,
                       settings: Settings) -> Row:
    """One integration's settings (defaults when none were saved, `enabled: false`)."""
    actor.require("admin")
    check_id(integration_id)
    return await _presented(conn, actor.account_id, integration_id, settings)


async def image_generation_settings(conn: AsyncConnection, actor: Actor,
                                    settings: Settings) -> Row:
    """The image settings, for every user of the account (no keys in them)."""
    return await _presented(conn, actor.account_id, "image_generation", settings)


async def _presented(conn: AsyncConnection, account_id: int, integration_id: str,
                     settings: Settings) -> Row:
    states = await _load_many(conn, account_id, settings)
    active = _active_image_provider(states["openai"], states["image_generation"])
    return present(states[integration_id], active_image_provider=active)


# -- writes -----------------------------------------------------------------------------------


def _merged_key(state: Integration, changes: Row) -> tuple[str | None, bool]:
    """(the key to use, whether it changed) after a body's `api_key`, if it has one.

    Absent: the saved one. "" or null: none. The masked form a read showed (echoed back by a
    client that PUTs what it GOT): the saved one. Anything else with the mask's "…" is
    refused: it is a masked key, not a key."""
    if "api_key" not in changes:
        return state.api_key, False
    value = changes["api_key"]
    if not value:
        return None, True
    if "…" in value:
        if state.key_status != "none" and value == present(state).get("api_key"):
            return state.api_key, False
        raise ValidationFailed(errors={"api_key": [
            "This is a masked key; send the whole key, or leave api_key out to keep the "
            "saved one."]})
    return str(value), True


def _merged_config(state: Integration, changes: Row) -> dict[str, Any]:
    """The saved values after a body: a field sent replaces, null drops it (its default
    applies), an absent one stays."""
    saved = dict(state.saved)
    for name, value in changes.items():
        if name not in DEFAULTS[state.integration_id]:
            continue
        if value is None:
            saved.pop(name, None)
        else:
            saved[name] = value
    return saved


def _check_image_settings(config: dict[str, Any]) -> None:
    if config.get("provider") == "runware":
        raise ValidationFailed(errors={"provider": [
            "Images through Runware are not supported by this server yet; use local or "
            "openai (Runware settings can still be saved and tested)."]})


async def save_settings(conn: AsyncConnection, actor: Actor, integration_id: str,
                        changes: Row, settings: Settings) -> Row:
    """Merge `changes` (the fields a body sent) into the saved settings and store them.

    Call inside a write transaction."""
    actor.require("admin")
    check_id(integration_id)
    await store.lock_settings(conn, actor.account_id)
    state = await load(conn, actor.account_id, integration_id, settings)
    config = _merged_config(state, changes)
    if integration_id == "image_generation":
        _check_image_settings({**DEFAULTS[integration_id], **config})
    sealed: str | None = None
    if integration_id in KEYED:
        key, changed = _merged_key(state, changes)
        if not changed:
            sealed = state.sealed_key  # unchanged, even when it does not open any more
        elif key:
            sealed = box_for(_secret(settings)).seal(
                key, context=_context(actor.account_id, integration_id))
    enabled = bool(changes["enabled"]) if "enabled" in changes else state.enabled
    await store.save_integration(conn, actor.account_id, integration_id, enabled=enabled,
                                 config=config, api_key_encrypted=sealed)
    return await _presented(conn, actor.account_id, integration_id, settings)


# -- test and generate ----------------------------------------------------------------------------


def _local_result(detail: str) -> Row:
    return {"ok": True, "provider": "local", "model": "local", "detail": detail}


def _readable(exc: ProviderError | str) -> BadRequest:
    message = str(exc).strip() or "The provider call failed."
    return BadRequest(message, errors={"provider": [message]})


def _with_overrides(state: Integration, overrides: Row) -> Integration:
    """The saved settings with a test body's unsaved ones (nothing is written)."""
    key, changed = _merged_key(state, overrides)
    enabled = bool(overrides["enabled"]) if "enabled" in overrides else state.enabled
    config = {**DEFAULTS[state.integration_id], **_merged_config(state, overrides)}
    return replace(state, enabled=enabled, config=config, api_key=key,
                   key_status=("ok" if key else "none") if changed else state.key_status)


def _check_overrides(target: str, overrides: Row) -> None:
    allowed = set(DEFAULTS.get(target, {})) | ({"enabled", "api_key"} if target in KEYED
                                               else set())
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValidationFailed(errors={name: [f"Not a setting of {target}."]
                                       for name in unknown})


async def connection_test(deps: Deps, actor: Actor, integration_id: str,
                          body: Row) -> Row:
    """Test a provider with the saved settings merged with `body`'s (unsaved).

    `body["provider"]` picks what to test (default: this integration; for image_generation,
    its provider). `local` always passes; so does an integration that is not enabled and was
    not asked for by name (the local provider is what the account uses then).
    """
    actor.require("admin")
    check_id(integration_id)
    overrides = {k: v for k, v in body.items() if k != "provider"}
    asked = body.get("provider")
    settings = deps.settings
    async with deps.store.read() as conn:
        states = await _load_many(conn, actor.account_id, settings)
    target = asked or integration_id
    if target == "image_generation":
        image = states["image_generation"]
        target = str(image.config["provider"]) if image.enabled else "local"
    _check_overrides(target, overrides)
    if target == "local":
        return _local_result("The local provider runs on this server and needs no key.")
    state = _with_overrides(states[target], overrides)
    if not state.enabled and asked is None:
        return _local_result(f"{_NAMES[target]} is not enabled: the local provider is in "
                             "use (offline, no key needed).")
    if target == "runware":
        return await _test_runware(state, settings)
    config = _provider_config(state, states["image_generation"], settings, state.require_key())
    config = replace(config, timeout_s=min(config.timeout_s, TEST_TIMEOUT_S), max_retries=0)
    from igny8d.ai.providers import provider_for  # the providers load Tornado's client

    provider = provider_for(config, settings)
    try:
        result = await provider.test()
    except ProviderError as exc:
        raise _readable(exc) from None
    finally:
        _close(provider)
    return {"ok": True, "provider": str(result.get("provider") or "openai"),
            "model": None if result.get("model") is None else str(result["model"]),
            "detail": str(result.get("detail") or "")}


async def _test_runware(state: Integration, settings: Settings) -> Row:
    """Runware's authentication task: ok when the answer carries no `errors`."""
    key = state.require_key()
    if not key:
        raise _readable("No Runware API key: send api_key, or save one first.")
    base_url = str(state.config["base_url"])
    timeout = min(float(state.config.get("timeout_s") or settings.ai_timeout_s),
                  TEST_TIMEOUT_S)
    from igny8d.ai.providers.runware import check_key  # loads Tornado's client

    try:
        await check_key(base_url, key, timeout_s=timeout)
    except ProviderError as exc:
        raise _readable(exc) from None
    return {"ok": True, "provider": "runware", "model": state.config.get("model"),
            "detail": "Runware accepted the API key."}


async def generate_test_image(deps: Deps, actor: Actor, integration_id: str,
                              prompt: str | None) -> Row:
    """Render a test image with the account's image settings and store it (charged nothing):
    `{url, content_type, width, height, provider}`."""
    actor.require("admin")
    check_id(integration_id)
    settings = deps.settings
    async with deps.store.read() as conn:
        states = await _load_many(conn, actor.account_id, settings)
    openai, image = states["openai"], states["image_generation"]
    config: ProviderConfig | None = None
    if _active_image_provider(openai, image) == "openai":
        config = _provider_config(openai, image, settings, openai.require_key())
    size = image.config.get("featured_size") or image.config.get("size")
    request = ImageRequest(prompt=prompt or "A test image", title="Test image")
    if size:
        width, height = parse_size(str(size))
        request = replace(request, width=width, height=height)
    from igny8d.ai.providers import provider_for  # the providers load Tornado's client

    provider = provider_for(config, settings)
    try:
        rendered = (await provider.render_image(request)).value
    except ProviderError as exc:
        raise _readable(exc) from None
    finally:
        _close(provider)
    ext = _EXTENSIONS.get(rendered.content_type)
    if ext is None:
        raise _readable(f"The image provider answered an unsupported type "
                        f"({rendered.content_type[:50]}).")
    name, width, height = await asyncio.to_thread(_store_image, settings, rendered.data, ext)
    return {"url": media.file_url(name, settings.public_url),
            "content_type": rendered.content_type, "width": width, "height": height,
            "provider": "openai" if config is not None else "local"}


def _close(provider: object) -> None:
    """Release a provider's HTTP client when it has one (the OpenAI-compatible one does)."""
    closer = getattr(provider, "close", None)
    if callable(closer):
        closer()


def _store_image(settings: Settings, data: bytes, ext: str) -> tuple[str, int, int]:
    """Check the bytes are an image (and read its size), then write the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise _readable("The image provider answered something that is not an image.") \
            from None
    return media.write_image_file(settings.data_dir, data, ext), width, height
