"""validate(): convert-then-validate passes; one changed element, attribute, chunk or deleted node is named."""

from __future__ import annotations

import json
import shutil

import h5py
import numcodecs
import numpy as np
import pytest
import zarr

import nwb1zarr
from nwb1zarr.cli import main
from nwb1zarr.testing import SessionSpec, write_generic_nwb1, write_session
from nwb1zarr.validation.store_check import members
from nwb1zarr.validation.values import first_difference

PIPE = "/processing/brain_observatory_pipeline"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("validate")
    src = write_session(root / "b.nwb", SessionSpec.tiny(session_type="three_session_B"))
    dst = root / "b.zarr"
    nwb1zarr.convert(src, dst)
    return src, dst


@pytest.fixture
def store_copy(converted, tmp_path):
    src, dst = converted
    copy = tmp_path / "copy.zarr"
    shutil.copytree(dst, copy)
    return src, copy


@pytest.fixture
def source_copy(converted, tmp_path):
    src, dst = converted
    copy = tmp_path / "b.nwb"
    shutil.copy(src, copy)
    return copy, dst


def failed(report, kind=None):
    return sorted({(c.kind, c.store_path) for c in report.failures if kind is None or c.kind == kind})


def flip(value):
    """A different value of the same dtype (one bit changed for numbers, a changed string for text)."""
    value = np.asarray(value)
    if value.dtype.kind in "OUT":
        return str(value[()]) + "!"
    raw = value.copy().reshape(1).view(f"u{value.dtype.itemsize}")
    raw ^= 1
    return raw.view(value.dtype)[0]


def test_convert_then_validate_passes(converted):
    src, dst = converted
    report = nwb1zarr.validate(src, dst)
    assert report.ok, report.summary()
    assert report.mode == "full"
    kinds = {c.kind for c in report.checks}
    assert {"values", "attrs", "coverage", "root", "digest", "layout"} <= kinds
    dff = report.find("/ophys/dff", kind="values", failed_only=False)[0]
    assert dff.elements == 6 * 2400 and dff.bytes == 6 * 2400 * 4
    assert dff.source_path == f"{PIPE}/DfOverF/imaging_plane_1/data"


def test_store_only_passes(converted):
    report = nwb1zarr.validate(converted[1])
    assert report.ok, report.summary()
    assert report.mode == "store"
    assert len(report.find(kind="digest", failed_only=False)) == len(
        zarr.open_group(converted[1], mode="r").attrs["nwb1zarr_digests"])


def test_generic_file_and_zarr_v2(tmp_path):
    src = write_generic_nwb1(tmp_path / "g.nwb", seed=3)
    nwb1zarr.convert(src, tmp_path / "g.zarr", zarr_format=2)
    report = nwb1zarr.validate(src, tmp_path / "g.zarr")
    assert report.ok, report.summary()


def test_convert_validate_flag(tmp_path):
    src = write_session(tmp_path / "a.nwb", SessionSpec.tiny(session_type="three_session_A"))
    result = nwb1zarr.convert(src, tmp_path / "a.zarr", validate=True)
    assert isinstance(result.validation, nwb1zarr.ValidationReport)
    assert result.validation.ok and result.ok
    assert result.to_dict()["validation"]["ok"] is True


STORE_ELEMENTS = [
    ("/ophys/dff", (2, 5)),  # traces
    ("/rois/mask", (1, 3, 4)),  # masks
    ("/stimulus/natural_scenes/template/template", (1, 2, 3)),  # templates
    ("/stimulus/static_gratings/orientation", (7,)),  # stimulus column (from a 2-D source, by transform)
    ("/stimulus/static_gratings/start", (9,)),  # transformed column (exact_int64)
    ("/stimulus/natural_movie_one/repeat", (4,)),  # derived
    ("/ophys/time", (10,)),  # timestamps
    ("/ophys/roi_name", (3,)),  # strings
    (f"/nwb1{PIPE}/DfOverF/imaging_plane_1/roi_names", (2,)),  # /nwb1 remainder
    ("/nwb1/general/session_type", ()),  # /nwb1 scalar string
]


@pytest.mark.parametrize(("path", "index"), STORE_ELEMENTS)
def test_changed_store_element_is_named(store_copy, path, index):
    src, store = store_copy
    array = zarr.open_array(store / path.lstrip("/"), mode="r+")
    array[index] = flip(array[index])
    report = nwb1zarr.validate(src, store)
    assert not report.ok
    assert failed(report, "values") == [("values", path)]
    checks = report.find(path, kind="values")  # the primary source, and any alias of it
    assert checks and all(c.index == index for c in checks)
    assert checks[0].first_mismatch["store"] != checks[0].first_mismatch["expected"]
    digest_only = nwb1zarr.validate(store)
    assert failed(digest_only) == [("digest", path)]


