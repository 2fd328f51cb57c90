"""A real HTTP SMS gateway on loopback for the tests: it can fail, delay, hang and duplicate.

Runs `http.server.ThreadingHTTPServer` in a thread on 127.0.0.1 (a free port). Each POST is
recorded; the behaviour of the next requests is scripted with `FakeGateway.script`:

- ``ok``: accept (200 with ``{"id": ...}``); a key seen before is answered
  ``{"duplicate": true}`` and not delivered again (the gateway's idempotency);
- ``fail``: 503 without delivering; ``refuse``: 400;
- ``delay:S``: sleep S seconds, then behave as ``ok`` (longer than the client's timeout:
  the client gives up, retries, and the gateway sees the key twice);
- ``lose_ack``: deliver, then answer 503 (the acknowledgement is lost: the retry is a
  duplicate);
- ``hang``: deliver, set `FakeGateway.hanging`, then block until released (the test kills
  the client meanwhile).

``delivered`` maps each idempotency key to the body delivered for it, once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


class FakeGateway:
    def __init__(self) -> None:
        self.behaviours: deque[str] = deque()
        self.requests: list[dict[str, Any]] = []
        self.delivered: dict[str, dict[str, Any]] = {}
        self.hanging = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                gateway._handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> FakeGateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def script(self, *behaviours: str) -> None:
        self.behaviours.extend(behaviours)

    def keys_received(self) -> list[str]:
        return [r["key"] for r in self.requests]

    def _deliver(self, key: str, obj: dict[str, Any]) -> bool:
        with self._lock:
            if key in self.delivered:
                return False
            self.delivered[key] = obj
            return True

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        key = handler.headers.get("Idempotency-Key", "")
        obj = orjson.loads(body) if body else {}
        with self._lock:
            self.requests.append(
                {"key": key, "body": obj, "headers": dict(handler.headers), "time": time.time()}
            )
            behaviour = self.behaviours.popleft() if self.behaviours else "ok"
        if behaviour.startswith("delay:"):
            time.sleep(float(behaviour.split(":", 1)[1]))
            behaviour = "ok"
        if behaviour == "fail":
            return self._answer(handler, 503, {"error": "unavailable"})
        if behaviour == "refuse":
            return self._answer(handler, 400, {"error": "invalid number"})
        if behaviour == "lose_ack":
            self._deliver(key, obj)
            return self._answer(handler, 503, {"error": "ack lost"})
        if behaviour == "hang":
            self._deliver(key, obj)
            self.hanging.set()
            self.release.wait(60)
            return self._answer(handler, 503, {"error": "too late"})
        fresh = self._deliver(key, obj)
        return self._answer(handler, 200, {"id": f"gw-{key}", "duplicate": not fresh})

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, obj: dict[str, Any]) -> None:
        data = orjson.dumps(obj)
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout) or was killed
