"""The SMS task manager: creates tasks for challenges, applies the cooldown, sends through the
outbox, expires, and turns replies and delivery receipts into state changes and labels.

Every operation takes its time (``now``, ``at``) as an argument: the event-time watermark in a
replay or an embedded run, the service clock (`SmsTaskManager.clock`) otherwise; the manager
never reads the wall clock itself. Operations are read-modify-commit on a `TaskStore` and
retried on `StoreConflict`, so several processes can share a store.

Rules, in the order `challenge` applies them:

1. a transaction that already has a task gets it back (idempotent: a replay after a crash);
2. the customer's latest lead, if pending and past ``expires_at``, expires first (at its
   deadline), so a late sweep never lets a transaction join an expired task;
3. inside the cooldown (``now`` before the lead's ``send_after`` + cooldown) the transaction
   joins the lead if it is still pending; if the lead is already answered, a new lead is
   created whose SMS waits until the cooldown ends (``send_after``): never two SMS per
   customer per cooldown window;
4. otherwise a new lead is created, its SMS in the outbox with ``not_before = now``.

Expiry is ``send_after + expiry``. A reply moves the lead and every task that joined it and
emits one label per transaction: ``{tx_id, is_fraud, label_time, source: "sms", task_id}``
(``is_fraud`` is true for NO). A NO also blocks the cards of those transactions: one
deny-list entry per card (``card_hash``, masked ``card``) or, for transactions without a
card, one ``customer`` hold; later decisions see them through `riskstream.alerts.denylist`.
A reply to a task that is no longer pending raises `IllegalTransition`.

Examples
--------
>>> import tempfile
>>> from riskstream.alerts.config import SmsConfig
>>> from riskstream.alerts.directory import ContactStore, MerchantDirectory
>>> from riskstream.alerts.senders import FileSender
>>> from riskstream.alerts.store import FileTaskStore
>>> store = FileTaskStore(tempfile.mkdtemp(), time_mode="event")
>>> contacts = ContactStore({"cu1": {"phone": "+4915000847647", "language": "en"}})
>>> sender = FileSender(store.path / "sms_sent.jsonl", contacts)
>>> manager = SmsTaskManager(store, SmsConfig(), contacts, MerchantDirectory.empty(), sender)
>>> t0 = 1767225600000
>>> manager.challenge("tx1", "cu1", 4800.0, "EUR", None, "card_ab", t0, t0).state.value
'pending'
>>> manager.challenge("tx2", "cu1", 900.0, "EUR", None, "card_ab", t0 + 60000, t0 + 60000).lead
'sms-tx1'
>>> manager.dispatch(t0 + 60000)
{'sent': 1, 'refused': 0, 'retry': 0, 'skipped': 0}
>>> outcome = manager.reply("sms-tx2", "no", t0 + 120000, by="reply:cli")
>>> [(t.task_id, t.state.value) for t in outcome.tasks]
[('sms-tx1', 'denied'), ('sms-tx2', 'denied')]
>>> [(lab["tx_id"], lab["is_fraud"]) for lab in outcome.labels], len(outcome.blocks)
([('tx1', True), ('tx2', True)], 1)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from riskstream.alerts.config import SmsConfig
from riskstream.alerts.directory import ContactStore, MerchantDirectory
from riskstream.alerts.masking import get_logger
from riskstream.alerts.senders import Gateway, SmsMessage
from riskstream.alerts.store import StoreConflict, TaskStore
from riskstream.alerts.tasks import (
    IllegalTransition,
    OutboxEntry,
    SmsTask,
    TaskState,
    iso,
    parse_time,
)
from riskstream.alerts.templates import render
from riskstream.errors import AlertError

__all__ = ["ANSWERS", "ReplyOutcome", "SmsTaskManager", "wall_clock_ms"]

log = get_logger(__name__)

ANSWERS: dict[str, TaskState] = {"yes": TaskState.CONFIRMED, "no": TaskState.DENIED}

_T = TypeVar("_T")
_RETRIES = 8


def wall_clock_ms() -> int:
    """The service clock: epoch milliseconds of the wall clock."""
    return time.time_ns() // 1_000_000


@dataclass
class ReplyOutcome:
    """What a reply changed: the tasks (lead first), the labels and the card blocks."""

    tasks: list[SmsTask]
    labels: list[dict[str, Any]] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)


class SmsTaskManager:
    """Creates, sends, expires and resolves SMS tasks (see the module docstring).

    Parameters
    ----------
    store
        Where tasks and the outbox live.
    config
        Cooldown, expiry, default language.
    contacts
        The contact store (languages here; numbers only in the sender).
    merchants
        Merchant names for the texts.
    sender
        The gateway; None leaves SMS in the outbox.
    clock
        The service clock in epoch ms, for the command line and ``sms serve``.
    on_labels
        Called with the labels of each reply once they are committed (the worker publishes
        them to its labels topic).
    """

    def __init__(
        self,
        store: TaskStore,
        config: SmsConfig,
        contacts: ContactStore,
        merchants: MerchantDirectory,
        sender: Gateway | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        on_labels: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.contacts = contacts
        self.merchants = merchants
        self.sender = sender
        self.clock = clock
        self.on_labels = on_labels
        self._lock = threading.RLock()

    def now(self) -> int:
        """The store's own time: its event-time watermark, or the clock for a service."""
        if self.store.time_mode == "event":
            mark = self.store.watermark()
            if mark is not None:
                return mark
        return self.clock()

    def _retrying(self, op: Callable[[], _T]) -> _T:
        with self._lock:
            for _ in range(_RETRIES - 1):
                try:
                    return op()
                except StoreConflict as exc:
                    log.info("retrying after a concurrent change: %s", exc)
            return op()

    def _load(self, task_id: str) -> SmsTask:
        task = self.store.get(task_id)
        if task is None:
            raise AlertError(f"no SMS task {task_id!r}")
        return task

    def _lead_of(self, task: SmsTask) -> SmsTask:
        return task if task.is_lead else self._load(task.lead)

    def _cascade(
        self, lead: SmsTask, to: TaskState, at: int, by: str, **detail: Any
    ) -> list[SmsTask]:
        """Move the lead and the pending tasks that joined it; returns them, lead first."""
        lead.transition(to, at, by, **detail)
        moved = [lead]
        for member_id in lead.members:
            member = self._load(member_id)
            if member.state is TaskState.PENDING:
                member.transition(to, max(at, member.event_time), by, lead=lead.task_id, **detail)
                moved.append(member)
        return moved

    # -- creation ----------------------------------------------------------------------------
    def challenge(
        self,
        tx_id: str,
        customer_id: str,
        amount: float,
        currency: str,
        merchant_id: str | None,
        card_id: str | None,
        event_time: int,
        now: int,
    ) -> SmsTask:
        """The task of a challenged transaction: found, joined or created (see the rules)."""

        def op() -> SmsTask:
            existing = self.store.task_for_tx(tx_id)
            if existing is not None:
                return self._load(existing)
            lead_id = self.store.latest_lead(customer_id)
            lead = self.store.get(lead_id) if lead_id else None
            if lead is not None and not lead.is_final and lead.expires_at <= now:
                self.store.commit(self._cascade(lead, TaskState.EXPIRED, lead.expires_at, "expiry"))
            args = (tx_id, customer_id, amount, currency, merchant_id, card_id, event_time)
            if lead is not None and now < self._send_after(lead) + self.config.cooldown_ms:
                if not lead.is_final:
                    task = SmsTask.new(*args, expires_at=lead.expires_at, lead=lead.task_id)
                    lead.members.append(task.task_id)
                    lead.note("joined", max(now, lead.event_time), task_id=task.task_id)
                    self.store.commit([task, lead])
                    return task
                return self._new_lead(args, self._send_after(lead) + self.config.cooldown_ms)
            return self._new_lead(args, now)

        return self._retrying(op)

    @staticmethod
    def _send_after(lead: SmsTask) -> int:
        return parse_time(lead.sms["send_after"]) if lead.sms else lead.event_time

    def _new_lead(self, args: tuple, send_after: int) -> SmsTask:
        task = SmsTask.new(*args, expires_at=send_after + self.config.expiry_ms)
        language = self.contacts.language(task.customer_id) or self.config.default_language
        text = render(
            language,
            task.amount,
            task.currency,
            self.merchants.name(task.merchant_id),
            self.config.default_language,
        )
        task.sms = {
            "language": language,
            "text": text,
            "to": self.contacts.masked_phone(task.customer_id),
            "idempotency_key": task.task_id,
            "send_after": iso(send_after),
            "sent_at": None,
            "delivery": "queued",
            "gateway_id": None,
            "attempts": 0,
        }
        entry = OutboxEntry(
            task.task_id, task.task_id, task.customer_id, language, text, send_after
        )
        self.store.commit([task], outbox_add=[entry])
        return task

    # -- sending -----------------------------------------------------------------------------
    def dispatch(self, now: int | None = None) -> dict[str, int]:
        """Hand every due outbox entry to the sender; returns counts by outcome.

        The entry leaves the outbox only after the gateway accepted or refused it, so a
        process killed in between sends it again on restart, with the same idempotency key.
        In an event-time store the send time recorded is the entry's ``not_before``.
        """
        now = self.now() if now is None else now
        counts = {"sent": 0, "refused": 0, "retry": 0, "skipped": 0}
        if self.sender is None:
            return counts
        for entry in self.store.outbox():
            if entry.not_before > now:
                break
            counts[self._send_one(entry, now)] += 1
        return counts

    def _send_one(self, entry: OutboxEntry, now: int) -> str:
        at = entry.not_before if self.store.time_mode == "event" else now
        task = self.store.get(entry.task_id)
        if task is None or task.is_final:
            self.store.commit(outbox_done=[entry.key])
            return "skipped"
        message = SmsMessage(
            entry.key, entry.task_id, entry.customer_id, entry.language, entry.text
        )
        assert self.sender is not None
        result = self.sender.send(message, at)

        def op() -> str:
            task = self._load(entry.task_id)
            if task.sms is None:
                raise AlertError(f"{task.task_id} is not a lead")
            task.sms["attempts"] = int(task.sms.get("attempts", 0)) + result.attempts
            if result.status == "accepted":
                task.sms.update(sent_at=iso(at), delivery="sent", gateway_id=result.gateway_id)
                task.note("sent", at, attempts=result.attempts)
                self.store.commit([task], outbox_done=[entry.key])
                return "sent"
            if result.status == "refused":
                if task.is_final:
                    self.store.commit(outbox_done=[entry.key])
                    return "skipped"
                task.sms["delivery"] = "refused"
                moved = self._cascade(task, TaskState.FAILED, at, "gateway", reason=result.detail)
                self.store.commit(moved, outbox_done=[entry.key])
                return "refused"
            task.note("send_retry", at, reason=result.detail)
            self.store.commit([task])
            return "retry"

        return self._retrying(op)

    # -- expiry ------------------------------------------------------------------------------
    def expire_due(self, now: int | None = None) -> list[SmsTask]:
        """Expire every pending lead (and its members) whose deadline is at or before ``now``."""
        now = self.now() if now is None else now
        expired: list[SmsTask] = []
        for lead_id in self.store.due(now):

            def op(lead_id: str = lead_id) -> list[SmsTask]:
                lead = self._load(lead_id)
                if lead.is_final or lead.expires_at > now:
                    return []
                moved = self._cascade(lead, TaskState.EXPIRED, lead.expires_at, "expiry")
                self.store.commit(moved)
                return moved

            expired += self._retrying(op)
        return expired

    # -- replies and receipts ----------------------------------------------------------------
    def reply(self, task_id: str, answer: str, at: int, by: str) -> ReplyOutcome:
        """Apply a customer's YES or NO to ``task_id`` (or the lead it joined) at time ``at``."""
        answer = answer.strip().lower()
        if answer not in ANSWERS:
            raise AlertError(f"answer must be yes or no, not {answer!r}")

        def op() -> ReplyOutcome:
            lead = self._lead_of(self._load(task_id))
            if not lead.is_final and lead.expires_at <= at:
                self.store.commit(self._cascade(lead, TaskState.EXPIRED, lead.expires_at, "expiry"))
                raise IllegalTransition(
                    f"{lead.task_id}: expired at {iso(lead.expires_at)}, before the reply"
                )
            moved = self._cascade(lead, ANSWERS[answer], at, by, answer=answer)
            labels = [
                {
                    "tx_id": t.tx_id,
                    "is_fraud": answer == "no",
                    "label_time": iso(at),
                    "source": "sms",
                    "task_id": t.task_id,
                }
                for t in moved
            ]
            blocks = self._blocks(moved, at) if answer == "no" else []
            self.store.commit(moved, labels=labels, blocks=blocks)
            return ReplyOutcome(moved, labels, blocks)

        outcome = self._retrying(op)
        log.info(
            "reply %s to %s: %d task(s) %s",
            answer,
            task_id,
            len(outcome.tasks),
            outcome.tasks[0].state.value,
        )
        if self.on_labels is not None:
            self.on_labels(outcome.labels)
        return outcome

    def reply_from_phone(self, phone: str, answer: str, at: int, by: str) -> ReplyOutcome:
        """A reply identified by the number it came from: applies to that customer's latest
        lead (the one the customer was last asked about)."""
        customer_id = self.contacts.customer_for_phone(phone)
        lead_id = self.store.latest_lead(customer_id) if customer_id else None
        if lead_id is None:
            raise AlertError("no SMS task for the number the reply came from")
        return self.reply(lead_id, answer, at, by)

    @staticmethod
    def _blocks(tasks: list[SmsTask], at: int) -> list[dict[str, Any]]:
        blocks: dict[str, dict[str, Any]] = {}
        for t in tasks:
            key = t.card_hash or f"customer:{t.customer_id}"
            blocks.setdefault(
                key,
                {
                    "kind": "card" if t.card_hash else "customer",
                    "card_hash": t.card_hash,
                    "card": t.card,
                    "customer_id": t.customer_id,
                    "task_id": t.task_id,
                    "tx_id": t.tx_id,
                    "blocked_at": iso(at),
                    "reason": "sms_denied",
                },
            )
        return list(blocks.values())

    def receipt(self, key: str, status: str, at: int, by: str = "receipt") -> SmsTask:
        """A gateway delivery receipt for the SMS with idempotency key (or task id) ``key``:
        ``delivered`` is noted; ``failed`` / ``undeliverable`` fail the task."""
        status = status.strip().lower()

        def op() -> SmsTask:
            task = self._lead_of(self._load(key))
            if task.sms is None:
                raise AlertError(f"{task.task_id} has no SMS")
            if status == "delivered":
                task.sms["delivery"] = "delivered"
                task.note("delivered", max(at, task.event_time), by=by)
                self.store.commit([task])
                return task
            if status in ("failed", "undeliverable", "rejected"):
                task.sms["delivery"] = status
                if task.is_final:
                    task.note("delivery_failed", max(at, task.event_time), by=by)
                    self.store.commit([task])
                    return task
                moved = self._cascade(
                    task, TaskState.FAILED, max(at, task.event_time), by, reason=status
                )
                self.store.commit(moved)
                return task
            raise AlertError(f"unknown delivery status {status!r}")

        return self._retrying(op)
