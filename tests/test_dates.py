"""Dates in every form NWB 1.0 writers used -> ISO 8601 (parsers.datetime_iso), or a clear ValueError."""

from __future__ import annotations

from datetime import datetime

import h5py
import numpy as np
import pytest

from nwb1zarr.planning import parsers
from nwb1zarr.reading.legacy_tree import LegacyTree
from nwb1zarr.testing import write_generic_nwb1

STEPS = [{"name": "datetime_iso"}]


@pytest.mark.parametrize(("raw", "iso"), [
    # Allen / api-python: time.ctime(), day padded with a space or not
    ("Wed Jan 20 10:24:01 2016", "2016-01-20T10:24:01"),
    ("Wed Jan  6 10:24:01 2016", "2016-01-06T10:24:01"),
    ("Wed Jan 06 10:24:01 2016", "2016-01-06T10:24:01"),
    ("  wed JAN 20 10:24:01 2016\n", "2016-01-20T10:24:01"),
    # MIES / IPNWB: Z suffix, milliseconds
    ("2018-08-15T20:17:51.862Z", "2018-08-15T20:17:51.862000+00:00"),
    ("2018-08-15T20:17:51z", "2018-08-15T20:17:51+00:00"),
    ("2018-08-15T20:17:51.862 UTC", "2018-08-15T20:17:51.862000+00:00"),
    # offsets, with and without colon, hours only
    ("2018-08-15T20:17:51+02:00", "2018-08-15T20:17:51+02:00"),
    ("2018-08-15T20:17:51-0800", "2018-08-15T20:17:51-08:00"),
    ("2018-08-15T20:17:51+05", "2018-08-15T20:17:51+05:00"),
    ("2018-08-15T20:17:51.5-03:30", "2018-08-15T20:17:51.500000-03:30"),
    # fractions: 1 to 6 digits, more only when the extra digits are zero
    ("2018-08-15T20:17:51.1", "2018-08-15T20:17:51.100000"),
    ("2018-08-15T20:17:51,25", "2018-08-15T20:17:51.250000"),
    ("2018-08-15T20:17:51.123456", "2018-08-15T20:17:51.123456"),
    ("2018-08-15T20:17:51.123456000Z", "2018-08-15T20:17:51.123456+00:00"),
    ("2018-08-15T20:17:51.000", "2018-08-15T20:17:51"),
    # space instead of T, minutes only, date only
    ("2018-08-15 20:17:51", "2018-08-15T20:17:51"),
    ("2018-08-15 20:17:51 +02:00", "2018-08-15T20:17:51+02:00"),
    ("2018-08-15T20:17", "2018-08-15T20:17:00"),
    ("2018-08-15", "2018-08-15"),
    # NUL padding of a fixed-length string
    ("2018-08-15\x00\x00\x00", "2018-08-15"),
])
def test_text_forms(raw, iso):
    assert parsers.datetime_iso(raw) == iso
    assert parsers.datetime_iso(raw.encode()) == iso
    assert parsers.datetime_iso([raw]) == iso
    assert parsers.datetime_iso(np.array([raw.encode()])) == iso


def test_output_round_trips_through_fromisoformat():
    aware = parsers.datetime_iso("2018-08-15T20:17:51.862Z")
    naive = parsers.datetime_iso("Wed Jan 20 10:24:01 2016")
    assert datetime.fromisoformat(aware).utcoffset().total_seconds() == 0
    assert datetime.fromisoformat(naive).tzinfo is None


def test_several_dates_give_a_list():
    dates = [b"Wed Jan 20 10:24:01 2016", "2016-02-01T08:00:00Z", "2016-03-01"]
    assert parsers.datetime_iso(dates) == ["2016-01-20T10:24:01", "2016-02-01T08:00:00+00:00", "2016-03-01"]
    assert parsers.datetime_iso(np.array(dates, dtype=object)) == parsers.datetime_iso(dates)


def test_a_list_with_one_bad_date_names_the_element():
    with pytest.raises(ValueError, match=r"element 1 of 3: unrecognised date 'yesterday'"):
        parsers.datetime_iso(["2016-01-20", "yesterday", "2016-03-01"])


