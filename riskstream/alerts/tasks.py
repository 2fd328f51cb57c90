"""SMS-confirmation tasks: their states, the legal transitions, and the history they keep.

A task is created for every challenged transaction; its id is ``sms-`` + the tx id, so the
same transaction scored twice (a replay after a crash) finds the same task. A task either
carries an SMS of its own (a *lead*) or, when its customer already has an open task inside
the cooldown window, *joins* that lead: it sends nothing, follows the lead's state, and is
labelled by the lead's reply. States::

    pending -> confirmed   (reply YES)
    pending -> denied      (reply NO: the card is blocked, the transaction labelled fraud)
    pending -> expired     (no reply before ``expires_at``)
    pending -> failed      (the gateway refused the SMS, or no contact for the customer)

Every other move raises `IllegalTransition`. Each transition is timestamped (event time in
replay and embedded mode, the service clock otherwise) and appended to ``history`` together
with the non-state events (``created``, ``joined``, ``sent``, ``delivered``, ``send_retry``).
Times are epoch milliseconds in memory and ISO 8601 UTC strings in files.

Examples
--------
>>> task = SmsTask.new("tx1", "cu1", 4800.0, "EUR", "me1", "card_ab", 1767225600000, 900000)
>>> task.task_id, task.state.value, task.is_lead
('sms-tx1', 'pending', True)
>>> task.transition(TaskState.DENIED, 1767225660000, by="reply:cli")
>>> [(h["event"], h["at"]) for h in task.history]
[('created', '2026-01-01T00:00:00.000Z'), ('denied', '2026-01-01T00:01:00.000Z')]
>>> task.transition(TaskState.CONFIRMED, 1767225670000, by="reply:cli")
Traceback (most recent call last):
...
riskstream.alerts.tasks.IllegalTransition: sms-tx1: denied -> confirmed is not allowed
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from riskstream.alerts.masking import mask_card
from riskstream.errors import AlertError

__all__ = [
    "ALLOWED",
    "IllegalTransition",
    "OutboxEntry",
    "SmsTask",
    "TaskState",
    "card_hash",
    "iso",
    "parse_time",
    "task_id_for",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TaskState(StrEnum):
    """The states of an SMS task; the last four are final."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DENIED = "denied"
    EXPIRED = "expired"
    FAILED = "failed"


ALLOWED: dict[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset(
        {TaskState.CONFIRMED, TaskState.DENIED, TaskState.EXPIRED, TaskState.FAILED}
    ),
    TaskState.CONFIRMED: frozenset(),
    TaskState.DENIED: frozenset(),
    TaskState.EXPIRED: frozenset(),
    TaskState.FAILED: frozenset(),
}


class IllegalTransition(AlertError):
    """A state change the lifecycle does not allow (for example a reply to an expired task)."""


def task_id_for(tx_id: str) -> str:
    """The task id of a challenged transaction: deterministic, so creating it is idempotent."""
    return f"sms-{tx_id}"


def card_hash(card_id: str) -> str:
    """The key a card is blocked under: SHA-256 of its id (a PAN never reaches a file).

    >>> card_hash("card_ab")[:16]
    '9052df6b3c1bf568'
    """
    return hashlib.sha256(card_id.encode("utf-8")).hexdigest()


