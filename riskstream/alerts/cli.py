"""`riskstream sms`: SMS-confirmation tasks from the command line.

``reply`` (a customer's YES or NO: state change, labels, card blocks), ``list`` and ``show``
(tasks, numbers masked), ``expire`` (due tasks), ``send`` (drain the outbox through the
configured sender) and ``serve`` (the signed HTTP callback endpoint, with expiry and sending
on the service clock). ``--store`` is a run's output directory or ``redis://host:port/db``
(default: ``alerts.sms.store`` of the config). Times default to the store's own clock: the
event-time watermark of a store a run wrote, the wall clock for a service's store; ``--at``
sets one (ISO 8601). Errors exit with status 1 and a message, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import orjson

from riskstream.alerts.config import AlertsConfig, secret_from_env
from riskstream.alerts.directory import ContactStore, MerchantDirectory
from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.senders import build_sender
from riskstream.alerts.store import FileTaskStore, open_store
from riskstream.alerts.tasks import TaskState, iso, parse_time
from riskstream.config import load_config
from riskstream.errors import RiskstreamError

__all__ = ["sms"]

_STORE = click.option(
    "--store",
    default=None,
    help="Task store: a run's output directory or redis://HOST:PORT/DB (default: config).",
)
_CONFIG = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Config YAML."
)
_AT = click.option("--at", default=None, help="The time of the action, ISO 8601 (default: now).")
_CONTACTS = click.option(
    "--contacts", type=click.Path(dir_okay=False), help="Contact store (contacts.jsonl)."
)


@contextmanager
def _manager(
    store_spec: str | None,
    config_path: str | None,
    contacts: str | None = None,
    with_sender: bool = False,
) -> Iterator[SmsTaskManager]:
    """A manager over the store, closed (snapshots written) on the way out."""
    try:
        config = AlertsConfig.from_mapping(load_config(config_path).get("alerts", {}))
        sms = config.sms
        spec = store_spec or sms.store
        if not spec:
            raise click.ClickException("give --store (a run's output directory or redis://...)")
        if "://" not in spec and not Path(spec, "sms_journal.jsonl").exists():
            raise click.ClickException(f"{spec}: no SMS task store there")
        store = open_store(spec, fsync=sms.fsync, redis_prefix=sms.redis_prefix)
        info = store.info()
        contacts_path = contacts or sms.contacts or info.get("contacts") or None
        merchants_path = sms.merchants or info.get("merchants") or None
        directory = ContactStore.load(contacts_path) if contacts_path else ContactStore.empty()
        merchants = (
            MerchantDirectory.load(merchants_path) if merchants_path else MerchantDirectory.empty()
        )
        sender = None
        if with_sender:
            store_dir = store.path if isinstance(store, FileTaskStore) else None
            sender = build_sender(sms.sender, directory, store_dir)
        manager = SmsTaskManager(store, sms, directory, merchants, sender)
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield manager
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if manager.sender is not None:
            manager.sender.close()
        manager.store.close()


def _at(manager: SmsTaskManager, at: str | None) -> int:
    try:
        return parse_time(at) if at else manager.now()
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc


def _emit(obj: object) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE))
    sys.stdout.flush()


@click.group("sms")
def sms() -> None:
    """SMS-confirmation tasks: reply, list, show, expire, send, serve."""


@sms.command("reply")
@click.option("--task", "task_id", required=True, help="Task id (sms-<tx_id>).")
@click.option("--answer", required=True, type=click.Choice(["yes", "no"], case_sensitive=False))
@_STORE
@_AT
@_CONFIG
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of text.")
def reply(
    task_id: str,
    answer: str,
    store: str | None,
    at: str | None,
    config_path: str | None,
    as_json: bool,
) -> None:
    """Apply a customer's YES or NO: the task (and the tasks that joined it) move, a label is
    emitted per transaction, and a NO blocks the cards."""
    with _manager(store, config_path) as manager:
        before = manager.store.get(task_id)
        if before is None:
            raise click.ClickException(f"no SMS task {task_id!r}")
        outcome = manager.reply(task_id, answer.lower(), _at(manager, at), by="reply:cli")
    for task in outcome.tasks:
        change = task.history[-1]
        if as_json:
            _emit({"task_id": task.task_id, "from": change["from"], "to": task.state.value,
                   "at": change["at"]})  # fmt: skip
        else:
            click.echo(f"{task.task_id}: {change['from']} -> {task.state.value} at {change['at']}")
    for kind, record in [("label", x) for x in outcome.labels] + [
        ("blocked", x) for x in outcome.blocks
    ]:
        if as_json:
            _emit({kind: record})
        else:
            click.echo(f"{kind}: {orjson.dumps(record).decode()}")


def _summary(task_obj: dict) -> str:
    sms_part = task_obj.get("sms") or {}
    return (
        f"{task_obj['task_id']:<24} {task_obj['state']:<9} {task_obj['customer_id']:<10} "
        f"{task_obj['amount']:>12,.2f} {task_obj['currency']:<4} "
        f"lead={task_obj['lead']} to={sms_part.get('to') or '-'} "
        f"expires={task_obj['expires_at']}"
    )


@sms.command("list")
@_STORE
@_CONFIG
@click.option("--state", type=click.Choice([s.value for s in TaskState]), help="Only this state.")
@click.option("--customer", default=None, help="Only this customer.")
@click.option(
    "--limit", type=int, default=50, show_default=True, help="At most this many (0: all)."
)
@click.option("--json", "as_json", is_flag=True, help="JSON lines (full tasks) instead of text.")
def list_tasks(
    store: str | None,
    config_path: str | None,
    state: str | None,
    customer: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List tasks in creation order (numbers masked)."""
    shown = 0
    with _manager(store, config_path) as manager:
        for task in manager.store.tasks():
            if (state and task.state.value != state) or (customer and task.customer_id != customer):
                continue
            obj = task.to_json()
            if as_json:
                _emit(obj)
            else:
                click.echo(_summary(obj))
            shown += 1
            if limit and shown >= limit:
                break


