"""Irregular Brain Observatory trees written by an independent writer (``irregular_trees``), not nwb1zarr.testing.

The contract, for every file: ``convert`` either succeeds or raises an ``Nwb1ZarrError`` (one line, naming the
file, never an "internal error", nothing left at the destination); after a success every problem is a
non-empty one-line string, ``validate(src, dst).ok`` holds and the store opens with xarray. The example tests
(one per family of irregularity) add, where the source is inconsistent in a way the profile cannot map, that
the inconsistency is reported as a problem (``../shared/data/real/README.md``: "report each inconsistency").

Hypothesis runs derandomized (reproducible in CI) and without the shrink phase, so a failing run stays within
its time budget; ``TreeSpec`` reprs list only the knobs that differ from a regular tree, so an unshrunk example
is still short. ``NWB1ZARR_IRREGULAR_EXAMPLES`` (default 10) sets the number of examples and
``NWB1ZARR_IRREGULAR_SHRINK=1`` turns shrinking back on for local debugging.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from irregular_trees import (
    DEFAULT_STIMULI,
    LABELS,
    PLANE,
    SEG,
    SERIES,
    RegularSpec,
    StimulusSpec,
    TreeSpec,
    series_path,
    stimulus_path,
    with_stimulus,
    write_tree,
)

import nwb1zarr
from nwb1zarr import ConversionReport
from nwb1zarr.errors import Nwb1ZarrError

EXAMPLES = int(os.environ.get("NWB1ZARR_IRREGULAR_EXAMPLES", "10"))
PHASES = tuple(Phase) if os.environ.get("NWB1ZARR_IRREGULAR_SHRINK") else (Phase.explicit, Phase.generate)
REAL_FILE = Path(__file__).parents[1] / ".." / "shared" / "data" / "real" / "496908818s.nwb"
GENERIC = frozenset({"/general/session_type"})  # without it the brain_observatory_ophys profile does not apply
S = DEFAULT_STIMULI


# ---- the contract ----------------------------------------------------------------------------------


def check_conversion(src: Path, dst: Path) -> ConversionReport | None:
    """Convert ``src``; return the report after a checked success, or None after a clean Nwb1ZarrError."""
    try:
        report = nwb1zarr.convert(src, dst, overwrite=True)
    except Nwb1ZarrError as exc:
        text = str(exc)
        assert "internal error" not in text, f"convert hit an internal error: {text}"
        assert text.strip() and "\n" not in text, f"error message is not one non-empty line: {text!r}"
        assert str(src) in text, f"error message does not name the file: {text}"
        assert not dst.exists(), f"a failed conversion left {dst} behind"
        return None
    except Exception as exc:
        raise AssertionError(f"convert raised {type(exc).__name__}, not an Nwb1ZarrError: {exc}") from exc
    bad = [p for p in report.problems if not isinstance(p, str) or not p.strip() or "\n" in p]
    assert not bad, f"problems that are not non-empty one-line strings: {bad!r}"
    validation = nwb1zarr.validate(src, dst)
    assert validation.ok, validation.summary()
    xr.open_datatree(dst, engine="zarr").close()
    return report


def convert_case(tmp_path: Path, spec: TreeSpec, *, inconsistent: bool) -> ConversionReport | None:
    """Write ``spec``, check the contract; when ``inconsistent`` a successful conversion must report a problem."""
    src = write_tree(tmp_path / "irregular.nwb", spec)
    report = check_conversion(src, tmp_path / "irregular.zarr")
    if report is not None and inconsistent:
        assert report.problems, f"{spec!r}: converted without reporting the inconsistency"
    return report


# ---- Hypothesis strategies over the writer's knobs ----------------------------------------------------

SERIES_KEYS = st.sampled_from(sorted(SERIES))
STIMULUS_NAMES = st.sampled_from([s.name for s in S])
DELTAS = st.integers(-2, 2).filter(bool)
TIME_STYLES = st.sampled_from(["nan", "inf", "reversed", "repeated"])
ENCODINGS = st.sampled_from(["fixed", "vlen-ascii", "vlen-utf8"])
FEATURE_NAMES = st.sampled_from(["orientation", "spatial_frequency", "phase", "time", "start", "end",
                                 "presentation", "", "a/b", ".", "..", "x.y", "Δφ", "ü", "x_motion"])
MEMBERS = ["timestamps", "data", "frame_duration"]
OMITTABLE = sorted({f"{PLANE}/roi_0001", f"{PLANE}/roi_0000/img_mask", f"{PLANE}/roi_0001/pix_mask",
                    f"{PLANE}/roi_0000/pix_mask_weight", f"{PLANE}/roi_list",
                    series_path("motion", "feature_description"),
                    stimulus_path("static_gratings", "features"), series_path("demixed"), *GENERIC,
                    *(series_path(k, "timestamps") for k in SERIES),
                    *(stimulus_path(s.name, m) for s in S for m in ("timestamps", "frame_duration"))})
ZERO_D = sorted({*(series_path(k, m) for k in SERIES for m in ("timestamps", "data")),
                 *(stimulus_path(s.name, m) for s in S for m in MEMBERS),
                 stimulus_path("static_gratings", "features"), f"{PLANE}/roi_list",
                 f"{SEG}/cell_specimen_ids"})
REGULAR = st.builds(RegularSpec, n=st.integers(0, 6), starting_time=st.sampled_from(["scalar", "array1"]),
                    rate=st.sampled_from(["float", "int", "array1", "string", "missing"]))
FAMILIES = ("lengths", "missing", "names", "scalars", "regular_time", "times", "spontaneous", "masks", "encodings")


def _change(draw: st.DrawFn, stimuli: dict[str, StimulusSpec], name: str, **options: st.SearchStrategy) -> None:
    """Draw a non-empty subset of ``options`` and apply it to stimulus ``name``."""
    keys = draw(st.sets(st.sampled_from(sorted(options)), min_size=1))
    stimuli[name] = replace(stimuli[name], **{k: draw(options[k]) for k in keys})


@st.composite
def tree_specs(draw: st.DrawFn) -> TreeSpec:
    """A small session with one to three families of irregularity."""
    kw: dict = {"n_rois": draw(st.integers(2, 5)), "n_frames": draw(st.sampled_from([0, 1, 5, 12, 30]))}
    stimuli = {s.name: s for s in S}
    for family in sorted(draw(st.sets(st.sampled_from(FAMILIES), min_size=1, max_size=3))):
        if family == "lengths":
            kw["time_delta"] = draw(st.dictionaries(SERIES_KEYS, DELTAS, max_size=2))
            kw["label_delta"] = draw(st.dictionaries(st.sampled_from(LABELS), DELTAS, max_size=2))
            _change(draw, stimuli, draw(STIMULUS_NAMES), time_delta=DELTAS, frame_duration_delta=DELTAS)
            _change(draw, stimuli, "static_gratings", columns=st.integers(0, 5))
            if draw(st.booleans()):
                kw["regular"] = (RegularSpec(n=0),)
        elif family == "missing":
            kw["omit"] = frozenset(draw(st.sets(st.sampled_from(OMITTABLE), min_size=1, max_size=3)))
            if draw(st.booleans()):
                kw["roi_names"] = tuple(draw(st.lists(st.integers(0, 7).map("roi_{:04d}".format), max_size=6)))
        elif family == "names":
            _change(draw, stimuli, "static_gratings", features=st.lists(FEATURE_NAMES, max_size=4).map(tuple),
                    features_encoding=ENCODINGS, columns=st.integers(0, 4))
            kw["motion_features"] = tuple(draw(st.lists(FEATURE_NAMES, min_size=2, max_size=2)))
            kw["compound_at"] = draw(st.sampled_from([None, "/analysis", "/general", PLANE,
                                                      stimulus_path("static_gratings"), series_path("dff")]))
        elif family == "scalars":
            kw["zero_d"] = frozenset(draw(st.sets(st.sampled_from(ZERO_D), min_size=1, max_size=2)))
        elif family == "regular_time":
            kw["regular"] = tuple(draw(st.lists(REGULAR, min_size=1, max_size=3)))
            kw["omit"] = kw.get("omit", frozenset()) | (GENERIC if draw(st.booleans()) else frozenset())
        elif family == "times":
            kw["time_style"] = draw(st.dictionaries(SERIES_KEYS, TIME_STYLES, max_size=2))
            kw["n_samples"] = draw(st.dictionaries(SERIES_KEYS, st.integers(0, 2), max_size=2))
            _change(draw, stimuli, draw(STIMULUS_NAMES), time_style=TIME_STYLES, n=st.integers(0, 2))
        elif family == "spontaneous":
            _change(draw, stimuli, "spontaneous", events=st.lists(st.sampled_from([1, -1]), max_size=5).map(tuple),
                    frame_duration=st.sampled_from(["int", "float", "fractional"]))
            _change(draw, stimuli, draw(STIMULUS_NAMES), frame_duration=st.sampled_from(["int", "float", "fractional"]))
        elif family == "masks":
            kw["orientation"] = draw(st.sampled_from(["spec", "transposed", "neither"]))
        else:
            kw.update(general_encoding=draw(ENCODINGS), general_as_array=draw(st.booleans()),
                      type_attrs=draw(st.sampled_from(["real", "fixed", "vlen"])), roi_list_encoding=draw(ENCODINGS))
    return TreeSpec(stimuli=tuple(stimuli.values()), **kw)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, phases=PHASES,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=tree_specs())
def test_irregular_trees_convert_or_fail_cleanly(spec: TreeSpec, tmp_path: Path) -> None:
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    try:
        src = write_tree(case / "irregular.nwb", spec)
        check_conversion(src, case / "irregular.zarr")
    finally:
        shutil.rmtree(case, ignore_errors=True)


# ---- examples, one test per family --------------------------------------------------------------------


def test_regular_tree_converts_without_problems(tmp_path: Path) -> None:
    """The writer's baseline: without knobs the session maps completely (else every family test is suspect)."""
    report = convert_case(tmp_path, TreeSpec(), inconsistent=False)
    assert report is not None and report.profile == "brain_observatory_ophys"
    assert report.problems == []