def iso(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds and ``Z``.

    >>> iso(1767600930123)
    '2026-01-05T08:15:30.123Z'
    """
    moment = _EPOCH + timedelta(milliseconds=int(ms))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ms) % 1000:03d}Z"


def parse_time(value: str | int | float) -> int:
    """Epoch milliseconds from an ISO 8601 string (UTC when no offset) or a number of ms.

    >>> parse_time("2026-01-05T08:15:30.123Z"), parse_time(5)
    (1767600930123, 5)
    """
    if isinstance(value, int | float):
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise AlertError(f"not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


@dataclass
class OutboxEntry:
    """An SMS waiting to be handed to the gateway; ``key`` is its idempotency key.

    It holds no phone number: the sender looks the customer up in the contact store.
    """

    key: str
    task_id: str
    customer_id: str
    language: str
    text: str
    not_before: int

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "task_id": self.task_id,
            "customer_id": self.customer_id,
            "language": self.language,
            "text": self.text,
            "not_before": iso(self.not_before),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> OutboxEntry:
        return cls(
            obj["key"],
            obj["task_id"],
            obj["customer_id"],
            obj["language"],
            obj["text"],
            parse_time(obj["not_before"]),
        )


@dataclass
class SmsTask:
    """One challenged transaction's confirmation task (see the module docstring).

    ``lead`` is the id of the task whose SMS covers this one (its own id for a lead);
    ``members`` (leads only) the ids of the tasks that joined it; ``sms`` (leads only) the
    message: language, text, masked phone, idempotency key, send and delivery times.
    ``version`` counts the writes, for optimistic concurrency in the stores.
    """

    task_id: str
    tx_id: str
    customer_id: str
    amount: float
    currency: str
    merchant_id: str | None
    card: str | None
    card_hash: str | None
    event_time: int
    expires_at: int
    lead: str
    state: TaskState = TaskState.PENDING
    members: list[str] = field(default_factory=list)
    sms: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0

    @classmethod
    def new(
        cls,
        tx_id: str,
        customer_id: str,
        amount: float,
        currency: str,
        merchant_id: str | None,
        card_id: str | None,
        event_time: int,
        expires_at: int,
        lead: str | None = None,
    ) -> SmsTask:
        """A pending task for a challenged transaction; a lead unless ``lead`` is given."""
        task_id = task_id_for(tx_id)
        task = cls(
            task_id=task_id,
            tx_id=tx_id,
            customer_id=customer_id,
            amount=float(amount),
            currency=currency,
            merchant_id=merchant_id,
            card=mask_card(card_id) if card_id else None,
            card_hash=card_hash(card_id) if card_id else None,
            event_time=int(event_time),
            expires_at=int(expires_at),
            lead=lead or task_id,
        )
        task.note("created", event_time)
        return task

    @property
    def is_lead(self) -> bool:
        return self.lead == self.task_id

    @property
    def is_final(self) -> bool:
        return self.state is not TaskState.PENDING

    def note(self, event: str, at: int, **detail: Any) -> None:
        """Append a non-state event (created, joined, sent, delivered, ...) to the history."""
        self.history.append({"event": event, "at": iso(at), **detail})

    def transition(self, to: TaskState, at: int, by: str, **detail: Any) -> None:
        """Move to state ``to`` at time ``at``; `IllegalTransition` unless the move is legal."""
        to = TaskState(to)
        if to not in ALLOWED[self.state]:
            raise IllegalTransition(
                f"{self.task_id}: {self.state.value} -> {to.value} is not allowed"
            )
        if at < self.event_time:
            raise IllegalTransition(
                f"{self.task_id}: {to.value} at {iso(at)} is before the task was created "
                f"({iso(self.event_time)})"
            )
        self.history.append(
            {"event": to.value, "at": iso(at), "from": self.state.value, "by": by, **detail}
        )
        self.state = to

    def to_json(self) -> dict[str, Any]:
        """The task as a JSON object (times as ISO strings); nothing in it is unmasked."""
        obj: dict[str, Any] = {
            "task_id": self.task_id,
            "tx_id": self.tx_id,
            "customer_id": self.customer_id,
            "state": self.state.value,
            "lead": self.lead,
            "amount": self.amount,
            "currency": self.currency,
            "merchant_id": self.merchant_id,
            "card": self.card,
            "card_hash": self.card_hash,
            "event_time": iso(self.event_time),
            "expires_at": iso(self.expires_at),
        }
        if self.is_lead:
            obj["members"] = list(self.members)
            obj["sms"] = dict(self.sms) if self.sms is not None else None
        obj["history"] = [dict(h) for h in self.history]
        obj["version"] = self.version
        return obj

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SmsTask:
        return cls(
            task_id=obj["task_id"],
            tx_id=obj["tx_id"],
            customer_id=obj["customer_id"],
            amount=float(obj["amount"]),
            currency=obj["currency"],
            merchant_id=obj.get("merchant_id"),
            card=obj.get("card"),
            card_hash=obj.get("card_hash"),
            event_time=parse_time(obj["event_time"]),
            expires_at=parse_time(obj["expires_at"]),
            lead=obj["lead"],
            state=TaskState(obj["state"]),
            members=list(obj.get("members") or []),
            sms=dict(obj["sms"]) if obj.get("sms") is not None else None,
            history=[dict(h) for h in obj.get("history", [])],
            version=int(obj.get("version", 0)),
        )
