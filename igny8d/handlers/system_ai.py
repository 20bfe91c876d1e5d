"""System module, AI settings: the prompt library (`system/prompts/`) and the integration
settings (`system/settings/integrations/{pk}/`, `system/integrations/image_generation/`).

Rules live in services/prompts.py and services/integrations.py; these parse and present.
Prompts: every role reads, editors and above write (throttle `system`). Integrations: admins
and owners only (throttle `system_admin`), except the image settings' read-only view, which
every user of the account may read (clients need to know how images are made).
"""

from __future__ import annotations

from typing import Any

from igny8d.ai.prompts import PROMPT_TYPES
from igny8d.errors import ValidationFailed
from igny8d.handlers.base import APIHandler, endpoint
from igny8d.handlers.resource import Action, Filter, Resource, ResourceHandler
from igny8d.schemas import system_ai as m
from igny8d.services import integrations as service
from igny8d.services.prompts import PROMPTS as PROMPT_SERVICE

TAG = "system"
THROTTLE = "system"
ADMIN_THROTTLE = "system_admin"
INTEGRATIONS = "/api/v1/system/settings/integrations/"
#: The path's integration ids, documented as an enum (another id answers 404).
PK = {"pk": m.INTEGRATION_IDS}
#: Every integration settings operation: admins and owners, the `system_admin` throttle.
ADMIN: dict[str, Any] = {"level": "admin", "throttle": ADMIN_THROTTLE, "path_choices": PK}


# -- prompts ------------------------------------------------------------------------------------


async def reset_prompt(h: ResourceHandler) -> None:
    body = h.parse(m.PromptResetBody)
    async with h.ctx.store.begin() as conn:
        data = await PROMPT_SERVICE.reset(conn, h.actor, body.prompt_type)
    h.ok(data, "Prompt reset to the default")


PROMPTS = Resource(
    name="prompts", prefix="/api/v1/system/prompts/", service=PROMPT_SERVICE,
    output=m.PromptOut, create_body=m.PromptBody, update_body=m.PromptUpdateBody,
    filters={"prompt_type": Filter("prompt_type", "choice", PROMPT_TYPES,
                                   "Filter by prompt type; several, comma-separated")},
    ordering={"prompt_type": "prompt_type", "created_at": "created_at",
              "updated_at": "updated_at"},
    default_ordering="prompt_type", read_level="authenticated", write_level="editor",
    throttle=THROTTLE, tag=TAG,
    actions=[Action("reset", reset_prompt, body=m.PromptResetBody, response=m.PromptOut,
                    level="editor", summary="Reset a prompt type to the shipped default "
                    "(deletes the saved one; answers the default)")],
)


class PromptByTypeHandler(APIHandler):
    @endpoint(throttle=THROTTLE, summary="The account's prompt of a type, or the shipped "
              "default (is_default true, id null)", response=m.PromptOut, tags=(TAG,),
              path_choices={"prompt_type": PROMPT_TYPES})
    async def get(self, prompt_type: str) -> None:
        async with self.ctx.store.read() as conn:
            data = await PROMPT_SERVICE.by_type(conn, self.actor, prompt_type)
        self.ok(data)


class PromptSaveHandler(APIHandler):
    @endpoint(level="editor", throttle=THROTTLE, body=m.PromptBody, response=m.PromptOut,
              status=201, other_statuses=(200,), tags=(TAG,),
              summary="Save the account's prompt of a type: 201 when created, 200 when an "
                      "existing one was replaced")
    async def post(self) -> None:
        body = self.parse(m.PromptBody)
        async with self.ctx.store.begin() as conn:
            data, created = await PROMPT_SERVICE.save(conn, self.actor, body.prompt_type,
                                                      body.prompt_value)
        self.ok(data, "Prompt saved", status=201 if created else 200)


# -- integration settings -----------------------------------------------------------------------


def _changes(h: APIHandler, pk: str) -> dict[str, object]:
    """The fields a settings body sent, checked against that integration's schema. Fields
    a read shows that no body sets may be echoed back (ignored); `integration_id` must be
    this one."""
    service.check_id(pk)
    raw = h.json_body()
    for name in m.READ_ONLY_FIELDS:
        raw.pop(name, None)
    if "integration_id" in raw and raw.pop("integration_id") != pk:
        raise ValidationFailed(errors={"integration_id": ["This field cannot be changed."]})
    body = h.parse(m.BODIES[pk], raw)
    return dict(body.model_dump(exclude_unset=True))


