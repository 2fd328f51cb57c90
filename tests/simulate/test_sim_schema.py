"""Every line of every file follows the documented format."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from riskstream.simulate import catalog as C

REQUIRED = {"tx_id", "customer_id", "amount", "currency", "timestamp"}
OPTIONAL = {
    "card_id",
    "merchant_id",
    "mcc",
    "channel",
    "country",
    "lat",
    "lon",
    "device_id",
    "ip",
    "payee_id",
    "type",
}
TS = re.compile(rb'"timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"')
AMOUNT = re.compile(rb'"amount":(\d+\.\d\d)[,}]')
IDS = {
    "tx_id": re.compile(r"tx\d{11}"),
    "customer_id": re.compile(r"cu\d{6}"),
    "card_id": re.compile(r"card_[0-9a-f]{8}"),
    "merchant_id": re.compile(r"me\d{6}"),
    "device_id": re.compile(r"dev_[0-9a-f]{8}"),
    "payee_id": re.compile(r"py\d{7}"),
    "mcc": re.compile(r"\d{4}"),
    "currency": re.compile(r"[A-Z]{3}"),
    "country": re.compile(r"[A-Z]{2}"),
}


def _ts(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def test_every_transaction_is_valid(written) -> None:
    start = _ts("2026-01-01T00:00:00.000Z")
    end = start + dt.timedelta(days=30)
    seen: set[str] = set()
    for line, tx in zip(written.lines, written.tx, strict=True):
        keys = set(tx)
        assert keys >= REQUIRED, line
        assert keys <= REQUIRED | OPTIONAL, line
        assert None not in tx.values(), line
        for key, pattern in IDS.items():
            if key in tx:
                assert isinstance(tx[key], str) and pattern.fullmatch(tx[key]), (key, line)
        assert tx["tx_id"] not in seen
        seen.add(tx["tx_id"])
        assert isinstance(tx["amount"], (int, float)) and tx["amount"] >= 0
        assert AMOUNT.search(line), line  # exactly two decimals in the text
        assert start <= _ts(tx["timestamp"]) < end
        assert tx["channel"] in C.CHANNELS and tx["type"] in C.TYPES
        assert tx["currency"] in C.CURRENCY_CODES and tx["country"] in C.COUNTRY_CODES
        present = tx["channel"] in ("pos", "atm")
        assert ("lat" in tx) == present and ("lon" in tx) == present, line
        if present:
            assert -90 <= tx["lat"] <= 90 and -180 <= tx["lon"] <= 180
            assert "merchant_id" in tx and "card_id" in tx
        if "device_id" in tx or "ip" in tx:
            assert tx["channel"] in ("ecom", "transfer"), line
        if "ip" in tx:
            parts = [int(p) for p in tx["ip"].split(".")]
            assert len(parts) == 4 and all(0 <= p <= 255 for p in parts) and parts[0] > 0
        if "payee_id" in tx:
            assert tx["channel"] in ("transfer", "deposit"), line
        if tx["channel"] == "transfer":
            assert tx["type"] in ("transfer", "deposit") and "payee_id" in tx
        if tx["type"] == "withdrawal":
            assert tx["channel"] == "atm"
        if tx["channel"] in ("pos", "ecom"):
            assert tx["type"] in ("purchase", "refund") and "mcc" in tx


def test_time_ordered_and_numbered(written) -> None:
    stamps = [m.group(1) for m in TS.finditer(written.raw)]
    assert len(stamps) == len(written.lines)
    assert stamps == sorted(stamps)  # fixed-width ISO strings sort like times
    assert [t["tx_id"] for t in written.tx] == [f"tx{i:011d}" for i in range(len(written.tx))]


def test_mostly_home_currency(written) -> None:
    eur = sum(t["currency"] == "EUR" for t in written.tx) / len(written.tx)
    assert 0.85 < eur < 0.99


def test_nothing_phone_or_pan_like(written) -> None:
    text = written.raw.decode()
    assert "+" not in text
    assert not re.search(r"\d{13,}", text)  # no PAN-like digit runs (tx ids have 11 digits)
    phones = {c["phone"].lstrip("+") for c in written.contacts}
    assert all(p not in text for p in phones)
    assert "phone" not in text


def test_contacts_and_merchants(written) -> None:
    e164 = re.compile(r"\+[1-9]\d{7,14}")
    assert len(written.contacts) == 300
    assert len({c["phone"] for c in written.contacts}) == 300
    for c in written.contacts:
        assert set(c) == {"customer_id", "phone", "language", "display_name"}
        assert e164.fullmatch(c["phone"]) and c["language"] in ("en", "zh") and c["display_name"]
    customers = {c["customer_id"] for c in written.contacts}
    assert {t["customer_id"] for t in written.tx} <= customers
    merchants = {m["merchant_id"]: m for m in written.merchants}
    for m in written.merchants:
        assert set(m) == {"merchant_id", "name", "mcc", "kind", "city", "country", "lat", "lon"}
        assert m["kind"] in ("store", "atm", "online") and IDS["mcc"].fullmatch(m["mcc"])
    for t in written.tx:
        if "merchant_id" in t:
            m = merchants[t["merchant_id"]]
            assert m["mcc"] == t["mcc"]
            if t["channel"] in ("pos", "atm"):
                assert (m["lat"], m["lon"]) == pytest.approx((t["lat"], t["lon"]), abs=1e-5)


def test_manifest_counts_match_files(written) -> None:
    m = written.manifest
    assert m["counts"]["transactions"] == len(written.tx)
    assert m["counts"]["labels"] == len(written.labels)
    assert m["parameters"] == {
        "customers": 300,
        "days": 30,
        "seed": 11,
        "start": "2026-01-01",
        "fraud_rate": 0.005,
    }
    by_channel: dict[str, int] = {}
    for t in written.tx:
        by_channel[t["channel"]] = by_channel.get(t["channel"], 0) + 1
    assert {k: v for k, v in m["counts"]["by_channel"].items() if v} == by_channel
    frauds = sum(label["is_fraud"] for label in written.labels)
    assert m["counts"]["fraud_transactions"] == frauds
    assert m["fraud_rate"] == pytest.approx(frauds / len(written.tx), abs=1e-6)
