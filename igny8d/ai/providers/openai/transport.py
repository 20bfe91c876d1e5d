"""The HTTP of an OpenAI-compatible provider: JSON calls with retries, downloads, readable errors.

JSON over Tornado's `AsyncHTTPClient` (one client per provider, `fetch(...,
raise_error=False)`), `Authorization: Bearer <key>` only when a key is set. Tornado is
imported when the first request is made, so importing the provider (and so the services that
import it) loads no Tornado (tests/test_import_hygiene.py).

Retries: 429 (unless the quota is exhausted), 5xx, timeouts and connection errors are retried
up to `max_retries` times with exponential backoff and jitter (`Retry-After` honoured, capped
at `RETRY_AFTER_CAP_S`); 4xx answers are not. Every failure is a `ProviderError` with a short
readable message: never a traceback, never the key, never a whole response body.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from igny8d.ai.types import ProviderConfig, ProviderError, Step

if TYPE_CHECKING:
    from tornado.httpclient import AsyncHTTPClient, HTTPResponse

#: The longest `Retry-After` honoured: a server asking for more gets this much.
RETRY_AFTER_CAP_S = 30.0
#: Backoff before retry k (1-based): half of min(cap, base·2^(k-1)) plus up to as much jitter.
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
#: The biggest API answer read (a base64 image of 10 MB is about 13.4 MB).
MAX_RESPONSE_BYTES = 24 * 1024 * 1024
#: The biggest image downloaded when the server answers a `url`.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: Characters of a provider's own error message quoted in ours.
DETAIL_CHARS = 200

#: what OpenAI-style keys look like ("sk-…", "sk-proj-…"), scrubbed from quoted messages
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}")


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx answer's JSON object."""

    data: dict[str, Any]
    #: the retries it took, for the job's progress
    retries: tuple[Step, ...]


class _Unreachable(Exception):
    pass


class _ClosedEarly(Exception):
    pass


class _TimedOut(Exception):
    pass


