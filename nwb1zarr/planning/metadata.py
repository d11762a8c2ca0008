"""Root metadata of the store from the profile's ``metadata`` list (plan stage, step 2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import Nwb1ZarrError
from .context import PlanContext
from .parsers import parse, verbatim
from .profiles import Profile


def plan_metadata(ctx: PlanContext, profile: Profile) -> dict[str, Any]:
    """AllenSDK-style root attributes, parsed from small /general datasets.

    A value that cannot be parsed is a problem; items marked ``"on_error": "verbatim"`` (dates) then keep
    the source text as it is, the others are left out.

    >>> plan_metadata(ctx, profile)["session_start_time"]     # doctest: +SKIP
    '2016-01-20T10:24:01'
    """
    out: dict[str, Any] = {}
    for item in profile.metadata:
        path = item["source"]
        if not ctx.is_dataset(path):
            if "default" in item:
                out[item["name"]] = item["default"]
            else:
                ctx.problem(path, f"missing; root attribute {item['name']} not set")
            continue
        try:
            value = ctx.read(path)
            value = value.tolist() if isinstance(value, np.ndarray) else value
            if isinstance(value, list) and len(value) == 1:  # writers stored scalars as one-element arrays too
                value = value[0]
            out[item["name"]] = parse(value, item.get("parse"))
        except (Nwb1ZarrError, ValueError, IndexError, TypeError, KeyError, OverflowError) as exc:
            reason = exc.message if isinstance(exc, Nwb1ZarrError) else str(exc)
            if item.get("on_error") == "verbatim" and not isinstance(exc, Nwb1ZarrError):
                out[item["name"]] = verbatim(value)
                ctx.problem(path, f"cannot parse {item['name']} ({reason}); kept verbatim")
            else:
                ctx.problem(path, f"cannot parse {item['name']} ({reason}); root attribute not set")
    return out
