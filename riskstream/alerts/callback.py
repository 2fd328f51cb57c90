"""The HTTP callback endpoint: gateway delivery receipts and customer replies, HMAC-signed.

`create_callback_app` returns an aiohttp application with three routes, meant to be mounted
beside the worker's ``/metrics`` (``root.add_subapp("/sms", create_callback_app(...))``) or
served alone by ``riskstream sms serve``:

- ``POST /receipt``: ``{"id", "key" (idempotency key or task id), "status": "delivered" |
  "failed" | "undeliverable", "at"?}``;
- ``POST /reply``: ``{"id", "task_id" or "from" (the customer's number), "answer": "yes" |
  "no" (or "text": the SMS the customer sent, first word YES/NO/是/否), "at"?}``;
- ``GET /health``.

Every POST must carry ``X-Riskstream-Timestamp`` and ``X-Riskstream-Signature`` (see
`riskstream.alerts.signing`): a missing or wrong signature is answered 401, a timestamp more
than ``tolerance_s`` away from the clock 401 (``stale``), a request whose signature was
already accepted 409 (``replayed``; signatures are remembered in the task store for twice the
tolerance, so replays are refused across restarts and across workers sharing a Redis store).
A new request repeating an event ``id`` already applied is answered 200 ``duplicate`` and
changes nothing (gateways retry). A reply to a task that is no longer pending is 409, an
unknown task 404, a malformed body 400. Numbers in logs are masked.

Store and manager calls are synchronous; they run in a worker thread, one at a time (one lock
per app), so a slow store never stalls the event loop of the metrics server.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web

from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.masking import get_logger
from riskstream.alerts.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from riskstream.alerts.tasks import IllegalTransition, parse_time
from riskstream.errors import AlertError

__all__ = ["callback_routes", "create_callback_app", "parse_answer", "sweeper"]

log = get_logger(__name__)

_T = TypeVar("_T")
_MANAGER = web.AppKey("sms_manager", SmsTaskManager)
_SECRET = web.AppKey("sms_secret", bytes)
_TOLERANCE = web.AppKey("sms_tolerance_s", float)
_LOCK = web.AppKey("sms_lock", threading.Lock)
_YES = ("yes", "y", "是", "是的", "对")
_NO = ("no", "n", "否", "不是", "不")


def parse_answer(text: str) -> str | None:
    """``yes`` or ``no`` from a customer's SMS (first word, any case, English or Chinese).

    >>> parse_answer("YES please"), parse_answer(" no"), parse_answer("否"), parse_answer("?")
    ('yes', 'no', 'no', None)
    """
    words = text.strip().lower().split()
    if not words:
        return None
    first = words[0].strip(".!,。！，")
    if first in _YES:
        return "yes"
    if first in _NO:
        return "no"
    return None


async def _locked(app: web.Application, fn: Callable[[], _T]) -> _T:
    lock = app[_LOCK]

    def run() -> _T:
        with lock:
            return fn()

    return await asyncio.to_thread(run)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _verified(request: web.Request) -> dict[str, Any] | web.Response:
    """The JSON body of a request whose signature, timestamp and nonce check out."""
    app = request.app
    manager = app[_MANAGER]
    body = await request.read()
    now = manager.clock()
    verdict = verify(
        app[_SECRET],
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        body,
        now / 1000.0,
        app[_TOLERANCE],
    )
    if verdict != "ok":
        log.warning("callback %s rejected: %s", request.path, verdict)
        return _error(401, verdict)
    signature = request.headers[SIGNATURE_HEADER].strip()
    ttl = int(2 * app[_TOLERANCE] * 1000)
    fresh = await _locked(app, lambda: manager.store.remember("sig:" + signature, now, ttl))
    if not fresh:
        log.warning("callback %s rejected: replayed", request.path)
        return _error(409, "replayed")
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error(400, "body is not JSON")
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
        return _error(400, "body must be an object with an event id")
    return obj


async def _apply(
    request: web.Request, obj: dict[str, Any], kind: str, fn: Callable[[int], dict[str, Any]]
) -> web.Response:
    app = request.app
    manager = app[_MANAGER]
    now = manager.clock()
    try:
        at = parse_time(obj["at"]) if obj.get("at") is not None else manager.now()
    except (AlertError, TypeError):
        return _error(400, "at must be an ISO 8601 time")
    event_ttl = 7 * 86_400_000

    def run() -> dict[str, Any]:
        if not manager.store.remember(f"event:{kind}:{obj['id']}", now, event_ttl):
            return {"status": "duplicate"}
        return fn(at)

    try:
        result = await _locked(app, run)
    except IllegalTransition as exc:
        return _error(409, str(exc))
    except AlertError as exc:
        status = 404 if str(exc).startswith("no SMS task") else 400
        return _error(status, str(exc))
    await _locked(app, manager.store.flush)
    return web.json_response(result)


async def _receipt(request: web.Request) -> web.Response:
    obj = await _verified(request)
    if isinstance(obj, web.Response):
        return obj
    manager = request.app[_MANAGER]
    key, status = obj.get("key") or obj.get("task_id"), obj.get("status")
    if not isinstance(key, str) or not isinstance(status, str):
        return _error(400, "a receipt needs key and status")

    def fn(at: int) -> dict[str, Any]:
        task = manager.receipt(key, status, at, by="receipt:callback")
        return {"status": "ok", "task_id": task.task_id, "state": task.state.value}

    return await _apply(request, obj, "receipt", fn)


async def _reply(request: web.Request) -> web.Response:
    obj = await _verified(request)
    if isinstance(obj, web.Response):
        return obj
    manager = request.app[_MANAGER]
    answer = obj.get("answer")
    if not isinstance(answer, str) and isinstance(obj.get("text"), str):
        answer = parse_answer(obj["text"])
    if answer not in ("yes", "no"):
        return _error(400, "answer must be yes or no")
    task_id, phone = obj.get("task_id"), obj.get("from")
    if not isinstance(task_id, str) and not isinstance(phone, str):
        return _error(400, "a reply needs task_id or from")

    def fn(at: int) -> dict[str, Any]:
        if isinstance(task_id, str):
            outcome = manager.reply(task_id, answer, at, by="reply:callback")
        else:
            outcome = manager.reply_from_phone(phone, answer, at, by="reply:callback")
        return {
            "status": "ok",
            "task_id": outcome.tasks[0].task_id,
            "state": outcome.tasks[0].state.value,
            "tasks": [t.task_id for t in outcome.tasks],
            "labels": len(outcome.labels),
            "blocks": len(outcome.blocks),
        }

    return await _apply(request, obj, "reply", fn)


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def callback_routes() -> list[web.RouteDef]:
    """The route table (relative paths), for an app that wires the keys itself."""
    return [
        web.post("/receipt", _receipt),
        web.post("/reply", _reply),
        web.get("/health", _health),
    ]


def create_callback_app(
    manager: SmsTaskManager, secret: bytes, tolerance_s: float = 300.0
) -> web.Application:
    """The callback application; its clock is ``manager.clock`` (epoch ms).

    Parameters
    ----------
    manager
        The task manager (and through it the store that remembers nonces).
    secret
        The HMAC key (from the environment variable the config names).
    tolerance_s
        How far a request's timestamp may be from the clock.
    """
    if not secret:
        raise AlertError("the callback endpoint needs a non-empty HMAC secret")
    app = web.Application(client_max_size=64 * 1024)
    app[_MANAGER] = manager
    app[_SECRET] = secret
    app[_TOLERANCE] = float(tolerance_s)
    app[_LOCK] = threading.Lock()
    app.add_routes(callback_routes())
    return app


def sweeper(
    interval_s: float = 1.0,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry that expires due tasks, sends due SMS and flushes the store
    every ``interval_s`` seconds, at `SmsTaskManager.now` (``riskstream sms serve``)."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        manager = app[_MANAGER]

        def tick() -> None:
            now = manager.now()  # the clock; the watermark of an event-time store
            manager.expire_due(now)
            manager.dispatch(now)
            manager.store.flush()

        async def loop() -> None:
            while True:
                try:
                    await _locked(app, tick)
                except AlertError as exc:
                    log.error("sweep failed: %s", exc)
                await asyncio.sleep(interval_s)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return run
