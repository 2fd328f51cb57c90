"""HTTP POST with retries: exponential backoff with full jitter, idempotency key, timeouts.

Used by the webhook SMS sender and the webhook alert sink. A request is retried on a
connection error, a timeout, a 5xx, 408 or 429 answer, up to ``max_attempts`` in all; the
wait before retry ``n`` (0-based) is uniform in ``[0, min(backoff_max_s, backoff_base_s *
2**n)]``, drawn from a ``random.Random(seed)`` so tests and replays are reproducible. Every
attempt carries the same ``Idempotency-Key`` header: the receiver sees one message however
often it arrives. Other 4xx answers are final refusals and are not retried.

Synchronous (``http.client``), so an asyncio caller runs it in an executor.

Examples
--------
>>> poster = RetryingPoster(max_attempts=4, backoff_base_s=0.5, backoff_max_s=3.0, seed=1)
>>> [round(poster.backoff(n), 3) for n in range(4)]
[0.067, 0.847, 1.528, 0.765]
"""

from __future__ import annotations

import http.client
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

from riskstream.alerts.masking import get_logger
from riskstream.errors import AlertError

__all__ = ["PostResult", "RetryingPoster"]

log = get_logger(__name__)

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class PostResult:
    """The outcome of a POST after retries: ``ok`` (2xx), ``refused`` (4xx) or ``retry``."""

    outcome: str
    status: int | None
    body: bytes
    attempts: int
    detail: str = ""

    def json(self) -> dict:
        try:
            obj = orjson.loads(self.body) if self.body else {}
        except orjson.JSONDecodeError:
            return {}
        return obj if isinstance(obj, dict) else {}


class RetryingPoster:
    """POSTs JSON bodies with retries (see the module docstring).

    Parameters
    ----------
    timeout_s
        Connect and read timeout of one attempt.
    max_attempts
        Attempts in all (1 = no retry).
    backoff_base_s, backoff_max_s
        Exponential backoff base and cap, in seconds.
    seed
        Seed of the jitter.
    sleep
        The sleep function (tests pass a recorder).
    """

    def __init__(
        self,
        timeout_s: float = 5.0,
        max_attempts: int = 5,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 10.0,
        seed: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise AlertError("max_attempts must be at least 1")
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.seed = seed
        self.sleep = sleep
        self._rng = random.Random(seed)

    def backoff(self, attempt: int) -> float:
        """The jittered wait before retry number ``attempt`` (0-based)."""
        cap = min(self.backoff_max_s, self.backoff_base_s * (2**attempt))
        return self._rng.uniform(0.0, cap)

    def post(
        self,
        url: str,
        body: bytes,
        idempotency_key: str,
        headers: Mapping[str, str] | None = None,
    ) -> PostResult:
        """POST ``body`` to ``url`` until it is accepted, refused, or attempts run out."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AlertError(f"not an http(s) URL: {url}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        all_headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            **(headers or {}),
        }
        detail = ""
        status: int | None = None
        for attempt in range(self.max_attempts):
            if attempt:
                self.sleep(self.backoff(attempt - 1))
            conn_cls = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = conn_cls(parts.hostname, parts.port, timeout=self.timeout_s)
            try:
                conn.request("POST", path, body=body, headers=all_headers)
                response = conn.getresponse()
                status, data = response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:
                status, detail = None, f"{type(exc).__name__}: {exc}"
                log.info("POST %s attempt %d failed: %s", parts.hostname, attempt + 1, detail)
                continue
            finally:
                conn.close()
            if 200 <= status < 300:
                return PostResult("ok", status, data, attempt + 1)
            detail = f"HTTP {status}"
            if status not in _RETRY_STATUS:
                return PostResult("refused", status, data, attempt + 1, detail)
            log.info("POST %s attempt %d: HTTP %d, will retry", parts.hostname, attempt + 1, status)
        return PostResult("retry", status, b"", self.max_attempts, detail)