def test_nan_and_negative_zero_count():
    got, want = np.array([1.0, np.nan, 0.0]), np.array([1.0, np.nan, -0.0])
    assert first_difference(got, want)[0] == (2,)
    quiet, signalling = np.array([np.nan]), np.array([np.nan]).view("u8") ^ np.uint64(1)
    assert first_difference(quiet, signalling.view("f8"))[0] == (0,)
    assert first_difference(np.array(["a", "b"], dtype=object), np.array(["a", "c"], dtype=object))[0] == (1,)


@pytest.mark.parametrize(("path", "attr"), [
    ("/ophys/dff", "nwb1:unit"),
    ("/stimulus/static_gratings/orientation", "nwb1_column"),
    (f"/nwb1{PIPE}/DfOverF/imaging_plane_1/roi_names", "nwb1_path"),
])
def test_changed_store_attribute_is_named(store_copy, path, attr):
    src, store = store_copy
    array = zarr.open_array(store / path.lstrip("/"), mode="r+")
    array.attrs[attr] = "changed"
    report = nwb1zarr.validate(src, store)
    (check,) = report.find(path, kind="attrs")
    assert check.first_mismatch["attribute"] == attr
    assert check.first_mismatch["store"] == "changed"
    assert {c.store_path for c in report.failures} == {path}


def test_changed_group_and_root_attribute(store_copy):
    src, store = store_copy
    zarr.open_group(store / "nwb1/general", mode="r+").attrs["nwb1:extra"] = 1
    zarr.open_group(store, mode="r+").attrs["session_type"] = "three_session_A"
    report = nwb1zarr.validate(src, store)
    (group,) = report.find("/nwb1/general", kind="attrs")
    assert group.first_mismatch["attribute"] == "nwb1:extra"
    (root,) = report.find("/", kind="root")
    assert root.first_mismatch == {"attribute": "session_type", "store": "three_session_A",
                                   "expected": "three_session_B"}


SOURCE_ELEMENTS = [
    (f"{PIPE}/DfOverF/imaging_plane_1/data", (2, 5), "/ophys/dff", (2, 5)),
    (f"{PIPE}/ImageSegmentation/imaging_plane_1/roi_0003/img_mask", (3, 4), "/rois/mask", (3, 3, 4)),
    ("/stimulus/templates/natural_scenes_image_stack/data", (1, 2, 3),
     "/stimulus/natural_scenes/template/template", (1, 2, 3)),
    ("/stimulus/presentation/static_gratings_stimulus/data", (7, 2), "/stimulus/static_gratings/phase", (7,)),
    ("/stimulus/presentation/static_gratings_stimulus/timestamps", (8,), "/stimulus/static_gratings/time", (8,)),
    (f"{PIPE}/DfOverF/imaging_plane_1/roi_names", (2,),
     f"/nwb1{PIPE}/DfOverF/imaging_plane_1/roi_names", (2,)),
]


@pytest.mark.parametrize(("source", "src_index", "path", "index"), SOURCE_ELEMENTS)
def test_changed_source_element_is_named(source_copy, source, src_index, path, index):
    src, store = source_copy
    with h5py.File(src, "r+") as f:
        ds = f[source]
        if ds.dtype.kind == "S":
            ds[src_index] = b"changed"
        else:
            ds[src_index] = flip(ds[src_index])
    report = nwb1zarr.validate(src, store)
    extra = []
    if path == "/rois/mask":  # the changed mask no longer matches its pixel list: the plan names columns by position
        extra = [("values", "/rois/pixels/pix_mask_0"), ("values", "/rois/pixels/pix_mask_1")]
    assert sorted(failed(report, "values")) == sorted([("values", path), *extra])
    (check,) = report.find(path, kind="values")
    assert check.index == index
    (root,) = report.find("/", kind="root")  # the source no longer has the recorded sha256 (nor, for the mask,
    # the same problems: its pixel lists now disagree with img_mask, which the re-derived plan records)
    assert root.first_mismatch["attribute"] == ("nwb1zarr_problems" if extra else "source_sha256")