@pytest.mark.parametrize(("spec", "inconsistent"), [
    pytest.param(TreeSpec(time_delta={"fluorescence": 1}), False, id="group clock 1 longer than traces"),
    pytest.param(TreeSpec(label_delta={"roi_list": -1}), True, id="roi_list shorter than ROIs"),
    pytest.param(TreeSpec(label_delta={"cell_specimen_ids": -1}), True, id="cell_specimen_ids shorter"),
    pytest.param(TreeSpec(label_delta={"roi_ids": 1}), True, id="roi_ids longer"),
    pytest.param(TreeSpec(label_delta={"rows": -1}), True, id="fewer trace rows than ROIs"),
    pytest.param(TreeSpec(stimuli=with_stimulus(S, "natural_scenes", frame_duration_delta=-1)), True,
                 id="frame_duration 1 row short"),
    pytest.param(TreeSpec(stimuli=with_stimulus(S, "static_gratings", time_delta=1)), False,
                 id="presentation timestamps 1 longer than data"),
    pytest.param(TreeSpec(stimuli=with_stimulus(S, "static_gratings", features=("orientation", "phase"), columns=3)),
                 True, id="features shorter than data columns"),
    pytest.param(TreeSpec(stimuli=with_stimulus(S, "static_gratings", columns=2)), True,
                 id="features longer than data columns"),
    pytest.param(TreeSpec(motion_features=("x_motion", "y_motion", "z_motion")), True,
                 id="feature_description longer than motion columns"),
])
def test_inconsistent_lengths(spec: TreeSpec, inconsistent: bool, tmp_path: Path) -> None:
    convert_case(tmp_path, spec, inconsistent=inconsistent)


