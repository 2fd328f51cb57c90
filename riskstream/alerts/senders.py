"""SMS senders: the pluggable gateway interface, the HTTP webhook sender and the file sender.

A sender is the only code that sees a customer's full phone number: it receives an
`SmsMessage` (customer id, text, idempotency key; no number), looks the number up in the
`ContactStore`, and hands both to its gateway. It answers with a `SendResult`:
``accepted`` (the gateway took it), ``refused`` (final: the task fails) or ``retry``
(transient: the SMS stays in the outbox for the next round). What a sender logs or writes
carries the masked number only.

- `WebhookSender` POSTs ``{"to", "text", "reference", "idempotency_key"}`` to the gateway URL
  with an ``Idempotency-Key`` header (retries, backoff with seeded jitter, timeouts: see
  `riskstream.alerts.http`); a bearer token, if any, comes from an environment variable.
- `FileSender` appends one line per message to ``sms_sent.jsonl`` (masked number), once per
  idempotency key even when asked twice: the embedded mode's gateway.

New gateways subclass `Gateway` and register a factory with `register_sender`.

Examples
--------
>>> import tempfile, pathlib
>>> from riskstream.alerts.directory import ContactStore
>>> out = pathlib.Path(tempfile.mkdtemp()) / "sms_sent.jsonl"
>>> sender = FileSender(out, ContactStore({"cu1": {"phone": "+4915000847647"}}))
>>> msg = SmsMessage("sms-tx1", "sms-tx1", "cu1", "en", "Did you just pay ...?")
>>> sender.send(msg, 0).status, sender.send(msg, 0).status
('accepted', 'accepted')
>>> len(out.read_text().splitlines()), "+49*********47" in out.read_text()
(1, True)
>>> sender.send(SmsMessage("k2", "sms-tx2", "cu9", "en", "..."), 0).status
'refused'
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from riskstream.alerts.config import SenderConfig
from riskstream.alerts.directory import ContactStore
from riskstream.alerts.http import RetryingPoster
from riskstream.alerts.masking import get_logger, mask_phone
from riskstream.alerts.tasks import iso
from riskstream.errors import AlertError

__all__ = [
    "FileSender",
    "Gateway",
    "SendResult",
    "SmsMessage",
    "WebhookSender",
    "build_sender",
    "register_sender",
]

log = get_logger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    """An SMS to send: no phone number in it, the sender resolves ``customer_id``."""

    key: str
    task_id: str
    customer_id: str
    language: str
    text: str


@dataclass(frozen=True)
class SendResult:
    """``status`` is ``accepted``, ``refused`` or ``retry``; ``gateway_id`` when accepted."""

    status: str
    detail: str = ""
    gateway_id: str | None = None
    attempts: int = 1


class Gateway(ABC):
    """The interface every SMS sender implements."""

    @abstractmethod
    def send(self, message: SmsMessage, now: int) -> SendResult:
        """Hand ``message`` to the gateway at time ``now`` (epoch ms)."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections or files."""


class FileSender(Gateway):
    """Writes each message once (per idempotency key) to a JSON-lines file, number masked.

    Parameters
    ----------
    path
        The file, usually ``sms_sent.jsonl`` in the task store.
    contacts
        The contact store (a customer without a number is refused: ``no_contact``).
    """

    def __init__(self, path: str | Path, contacts: ContactStore) -> None:
        self.path = Path(path)
        self.contacts = contacts
        self._seen: set[str] = set()
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                if line.strip():
                    self._seen.add(orjson.loads(line)["key"])

    def send(self, message: SmsMessage, now: int) -> SendResult:
        phone = self.contacts.phone(message.customer_id)
        if phone is None:
            return SendResult("refused", "no_contact")
        if message.key not in self._seen:
            record = {
                "key": message.key,
                "task_id": message.task_id,
                "to": mask_phone(phone),
                "language": message.language,
                "text": message.text,
                "sent_at": iso(now),
            }
            with open(self.path, "ab") as handle:
                handle.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
            self._seen.add(message.key)
        return SendResult("accepted", gateway_id=message.key)


class WebhookSender(Gateway):
    """Sends through an HTTP SMS gateway (see the module docstring).

    Parameters
    ----------
    url
        The gateway's send endpoint.
    contacts
        The contact store.
    poster
        The retrying HTTP client (timeouts, attempts, backoff, jitter seed).
    token
        A bearer token for the gateway, if it wants one (from an environment variable).
    """

    def __init__(
        self,
        url: str,
        contacts: ContactStore,
        poster: RetryingPoster | None = None,
        token: str | None = None,
    ) -> None:
        self.url = url
        self.contacts = contacts
        self.poster = poster or RetryingPoster()
        self.token = token

    def send(self, message: SmsMessage, now: int) -> SendResult:
        phone = self.contacts.phone(message.customer_id)
        if phone is None:
            return SendResult("refused", "no_contact")
        body = orjson.dumps(
            {
                "to": phone,
                "text": message.text,
                "reference": message.task_id,
                "idempotency_key": message.key,
            }
        )
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        result = self.poster.post(self.url, body, message.key, headers)
        if result.outcome == "ok":
            reply = result.json()
            gateway_id = reply.get("id") or reply.get("message_id") or message.key
            log.info("sms %s to %s accepted", message.key, mask_phone(phone))
            return SendResult("accepted", gateway_id=str(gateway_id), attempts=result.attempts)
        log.warning(
            "sms %s to %s: %s (%s)", message.key, mask_phone(phone), result.outcome, result.detail
        )
        status = "refused" if result.outcome == "refused" else "retry"
        return SendResult(status, result.detail, attempts=result.attempts)


_FACTORIES: dict[str, Callable[..., Gateway | None]] = {}


def register_sender(kind: str, factory: Callable[..., Gateway | None]) -> None:
    """Make ``sender.kind: KIND`` build ``factory(config, contacts, store_dir)``."""
    _FACTORIES[kind] = factory


def _file(config: SenderConfig, contacts: ContactStore, store_dir: Path | None) -> Gateway:
    if store_dir is None:
        raise AlertError("the file sender needs a directory task store")
    return FileSender(store_dir / "sms_sent.jsonl", contacts)


def _webhook(config: SenderConfig, contacts: ContactStore, store_dir: Path | None) -> Gateway:
    if not config.url:
        raise AlertError("alerts.sms.sender.url is required for the webhook sender")
    poster = RetryingPoster(
        config.timeout_s,
        config.max_attempts,
        config.backoff_base_s,
        config.backoff_max_s,
        config.seed,
    )
    token = os.environ.get(config.token_env) if config.token_env else None
    return WebhookSender(config.url, contacts, poster, token or None)


register_sender("file", _file)
register_sender("webhook", _webhook)
register_sender("none", lambda *_: None)


def build_sender(
    config: SenderConfig, contacts: ContactStore, store_dir: Path | None, **_: Any
) -> Gateway | None:
    """The sender ``config.kind`` names (None for ``none``: SMS wait in the outbox)."""
    try:
        factory = _FACTORIES[config.kind]
    except KeyError:
        raise AlertError(
            f"unknown SMS sender kind {config.kind!r} (known: {', '.join(sorted(_FACTORIES))})"
        ) from None
    return factory(config, contacts, store_dir)
