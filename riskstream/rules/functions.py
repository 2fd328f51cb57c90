"""The built-in functions of the rule language: signatures, vectorised and per-row versions.

Every function is pure and total: it never raises on data; a missing argument (NaN number,
None string) gives a missing result, except `is_missing` and `coalesce`, which are about
missing values. The vectorised version works on numpy columns (or scalars, for constants);
the per-row version is the reference the tests hold the vectorised one to.

========================= ============================================================
function                  meaning
========================= ============================================================
abs(x)                    absolute value
min(x, y, ...)            smallest argument (missing if any is missing)
max(x, y, ...)            largest argument (missing if any is missing)
log(x)                    natural logarithm; missing when x <= 0
sqrt(x)                   square root; missing when x < 0
hour_of(t)                hour of day (UTC, 0-23) of a time
weekday_of(t)             day of week (UTC, 0 = Monday ... 6 = Sunday) of a time
distance_km(a, b, c, d)   great-circle (haversine) distance between (lat a, lon b) and (c, d)
is_missing(x)             true when x is missing (bool and time values are never missing)
coalesce(x, default)      x, or default when x is missing (same types)
starts_with(s, prefix)    true when string s starts with prefix (false when s is missing)
========================= ============================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np

from riskstream.features.catalog import FeatureType
from riskstream.rules.syntax import ListType, Type, type_name

__all__ = ["FUNCTIONS", "Function", "SignatureError"]

NUMBER, BOOL, STRING, TIME = (
    FeatureType.NUMBER,
    FeatureType.BOOL,
    FeatureType.STRING,
    FeatureType.TIME,
)
EARTH_RADIUS_KM = 6371.0088
_MS_PER_HOUR = 3_600_000
_MS_PER_DAY = 86_400_000


class SignatureError(Exception):
    """The arguments of a call do not fit the function (message says how)."""


@dataclass(frozen=True)
class Function:
    """A built-in function.

    Parameters
    ----------
    name
        The name rules call it by.
    signature
        Human-readable signature, shown in hints.
    check
        Argument types -> result type; raises `SignatureError`.
    vector
        ``vector(arg_types, *columns)``: the numpy implementation.
    scalar
        ``scalar(arg_types, *values)``: the per-row reference implementation.
    """

    name: str
    signature: str
    check: Callable[[Sequence[Type]], Type]
    vector: Callable[..., Any]
    scalar: Callable[..., Any]


def _fixed(*params: FeatureType, returns: FeatureType) -> Callable[[Sequence[Type]], Type]:
    def check(args: Sequence[Type]) -> Type:
        if len(args) != len(params):
            raise SignatureError(f"takes {len(params)} argument(s), got {len(args)}")
        for i, (got, want) in enumerate(zip(args, params, strict=True)):
            if got != want:
                raise SignatureError(
                    f"argument {i + 1} must be a {want.value}, got {type_name(got)}"
                )
        return returns

    return check


def _variadic_numbers(args: Sequence[Type]) -> Type:
    if len(args) < 2:
        raise SignatureError(f"takes 2 or more arguments, got {len(args)}")
    for i, got in enumerate(args):
        if got != NUMBER:
            raise SignatureError(f"argument {i + 1} must be a number, got {type_name(got)}")
    return NUMBER


def _any_scalar(args: Sequence[Type]) -> Type:
    if len(args) != 1:
        raise SignatureError(f"takes 1 argument, got {len(args)}")
    if isinstance(args[0], ListType):
        raise SignatureError("argument 1 must be a number, string, bool or time, not a list")
    return BOOL


def _same_pair(args: Sequence[Type]) -> Type:
    if len(args) != 2:
        raise SignatureError(f"takes 2 arguments, got {len(args)}")
    if isinstance(args[0], ListType) or args[0] != args[1]:
        raise SignatureError(
            f"both arguments must have the same type, got {type_name(args[0])} and "
            f"{type_name(args[1])}"
        )
    return args[0]


# -- vectorised implementations ------------------------------------------------------------
def _v_abs(types: Any, x: Any) -> Any:
    return np.abs(x)


def _v_min(types: Any, *xs: Any) -> Any:
    return reduce(np.minimum, xs)


def _v_max(types: Any, *xs: Any) -> Any:
    return reduce(np.maximum, xs)


def _v_log(types: Any, x: Any) -> Any:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)


def _v_sqrt(types: Any, x: Any) -> Any:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.where(x >= 0, np.sqrt(np.where(x >= 0, x, 0.0)), np.nan)


def _v_hour_of(types: Any, t: Any) -> Any:
    return ((np.asarray(t, dtype=np.int64) // _MS_PER_HOUR) % 24).astype(np.float64)


def _v_weekday_of(types: Any, t: Any) -> Any:
    return ((np.asarray(t, dtype=np.int64) // _MS_PER_DAY + 3) % 7).astype(np.float64)


def _v_distance_km(types: Any, lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _v_missing_mask(t: Type, x: Any) -> Any:
    if t == NUMBER:
        return np.isnan(x)
    if t == STRING:
        return np.equal(x, None) if isinstance(x, np.ndarray) else np.bool_(x is None)
    return np.zeros(np.shape(x), dtype=np.bool_)


def _v_is_missing(types: Sequence[Type], x: Any) -> Any:
    return _v_missing_mask(types[0], x)


def _v_coalesce(types: Sequence[Type], x: Any, default: Any) -> Any:
    if types[0] not in (NUMBER, STRING):
        return x
    missing = _v_missing_mask(types[0], x)
    if types[0] == STRING:
        return np.where(missing, default, x).astype(object)
    return np.where(missing, default, x)


def _v_starts_with(types: Any, s: Any, prefix: Any) -> Any:
    if not isinstance(s, np.ndarray) and not isinstance(prefix, np.ndarray):
        return np.bool_(isinstance(s, str) and isinstance(prefix, str) and s.startswith(prefix))
    if isinstance(prefix, str):
        pre = prefix
        return np.fromiter((isinstance(v, str) and v.startswith(pre) for v in s), np.bool_, len(s))
    s_arr, p_arr = np.broadcast_arrays(
        np.asarray(s, dtype=object), np.asarray(prefix, dtype=object)
    )
    return np.fromiter(
        (
            isinstance(v, str) and isinstance(p, str) and v.startswith(p)
            for v, p in zip(s_arr, p_arr, strict=True)
        ),
        np.bool_,
        s_arr.size,
    )


# -- per-row reference implementations -----------------------------------------------------
def _nan(x: float) -> bool:
    return x != x


def _s_abs(types: Any, x: float) -> float:
    return abs(x)


def _s_min(types: Any, *xs: float) -> float:
    return math.nan if any(_nan(x) for x in xs) else min(xs)


def _s_max(types: Any, *xs: float) -> float:
    return math.nan if any(_nan(x) for x in xs) else max(xs)


def _s_via_vector(vector: Callable[..., Any]) -> Callable[..., Any]:
    """Transcendental functions: the per-row reference calls the same numpy kernel on one row,
    so that both sides agree to the last bit (missing handling is still checked per row)."""

    def scalar(types: Any, *xs: float) -> float:
        return float(vector(types, *(np.array([x], dtype=np.float64) for x in xs))[0])

    return scalar


def _s_log(types: Any, x: float) -> float:
    if _nan(x) or x <= 0:
        return math.nan
    return _s_via_vector(_v_log)(types, x)


def _s_sqrt(types: Any, x: float) -> float:
    if _nan(x) or x < 0:
        return math.nan
    return _s_via_vector(_v_sqrt)(types, x)


def _s_distance_km(types: Any, *xs: float) -> float:
    if any(_nan(x) for x in xs):
        return math.nan
    return _s_via_vector(_v_distance_km)(types, *xs)


def _s_hour_of(types: Any, t: int) -> float:
    return float((t // _MS_PER_HOUR) % 24)


def _s_weekday_of(types: Any, t: int) -> float:
    return float((t // _MS_PER_DAY + 3) % 7)


def _s_missing(t: Type, x: Any) -> bool:
    if t == NUMBER:
        return _nan(x)
    if t == STRING:
        return x is None
    return False


def _s_is_missing(types: Sequence[Type], x: Any) -> bool:
    return _s_missing(types[0], x)


def _s_coalesce(types: Sequence[Type], x: Any, default: Any) -> Any:
    return default if _s_missing(types[0], x) else x


def _s_starts_with(types: Any, s: str | None, prefix: str | None) -> bool:
    return isinstance(s, str) and isinstance(prefix, str) and s.startswith(prefix)


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("abs", "abs(number) -> number", _fixed(NUMBER, returns=NUMBER), _v_abs, _s_abs),
        Function("min", "min(number, number, ...) -> number", _variadic_numbers, _v_min, _s_min),
        Function("max", "max(number, number, ...) -> number", _variadic_numbers, _v_max, _s_max),
        Function("log", "log(number) -> number", _fixed(NUMBER, returns=NUMBER), _v_log, _s_log),
        Function(
            "sqrt", "sqrt(number) -> number", _fixed(NUMBER, returns=NUMBER), _v_sqrt, _s_sqrt
        ),
        Function(
            "hour_of",
            "hour_of(time) -> number",
            _fixed(TIME, returns=NUMBER),
            _v_hour_of,
            _s_hour_of,
        ),
        Function(
            "weekday_of",
            "weekday_of(time) -> number",
            _fixed(TIME, returns=NUMBER),
            _v_weekday_of,
            _s_weekday_of,
        ),
        Function(
            "distance_km",
            "distance_km(lat1, lon1, lat2, lon2) -> number",
            _fixed(NUMBER, NUMBER, NUMBER, NUMBER, returns=NUMBER),
            _v_distance_km,
            _s_distance_km,
        ),
        Function("is_missing", "is_missing(x) -> bool", _any_scalar, _v_is_missing, _s_is_missing),
        Function("coalesce", "coalesce(x, default) -> x", _same_pair, _v_coalesce, _s_coalesce),
        Function(
            "starts_with",
            "starts_with(string, string) -> bool",
            _fixed(STRING, STRING, returns=BOOL),
            _v_starts_with,
            _s_starts_with,
        ),
    )
}
