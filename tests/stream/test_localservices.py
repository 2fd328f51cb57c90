"""Real services on loopback: Redis, a 3-master Redis Cluster, Kafka with aiokafka and faust."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition
from redis.cluster import RedisCluster as RedisClusterClient

from riskstream.stream import localservices
from riskstream.stream.localservices import RedisCluster, RedisServer


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- Redis -----------------------------------------------------------------------------------


def test_redis_answers_set_and_get(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        key = _name("greeting")
        assert client.set(key, b"hello", ex=60)
        assert client.get(key) == b"hello"
    finally:
        client.close()


@pytest.mark.redis
def test_redis_server_stop_kills_the_process_and_cleans_its_data_dir(tmp_path: Path) -> None:
    localservices.ensure_redis_installed()
    with RedisServer(base_dir=tmp_path) as server:
        pid, data_dir = server.pid, server.data_dir
        assert data_dir.parent == tmp_path
        assert redis.Redis.from_url(server.url).ping()
    assert not data_dir.exists()
    assert not _runs_redis(pid)


def _runs_redis(pid: int) -> bool:
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.mark.redis
def test_command_line_start_writes_a_pid_file_and_stop_removes_everything(
    tmp_path: Path,
) -> None:
    port = localservices._free_port()
    args = ["--service", "redis", "--dir", str(tmp_path)]
    assert localservices.main(["start", *args, "--redis-port", str(port)]) == 0
    pid_file = tmp_path / "run" / "redis.pid"
    try:
        pid = int(pid_file.read_text())
        assert redis.Redis(port=port).ping()
        # a second start finds the running server and leaves it alone
        assert localservices.main(["start", *args, "--redis-port", str(port)]) == 0
        assert int(pid_file.read_text()) == pid
    finally:
        assert localservices.main(["stop", *args]) == 0
    assert not pid_file.exists()
    assert not (tmp_path / "run" / "redis").exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_redis_cluster_routes_keys_over_three_masters(
    redis_cluster: RedisCluster, redis_cluster_urls: list[str]
) -> None:
    assert len(redis_cluster_urls) == 3
    client = RedisClusterClient.from_url(redis_cluster.url)
    prefix = _name("route")
    try:
        assert client.cluster_info()["cluster_state"] == "ok"
        for i in range(300):
            client.set(f"{prefix}:{i}", i)
        assert [int(client.get(f"{prefix}:{i}")) for i in range(300)] == list(range(300))
        owners = {client.get_node_from_key(f"{prefix}:{i}").port for i in range(300)}
        assert owners == {port for _, port in redis_cluster.nodes}
    finally:
        client.close()
    per_node = []
    for url in redis_cluster_urls:
        node = redis.Redis.from_url(url)
        try:
            per_node.append(len(list(node.scan_iter(match=f"{prefix}:*", count=1000))))
        finally:
            node.close()
    assert sum(per_node) == 300
    assert all(count > 0 for count in per_node)


# -- Kafka -----------------------------------------------------------------------------------


async def _create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def _committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i, value in enumerate(values):
            await producer.send(topic, value, key=b"%d" % i)
        await producer.flush()
    finally:
        await producer.stop()


async def _consume(
    bootstrap: str,
    topic: str,
    count: int,
    deadline: float,
    group: str | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        while len(values) < count and time.monotonic() < deadline and alive():
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                values.extend(m.value for m in messages)
        if group is not None:
            await consumer.commit()
    finally:
        await consumer.stop()
    return values


def test_kafka_round_trip_with_aiokafka(kafka_bootstrap: str) -> None:
    topic, group = _name("roundtrip"), _name("group")
    sent = [b"tx-%d" % i for i in range(500)]

    async def scenario() -> tuple[list[bytes], dict[TopicPartition, int]]:
        await _create_topics(kafka_bootstrap, [topic], partitions=3)
        await _produce(kafka_bootstrap, topic, sent)
        got = await _consume(kafka_bootstrap, topic, len(sent), time.monotonic() + 30, group)
        return got, await _committed(kafka_bootstrap, group)

    got, committed = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert sorted(got) == sorted(sent)
    assert len(committed) == 3
    assert sum(committed.values()) == len(sent)


_FAUST_APP = textwrap.dedent(
    """
    import os

    import faust

    app = faust.App(
        os.environ["APP_ID"],
        broker="kafka://" + os.environ["BOOTSTRAP"],
        datadir=os.environ["APP_DATADIR"],
        topic_partitions=1,
        topic_replication_factor=1,
        broker_commit_interval=0.5,
    )
    source = app.topic(os.environ["SOURCE"], value_serializer="raw")
    sink = app.topic(os.environ["SINK"], value_serializer="raw")


    @app.agent(source)
    async def forward(stream):
        async for value in stream:
            await sink.send(value=value.upper())


    if __name__ == "__main__":
        app.main()
    """
)


def test_faust_agent_consumes_forwards_and_commits(kafka_bootstrap: str, tmp_path: Path) -> None:
    app_id, source, sink = _name("app"), _name("source"), _name("sink")
    sent = [b"tx-%d" % i for i in range(50)]
    (tmp_path / "faust_app.py").write_text(_FAUST_APP)
    env = dict(
        os.environ,
        APP_ID=app_id,
        BOOTSTRAP=kafka_bootstrap,
        APP_DATADIR=str(tmp_path / "data"),
        SOURCE=source,
        SINK=sink,
    )
    log_path = tmp_path / "worker.log"

    async def scenario() -> tuple[list[bytes], dict[TopicPartition, int]]:
        await _create_topics(kafka_bootstrap, [source, sink], partitions=1)
        await _produce(kafka_bootstrap, source, sent)
        alive = lambda: worker.poll() is None  # noqa: E731
        got = await _consume(kafka_bootstrap, sink, len(sent), time.monotonic() + 40, None, alive)
        committed: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + 20
        while sum(committed.values()) < len(sent) and time.monotonic() < deadline and alive():
            committed = await _committed(kafka_bootstrap, app_id)
            await asyncio.sleep(0.2)
        return got, committed

    # `faust worker` sets app.conf.web_enabled from its own --with-web/--without-web flag
    # (default: with), so App(web_enabled=False) alone still binds the web port 6066.
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "faust_app.py", "worker", "--without-web", "--loglevel", "warn"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        got, committed = asyncio.run(asyncio.wait_for(scenario(), 70))
    finally:
        worker.terminate()
        try:
            exit_code = worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            exit_code = worker.wait(10)
    log_tail = log_path.read_text(errors="replace")[-3000:]
    assert got == [value.upper() for value in sent], log_tail
    assert committed == {TopicPartition(source, 0): len(sent)}, log_tail
    assert exit_code == 0, log_tail
