"""Fixtures of the alert tests, loaded with ``pytest_plugins`` by the modules that use them.

(Not a conftest.py: a folder that sorts before ``conftest.py`` with a conftest of its own
breaks the doctest collection of ``tests/conftest.py``, both being module ``conftest``.)
PYTEST_DONT_REWRITE: no asserts here, and doctest collection imports it before it loads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alerts_gateway import FakeGateway
from alerts_helpers import CONTACTS, MERCHANTS

from riskstream.alerts.config import SmsConfig
from riskstream.alerts.directory import ContactStore, MerchantDirectory
from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.senders import FileSender
from riskstream.alerts.store import FileTaskStore, TaskStore


@pytest.fixture
def contacts() -> ContactStore:
    return ContactStore(CONTACTS)


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    gw = FakeGateway().start()
    yield gw
    gw.stop()


@pytest.fixture(params=["file", pytest.param("redis", marks=pytest.mark.redis)])
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
