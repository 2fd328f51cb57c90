"""The task state machine: every legal transition, every illegal one, history, JSON round trip."""

from __future__ import annotations

import itertools

import pytest
from alerts_helpers import MIN, T0

from riskstream.alerts.tasks import (
    ALLOWED,
    IllegalTransition,
    OutboxEntry,
    SmsTask,
    TaskState,
    iso,
    parse_time,
    task_id_for,
)
from riskstream.errors import AlertError, RiskstreamError

FINAL = [TaskState.CONFIRMED, TaskState.DENIED, TaskState.EXPIRED, TaskState.FAILED]


def new_task(tx: str = "tx1") -> SmsTask:
    return SmsTask.new(tx, "cu1", 4800.0, "EUR", "me1", "4111111111111111", T0, T0 + 15 * MIN)


def in_state(state: TaskState) -> SmsTask:
    task = new_task()
    if state is not TaskState.PENDING:
        task.transition(state, T0 + MIN, by="test")
    return task


@pytest.mark.parametrize("to", FINAL)
def test_every_legal_transition_is_timestamped_and_kept(to: TaskState) -> None:
    task = new_task()
    task.transition(to, T0 + 2 * MIN, by="test", reason="r")
    assert task.state is to and task.is_final
    last = task.history[-1]
    assert last == {
        "event": to.value,
        "at": iso(T0 + 2 * MIN),
        "from": "pending",
        "by": "test",
        "reason": "r",
    }
    assert [h["event"] for h in task.history] == ["created", to.value]


ILLEGAL = [
    (a, b) for a, b in itertools.product(TaskState, TaskState) if b not in ALLOWED[a]
]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "to"), ILLEGAL, ids=[f"{a.value}->{b.value}" for a, b in ILLEGAL]
)
def test_every_illegal_transition_is_refused_and_changes_nothing(
    start: TaskState, to: TaskState
) -> None:
    task = in_state(start)
    history = list(task.history)
    with pytest.raises(IllegalTransition, match=f"{start.value} -> {to.value}"):
        task.transition(to, T0 + 5 * MIN, by="test")
    assert task.state is start and task.history == history


def test_the_table_has_exactly_the_documented_transitions() -> None:
    legal = {(a, b) for a in TaskState for b in ALLOWED[a]}
    assert legal == {(TaskState.PENDING, b) for b in FINAL}
    assert len(ILLEGAL) == 25 - 4


def test_a_transition_before_the_task_existed_is_refused() -> None:
    task = new_task()
    with pytest.raises(IllegalTransition, match="before the task was created"):
        task.transition(TaskState.CONFIRMED, T0 - 1, by="test")
    assert task.state is TaskState.PENDING


def test_illegal_transitions_are_riskstream_errors() -> None:
    assert issubclass(IllegalTransition, AlertError)
    assert issubclass(IllegalTransition, RiskstreamError)


def test_ids_come_from_the_tx_id_and_cards_are_masked_and_hashed() -> None:
    a, b = new_task("tx42"), new_task("tx42")
    assert a.task_id == b.task_id == task_id_for("tx42") == "sms-tx42"
    assert a.card == "************1111" and a.card_hash == b.card_hash
    assert "4111111111111111" not in str(a.to_json())


def test_json_round_trip_keeps_everything() -> None:
    task = new_task()
    task.sms = {"text": "hi", "send_after": iso(T0)}
    task.members.append("sms-tx2")
    task.note("sent", T0, attempts=1)
    task.transition(TaskState.DENIED, T0 + MIN, by="reply:cli", answer="no")
    task.version = 3
    again = SmsTask.from_json(task.to_json())
    assert again == task


def test_outbox_entries_round_trip_and_hold_no_number() -> None:
    entry = OutboxEntry("sms-tx1", "sms-tx1", "cu1", "en", "Did you ...?", T0)
    assert OutboxEntry.from_json(entry.to_json()) == entry
    assert "phone" not in entry.to_json() and "to" not in entry.to_json()


def test_times_round_trip() -> None:
    for ms in (0, T0, T0 + 123, 4_102_444_800_999):
        assert parse_time(iso(ms)) == ms
    assert parse_time("2026-01-01T01:00:00+01:00") == T0
    with pytest.raises(AlertError):
        parse_time("yesterday")
