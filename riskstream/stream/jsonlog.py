"""Structured logs for the worker: one JSON object per line, card and phone numbers masked.

`JsonFormatter` renders ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``msg``, the record's
``extra`` fields and, for exceptions, ``exc``; every string goes through
`riskstream.alerts.masking.scrub`, so a card or phone number that reaches a log message (an
input line quoted in an error, say) leaves masked. `logging_config` is the ``dictConfig`` the
faust worker is started with (faust's own loggers included).

Examples
--------
>>> import logging
>>> record = logging.LogRecord("w", logging.INFO, "f", 1, "card %s", ("4111111111111111",), None)
>>> JsonFormatter().format(record).split('"msg":')[1]
'"card ************1111"}'
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from riskstream.alerts.masking import mask_value, scrub

__all__ = ["JsonFormatter", "logging_config"]

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line, masked (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = mask_value(value) if isinstance(value, str | dict | list) else value
        if record.exc_info:
            out["exc"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(out, default=str).decode()


def logging_config(level: str = "info") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a worker: JSON lines on stderr at ``level``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
    }