class Transport:
    """One provider's HTTP client (see the module doc). `sleep` and `rand` are the backoff's
    clock and jitter (tests inject them)."""

    def __init__(self, config: ProviderConfig, *,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 rand: Callable[[], float] | None = None) -> None:
        self.config = config
        self.base_url = config.base_url.strip().rstrip("/")
        parts = urlsplit(self.base_url)
        try:
            port = parts.port
        except ValueError:
            port = None
        self.host = (parts.hostname or self.base_url) + (f":{port}" if port else "")
        self._sleep = sleep or asyncio.sleep
        self._rand = rand or random.random
        self._client: AsyncHTTPClient | None = None

    def _http(self) -> AsyncHTTPClient:
        if self._client is None:
            from tornado.httpclient import AsyncHTTPClient

            self._client = AsyncHTTPClient(force_instance=True,
                                           max_body_size=MAX_RESPONSE_BYTES)
        return self._client

    def close(self) -> None:
        """Releases the HTTP client (a later call makes a new one)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def scrub(self, text: str) -> str:
        """`text` without the API key or anything that looks like one."""
        key = self.config.api_key.strip()
        if len(key) >= 4:
            text = text.replace(key, "***")
        return _KEY_LIKE.sub("sk-***", text)

    def _headers(self) -> dict[str, str]:
        from igny8d import __version__

        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": f"igny8d/{__version__}"}
        if self.config.api_key.strip():
            headers["Authorization"] = f"Bearer {self.config.api_key.strip()}"
        return headers

    async def fetch(self, method: str, url: str, body: bytes | None, *,
                    headers: dict[str, str], follow: bool = False,
                    streaming: Callable[[bytes], None] | None = None,
                    header_callback: Callable[[str], None] | None = None) -> HTTPResponse:
        """One request, no retries; a transport failure as _TimedOut, _ClosedEarly or
        _Unreachable."""
        from tornado.httpclient import HTTPClientError, HTTPRequest
        from tornado.iostream import StreamClosedError
        from tornado.simple_httpclient import HTTPTimeoutError

        timeout = self.config.timeout_s
        request = HTTPRequest(url, method=method, headers=headers, body=body,
                              request_timeout=timeout, connect_timeout=timeout,
                              follow_redirects=follow, max_redirects=3,
                              streaming_callback=streaming, header_callback=header_callback)
        try:
            return await self._http().fetch(request, raise_error=False)
        except HTTPTimeoutError:
            raise _TimedOut() from None
        except HTTPClientError as exc:
            if exc.code == 599 and "timeout" in str(exc).lower():
                raise _TimedOut() from None
            raise _ClosedEarly() from None
        except StreamClosedError:
            raise _ClosedEarly() from None
        except OSError:  # refused, unknown host, TLS failure
            raise _Unreachable() from None
        except ValueError:  # a URL Tornado cannot use
            raise ProviderError("The provider's base URL is not a usable http(s) URL.") \
                from None

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None
                   ) -> Answer:
        """One API call with retries; the JSON object it answered (2xx)."""
        url = self.base_url + path
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        attempts = max(0, self.config.max_retries) + 1
        steps: list[Step] = []
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            plural = "s" if attempt > 1 else ""
            try:
                response = await self.fetch(method, url, payload, headers=self._headers())
            except _TimedOut:
                failure = ProviderError(
                    f"The provider did not answer within {self.config.timeout_s:g} s "
                    f"({attempt} attempt{plural}).", retryable=True)
            except _Unreachable:
                failure = ProviderError(f"Could not reach the provider at {self.host}.",
                                        retryable=True)
            except _ClosedEarly:
                failure = ProviderError(f"The provider at {self.host} closed the connection "
                                        f"before answering ({attempt} attempt{plural}).",
                                        retryable=True)
            else:
                if 200 <= response.code < 300:
                    return Answer(self._json(response.body), tuple(steps))
                failure, retry_after = self._failure(response, path, attempt)
            if not failure.retryable or attempt == attempts:
                raise failure
            delay = self._delay(attempt, retry_after)
            steps.append(Step("retry", f"{self._short(failure)}; retrying in {delay:.1f} s "
                                       f"(attempt {attempt + 1} of {attempts})"))
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _short(error: ProviderError) -> str:
        return f"status {error.status}" if error.status else str(error).split(" (")[0]

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(RETRY_AFTER_CAP_S, max(0.0, retry_after))
        step = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        return step / 2 + self._rand() * step / 2

    def _json(self, raw: bytes | None) -> dict[str, Any]:
        try:
            data = json.loads(raw or b"")
        except (ValueError, UnicodeDecodeError):
            raise ProviderError("The provider's answer was not valid JSON.") from None
        if not isinstance(data, dict):
            raise ProviderError("The provider's answer did not match the expected shape: "
                                "expected a JSON object")
        return data

    def _error_info(self, raw: bytes | None) -> tuple[str, str]:
        """(message, code) of an error answer `{"error": {...}}` or `{"error": "..."}`,
        scrubbed and cut; ("", "") when it has none."""
        try:
            data = json.loads(raw or b"")
        except (ValueError, UnicodeDecodeError):
            return "", ""
        error = data.get("error", data) if isinstance(data, dict) else None
        if isinstance(error, str):
            return self.scrub(error)[:DETAIL_CHARS], ""
        if not isinstance(error, dict):
            return "", ""
        message = error.get("message") or error.get("detail")
        if isinstance(message, list):  # a request validator's (FastAPI's) 422
            message = "; ".join(
                ".".join(str(p) for p in item.get("loc", ())) + f": {item.get('msg', '')}"
                if isinstance(item, dict) else str(item) for item in message[:3])
        code = error.get("code") or error.get("type") or ""
        text = " ".join(message.split()) if isinstance(message, str) else ""
        return self.scrub(text)[:DETAIL_CHARS], str(code)[:60]

    def _failure(self, response: HTTPResponse, path: str, attempt: int
                 ) -> tuple[ProviderError, float | None]:
        code = response.code
        message, error_code = self._error_info(response.body)
        detail = f": {message}" if message else ""
        tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
        if code in (401, 403):
            return ProviderError(f"The provider refused the API key ({code}).",
                                 status=code), None
        if code == 429:
            if error_code == "insufficient_quota" or "insufficient_quota" in message:
                return ProviderError("The provider's quota is exhausted.", status=429), None
            return ProviderError(f"The provider kept rate limiting the requests (429) after "
                                 f"{tries}.", status=429, retryable=True), \
                _retry_after(response.headers.get("Retry-After"))
        if code >= 500:
            # llama-cpp-python's server answers its request validator's errors with a 500:
            # one naming the answer format is about the request, and asking again is futile
            blames_request = "response_format" in message
            return ProviderError(f"The provider failed ({code}) after {tries}{detail}.",
                                 status=code, retryable=not blames_request), \
                _retry_after(response.headers.get("Retry-After"))
        if code == 404:
            return ProviderError(f"The provider has no {path} or no such model "
                                 f"(404){detail}.", status=404), None
        if 300 <= code < 400:
            return ProviderError(f"The provider answered a redirect ({code}); check the "
                                 f"base URL.", status=code), None
        return ProviderError(f"The provider refused the request ({code}){detail}.",
                             status=code), None

    async def download(self, url: str) -> bytes:
        """An image the API answered as a URL, at most MAX_IMAGE_BYTES, without our key."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProviderError("The provider's image URL is not an http(s) URL.")
        chunks: list[bytes] = []
        size = [0, 0]  # bytes kept, over the cap (0/1)

        def collect(chunk: bytes) -> None:
            if size[1] or size[0] + len(chunk) > MAX_IMAGE_BYTES:
                size[1] = 1
                chunks.clear()
                return
            size[0] += len(chunk)
            chunks.append(chunk)

        def on_header(line: str) -> None:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit() and \
                    int(value) > MAX_IMAGE_BYTES:
                size[1] = 1

        too_big = ProviderError("The provider's image is larger than "
                                f"{MAX_IMAGE_BYTES // (1024 * 1024)} MB.")
        try:
            # another host (a storage bucket): the API key is not sent there
            response = await self.fetch("GET", url, None, headers={"Accept": "image/*"},
                                        follow=True, streaming=collect,
                                        header_callback=on_header)
        except (_TimedOut, _ClosedEarly, _Unreachable) as exc:
            if size[1]:
                raise too_big from None
            what = "did not arrive in time" if isinstance(exc, _TimedOut) else \
                "could not be downloaded"
            raise ProviderError(f"The provider's image {what}.") from None
        if size[1]:
            raise too_big
        if response.code != 200:
            raise ProviderError(f"The provider's image could not be downloaded "
                                f"({response.code}).")
        return b"".join(chunks)


def _retry_after(value: str | None) -> float | None:
    """Seconds of a `Retry-After` header (delta-seconds or an HTTP date), None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None
