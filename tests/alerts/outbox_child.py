"""Child process of the outbox kill test: create SMS tasks, then send them through the webhook
sender the config names. The test SIGKILLs it while the gateway holds one request.

Usage: python outbox_child.py STORE CONFIG N
"""

from __future__ import annotations

import sys

from riskstream.alerts.config import AlertsConfig
from riskstream.alerts.directory import ContactStore, MerchantDirectory
from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.senders import build_sender
from riskstream.alerts.store import open_store
from riskstream.config import load_config

T0 = 1_767_225_600_000


def main() -> None:
    spec, config_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    config = AlertsConfig.from_mapping(load_config(config_path)["alerts"])
    store = open_store(spec, time_mode="clock", redis_prefix=config.sms.redis_prefix)
    contacts = ContactStore.load(config.sms.contacts)
    sender = build_sender(config.sms.sender, contacts, None)
    manager = SmsTaskManager(
        store, config.sms, contacts, MerchantDirectory.empty(), sender, clock=lambda: T0
    )
    for i in range(n):
        manager.challenge(f"tx{i}", f"cu{i}", 100.0 + i, "EUR", None, None, T0, T0)
    print("created", flush=True)
    manager.dispatch(T0)
    print("sent", flush=True)


if __name__ == "__main__":
    main()
