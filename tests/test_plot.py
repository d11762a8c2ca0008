"""``nwb1zarr plot`` / :func:`nwb1zarr.plot.session_summary`: the picture of a converted session.

Renders PNG and PDF from converted synthetic stores (complete, without eye tracking, without masks and a
stimulus, a generic-profile store), checks the files and the figure's panels, the bounded block reduction,
and the one-line error without matplotlib.
"""

from __future__ import annotations

import shutil
import struct
import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from click.testing import CliRunner

import nwb1zarr
from nwb1zarr import plot_data
from nwb1zarr.cli import main
from nwb1zarr.errors import StoreError
from nwb1zarr.testing import VARIANTS, write_generic_nwb1, write_session

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _matplotlib() -> None:
    pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Converted tiny sessions: B (complete), A without eye tracking, and a generic-profile store."""
    root = tmp_path_factory.mktemp("plot")
    out = {}
    for name in ("B", "A_no_eye"):
        src = write_session(root / f"{name}.nwb", VARIANTS[name])
        out[name] = root / f"{name}.zarr"
        nwb1zarr.convert(src, out[name])
    out["generic"] = root / "generic.zarr"
    nwb1zarr.convert(write_generic_nwb1(root / "generic.nwb", seed=0), out["generic"])
    return out


def _without(store: Path, dst: Path, *groups: str) -> Path:
    """A copy of ``store`` without ``groups`` (consolidated metadata rewritten)."""
    shutil.copytree(store, dst)
    root = zarr.open_group(dst, mode="r+", use_consolidated=False)
    for group in groups:
        del root[group]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(dst)
    return dst


def _titles(fig) -> list[str]:
    return [t for ax in fig.axes for t in (ax.get_title(), ax.get_title(loc="left")) if t]


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png_of_a_complete_session(stores, tmp_path):
    _matplotlib()
    from nwb1zarr.plot import session_summary

    out = tmp_path / "b.png"
    fig = session_summary(stores["B"], path=out, dpi=100)
    data = out.read_bytes()
    assert len(data) > 50_000
    width, height = _png_size(data)
    assert (width, height) == (round(fig.get_figwidth() * 100), round(fig.get_figheight() * 100))
    assert width >= 1200 and height >= 1000
    titles = _titles(fig)
    assert "max projection, 6 of 6 ROI outlines" in titles
    assert "natural_movie_one, frame 0 (3 x 6)" in titles
    assert any(t.startswith("natural_scenes, frame 0") for t in titles)
    assert any(t.startswith("dF/F, 6 ROIs x 2400 frames") for t in titles)
    assert any(t.startswith("running speed") for t in titles)
    assert any(t.startswith("pupil size") for t in titles)
    assert fig.axes[-1].get_xlabel() == "time (s, session clock)" or any(
        ax.get_xlabel() == "time (s, session clock)" for ax in fig.axes)
    legend = next(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)
    assert [t.get_text() for t in legend.get_texts()] == ["natural_movie_one", "natural_scenes", "spontaneous",
                                                          "static_gratings"]
    assert "ophys experiment" in fig.get_suptitle() and "three_session_B" in fig.get_suptitle()
    assert not any(t.startswith("no ") for t in _texts(fig)), "nothing is missing from a complete store"


def test_pdf_from_the_command_line(stores, tmp_path):
    _matplotlib()
    out = tmp_path / "b.pdf"
    result = CliRunner().invoke(main, ["plot", str(stores["B"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {out}"
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(data) > 20_000


def test_store_without_eye_tracking(stores, tmp_path):
    _matplotlib()
    from nwb1zarr.plot import session_summary

    fig = session_summary(stores["A_no_eye"], path=tmp_path / "a.png")
    assert "no eye tracking in this store (/behavior/eye_tracking)" in _texts(fig)
    assert not any(t.startswith("pupil size") for t in _titles(fig))
    assert any(t.startswith("running speed") for t in _titles(fig))
    assert any(t.startswith("natural_movie_three, frame 0") for t in _titles(fig))
    assert _png_size((tmp_path / "a.png").read_bytes())[0] > 1000


def test_store_without_masks_and_a_stimulus(stores, tmp_path):
    _matplotlib()
    from nwb1zarr.plot import session_summary

    store = _without(stores["B"], tmp_path / "cut.zarr", "rois/mask", "stimulus/natural_scenes")
    fig = session_summary(store, path=tmp_path / "cut.png")
    titles = _titles(fig)
    assert "max projection (no ROI masks: /rois/mask absent)" in titles
    assert not any(t.startswith("natural_scenes") for t in titles)
    legend = next(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)
    assert "natural_scenes" not in [t.get_text() for t in legend.get_texts()]
    assert (tmp_path / "cut.png").stat().st_size > 20_000


def test_store_with_only_traces(stores, tmp_path):
    _matplotlib()
    from nwb1zarr.plot import session_summary

    store = _without(stores["B"], tmp_path / "bare.zarr", "rois", "stimulus", "behavior")
    fig = session_summary(store, path=tmp_path / "bare.png")
    notes = _texts(fig)
    assert "no stimulus tables in this store (/stimulus)" in notes
    assert "no max projection or ROI masks\nin this store (/rois)" in notes
    assert any(t.startswith("dF/F, 6 ROIs") for t in _titles(fig))


def test_generic_store_says_so_in_one_line(stores, tmp_path):
    _matplotlib()
    from nwb1zarr.plot import session_summary

    with pytest.raises(StoreError, match="nothing to plot: a generic_nwb1 store"):
        session_summary(stores["generic"])
    result = CliRunner().invoke(main, ["plot", str(stores["generic"]), "-o", str(tmp_path / "g.png")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {stores['generic']}: nothing to plot")
    assert not (tmp_path / "g.png").exists()


def test_bad_arguments(stores, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["plot", str(stores["B"]), "-o", str(tmp_path / "x.svg")])
    assert result.exit_code == 2 and "expected a .png or .pdf file name" in result.output
    result = runner.invoke(main, ["plot", str(tmp_path / "missing.zarr"), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {tmp_path / 'missing.zarr'}: no such store"


def test_without_matplotlib_one_line_names_the_extra(stores, tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    from nwb1zarr.plot import MissingExtraError, session_summary

    with pytest.raises(MissingExtraError, match=r"pip install 'nwb1zarr\[plot\]'"):
        session_summary(stores["B"])
    result = CliRunner().invoke(main, ["plot", str(stores["B"]), "-o", str(tmp_path / "b.png")])
    assert result.exit_code == 2
    assert result.output.strip() == "error: plotting needs matplotlib, an optional extra: pip install 'nwb1zarr[plot]'"


def _reference_means(values: np.ndarray, block: int) -> np.ndarray:
    n = values.shape[-1]
    out = []
    for first in range(0, n, block):
        part = values[..., first:first + block].astype(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out.append(np.nanmean(part, axis=-1))
    return np.stack(out, axis=-1)


@pytest.mark.parametrize("max_bytes", [1, 1000, 64_000, 10**9])
def test_block_means_do_not_depend_on_the_read_size(max_bytes):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(7, 1003)).astype(np.float32)
    values[2, 10:40] = np.nan
    values[:, 500:] = np.nan  # whole blocks with no finite value stay NaN
    times = np.arange(1003) / 30
    array = xr.DataArray(values, dims=("roi", "time"))
    b = plot_data.binned(array, "time", times, max_columns=50, max_bytes=max_bytes)
    assert b.block == 21 and b.mean.shape == (7, 48)
    np.testing.assert_allclose(b.mean, _reference_means(values, 21), rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(b.centres, _reference_means(times, 21))
    assert (b.start, b.stop) == (0.0, times[-1])


def test_block_extremes_of_a_series():
    values = np.array([1.0, 5.0, np.nan, np.nan, -2.0, 3.0, 7.0])
    b = plot_data.binned(xr.DataArray(values, dims="time"), "time", np.arange(7.0), max_columns=4)
    assert b.block == 2
    np.testing.assert_array_equal(b.low, [1.0, np.nan, -2.0, 7.0])
    np.testing.assert_array_equal(b.high, [5.0, np.nan, 3.0, 7.0])


def test_block_means_read_in_bounded_slices():
    values = np.random.default_rng(1).normal(size=(200, 40_000)).astype(np.float32)  # 32 MB
    array = xr.DataArray(values, dims=("roi", "time"))
    times = np.arange(40_000) / 30
    tracemalloc.start()
    try:
        b = plot_data.binned(array, "time", times, max_columns=1000, max_bytes=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert b.mean.shape == (200, 1000)
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB while reducing a 32 MB array in 1 MiB slices"


def test_epochs_follow_the_presentation_tables(stores):
    dt = xr.open_datatree(stores["B"], engine="zarr")
    try:
        epochs = plot_data.stimulus_epochs(dt)
        times = dt["ophys/time"].values
        movie = dt["stimulus/natural_movie_one"].to_dataset()
        spontaneous = dt["stimulus/spontaneous"].to_dataset()
    finally:
        dt.close()
    assert [e.stimulus for e in epochs] == ["static_gratings", "natural_scenes", "spontaneous", "natural_scenes",
                                            "static_gratings", "natural_movie_one", "natural_scenes",
                                            "static_gratings"]
    (movie_epoch,) = [e for e in epochs if e.stimulus == "natural_movie_one"]
    assert movie_epoch.start == movie["time"].values[0]
    assert movie_epoch.stop == times[movie["end"].values[-1]]
    assert movie_epoch.presentations == movie.sizes["presentation"]
    (spont,) = [e for e in epochs if e.stimulus == "spontaneous"]
    assert (spont.start, spont.stop) == (spontaneous["time"].values[0], spontaneous["end_time"].values[0])


def test_real_shrunk_file_still_draws(tmp_path):
    """The real file cut to one element per dataset: no masks, one-sample everything; it still draws."""
    _matplotlib()
    real = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "496908818s.nwb"
    if not real.exists():
        pytest.skip(f"{real} is absent (CI has ../shared beside the clone)")
    from nwb1zarr.plot import session_summary

    store = tmp_path / "real.zarr"
    nwb1zarr.convert(real, store)
    fig = session_summary(store, path=tmp_path / "real.png")
    assert "max projection (no ROI masks: /rois/mask absent)" in _titles(fig)
    assert (tmp_path / "real.png").read_bytes()[:8] == PNG_MAGIC
