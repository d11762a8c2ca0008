"""Placing data variables on time (plan stage, step 6): share the group's clock only when it is bitwise the same.

A trace whose timestamps differ from the group's `time`, or whose length differs from its timestamps (dF/F
T±1), moves to its own child group with its own `<name>_time` (or `<name>_sample`) and copies of the
group's labels. Nothing is padded, cut or resampled.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .. import store_attrs as sa
from .context import PlanContext
from .model import Entry


class TimePlacer:
    """The group clock of one rule binding and the placement of each variable that runs along ``time``."""

    def __init__(self, ctx: PlanContext, target: str, *, clock: Entry | None, clock_source: str | None,
                 regular_length: int | None) -> None:
        self.ctx, self.target = ctx, target
        self.clock, self.clock_source, self.regular_length = clock, clock_source, regular_length

    def _length(self, path: str | None) -> int | None:
        """Samples in a 1-D timestamps dataset; None when absent or not 1-D."""
        if path is None or not self.ctx.is_dataset(path):
            return None
        shape = self.ctx.shape(path)
        return shape[0] if shape is not None and len(shape) == 1 else None

    def place(self, entry: Entry, time: str | None, coords: list[Entry], make_time_entry: Any) -> list[Entry]:
        """``entry`` on the group clock, or moved to ``<target>/<name>/`` with its own time and labels."""
        axis = entry.dims.index("time")
        length = entry.shape[axis]
        if time is not None and self.clock_source is not None:
            n_clock = self._length(self.clock_source)
            if length == n_clock and (time == self.clock_source or self._same_values(time, self.clock_source)):
                if time != self.clock_source:
                    self._alias(time)
                return [entry]
        elif time is None:
            n_clock = self._length(self.clock_source) if self.clock_source else self.regular_length
            if n_clock is not None and length == n_clock:
                return [entry]
        return self._move(entry, time, length, coords, make_time_entry)

    def _same_values(self, a: str, b: str) -> bool:
        x, y = np.asarray(self.ctx.read(a)), np.asarray(self.ctx.read(b))
        return x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()

    def _move(self, entry: Entry, time: str | None, length: int, coords: list[Entry],
              make_time_entry: Any) -> list[Entry]:
        child = f"{self.target}/{entry.name}"
        time_dim = f"{entry.name}_time"
        n_time = self._length(time)
        attrs = dict(entry.attrs)
        if time is not None and n_time == length:
            data_dim = time_dim
        else:
            data_dim = f"{entry.name}_sample"
            if time is None:
                attrs[sa.TIME_NOTE] = "no timestamps declared for this variable; no time coordinate is attached"
                self.ctx.problem(entry.sources[0] if entry.sources else None,
                                 f"no timestamps; {child}/{entry.name} is stored without a time coordinate")
            elif n_time is None:
                attrs[sa.TIME_NOTE] = (f"its timestamps {time} are missing or not one-dimensional; "
                                       "no time coordinate is attached")
                self.ctx.problem(time, f"timestamps missing or not one-dimensional; {child}/{entry.name} is "
                                       "stored without a time coordinate")
            else:
                attrs[sa.TIME_NOTE] = (f"data has {length} samples along time but its timestamps have {n_time}; "
                                       "no time coordinate is attached (nothing padded or cut)")
        dims = tuple(data_dim if d == "time" else d for d in entry.dims)
        out = [replace(entry, store_path=f"{child}/{entry.name}", dims=dims, attrs=attrs)]
        if n_time is not None and time is not None:  # stored beside the data even when lengths differ
            out.append(make_time_entry(f"{child}/{time_dim}", (time_dim,), time,
                                       {"description": f"timestamps of {entry.name} (seconds)"}))
        for coord in coords:
            if set(coord.dims) <= set(dims) and coord.name != "time":
                out.append(replace(coord, store_path=f"{child}/{coord.name}"))
        return out

    def _alias(self, time: str) -> None:
        clock = self.clock
        if clock is None or time in clock.aliases:
            return
        attrs = {**clock.attrs, sa.IDENTICAL_TO: [*clock.aliases, time]}
        alias_attrs = self.ctx.tree.nodes[time].attrs
        if alias_attrs != self.ctx.tree.nodes[clock.sources[0]].attrs:  # kept: the values are stored once
            attrs[sa.ALIAS_ATTRS] = {**clock.attrs.get(sa.ALIAS_ATTRS, {}), time: alias_attrs}
        self.clock = replace(clock, aliases=(*clock.aliases, time), attrs=attrs)
