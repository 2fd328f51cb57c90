"""`riskstream sms`: reply, list, show, expire, send, and their errors (exit 1, no traceback)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from alerts_helpers import CONTACTS, MIN, T0
from click.testing import CliRunner

from riskstream.alerts.cli import sms
from riskstream.alerts.config import SmsConfig
from riskstream.alerts.directory import ContactStore, MerchantDirectory
from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.store import FileTaskStore
from riskstream.alerts.tasks import iso

pytest_plugins = ("alerts_fixtures",)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A store as a run leaves it: two leads (one with a member), watermark T0 + 2 min."""
    path = tmp_path / "run"
    contacts = tmp_path / "contacts.jsonl"
    contacts.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in CONTACTS.values()))
    store = FileTaskStore(path, fresh=True, time_mode="event")
    store.set_info(contacts=str(contacts), merchants="")
    m = SmsTaskManager(store, SmsConfig(), ContactStore(CONTACTS), MerchantDirectory.empty())
    m.challenge("tx1", "cu1", 4800.0, "EUR", None, "card_a", T0, T0)
    m.challenge("tx2", "cu1", 20.0, "EUR", None, "card_b", T0 + MIN, T0 + MIN)
    m.challenge("tx3", "cu2", 30.0, "EUR", None, None, T0 + MIN, T0 + MIN)
    store.set_watermark(T0 + 2 * MIN)
    store.close()
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(sms, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_reply_no_prints_the_changes_labels_and_blocks(store_dir: Path) -> None:
    code, out = invoke("reply", "--task", "sms-tx2", "--answer", "no", "--store", str(store_dir))
    assert code == 0, out
    lines = out.splitlines()
    at = iso(T0 + 2 * MIN)  # the store's event-time clock
    assert lines[:2] == [
        f"sms-tx1: pending -> denied at {at}",
        f"sms-tx2: pending -> denied at {at}",
    ]
    assert [orjson.loads(x.split(": ", 1)[1])["tx_id"] for x in lines if x.startswith("label")] == [
        "tx1", "tx2"
    ]  # fmt: skip
    assert sum(x.startswith("blocked: ") for x in lines) == 2
    labels = [orjson.loads(x) for x in (store_dir / "sms_labels.jsonl").read_bytes().splitlines()]
    assert [(lab["tx_id"], lab["is_fraud"], lab["label_time"]) for lab in labels] == [
        ("tx1", True, at), ("tx2", True, at)
    ]  # fmt: skip
    assert len((store_dir / "card_blocks.jsonl").read_bytes().splitlines()) == 2


def test_reply_yes_as_json_with_an_explicit_time(store_dir: Path) -> None:
    at = "2026-01-01T00:03:00Z"
    code, out = invoke("reply", "--task", "sms-tx3", "--answer", "YES", "--at", at, "--json",
                       "--store", str(store_dir))  # fmt: skip
    assert code == 0, out
    change, label = (orjson.loads(x) for x in out.splitlines())
    assert change == {"task_id": "sms-tx3", "from": "pending", "to": "confirmed",
                      "at": "2026-01-01T00:03:00.000Z"}  # fmt: skip
    assert label["label"]["is_fraud"] is False


def test_reply_errors_exit_1_with_a_message(store_dir: Path, tmp_path: Path) -> None:
    store = ["--store", str(store_dir)]
    assert invoke("reply", "--task", "sms-tx1", "--answer", "yes", *store)[0] == 0
    code, out = invoke("reply", "--task", "sms-tx1", "--answer", "no", *store)
    assert code == 1 and "confirmed -> denied is not allowed" in out
    code, out = invoke("reply", "--task", "sms-nope", "--answer", "no", *store)
    assert code == 1 and "no SMS task 'sms-nope'" in out
    code, out = invoke("reply", "--task", "sms-tx3", "--answer", "no", "--at", "2026-02-01", *store)
    assert code == 1 and "expired at" in out
    code, out = invoke("reply", "--task", "sms-tx1", "--answer", "maybe", *store)
    assert code == 2
    code, out = invoke("reply", "--task", "sms-tx1", "--answer", "no")
    assert code == 1 and "give --store" in out
    code, out = invoke("list", "--store", str(tmp_path / "elsewhere"))
    assert code == 1 and "no SMS task store" in out


def test_list_show_expire_and_send(store_dir: Path) -> None:
    store = ["--store", str(store_dir)]
    code, out = invoke("list", *store)
    assert code == 0 and [x.split()[0] for x in out.splitlines()] == [
        "sms-tx1",
        "sms-tx2",
        "sms-tx3",
    ]
    assert "+49*********47" in out and "+4915000847647" not in out
    code, out = invoke("list", "--state", "pending", "--customer", "cu2", "--json", *store)
    assert [orjson.loads(x)["task_id"] for x in out.splitlines()] == ["sms-tx3"]
    code, out = invoke("show", "--task", "sms-tx1", *store)
    shown = orjson.loads(out)
    assert shown["members"] == ["sms-tx2"] and shown["history"][0]["event"] == "created"
    code, out = invoke("send", *store)  # the default file sender writes sms_sent.jsonl
    assert (code, out.strip()) == (0, "sent=2 refused=0 retry=0 skipped=0")
    assert len((store_dir / "sms_sent.jsonl").read_bytes().splitlines()) == 2
    code, out = invoke("expire", "--at", "2026-01-01T00:30:00Z", *store)
    assert code == 0
    assert "sms-tx1: pending -> expired at 2026-01-01T00:15:00.000Z" in out
    assert "3 task(s) expired" in out
    tasks = [orjson.loads(x) for x in (store_dir / "sms_tasks.jsonl").read_bytes().splitlines()]
    assert {t["state"] for t in tasks} == {"expired"}