class IntegrationSettingsHandler(APIHandler):
    @endpoint(**ADMIN, response=m.IntegrationSettingsOut, tags=(TAG,),
              summary="An integration's settings (openai, runware, image_generation); "
                      "defaults when none were saved; the key masked")
    async def get(self, pk: str) -> None:
        async with self.ctx.store.read() as conn:
            data = await service.get_settings(conn, self.actor, pk, self.ctx.settings)
        self.ok(data)

    @endpoint(**ADMIN, body=m.IntegrationSettingsBody, response=m.IntegrationSettingsOut,
              tags=(TAG,),
              summary="Update an integration's settings (merge: absent fields keep their "
                      "value, null restores the default; api_key null or \"\" clears it)")
    async def put(self, pk: str) -> None:
        await _save(self, pk)


class IntegrationSaveHandler(APIHandler):
    @endpoint(**ADMIN, body=m.IntegrationSettingsBody, response=m.IntegrationSettingsOut,
              tags=(TAG,),
              summary="Save an integration's settings (the same merge as PUT)")
    async def post(self, pk: str) -> None:
        await _save(self, pk)


async def _save(h: APIHandler, pk: str) -> None:
    changes = _changes(h, pk)
    async with h.ctx.store.begin() as conn:
        data = await service.save_settings(conn, h.actor, pk, changes, h.ctx.settings)
    h.ok(data, "Settings saved")


class IntegrationTestHandler(APIHandler):
    @endpoint(**ADMIN, body=m.IntegrationTestBody, response=m.IntegrationTestOut, tags=(TAG,),
              summary="Test a provider with the saved settings and any unsaved ones sent: "
                      "200 ok, or 400 with the provider's readable error (errors.provider)")
    async def post(self, pk: str) -> None:
        service.check_id(pk)
        body = self.parse(m.IntegrationTestBody)
        data = await service.connection_test(self.ctx, self.actor, pk,
                                             body.model_dump(exclude_unset=True))
        self.ok(data)


class IntegrationGenerateHandler(APIHandler):
    @endpoint(**ADMIN, body=m.GenerateImageBody, response=m.GeneratedImageOut, tags=(TAG,),
              summary="Render a test image with the account's image settings (charged "
                      "nothing); answers its URL")
    async def post(self, pk: str) -> None:
        service.check_id(pk)
        body = self.parse(m.GenerateImageBody)
        data = await service.generate_test_image(self.ctx, self.actor, pk, body.prompt)
        url = str(data["url"])
        if url.startswith("/"):
            url = f"{self.request.protocol}://{self.request.host}{url}"
        self.ok({**data, "url": url})


class ImageGenerationSettingsHandler(APIHandler):
    @endpoint(throttle=THROTTLE, response=m.ImageGenerationSettingsOut, tags=(TAG,),
              summary="How images are made for your account (any role; no keys)")
    async def get(self) -> None:
        async with self.ctx.store.read() as conn:
            data = await service.image_generation_settings(conn, self.actor,
                                                           self.ctx.settings)
        self.ok(data)


RESOURCES = [PROMPTS]

# The classes the resource layer generates, by name (grep finds them here).
PromptsResetHandler = PROMPTS.handler("PromptsResetHandler")
PromptsListHandler = PROMPTS.handler("PromptsListHandler")
PromptsDetailHandler = PROMPTS.handler("PromptsDetailHandler")

default_handlers = [
    (r"/api/v1/system/prompts/by_type/(?P<prompt_type>[^/]+)/", PromptByTypeHandler),
    (r"/api/v1/system/prompts/save/", PromptSaveHandler),
    *PROMPTS.routes(PromptsResetHandler, PromptsListHandler, PromptsDetailHandler),
    (INTEGRATIONS + r"(?P<pk>[^/]+)/", IntegrationSettingsHandler),
    (INTEGRATIONS + r"(?P<pk>[^/]+)/save/", IntegrationSaveHandler),
    (INTEGRATIONS + r"(?P<pk>[^/]+)/test/", IntegrationTestHandler),
    (INTEGRATIONS + r"(?P<pk>[^/]+)/generate/", IntegrationGenerateHandler),
    (r"/api/v1/system/integrations/image_generation/", ImageGenerationSettingsHandler),
]
