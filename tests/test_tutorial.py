"""docs/tutorial.md, executed: every ```python block runs, in order, in one namespace, on a converted synthetic
three_session_B session; what a block prints must equal the ```text block right after it (when there is one);
and the tutorial's results are checked against the source file read with plain h5py (not with nwb1zarr).
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import nwb1zarr
from nwb1zarr.testing import SessionSpec, write_session

pytest.importorskip("pandas")
matplotlib = pytest.importorskip("matplotlib")

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
STORE_LINE = 'STORE = "570014520.zarr"'
PIPELINE = "/processing/brain_observatory_pipeline"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.DOTALL | re.MULTILINE)


@dataclass
class Block:
    """One ```python block, the ```text block right after it (None if there is none), and its line."""

    code: str
    expected: str | None
    line: int


def tutorial_blocks(text: str) -> list[Block]:
    """The python blocks of a Markdown text, each with the text block that follows it (only blank lines between)."""
    fences = list(_FENCE.finditer(text))
    blocks = []
    for i, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        following = fences[i + 1] if i + 1 < len(fences) else None
        expected = None
        if following is not None and following.group(1) == "text" and not text[fence.end():following.start()].strip():
            expected = following.group(2)
        blocks.append(Block(fence.group(2), expected, text.count("\n", 0, fence.start()) + 1))
    return blocks


def run_tutorial(store: Path) -> tuple[dict[str, Any], list[tuple[Block, str]]]:
    """Run every python block of the tutorial on ``store``; the namespace and what each block printed."""
    text = TUTORIAL.read_text()
    assert text.count(STORE_LINE) == 1, f"the tutorial must set the store in one line: {STORE_LINE}"
    text = text.replace(STORE_LINE, f"STORE = {str(store)!r}")
    namespace: dict[str, Any] = {"__name__": "tutorial"}
    printed = []
    for block in tutorial_blocks(text):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(block.code, f"{TUTORIAL.name}:{block.line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"docs/tutorial.md block at line {block.line} failed: "
                                 f"{type(exc).__name__}: {exc}\n{block.code}") from exc
        printed.append((block, out.getvalue()))
    return namespace, printed


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The synthetic session of ``nwb1zarr demo`` (three_session_B, tiny, seed 0) and its store."""
    root = tmp_path_factory.mktemp("tutorial")
    src = write_session(root / "demo_three_session_B.nwb", SessionSpec.tiny(session_type="three_session_B"))
    dst = root / "demo_three_session_B.zarr"
    nwb1zarr.convert(src, dst)
    return Path(src), dst


@pytest.fixture(scope="module")
def tutorial(session: tuple[Path, Path]) -> tuple[dict[str, Any], list[tuple[Block, str]]]:
    matplotlib.use("Agg")  # no display; the tutorial's figures are drawn and closed
    return run_tutorial(session[1])


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def test_every_block_runs_and_prints_what_the_tutorial_shows(tutorial):
    _, printed = tutorial
    assert len(printed) >= 15
    shown = [(block, out) for block, out in printed if block.expected is not None]
    assert len(shown) >= 12, "most blocks show their output"
    for block, out in shown:
        assert out == block.expected, (f"docs/tutorial.md block at line {block.line} printed\n{out}\n"
                                       f"not\n{block.expected}")


def test_synthetic_outputs_are_marked_as_such():
    text = TUTORIAL.read_text()
    assert "outputs shown here come from a synthetic session" in text
    assert "nwb1zarr demo" in text


def test_metadata_stimuli_and_movie_table_match_the_source(tutorial, session):
    ns, _ = tutorial
    with h5py.File(session[0], "r") as f:
        assert ns["dt"].attrs["identifier"] == _text(f["identifier"][()])
        assert ns["metadata"]["session_type"] == _text(f["general/session_type"][()])
        names = sorted(k.removesuffix("_stimulus") for k in f["stimulus/presentation"])
        assert ns["stimuli"] == names
        movie = f["stimulus/presentation/natural_movie_one_stimulus"]
        np.testing.assert_array_equal(ns["stim_table"]["data"].to_numpy(), movie["data"][()])
        np.testing.assert_array_equal(ns["stim_table"]["timestamps"].to_numpy(), movie["timestamps"][()])
        stack = f["stimulus/templates/natural_movie_one_image_stack/data"]
        np.testing.assert_array_equal(ns["image"].values, stack[int(movie["data"][0])])


