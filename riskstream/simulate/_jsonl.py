"""The transactions.jsonl formatter: a numba kernel that writes JSON lines straight into a byte
buffer from the columns (no Python object per row).

Line layout, keys always in this order, optional keys only when they apply::

    {"tx_id":"tx00000000042","timestamp":"2026-01-05T08:15:30.123Z","customer_id":"cu000123",
     "amount":12.30,"currency":"EUR","type":"purchase","channel":"pos","card_id":"card_1f0c9a3e",
     "merchant_id":"me000381","mcc":"5411","country":"DE","lat":52.51937,"lon":13.40107}

Numbers: ``amount`` always has two decimals; ``lat``/``lon`` always five (about 1 m).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["TOKEN_MULT", "format_chunk", "token"]

#: Card and device tokens are ``(index * TOKEN_MULT + salt) mod 2**32`` in hex: a bijection
#: (the multiplier is odd), so tokens are unique, and they reveal nothing about card numbers.
TOKEN_MULT = 0x9E3779B1
#: Longest possible line in bytes (every field present, every integer at its int64 maximum):
#: the kernel does no bounds checks, so buffers hold this much per row.
MAX_LINE = 448


def token(index: int, salt: int) -> str:
    """The 8-hex-digit opaque token of a card or device index.

    >>> token(0, 0), token(1, 0)
    ('00000000', '9e3779b1')
    """
    return f"{(index * TOKEN_MULT + salt) & 0xFFFFFFFF:08x}"


def _b(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("ascii"), dtype=np.uint8).copy()


K_TX = _b('{"tx_id":"tx')
K_TS = _b('","timestamp":"')
K_CUST = _b('","customer_id":"cu')
K_AMOUNT = _b('","amount":')
K_CUR = _b(',"currency":"')
K_TYPE = _b('","type":"')
K_CHAN = _b('","channel":"')
K_CARD = _b(',"card_id":"card_')
K_MERCH = _b(',"merchant_id":"me')
K_MCC = _b(',"mcc":"')
K_COUNTRY = _b(',"country":"')
K_LAT = _b(',"lat":')
K_LON = _b(',"lon":')
K_DEV = _b(',"device_id":"dev_')
K_IP = _b(',"ip":"')
K_PAYEE = _b(',"payee_id":"py')
HEX = _b("0123456789abcdef")


@nb.njit(cache=True)
def _put(buf, pos, src):
    for j in range(src.shape[0]):
        buf[pos + j] = src[j]
    return pos + src.shape[0]


@nb.njit(cache=True)
def _put_row(buf, pos, table, lens, row):
    for j in range(lens[row]):
        buf[pos + j] = table[row, j]
    return pos + lens[row]


@nb.njit(cache=True)
def _put_uint(buf, pos, value, width):
    """Decimal digits of a non-negative integer, zero-padded to ``width``."""
    n = 1
    v = value // 10
    while v > 0:
        n += 1
        v //= 10
    if n < width:
        n = width
    v = value
    for j in range(n - 1, -1, -1):
        buf[pos + j] = 48 + v % 10
        v //= 10
    return pos + n


@nb.njit(cache=True)
def _put_fixed(buf, pos, value, decimals):
    """A signed integer in units of 10**-decimals as a decimal number with that many decimals."""
    if value < 0:
        buf[pos] = 45  # '-'
        pos += 1
        value = -value
    scale = 1
    for _ in range(decimals):
        scale *= 10
    pos = _put_uint(buf, pos, value // scale, 1)
    buf[pos] = 46  # '.'
    return _put_uint(buf, pos + 1, value % scale, decimals)


@nb.njit(cache=True)
def _put_hex8(buf, pos, index, salt):
    v = (np.uint64(index) * np.uint64(TOKEN_MULT) + np.uint64(salt)) & np.uint64(0xFFFFFFFF)
    for j in range(7, -1, -1):
        buf[pos + j] = HEX[v & np.uint64(15)]
        v >>= np.uint64(4)
    return pos + 8


@nb.njit(cache=True)
def _put_ts(buf, pos, ms):
    """ISO 8601 UTC with milliseconds: 2026-01-05T08:15:30.123Z (civil-from-days, H. Hinnant)."""
    days = ms // 86_400_000
    rem = ms - days * 86_400_000
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    pos = _put_uint(buf, pos, y, 4)
    buf[pos] = 45
    pos = _put_uint(buf, pos + 1, m, 2)
    buf[pos] = 45
    pos = _put_uint(buf, pos + 1, d, 2)
    buf[pos] = 84  # 'T'
    pos = _put_uint(buf, pos + 1, rem // 3_600_000, 2)
    buf[pos] = 58
    pos = _put_uint(buf, pos + 1, (rem // 60_000) % 60, 2)
    buf[pos] = 58
    pos = _put_uint(buf, pos + 1, (rem // 1000) % 60, 2)
    buf[pos] = 46
    pos = _put_uint(buf, pos + 1, rem % 1000, 3)
    buf[pos] = 90  # 'Z'
    return pos + 1


@nb.njit(cache=True, nogil=True)
def format_chunk(
    buf,
    first_tx,
    ts,
    cust,
    amount,
    currency,
    ttype,
    channel,
    card,
    merchant,
    mcc,
    country,
    lat,
    lon,
    device,
    ip,
    payee,
    cur_codes,
    country_codes,
    type_names,
    type_lens,
    chan_names,
    chan_lens,
    geo_channel,
    cust_w,
    merch_w,
    payee_w,
    card_salt,
    dev_salt,
):
    """Write rows as JSON lines into ``buf``; return the number of bytes written.

    ``buf`` must hold ``MAX_LINE`` bytes per row. Row ``i`` gets ``tx_id`` number
    ``first_tx + i``; ``geo_channel[c]`` says whether channel ``c`` writes lat/lon.
    """
    pos = 0
    for i in range(ts.shape[0]):
        pos = _put(buf, pos, K_TX)
        pos = _put_uint(buf, pos, np.int64(first_tx + i), 11)
        pos = _put(buf, pos, K_TS)
        pos = _put_ts(buf, pos, np.int64(ts[i]))
        pos = _put(buf, pos, K_CUST)
        pos = _put_uint(buf, pos, np.int64(cust[i]), cust_w)
        pos = _put(buf, pos, K_AMOUNT)
        pos = _put_fixed(buf, pos, np.int64(amount[i]), 2)
        pos = _put(buf, pos, K_CUR)
        c = currency[i]
        buf[pos] = cur_codes[c, 0]
        buf[pos + 1] = cur_codes[c, 1]
        buf[pos + 2] = cur_codes[c, 2]
        pos += 3
        pos = _put(buf, pos, K_TYPE)
        pos = _put_row(buf, pos, type_names, type_lens, np.int64(ttype[i]))
        pos = _put(buf, pos, K_CHAN)
        ch = np.int64(channel[i])
        pos = _put_row(buf, pos, chan_names, chan_lens, ch)
        buf[pos] = 34  # '"'
        pos += 1
        if card[i] >= 0:
            pos = _put(buf, pos, K_CARD)
            pos = _put_hex8(buf, pos, np.int64(card[i]), card_salt)
            buf[pos] = 34
            pos += 1
        if merchant[i] >= 0:
            pos = _put(buf, pos, K_MERCH)
            pos = _put_uint(buf, pos, np.int64(merchant[i]), merch_w)
            buf[pos] = 34
            pos += 1
        if mcc[i] >= 0:
            pos = _put(buf, pos, K_MCC)
            pos = _put_uint(buf, pos, np.int64(mcc[i]), 4)
            buf[pos] = 34
            pos += 1
        if country[i] >= 0:
            pos = _put(buf, pos, K_COUNTRY)
            buf[pos] = country_codes[country[i], 0]
            buf[pos + 1] = country_codes[country[i], 1]
            buf[pos + 2] = 34
            pos += 3
        if geo_channel[ch]:
            pos = _put(buf, pos, K_LAT)
            pos = _put_fixed(buf, pos, np.int64(lat[i]), 5)
            pos = _put(buf, pos, K_LON)
            pos = _put_fixed(buf, pos, np.int64(lon[i]), 5)
        if device[i] >= 0:
            pos = _put(buf, pos, K_DEV)
            pos = _put_hex8(buf, pos, np.int64(device[i]), dev_salt)
            buf[pos] = 34
            pos += 1
        if ip[i] != 0:
            pos = _put(buf, pos, K_IP)
            v = np.int64(ip[i])
            pos = _put_uint(buf, pos, (v >> 24) & 255, 1)
            buf[pos] = 46
            pos = _put_uint(buf, pos + 1, (v >> 16) & 255, 1)
            buf[pos] = 46
            pos = _put_uint(buf, pos + 1, (v >> 8) & 255, 1)
            buf[pos] = 46
            pos = _put_uint(buf, pos + 1, v & 255, 1)
            buf[pos] = 34
            pos += 1
        if payee[i] >= 0:
            pos = _put(buf, pos, K_PAYEE)
            pos = _put_uint(buf, pos, np.int64(payee[i]), payee_w)
            buf[pos] = 34
            pos += 1
        buf[pos] = 125  # '}'
        buf[pos + 1] = 10  # '\n'
        pos += 2
    return pos
