"""The callback endpoint on a real aiohttp server: HMAC good, bad, missing, stale, replayed;
duplicate events; replies by task and by number; receipts; mounting beside /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from alerts_helpers import MIN, T0

from riskstream.alerts.callback import create_callback_app, sweeper
from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.signing import sign_headers
from riskstream.alerts.tasks import TaskState
from riskstream.errors import AlertError

pytest_plugins = ("alerts_fixtures",)

SECRET = b"test-secret-not-a-real-one"
Make = Callable[..., SmsTaskManager]


class Clock:
    def __init__(self) -> None:
        self.ms = T0 + MIN

    def __call__(self) -> int:
        return self.ms


def run(app: web.Application, scenario: Callable[[TestClient], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(go())


async def post(
    client: TestClient,
    path: str,
    obj: dict[str, Any],
    ts_s: int | None = None,
    secret: bytes = SECRET,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    body = orjson.dumps(obj)
    ts = (T0 + MIN) // 1000 if ts_s is None else ts_s
    sent = sign_headers(secret, ts, body) if headers is None else headers
    response = await client.post(path, data=body, headers=sent)
    return response.status, await response.json()


@pytest.fixture
def setup(make_manager: Make) -> tuple[SmsTaskManager, web.Application, Clock]:
    clock = Clock()
    manager = make_manager(clock=clock)
    for tx, customer in (("tx1", "cu1"), ("tx2", "cu3")):
        manager.challenge(tx, customer, 90.0, "EUR", "me1", "card_a", T0, T0)
    manager.dispatch(T0)
    return manager, create_callback_app(manager, SECRET, tolerance_s=300), clock


def test_a_signed_reply_moves_the_task_and_a_replay_is_refused(setup) -> None:
    manager, app, _ = setup
    reply = {"id": "evt-1", "task_id": "sms-tx1", "answer": "no"}

    async def scenario(client: TestClient) -> list[tuple[int, dict]]:
        body = orjson.dumps(reply)
        headers = sign_headers(SECRET, (T0 + MIN) // 1000, body)
        first = await client.post("/reply", data=body, headers=headers)
        again = await client.post("/reply", data=body, headers=headers)  # byte for byte
        return [(first.status, await first.json()), (again.status, await again.json())]

    (status, answer), (replayed, error) = run(app, scenario)
    assert status == 200 and answer["state"] == "denied" and answer["labels"] == 1
    assert answer["blocks"] == 1
    assert (replayed, error) == (409, {"error": "replayed"})
    assert manager.store.get("sms-tx1").state is TaskState.DENIED
    assert manager.store.get("sms-tx1").history[-1]["by"] == "reply:callback"
    assert len(manager.store.labels()) == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad_signature", "bad_signature"),
        ("wrong_secret", "bad_signature"),
        ("missing", "missing"),
        ("stale", "stale"),
        ("future", "stale"),
        ("bad_timestamp", "bad_timestamp"),
    ],
)
def test_bad_signatures_and_stale_timestamps_are_rejected(setup, case: str, expected: str) -> None:
    manager, app, _ = setup
    obj = {"id": "evt-2", "task_id": "sms-tx1", "answer": "yes"}
    body = orjson.dumps(obj)
    now_s = (T0 + MIN) // 1000
    headers = sign_headers(SECRET, now_s, body)
    kwargs: dict[str, Any] = {}
    if case == "bad_signature":
        headers["X-Riskstream-Signature"] = headers["X-Riskstream-Signature"][:-2] + "00"
        kwargs = {"headers": headers}
    elif case == "wrong_secret":
        kwargs = {"secret": b"guess"}
    elif case == "missing":
        kwargs = {"headers": {}}
    elif case == "stale":
        kwargs = {"ts_s": now_s - 301}
    elif case == "future":
        kwargs = {"ts_s": now_s + 301}
    else:
        kwargs = {"headers": {**headers, "X-Riskstream-Timestamp": "soon"}}

    status, answer = run(app, lambda c: post(c, "/reply", obj, **kwargs))
    assert (status, answer) == (401, {"error": expected})
    assert manager.store.get("sms-tx1").state is TaskState.PENDING  # nothing changed


def test_a_repeated_event_id_is_a_harmless_duplicate(setup) -> None:
    manager, app, _ = setup
    obj = {"id": "evt-3", "task_id": "sms-tx1", "answer": "yes"}

    async def scenario(client: TestClient) -> list[tuple[int, dict]]:
        first = await post(client, "/reply", obj, ts_s=(T0 + MIN) // 1000)
        retry = await post(client, "/reply", obj, ts_s=(T0 + MIN) // 1000 + 5)  # new signature
        return [first, retry]

    first, retry = run(app, scenario)
    assert first[0] == 200 and retry == (200, {"status": "duplicate"})
    assert len(manager.store.labels()) == 1


def test_replies_by_number_and_text_and_their_errors(setup) -> None:
    _manager, app, _ = setup

    async def scenario(client: TestClient) -> list[tuple[int, dict]]:
        return [
            await post(client, "/reply", {"id": "e1", "from": "+31608501968", "text": "YES!"}),
            await post(client, "/reply", {"id": "e2", "task_id": "sms-tx2", "answer": "no"}),
            await post(client, "/reply", {"id": "e3", "task_id": "sms-nope", "answer": "no"}),
            await post(client, "/reply", {"id": "e4", "task_id": "sms-tx1", "text": "hmm"}),
            await post(client, "/reply", {"task_id": "sms-tx1", "answer": "no"}),
        ]

    by_number, already, unknown, unclear, no_id = run(app, scenario)
    assert by_number[0] == 200 and by_number[1]["task_id"] == "sms-tx2"
    assert by_number[1]["state"] == "confirmed"
    assert already[0] == 409 and "confirmed -> denied" in already[1]["error"]
    assert unknown[0] == 404
    assert unclear == (400, {"error": "answer must be yes or no"})
    assert no_id[0] == 400


def test_delivery_receipts(setup) -> None:
    manager, app, _ = setup

    async def scenario(client: TestClient) -> list[tuple[int, dict]]:
        return [
            await post(client, "/receipt", {"id": "r1", "key": "sms-tx1", "status": "delivered"}),
            await post(client, "/receipt", {"id": "r2", "key": "sms-tx2", "status": "failed"}),
            await post(client, "/receipt", {"id": "r3", "key": "sms-tx2", "status": "lost"}),
        ]

    delivered, failed, unknown = run(app, scenario)
    assert delivered == (200, {"status": "ok", "task_id": "sms-tx1", "state": "pending"})
    assert failed[1]["state"] == "failed" and unknown[0] == 400
    assert manager.store.get("sms-tx1").sms["delivery"] == "delivered"


def test_the_app_mounts_beside_metrics_and_its_sweeper_expires_by_the_clock(setup) -> None:
    manager, sub, clock = setup
    clock.ms = T0 + 20 * MIN  # past the 15 minutes of expiry
    sub.cleanup_ctx.append(sweeper(interval_s=0.05))
    root = web.Application()

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="# metrics\n")

    root.router.add_get("/metrics", metrics)
    root.add_subapp("/sms", sub)

    async def scenario(client: TestClient) -> tuple[int, int, str]:
        metrics = await client.get("/metrics")
        health = await client.get("/sms/health")
        for _ in range(100):
            if manager.store.get("sms-tx1").state is TaskState.EXPIRED:
                break
            await asyncio.sleep(0.02)
        return metrics.status, health.status, manager.store.get("sms-tx1").state.value

    assert run(root, scenario) == (200, 200, "expired")


def test_an_empty_secret_is_refused(setup) -> None:
    manager, _, _ = setup
    with pytest.raises(AlertError, match="non-empty HMAC secret"):
        create_callback_app(manager, b"")
