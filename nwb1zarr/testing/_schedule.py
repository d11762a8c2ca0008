"""Stimulus schedule of a session: which stimulus is shown when, in 2p acquisition frames.

Pure computation (no HDF5).  Epochs follow the real per-session order; presentations inside an epoch
are separated by at most the AllenSDK epoch threshold, epochs by more, and everything lies in [0, T).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._spec import SessionSpec

REAL_FRAMES = 115_000  # T of a real session, used to scale spontaneous epochs
SPONTANEOUS_FRAMES = 8880  # one ~5 min spontaneous epoch at real scale


@dataclass(frozen=True)
class Stimulus:
    """Real-scale facts about one stimulus."""

    kind: str                 # "grating", "flash" (SG/NS/LSN), "movie", "spontaneous"
    period: float             # 2p frames from one presentation start to the next
    on: int                   # 2p frames from start to end of one presentation
    count: int = 0            # presentations over the whole session (flash/grating)
    repeats: int = 0          # movie repeats per epoch
    template: tuple[int, int, int] | None = None   # real (frames, height, width)
    template_dtype: str = "uint8"
    scale_pixels: bool = True

    @property
    def series(self) -> str:
        """NWB 1.0 type of the presentation group."""
        if self.kind == "spontaneous":
            return "IntervalSeries"
        return "IndexSeries" if self.template is not None else "AbstractFeatureSeries"


STIMULI: dict[str, Stimulus] = {
    "drifting_gratings": Stimulus("grating", 90.3, 60, count=628),
    "static_gratings": Stimulus("flash", 7.53, 7, count=6000),
    "natural_scenes": Stimulus("flash", 7.53, 7, count=5950, template=(118, 918, 1174),
                               template_dtype="float32"),
    "locally_sparse_noise": Stimulus("flash", 7.53, 7, count=8880, template=(9000, 16, 28),
                                     scale_pixels=False),
    "locally_sparse_noise_4deg": Stimulus("flash", 7.53, 7, count=5812, template=(5812, 16, 28),
                                          scale_pixels=False),
    "locally_sparse_noise_8deg": Stimulus("flash", 7.53, 7, count=5584, template=(5584, 8, 14),
                                          scale_pixels=False),
    "natural_movie_one": Stimulus("movie", 1.004, 1, repeats=10, template=(900, 304, 608)),
    "natural_movie_two": Stimulus("movie", 1.004, 1, repeats=10, template=(900, 304, 608)),
    "natural_movie_three": Stimulus("movie", 1.004, 1, repeats=5, template=(3600, 304, 608)),
    "spontaneous": Stimulus("spontaneous", 1.0, 1),
}

_DG, _SG, _NS, _SP = "drifting_gratings", "static_gratings", "natural_scenes", "spontaneous"
_NM1, _NM2, _NM3 = "natural_movie_one", "natural_movie_two", "natural_movie_three"
_LSN, _LSN4, _LSN8 = "locally_sparse_noise", "locally_sparse_noise_4deg", "locally_sparse_noise_8deg"
EPOCH_ORDER: dict[str, tuple[str, ...]] = {
    "three_session_A": (_DG, _NM3, _NM1, _DG, _SP, _NM3, _DG),
    "three_session_B": (_SG, _NS, _SP, _NS, _SG, _NM1, _NS, _SG),
    "three_session_C": (_LSN, _SP, _NM1, _LSN, _NM2, _SP, _LSN),
    "three_session_C2": (_LSN4, _LSN8, _SP, _NM1, _LSN4, _LSN8, _NM2, _SP, _LSN4, _LSN8),
}
EPOCH_THRESHOLD = {"three_session_A": 39, "three_session_B": 15, "three_session_C": 7,
                   "three_session_C2": 7}
"""AllenSDK's block-separation thresholds (frames between consecutive presentations)."""


def template_shape(name: str, scale: float) -> tuple[int, int, int]:
    """Template (frames, height, width) at ``scale`` (LSN keeps its 16x28 / 8x14 grid)."""
    stim = STIMULI[name]
    assert stim.template is not None
    frames, height, width = stim.template
    frames = max(2, round(frames * scale))
    if stim.scale_pixels:
        height, width = max(2, round(height * scale)), max(2, round(width * scale))
    return frames, height, width