@pytest.mark.parametrize("omit", [
    pytest.param(f"{PLANE}/roi_0001", id="roi_list names a missing roi group"),
    pytest.param(f"{PLANE}/roi_0001/img_mask", id="roi without img_mask"),
    pytest.param(f"{PLANE}/roi_0001/pix_mask", id="roi without pix_mask"),
    pytest.param(series_path("fluorescence", "timestamps"), id="group clock timestamps missing"),
    pytest.param(stimulus_path("static_gratings", "features"), id="features missing"),
    pytest.param(stimulus_path("natural_scenes", "frame_duration"), id="frame_duration missing"),
])
def test_missing_members(omit: str, tmp_path: Path) -> None:
    convert_case(tmp_path, TreeSpec(omit=frozenset({omit})), inconsistent=True)


@pytest.mark.parametrize("spec", [
    pytest.param(TreeSpec(stimuli=with_stimulus(S, "static_gratings", features=("phase", "phase", "orientation"))),
                 id="feature named twice"),
    pytest.param(TreeSpec(stimuli=with_stimulus(S, "static_gratings", features=("time", "start", "end",
                                                                                  "presentation"))),
                 id="features named time start end presentation"),
    pytest.param(TreeSpec(stimuli=with_stimulus(S, "static_gratings", features=("", "a/b", ".", "x.y", "Δφ"),
                                                features_encoding="vlen-utf8")),
                 id="features empty, with slash, dots, non-ASCII"),
    pytest.param(TreeSpec(compound_at="/analysis"), id="compound x field y next to dataset x.y"),
])
def test_duplicate_and_colliding_names(spec: TreeSpec, tmp_path: Path) -> None:
    convert_case(tmp_path, spec, inconsistent=False)


