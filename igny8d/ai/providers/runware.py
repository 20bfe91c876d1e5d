"""Runware: checking an API key with its authentication task (images through Runware are not
wired; the settings store the key). Tornado's client is imported when the check runs."""

from __future__ import annotations

import json
from typing import Any

from igny8d.ai.types import ProviderError

#: The biggest answer read.
MAX_ANSWER_BYTES = 1024 * 1024


async def check_key(base_url: str, key: str, *, timeout_s: float) -> None:
    """Runware's authentication task; returns when the key is accepted, else a ProviderError
    saying why (never the key)."""
    status, answer = await post_json(base_url, [{"taskType": "authentication",
                                                 "apiKey": key}], wait_s=timeout_s)
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if errors:
        first = errors[0] if isinstance(errors, list) and errors else {}
        text = first.get("message") if isinstance(first, dict) else None
        raise ProviderError(f"Runware refused the request: {str(text or 'error')[:300]}")
    if status >= 400 or not isinstance(answer, dict):
        raise ProviderError(f"Runware answered HTTP {status} without a usable answer.")


async def post_json(url: str, payload: Any, *, wait_s: float) -> tuple[int, Any]:
    """POST JSON: (status, parsed body or None); a network failure or timeout is a readable
    ProviderError naming the URL."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

    request = HTTPRequest(url, method="POST", body=json.dumps(payload),
                          headers={"Content-Type": "application/json",
                                   "Accept": "application/json"},
                          connect_timeout=wait_s, request_timeout=wait_s,
                          follow_redirects=False)
    client = AsyncHTTPClient(force_instance=True, max_body_size=MAX_ANSWER_BYTES)
    try:
        response = await client.fetch(request, raise_error=False)
    except HTTPClientError as exc:  # 599: timeout or connection closed
        if exc.code == 599 and "timeout" in str(exc).lower():
            raise ProviderError(f"{url} did not answer within {wait_s:g} s.") from None
        raise ProviderError(f"Could not reach {url}: {exc.message or exc.code}.") from None
    except OSError as exc:
        raise ProviderError(f"Could not reach {url}: {exc.strerror or type(exc).__name__}."
                            ) from None
    except ValueError:  # a host name that cannot be encoded (IDNA)
        raise ProviderError(f"Could not reach {url}: not a usable host name.") from None
    finally:
        client.close()
    try:
        parsed = json.loads(response.body or b"null")
    except ValueError:
        parsed = None
    return response.code, parsed