def test_changed_source_attribute_is_named(source_copy):
    src, store = source_copy
    with h5py.File(src, "r+") as f:
        f[f"{PIPE}/DfOverF/imaging_plane_1/data"].attrs["unit"] = b"changed"
        f["/general/subject"].attrs["extra"] = np.float64("nan")
    report = nwb1zarr.validate(src, store)
    (attrs,) = report.find("/ophys/dff", kind="attrs")
    assert attrs.first_mismatch == {"attribute": "nwb1:unit", "store": "frame", "expected": "changed"}
    coverage = {c.store_path: c for c in report.find(kind="coverage")}
    assert coverage["/nwb1/general/subject"].first_mismatch["expected"] == "NaN"


def test_changed_source_metadata_dataset(source_copy):
    src, store = source_copy
    with h5py.File(src, "r+") as f:
        del f["/general/session_type"]
        f["/general/session_type"] = b"three_session_C"
    report = nwb1zarr.validate(src, store)
    (root,) = [c for c in report.find("/", kind="root")]
    assert root.first_mismatch["attribute"] == "session_type"
    (kept,) = report.find("/nwb1/general/session_type", kind="values")
    assert kept.index == () and kept.first_mismatch["expected"] == "three_session_C"


def test_deleted_variable_is_a_gap(store_copy):
    src, store = store_copy
    shutil.rmtree(store / "ophys" / "neuropil")
    report = nwb1zarr.validate(src, store)
    (check,) = report.find("/ophys/neuropil", kind="values")
    assert check.status == "missing"
    assert any(c.status == "missing" and c.store_path == "/ophys/neuropil" for c in report.find(kind="coverage"))


def test_deleted_group_is_a_gap(store_copy):
    src, store = store_copy
    shutil.rmtree(store / "stimulus" / "static_gratings")
    shutil.rmtree(store / "nwb1" / "general" / "subject")
    report = nwb1zarr.validate(src, store)
    gaps = {c.store_path for c in report.failures if c.status == "missing"}
    assert {"/stimulus/static_gratings", "/stimulus/static_gratings/orientation", "/stimulus/static_gratings/time",
            "/nwb1/general/subject", "/nwb1/general/subject/age"} <= gaps
    assert all(p.startswith(("/stimulus/static_gratings", "/nwb1/general/subject")) for p in gaps)


def test_unexpected_store_variable(store_copy):
    src, store = store_copy
    zarr.create_array(store / "ophys" / "extra", shape=(6,), dtype="i4", dimension_names=["roi"])
    report = nwb1zarr.validate(src, store)
    assert ("coverage", "/ophys/extra") in failed(report)
    assert any(c.status == "unexpected" and c.store_path == "/ophys/extra" for c in report.failures)


def test_changed_chunk_on_disk_is_caught_store_only(store_copy):
    src, store = store_copy
    chunk = store / "ophys" / "fluorescence" / "c.0.0"
    codec = numcodecs.Zstd()
    raw = bytearray(codec.decode(chunk.read_bytes()))
    raw[4 * (2400 * 1 + 17)] ^= 0x01  # lowest byte of element [1, 17] (little-endian float32)
    chunk.write_bytes(codec.encode(bytes(raw)))
    report = nwb1zarr.validate(store)
    assert failed(report) == [("digest", "/ophys/fluorescence")]
    full = nwb1zarr.validate(src, store)
    (check,) = full.find("/ophys/fluorescence", kind="values")
    assert check.index == (1, 17)


def test_report_json_and_summary(store_copy):
    src, store = store_copy
    array = zarr.open_array(store / "ophys/dff", mode="r+")
    array[0, 1] = np.float32("nan")
    report = nwb1zarr.validate(src, store)
    data = json.loads(json.dumps(report.to_dict()))
    (check,) = [c for c in data["checks"] if c["kind"] == "values" and c["status"] != "ok"]
    assert check["store_path"] == "/ophys/dff" and check["first_mismatch"]["index"] == [0, 1]
    assert check["first_mismatch"]["store"] == "NaN"
    assert check["source_path"] == f"{PIPE}/DfOverF/imaging_plane_1/data"
    assert "/ophys/dff <- " in report.summary() and "[0, 1]: store='NaN'" in report.summary()


def test_cli_exit_codes(converted, store_copy, tmp_path, capsys):
    src, good = converted
    with pytest.raises(SystemExit) as ok:
        main.main(["validate", str(src), str(good)], standalone_mode=False)
    assert ok.value.code == 0
    assert "OK" in capsys.readouterr().out
    _, bad = store_copy
    zarr.open_array(bad / "rois/pixels/weight", mode="r+")[0] = 5.0
    with pytest.raises(SystemExit) as fail:
        main.main(["validate", str(src), str(bad), "--json"], standalone_mode=False)
    assert fail.value.code == 1
    out = json.loads(capsys.readouterr().out)
    failed = {c["store_path"] for c in out["checks"] if c["status"] != "ok"}
    assert out["ok"] is False and "/rois/pixels/weight" in failed
    with pytest.raises(SystemExit) as usage:
        main.main(["validate", str(tmp_path / "missing.zarr")], standalone_mode=False)
    assert usage.value.code == 2
    (tmp_path / "not.nwb").write_bytes(b"hello")
    with pytest.raises(SystemExit) as unreadable:
        main.main(["validate", str(tmp_path / "not.nwb"), str(good)], standalone_mode=False)
    assert unreadable.value.code == 2


