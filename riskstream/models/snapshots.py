"""Model snapshots: their byte format, their content-hash ids, and where they are stored.

Owns `encode_snapshot`/`decode_snapshot` (a versioned container of a model's plain state),
`snapshot_id` (the id *is* the hash of the bytes), the stores (`DirectorySnapshotStore`,
`RedisSnapshotStore`, `MemorySnapshotStore`, `open_snapshot_store`) and `read_snapshot`. The
model stage decides what goes in a snapshot and when (see `riskstream.models.online`).

Format (container version 1): the magic line ``riskstream-snapshot\\n``, a 4-byte little-endian
header length, a JSON header (sorted keys) with ``container``, ``kind``, ``riskstream`` (the
version that wrote it), ``state`` (the model's state, each array replaced by
``{"$array": i}``) and ``arrays`` (dtype, shape, offset, length of each), then the arrays'
bytes, 8-byte aligned. No pickle at this level: loading a snapshot never runs code, except the
river adapter's state, which holds a river model's pickle (load river snapshots from stores
you trust). Mappings are written in key order, so equal states give equal bytes, hence equal
ids, whatever order their keys were inserted in.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson

from riskstream import __version__
from riskstream.errors import ConfigError, ModelError

__all__ = [
    "CONTAINER_VERSION",
    "DirectorySnapshotStore",
    "MemorySnapshotStore",
    "RedisSnapshotStore",
    "Snapshot",
    "SnapshotStore",
    "decode_snapshot",
    "encode_snapshot",
    "open_snapshot_store",
    "read_snapshot",
    "snapshot_id",
]

MAGIC = b"riskstream-snapshot\n"
#: The container version this code writes; `decode_snapshot` reads this one only.
CONTAINER_VERSION = 1
#: Hex digits of SHA-256 kept in an id: 80 bits, collision-free for any realistic store.
ID_LENGTH = 20
_ID = re.compile(rf"^[0-9a-f]{{{ID_LENGTH}}}$")
_ARRAY_KINDS = "biufU"  # bool, int, uint, float, unicode


@dataclass(frozen=True)
class Snapshot:
    """A decoded snapshot: its `kind`, the model `state`, the version that wrote it, its id."""

    kind: str
    state: dict[str, Any]
    written_by: str
    id: str


def snapshot_id(data: bytes) -> str:
    """The id of a snapshot: the first 20 hex digits of the SHA-256 of its bytes.

    >>> snapshot_id(b"abc")
    'ba7816bf8f01cfea4141'
    """
    return hashlib.sha256(data).hexdigest()[:ID_LENGTH]


def encode_snapshot(kind: str, state: Mapping[str, Any]) -> bytes:
    """The bytes of a snapshot of `state` (nested mappings of scalars, strings, lists, arrays).

    Examples
    --------
    >>> data = encode_snapshot("demo", {"w": np.array([0.5, -1.0]), "n": 3, "name": "x"})
    >>> snap = decode_snapshot(data)
    >>> snap.kind, snap.state["w"].tolist(), snap.state["n"], snap.id == snapshot_id(data)
    ('demo', [0.5, -1.0], 3, True)
    """
    arrays: list[np.ndarray] = []
    tree = _to_tree(state, arrays)
    specs = []
    offset = 0
    for a in arrays:
        specs.append({"dtype": a.dtype.str, "shape": list(a.shape), "offset": offset})
        offset += _aligned(a.nbytes)
    header = orjson.dumps(
        {
            "container": CONTAINER_VERSION,
            "kind": kind,
            "riskstream": __version__,
            "state": tree,
            "arrays": specs,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    parts = [MAGIC, len(header).to_bytes(4, "little"), header]
    for a in arrays:
        raw = a.tobytes()
        parts.append(raw + b"\0" * (_aligned(len(raw)) - len(raw)))
    return b"".join(parts)


def decode_snapshot(data: bytes, expected_id: str | None = None) -> Snapshot:
    """Read the bytes of a snapshot; `ModelError` with the reason if they are not one.

    With `expected_id`, the bytes must hash to it (a corrupted or substituted snapshot fails).
    """
    sid = snapshot_id(data)
    if expected_id is not None and sid != expected_id:
        raise ModelError(f"snapshot {expected_id}: its bytes hash to {sid} (corrupted?)")
    if not data.startswith(MAGIC):
        raise ModelError(f"snapshot {sid}: not a riskstream snapshot (bad magic bytes)")
    start = len(MAGIC) + 4
    try:
        length = int.from_bytes(data[len(MAGIC) : start], "little")
        header = orjson.loads(data[start : start + length])
        container = header["container"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelError(f"snapshot {sid}: unreadable header ({exc})") from None
    if container != CONTAINER_VERSION:
        newer = isinstance(container, int) and container > CONTAINER_VERSION
        raise ModelError(
            f"snapshot {sid} uses container version {container!r}, written by riskstream "
            f"{header.get('riskstream', '?')}; this riskstream ({__version__}) reads version "
            f"{CONTAINER_VERSION} only"
            + (": upgrade riskstream to read it" if newer else ": rebuild it from the stream")
        )
    payload = memoryview(data)[start + length :]
    try:
        arrays = []
        for spec in header["arrays"]:
            dtype = np.dtype(spec["dtype"])
            if dtype.kind not in _ARRAY_KINDS:
                raise ValueError(f"dtype {dtype} not allowed")
            count = math.prod(spec["shape"])
            a = np.frombuffer(payload, dtype=dtype, count=count, offset=spec["offset"])
            arrays.append(a.reshape(spec["shape"]).copy())
        state = _from_tree(header["state"], arrays)
        return Snapshot(str(header["kind"]), state, str(header["riskstream"]), sid)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelError(f"snapshot {sid}: damaged ({exc})") from None


def _aligned(n: int) -> int:
    return (n + 7) // 8 * 8


def _to_tree(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ARRAY_KINDS:
            raise ModelError(f"snapshot: cannot store an array of dtype {value.dtype}")
        little = value.dtype.newbyteorder("<")
        arrays.append(np.ascontiguousarray(value).astype(little, copy=False))
        return {"$array": len(arrays) - 1}
    if isinstance(value, Mapping):
        out = {}
        for key in sorted(value, key=str):  # arrays are numbered in key order: equal bytes
            if not isinstance(key, str) or key.startswith("$"):
                raise ModelError(f"snapshot: keys must be strings not starting with $: {key!r}")
            out[key] = _to_tree(value[key], arrays)
        return out
    if isinstance(value, list | tuple):
        return [_to_tree(item, arrays) for item in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else {"$float": repr(value)}
    if value is None or isinstance(value, str):
        return value
    raise ModelError(f"snapshot: cannot store a {type(value).__name__}")


def _from_tree(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, dict):
        if "$array" in value:
            return arrays[value["$array"]]
        if "$float" in value:
            return float(value["$float"])
        return {key: _from_tree(item, arrays) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_tree(item, arrays) for item in value]
    return value


# ---------------------------------------------------------------------- stores


class SnapshotStore(Protocol):
    """Where snapshots live: bytes by id."""

    def put(self, sid: str, data: bytes) -> None: ...

    def get(self, sid: str) -> bytes: ...

    def __contains__(self, sid: object) -> bool: ...


def _check_id(sid: str) -> str:
    if not isinstance(sid, str) or not _ID.match(sid):
        raise ModelError(f"not a snapshot id: {sid!r} (expected {ID_LENGTH} hex digits)")
    return sid


class MemorySnapshotStore:
    """Snapshots in a dict (tests, and a process that only needs the ids).

    >>> store = MemorySnapshotStore()
    >>> data = encode_snapshot("demo", {"n": 1})
    >>> store.put(snapshot_id(data), data)
    >>> read_snapshot(store, snapshot_id(data)).state
    {'n': 1}
    """

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def put(self, sid: str, data: bytes) -> None:
        self._data.setdefault(_check_id(sid), bytes(data))

    def get(self, sid: str) -> bytes:
        try:
            return self._data[_check_id(sid)]
        except KeyError:
            raise ModelError(f"snapshot {sid} is not in the store") from None

    def __contains__(self, sid: object) -> bool:
        return sid in self._data

    def __len__(self) -> int:
        return len(self._data)


class DirectorySnapshotStore:
    """Snapshots as files ``<id>.rsnap`` in a directory, written atomically, never rewritten.

    Parameters
    ----------
    path
        The directory (created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(f"cannot create snapshot directory {path}: {exc.strerror}") from exc

    def _file(self, sid: str) -> Path:
        return self.path / f"{_check_id(sid)}.rsnap"

    def put(self, sid: str, data: bytes) -> None:
        target = self._file(sid)
        if target.exists():
            return  # same id, same bytes
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as exc:
            raise ModelError(f"cannot write snapshot {target}: {exc.strerror}") from exc

    def get(self, sid: str) -> bytes:
        try:
            return self._file(sid).read_bytes()
        except FileNotFoundError:
            raise ModelError(f"snapshot {sid} is not in {self.path}") from None
        except OSError as exc:
            raise ModelError(f"cannot read snapshot {sid}: {exc.strerror}") from exc

    def __contains__(self, sid: object) -> bool:
        return isinstance(sid, str) and bool(_ID.match(sid)) and self._file(sid).exists()


class RedisSnapshotStore:
    """Snapshots as Redis strings ``<prefix><id>``, set once (``SET NX``).

    Parameters
    ----------
    client
        A redis-py client (or a ``redis://`` URL to connect to).
    prefix
        Key prefix.
    """

    def __init__(self, client: Any, prefix: str = "riskstream:snapshot:") -> None:
        if isinstance(client, str):
            import redis

            client = redis.Redis.from_url(client)
        self.client = client
        self.prefix = prefix

    def put(self, sid: str, data: bytes) -> None:
        try:
            self.client.set(self.prefix + _check_id(sid), data, nx=True)
        except Exception as exc:  # redis-py raises its own hierarchy
            raise ModelError(f"cannot write snapshot {sid} to Redis: {exc}") from exc

    def get(self, sid: str) -> bytes:
        try:
            data = self.client.get(self.prefix + _check_id(sid))
        except Exception as exc:
            raise ModelError(f"cannot read snapshot {sid} from Redis: {exc}") from exc
        if data is None:
            raise ModelError(f"snapshot {sid} is not in Redis under {self.prefix!r}")
        return bytes(data)

    def __contains__(self, sid: object) -> bool:
        return isinstance(sid, str) and bool(self.client.exists(self.prefix + sid))


def open_snapshot_store(config: Any) -> SnapshotStore | None:
    """The store a config names: ``null`` (none), ``{dir: PATH}``, ``{redis: URL, prefix}``,
    or ``{memory: true}``."""
    if config is None:
        return None
    if isinstance(config, Mapping):
        if "dir" in config:
            return DirectorySnapshotStore(config["dir"])
        if "redis" in config:
            return RedisSnapshotStore(config["redis"], config.get("prefix", "riskstream:snapshot:"))
        if config.get("memory"):
            return MemorySnapshotStore()
    raise ConfigError(
        f"model.snapshots.store must be null, {{dir: PATH}}, {{redis: URL}} or {{memory: true}}, "
        f"got {config!r}"
    )


def read_snapshot(store: SnapshotStore, sid: str) -> Snapshot:
    """The snapshot `sid` from `store`, checked against its id."""
    return decode_snapshot(store.get(_check_id(sid)), expected_id=sid)
