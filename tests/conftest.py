"""Session fixtures for real services on loopback: Redis, a 3-master Redis Cluster, Kafka.

Each server starts the first time a test asks for its fixture and stops at the end of the
session (servers are shared: use keys and topic names of your own). A test that uses one of
these fixtures gets the matching marker (``redis`` or ``kafka``), so ``-m "not kafka"`` works.
If a service cannot start, its tests fail when ``CI=true`` and are skipped otherwise.
Other fixtures live in the per-folder conftests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from riskstream.stream.localservices import (
    KafkaBroker,
    RedisCluster,
    RedisServer,
    ServiceError,
    ensure_kafka_installed,
    ensure_redis_installed,
)

_MARKERS = {
    "redis_url": "redis",
    "redis_cluster": "redis",
    "redis_cluster_urls": "redis",
    "kafka_bootstrap": "kafka",
}

_S = TypeVar("_S", RedisServer, RedisCluster, KafkaBroker)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            marker = _MARKERS.get(fixture)
            if marker is not None:
                item.add_marker(marker)


def _start(what: str, make: Callable[[], _S]) -> _S:
    """Start a service, or fail (CI) / skip (elsewhere) the requesting tests with the reason."""
    try:
        return make().start()
    except ServiceError as exc:
        reason = f"cannot start {what}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a fresh redis-server for this session."""

    def make() -> RedisServer:
        ensure_redis_installed()
        return RedisServer(base_dir=tmp_path_factory.mktemp("redis"))

    server = _start("redis-server", make)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A 3-master Redis Cluster; ``.url`` for ``RedisCluster.from_url``, ``.nodes`` for hosts."""

    def make() -> RedisCluster:
        ensure_redis_installed()
        return RedisCluster(base_dir=tmp_path_factory.mktemp("redis-cluster"))

    cluster = _start("a Redis Cluster", make)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_cluster_urls(redis_cluster: RedisCluster) -> list[str]:
    """One ``redis://`` URL per cluster master; any one bootstraps redis-py's RedisCluster."""
    return redis_cluster.urls


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a single-node KRaft Kafka broker (faust: ``kafka://`` + this)."""

    def make() -> KafkaBroker:
        ensure_kafka_installed()
        return KafkaBroker(base_dir=tmp_path_factory.mktemp("kafka"))

    broker = _start("a Kafka broker", make)
    yield broker.bootstrap
    broker.stop()
