"""Convert-then-validate passes for every fixture variant of the generator; a known converter gap is pinned."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import nwb1zarr
from nwb1zarr.testing import VARIANTS


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_validates(variant_file, tmp_path, name):
    dst = tmp_path / f"{name}.zarr"
    nwb1zarr.convert(variant_file(name), dst)
    report = nwb1zarr.validate(variant_file(name), dst)
    assert report.ok, report.summary()


def test_empty_string_dataset_keeps_its_dtype(tmp_path):
    src = tmp_path / "e.nwb"
    with h5py.File(src, "w") as f:
        f.create_dataset("nwb_version", data=b"NWB-1.0.5", dtype=h5py.string_dtype("ascii"))
        f["session_start_time"] = np.bytes_(b"Wed Jan 20 10:24:01 2016")
        f.create_dataset("general/empty", shape=(0,), dtype=h5py.string_dtype("utf-8"))
    nwb1zarr.convert(src, tmp_path / "e.zarr")
    report = nwb1zarr.validate(src, tmp_path / "e.zarr")
    assert report.ok, report.summary()
