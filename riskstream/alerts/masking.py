"""Masking of phone and card numbers: in alert records, task files, sent-SMS files and logs.

Only a sender resolves a customer's full phone number (from the contact store), and only to
hand it to the gateway; everything written or logged goes through these functions first.
A phone number keeps its ``+``, two leading digits and two trailing ones; a card number
(12-19 digits, spaces or dashes allowed) keeps its last four. A card *token* such as
``card_bb1a85e7`` is not a number and is kept as it is (the fraud team needs it).

Cost: one regular-expression pass per string; applied to alert rows only (review and above)
and to log records of the ``riskstream.alerts`` loggers, never to allowed transactions.

Examples
--------
>>> mask_phone("+4915000847647")
'+49*********47'
>>> mask_card("4111 1111 1111 1111"), mask_card("card_bb1a85e7")
('************1111', 'card_bb1a85e7')
>>> scrub("sent to +31608501968 for card 4111-1111-1111-1111")
'sent to +31*******68 for card ************1111'
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = [
    "MaskingFilter",
    "get_logger",
    "looks_like_card",
    "mask_card",
    "mask_phone",
    "mask_value",
    "scrub",
]

# A phone number in E.164 (``+`` and 7-15 digits), allowing single spaces or dashes inside.
_PHONE = re.compile(r"\+\d(?:[ -]?\d){6,14}(?!\d)")
# A card number: 12-19 digits, possibly grouped by single spaces or dashes, not inside a
# longer run of digits or letters (tx ids such as tx00000000003 are preceded by letters).
_CARD = re.compile(r"(?<![\w+])\d(?:[ -]?\d){11,18}(?![\w])")


def mask_phone(phone: str) -> str:
    """``+``, the two first and the two last digits; stars in between (length kept)."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 4:
        return "*" * len(digits)
    return "+" + digits[:2] + "*" * (len(digits) - 4) + digits[-2:]


def looks_like_card(value: str) -> bool:
    """True when ``value`` holds 12 or more digits in total (a PAN, not a token).

    >>> looks_like_card("4111111111111111"), looks_like_card("card_25b43a33")
    (True, False)
    """
    return sum(ch.isdigit() for ch in value) >= 12


def mask_card(card: str) -> str:
    """A card number reduced to its last four digits; a token (few digits) kept as it is."""
    if not looks_like_card(card):
        return card
    digits = re.sub(r"\D", "", card)
    return "*" * (len(digits) - 4) + digits[-4:]


def scrub(text: str) -> str:
    """Mask every phone number and card number found in free text."""
    text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return _CARD.sub(lambda m: mask_card(m.group(0)), text)


def mask_value(value: Any) -> Any:
    """`scrub` applied to strings inside a JSON-like value (dicts, lists), the rest unchanged.

    >>> mask_value({"card_id": "4111111111111111", "amount": 12.5, "ids": ["+4915000847647"]})
    {'card_id': '************1111', 'amount': 12.5, 'ids': ['+49*********47']}
    """
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v) for v in value]
    return value


class MaskingFilter(logging.Filter):
    """A logging filter that masks numbers in the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = scrub(str(record.msg))
        return True


_FILTER = MaskingFilter()


def get_logger(name: str) -> logging.Logger:
    """The module logger, with the masking filter attached (once)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