@pytest.mark.parametrize("path", [
    pytest.param(series_path("fluorescence", "timestamps"), id="scalar group clock"),
    pytest.param(series_path("running_speed", "data"), id="scalar running speed data"),
    pytest.param(stimulus_path("spontaneous", "data"), id="scalar spontaneous data"),
])
def test_scalar_where_an_axis_is_expected(path: str, tmp_path: Path) -> None:
    convert_case(tmp_path, TreeSpec(zero_d=frozenset({path})), inconsistent=True)


ALL_RATE_FORMS = (RegularSpec(n=0), *(RegularSpec(starting_time=s, rate=r)  # type: ignore[arg-type]
                                      for s in ("scalar", "array1")
                                      for r in ("float", "int", "array1", "string", "missing")))


def test_starting_time_and_rate_forms(tmp_path: Path) -> None:
    """All ten stored forms and an empty series in one file (the generic profile maps them; each series is named
    for its form); a string or missing rate must be reported."""
    report = convert_case(tmp_path, TreeSpec(regular=ALL_RATE_FORMS, omit=GENERIC), inconsistent=True)
    if report is not None:
        for form in ("string", "missing"):
            assert any(f"_{form}_" in p for p in report.problems), f"rate form {form!r} not reported"


@pytest.mark.parametrize("spec", [
    pytest.param(TreeSpec(n_frames=0, n_samples={"running_speed": 0, "motion": 0}, stimuli=tuple(
        StimulusSpec(s.name, s.kind, n=0, events=()) for s in S)), id="empty traces, series and presentations"),
    pytest.param(TreeSpec(time_style={"fluorescence": "nan", "running_speed": "inf"}), id="NaN and inf times"),
    pytest.param(TreeSpec(time_style={"fluorescence": "reversed", "motion": "repeated"},
                          stimuli=with_stimulus(S, "spontaneous", time_style="reversed")), id="non-monotonic times"),
])
def test_empty_series_and_odd_times(spec: TreeSpec, tmp_path: Path) -> None:
    convert_case(tmp_path, spec, inconsistent=False)


