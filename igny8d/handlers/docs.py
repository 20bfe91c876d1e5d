"""The OpenAPI document, Swagger UI and ReDoc, all served from this process (no CDN).

Offline means: rendering a docs page makes the browser fetch nothing from another host. The
bundles come from drf-spectacular-sidecar; ReDoc's one outside fetch (the Redocly logo from
cdn.redoc.ly, in its "API docs by Redocly" credit) is rewritten to an empty inline image
when the bundle is served, and the favicon is drawn here (`/favicon.ico`).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import struct
import uuid
import zlib
from collections.abc import Callable
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
<link rel="icon" type="image/x-icon" href="/favicon.ico">
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
<link rel="icon" type="image/x-icon" href="/favicon.ico">
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


# -- assets built in memory --------------------------------------------------------------------

REDOC_BUNDLE = "redoc/bundles/redoc.standalone.js"

#: What ReDoc would fetch from Redocly's CDN (its logo); an empty SVG, inline, replaces it.
_CDN_URL = re.compile(r"https://cdn\.redoc\.ly/[^\"'`\s)]*")
_EMPTY_IMAGE = "data:image/svg+xml,%3Csvg xmlns=%27http://www.w3.org/2000/svg%27/%3E"


@functools.cache
def redoc_bundle() -> bytes:
    """ReDoc's standalone bundle with every cdn.redoc.ly URL replaced by an inline image."""
    text = (asset_root() / REDOC_BUNDLE).read_text(encoding="utf-8")
    return _CDN_URL.sub(_EMPTY_IMAGE, text).encode("utf-8")


def _png(size: int, pixel: Callable[[float, float], tuple[int, int, int, int]]) -> bytes:
    """A size x size RGBA PNG; `pixel(x, y)` gets coordinates in 0..1."""
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            rows.extend(pixel((x + 0.5) / size, (y + 0.5) / size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b""))


def _logo(x: float, y: float) -> tuple[int, int, int, int]:
    """A blue rounded square with a white "8" (two rings), supersampled 4x4."""
    hits_bg = hits_fg = 0
    for sy in range(4):
        for sx in range(4):
            px, py = x + (sx - 1.5) / 128, y + (sy - 1.5) / 128
            dx, dy = max(abs(px - 0.5) - 0.3, 0.0), max(abs(py - 0.5) - 0.3, 0.0)
            if dx * dx + dy * dy > 0.2 * 0.2:
                continue
            hits_bg += 1
            for cy, outer in ((0.33, 0.17), (0.66, 0.19)):
                d = ((px - 0.5) ** 2 + (py - cy) ** 2) ** 0.5
                if outer - 0.085 <= d <= outer:
                    hits_fg += 1
                    break
    if not hits_bg:
        return (0, 0, 0, 0)
    fg = hits_fg / hits_bg
    blend = [round(b + (255 - b) * fg) for b in (31, 94, 214)]
    return (blend[0], blend[1], blend[2], round(255 * hits_bg / 16))


@functools.cache
def favicon_ico() -> bytes:
    """An ICO holding one 32x32 PNG image (the ICO format allows PNG entries)."""
    png = _png(32, _logo)
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


class MemoryAssetHandler(tornado.web.RequestHandler):
    """A GET-only asset made in this process: cached a day, ETag and 304 as Tornado does."""

    def initialize(self, content: Callable[[], bytes], content_type: str,
                   **_: Any) -> None:
        self.content = content
        self.content_type = content_type

    def set_default_headers(self) -> None:
        self.set_header("Server", "igny8d")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.request_id = str(uuid.uuid4())  # read by the access log
        self.set_header("X-Request-ID", self.request_id)

    async def get(self) -> None:
        self.set_header("Content-Type", self.content_type)
        self.set_header("Cache-Control", "public, max-age=86400")
        self.finish(self.content())

    async def head(self) -> None:
        await self.get()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("X-Request-ID", self.request_id)
        if status_code == 405:
            self.set_header("Allow", "GET, HEAD")
        message = {404: "Not found.", 405: "Method not allowed"}.get(status_code, "Error")
        self.finish(envelope.dumps(envelope.error(message, self.request_id)))


def docs_handlers() -> list[tuple[str, type, dict[str, Any]]]:
    return [
        (r"/api/schema/", SchemaHandler, {}),
        (r"/api/docs/", PageHandler, {"page": SWAGGER_HTML}),
        (r"/api/redoc/", PageHandler, {"page": REDOC_HTML}),
        (r"/favicon.ico", MemoryAssetHandler,
         {"content": favicon_ico, "content_type": "image/x-icon"}),
        ("/api/docs/assets/" + REDOC_BUNDLE, MemoryAssetHandler,
         {"content": redoc_bundle, "content_type": "application/javascript; charset=utf-8"}),
        (r"/api/docs/assets/(.*)", AssetHandler, {"path": str(asset_root())}),
    ]
