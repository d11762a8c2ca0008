"""NWB 2 pre-releases (early pynwb, 2017-2018) that call themselves NWB 1.x: recognised and explained."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from nwb1zarr.errors import InputError
from nwb1zarr.reading import prerelease
from nwb1zarr.reading.legacy_tree import LegacyTree
from nwb1zarr.testing import write_generic_nwb1

HELP_FILE = "an NWB:N file for storing cellular-based neurophysiology data"
HELP_TS = "General time series object"


def _typed(group: h5py.Group, neurodata_type: str, **extra: object) -> h5py.Group:
    """Attributes the way early pynwb wrote them on every typed group."""
    group.attrs["neurodata_type"] = neurodata_type
    group.attrs["namespace"] = "core"
    for key, value in extra.items():
        group.attrs[key] = value
    return group


def write_pynwb0(path, *, version: str | None = "1.2.0", version_as_attr: bool = False, root_typed: bool = True):
    """A small file laid out as pynwb 0.x wrote it: typed root, /nwb_version dataset, ISO dates."""
    with h5py.File(path, "w") as f:
        if root_typed:
            _typed(f, "NWBFile", help=HELP_FILE, source="a test script")
        if version is not None and version_as_attr:
            f.attrs["nwb_version"] = version
        elif version is not None:
            f.create_dataset("nwb_version", data=version, dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("identifier", data="pynwb 0.x test file", dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("session_description", data="synthetic", dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("session_start_time", data="2017-04-03T11:00:00", dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("file_create_date", data=["2017-05-04T12:00:00.123456"],
                         dtype=h5py.string_dtype("utf-8"), maxshape=(None,))
        for name in ("general", "processing", "stimulus/presentation", "stimulus/templates", "analysis"):
            f.create_group(name)
        ts = _typed(f.create_group("acquisition/timeseries/lick"), "TimeSeries", help=HELP_TS,
                    source="lick sensor", description="no description", comments="no comments")
        data = ts.create_dataset("data", data=np.arange(5, dtype=np.float64))
        data.attrs.update(unit="volts", conversion=1.0, resolution=0.0)
        ts.create_dataset("timestamps", data=np.arange(5, dtype=np.float64) / 10).attrs.update(unit="Seconds",
                                                                                             interval=1)
        _typed(f.create_group("general/devices/amp"), "Device", help="A recording device e.g. amplifier",
               source="the rig")
    return path


@pytest.mark.parametrize("version", ["1.0.6", "1.2.0"])
def test_pynwb0_layout_is_detected_with_its_version(tmp_path, version):
    path = write_pynwb0(tmp_path / "pre.nwb", version=version)
    with h5py.File(path, "r") as f:
        text = prerelease.detect(f)
    assert text == (f"This is an NWB 2 pre-release, not NWB 1.0 (nwb_version '{version}', root neurodata_type "
                    f"'NWBFile', namespace 'core'), {prerelease.ERA}")
    assert "\n" not in text


def test_legacy_tree_accepts_a_prerelease_and_carries_the_description(tmp_path):
    path = write_pynwb0(tmp_path / "pre.nwb")
    with LegacyTree.open(path) as tree:
        assert tree.nwb2_prerelease is not None
        assert tree.nwb2_prerelease.startswith("This is an NWB 2 pre-release")
        assert "/acquisition/timeseries/lick/data" in tree.nodes


def test_version_as_root_attribute_is_a_prerelease_too(tmp_path):
    path = write_pynwb0(tmp_path / "pre.nwb", version="1.2.0", version_as_attr=True)
    with LegacyTree.open(path) as tree:
        assert "nwb_version '1.2.0'" in tree.nwb2_prerelease


def test_untyped_root_is_decided_by_its_groups(tmp_path):
    path = write_pynwb0(tmp_path / "pre.nwb", root_typed=False)
    with h5py.File(path, "r") as f:
        text = prerelease.detect(f)
    assert "2 groups typed by neurodata_type and namespace, none by NWB 1.0 ancestry" in text


def test_genuine_nwb1_is_not_a_prerelease(tmp_path):
    path = write_generic_nwb1(tmp_path / "generic.nwb", seed=0)
    with h5py.File(path, "r") as f:
        assert prerelease.detect(f) is None
    with LegacyTree.open(path) as tree:
        assert tree.nwb2_prerelease is None


def test_genuine_nwb1_saying_1_0_6_is_not_a_prerelease(tmp_path):
    """1.0.6 (April 2017) is a real NWB 1.0 release: the version string alone decides nothing."""
    path = write_generic_nwb1(tmp_path / "generic.nwb", seed=0)
    with h5py.File(path, "r+") as f:
        del f["nwb_version"]
        f["nwb_version"] = b"1.0.6"
    with LegacyTree.open(path) as tree:
        assert tree.nwb2_prerelease is None


def test_nwb1_with_ancestry_is_not_outvoted_by_a_namespaced_group(tmp_path):
    path = write_generic_nwb1(tmp_path / "generic.nwb", seed=0)
    with h5py.File(path, "r+") as f:
        _typed(f["general"].create_group("lab_extension"), "Custom")
        assert prerelease.detect(f) is None


@pytest.mark.parametrize("version", ["2.0b", "2.1.0", "NWB-2.2.4"])
def test_nwb2_files_are_still_refused(tmp_path, version):
    path = write_pynwb0(tmp_path / "nwb2.nwb", version=version, version_as_attr=True)
    with pytest.raises(InputError, match=f"this is an NWB {version} file, not NWB 1.0"):
        LegacyTree.open(path)


def test_no_version_at_all_is_refused_as_nwb2(tmp_path):
    path = write_pynwb0(tmp_path / "nwb2.nwb", version=None)
    with pytest.raises(InputError, match="looks like an NWB 2 file"):
        LegacyTree.open(path)


@pytest.mark.parametrize("value", [
    np.array([b"NWBFile"]),
    np.array(["NWBFile"], dtype=h5py.string_dtype("utf-8")),
    b"NWBFile",
])
def test_root_type_in_any_string_form(tmp_path, value):
    path = write_pynwb0(tmp_path / "pre.nwb", root_typed=False)
    with h5py.File(path, "r+") as f:
        f.attrs["neurodata_type"] = value
        assert "root neurodata_type 'NWBFile'" in prerelease.detect(f)


@pytest.mark.parametrize("value", [
    h5py.Empty("f"),
    np.int64(3),
    np.array([1.5, 2.5]),
    np.array([b"a", b"b"]),
    np.zeros(2, dtype=[("x", "i4"), ("y", "f8")]),
    b"\xff\xfe",
    "",
])
def test_odd_root_attributes_never_raise(tmp_path, value):
    path = write_generic_nwb1(tmp_path / "generic.nwb", seed=0)
    with h5py.File(path, "r+") as f:
        f.attrs["neurodata_type"] = value
        f.attrs["namespace"] = value
        result = prerelease.detect(f)
    assert result is None or result.startswith("This is an NWB 2 pre-release")


def test_an_empty_file_is_not_a_prerelease(tmp_path):
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        assert prerelease.detect(f) is None


def test_decision_keeps_everything_with_a_note():
    note = prerelease.decision("This is an NWB 2 pre-release", {})
    assert note == "This is an NWB 2 pre-release; converted with the generic_nwb1 profile: every object is kept"


def test_decision_refuses_when_objects_would_be_skipped():
    skipped = {"/z/last": "a reason", "/acquisition/x/data": "compound dtype\nwith a newline"}
    with pytest.raises(InputError) as caught:
        prerelease.decision("This is an NWB 2 pre-release", skipped, file="pre.nwb")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("pre.nwb: This is an NWB 2 pre-release; the generic_nwb1 profile would skip 2 objects")
    assert "(first /acquisition/x/data: compound dtype with a newline)" in message
    assert "pynwb" in message
    assert caught.value.exit_code == 2


def test_decision_one_skipped_object_is_singular():
    with pytest.raises(InputError, match="would skip 1 object "):
        prerelease.decision("x", {"/a": "why"})


# ---- end to end: the planner converts a pre-release only when the generic profile keeps every object ----


def test_prerelease_converts_with_the_generic_profile_and_says_so(tmp_path):
    from click.testing import CliRunner

    import nwb1zarr
    from nwb1zarr.cli import main

    src = write_pynwb0(tmp_path / "early.nwb")
    report = nwb1zarr.convert(src, tmp_path / "early.zarr", validate=True)
    assert report.profile == "generic_nwb1"
    assert "NWB 2 pre-release" in report.profile_note and "every object is kept" in report.profile_note
    assert report.validation.ok, report.validation.summary()
    assert not report.skipped
    result = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "cli.zarr"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "note: profile generic_nwb1 chosen (This is an NWB 2 pre-release" in result.output


def test_prerelease_that_would_lose_objects_is_refused(tmp_path):
    import nwb1zarr

    src = write_pynwb0(tmp_path / "early.nwb")
    with h5py.File(src, "a") as f:  # a variable-length numeric dataset has no Zarr equivalent: it would be skipped
        ragged = f.create_dataset("analysis/ragged", (2,), dtype=h5py.vlen_dtype(np.int32))
        ragged[0], ragged[1] = np.arange(3, dtype=np.int32), np.arange(1, dtype=np.int32)
    with pytest.raises(InputError, match=r"pre-release.*would skip 1 object \(first /analysis/ragged"):
        nwb1zarr.convert(src, tmp_path / "early.zarr")
    assert not (tmp_path / "early.zarr").exists()
