"""Real Redis, Redis Cluster and Kafka servers on loopback, for tests, benchmarks, `make services`.

Owns installing the service binaries (Debian's ``redis-server``; Apache Kafka's own jars, fetched
with Maven from Maven Central into ``.services/kafka/libs``) and running throwaway servers: each
``start()`` takes free loopback ports (or given ones) and a data directory of its own, and returns
only once the service really answers; ``stop()`` terminates, then kills, and removes that directory.

Assumes Linux, Python 3.11, Java 17 and Maven on PATH; ``redis-server`` is installed with apt-get
when missing and the process is root. Costs, measured on the 2-core development machine: a Redis
server is ready in ~0.03 s, a 3-master cluster in ~2.2 s, a Kafka broker (storage format, JVM
start, first metadata answer) in ~6 s when the machine is idle and ~10 s when other tests keep
both cores busy, with ~350 MB resident (heap capped at 512 MB). Fetching the Kafka jars takes
~20 s on an empty Maven cache (43 MB of jars); afterwards ``ensure_kafka_installed`` is a stat.
Installing redis-server with apt-get takes ~10 s.

Kafka version: 4.4.0, one KRaft node that is both broker and controller. Kafka 4 removed the old
protocol versions (KIP-896) and ZooKeeper; aiokafka 0.14.0 negotiates the versions the broker
still serves, and real round trips passed against 4.4.0: aiokafka admin (create/list topics,
describe cluster, group offsets), producer (acks=all) and consumer-group commit, and a
faust-streaming 0.15.3 worker (an agent forwarding one topic to another, a changelog-backed table
restored after a restart, processing_guarantee at_least_once and exactly_once, i.e. transactions).
So the newest served Kafka is used; 3.9.x (the last line with the old protocols) is the fallback
should a later client need it: change ``KAFKA_VERSION`` (and the log4j version in the pom).

The servers run in sessions of their own, so that the command line at the bottom (``python -m
riskstream.stream.localservices start``, used by ``scripts/services.sh``) can leave them running;
servers started in-process and never detached are stopped at interpreter exit. No secret is
used or printed: the servers listen on 127.0.0.1 without authentication.

Examples
--------
>>> from riskstream.stream.localservices import RedisServer
>>> import redis
>>> with RedisServer() as server:
...     client = redis.Redis.from_url(server.url)
...     client.set("greeting", "hello")
...     print(client.get("greeting"))
...     client.close()
True
b'hello'
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import concurrent.futures
import contextlib
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from riskstream.errors import RiskstreamError

__all__ = [
    "KAFKA_VERSION",
    "KafkaBroker",
    "RedisCluster",
    "RedisServer",
    "ServiceError",
    "ensure_kafka_installed",
    "ensure_redis_installed",
    "kafka_libs_dir",
]

KAFKA_VERSION = "4.4.0"
"""Apache Kafka release whose jars are fetched (see the module docstring for why this one)."""

LOOPBACK = "127.0.0.1"
_REPO_ROOT = Path(__file__).resolve().parents[2]
_POM = _REPO_ROOT / "scripts" / "kafka" / "pom.xml"
_CLUSTER_SLOTS = 16384
_LOG_TAIL_LINES = 30


class ServiceError(RiskstreamError):
    """A local service (Redis, Redis Cluster, Kafka) cannot be installed, started or reached."""


# --------------------------------------------------------------------------------------------
# installation


def ensure_redis_installed() -> Path:
    """Return the path of ``redis-server``, installing Debian's package first when it is missing.

    Installs ``redis-server`` and ``redis-tools`` with apt-get when the process is root (without
    letting the package start its own system-wide server); otherwise raises `ServiceError` saying
    what to run. Quiet and instant when the binary is already on PATH.
    """
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    if os.geteuid() != 0:
        raise ServiceError(
            "redis-server is not installed and this process is not root: run "
            "`sudo apt-get install -y redis-server redis-tools` (or `make service-deps` as root)"
        )
    if shutil.which("apt-get") is None:
        raise ServiceError("redis-server is not installed and apt-get is not available")
    print("installing redis-server with apt-get ...", file=sys.stderr, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    with _no_service_autostart():
        _run(["apt-get", *lock_wait, "update", "-q"], env=env, timeout=600)
        _run(
            [
                "apt-get",
                *lock_wait,
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "redis-server",
                "redis-tools",
            ],
            env=env,
            timeout=900,
        )
    found = shutil.which("redis-server")
    if not found:
        raise ServiceError("apt-get installed redis-server but it is not on PATH")
    return Path(found)


def kafka_libs_dir() -> Path:
    """Where the Kafka jars live: ``.services/kafka/libs`` under the repository root."""
    return _REPO_ROOT / ".services" / "kafka" / "libs"


def ensure_kafka_installed(libs_dir: str | Path | None = None) -> Path:
    """Fetch Apache Kafka's jars with Maven into ``libs_dir`` (default `kafka_libs_dir`).

    Idempotent: a stamp file records the Kafka version and the pom's hash, and a complete
    directory is left alone (no Maven call at all). The jars are copied into a fresh sibling
    directory and renamed into place, so an interrupted fetch never leaves a half set.
    Needs ``mvn`` and ``java`` on PATH; Maven's own cache is ``~/.m2``.
    """
    libs = Path(libs_dir) if libs_dir is not None else kafka_libs_dir()
    if not _POM.is_file():
        raise ServiceError(f"the Kafka pom is missing: {_POM}")
    stamp_text = f"kafka {KAFKA_VERSION} pom {hashlib.sha256(_POM.read_bytes()).hexdigest()}\n"
    stamp = libs / ".complete"
    if stamp.is_file() and stamp.read_text() == stamp_text:
        return libs
    for tool in ("mvn", "java"):
        if shutil.which(tool) is None:
            raise ServiceError(f"`{tool}` is not on PATH; the Kafka broker needs Java 17 and Maven")
    print(f"fetching Kafka {KAFKA_VERSION} jars with Maven ...", file=sys.stderr, flush=True)
    libs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".libs-", dir=libs.parent))
    try:
        _run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(_POM),
                "dependency:copy-dependencies",
                f"-Dkafka.version={KAFKA_VERSION}",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            timeout=900,
        )
        if not list(staging.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
            raise ServiceError(f"Maven ran but kafka_2.13-{KAFKA_VERSION}.jar is not in {staging}")
        (staging / ".complete").write_text(stamp_text)
        if libs.exists():
            shutil.rmtree(libs)
        staging.rename(libs)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return libs


@contextlib.contextmanager
def _no_service_autostart() -> Iterator[None]:
    """Keep Debian's maintainer scripts from starting a system-wide redis on port 6379."""
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def _run(cmd: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> None:
    """Run a command quietly; on failure raise `ServiceError` with the tail of its output."""
    try:
        done = subprocess.run(
            list(cmd),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"`{cmd[0]} {cmd[1]}` took more than {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-_LOG_TAIL_LINES:])
        raise ServiceError(f"`{' '.join(cmd)}` failed with exit code {done.returncode}:\n{tail}")


# --------------------------------------------------------------------------------------------
# process plumbing shared by the servers


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    """A TCP port that is free on loopback right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _free_port_with_bus(offset: int = 10000) -> int:
    """A free port ``p`` such that ``p + offset`` (Redis Cluster's bus port) is free as well."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 65535 - offset)
        if _port_is_free(port) and _port_is_free(port + offset):
            return port
    raise ServiceError("found no free loopback port pair for a Redis Cluster node")


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _poll(check: Callable[[], bool], *, deadline: float, interval: float = 0.05) -> bool:
    """Call ``check`` until it returns True or ``deadline`` (a `time.monotonic`) passes."""
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _tcp_answers(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


_RUNNING: set[_Service] = set()


@atexit.register
def _stop_leftovers() -> None:
    for service in list(_RUNNING):
        with contextlib.suppress(Exception):
            service.stop()


class _Service:
    """A server process with its own data directory: start, wait until it answers, stop."""

    _name = "service"
    _stop_timeout = 10.0

    def __init__(self, *, base_dir: str | Path | None, startup_timeout: float) -> None:
        self.base_dir = base_dir
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._data_dir: Path | None = None
        self._detached = False

    # -- public surface ----------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """The data directory of the running server (removed by `stop`)."""
        if self._data_dir is None:
            raise ServiceError(f"{self._name} is not started")
        return self._data_dir

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._proc is None:
            raise ServiceError(f"{self._name} is not started")
        return self._proc.pid

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start the server and return once it answers; raise `ServiceError` otherwise."""
        if self.running:
            return self
        attempts = 1 if self._ports_given() else 3
        for attempt in range(1, attempts + 1):
            self._data_dir = self._make_data_dir()
            try:
                self._launch()
                self._wait_ready(time.monotonic() + self.startup_timeout)
            except ServiceError:
                self._halt()
                if attempt == attempts:
                    raise
                self._choose_ports()  # another process may have taken a port meanwhile
            except BaseException:
                self._halt()
                raise
            else:
                _RUNNING.add(self)
                return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Terminate the server (kill it if it lingers) and remove its data directory."""
        _RUNNING.discard(self)
        self._halt()

    def detach(self) -> int:
        """Leave the server running beyond this object and this process; return its pid."""
        pid = self.pid
        _RUNNING.discard(self)
        self._detached = True
        self._proc = None
        return pid

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- for subclasses ----------------------------------------------------------------------

    def _ports_given(self) -> bool:
        raise NotImplementedError

    def _choose_ports(self) -> None:
        raise NotImplementedError

    def _launch(self) -> None:
        raise NotImplementedError

    def _wait_ready(self, deadline: float) -> None:
        raise NotImplementedError

    @property
    def _log_path(self) -> Path:
        return self.data_dir / f"{self._name}.log"

    def _spawn(self, cmd: Sequence[str]) -> None:
        log = self._log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                list(cmd),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServiceError(f"cannot run {cmd[0]}: {exc}") from exc
        finally:
            log.close()

    def _failure(self, what: str) -> ServiceError:
        state = "exited" if self._proc is not None and self._proc.poll() is not None else "is up"
        return ServiceError(
            f"{self._name} {what} (process {state}); last lines of {self._log_path}:\n"
            f"{_tail(self._log_path)}"
        )

    def _alive_or_raise(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise self._failure("exited during startup")

    def _make_data_dir(self) -> Path:
        parent = None
        if self.base_dir is not None:
            parent = Path(self.base_dir)
            parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{self._name}-", dir=parent))

    def _halt(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self._data_dir is not None and not self._detached:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None


# --------------------------------------------------------------------------------------------
# Redis


class RedisServer(_Service):
    """One ``redis-server`` on loopback, no persistence, data directory of its own.

    Parameters
    ----------
    port
        TCP port; None picks a free one (and retries with another if it was taken meanwhile).
    base_dir
        Parent of the data directory; None means the system's temp directory.
    cluster_enabled
        Run as a Redis Cluster node (`RedisCluster` does this; its bus port is ``port + 10000``).
    startup_timeout
        Seconds to wait for the first PING answer.
    """

    _name = "redis"
    _stop_timeout = 5.0

    def __init__(
        self,
        port: int | None = None,
        base_dir: str | Path | None = None,
        cluster_enabled: bool = False,
        startup_timeout: float = 15.0,
    ) -> None:
        super().__init__(base_dir=base_dir, startup_timeout=startup_timeout)
        self.port = port
        self.cluster_enabled = cluster_enabled
        self._port = port

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def bound_port(self) -> int:
        """The port the server listens on (the given one, or the free one picked at start)."""
        if self._port is None:
            raise ServiceError("redis is not started")
        return self._port

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``, for ``redis.Redis.from_url``."""
        return f"redis://{LOOPBACK}:{self.bound_port}/0"

    def _ports_given(self) -> bool:
        return self.port is not None

    def _choose_ports(self) -> None:
        self._port = _free_port_with_bus() if self.cluster_enabled else _free_port()

    def _launch(self) -> None:
        binary = ensure_redis_installed()
        if self._port is None:
            self._choose_ports()
        lines = [
            f"bind {LOOPBACK}",
            f"port {self._port}",
            f'dir "{self.data_dir}"',
            "daemonize no",
            "protected-mode yes",
            'save ""',
            "appendonly no",
            f'logfile "{self._log_path}"',
        ]
        if self.cluster_enabled:
            lines += [
                "cluster-enabled yes",
                "cluster-config-file nodes.conf",
                "cluster-node-timeout 5000",
            ]
        config = self.data_dir / "redis.conf"
        config.write_text("\n".join(lines) + "\n")
        self._spawn([str(binary), str(config)])

    def _wait_ready(self, deadline: float) -> None:
        import redis

        client = redis.Redis(host=LOOPBACK, port=self.bound_port, socket_timeout=1.0)

        def pong() -> bool:
            self._alive_or_raise()
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            if not _poll(pong, deadline=deadline, interval=0.02):
                raise self._failure(f"did not answer PING within {self.startup_timeout:.0f} s")
        finally:
            client.close()


class RedisCluster:
    """A Redis Cluster of three masters (no replicas) on loopback, slots split evenly.

    Built from Python (CLUSTER ADDSLOTS, SET-CONFIG-EPOCH, MEET), so it needs no ``redis-cli``;
    `start` returns once every node reports ``cluster_state:ok``, knows the three nodes and
    serves the same slot map, which is what ``redis.cluster.RedisCluster`` reads. That takes
    ~2 s, nearly all of it Redis' own delay before a freshly started master turns writable.

    Parameters
    ----------
    ports
        Three TCP ports (each ``port + 10000`` must be free too); None picks free ones.
    base_dir
        Parent of the nodes' data directories; None means the system's temp directory.
    startup_timeout
        Seconds to wait for each node and then for the cluster to agree.
    """

    masters = 3

    def __init__(
        self,
        ports: Sequence[int] | None = None,
        base_dir: str | Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        if ports is not None and len(ports) != self.masters:
            raise ServiceError(f"a Redis Cluster here has {self.masters} ports, got {len(ports)}")
        self.ports = ports
        self.base_dir = base_dir
        self.startup_timeout = startup_timeout
        self._nodes: list[RedisServer] = []

    @property
    def nodes(self) -> list[tuple[str, int]]:
        """``(host, port)`` of each master, for ``ClusterNode(host, port)`` startup nodes."""
        if not self._nodes:
            raise ServiceError("redis cluster is not started")
        return [(node.host, node.bound_port) for node in self._nodes]

    @property
    def urls(self) -> list[str]:
        """One ``redis://`` URL per master; any one works for ``RedisCluster.from_url``."""
        return [f"redis://{host}:{port}" for host, port in self.nodes]

    @property
    def url(self) -> str:
        """The first master's URL: ``redis.cluster.RedisCluster.from_url(url)`` finds the rest."""
        return self.urls[0]

    def start(self) -> Self:
        """Start three cluster-enabled nodes, assign slots, join them, wait for ``ok``."""
        if self._nodes:
            return self
        ports: Sequence[int | None] = self.ports or [None] * self.masters
        try:
            for port in ports:
                node = RedisServer(
                    port=port,
                    base_dir=self.base_dir,
                    cluster_enabled=True,
                    startup_timeout=self.startup_timeout,
                )
                self._nodes.append(node)
                node.start()
            self._form(time.monotonic() + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every node and remove their data directories."""
        nodes, self._nodes = self._nodes, []
        for node in nodes:
            node.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _form(self, deadline: float) -> None:
        import redis

        clients = [
            redis.Redis(host=node.host, port=node.bound_port, socket_timeout=2.0)
            for node in self._nodes
        ]
        try:
            bounds = [round(i * _CLUSTER_SLOTS / self.masters) for i in range(self.masters + 1)]
            for i, client in enumerate(clients):
                client.execute_command("CLUSTER ADDSLOTS", *range(bounds[i], bounds[i + 1]))
                client.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
            for node in self._nodes[1:]:
                clients[0].execute_command("CLUSTER MEET", node.host, node.bound_port)

            def agreed() -> bool:
                try:
                    for client in clients:
                        info = client.cluster("INFO")
                        if info.get("cluster_state") != "ok":
                            return False
                        if int(info.get("cluster_known_nodes", 0)) != self.masters:
                            return False
                        if len(client.execute_command("CLUSTER SLOTS")) != self.masters:
                            return False
                except redis.RedisError:
                    return False
                return True

            if not _poll(agreed, deadline=deadline, interval=0.1):
                raise ServiceError(
                    f"the Redis Cluster on ports {[n.bound_port for n in self._nodes]} did not "
                    f"reach cluster_state:ok within {self.startup_timeout:.0f} s"
                )
        finally:
            for client in clients:
                client.close()


# --------------------------------------------------------------------------------------------
# Kafka


class KafkaBroker(_Service):
    """One Apache Kafka node in KRaft mode (broker + controller) on loopback.

    Formats its storage with a fresh cluster id, runs ``kafka.Kafka`` from the jars of
    `ensure_kafka_installed` in a JVM with a modest heap, and returns from `start` once an
    aiokafka admin client gets the cluster metadata (one broker) from it. Defaults suit tests:
    one partition per topic, replication factor 1 for the internal topics, no rebalance delay,
    topics auto-created.

    Parameters
    ----------
    port
        Client (PLAINTEXT) port; None picks a free one.
    controller_port
        KRaft controller port; None picks a free one.
    base_dir
        Parent of the data directory; None means the system's temp directory.
    heap
        JVM ``-Xmx`` (the machine has 2 cores and other tests run beside the broker).
    config
        Extra or overriding ``server.properties`` entries.
    libs_dir
        Directory of the Kafka jars; None means `kafka_libs_dir` (fetched when missing).
    startup_timeout
        Seconds to wait for the first metadata answer.
    """

    _name = "kafka"
    _stop_timeout = 30.0

    def __init__(
        self,
        port: int | None = None,
        controller_port: int | None = None,
        base_dir: str | Path | None = None,
        heap: str = "512m",
        config: dict[str, str] | None = None,
        libs_dir: str | Path | None = None,
        startup_timeout: float = 90.0,
    ) -> None:
        super().__init__(base_dir=base_dir, startup_timeout=startup_timeout)
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.config = config
        self.libs_dir = libs_dir
        self._port = port
        self._controller_port = controller_port

    @property
    def bound_port(self) -> int:
        """The client port the broker listens on."""
        if self._port is None:
            raise ServiceError("kafka is not started")
        return self._port

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT``, for aiokafka's ``bootstrap_servers``."""
        return f"{LOOPBACK}:{self.bound_port}"

    @property
    def url(self) -> str:
        """``kafka://127.0.0.1:PORT``, for faust's ``broker`` setting."""
        return f"kafka://{self.bootstrap}"

    def _ports_given(self) -> bool:
        return self.port is not None and self.controller_port is not None

    def _choose_ports(self) -> None:
        self._port = self.port if self.port is not None else _free_port()
        self._controller_port = self.controller_port
        while self._controller_port is None or self._controller_port == self._port:
            self._controller_port = _free_port()

    def _server_properties(self) -> dict[str, str]:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{LOOPBACK}:{self._controller_port}",
            "listeners": (
                f"PLAINTEXT://{LOOPBACK}:{self._port},CONTROLLER://{LOOPBACK}:"
                f"{self._controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{self._port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "data"),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "log.retention.check.interval.ms": "300000",
        }
        props.update(self.config or {})
        return props

    def _launch(self) -> None:
        libs = Path(self.libs_dir) if self.libs_dir is not None else ensure_kafka_installed()
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise ServiceError(f"no Kafka jars in {libs}")
        if self._port is None or self._controller_port is None:
            self._choose_ports()
        properties = self.data_dir / "server.properties"
        properties.write_text(
            "".join(f"{key}={value}\n" for key, value in self._server_properties().items())
        )
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_text(
            "status = warn\n"
            "appender.file.type = File\n"
            "appender.file.name = file\n"
            f"appender.file.fileName = {self._log_path}\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = file\n"
            "logger.kafka.name = kafka\n"
            "logger.kafka.level = WARN\n"
            "logger.apache.name = org.apache.kafka\n"
            "logger.apache.level = WARN\n"
            "logger.started.name = kafka.server.KafkaRaftServer\n"
            "logger.started.level = INFO\n"
        )
        java = shutil.which("java")
        if java is None:
            raise ServiceError("`java` is not on PATH; the Kafka broker needs Java 17")
        classpath = f"{libs}/*"
        jvm = [
            java,
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            classpath,
        ]
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        try:
            _run(
                [
                    java,
                    "-Xmx256m",
                    "-XX:TieredStopAtLevel=1",  # a one-shot tool: a quick JIT starts faster
                    "-XX:+UseSerialGC",
                    f"-Dlog4j2.configurationFile={log4j}",
                    "-cp",
                    classpath,
                    _storage_tool(libs),
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(properties),
                ],
                timeout=120,
            )
        except ServiceError as exc:
            raise ServiceError(f"formatting Kafka storage failed: {exc}") from exc
        self._spawn([*jvm, "kafka.Kafka", str(properties)])

    def _wait_ready(self, deadline: float) -> None:
        def listening() -> bool:
            self._alive_or_raise()
            return _tcp_answers(self.bound_port)

        if not _poll(listening, deadline=deadline, interval=0.1):
            raise self._failure(f"did not listen within {self.startup_timeout:.0f} s")
        while True:
            self._alive_or_raise()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._failure(
                    f"did not answer a metadata request within {self.startup_timeout:.0f} s"
                )
            if _kafka_metadata_answers(self.bootstrap, timeout=min(remaining, 10.0)):
                return
            time.sleep(0.2)


def _storage_tool(libs: Path) -> str:
    """The main class that formats KRaft storage: it moved from core to tools in later Kafkas."""
    import zipfile

    (core,) = libs.glob("kafka_2.13-*.jar")
    with zipfile.ZipFile(core) as jar:
        if "kafka/tools/StorageTool.class" in jar.namelist():
            return "kafka.tools.StorageTool"
    return "org.apache.kafka.tools.StorageTool"


def _kafka_metadata_answers(bootstrap: str, timeout: float) -> bool:
    """True when an aiokafka admin client gets cluster metadata listing at least one broker.

    Runs in a thread of its own with its own event loop, so `KafkaBroker.start` also works when
    called from inside a running loop.
    """

    async def probe() -> bool:
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka.errors import KafkaError

        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=max(1000, int(timeout * 1000))
        )
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            return bool(cluster.get("brokers"))
        except (KafkaError, OSError, TimeoutError):
            return False
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    async def bounded() -> bool:
        try:
            return await asyncio.wait_for(probe(), timeout)
        except TimeoutError:
            return False

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kafka-probe") as pool:
        return pool.submit(asyncio.run, bounded()).result()


# --------------------------------------------------------------------------------------------
# command line: `python -m riskstream.stream.localservices deps|start|stop` (scripts/services.sh)

_MARKERS = {"redis": b"redis-server", "kafka": b"kafka.Kafka"}


def _pid_alive(pid: int, service: str) -> bool:
    """True when ``pid`` runs and is still the ``service`` we started (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return _MARKERS[service] in cmdline


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _cmd_deps(args: argparse.Namespace) -> int:
    if args.service in ("all", "redis"):
        ensure_redis_installed()
    if args.service in ("all", "kafka"):
        ensure_kafka_installed()
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    run_dir = Path(args.dir).resolve() / "run"
    wanted = ("redis", "kafka") if args.service == "all" else (args.service,)
    for service in wanted:
        pid_file = run_dir / f"{service}.pid"
        pid = _read_pid(pid_file)
        if pid is not None and _pid_alive(pid, service):
            print(f"{service}: already running (pid {pid})")
            continue
        shutil.rmtree(run_dir / service, ignore_errors=True)
        began = time.monotonic()
        server: RedisServer | KafkaBroker
        if service == "redis":
            server = RedisServer(port=args.redis_port, base_dir=run_dir / service)
        else:
            server = KafkaBroker(
                port=args.kafka_port,
                controller_port=args.kafka_controller_port,
                base_dir=run_dir / service,
            )
        server.start()
        address = server.url if isinstance(server, RedisServer) else server.bootstrap
        pid_file.write_text(f"{server.detach()}\n")
        took = time.monotonic() - began
        print(f"{service}: {address} ready in {took:.1f} s (pid file {pid_file})")
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    run_dir = Path(args.dir).resolve() / "run"
    wanted = ("kafka", "redis") if args.service == "all" else (args.service,)
    for service in wanted:
        pid_file = run_dir / f"{service}.pid"
        pid = _read_pid(pid_file)
        if pid is not None and _pid_alive(pid, service):
            os.kill(pid, signal.SIGTERM)
            if not _poll(
                lambda p=pid, s=service: not _pid_alive(p, s), deadline=time.monotonic() + 30
            ):
                os.kill(pid, signal.SIGKILL)
                _poll(lambda p=pid, s=service: not _pid_alive(p, s), deadline=time.monotonic() + 10)
            print(f"{service}: stopped (pid {pid})")
        pid_file.unlink(missing_ok=True)
        shutil.rmtree(run_dir / service, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m riskstream.stream.localservices``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m riskstream.stream.localservices",
        description="Install, start and stop the local Redis and Kafka used by riskstream.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("deps", "install redis-server and fetch the Kafka jars (idempotent)"),
        ("start", "start Redis and Kafka on loopback, write pid files, wait until they answer"),
        ("stop", "stop what `start` started and remove its data"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("--service", choices=("all", "redis", "kafka"), default="all")
        if name != "deps":
            cmd.add_argument("--dir", default=os.environ.get("SERVICES_DIR", ".services"))
        if name == "start":
            cmd.add_argument("--redis-port", type=int, default=6379)
            cmd.add_argument("--kafka-port", type=int, default=9092)
            cmd.add_argument("--kafka-controller-port", type=int, default=None)
    args = parser.parse_args(argv)
    handlers = {"deps": _cmd_deps, "start": _cmd_start, "stop": _cmd_stop}
    try:
        return handlers[args.command](args)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
