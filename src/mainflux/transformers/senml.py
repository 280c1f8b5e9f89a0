"""SenML validation and normalization, compatible with Mainflux 0.11 (``mainflux/senml`` 1.0.1).

A pack is a JSON array (``application/senml+json``) or a CBOR array with integer keys
(``application/senml+cbor``) of records. The whole pack is refused on the first invalid
record. Normalization resolves base fields (``bn``, ``bt``, ``bu``, ``bs`` carry forward;
``bv`` applies only to its own record), sorts the records by time and gives a record
whose time is 0 the message's reception time. Relative times stay as they are."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from math import isfinite
from typing import Any, Final

import cbor2
import msgspec

from mainflux.messaging.envelope import Message
from mainflux.transformers.errors import TransformerError

JSON: Final = "application/senml+json"
CBOR: Final = "application/senml+cbor"

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-:./_]*")
_NAME_MATCH: Final = _NAME.fullmatch


class SenMLRecord(msgspec.Struct, gc=False):
    """One normalized record, ready to store (the readers' message shape)."""

    channel: str
    subtopic: str
    publisher: str
    protocol: str
    name: str
    unit: str = ""
    time: float = 0.0
    update_time: float = 0.0
    value: float | None = None
    string_value: str | None = None
    data_value: str | None = None
    bool_value: bool | None = None
    sum: float | None = None


class _Raw(msgspec.Struct, gc=False):
    """A record as decoded, before validation; ``None`` means the key is absent."""

    bn: str | None = None
    bt: float | None = None
    bu: str | None = None
    bver: int | None = None
    bv: float | None = None
    bs: float | None = None
    n: str | None = None
    u: str | None = None
    v: float | None = None
    vs: str | None = None
    vb: bool | None = None
    vd: str | None = None
    s: float | None = None
    t: float | None = None
    ut: float | None = None


_JSON_DECODER: Final = msgspec.json.Decoder(list[_Raw])

#: CBOR integer keys (RFC 8428 table 4) and the attribute each one fills.
_CBOR_KEYS: Final[dict[int, str]] = {
    -1: "bver",
    -2: "bn",
    -3: "bt",
    -4: "bu",
    -5: "bv",
    -6: "bs",
    0: "n",
    1: "u",
    2: "v",
    3: "vs",
    4: "vb",
    5: "s",
    6: "t",
    7: "ut",
    8: "vd",
}
_TEXT: Final = frozenset({"bn", "bu", "n", "u", "vs"})
_BOOL: Final = frozenset({"vb"})


def decode_json(payload: bytes) -> list[_Raw]:
    """Decode a SenML JSON pack. Raises :class:`TransformerError`."""
    try:
        return _JSON_DECODER.decode(payload)
    except msgspec.DecodeError as exc:
        raise TransformerError("malformed", f"not a SenML JSON pack: {exc}") from None


def decode_cbor(payload: bytes) -> list[_Raw]:
    """Decode a SenML CBOR pack. Raises :class:`TransformerError`."""
    try:
        data = cbor2.loads(payload)
    except Exception as exc:  # cbor2 raises many types for hostile input
        raise TransformerError("malformed", f"not a SenML CBOR pack: {exc}") from None
    if not isinstance(data, list):
        raise TransformerError("malformed", "not a SenML CBOR pack: expected an array")
    return [_cbor_record(item) for item in data]


def _cbor_record(item: Any) -> _Raw:
    if not isinstance(item, dict):
        raise TransformerError("malformed", "not a SenML CBOR pack: a record is not a map")
    fields: dict[str, Any] = {}
    for key, value in item.items():
        attr = _CBOR_KEYS.get(key) if type(key) is int else None
        if attr is None or value is None:
            continue
        fields[attr] = _cbor_value(attr, value)
    return _Raw(**fields)


def _cbor_value(attr: str, value: Any) -> Any:
    if attr in _TEXT:
        ok = isinstance(value, str)
    elif attr in _BOOL:
        ok = isinstance(value, bool)
    elif attr == "vd":
        if isinstance(value, bytes | bytearray):
            return base64.urlsafe_b64encode(value).rstrip(b"=").decode()
        ok = isinstance(value, str)
    elif attr == "bver":
        ok = type(value) is int
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    if not ok:
        raise TransformerError("malformed", f"not a SenML CBOR pack: bad type for {attr!r}")
    return value


def _finite(*numbers: float | None) -> bool:
    return all(n is None or isfinite(n) for n in numbers)


def normalize(msg: Message, raws: Iterable[_Raw]) -> list[SenMLRecord]:
    """Validate a decoded pack and return its normalized records, sorted by time.

    Raises :class:`TransformerError` on the first invalid record."""
    bver = 0
    bname = bunit = ""
    btime = bsum = 0.0
    channel, subtopic, publisher, protocol = msg.channel, msg.subtopic, msg.publisher, msg.protocol
    out: list[SenMLRecord] = []
    for r in raws:
        v, s, t, ut = r.v, r.s, r.t, r.ut
        if (
            (v is not None and not isfinite(v))
            or (s is not None and not isfinite(s))
            or (t is not None and not isfinite(t))
            or (ut is not None and not isfinite(ut))
        ):
            raise TransformerError("bad_value", "SenML numbers must be finite")
        bv = None
        if (  # base fields are rare: one test for all of them
            r.bn is not None
            or r.bt is not None
            or r.bu is not None
            or r.bver is not None
            or r.bv is not None
            or r.bs is not None
        ):
            if not _finite(r.bt, r.bv, r.bs):
                raise TransformerError("bad_value", "SenML numbers must be finite")
            if r.bver:
                if r.bver < 0:
                    raise TransformerError("bad_value", "SenML bver must not be negative")
                if bver == 0:
                    bver = r.bver
                elif r.bver != bver:
                    raise TransformerError(
                        "version_change", "SenML version changes within the pack"
                    )
            if r.bn:
                bname = r.bn
            if r.bt:
                btime = r.bt
            if r.bu:
                bunit = r.bu
            if r.bs:
                bsum = r.bs
            bv = r.bv
        name = bname + r.n if r.n else bname
        if not name:
            raise TransformerError("empty_name", "SenML record without a name")
        if _NAME_MATCH(name) is None:
            raise TransformerError("bad_name", "SenML name has a forbidden character")
        vs, vb, vd = r.vs, r.vb, r.vd
        values = (v is not None) + (vs is not None) + (vb is not None) + (vd is not None)
        if values != 1:
            if values > 1:
                raise TransformerError("too_many_values", "SenML record with more than one value")
            if s is None and bsum == 0:
                raise TransformerError("no_value", "SenML record without a value or sum")
        if v is not None and bv:
            v += bv
        out.append(
            SenMLRecord(
                channel,
                subtopic,
                publisher,
                protocol,
                name,
                r.u or bunit,
                btime + t if t else btime,
                ut or 0.0,
                v,
                vs,
                vd,
                vb,
                None if s is None else s + bsum,
            )
        )
    if len(out) > 1:
        out.sort(key=_by_time)
    received = msg.created / 1e9
    for record in out:
        if record.time == 0:
            record.time = received
    return out


def _by_time(record: SenMLRecord) -> float:
    return record.time


def transform_json(msg: Message) -> list[SenMLRecord]:
    """Transform a message whose payload is a SenML JSON pack."""
    return normalize(msg, decode_json(msg.payload))


def transform_cbor(msg: Message) -> list[SenMLRecord]:
    """Transform a message whose payload is a SenML CBOR pack."""
    return normalize(msg, decode_cbor(msg.payload))


def transformer(content_type: str) -> Callable[[Message], list[SenMLRecord]]:
    """The SenML transformer for a writer's content type; anything but CBOR means JSON."""
    return transform_cbor if content_type == CBOR else transform_json
