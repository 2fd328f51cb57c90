"""HMAC-SHA256 request signatures: the callback endpoint checks them, webhooks send them.

The signed text is ``TIMESTAMP + "." + BODY`` (timestamp in whole epoch seconds, body as
sent); the signature travels as ``X-Riskstream-Signature: sha256=HEX`` next to
``X-Riskstream-Timestamp: TIMESTAMP``. `verify` compares in constant time
(`hmac.compare_digest`) and rejects a timestamp further than ``tolerance_s`` from the
receiver's clock either way; replays inside that window are the receiver's to refuse (it
remembers the signatures it accepted).

Examples
--------
>>> headers = sign_headers(b"k3y", 1767225600, b'{"id": "e1"}')
>>> headers["X-Riskstream-Signature"][:15]
'sha256=9f1bfd18'
>>> verify(b"k3y", headers["X-Riskstream-Timestamp"], headers["X-Riskstream-Signature"],
...        b'{"id": "e1"}', now_s=1767225660, tolerance_s=300)
'ok'
>>> verify(b"k3y", "1767225600", headers["X-Riskstream-Signature"], b'{"id": "e2"}',
...        now_s=1767225660, tolerance_s=300)
'bad_signature'
>>> verify(b"k3y", "1767225600", headers["X-Riskstream-Signature"], b'{"id": "e1"}',
...        now_s=1767226000, tolerance_s=300)
'stale'
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "sign_headers", "verify"]

SIGNATURE_HEADER = "X-Riskstream-Signature"
TIMESTAMP_HEADER = "X-Riskstream-Timestamp"


def sign(secret: bytes, timestamp: int | str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body``."""
    mac = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def sign_headers(secret: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    """The two headers of a signed request."""
    return {TIMESTAMP_HEADER: str(int(timestamp)), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now_s: float,
    tolerance_s: float,
) -> str:
    """``ok``, ``missing``, ``bad_timestamp``, ``stale`` or ``bad_signature``."""
    if not timestamp or not signature:
        return "missing"
    try:
        ts = int(timestamp)
    except ValueError:
        return "bad_timestamp"
    expected = sign(secret, ts, body)
    good = hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))
    if not good:
        return "bad_signature"
    if abs(now_s - ts) > tolerance_s:
        return "stale"
    return "ok"