def test_imaging_plane_and_containers_match_the_source(tutorial, session):
    ns, _ = tutorial
    with h5py.File(session[0], "r") as f:
        series = f["acquisition/timeseries/2p_image_series"]
        np.testing.assert_array_equal(ns["dimension"], series["dimension"][()])
        np.testing.assert_array_equal(ns["field_of_view"], series["field_of_view"][()])
        assert ns["two_photon_series"].attrs["nwb1:description"] == _text(series.attrs["description"])
        plane = f["general/optophysiology/imaging_plane_1"]
        assert ns["imaging_plane"]["excitation_lambda"].item() == _text(plane["excitation_lambda"][()])
        assert ns["containers"] == sorted(f[PIPELINE])


def test_behaviour_masks_and_dff_match_the_source(tutorial, session):
    ns, _ = tutorial
    with h5py.File(session[0], "r") as f:
        speed = f[f"{PIPELINE}/BehavioralTimeSeries/running_speed"]
        np.testing.assert_array_equal(ns["speed"].values, speed["data"][()].reshape(-1))
        pupil = f[f"{PIPELINE}/PupilTracking/pupil_size/data"][()]
        np.testing.assert_array_equal(ns["eye"]["pupil_size"].values, pupil)
        segmentation = f[f"{PIPELINE}/ImageSegmentation/imaging_plane_1"]
        rois = [_text(r) for r in segmentation["roi_list"][()]]
        total = sum(segmentation[f"{roi}/img_mask"][()].astype(np.float64) for roi in rois)
        np.testing.assert_allclose(ns["segmentation_mask"].values, total, rtol=1e-6)
        dff = f[f"{PIPELINE}/DfOverF/imaging_plane_1"]
        np.testing.assert_array_equal(ns["dff"].values, dff["data"][()])
        np.testing.assert_array_equal(ns["dff"]["time"].values, dff["timestamps"][()])


def test_running_speed_on_the_fluorescence_clock_matches_the_source(tutorial, session):
    ns, _ = tutorial
    with h5py.File(session[0], "r") as f:
        speed = f[f"{PIPELINE}/BehavioralTimeSeries/running_speed"]
        clock = f[f"{PIPELINE}/DfOverF/imaging_plane_1/timestamps"][()]
        expected = np.full(len(clock), np.nan)
        where = {t: i for i, t in enumerate(clock)}
        for t, v in zip(speed["timestamps"][()], speed["data"][()].reshape(-1), strict=True):
            expected[where[t]] = v
    np.testing.assert_array_equal(ns["running_speed"].values, expected)


def test_epoch_table_matches_the_source_frame_durations(tutorial, session):
    ns, _ = tutorial
    threshold = 15  # AllenSDK's gap for three_session_B
    expected = []
    with h5py.File(session[0], "r") as f:
        for key in sorted(f["stimulus/presentation"]):
            series = f[f"stimulus/presentation/{key}"]
            frames = series["frame_duration"][()].astype(np.int64)
            if series.attrs["ancestry"][-1] in (b"IntervalSeries", "IntervalSeries"):  # +1 opens, -1 closes
                sign = series["data"][()]
                frames = np.column_stack([frames[sign > 0, 0], frames[sign < 0, 0]])
            frames = frames[np.lexsort((frames[:, 1], frames[:, 0]))]
            cuts = np.flatnonzero(frames[1:, 0] - frames[:-1, 1] > threshold) + 1
            for part in np.split(frames, cuts):
                expected.append((int(part[0, 0]), key.removesuffix("_stimulus"), int(part[-1, 1])))
    got = ns["epoch_table"]
    assert list(got.columns) == ["stimulus", "start", "end"]
    assert [(s, n, e) for n, s, e in got.itertuples(index=False)] == sorted(expected)


def test_selection_by_cell_specimen_id_matches_the_source(tutorial, session):
    ns, _ = tutorial
    with h5py.File(session[0], "r") as f:
        ids = f[f"{PIPELINE}/ImageSegmentation/cell_specimen_ids"][()]
        dff = f[f"{PIPELINE}/DfOverF/imaging_plane_1/data"][()]
    wanted = ns["cell_ids"][2]
    np.testing.assert_array_equal(ns["one_cell"].values, dff[int(np.flatnonzero(ids == wanted)[0])])
    assert ns["one_cell"].dims == ("time",)
    rows = [int(np.flatnonzero(ids == c)[0]) for c in (ns["cell_ids"][4], ns["cell_ids"][0])]
    np.testing.assert_array_equal(ns["two_cells"]["dff"].values, dff[rows])
    assert "roi" in ns["two_cells"]["dff"].dims, "selection keeps roi as the dimension (no swap_dims)"
