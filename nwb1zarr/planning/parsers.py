"""Named parse steps that turn /general strings into AllenSDK-style metadata values."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from numbers import Number
from typing import Any

from .registry import Registry

PARSERS = Registry("metadata parser")
register = PARSERS.register


@register("int")
def to_int(value: Any) -> int:
    return int(str(value).strip())


@register("split")
def split(value: Any, *, index: int, sep: str | None = None) -> str:
    return str(value).split(sep)[index]


@register("last")
def last(value: Any) -> Any:
    return value[-1] if isinstance(value, Sequence) and not isinstance(value, str) else value


@register("regex")
def regex(value: Any, *, pattern: str, group: int) -> str:
    found = re.match(pattern, str(value))
    if found is None:
        raise ValueError(f"{value!r} does not match {pattern!r}")
    return found.group(group)


# ---- dates ------------------------------------------------------------------------------------------
# Canonical output: ``datetime.isoformat()`` -- "2016-01-20T10:24:01" when the source gave no timezone,
# "2018-08-15T20:17:51.862000+00:00" when it did ("Z" becomes "+00:00"); a date alone -> "2016-01-20".

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                         "nov", "dec"), start=1)}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CTIME = re.compile(r"(?P<wd>[a-z]{3}) (?P<mon>[a-z]{3}) (?P<d>\d{1,2}) (?P<h>\d{1,2}):(?P<mi>\d{2}):(?P<s>\d{2}) "
                    r"(?P<y>\d{4})", re.ASCII | re.IGNORECASE)
_ISO = re.compile(r"(?P<y>\d{4})-(?P<mon>\d{2})-(?P<d>\d{2})"
                  r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?"
                  r" ?(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?)?", re.ASCII | re.IGNORECASE)


def _text(value: Any) -> str:
    """One raw date value as text: bytes decoded as UTF-8; anything not text is refused."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, str):
        return value
    if value is None:
        raise ValueError("not a date: no value, expected text")
    kind = "a number" if isinstance(value, Number) else f"a {type(value).__name__}"
    raise ValueError(f"not a date: {value!r} is {kind}, expected text")


def _micro(frac: str | None) -> int:
    """Fractional seconds as microseconds; digits beyond 6 are refused unless all zero."""
    if not frac:
        return 0
    if len(frac) > 6 and frac[6:].strip("0"):
        raise ValueError(f"{len(frac)} fractional-second digits, but a datetime holds 6 (microseconds) and "
                         "rounding would change the value")
    return int(frac[:6].ljust(6, "0"))


def _offset(tz: str | None) -> timezone | None:
    if tz is None:
        return None
    if tz.upper() in ("Z", "UTC", "GMT"):
        return UTC
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"timezone offset {tz} is out of range")
    return timezone((-1 if tz[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes))


def _from_ctime(text: str) -> str | None:
    found = _CTIME.fullmatch(text)
    if found is None:
        return None
    month = _MONTHS.get(found["mon"].lower())
    if month is None or found["wd"].lower() not in _WEEKDAYS:
        raise ValueError("not an English weekday and month name")
    when = datetime(int(found["y"]), month, int(found["d"]), int(found["h"]), int(found["mi"]), int(found["s"]))
    if _WEEKDAYS[when.weekday()] != found["wd"].lower():
        raise ValueError(f"it contradicts itself: {when.date().isoformat()} is a {when.strftime('%A')}")
    return when.isoformat()


def _from_iso(text: str) -> str | None:
    found = _ISO.fullmatch(text)
    if found is None:
        return None
    if found["h"] is None:
        return date(int(found["y"]), int(found["mon"]), int(found["d"])).isoformat()
    return datetime(int(found["y"]), int(found["mon"]), int(found["d"]), int(found["h"]), int(found["mi"]),
                    int(found["s"] or 0), _micro(found["frac"]), tzinfo=_offset(found["tz"])).isoformat()


def _one_date(value: Any) -> str:
    text = " ".join(_text(value).rstrip("\x00").split())  # NUL padding of fixed-length strings
    if not text:
        raise ValueError("not a date: empty text")
    try:
        parsed = _from_ctime(text) or _from_iso(text)
    except ValueError as exc:  # month 13, day 32, hour 25, too many digits ...
        raise ValueError(f"bad date {text[:80]!r}: {exc}") from exc
    if parsed is None:
        raise ValueError(f"unrecognised date {text[:80]!r}: expected ISO 8601 ('2016-01-20T10:24:01Z') or "
                         "ctime ('Wed Jan 20 10:24:01 2016') text")
    return parsed


def _plain(value: Any) -> Any:
    """numpy arrays and scalars as Python values (``tolist``); str and bytes as they are."""
    return value.tolist() if hasattr(value, "tolist") and not isinstance(value, str | bytes) else value


@register("datetime_iso")
def datetime_iso(value: Any) -> str | list[str]:
    """ctime-style or ISO 8601 text -> canonical ISO 8601 (``datetime.isoformat()``).

    Takes str or bytes, or a list of them (as an HDF5 array reads): one element -> one string, several
    (``file_create_date``'s modification dates) -> a list.  A timezone given is kept; none is invented.
    Raises ValueError naming the bad text (and, in a list, its element number).

    >>> datetime_iso("Wed Jan  6 10:24:01 2016")
    '2016-01-06T10:24:01'
    >>> datetime_iso(["2018-08-15T20:17:51.862Z"])
    '2018-08-15T20:17:51.862000+00:00'
    >>> datetime_iso([b"2017-03-01 09:00:00-0800", "2017-03-02"])
    ['2017-03-01T09:00:00-08:00', '2017-03-02']
    """
    value = _plain(value)
    if not isinstance(value, list | tuple):
        return _one_date(value)
    if not value:
        raise ValueError("not a date: empty list")
    if len(value) == 1:
        return _one_date(value[0])
    out = []
    for i, item in enumerate(value):
        try:
            out.append(_one_date(item))
        except ValueError as exc:
            raise ValueError(f"element {i} of {len(value)}: {exc}") from exc
    return out


def verbatim(value: Any) -> str | list[str]:
    r"""The decoded text of a raw metadata value: what the planner keeps when parsing it fails.

    bytes are decoded as UTF-8 (bad bytes as \xNN escapes); a one-element list gives its element's text,
    a longer list a list of texts; anything else its ``str()``.

    >>> verbatim([b"sometime in 2016"])
    'sometime in 2016'
    >>> verbatim(["2016-01-20", b"\xff"])
    ['2016-01-20', '\\xff']
    """
    value = _plain(value)
    if isinstance(value, list | tuple):
        texts = [_scalar_text(v) for v in value]
        return texts[0] if len(texts) == 1 else texts
    return _scalar_text(value)


def _scalar_text(value: Any) -> str:
    value = _plain(value)
    return value.decode("utf-8", errors="backslashreplace") if isinstance(value, bytes) else str(value)


def parse(value: Any, steps: Sequence[Mapping[str, Any]] | None) -> Any:
    """Apply parse steps in order.

    >>> parse("275 microns", [{"name": "split", "index": 0}, {"name": "int"}])
    275
    """
    for step in steps or ():
        value = PARSERS[step["name"]](value, **{k: v for k, v in step.items() if k != "name"})
    return value
