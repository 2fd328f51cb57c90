"""The task manager over both stores (a directory and a real Redis): creation, cooldown, joins,
expiry in event time, replies with labels and card blocks, receipts, conflicts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alerts_helpers import MIN, T0

from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.store import StoreConflict
from riskstream.alerts.tasks import IllegalTransition, TaskState, iso
from riskstream.errors import AlertError

pytest_plugins = ("alerts_fixtures",)


Make = Callable[..., SmsTaskManager]


def challenge(m: SmsTaskManager, tx: str, t: int, customer: str = "cu1", **kw: object):
    args = {"amount": 4800.0, "currency": "EUR", "merchant_id": "me1", "card_id": "card_a"}
    args.update(kw)
    return m.challenge(tx, customer, event_time=t, now=t, **args)  # type: ignore[arg-type]


def states(m: SmsTaskManager) -> dict[str, str]:
    return {t.task_id: t.state.value for t in m.store.tasks()}


def test_a_challenge_creates_a_pending_lead_with_its_sms_in_the_outbox(make_manager: Make) -> None:
    m = make_manager()
    task = challenge(m, "tx1", T0)
    assert (task.task_id, task.state, task.is_lead) == ("sms-tx1", TaskState.PENDING, True)
    assert task.expires_at == T0 + 15 * MIN
    assert task.sms["text"] == "Did you just pay 4,800.00 EUR at Shop X? Reply YES or NO."
    assert task.sms["to"] == "+49*********47"
    [entry] = m.store.outbox()
    assert (entry.key, entry.customer_id, entry.not_before) == ("sms-tx1", "cu1", T0)


def test_creating_twice_is_idempotent(make_manager: Make) -> None:
    m = make_manager()
    first = challenge(m, "tx1", T0)
    again = challenge(m, "tx1", T0 + MIN)
    assert again.task_id == first.task_id and len(list(m.store.tasks())) == 1
    assert len(m.store.outbox()) == 1


def test_chinese_customers_get_the_chinese_text(make_manager: Make) -> None:
    m = make_manager()
    task = challenge(m, "tx1", T0, customer="cu2", currency="CNY", amount=12800.0)
    assert task.sms["text"] == "您刚才是否在Shop X支付了12,800.00 元？请回复 YES（是）或 NO（否）。"
    assert task.sms["language"] == "zh"


def test_inside_the_cooldown_challenges_join_the_open_task(make_manager: Make) -> None:
    m = make_manager(cooldown_minutes=30, expiry_minutes=15)
    challenge(m, "tx1", T0)
    joined = challenge(m, "tx2", T0 + 5 * MIN)
    other = challenge(m, "tx3", T0 + 6 * MIN, customer="cu3")
    assert joined.lead == "sms-tx1" and not joined.is_lead
    assert joined.expires_at == T0 + 15 * MIN
    assert other.is_lead  # the cooldown is per customer
    lead = m.store.get("sms-tx1")
    assert lead.members == ["sms-tx2"] and lead.history[-1]["event"] == "joined"
    assert [e.key for e in m.store.outbox()] == ["sms-tx1", "sms-tx3"]  # one SMS per customer


def test_after_the_cooldown_a_new_sms_goes_out(make_manager: Make) -> None:
    m = make_manager(cooldown_minutes=10, expiry_minutes=60)
    challenge(m, "tx1", T0)
    late = challenge(m, "tx2", T0 + 11 * MIN)
    assert late.is_lead and late.sms["send_after"] == iso(T0 + 11 * MIN)
    assert len(m.store.outbox()) == 2


def test_an_answered_task_inside_the_cooldown_defers_the_next_sms(make_manager: Make) -> None:
    m = make_manager(cooldown_minutes=30, expiry_minutes=15)
    challenge(m, "tx1", T0)
    m.reply("sms-tx1", "yes", T0 + 2 * MIN, by="test")
    deferred = challenge(m, "tx2", T0 + 4 * MIN)
    assert deferred.is_lead and deferred.state is TaskState.PENDING
    assert deferred.sms["send_after"] == iso(T0 + 30 * MIN)  # not before the cooldown ends
    assert deferred.expires_at == T0 + 45 * MIN
    counts = m.dispatch(T0 + 29 * MIN)  # tx1 was answered before its SMS left: skipped
    assert (counts["sent"], counts["skipped"]) == (0, 1)
    assert m.dispatch(T0 + 30 * MIN)["sent"] == 1
    assert m.store.get("sms-tx2").sms["sent_at"] == iso(T0 + 30 * MIN)


def test_expiry_runs_on_event_time_with_the_deadline_as_its_time(make_manager: Make) -> None:
    m = make_manager(cooldown_minutes=5, expiry_minutes=15)
    challenge(m, "tx1", T0)
    challenge(m, "tx2", T0 + MIN)  # joins
    assert m.expire_due(T0 + 15 * MIN - 1) == []
    moved = m.expire_due(T0 + 40 * MIN)
    assert [t.task_id for t in moved] == ["sms-tx1", "sms-tx2"]
    for task in moved:
        assert task.state is TaskState.EXPIRED
        assert task.history[-1]["at"] == iso(T0 + 15 * MIN)  # the deadline, not the sweep time
    assert m.store.due(T0 + 10**9) == []


def test_a_challenge_after_the_deadline_never_joins_the_expired_task(make_manager: Make) -> None:
    # no sweep ran in between: the customer's lead expires on the spot, at its deadline
    m = make_manager(cooldown_minutes=60, expiry_minutes=15)
    challenge(m, "tx1", T0)
    task = challenge(m, "tx2", T0 + 20 * MIN)
    assert task.is_lead  # deferred to the end of the cooldown, not joined
    assert task.sms["send_after"] == iso(T0 + 60 * MIN)
    first = m.store.get("sms-tx1")
    assert first.state is TaskState.EXPIRED and first.history[-1]["at"] == iso(T0 + 15 * MIN)


def test_replies_label_every_transaction_and_no_blocks_the_cards(make_manager: Make) -> None:
    m = make_manager()
    challenge(m, "tx1", T0, card_id="4111111111111111")
    challenge(m, "tx2", T0 + MIN, card_id="card_b")
    challenge(m, "tx3", T0 + 2 * MIN, card_id=None)
    outcome = m.reply("sms-tx2", "NO", T0 + 3 * MIN, by="test")  # a member: applies to the lead
    assert [t.task_id for t in outcome.tasks] == ["sms-tx1", "sms-tx2", "sms-tx3"]
    assert set(states(m).values()) == {"denied"}
    assert outcome.labels == [
        {"tx_id": f"tx{i}", "is_fraud": True, "label_time": iso(T0 + 3 * MIN), "source": "sms",
         "task_id": f"sms-tx{i}"}
        for i in (1, 2, 3)
    ]  # fmt: skip
    kinds = [(b["kind"], b["card"]) for b in outcome.blocks]
    assert kinds == [("card", "************1111"), ("card", "card_b"), ("customer", None)]
    assert m.store.labels() == outcome.labels and m.store.blocks() == outcome.blocks


def test_yes_confirms_and_labels_genuine_without_blocking(make_manager: Make) -> None:
    m = make_manager()
    challenge(m, "tx1", T0)
    outcome = m.reply("sms-tx1", "yes", T0 + MIN, by="test")
    assert outcome.tasks[0].state is TaskState.CONFIRMED
    assert [lab["is_fraud"] for lab in outcome.labels] == [False] and outcome.blocks == []


def test_late_or_repeated_replies_are_illegal(make_manager: Make) -> None:
    m = make_manager(expiry_minutes=15)
    challenge(m, "tx1", T0)
    with pytest.raises(IllegalTransition, match="expired"):
        m.reply("sms-tx1", "yes", T0 + 16 * MIN, by="test")
    assert m.store.get("sms-tx1").state is TaskState.EXPIRED  # and it stays so
    challenge(m, "tx9", T0, customer="cu3")
    m.reply("sms-tx9", "yes", T0 + MIN, by="test")
    with pytest.raises(IllegalTransition, match="confirmed -> denied"):
        m.reply("sms-tx9", "no", T0 + 2 * MIN, by="test")
    assert m.store.labels()[-1]["is_fraud"] is False and len(m.store.labels()) == 1


def test_bad_answers_and_unknown_tasks(make_manager: Make) -> None:
    m = make_manager()
    with pytest.raises(AlertError, match="no SMS task"):
        m.reply("sms-nope", "yes", T0, by="test")
    challenge(m, "tx1", T0)
    with pytest.raises(AlertError, match="yes or no"):
        m.reply("sms-tx1", "maybe", T0, by="test")


def test_reply_by_phone_number_finds_the_customers_latest_task(make_manager: Make) -> None:
    m = make_manager()
    challenge(m, "tx1", T0, customer="cu3")
    outcome = m.reply_from_phone("+31 6 0850 1968", "no", T0 + MIN, by="test")
    assert outcome.tasks[0].task_id == "sms-tx1"
    with pytest.raises(AlertError, match="no SMS task"):
        m.reply_from_phone("+10000000000", "no", T0 + MIN, by="test")


def test_dispatch_sends_once_and_records_the_send(make_manager: Make) -> None:
    m = make_manager()
    challenge(m, "tx1", T0)
    assert m.dispatch(T0 - 1)["sent"] == 0  # not due yet
    assert m.dispatch(T0) == {"sent": 1, "refused": 0, "retry": 0, "skipped": 0}
    assert m.dispatch(T0 + MIN)["sent"] == 0 and m.store.outbox() == []
    task = m.store.get("sms-tx1")
    assert task.sms["delivery"] == "sent" and task.sms["sent_at"] == iso(T0)
    assert [h["event"] for h in task.history] == ["created", "sent"]


def test_no_contact_fails_the_task_and_an_answered_task_is_not_sent(make_manager: Make) -> None:
    m = make_manager()
    challenge(m, "tx1", T0, customer="cu-unknown")
    challenge(m, "tx2", T0, customer="cu3")
    m.reply("sms-tx2", "yes", T0, by="test")  # answered before the SMS left (an analyst)
    assert m.dispatch(T0) == {"sent": 0, "refused": 1, "retry": 0, "skipped": 1}
    failed = m.store.get("sms-tx1")
    assert failed.state is TaskState.FAILED and failed.history[-1]["reason"] == "no_contact"


def test_receipts_note_delivery_or_fail_the_task(make_manager: Make) -> None:
    m = make_manager()
    challenge(m, "tx1", T0)
    challenge(m, "tx2", T0, customer="cu3")
    m.dispatch(T0)
    assert m.receipt("sms-tx1", "delivered", T0 + 1000).sms["delivery"] == "delivered"
    assert m.store.get("sms-tx1").state is TaskState.PENDING
    assert m.receipt("sms-tx2", "undeliverable", T0 + 1000).state is TaskState.FAILED
    with pytest.raises(AlertError, match="unknown delivery status"):
        m.receipt("sms-tx1", "teleported", T0 + 1000)


def test_a_stale_copy_cannot_overwrite_a_newer_task(make_manager: Make) -> None:
    m = make_manager()
    challenge(m, "tx1", T0)
    stale = m.store.get("sms-tx1")
    m.reply("sms-tx1", "no", T0 + MIN, by="test")
    stale.transition(TaskState.CONFIRMED, T0 + MIN, by="stale writer")
    with pytest.raises(StoreConflict):
        m.store.commit([stale])
    assert m.store.get("sms-tx1").state is TaskState.DENIED


def test_the_service_clock_is_passed_in(make_manager: Make) -> None:
    now = [T0]
    m = make_manager(clock=lambda: now[0])
    m.store.time_mode = "clock"
    challenge(m, "tx1", T0)
    assert m.now() == T0
    now[0] = T0 + 20 * MIN
    assert [t.task_id for t in m.expire_due()] == ["sms-tx1"]
