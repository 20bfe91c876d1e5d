"""The document's prose: tags, `info.description`, each operation's description and examples.

The facts come from what the server enforces (an operation's level, throttle scope and its
rate, body caps, page size, the 202 of a job); the wording follows the IGNY8 API v1 reference
(its permission classes, sections and the notes it gives per endpoint). Examples are built
from the schemas themselves, so they always validate (the linter checks them).
"""

from __future__ import annotations

from typing import Any

from igny8d import errors
from igny8d.envelope import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

TASK_PROGRESS = "/api/v1/system/settings/task_progress/{task_id}/"

#: Tags in the reference's order (its module namespaces), the superuser-only group last.
TAGS: tuple[tuple[str, str], ...] = (
    ("auth", "Authentication and user management: register, log in, tokens, users, accounts, "
             "sites and sectors, and the plans and industries they draw on."),
    ("planner", "Keywords, clusters and content ideas: the research half of the pipeline, "
                "with the AI actions that cluster keywords and write ideas."),
    ("writer", "Tasks, content and images: the writing half of the pipeline, with the AI "
               "actions that draft articles, propose image prompts and render images."),
    ("system", "Settings, prompts, integrations, health checks and the progress of "
               "background tasks."),
    ("billing", "Credits: the balance, usage logs and their summary, and transactions."),
    ("admin", "The operators' API (superusers only; anyone else gets 404): every tenant's "
              "accounts, users, jobs, recent requests and the audit log."),
)

#: The reference's permission classes, by the level a route declares.
LEVELS: dict[str, str] = {
    "public": "None (`AllowAny`): no credentials needed.",
    "authenticated": "`IsAuthenticatedAndActive` + `HasTenantAccess`: any active user of the "
                     "account, whatever the role; objects of other accounts are 404.",
    "viewer": "`IsViewerOrAbove`: viewer, editor, admin or owner.",
    "editor": "`IsEditorOrAbove`: editor, admin or owner.",
    "admin": "`IsAdminOrOwner`: admin or owner.",
    "owner": "The account's owner only.",
    "superuser": "Superusers only (the operators' API); anyone else gets 404.",
}

#: What the reference adds about one operation (`METHOD path`), in its words.
REFERENCE_NOTES: dict[str, str] = {
    "POST /api/v1/auth/register/": "User registration: creates the account and its owner.",
    "POST /api/v1/auth/login/": "User login. Answers the user with an access token (15 "
                                "minutes) and a refresh token (7 days).",
    "POST /api/v1/auth/refresh/": "Refresh access token: send the refresh token, get a new "
                                  "pair.",
    "POST /api/v1/auth/change-password/": "Change user password.",
    "GET /api/v1/auth/me/": "Get current user information, with the sites they can access.",
    "POST /api/v1/planner/keywords/auto_cluster/":
        "Auto-cluster keywords using AI. Max keywords: 20 per batch with an OpenAI-compatible "
        "provider (the local provider takes more). Returns a task id for progress tracking.",
    "POST /api/v1/planner/clusters/auto_generate_ideas/":
        "Auto-generate content ideas (max 1 cluster per batch). Returns a task id for "
        "progress tracking.",
    "POST /api/v1/writer/tasks/auto_generate_content/":
        "Auto-generate content using AI (max 50 tasks per batch). Returns a task id for "
        "progress tracking.",
    "POST /api/v1/writer/content/generate_image_prompts/":
        "Generate image prompts from content. Returns a task id for progress tracking.",
    "POST /api/v1/writer/images/generate_images/":
        "Generate images using AI. Returns a task id for progress tracking.",
    "GET /api/v1/writer/images/content_images/": "Get images for content (`content_id` "
                                                 "required).",
    "GET /api/v1/system/settings/task_progress/{task_id}/":
        "Get task progress: `state` (PENDING, PROGRESS, SUCCESS, FAILURE, REVOKED) and "
        "`meta` (phase, percentage, message, request and response steps, cost, tokens).",
    "GET /api/v1/system/status/": "System health check (AllowAny).",
    "GET /api/v1/system/ping/": "Health check endpoint (AllowAny).",
    "GET /api/v1/system/request-metrics/{request_id}/": "Get request metrics for debugging.",
    "POST /api/v1/planner/ideas/bulk_queue_to_writer/": "Queue ideas to writer (create "
                                                        "tasks).",
    "POST /api/v1/planner/keywords/bulk_add_from_seed/": "Add keywords from the seed library.",
    "GET /api/v1/planner/keywords/export/": "Export keywords to CSV.",
    "POST /api/v1/planner/keywords/import_keywords/": "Import keywords from CSV.",
}


