"""Hostile or odd names and values: nothing written outside DST; unsupported pieces kept or skipped with a reason."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from nwb1zarr.reading.names import MAX_NAME_BYTES, source_name, store_name, store_path

ODD_NAMES = ["...", "a\\b", "__x", "%41", " leading space", "a:b", "ünïcødé ΔF_F", "名前", "x" * 300,
             "tab\there", "new\nline", "semi;colon", "dots.in.name", "~tilde"]
LONG_GROUP = "g" * 250
LONG_CHILD = "c" * 250


def _write_odd(path: Path) -> Path:
    from nwb1zarr.testing import write_generic_nwb1

    write_generic_nwb1(path, seed=3)
    with h5py.File(path, "a", libver="latest") as f:  # 'latest': dense attribute storage for the huge one
        g = f.create_group("odd")
        for i, name in enumerate(ODD_NAMES):
            g[name] = np.arange(3) + i
        g.create_group(LONG_GROUP)[LONG_CHILD] = np.int16(7)
        g["empty"] = np.zeros((0,), "f4")
        g["empty_2d"] = np.zeros((0, 5), "i2")
        g["scalar"] = 3.5
        g["five_d"] = np.arange(24.0).reshape(2, 1, 3, 2, 2)
        g.create_dataset("null", data=h5py.Empty("f4"))
        compound = np.dtype([("a", "i4"), ("b", "f8"), ("c", "S5"), ("d/e", "u1")])
        g["compound"] = np.array([(1, 2.0, b"x", 5), (3, 4.0, b"yy", 6)], dtype=compound)
        g["ref"] = np.array([f["odd/scalar"].ref, f["acquisition"].ref, h5py.Reference()], dtype=h5py.ref_dtype)
        vlen = g.create_dataset("vlen", (2,), dtype=h5py.vlen_dtype(np.int32))
        vlen[0], vlen[1] = [1, 2], [3]
        g["strings"] = np.array(["a", "bb", "ünï"], dtype=h5py.string_dtype())
        g["bools"] = np.array([True, False])
        g["complex"] = np.array([1 + 2j])
        g["enum"] = np.array([0, 1], dtype=h5py.enum_dtype({"R": 0, "G": 1}, basetype="i1"))
        g.attrs["huge"] = np.arange(200_000.0)
        g.attrs["weird/attr name"] = "x"
        g.attrs["nan"] = np.nan
        g["strings"].attrs["ünï"] = "ok"
    return path


@pytest.fixture(scope="module")
def odd_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_odd(tmp_path_factory.mktemp("odd") / "odd.nwb")


def test_odd_names_and_values_end_to_end(odd_source, tmp_path, fault_cli, fault_guard, fault_record,
                                         fault_validate):
    work = tmp_path / "work"
    work.mkdir()
    dst = work / "out.zarr"
    outside_before = {p for p in (str(q) for q in tmp_path.rglob("*"))}
    with fault_guard(odd_source):
        result = fault_cli("convert", odd_source, dst)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == ""
    # nothing written outside DST, and nothing under DST escapes it
    new = {p for p in (str(q) for q in tmp_path.rglob("*"))} - outside_before
    assert new and all(p == str(dst) or p.startswith(str(dst) + os.sep) for p in new), sorted(new)[:5]
    for root, dirs, files in os.walk(dst):
        for name in dirs + files:
            real = os.path.realpath(os.path.join(root, name))
            assert real.startswith(os.path.realpath(dst) + os.sep)
            assert len(name.encode()) <= 255
    skipped = {line.split(":", 1)[0].removeprefix("skipped "): line for line in result.stdout.splitlines()
               if line.startswith("skipped ")}
    assert "variable-length int32 arrays have no Zarr equivalent" in skipped["/odd/vlen"]
    assert "null dataspace" in skipped["/odd/null"]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dt = xr.open_datatree(dst, engine="zarr")
        odd = dt["nwb1/odd"]
        ds = odd.to_dataset(inherit=False)
        for i, name in enumerate(ODD_NAMES):
            var = ds[store_name(name)]
            assert var.attrs["nwb1_path"] == f"/odd/{name}"
            np.testing.assert_array_equal(var.values, np.arange(3) + i)
        assert ds["compound.a"].values.tolist() == [1, 3]
        assert ds["compound.b"].values.tolist() == [2.0, 4.0]
        assert ds["compound.c"].values.tolist() == ["x", "yy"]
        assert ds["compound.d%2Fe"].values.tolist() == [5, 6]
        assert ds["ref"].values.tolist() == ["<ref:/odd/scalar>", "<ref:/acquisition>", "<ref:null>"]
        assert ds["empty"].shape == (0,) and ds["empty_2d"].shape == (0, 5)
        assert ds["scalar"].shape == () and float(ds["scalar"]) == 3.5
        assert ds["five_d"].shape == (2, 1, 3, 2, 2)
        assert ds["strings"].values.tolist() == ["a", "bb", "ünï"]
        assert ds["complex"].values.tolist() == [1 + 2j]
        assert ds["enum"].values.tolist() == [0, 1]
        assert len(odd.attrs["nwb1:huge"]) == 200_000
        assert odd.attrs["nwb1:weird/attr name"] == "x" and odd.attrs["nwb1:nan"] == "NaN"
        long_group = odd[store_name(LONG_GROUP)]
        assert long_group.attrs["nwb1_path"] == f"/odd/{LONG_GROUP}"
        assert long_group[store_name(LONG_CHILD)].attrs["nwb1_path"] == f"/odd/{LONG_GROUP}/{LONG_CHILD}"
        dt.close()
    fault_validate(odd_source, dst)
    fault_record("odd names ('...', 'a\\\\b', '__x', unicode, 250/300-char names, tabs, newlines)",
                 "wrote DST (...)", 0, "store written; names %-escaped, long ones cut + hash; `nwb1_path` keeps "
                 "the HDF5 path; nothing outside DST", group="names")
    fault_record("compound dataset", "wrote DST (...)", 0, "one variable per field `name.field` under /nwb1",
                 group="names")
    fault_record("object-reference dataset", "wrote DST (...)", 0, "strings `<ref:/target/path>` "
                 "(`<ref:null>` for null references)", group="names")
    fault_record("variable-length numeric dataset", skipped["/odd/vlen"], 0,
                 "listed as skipped (stdout, report, root attr `nwb1zarr_skipped`)", paths={"DST": dst},
                 group="names")
    fault_record("null-dataspace dataset (h5py.Empty)", skipped["/odd/null"], 0, "listed as skipped",
                 group="names")
    fault_record("empty, 0-d and 5-d datasets; bool, complex, enum", "wrote DST (...)", 0,
                 "kept under /nwb1 with their shapes", group="names")
    fault_record("huge attribute (200 000 floats)", "wrote DST (...)", 0, "kept as a JSON list attribute",
                 group="names")


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=400))
def test_store_name_is_always_safe(name):
    out = store_name(name)
    assert out and "/" not in out and "\\" not in out and "\x00" not in out
    assert set(out) != {"."} and not out.startswith("__")
    assert len(out.encode()) <= MAX_NAME_BYTES
    if not out.rsplit("~", 1)[-1].isalnum() or len(out.encode()) < MAX_NAME_BYTES - 20:  # not cut + hashed
        assert source_name(out) == name


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=300), min_size=2, max_size=2, unique=True))
def test_store_names_do_not_collide(names):
    assert store_name(names[0]) != store_name(names[1])


def test_store_path_never_climbs():
    assert store_path("/../..//./x", prefix="/nwb1") == "/nwb1/%2E%2E/%2E%2E/%2E/x"