@sms.command("show")
@click.option("--task", "task_id", required=True, help="Task id.")
@_STORE
@_CONFIG
def show(task_id: str, store: str | None, config_path: str | None) -> None:
    """One task with its history, as indented JSON."""
    with _manager(store, config_path) as manager:
        task = manager.store.get(task_id)
    if task is None:
        raise click.ClickException(f"no SMS task {task_id!r}")
    click.echo(orjson.dumps(task.to_json(), option=orjson.OPT_INDENT_2).decode())


@sms.command("expire")
@_STORE
@_AT
@_CONFIG
def expire(store: str | None, at: str | None, config_path: str | None) -> None:
    """Expire the pending tasks whose deadline has passed at --at (default: the store's now)."""
    with _manager(store, config_path) as manager:
        now = _at(manager, at)
        moved = manager.expire_due(now)
        if manager.store.time_mode == "event":
            manager.store.set_watermark(now)
    for task in moved:
        click.echo(f"{task.task_id}: pending -> expired at {task.history[-1]['at']}")
    click.echo(f"{len(moved)} task(s) expired at {iso(now)}", err=True)


@sms.command("send")
@_STORE
@_AT
@_CONFIG
@_CONTACTS
def send(store: str | None, at: str | None, config_path: str | None, contacts: str | None) -> None:
    """Hand the due SMS of the outbox to the configured sender (after a crash, for instance)."""
    with _manager(store, config_path, contacts, with_sender=True) as manager:
        if manager.sender is None:
            raise click.ClickException("alerts.sms.sender.kind is none: nothing sends")
        counts = manager.dispatch(_at(manager, at))
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@sms.command("serve")
@_STORE
@_CONFIG
@_CONTACTS
@click.option("--host", default=None, help="Listen address (default: alerts.callback.host).")
@click.option("--port", type=int, default=None, help="Port (default: alerts.callback.port).")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Sweep seconds.")
def serve(
    store: str | None,
    config_path: str | None,
    contacts: str | None,
    host: str | None,
    port: int | None,
    interval: float,
) -> None:
    """Serve the signed callback endpoint (/sms/receipt, /sms/reply, /sms/health); expire and
    send on the wall clock every --interval seconds. The HMAC secret comes from the
    environment variable alerts.callback.secret_env names."""
    from aiohttp import web

    from riskstream.alerts.callback import create_callback_app, sweeper

    try:
        config = AlertsConfig.from_mapping(load_config(config_path).get("alerts", {}))
        secret = secret_from_env(config.callback.secret_env, "sms serve")
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    with _manager(store, config_path, contacts, with_sender=True) as manager:
        sub = create_callback_app(manager, secret, config.callback.tolerance_s)
        sub.cleanup_ctx.append(sweeper(interval))
        root = web.Application()
        root.add_subapp("/sms", sub)
        bind_host = host or config.callback.host
        bind_port = config.callback.port if port is None else port
        click.echo(f"serving /sms on http://{bind_host}:{bind_port}", err=True)
        web.run_app(root, host=bind_host, port=bind_port, print=None)
