"""Brain Observatory stimuli into NWB 2: one TimeIntervals table per stimulus (every presentation, every column) and
each template as a stimulus template (Images, one GrayscaleImage per frame, streamed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .nwb2_brain_observatory import Placement, column_values, description
from .nwb2_iterators import dataset_io
from .nwb2_mapping import target
from .nwb2_transforms import time_at_frame

COLUMN_NAMES = {"time": "start_time", "end_time": "stop_time", "start": "start_frame", "end": "end_frame"}


def add_stimuli(nwbfile: Any, tree: Any, placement: Placement) -> None:
    """One TimeIntervals table per stimulus, every row and column; templates as Images of GrayscaleImage frames."""
    from hdmf.common import VectorData
    from pynwb.epoch import TimeIntervals

    if "stimulus" not in tree.children:
        return
    ophys_time = np.asarray(tree["ophys"]["time"].values) if "ophys" in tree.children else np.empty(0)
    for name, node in tree["stimulus"].children.items():
        rows = node.sizes.get("presentation", 0)
        own = node.to_dataset(inherit=False)
        if "time" not in own.variables:
            continue
        columns = {"start_time": VectorData(name="start_time", description="start of each presentation (s): "
                                            "the stored presentation timestamp", data=np.asarray(own["time"].values))}
        placement.put(node, "time")
        if "end_time" in own.variables:
            stop, how = np.asarray(own["end_time"].values), "stored end times"
            placement.put(node, "end_time")
        elif "end" in own.variables:
            stop, how = time_at_frame(own["end"].values, times=ophys_time), "the 2p timestamp of end_frame"
        else:
            stop, how = np.full(rows, np.nan), "unknown: the source gives no end frame (NaN)"
        columns["stop_time"] = VectorData(name="stop_time", description=f"end of each presentation (s): {how}",
                                          data=stop)
        for column, var in own.data_vars.items():
            if column in ("time", "end_time"):
                continue
            new = COLUMN_NAMES.get(column, column)
            columns[new] = VectorData(name=new, description=description(var, column), data=column_values(var))
            placement.put(node, column)
        table = TimeIntervals(name=name, description=str(node.attrs.get("description") or name).rstrip(". ")
                              + f"; {rows} presentations, as in the NWB 1.0 source",
                              id=list(range(rows)), columns=list(columns.values()))
        nwbfile.add_time_intervals(table)
        if "template" in node.children and "template" in node["template"].variables:
            add_template(nwbfile, name, node["template"], placement)


class _Stack:
    """A stored image stack read one store chunk of frames at a time (the chunk last read is kept)."""

    def __init__(self, var: Any) -> None:
        self.var, self.block, self.start = var, np.empty(0), -1
        chunks = var.encoding.get("chunks") or var.shape
        self.step = max(1, int(chunks[0]))

    def frame(self, index: int) -> np.ndarray:
        start = index - index % self.step
        if start != self.start:
            self.block, self.start = np.asarray(self.var[start:start + self.step].values), start
        return self.block[index - start]


class _Frame:
    """One frame of a stored image stack, read only when written."""

    def __init__(self, stack: _Stack, index: int) -> None:
        self.stack, self.index = stack, index
        self.shape, self.dtype = tuple(stack.var.shape[1:]), np.dtype(stack.var.dtype)

    def __getitem__(self, key: Any) -> Any:
        return self.stack.frame(self.index)[key]


def add_template(nwbfile: Any, name: str, node: Any, placement: Placement) -> None:
    """The template stack as a stimulus template: Images holding one GrayscaleImage per frame, streamed."""
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage

    var = node["template"]
    rule = target(f"{node.path}/template")
    pattern = rule.nwb2_paths[0].rsplit("/", 1)[1] if rule and rule.nwb2_paths else "frame_{index}"
    stack = _Stack(var)
    images = [GrayscaleImage(name=pattern.replace("{index}", f"{i:05d}"), description=f"frame {i} of the {name} "
                             "template", data=dataset_io(_Frame(stack, i), stream=True))
              for i in range(var.shape[0])]
    what = description(var, "image stack")
    nwbfile.add_stimulus_template(Images(name=name, images=images,
                                         description=f"{name} template, one image per frame (index = the "
                                                     f"'frame' column of /intervals/{name}); {what}"))
    placement.put(node, "template")
