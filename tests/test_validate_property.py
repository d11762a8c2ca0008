"""Property: for any small NWB 1.0-like tree, convert then validate passes, and one changed element is found."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nwb1zarr

NAMES = st.text(alphabet="abcxyz_- 0", min_size=1, max_size=5).filter(lambda s: s.strip() == s)
NUMERIC = st.sampled_from(["<f4", "<f8", ">f8", "<i2", ">i4", "<i8", "|u1", "<u2", "|b1"])
SPECIAL = [np.nan, -0.0, np.inf, 0.0, 1.5]


@st.composite
def arrays(draw, dtype=None, max_side=5):
    dtype = np.dtype(dtype or draw(NUMERIC))
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=0, max_size=2)))
    n = int(np.prod(shape))
    if dtype.kind == "f":
        values = draw(st.lists(st.sampled_from(SPECIAL) | st.floats(-1e6, 1e6, width=32), min_size=n, max_size=n))
    elif dtype.kind == "b":
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    else:
        info = np.iinfo(dtype)
        values = draw(st.lists(st.integers(max(info.min, -1000), min(info.max, 1000)), min_size=n, max_size=n))
    return np.array(values, dtype=dtype).reshape(shape)


TEXT = st.text(alphabet="ab é\u2603z", min_size=0, max_size=6)
ATTR_VALUES = st.one_of(
    TEXT.map(lambda s: s.encode("utf-8")).map(np.bytes_),  # fixed-length bytes
    TEXT,  # vlen UTF-8
    st.integers(-5, 5).map(np.int64),
    st.sampled_from(SPECIAL).map(np.float64),
    st.lists(st.integers(0, 9), min_size=1, max_size=3).map(lambda v: np.array(v, dtype="i4")),
    st.lists(st.sampled_from([b"TimeSeries", b"x"]), min_size=1, max_size=2).map(np.array),
)
ATTRS = st.dictionaries(NAMES, ATTR_VALUES, max_size=3)


@st.composite
def trees(draw):
    """A recipe: TimeSeries groups, extra datasets (numbers and strings), attributes, links."""
    series = draw(st.lists(st.tuples(NAMES, st.integers(1, 6), st.integers(0, 2), NUMERIC, ATTRS),
                           max_size=3, unique_by=lambda t: t[0]))
    extras = draw(st.lists(st.tuples(st.sampled_from(["/general", "/analysis", "/analysis/sub"]), NAMES,
                                     st.one_of(arrays(), st.lists(TEXT, min_size=1, max_size=3), TEXT), ATTRS),
                           max_size=5, unique_by=lambda t: (t[0], t[1])))
    group_attrs = draw(ATTRS)
    links = draw(st.booleans())
    return series, extras, group_attrs, links


def write_tree(path: Path, recipe) -> None:
    series, extras, group_attrs, links = recipe
    utf8 = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        f.create_dataset("nwb_version", data=b"NWB-1.0.5", dtype=h5py.string_dtype("ascii"))
        f["session_start_time"] = np.bytes_(b"Wed Jan 20 10:24:01 2016")
        for key, value in group_attrs.items():
            f.attrs[key] = value
        ts_group = f.create_group("acquisition/timeseries")
        for name, n, width, dtype, attrs in series:
            g = ts_group.create_group(name)
            g.attrs["neurodata_type"] = "TimeSeries"
            g.attrs["ancestry"] = np.array([b"TimeSeries"])
            for key, value in attrs.items():
                g.attrs[key] = value
            shape = (n,) if width == 0 else (n, width)
            data = g.create_dataset("data", data=np.arange(np.prod(shape)).reshape(shape).astype(dtype))
            data.attrs["unit"] = np.bytes_(b"volts")
            g.create_dataset("timestamps", data=np.linspace(0.0, 1.0, n) ** 2)
        for parent, name, value, attrs in extras:
            group = f.require_group(parent)
            if name in group:
                continue
            if isinstance(value, list):
                ds = group.create_dataset(name, data=[v.encode() for v in value], dtype=utf8) if value else \
                    group.create_dataset(name, shape=(0,), dtype=utf8)
            elif isinstance(value, str):
                ds = group.create_dataset(name, data=np.bytes_(value.encode("utf-8")))
            else:
                ds = group.create_dataset(name, data=value)
            for key, attr in attrs.items():
                ds.attrs[key] = attr
        if links and series:
            f["/analysis/soft"] = h5py.SoftLink(f"/acquisition/timeseries/{series[0][0]}/data")
            f["/analysis/hard"] = f[f"/acquisition/timeseries/{series[0][0]}/timestamps"]


def mutate_one(store: Path, draw) -> tuple[str, tuple[int, ...]]:
    """Change one element of one array in the store; return its store path and index."""
    digests = zarr.open_group(store, mode="r").attrs["nwb1zarr_digests"]
    candidates = sorted(p for p in digests if zarr.open_array(store / p.lstrip("/"), mode="r").size > 0)
    path = draw(st.sampled_from(candidates))
    array = zarr.open_array(store / path.lstrip("/"), mode="r+")
    index = tuple(draw(st.integers(0, s - 1)) for s in array.shape)
    value = np.asarray(array[index])
    if value.dtype.kind in "OUT":
        array[index] = str(value[()]) + "!"
    else:
        # floats: flip the top mantissa bit, which survives any NaN canonicalisation (NaN -> inf)
        flip = 1 << (np.finfo(value.dtype).nmant - 1) if value.dtype.kind == "f" else 1
        bits = value.reshape(1).view(f"u{value.dtype.itemsize}") ^ np.array(flip).astype(f"u{value.dtype.itemsize}")
        array[index] = bits.view(value.dtype)[0]
    return path, index


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(recipe=trees(), data=st.data())
def test_convert_then_validate_then_one_mutation_is_found(recipe, data):
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "x.nwb", Path(tmp) / "x.zarr"
        write_tree(src, recipe)
        nwb1zarr.convert(src, dst)
        report = nwb1zarr.validate(src, dst)
        assert report.ok, report.summary()
        mutated = Path(tmp) / "m.zarr"
        shutil.copytree(dst, mutated)
        path, index = mutate_one(mutated, data.draw)
        report = nwb1zarr.validate(src, mutated)
        values = report.find(kind="values")
        assert {c.store_path for c in values} == {path}, report.summary()
        assert all(c.index == index for c in values)
        assert [(c.kind, c.store_path) for c in nwb1zarr.validate(mutated).failures] == [("digest", path)]
