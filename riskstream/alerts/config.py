"""The ``alerts`` section of the engine config, read once into typed settings with defaults.

Every key is optional: `AlertsConfig.from_mapping` fills in the defaults below, so a config
without an ``alerts`` section still builds. Secrets never live in the config: it names the
environment variables that hold them (``secret_env``, ``token_env``).

Examples
--------
>>> cfg = AlertsConfig.from_mapping({"sms": {"cooldown_minutes": 10}})
>>> cfg.sms.cooldown_ms, cfg.sms.expiry_ms, cfg.sms.sender.kind, cfg.decisions
(600000, 900000, 'file', ('review', 'challenge', 'block'))
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from riskstream.decisions import DECISION_CODES
from riskstream.errors import ConfigError

__all__ = ["AlertsConfig", "CallbackConfig", "SenderConfig", "SmsConfig", "secret_from_env"]

_MINUTE_MS = 60_000


@dataclass(frozen=True)
class SenderConfig:
    """How SMS leave: ``file`` (``sms_sent.jsonl`` in the store), ``webhook`` or ``none``."""

    kind: str = "file"
    url: str | None = None
    timeout_s: float = 5.0
    max_attempts: int = 5
    backoff_base_s: float = 0.2
    backoff_max_s: float = 10.0
    seed: int = 0
    token_env: str | None = "RISKSTREAM_SMS_GATEWAY_TOKEN"


@dataclass(frozen=True)
class SmsConfig:
    """SMS-confirmation tasks: cooldown, expiry, language, contact store, task store."""

    cooldown_minutes: float = 30.0
    expiry_minutes: float = 15.0
    default_language: str = "en"
    contacts: str | None = None
    merchants: str | None = None
    store: str | None = None
    redis_prefix: str = "rs:{sms}:"
    fsync: bool = False
    sender: SenderConfig = field(default_factory=SenderConfig)

    @property
    def cooldown_ms(self) -> int:
        return round(self.cooldown_minutes * _MINUTE_MS)

    @property
    def expiry_ms(self) -> int:
        return round(self.expiry_minutes * _MINUTE_MS)


@dataclass(frozen=True)
class CallbackConfig:
    """The HTTP callback endpoint for delivery receipts and replies (HMAC-SHA256 signed)."""

    secret_env: str = "RISKSTREAM_SMS_CALLBACK_SECRET"
    tolerance_s: float = 300.0
    host: str = "127.0.0.1"
    port: int = 8088


@dataclass(frozen=True)
class AlertsConfig:
    """The whole ``alerts`` section: which decisions alert, where alerts go, SMS settings."""

    decisions: tuple[str, ...] = ("review", "challenge", "block")
    sinks: tuple[Mapping[str, Any], ...] = ({"kind": "file", "path": "alerts.jsonl"},)
    sms: SmsConfig = field(default_factory=SmsConfig)
    callback: CallbackConfig = field(default_factory=CallbackConfig)
    deny_list: str | None = None  # read by the Engine (riskstream.alerts.denylist)

    @property
    def alert_codes(self) -> frozenset[int]:
        return frozenset(DECISION_CODES[d] for d in self.decisions)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any] | None) -> AlertsConfig:
        """Settings from ``config["alerts"]``; unknown keys are an error (typos show)."""
        section = dict(section or {})
        try:
            sms = dict(section.pop("sms", None) or {})
            sender = SenderConfig(**(sms.pop("sender", None) or {}))
            decisions = tuple(section.pop("decisions", cls.decisions))
            unknown = set(decisions) - DECISION_CODES.keys()
            if unknown:
                raise ConfigError(f"alerts.decisions: unknown decisions {sorted(unknown)}")
            sinks = tuple(dict(s) for s in section.pop("sinks", cls.sinks))
            return cls(
                decisions=decisions,
                sinks=sinks,
                sms=SmsConfig(**sms, sender=sender),
                callback=CallbackConfig(**(section.pop("callback", None) or {})),
                **section,
            )
        except TypeError as exc:
            raise ConfigError(f"alerts config: {exc}") from exc


def secret_from_env(name: str | None, what: str) -> bytes:
    """The secret held by environment variable ``name``; a `ConfigError` when it is unset."""
    value = os.environ.get(name or "")
    if not value:
        raise ConfigError(
            f"{what}: set the environment variable {name} (the secret is never read from a file)"
        )
    return value.encode("utf-8")
