"""What `make demo` shows of SMS tasks: counts, example texts, and a customer's reply.

`task_overview` reads a run's task store; `example_reply` answers NO to one task with the
real ``riskstream sms reply`` command and returns what it printed. A replay ends long after
most of its tasks expired (event time moves on), so when no task is still pending at the end
of the run, the chosen task is restored, as it stood 90 seconds after its SMS went out, into
a separate live store (``restored_dir``), and the reply (at that moment) goes there; the
run's own store is never rewritten.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from riskstream.alerts.store import FileTaskStore
from riskstream.alerts.tasks import SmsTask, TaskState, iso, parse_time

__all__ = ["ReplyExample", "TaskOverview", "example_reply", "task_overview"]

_REPLY_DELAY_MS = 90_000


@dataclass
class TaskOverview:
    """Counts of a run's tasks and a few example messages (numbers masked)."""

    tasks: int = 0
    sms: int = 0
    joined: int = 0
    states: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReplyExample:
    """The command run, its output lines, and where it ran (restored or not)."""

    command: list[str]
    lines: list[str]
    store: Path
    restored: bool


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def task_overview(store_dir: Path, examples: int = 2) -> TaskOverview:
    """Counts by state and language, and one example SMS per language."""
    overview = TaskOverview()
    seen_languages: set[str] = set()
    for task in _read(store_dir / "sms_tasks.jsonl"):
        overview.tasks += 1
        overview.states[task["state"]] += 1
        if task["lead"] != task["task_id"]:
            overview.joined += 1
            continue
        sms = task.get("sms") or {}
        if sms.get("sent_at"):
            overview.sms += 1
            overview.languages[sms["language"]] += 1
            if sms["language"] not in seen_languages and len(overview.examples) < examples:
                seen_languages.add(sms["language"])
                overview.examples.append(sms)
    return overview


def _pick(tasks: list[SmsTask]) -> SmsTask | None:
    """A pending lead if any; else a sent lead, preferring one with a card and members."""
    leads = [t for t in tasks if t.is_lead and t.sms and t.sms.get("sent_at")]
    pending = [t for t in leads if t.state is TaskState.PENDING]
    if pending:
        return pending[-1]
    ranked = sorted(leads, key=lambda t: (bool(t.card_hash), len(t.members)), reverse=True)
    return ranked[0] if ranked else None


def _restore(source: FileTaskStore, lead: SmsTask, as_of: int, restored_dir: Path) -> None:
    """A new store holding ``lead`` and its members as they stood at time ``as_of``."""
    live = FileTaskStore(restored_dir, fresh=True, time_mode="event")
    members = [m for m in (source.get(i) for i in lead.members) if m is not None]
    members = [m for m in members if m.event_time <= as_of]
    for task in (lead, *members):
        task.state = TaskState.PENDING
        task.history = [h for h in task.history if parse_time(h["at"]) <= as_of and "from" not in h]
        task.version = 0
    lead.members = [m.task_id for m in members]
    live.commit([lead, *members])
    live.set_info(**source.info())
    live.set_watermark(as_of)
    live.close()


def example_reply(store_dir: Path, restored_dir: Path, answer: str = "no") -> ReplyExample | None:
    """Run ``riskstream sms reply`` on one task of the run (see the module docstring)."""
    from click.testing import CliRunner

    from riskstream.alerts.cli import sms

    source = FileTaskStore(store_dir)
    try:
        lead = _pick(list(source.tasks()))
        if lead is None:
            return None
        sent_at = parse_time(lead.sms["sent_at"]) if lead.sms else lead.event_time
        at = min(sent_at + _REPLY_DELAY_MS, lead.expires_at - 1)
        restored = lead.state is not TaskState.PENDING
        target = store_dir
        if restored:
            _restore(source, lead, at, restored_dir)
            target = restored_dir
    finally:
        source.close()
    args = ["reply", "--task", lead.task_id, "--answer", answer, "--store", str(target)]
    args += ["--at", iso(at)]
    result = CliRunner().invoke(sms, args)
    lines = result.output.splitlines()
    if result.exit_code != 0:
        lines.append(f"(exit status {result.exit_code})")
    return ReplyExample(["riskstream sms", *args], lines, target, restored)