@pytest.mark.parametrize(("raw", "message"), [
    ("", "empty text"),
    ("   \x00", "empty text"),
    ([], "empty list"),
    ("sometime in 2016", "unrecognised date 'sometime in 2016'"),
    ("ünïcødé ☃ 2016", "unrecognised date"),
    ("٢٠١٨-٠٨-١٥", "unrecognised date"),  # Arabic-Indic digits are not ISO 8601
    (b"\xff\xfe2016-01-20", "unrecognised date"),
    ("2016-13-01", "month must be in 1..12"),
    ("2016-02-30T00:00:00", "day is out of range"),
    ("2016-01-20T25:00:00", "hour must be in 0..23"),
    ("2018-08-15T20:17:51+25:00", "offset"),
    ("2018-08-15T20:17:51.123456789Z", "9 fractional-second digits"),
    ("Mon Jan 20 10:24:01 2016", "2016-01-20 is a Wednesday"),
    ("Wed Foo 20 10:24:01 2016", "English weekday and month"),
    ("2016-01-20T10:24:01Z trailing", "unrecognised date"),
    (20160120, "is a number"),
    (1453285441.0, "is a number"),
    (np.int64(5), "is a number"),
    (None, "no value"),
    ([[b"2016-01-20"]], "is a list"),
])
def test_unparseable_raises_a_clear_value_error(raw, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parsers.datetime_iso(raw)


def test_parse_steps_use_the_same_parser():
    assert parsers.parse(["2018-08-15T20:17:51.862Z"], STEPS) == "2018-08-15T20:17:51.862000+00:00"


@pytest.mark.parametrize(("raw", "text"), [
    ("yesterday", "yesterday"),
    (b"yesterday", "yesterday"),
    ([b"yesterday"], "yesterday"),
    (np.array([b"a", b"b"]), ["a", "b"]),
    (["2016-01-20", b"\xff"], ["2016-01-20", "\\xff"]),
    (42, "42"),
    ([], []),
])
def test_verbatim_is_the_decoded_text(raw, text):
    assert parsers.verbatim(raw) == text


# ---- real HDF5 storage forms, read the way the planner reads them ---------------------------------------

TEXT = "2018-08-15T20:17:51.862Z"
ISO = "2018-08-15T20:17:51.862000+00:00"


def _fixed(shape):
    return {"data": np.full(shape, TEXT.encode(), dtype=f"S{len(TEXT)}")}


def _vlen(encoding, shape):
    data = np.empty(shape, dtype=object)
    data[...] = TEXT if encoding == "utf-8" else TEXT.encode()
    return {"data": data, "dtype": h5py.string_dtype(encoding)}


STORED = {
    "fixed scalar": _fixed(()),
    "vlen ascii scalar": _vlen("ascii", ()),
    "vlen utf-8 scalar": _vlen("utf-8", ()),
    "fixed 1-element": _fixed((1,)),
    "vlen ascii 1-element": _vlen("ascii", (1,)),
    "vlen utf-8 1-element": _vlen("utf-8", (1,)),
}


def _read_back(path):
    with LegacyTree.open(path) as tree:
        value = tree.read("/session_start_time")
    value = value.tolist() if isinstance(value, np.ndarray) else value
    return parsers.parse(value, STEPS)


@pytest.mark.parametrize("form", sorted(STORED))
def test_session_start_time_as_stored(tmp_path, form):
    path = tmp_path / "dates.nwb"
    with h5py.File(path, "w") as f:
        f["nwb_version"] = b"NWB-1.0.5"
        f.create_dataset("session_start_time", **STORED[form])
    assert _read_back(path) == ISO


def test_ctime_stored_as_fixed_bytes_with_doubled_space(tmp_path):
    path = tmp_path / "allen.nwb"
    with h5py.File(path, "w") as f:
        f["nwb_version"] = b"NWB-1.0.5"
        f["session_start_time"] = np.bytes_(b"Wed Jan  6 10:24:01 2016")
    assert _read_back(path) == "2016-01-06T10:24:01"


def test_file_create_date_list_stored_as_vlen_array(tmp_path):
    path = tmp_path / "created.nwb"
    with h5py.File(path, "w") as f:
        f["nwb_version"] = b"NWB-1.0.5"
        f.create_dataset("file_create_date", data=[b"Wed Jan 20 10:24:01 2016", b"2016-02-01T08:00:00Z"],
                         dtype=h5py.string_dtype("ascii"), maxshape=(None,))
    with LegacyTree.open(path) as tree:
        value = tree.read("/file_create_date").tolist()
    assert parsers.parse(value, STEPS) == ["2016-01-20T10:24:01", "2016-02-01T08:00:00+00:00"]


def test_generic_plan_carries_file_create_date(tmp_path):
    import nwb1zarr

    path = write_generic_nwb1(tmp_path / "generic.nwb", seed=0)
    with h5py.File(path, "r") as f:
        created = f["file_create_date"][0].decode()
    plan = nwb1zarr.plan(path)
    assert plan.root_attrs["file_create_date"] == datetime.strptime(created, "%a %b %d %H:%M:%S %Y").isoformat()
    assert not [p for p in plan.problems if "file_create_date" in p]
