"""Helpers for the worker tests: worker subprocesses, configs, topic reads, profile sums."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import redis
import yaml

from riskstream.features.schema import decode_records
from riskstream.stream.kafka_tools import consume_lines

WORKER_CMD = [sys.executable, "-c", "from riskstream.stream.worker_cli import worker; worker()"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path: Path, name: str, redis_url: str, **worker: object) -> dict:
    """A worker config whose topics, group and Redis keys are all named after ``name``."""
    topics = {
        t: f"{name}-{t}"
        for t in (
            "transactions",
            "decisions",
            "alerts",
            "sms_tasks",
            "dead_letters",
            "labels",
            "sms_replies",
        )
    }
    config = {
        "features": {"store": redis_url, "key_prefix": name},
        "worker": {
            "app_id": name,
            "topics": topics,
            "partitions": 4,
            "batch_size": 500,
            "max_wait_ms": 5,
            "commit_interval_s": 0.5,
            "session_timeout_s": 6.0,
            "heartbeat_interval_s": 1.0,
            "data_dir": str(path.parent / f"{name}-data"),
            **worker,
        },
    }
    path.write_text(yaml.safe_dump(config))
    return config


class WorkerProcess:
    """``riskstream worker`` in a subprocess, its JSON logs in a file, its web port known."""

    def __init__(self, config: Path, brokers: str, log: Path, extra: list[str] | None = None):
        self.config = config
        self.brokers = brokers
        self.log = log
        self.extra = extra or []
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        args = ["--brokers", self.brokers, "--config", str(self.config)]
        args += ["--web-port", str(self.port), "--loglevel", "info", *self.extra]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*WORKER_CMD, *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def metric(self, name: str) -> float:
        """Sum of a metric's samples (0 when the worker does not answer)."""
        status, body = self.get("/metrics")
        if status != 200:
            return 0.0
        total = 0.0
        for match in re.finditer(rb"^" + name.encode() + rb"(?:\{[^}]*\})? (\S+)$", body, re.M):
            total += float(match.group(1))
        return total

    def wait_ready(self, deadline: float) -> bool:
        while time.monotonic() < deadline and self.alive:
            if self.get("/readyz")[0] == 200:
                return True
            time.sleep(0.2)
        return False

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit code."""
        if self.proc is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return None

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def read_topic(
    brokers: str, topic: str, idle_s: float = 3.0, deadline_s: float = 60.0
) -> list[tuple[str, int, int, bytes | None, bytes]]:
    """Every record of ``topic`` from the beginning, until idle."""

    async def run() -> list:
        out: list = []
        async for batch in consume_lines(brokers, [topic], idle_s=idle_s, deadline_s=deadline_s):
            out.extend(batch)
        return out

    return asyncio.run(run())


def profile_tx_sum(redis_url: str, prefix: str) -> tuple[int, int]:
    """(customers, sum of their ``n_tx``) over the customer profiles under ``prefix``."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*:c:*", count=5000))
        values = []
        for start in range(0, len(keys), 2000):
            values.extend(client.mget(keys[start : start + 2000]))
    finally:
        client.close()
    records = decode_records("customer", values)
    return len(keys), int(np.asarray(records["n_tx"], dtype=np.int64).sum())