def rate_table(rates: dict[str, str]) -> str:
    rows = "\n".join(f"| `{scope}` | {rate} |" for scope, rate in rates.items())
    return "| Scope | Limit |\n|---|---|\n" + rows


def info_description(rates: dict[str, str]) -> str:
    """The reference's sections on authentication, the envelope, pagination, rate limits and
    task progress, with this server's figures."""
    return f"""\
IGNY8 API v1 as served by igny8d. `info.version` is the version of the API contract;
`x-server-version` is the igny8d release serving it.

## Authentication
Every endpoint but the public ones (register, login, refresh, logout, plans, industries,
status, ping) needs credentials, tried in this order:

1. **JWT Bearer token** (primary): `Authorization: Bearer <access>`. Get the pair from
   `POST /api/v1/auth/login/` with `{{"email": ..., "password": ...}}`; the access token lasts
   15 minutes, the refresh token 7 days (`POST /api/v1/auth/refresh/` with `{{"refresh": ...}}`).
2. **Session cookie** (fallback).
3. **HTTP Basic** (last fallback, for testing tools).

If all fail: 401. Then the layers of authorization: an active user, of this account (other
accounts' objects are 404), with the role the operation names (owner > admin > editor >
viewer > system_bot), with access to the site or sector concerned.

## The envelope
Every response is JSON in one shape, and carries a `request_id` (also in `X-Request-ID`):

- success: `{{"success": true, "data": ..., "message": "...", "request_id": "..."}}`
- paginated: `{{"success": true, "count": 120, "next": "...?page=3", "previous": "...?page=1",
  "results": [...], "request_id": "..."}}`
- error: `{{"success": false, "error": "Readable message", "errors": {{"field": ["..."]}},
  "request_id": "..."}}`

## Pagination
`?page=2&page_size=25`: default page size {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}; a page
past the end is 404. Lists filter with their query parameters (`?status=active,new`,
`?site_id=1`, `?sector_id=2`), search with `?search=` and order with
`?ordering=-created_at` (comma-separated fields, `-` for descending).

## Rate limits
Each operation belongs to a throttle scope (`x-throttle-scope`). Answers carry
`X-Throttle-Limit`, `X-Throttle-Remaining` and `X-Throttle-Reset` (a Unix time); over the
limit, 429 with `Retry-After`. Health checks are not throttled. This server's rates:

{rate_table(rates)}

## Task progress
AI actions (clustering, ideas, content, image prompts, images) run as background jobs: the
request is checked, charged (402 when the balance is short) and queued, and answers 202 with
`{{"task_id": "..."}}`. Follow it at `GET {TASK_PROGRESS}`: `state` is PENDING, PROGRESS,
SUCCESS, FAILURE or REVOKED, and `meta` carries the phase, percentage, message, steps, cost
and tokens.
"""


def _caps(op: Any, body_schema: dict[str, Any] | None, max_body_mb: float) -> list[str]:
    spec = op.spec
    caps: list[str] = []
    for name, prop in (body_schema or {}).get("properties", {}).items():
        # an optional list is `anyOf: [{type: array, ...}, {type: null}]`: its caps are inside
        prop = next((p for p in prop.get("anyOf", ()) if "maxItems" in p), prop) | {
            k: v for k, v in prop.items() if k == "description"}
        if "maxItems" in prop:
            note = f" ({prop['description']})" if prop.get("description") else ""
            caps.append(f"`{name}`: {prop.get('minItems', 0)} to {prop['maxItems']} "
                        f"items{note}")
    if spec.body is not None:
        mb = spec.max_body_mb if spec.max_body_mb is not None else max_body_mb
        caps.append(f"request body at most {mb:g} MB (413 above)")
    if spec.paginated:
        caps.append(f"`page_size` at most {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})")
    return caps


def describe(op: Any, *, rates: dict[str, str], max_body_mb: float,
             body_schema: dict[str, Any] | None) -> str:
    """An operation's description: what it does (its summary and the reference's note),
    who may call it, its throttle scope and rate, its caps, and how a job is followed."""
    spec = op.spec
    parts = [spec.summary.rstrip(".") + "." if spec.summary else ""]
    note = REFERENCE_NOTES.get(f"{op.method.upper()} {op.path}")
    if note:
        parts.append(f"Reference: {note}")
    level = "public" if spec.public else spec.level
    parts.append(f"**Permission:** {LEVELS.get(level, level)}")
    if spec.throttle in rates:
        parts.append(f"**Throttle scope:** `{spec.throttle}` ({rates[spec.throttle]}).")
    else:
        parts.append("**Throttle scope:** none (never throttled).")
    caps = _caps(op, body_schema, max_body_mb)
    if caps:
        parts.append("**Caps:** " + "; ".join(caps) + ".")
    if spec.status == 202:
        parts.append("**Background job:** checked, charged and queued in one step (402 when "
                     "the balance is short); answers 202 with `task_id`. Follow it at "
                     f"`GET {TASK_PROGRESS}`.")
    return "\n\n".join(p for p in parts if p)