@dataclass(frozen=True)
class Epoch:
    stimulus: str
    start: np.ndarray   # int64 (P,) first 2p frame of each presentation
    end: np.ndarray     # int64 (P,)


def _block_length(stim: Stimulus, count: int) -> int:
    return round((count - 1) * stim.period) + stim.on


def _initial_counts(spec: SessionSpec, order: tuple[str, ...]) -> list[int]:
    counts = []
    for k, name in enumerate(order):
        stim = STIMULI[name]
        n_epochs, occurrence = order.count(name), order[:k].count(name)
        if stim.kind == "movie":
            counts.append(template_shape(name, spec.template_scale)[0] * stim.repeats)
        elif stim.kind == "spontaneous":
            counts.append(1)
        else:
            total = round(stim.count * spec.template_scale)
            if not stim.scale_pixels:  # locally sparse noise shows each template frame once
                total = min(total, template_shape(name, spec.template_scale)[0])
            share = total // n_epochs + (1 if occurrence < total % n_epochs else 0)
            counts.append(max(_min_count(stim), share))
    return counts


def _min_count(stim: Stimulus) -> int:
    return {"grating": 1, "flash": 2}.get(stim.kind, 1)


def _shrunk(spec: SessionSpec, name: str, count: int) -> int:
    stim = STIMULI[name]
    if stim.kind == "spontaneous":
        return count
    if stim.kind == "movie":
        frames = template_shape(name, spec.template_scale)[0]
        return max(1, math.floor(count // frames * 0.8)) * frames
    return max(_min_count(stim), math.floor(count * 0.8))


def plan_epochs(spec: SessionSpec) -> list[Epoch]:
    """Place every epoch of ``spec.session_type`` in [0, n_frames), shrinking counts if they do not fit.

    Raises ``ValueError`` when even the minimal schedule does not fit into ``n_frames``.
    """
    order = EPOCH_ORDER[spec.session_type]
    n_frames = spec.n_frames
    n_spont = order.count(_SP)
    min_gap = EPOCH_THRESHOLD[spec.session_type] + 5
    n_gaps = len(order) + 1
    counts = _initial_counts(spec, order)
    spont = max(10, round(SPONTANEOUS_FRAMES * n_frames / REAL_FRAMES))
    while True:
        content = sum(_block_length(STIMULI[n], c) for n, c in zip(order, counts, strict=True) if n != _SP)
        room = n_frames - 1 - n_gaps * min_gap - content
        if room >= n_spont * 10:
            spont = min(spont, room // n_spont)
            break
        smaller = [_shrunk(spec, n, c) for n, c in zip(order, counts, strict=True)]
        if smaller == counts:
            raise ValueError(f"n_frames={n_frames} is too small for a {spec.session_type} schedule at "
                             f"template_scale={spec.template_scale}: needs at least "
                             f"{n_frames - room + n_spont * 10} frames")
        counts = smaller
    leftover = n_frames - 1 - n_gaps * min_gap - content - n_spont * spont
    gaps = [min_gap + leftover // n_gaps + (1 if i < leftover % n_gaps else 0) for i in range(n_gaps)]
    epochs = []
    position = gaps[0]
    for i, (name, count) in enumerate(zip(order, counts, strict=True)):
        stim = STIMULI[name]
        if name == _SP:
            start, end = np.array([position]), np.array([position + spont])
        else:
            start = position + np.round(np.arange(count) * stim.period).astype(np.int64)
            end = start + stim.on
        epochs.append(Epoch(name, start.astype(np.int64), end.astype(np.int64)))
        position = int(end[-1]) + gaps[i + 1]
    assert int(epochs[-1].end[-1]) < n_frames
    return epochs


def presentations(epochs: list[Epoch], name: str) -> tuple[np.ndarray, np.ndarray]:
    """All (start, end) frames of one stimulus over its epochs, in time order."""
    mine = [e for e in epochs if e.stimulus == name]
    return np.concatenate([e.start for e in mine]), np.concatenate([e.end for e in mine])
