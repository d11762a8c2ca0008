"""A one-page picture of a converted session, drawn from the store alone (``nwb1zarr plot``).

Needs matplotlib, an optional extra (``pip install 'nwb1zarr[plot]'``); it is imported on first use, so
``import nwb1zarr.plot`` works without it.  Figures are made with the Agg canvas (no display, no pyplot
state).  What is drawn and how it is read (bounded memory) is in :mod:`nwb1zarr.plot_data`.

Example:
    >>> from nwb1zarr.plot import session_summary
    >>> fig = session_summary("570014520.zarr", path="570014520.png")       # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from . import plot_data as pdata
from .errors import Nwb1ZarrError, StoreError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["EXTRA_HINT", "MissingExtraError", "session_summary"]

EXTRA_HINT = "plotting needs matplotlib, an optional extra: pip install 'nwb1zarr[plot]'"
DEFAULT_COLUMNS = 1500
"""Time columns of the dF/F heat map and points of the behaviour traces (block means over time)."""
_STIMULUS_COLOURS = {
    "drifting_gratings": "#c44e52", "static_gratings": "#dd8452", "natural_scenes": "#55a868",
    "natural_movie_one": "#4c72b0", "natural_movie_two": "#64b5cd", "natural_movie_three": "#8172b3",
    "locally_sparse_noise": "#937860", "locally_sparse_noise_4deg": "#937860", "locally_sparse_noise_8deg": "#ccb974",
    "spontaneous": "#8c8c8c",
}
"""The same colour for a Brain Observatory stimulus in every picture; other names take :data:`_OTHER_COLOURS`."""
_OTHER_COLOURS = ("#da8bc3", "#4c4c9c", "#9c9c4c", "#4c9c9c", "#9c4c4c")
_CHAR_PT = 4.6
"""Width of one character of the 7 pt epoch labels (points)."""
_OUTLINE_COLOURS = ("#ff5a5a", "#ffd23f", "#3bceac", "#5ab4ff", "#ff8ad8", "#b4ff5a")


class MissingExtraError(Nwb1ZarrError):
    """matplotlib (the ``plot`` extra) is not installed."""

    exit_code = 2


def _figure_class() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingExtraError(EXTRA_HINT) from exc

    def make(**kwargs: Any) -> Figure:
        fig = Figure(**kwargs)
        FigureCanvasAgg(fig)
        return fig

    return make


@contextmanager
def _opened(store: str | os.PathLike[str] | xr.DataTree,
            storage_options: dict[str, Any] | None) -> Iterator[tuple[xr.DataTree, str]]:
    if isinstance(store, xr.DataTree):
        yield store, "store"
        return
    name = os.fspath(store)
    if "://" not in name and not Path(name).exists():
        raise StoreError("no such store", file=name)
    kwargs: dict[str, Any] = {"engine": "zarr"}
    if storage_options:
        kwargs["storage_options"] = storage_options
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dt = xr.open_datatree(name, **kwargs)
    except Exception as exc:  # zarr and xarray raise many kinds; all mean "not a readable store"
        raise StoreError(f"not a readable Zarr store: {type(exc).__name__}: {exc}", file=name) from exc
    try:
        yield dt, name
    finally:
        dt.close()


def session_summary(store: str | os.PathLike[str] | xr.DataTree, *, path: str | os.PathLike[str] | None = None,
                    columns: int = DEFAULT_COLUMNS, dpi: int = 110, title: str | None = None,
                    storage_options: dict[str, Any] | None = None) -> Figure:
    """A one-page summary of a converted Brain Observatory session, saved to ``path`` when given.

    Panels: the maximum projection with each ROI's outline (``/rois``), one frame of each stimulus
    template, the stimulus epochs, dF/F as a heat map (ROIs x time, block means over time into at most
    ``columns`` columns, colours from the 1st to 99th percentile), running speed and pupil size (block
    mean with the block's range shaded) on the same time axis.  Parts the store lacks are named in their
    panel instead.  Memory stays bounded (see :mod:`nwb1zarr.plot_data`).

    ``store`` is a store path (or URL, with ``storage_options``) or an open ``xr.DataTree``; the format
    of ``path`` follows its suffix (``.png``, ``.pdf``, ...).  Raises :class:`StoreError` for a store
    with no Brain Observatory groups (a generic-profile store) and :class:`MissingExtraError` without
    matplotlib.

    Example:
        >>> fig = session_summary("570014520.zarr", path="570014520.png")   # doctest: +SKIP
        >>> [ax.get_title() for ax in fig.axes][:2]                          # doctest: +SKIP
        ['max projection, 200 ROI outlines', 'natural_movie_one, frame 0 (304 x 608)']
    """
    make_figure = _figure_class()
    with _opened(store, storage_options) as (dt, name):
        if not pdata.has_session_groups(dt):
            profile = dt.attrs.get("nwb1zarr_profile", "unknown")
            raise StoreError(f"nothing to plot: a {profile} store has no Brain Observatory session groups "
                             f"({', '.join('/' + g for g in pdata.BRAIN_OBSERVATORY_GROUPS)})", file=name)
        fig = _draw(dt, make_figure, columns=columns, title=title)
    if path is not None:
        fig.savefig(os.fspath(path), dpi=dpi)
    return fig


def _draw(dt: xr.DataTree, make_figure: Any, *, columns: int, title: str | None) -> Figure:
    templates = pdata.template_frames(dt)
    pupil = pdata.series(dt, "behavior/eye_tracking", "pupil_size")
    running = pdata.series(dt, "behavior/running_speed", "running_speed")
    rows = ["images", "epochs", "dff", "running", "pupil"]
    heights = {"images": 3.6, "epochs": 0.45, "dff": 3.2, "running": 1.3, "pupil": 1.3}
    fig = make_figure(figsize=(13, 1.1 + sum(heights.values())), layout="constrained")
    grid = fig.add_gridspec(len(rows), 1, height_ratios=[heights[r] for r in rows])
    top = grid[0].subgridspec(1, 2, width_ratios=[1, 2.2])
    _draw_projection(fig.add_subplot(top[0]), dt)
    _draw_templates(fig, top[1], templates)
    epoch_ax = fig.add_subplot(grid[1])
    dff_ax = fig.add_subplot(grid[2], sharex=epoch_ax)
    run_ax = fig.add_subplot(grid[3], sharex=epoch_ax)
    pupil_ax = fig.add_subplot(grid[4], sharex=epoch_ax)
    epochs = pdata.stimulus_epochs(dt)
    colours = _stimulus_colours(epochs)
    _draw_epochs(epoch_ax, epochs, colours)
    _draw_dff(dff_ax, dt, columns)
    _draw_series(run_ax, running, columns,
                 "running speed (cm/s)", "running speed", "#2a6f97")
    _draw_series(pupil_ax, pupil, columns, "pupil size (px)", "pupil size", "#7b2d8b",
                 missing="no eye tracking in this store (/behavior/eye_tracking)")
    for ax, drawn in ((run_ax, running is not None), (pupil_ax, pupil is not None)):
        if drawn:
            _shade_epochs(ax, epochs, colours)
    for ax in (epoch_ax, dff_ax, run_ax):
        ax.tick_params(labelbottom=False)
    pupil_ax.set_xlabel("time (s, session clock)")
    _set_time_limits(epoch_ax, dt, epochs)
    fig.suptitle(title if title is not None else _title(dt), fontsize=12)
    return fig


def _title(dt: xr.DataTree) -> str:
    a = dt.attrs
    first = " · ".join(str(v) for v in (
        f"ophys experiment {a['ophys_experiment_id']}" if "ophys_experiment_id" in a else None,
        a.get("session_type"),
        f"{a['targeted_structure']}, {a['imaging_depth_um']} µm" if "targeted_structure" in a
        and "imaging_depth_um" in a else a.get("targeted_structure"),
        a.get("cre_line"), a.get("indicator")) if v)
    second = " · ".join(str(v) for v in (a.get("source_file"), a.get("session_start_time"),
                                         f"pipeline {a['pipeline_version']}" if "pipeline_version" in a else None)
                        if v)
    return "\n".join(line for line in (first or "converted NWB 1.0 session", second) if line)


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.35", fontsize=9)


def _draw_projection(ax: Axes, dt: xr.DataTree) -> None:
    image = pdata.max_projection(dt)
    shapes = pdata.outlines(dt)
    ax.set_xticks([])
    ax.set_yticks([])
    if image is not None and image.size > 0:
        lo, hi = pdata.robust_range(image.astype(np.float64), 0.5, 99.8)
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    elif (shape := pdata.mask_shape(dt)) is not None:
        ax.imshow(np.zeros(shape), cmap="gray", vmin=0, vmax=1)
    if shapes:
        for shape_ in shapes:
            ny, nx = shape_.inside.shape
            ys, xs = shape_.y0 + np.arange(ny), shape_.x0 + np.arange(nx)
            ax.contour(xs, ys, shape_.inside.astype(np.float32), levels=[0.5], linewidths=0.9,
                       colors=[_OUTLINE_COLOURS[shape_.roi % len(_OUTLINE_COLOURS)]])
    n_roi = dt["rois"].sizes.get("roi", 0) if "rois" in dt.children else 0
    if image is None and shapes is None:
        _note(ax, "no max projection or ROI masks\nin this store (/rois)")
        ax.set_title("max projection")
    elif shapes is None:
        ax.set_title("max projection (no ROI masks: /rois/mask absent)", fontsize=10)
    else:
        ax.set_title(f"max projection, {len(shapes)} of {n_roi} ROI outlines", fontsize=10)


def _draw_templates(fig: Figure, cell: Any, templates: dict[str, np.ndarray]) -> None:
    if not templates:
        ax = fig.add_subplot(cell)
        ax.set_axis_off()
        _note(ax, "no stimulus templates in this store (/stimulus/<name>/template)")
        ax.set_title("stimulus templates", fontsize=10)
        return
    n = len(templates)
    n_rows = 1 if n <= 2 else 2
    n_cols = -(-n // n_rows)
    sub = cell.subgridspec(n_rows, n_cols)
    for i, (name, frame) in enumerate(templates.items()):
        ax = fig.add_subplot(sub[i // n_cols, i % n_cols])
        if frame.dtype.kind in "ub" and frame.dtype.itemsize == 1:
            lo, hi = 0.0, 255.0
        else:
            lo, hi = pdata.robust_range(frame.astype(np.float64), 0.5, 99.5)
        ax.imshow(frame, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}, frame 0 ({frame.shape[0]} x {frame.shape[1]})", fontsize=9)


def _stimulus_colours(epochs: list[pdata.Epoch]) -> dict[str, str]:
    names = sorted({e.stimulus for e in epochs})
    others = iter(_OTHER_COLOURS * (1 + len(names) // len(_OTHER_COLOURS)))
    return {name: _STIMULUS_COLOURS.get(name) or next(others) for name in names}


def _draw_epochs(ax: Axes, epochs: list[pdata.Epoch], colours: dict[str, str]) -> None:
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    ax.set_ylabel("stimulus", rotation=0, ha="right", va="center", fontsize=9)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if not epochs:
        _note(ax, "no stimulus tables in this store (/stimulus)")
        return
    span = max(e.stop for e in epochs) - min(e.start for e in epochs) or 1.0
    fig = ax.get_figure()
    width_pt = 72 * 0.88 * (fig.get_figwidth() if fig is not None else 13.0)
    labelled_until = -np.inf
    for e in epochs:
        ax.axvspan(e.start, e.stop, 0.1, 0.9, color=colours[e.stimulus], alpha=0.85, linewidth=0)
        label = _label(e.stimulus, int(width_pt * (e.stop - e.start) / span / _CHAR_PT))
        if label and e.start >= labelled_until:  # overlapping epochs (damaged files) keep the first label
            labelled_until = e.stop
            ax.text((e.start + e.stop) / 2, 0.5, label, ha="center", va="center", fontsize=7, color="white",
                    clip_on=True)
    handles = [_patch(colour, name) for name, colour in colours.items()]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(handles), frameon=False,
              fontsize=8, handlelength=1.2, borderaxespad=0.1)


def _label(name: str, room: int) -> str:
    """The longest of ``name``, a shorter form and nothing that fits ``room`` characters.

    >>> _label("natural_movie_one", 40), _label("natural_movie_one", 10), _label("natural_movie_one", 3)
    ('natural_movie_one', 'movie one', '')
    """
    short = name.replace("natural_", "").replace("locally_sparse_noise", "LSN").replace("_", " ")
    for text in (name, short, short.split(" ")[0]):
        if len(text) <= room:
            return text
    return ""


def _patch(colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)


def _shade_epochs(ax: Axes, epochs: list[pdata.Epoch], colours: dict[str, str]) -> None:
    for e in epochs:
        ax.axvspan(e.start, e.stop, color=colours[e.stimulus], alpha=0.12, linewidth=0, zorder=0)


def _draw_dff(ax: Axes, dt: xr.DataTree, columns: int) -> None:
    from matplotlib.ticker import MaxNLocator

    found = pdata.dff(dt)
    ax.set_ylabel("ROI")
    if found is None or found[0].sizes["roi"] == 0:
        _note(ax, "no dF/F in this store (/ophys/dff)")
        ax.set_yticks([])
        return
    array, dim, times = found
    b = pdata.binned(array, dim, times, max_columns=columns)
    n_roi = b.mean.shape[0]
    lo, hi = pdata.robust_range(b.mean)
    half = (b.stop - b.start) / max(1, b.mean.shape[1] - 1) / 2 if b.mean.shape[1] > 1 else 0.5
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    image = ax.imshow(b.mean, aspect="auto", interpolation="nearest", cmap="magma", vmin=lo, vmax=hi,
                      extent=(b.centres[0] - half, b.centres[-1] + half, n_roi - 0.5, -0.5))
    every = f"{b.block} frames" if b.block > 1 else "no averaging"
    ax.set_title(f"dF/F, {n_roi} ROIs x {array.sizes[dim]} frames (block means: {every})", fontsize=10,
                 loc="left")
    bar = ax.inset_axes((1.005, 0.0, 0.012, 1.0))
    fig = ax.get_figure()
    if fig is not None:
        fig.colorbar(image, cax=bar, label="dF/F (1st-99th pct)")


def _draw_series(ax: Axes, found: tuple[xr.DataArray, np.ndarray] | None, columns: int, label: str, title: str,
                 colour: str, *, missing: str | None = None) -> None:
    ax.set_ylabel(label, fontsize=9)
    if found is None:
        _note(ax, missing or f"no {title} in this store")
        ax.set_yticks([])
        return
    array, times = found
    b = pdata.binned(array, "time", times, max_columns=columns)
    if b.low is not None and b.high is not None and b.block > 1:
        ax.fill_between(b.centres, b.low, b.high, color=colour, alpha=0.25, linewidth=0, label="block range")
    ax.plot(b.centres, b.mean, color=colour, linewidth=0.8, marker="." if len(b.centres) < 50 else None,
            label="block mean" if b.block > 1 else title)
    ax.set_title(title + (f" (block means of {b.block} samples, range shaded)" if b.block > 1 else ""),
                 fontsize=10, loc="left")
    ax.margins(x=0)


def _set_time_limits(ax: Axes, dt: xr.DataTree, epochs: list[pdata.Epoch]) -> None:
    bounds: list[float] = []
    times = pdata.frame_times(dt)
    if times is not None and len(times):
        bounds += [float(np.nanmin(times)), float(np.nanmax(times))]
    for group, name in (("behavior/running_speed", "running_speed"), ("behavior/eye_tracking", "pupil_size")):
        found = pdata.series(dt, group, name)
        if found is not None:
            bounds += [float(np.nanmin(found[1])), float(np.nanmax(found[1]))]
    bounds += [e.start for e in epochs] + [e.stop for e in epochs]
    finite = [b for b in bounds if np.isfinite(b)]
    if finite and max(finite) > min(finite):
        ax.set_xlim(min(finite), max(finite))
