from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from alerts_gateway import FakeGateway

from riskstream.alerts.config import SmsConfig
from riskstream.alerts.directory import ContactStore, MerchantDirectory
from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.senders import FileSender
from riskstream.alerts.store import FileTaskStore, TaskStore

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MIN = 60_000

CONTACTS = {
    "cu1": {"customer_id": "cu1", "phone": "+4915000847647", "language": "en"},
    "cu2": {"customer_id": "cu2", "phone": "+8613800138000", "language": "zh"},
    "cu3": {"customer_id": "cu3", "phone": "+31608501968", "language": "en"},
}
MERCHANTS = {"me1": {"merchant_id": "me1", "name": "Shop X"}}


@pytest.fixture
def contacts() -> ContactStore:
    return ContactStore(CONTACTS)


@pytest.fixture
def contacts_file(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in CONTACTS.values()))
    return path


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    gw = FakeGateway().start()
    yield gw
    gw.stop()


@pytest.fixture(params=["file", "redis"])
def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., TaskStore]]:
    """Builds fresh stores of each kind (the Redis ones under a prefix of their own)."""
    made: list[TaskStore] = []

    def make(time_mode: str = "event") -> TaskStore:
        if request.param == "file":
            store: TaskStore = FileTaskStore(tmp_path / f"store{len(made)}", time_mode=time_mode)
        else:
            from riskstream.alerts.redis_store import RedisTaskStore

            url = request.getfixturevalue("redis_url")
            prefix = f"t:{{{request.node.name}-{len(made)}}}:"
            store = RedisTaskStore(url, prefix=prefix, fresh=True, time_mode=time_mode)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def make_manager(
    store_factory: Callable[..., TaskStore], contacts: ContactStore, tmp_path: Path
) -> Callable[..., SmsTaskManager]:
    def make(
        cooldown_minutes: float = 30, expiry_minutes: float = 15, **kwargs: object
    ) -> SmsTaskManager:
        store = store_factory()
        sender = FileSender(tmp_path / f"sent-{id(store)}.jsonl", contacts)
        config = SmsConfig(cooldown_minutes=cooldown_minutes, expiry_minutes=expiry_minutes)
        merchants = MerchantDirectory(MERCHANTS)
        return SmsTaskManager(store, config, contacts, merchants, sender, **kwargs)

    return make
