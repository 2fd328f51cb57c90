"""Alerts and SMS tasks inside a run (`riskstream run`, the demo): the glue the embedded
driver calls once per decision batch and once per micro-batch.

`RunAlerts` builds, from the ``alerts`` config section, the alert router, the task store (by
default the run's output directory, rewritten by each run), the contact store and merchant
directory (by default ``contacts.jsonl`` and ``merchants.jsonl`` beside the input file) and
the sender (by default the file sender, ``sms_sent.jsonl``). Everything runs in event time:
a challenged row is handled at the running maximum of the event times up to it (the
watermark), after the SMS due by then have been sent; after each micro-batch due SMS are sent
and due tasks expire at the batch's watermark. The times recorded are the SMS's
``send_after`` and the task's deadline, never the moment the batch happened to end, so the
same input and config give the same task files whatever the batch sizes.

Only rows whose decision alerts (review and above) cost any Python work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from riskstream.alerts.config import AlertsConfig
from riskstream.alerts.directory import ContactStore, MerchantDirectory
from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.masking import get_logger
from riskstream.alerts.router import alert_records, build_router
from riskstream.alerts.senders import build_sender
from riskstream.alerts.store import FileTaskStore, open_store
from riskstream.decisions import CHALLENGE
from riskstream.engine import DecisionBatch

__all__ = ["RunAlerts"]

log = get_logger(__name__)

_NO_WATERMARK = np.iinfo(np.int64).min


def _beside(source: str | Path, configured: str | None, name: str) -> Path | None:
    if configured:
        return Path(configured)
    if str(source) == "-":
        return None
    candidate = Path(source).parent / name
    return candidate if candidate.is_file() else None


class RunAlerts:
    """Alerts and SMS tasks of one run.

    Parameters
    ----------
    section
        ``engine.config.get("alerts", {})``.
    out_dir
        The run's output directory (None when decisions go to stdout).
    source
        The input path (its folder is searched for the contact store and merchants).
    """

    def __init__(self, section: Any, out_dir: Path | None, source: str | Path) -> None:
        self.config = AlertsConfig.from_mapping(section)
        self.codes = self.config.alert_codes
        self._code_list = sorted(self.codes)
        self.router = build_router(self.config, out_dir)
        sms = self.config.sms
        contacts_path = _beside(source, sms.contacts, "contacts.jsonl")
        merchants_path = _beside(source, sms.merchants, "merchants.jsonl")
        self.contacts = ContactStore.load(contacts_path) if contacts_path else ContactStore.empty()
        self.merchants = (
            MerchantDirectory.load(merchants_path) if merchants_path else MerchantDirectory.empty()
        )
        spec = sms.store or out_dir
        self.manager: SmsTaskManager | None = None
        self.watermark = int(_NO_WATERMARK)
        self.tasks_created = 0
        if spec is None:
            return
        store = open_store(
            spec, fresh=True, time_mode="event", fsync=sms.fsync, redis_prefix=sms.redis_prefix
        )
        store_dir = store.path if isinstance(store, FileTaskStore) else None
        sender = build_sender(sms.sender, self.contacts, store_dir)
        self.manager = SmsTaskManager(store, sms, self.contacts, self.merchants, sender)
        store.set_info(
            contacts=str(contacts_path.resolve()) if contacts_path else "",
            merchants=str(merchants_path.resolve()) if merchants_path else "",
        )
        if not len(self.contacts):
            log.warning("no contact store: SMS tasks will fail with no_contact")

    def on_decisions(self, db: DecisionBatch) -> tuple[int, int]:
        """Route the alerts of ``db`` and create its SMS tasks; returns (alerts, tasks)."""
        ts = db.batch.timestamp
        if len(ts) == 0:
            return 0, 0
        codes = db.decision
        rows = np.flatnonzero(np.isin(codes, self._code_list))
        challenged = np.flatnonzero(codes == CHALLENGE) if self.manager is not None else rows[:0]
        if rows.size == 0 and challenged.size == 0:
            self.watermark = max(self.watermark, int(ts.max()))
            return 0, 0
        alerts = self.router.route(alert_records(db, self.codes, rows))
        marks = np.maximum.accumulate(np.maximum(ts, self.watermark))
        self.watermark = int(marks[-1])
        if self.manager is not None:
            batch = db.batch
            for i in challenged.tolist():
                card = batch.card_id[i]
                self.manager.dispatch(int(marks[i]))  # SMS due before this row leave first
                self.manager.challenge(
                    batch.tx_id[i],
                    batch.customer_id[i],
                    float(batch.amount[i]),
                    batch.currency[i],
                    batch.merchant_id[i],
                    card if card else None,
                    int(ts[i]),
                    int(marks[i]),
                )
        self.tasks_created += len(challenged)
        return alerts, len(challenged)

    def end_batch(self) -> None:
        """Send the SMS that are due and expire the tasks that are, at the watermark."""
        if self.manager is None or self.watermark == _NO_WATERMARK:
            return
        self.manager.dispatch(self.watermark)
        self.manager.expire_due(self.watermark)
        self.manager.store.set_watermark(self.watermark)

    def close(self) -> None:
        """Final sends and expiries, snapshots written, files closed."""
        try:
            self.end_batch()
        finally:
            self.router.close()
            if self.manager is not None:
                if self.manager.sender is not None:
                    self.manager.sender.close()
                self.manager.store.close()