@pytest.mark.parametrize(("spec", "inconsistent"), [
    pytest.param(TreeSpec(stimuli=with_stimulus(S, "spontaneous", events=(1,))), True,
                 id="one row as in the real file"),
    pytest.param(TreeSpec(stimuli=with_stimulus(S, "spontaneous", events=(1, 1, -1))), True, id="two starts one end"),
    pytest.param(TreeSpec(stimuli=with_stimulus(with_stimulus(S, "static_gratings", frame_duration="fractional"),
                                                "spontaneous", frame_duration="fractional")), True,
                 id="frame_duration not integral (gratings, spontaneous)"),
    pytest.param(TreeSpec(stimuli=with_stimulus(with_stimulus(S, "static_gratings", frame_duration="int"),
                                                "natural_scenes", frame_duration="float")), False,
                 id="int and float frame_duration swapped"),
])
def test_spontaneous_and_frame_duration(spec: TreeSpec, inconsistent: bool, tmp_path: Path) -> None:
    convert_case(tmp_path, spec, inconsistent=inconsistent)


@pytest.mark.parametrize("orientation", ["transposed", "neither"])
def test_roi_mask_orientation(orientation: str, tmp_path: Path) -> None:
    """pix_mask transposed against img_mask, or matching neither way (the spec's orientation is the baseline)."""
    convert_case(tmp_path, TreeSpec(orientation=orientation), inconsistent=orientation == "neither")  # type: ignore[arg-type]
    # The store's column names follow what was verified, read back against plain h5py.
    seg = "/processing/brain_observatory_pipeline/ImageSegmentation/imaging_plane_1"
    with h5py.File(tmp_path / "irregular.nwb", "r") as f:
        names = [n.decode().rstrip("\x00") if isinstance(n, bytes) else n for n in f[f"{seg}/roi_list"][()]]
        pix = np.concatenate([f[f"{seg}/{n}/pix_mask"][()] for n in names])
    pixels = xr.open_datatree(tmp_path / "irregular.zarr", engine="zarr")["rois/pixels"]
    if orientation == "transposed":
        assert pixels.attrs["nwb1_pix_mask_orientation"] == "y,x"
        assert np.array_equal(pixels["y"].values, pix[:, 0]) and np.array_equal(pixels["x"].values, pix[:, 1])
    else:
        assert pixels.attrs["nwb1_pix_mask_orientation"] == "neither"
        assert "x" not in pixels and np.array_equal(pixels["pix_mask_0"].values, pix[:, 0])


@pytest.mark.parametrize("spec", [
    pytest.param(TreeSpec(general_as_array=True), id="general strings as 1-element arrays"),
    pytest.param(TreeSpec(general_encoding="vlen-utf8", type_attrs="fixed", roi_list_encoding="vlen-ascii"),
                 id="vlen metadata, fixed type attrs"),
])
def test_string_encodings(spec: TreeSpec, tmp_path: Path) -> None:
    convert_case(tmp_path, spec, inconsistent=False)


def test_real_shrunk_file(tmp_path: Path) -> None:
    """496908818s.nwb: converts, validates, and reports its shrinking artefacts (spontaneous, roi_list)."""
    if not REAL_FILE.is_file():
        pytest.skip(f"real file {REAL_FILE} absent (CI keeps ../shared beside the clone)")
    report = check_conversion(REAL_FILE, tmp_path / "496908818s.zarr")
    assert report is not None, "the real file must convert"
    assert report.problems, "the real file's inconsistencies are not reported"
    assert any("spontaneous" in p for p in report.problems), report.problems
    assert any("roi_list" in p for p in report.problems), report.problems
