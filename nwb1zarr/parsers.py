"""Named parse steps that turn /general strings into AllenSDK-style metadata values."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
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


CTIME_FORMATS = ("%a %b %d %H:%M:%S %Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f")


@register("datetime_iso")
def datetime_iso(value: Any) -> str:
    """ctime-style or ISO text -> ISO 8601 ('Wed Jan 20 10:24:01 2016' -> '2016-01-20T10:24:01').

    >>> datetime_iso("Wed Jan 20 10:24:01 2016")
    '2016-01-20T10:24:01'
    """
    text = " ".join(str(value).split())
    for fmt in CTIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise ValueError(f"unrecognised date {value!r}") from exc


def parse(value: Any, steps: Sequence[Mapping[str, Any]] | None) -> Any:
    """Apply parse steps in order.

    >>> parse("275 microns", [{"name": "split", "index": 0}, {"name": "int"}])
    275
    """
    for step in steps or ():
        value = PARSERS[step["name"]](value, **{k: v for k, v in step.items() if k != "name"})
    return value
