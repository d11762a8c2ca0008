"""The concurrent writer writes exactly what xarray's ``DataTree.to_zarr`` writes: same keys, same bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nwb1zarr.planning.planner import make_plan
from nwb1zarr.reading.legacy_tree import LegacyTree
from nwb1zarr.testing import VARIANTS, write_session
from nwb1zarr.writing.build import build_tree
from nwb1zarr.writing.to_zarr import ZarrWriter, encoding_for

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "496908818s.nwb"


def _files(root: Path) -> dict[str, bytes]:
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


def _reference(dt: xr.DataTree, path: Path, zarr_format: int) -> None:
    dt.to_zarr(path, mode="w-", encoding=encoding_for(dt, zarr_format=zarr_format), consolidated=True,
               zarr_format=zarr_format)


def _assert_same_store(ours: Path, theirs: Path) -> None:
    a, b = _files(ours), _files(theirs)
    assert sorted(a) == sorted(b)
    for key in a:
        if key.endswith(("zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata")):
            assert json.loads(a[key]) == json.loads(b[key]), key
        else:
            assert a[key] == b[key], key


def _write(dt: xr.DataTree, path: Path, zarr_format: int) -> None:
    writer = ZarrWriter(path, zarr_format=zarr_format)
    writer.write(dt)
    writer.finish(root_attrs={})


def _tree_of(src: Path) -> tuple[LegacyTree, xr.DataTree]:
    tree = LegacyTree.open(src)
    return tree, build_tree(tree, make_plan(tree), eager_bytes=1 << 20)


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_edge_values_same_as_xarray(tmp_path, zarr_format):
    import dask.array as da

    strings = np.array(["a", "", "ΔF/F", "x" * 300], dtype=np.dtypes.StringDType())
    dt = xr.DataTree.from_dict({
        "/": xr.Dataset(attrs={"title": "t", "n": np.int64(3), "nan": float("nan"), "list": [1, 2]}),
        "/a": xr.Dataset({
            "f4": ("t", np.array([1.5, np.nan, -0.0, np.inf], dtype="f4")),
            "all_nan": ("t", np.full(4, np.nan)),          # equal to the fill value: no chunk written
            "zeros": ("t", np.zeros(4, dtype="i2")),
            "u1": (("y", "x"), np.arange(6, dtype="u1").reshape(2, 3)),
            "b": ("t", np.array([True, False, True, True])),
            "i8_big_endian": ("t", np.arange(4, dtype=">i8")),
            "scalar": ((), np.float64(2.5)),
            "empty": ("e", np.zeros(0, dtype="f8")),
            "text": ("t", strings),
            "lazy": (("t", "k"), da.from_array(np.arange(4 * 5, dtype="f8").reshape(4, 5), chunks=(2, 5))),
        }, coords={"t": ("t", np.arange(4.0), {"units": "s"})}),
        "/a/deeper/still": xr.Dataset({"v": ("z", np.arange(3, dtype="i4"))}, attrs={"k": "v"}),
        "/empty_group": xr.Dataset(),
    })
    _write(dt, tmp_path / "ours.zarr", zarr_format)
    _reference(dt, tmp_path / "theirs.zarr", zarr_format)
    _assert_same_store(tmp_path / "ours.zarr", tmp_path / "theirs.zarr")
    back = xr.open_datatree(tmp_path / "ours.zarr", engine="zarr", zarr_format=zarr_format)
    assert back["a/f4"].values.tobytes() == dt["a/f4"].values.tobytes()
    assert list(back["a/text"].values) == list(strings)


@pytest.mark.parametrize("variant", sorted(VARIANTS)[:3])
def test_synthetic_session_same_as_xarray(tmp_path, variant):
    _assert_converts_like_xarray(write_session(tmp_path / "s.nwb", VARIANTS[variant]), tmp_path)


def test_real_file_same_as_xarray(tmp_path):
    if not REAL.exists():
        pytest.skip(f"{REAL} not present (the real Brain Observatory file lives in ../shared beside the clone)")
    _assert_converts_like_xarray(REAL, tmp_path)


def _assert_converts_like_xarray(src, tmp_path):
    tree, dt = _tree_of(src)
    with tree:
        _write(dt, tmp_path / "ours.zarr", 3)
        _reference(dt, tmp_path / "theirs.zarr", 3)
    _assert_same_store(tmp_path / "ours.zarr", tmp_path / "theirs.zarr")


def test_writes_into_a_folder_that_does_not_exist_yet(tmp_path):
    """The local fast path makes every node folder itself, the store folder and its parents included."""
    dt = xr.DataTree.from_dict({"/g": xr.Dataset({"v": ("t", np.arange(3.0))})})
    _write(dt, tmp_path / "new" / "deep.zarr", 3)
    assert xr.open_datatree(tmp_path / "new" / "deep.zarr", engine="zarr")["g/v"].values.tolist() == [0.0, 1.0, 2.0]