# -- examples -------------------------------------------------------------------------------------

#: The error each status's example shows (its class's own message: what the server sends).
ERROR_CLASSES: dict[int, type[errors.DomainError]] = {
    400: errors.ValidationFailed, 401: errors.AuthRequired, 402: errors.InsufficientCredits,
    403: errors.PermissionDenied, 404: errors.NotFound, 409: errors.Conflict,
    413: errors.PayloadTooLarge, 415: errors.UnsupportedMediaType, 429: errors.Throttled,
    503: errors.Unavailable, 507: errors.InsufficientStorage,
}


def error_example(code: int) -> dict[str, Any]:
    """The error envelope of `code` as the reference's examples show it."""
    out: dict[str, Any] = {"success": False, "error": ERROR_CLASSES[code].message}
    if code == 400:
        out["errors"] = {"email": ["Enter a valid email address."]}
    out["request_id"] = _FORMATS["uuid"]
    return out


_FORMATS = {"email": "user@example.com", "date-time": "2025-01-15T09:30:00Z",
            "date": "2025-01-15", "uuid": "550e8400-e29b-41d4-a716-446655440000",
            "uri": "https://example.com/page"}
_NAMED = {"password": "correct-horse-battery-staple", "name": "Example",
          "domain": "example.com", "slug": "example", "username": "ann",
          "task_id": "abc123-def456-ghi789", "message": "Done",
          "keyword": "seo tools", "title": "How to choose SEO tools",
          "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig",
          "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig"}


def example_of(schema: dict[str, Any], schemas: dict[str, Any], key: str = "",
               depth: int = 0) -> Any:
    """A value that validates against `schema` (refs into `schemas`), readable where the
    field's name says what it holds."""
    if depth > 30:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return example_of(schemas[ref.rsplit("/", 1)[-1]], schemas, key, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    for combo in ("anyOf", "oneOf"):
        if combo in schema:
            options = [o for o in schema[combo] if o.get("type") != "null"] or schema[combo]
            return example_of(options[0], schemas, key, depth + 1)
    if "allOf" in schema:
        return example_of(schema["allOf"][0], schemas, key, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {name: example_of(sub, schemas, name, depth + 1)
                for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        items = schema.get("items", {})
        count = max(1, schema.get("minItems", 1))
        if key.endswith("ids"):
            count = max(count, min(3, schema.get("maxItems", 3)))
        values = [example_of(items, schemas, key[:-1], depth + 1) for _ in range(count)]
        if schema.get("uniqueItems") or key.endswith("ids"):
            values = [v + i if isinstance(v, int) and not isinstance(v, bool) else v
                      for i, v in enumerate(values)]
        return values
    if kind in ("integer", "number"):
        return _clamp(schema, 1 if kind == "integer" else 1.5)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if kind == "string":
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        if schema.get("format") == "binary":
            return "keyword,volume\nseo tools,1200\n"
        text = _NAMED.get(key, key.replace("_", " ") or "string")
        text = text.ljust(schema.get("minLength", 0), "x")
        return text[:schema["maxLength"]] if "maxLength" in schema else text
    return None


def _clamp(schema: dict[str, Any], value: float) -> float:
    if "minimum" in schema and value < schema["minimum"]:
        value = schema["minimum"]
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        value = schema["exclusiveMinimum"] + 1
    if "maximum" in schema and value > schema["maximum"]:
        value = schema["maximum"]
    return value


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return schemas[ref.rsplit("/", 1)[-1]] if isinstance(ref, str) else schema


def annotate(paths: dict[str, Any], schemas: dict[str, Any], ops: list[Any], *,
             rates: dict[str, str], max_body_mb: float) -> None:
    """Give every operation of `paths` its description, and its request and success
    response their examples (in place)."""
    for op in ops:
        doc = paths[op.path][op.method]
        body_schema = None
        for media in doc.get("requestBody", {}).get("content", {}).values():
            body_schema = _resolve(media["schema"], schemas)
            media["example"] = example_of(media["schema"], schemas)
        doc["description"] = describe(op, rates=rates, max_body_mb=max_body_mb,
                                      body_schema=body_schema)
        success = doc["responses"].get(str(op.spec.status), {})
        for media in success.get("content", {}).values():
            if "schema" in media and "example" not in media:
                media["example"] = example_of(media["schema"], schemas)
