"""The outbox under a real kill: a process creates tasks and starts sending; the gateway holds
the third request; the process gets SIGKILL. A restarted sender (``riskstream sms send``)
delivers everything that was created, and the idempotency key makes the gateway see each SMS
once, including the one that reached it just before the kill. Over both stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml
from alerts_gateway import FakeGateway

from riskstream.alerts.store import open_store

pytest_plugins = ("alerts_fixtures",)

HERE = Path(__file__).parent
N = 5


@pytest.fixture(params=["file", pytest.param("redis", marks=pytest.mark.redis)])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return str(tmp_path / "store")
    return request.getfixturevalue("redis_url")


def test_a_killed_sender_loses_nothing_and_sends_nothing_twice(
    gateway: FakeGateway, tmp_path: Path, store_spec: str, request: pytest.FixtureRequest
) -> None:

    contacts = tmp_path / "contacts.jsonl"
    contacts.write_bytes(
        b"".join(
            orjson.dumps({"customer_id": f"cu{i}", "phone": f"+4915000{i:06d}", "language": "en"})
            + b"\n"
            for i in range(N)
        )
    )
    prefix = f"kill:{{{request.node.name}}}:"
    sender = {"kind": "webhook", "url": gateway.url, "timeout_s": 30, "max_attempts": 2}
    config = tmp_path / "config.yaml"
    sms = {"contacts": str(contacts), "redis_prefix": prefix, "sender": sender}
    config.write_text(yaml.safe_dump({"alerts": {"sms": sms}}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    gateway.script("ok", "ok", "hang")
    child = subprocess.Popen(
        [sys.executable, str(HERE / "outbox_child.py"), store_spec, str(config), str(N)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert gateway.hanging.wait(30), child.stderr.read() if child.poll() is not None else ""
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    gateway.release.set()
    assert child.stdout.read().splitlines() == [b"created"]  # killed mid-sending

    store = open_store(store_spec, redis_prefix=prefix)
    try:
        assert [e.key for e in store.outbox()] == ["sms-tx2", "sms-tx3", "sms-tx4"]
    finally:
        store.close()
    assert sorted(gateway.delivered) == ["sms-tx0", "sms-tx1", "sms-tx2"]

    restart = subprocess.run(
        [sys.executable, "-c", "from riskstream.alerts.cli import sms; sms()",
         "send", "--store", store_spec, "--config", str(config), "--at", "2026-01-01T00:00:00Z"],
        capture_output=True, env=env, timeout=60,
    )  # fmt: skip
    assert restart.returncode == 0, restart.stderr.decode()
    assert restart.stdout.decode().split() == ["sent=3", "refused=0", "retry=0", "skipped=0"]

    keys = [f"sms-tx{i}" for i in range(N)]
    assert sorted(gateway.delivered) == keys  # everything created was sent ...
    received = gateway.keys_received()
    assert received.count("sms-tx2") == 2  # ... the one in flight at the kill went again ...
    assert len(gateway.delivered) == N  # ... and the gateway delivered each exactly once
    store = open_store(store_spec, redis_prefix=prefix)
    try:
        assert store.outbox() == []
        for key in keys:
            task = store.get(key)
            assert [h["event"] for h in task.history] == ["created", "sent"]
    finally:
        store.close()
