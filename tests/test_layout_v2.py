"""Store layout 2: mapped-only leaf groups of the source are packed into their parent's ``nwb1_packed``.

Expected records come from plain h5py reads of the source; layout-1 stores (one node per source group) still
validate.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
import zarr

import nwb1zarr
from nwb1zarr.planning.planner import plan
from nwb1zarr.testing import SessionSpec, write_session

SEG = "/processing/brain_observatory_pipeline/ImageSegmentation/imaging_plane_1"
STORE_SEG = "nwb1" + SEG


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("layout2")
    src = write_session(root / "s.nwb", SessionSpec.tiny())
    dst = root / "s.zarr"
    nwb1zarr.convert(src, dst)
    return Path(src), dst


def _source_roi_groups(src: Path) -> dict[str, h5py.Group]:
    f = h5py.File(src, "r")
    return {k: v for k, v in f[SEG].items() if isinstance(v, h5py.Group) and k.startswith("roi_")}


def test_roi_groups_are_packed_records_of_the_source(converted):
    src, dst = converted
    root = zarr.open_group(dst, mode="r")
    assert root.attrs["nwb1zarr_store_layout"] == "2"
    packed = root[STORE_SEG].attrs["nwb1_packed"]
    rois = _source_roi_groups(src)
    assert rois and sorted(packed) == sorted(rois)
    for name, group in rois.items():
        record = packed[name]
        assert record["nwb1_path"] == group.name
        assert sorted(record["nwb1_mapped"]) == sorted(group.keys())  # every child dataset, said where it went
        assert all(paths and all(p.startswith("/rois/") for p in paths) for paths in record["nwb1_mapped"].values())
        own = {k: v for k, v in record.items() if k.startswith("nwb1:")}
        assert own == {f"nwb1:{k}": (v.decode() if isinstance(v, bytes) else v) for k, v in group.attrs.items()}
        assert name not in root[STORE_SEG]  # no store node of its own
    # groups that keep a dataset or have subgroups are still groups
    assert isinstance(root[STORE_SEG], zarr.Group)


def test_accounting_points_packed_groups_at_their_parent(converted):
    src, _ = converted
    accounting = plan(src).accounting
    for name in _source_roi_groups(src):
        account = accounting[f"{SEG}/{name}"]
        assert account.store_paths == ("/" + STORE_SEG,) and "nwb1_packed" in account.detail


def test_validation_passes_and_catches_a_changed_record(converted, tmp_path):
    src, dst = converted
    assert nwb1zarr.validate(src, dst).ok
    import shutil

    bad = tmp_path / "bad.zarr"
    shutil.copytree(dst, bad)
    group = zarr.open_group(bad, mode="r+", use_consolidated=False)[STORE_SEG]
    packed = dict(group.attrs["nwb1_packed"])
    dropped = sorted(packed)[0]
    del packed[dropped]
    group.attrs["nwb1_packed"] = packed
    zarr.consolidate_metadata(str(bad))
    report = nwb1zarr.validate(src, bad)
    assert not report.ok
    failed = [c.to_dict() for c in report.failures]
    assert any(c["store_path"] == "/" + STORE_SEG and "nwb1_packed" in json.dumps(c) for c in failed), failed


def test_a_layout_1_store_still_validates(converted, tmp_path):
    """A store written by 0.1 (one group per source group, layout "1") validates as it was written."""
    src, dst = converted
    import shutil

    old = tmp_path / "v1.zarr"
    shutil.copytree(dst, old)
    root = zarr.open_group(old, mode="r+", use_consolidated=False)
    for _, node in list(root.members(max_depth=None)):
        packed = node.attrs.get("nwb1_packed") if isinstance(node, zarr.Group) else None
        if packed:
            for name, attrs in packed.items():
                node.create_group(name, attributes=attrs)
            attrs = dict(node.attrs)
            del attrs["nwb1_packed"]
            node.attrs.clear()
            node.attrs.update(attrs)
    root.attrs["nwb1zarr_store_layout"] = "1"
    zarr.consolidate_metadata(str(old))
    assert plan(src).layout_version == "2"
    report = nwb1zarr.validate(src, old)
    assert report.ok, report.failures
    assert nwb1zarr.validate(old).ok  # the store-only check accepts layout 1 too