@pytest.fixture(scope="module")
def converted_many_chunks(tmp_path_factory):
    """A session whose traces span many store chunks: (16 ROIs, 40 000 frames) in chunks of (8, 10 000)."""
    root = tmp_path_factory.mktemp("validate_chunks")
    src = write_session(root / "long.nwb", SessionSpec.tiny(n_rois=16, n_frames=40_000))
    dst = root / "long.zarr"
    nwb1zarr.convert(src, dst)
    return src, dst


class _RecordingVariable:
    """A store variable that records every read: (store path, key or None for the whole array, elements)."""

    def __init__(self, variable, path, reads):
        self._variable, self._path, self._reads = variable, path, reads

    def __getattr__(self, name):
        if name in ("values", "data", "to_numpy", "load", "compute"):
            self._reads.append((self._path, None, int(self._variable.size)))
        return getattr(self._variable, name)

    def __array__(self, *args, **kwargs):
        self._reads.append((self._path, None, int(self._variable.size)))
        return self._variable.__array__(*args, **kwargs)

    def __getitem__(self, key):
        part = self._variable[key]
        self._reads.append((self._path, key if isinstance(key, tuple) else (key,), int(part.size)))
        return part


def test_bounded_memory_reads_chunk_by_chunk(converted_many_chunks, monkeypatch):
    """The value comparison reads the store block by block, never a whole multi-chunk array.

    A block is one store chunk, widened along the first axis only (to whole HDF5 chunks of the
    source, see ``validate_values.compare_grid``): along every other axis a read stays inside one chunk.
    """
    import importlib

    from nwb1zarr.validation import values as validate_values

    validate_module = importlib.import_module("nwb1zarr.validation.validate")
    reads: list[tuple[str, tuple | None, int]] = []
    source_reads: list[tuple[str, int]] = []
    compare, source_getitem = validate_module.compare_values, validate_values._SourceArray.__getitem__

    def spy_compare(entry, store_var, store_chunks, reader, **kwargs):
        return compare(entry, _RecordingVariable(store_var, entry.store_path, reads), store_chunks, reader, **kwargs)

    def spy_source(self, key):
        values = source_getitem(self, key)
        source_reads.append((self.path, int(np.size(values))))
        return values

    monkeypatch.setattr(validate_module, "compare_values", spy_compare)
    monkeypatch.setattr(validate_values._SourceArray, "__getitem__", spy_source)
    src, dst = converted_many_chunks
    report = nwb1zarr.validate(src, dst)
    assert report.ok, report.summary()

    _, arrays = members(zarr.open_group(dst, mode="r"))
    many = {path: a for path, a in arrays.items() if a.nchunks > 1}
    assert {"/ophys/dff", "/ophys/fluorescence"} <= set(many), {p: a.chunks for p, a in arrays.items()}
    assert all(many[p].nchunks >= 8 for p in ("/ophys/dff", "/ophys/fluorescence"))
    largest = max(a.size for a in arrays.values())
    assert max(n for _, _, n in reads) < largest  # never the largest array at once
    with h5py.File(src, "r") as f:
        sizes = []
        f.visititems(lambda name, obj: sizes.append(obj.size) if isinstance(obj, h5py.Dataset) else None)
    assert max(n for _, n in source_reads) < max(sizes)  # nor the largest source dataset

    for path, array in many.items():
        mine = [(key, n) for p, key, n in reads if p == path]
        assert mine, f"{path} was never read"
        for key, n in mine:
            assert key is not None, f"{path}: the whole array ({n} elements) was read at once"
            assert n < array.size, (path, key)
            for axis, (part, chunk) in enumerate(zip(key, array.chunks, strict=False)):
                if axis == 0:
                    continue
                start, stop, _ = part.indices(array.shape[axis])
                assert start // chunk == (stop - 1) // chunk, f"{path}: read {key} spans chunks along axis {axis}"
        for check in report.find(path, kind="values", failed_only=False):  # and every element was compared
            assert check.elements == array.size, (path, check.elements)
