"""The OpenAPI document, Swagger UI and ReDoc, all served from this process (no CDN)."""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path
from typing import Any

import tornado.web

from igny8d import envelope
from igny8d.handlers.base import APIHandler, endpoint


def asset_root() -> Path:
    """Where the installed Swagger UI and ReDoc bundles live (drf-spectacular-sidecar's files)."""
    spec = importlib.util.find_spec("drf_spectacular_sidecar")
    if spec is None or spec.origin is None:  # pragma: no cover - a declared dependency
        raise RuntimeError("drf-spectacular-sidecar is not installed")
    return Path(spec.origin).parent / "static" / "drf_spectacular_sidecar"


SWAGGER_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>IGNY8 API · Swagger UI</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui-dist/swagger-ui.css">
<link rel="icon" type="image/png" href="/api/docs/assets/swagger-ui-dist/favicon-32x32.png">
</head><body><div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-dist/swagger-ui-bundle.js"></script>
<script src="/api/docs/assets/swagger-ui-dist/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/api/schema/", dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"
});
</script></body></html>
"""

REDOC_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>IGNY8 API · ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body { margin: 0; padding: 0; }</style>
</head><body><redoc spec-url="/api/schema/"></redoc>
<script src="/api/docs/assets/redoc/bundles/redoc.standalone.js"></script>
</body></html>
"""


class SchemaHandler(APIHandler):
    """The schema itself is the document, not wrapped in the envelope (tools read it as is)."""

    @endpoint(public=True, summary="OpenAPI 3.1 document")
    async def get(self) -> None:
        doc: dict[str, Any] = self.settings["openapi"]()
        self.set_header("Content-Type", "application/vnd.oai.openapi+json; charset=utf-8")
        self.finish(json.dumps(doc))


class PageHandler(APIHandler):
    def initialize(self, page: str, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(**kwargs)
        self.html = page

    @endpoint(public=True, summary="Interactive documentation")
    async def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(self.html)


class AssetHandler(tornado.web.StaticFileHandler):
    def set_default_headers(self) -> None:
        # As every other response: no Tornado version in Server, nosniff, a request id.
        self.set_header("Server", "igny8d")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.request_id = str(uuid.uuid4())  # read by the access log
        self.set_header("X-Request-ID", self.request_id)

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "public, max-age=86400")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A missing asset answers in the envelope too, not Tornado's HTML page."""
        rid = self.request_id
        self.set_header("Content-Type", "application/json; charset=utf-8")
        message = "Not found." if status_code == 404 else "Error"
        self.finish(envelope.dumps(envelope.error(message, rid)))


def docs_handlers() -> list[tuple[str, type, dict[str, Any]]]:
    return [
        (r"/api/schema/", SchemaHandler, {}),
        (r"/api/docs/", PageHandler, {"page": SWAGGER_HTML}),
        (r"/api/redoc/", PageHandler, {"page": REDOC_HTML}),
        (r"/api/docs/assets/(.*)", AssetHandler, {"path": str(asset_root())}),
    ]
