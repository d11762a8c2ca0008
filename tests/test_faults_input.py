"""Bad inputs: every case ends in one line on stderr, a documented exit code, nothing written, source unchanged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import nwb1zarr
from nwb1zarr.errors import InputError, Nwb1ZarrError, SourceDataError

DFF = "/processing/brain_observatory_pipeline/DfOverF/imaging_plane_1/data"
PUPIL = "/processing/brain_observatory_pipeline/PupilTracking/pupil_size/data"


def _make_missing(d: Path, src: dict[str, Path]) -> Path:
    return d / "missing.nwb"


def _make_directory(d: Path, src: dict[str, Path]) -> Path:
    (d / "folder.nwb").mkdir()
    return d / "folder.nwb"


def _make_empty(d: Path, src: dict[str, Path]) -> Path:
    (d / "empty.nwb").write_bytes(b"")
    return d / "empty.nwb"


def _make_text(d: Path, src: dict[str, Path]) -> Path:
    (d / "notes.nwb").write_text("this is not an HDF5 file\n" * 40)
    return d / "notes.nwb"


def _make_random(d: Path, src: dict[str, Path]) -> Path:
    (d / "random.nwb").write_bytes(np.random.default_rng(0).bytes(10_000))
    return d / "random.nwb"


def _make_plain_hdf5(d: Path, src: dict[str, Path]) -> Path:
    with h5py.File(d / "plain.h5", "w") as f:
        f["x"] = np.arange(3)
    return d / "plain.h5"


def _make_nwb2(d: Path, src: dict[str, Path]) -> Path:
    with h5py.File(d / "nwb2.nwb", "w") as f:
        f.attrs["nwb_version"] = "2.8.0"
        f.attrs["namespace"] = "core"
        f.create_group("acquisition")
        f.create_group("specifications")
    return d / "nwb2.nwb"


def _make_nwb2_no_version(d: Path, src: dict[str, Path]) -> Path:
    with h5py.File(d / "nwb2_old.nwb", "w") as f:
        f.attrs[".specloc"] = "specifications"
        f.create_group("specifications")
    return d / "nwb2_old.nwb"


def _make_wrong_version(d: Path, src: dict[str, Path]) -> Path:
    with h5py.File(d / "future.nwb", "w") as f:
        f["nwb_version"] = "NWB-7.0"
    return d / "future.nwb"


INPUT_CASES = {
    "missing path": (_make_missing, 2, "no such file"),
    "a directory": (_make_directory, 2, "is a directory"),
    "empty file": (_make_empty, 2, "file is empty (0 bytes)"),
    "text file": (_make_text, 2, "not an HDF5 file"),
    "random bytes": (_make_random, 2, "not an HDF5 file"),
    "HDF5 file that is not NWB": (_make_plain_hdf5, 2, "not an NWB file: no /nwb_version dataset"),
    "NWB 2.x file": (_make_nwb2, 2, "this is an NWB 2.8.0 file, not NWB 1.0; open it with pynwb"),
    "NWB 2 file without nwb_version": (_make_nwb2_no_version, 2, "looks like an NWB 2 file"),
    "unknown NWB version": (_make_wrong_version, 2, "unsupported NWB version 'NWB-7.0'"),
}


def _assert_one_line_error(result, code: int, expected: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def _snapshot(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


@pytest.mark.parametrize("case", list(INPUT_CASES))
def test_bad_input(case, tmp_path, fault_sources, fault_cli, fault_guard, fault_record):
    make, code, expected = INPUT_CASES[case]
    src = make(tmp_path, fault_sources)
    dst = tmp_path / "out.zarr"
    before = _snapshot(tmp_path)
    with fault_guard(src):
        result = fault_cli("convert", src, dst)
    line = _assert_one_line_error(result, code, expected)
    assert line.startswith(f"error: {src}")
    assert _snapshot(tmp_path) == before  # nothing written: no store, no partial, no lock
    with pytest.raises(InputError):
        nwb1zarr.convert(src, dst)
    fault_record(case, line, code, "nothing written", paths={"SRC": src, "DST": dst}, group="input")


@pytest.mark.parametrize("fraction", [0.0002, 0.01, 0.25, 0.5, 0.75, 0.99, "last byte"])
def test_truncated_file(fraction, tmp_path, fault_sources, fault_cli, fault_guard, fault_record):
    data = fault_sources["bo"].read_bytes()
    size = len(data) - 1 if fraction == "last byte" else int(len(data) * fraction)
    src = tmp_path / "truncated.nwb"
    src.write_bytes(data[:size])
    dst = tmp_path / "out.zarr"
    with fault_guard(src):
        result = fault_cli("convert", src, dst)
    line = _assert_one_line_error(result, 2, f"file is truncated: {size} of {len(data)} bytes present")
    assert "incomplete download" in line
    assert _snapshot(tmp_path) == {"truncated.nwb"}
    fault_record(f"truncated download ({fraction if isinstance(fraction, str) else f'{fraction:.2%}'} kept)",
                 line, 2, "nothing written", paths={"SRC": src}, group="input")


def _corrupt_chunk(src: Path, dst: Path, dataset: str) -> None:
    shutil.copyfile(src, dst)
    with h5py.File(src, "r") as f:
        ds = f[dataset]
        assert ds.compression == "gzip"
        info = ds.id.get_chunk_info(0)
    with open(dst, "r+b") as fh:
        fh.seek(info.byte_offset + 2)
        fh.write(b"\xff" * max(1, info.size - 4))


def test_corrupt_gzip_chunk_names_the_dataset(tmp_path, fault_sources, fault_cli, fault_guard, fault_record):
    src = tmp_path / "corrupt.nwb"
    _corrupt_chunk(fault_sources["bo"], src, DFF)
    dst = tmp_path / "out.zarr"
    with fault_guard(src):
        result = fault_cli("convert", src, dst)
    line = _assert_one_line_error(result, 1, f"error: {src}:{DFF}: cannot read dataset")
    assert "compressed chunk cannot be decoded" in line
    assert sorted(os.listdir(tmp_path)) == ["corrupt.nwb"]  # no store, no partial, no lock
    fault_record("gzip chunk bytes corrupted (dF/F traces)", line, 1, "nothing written", paths={"SRC": src},
                 group="input")


def test_corrupt_chunk_read_in_dask_worker_is_a_source_error(tmp_path, fault_sources, fault_guard):
    """The read happens inside dask.compute's worker threads; the error still names the dataset."""
    src = tmp_path / "corrupt.nwb"
    _corrupt_chunk(fault_sources["bo"], src, PUPIL)
    dst = tmp_path / "out.zarr"
    with fault_guard(src), pytest.raises(SourceDataError) as info:
        nwb1zarr.convert(src, dst)
    assert info.value.path == PUPIL and info.value.file == str(src)
    assert "\n" not in str(info.value)
    assert sorted(os.listdir(tmp_path)) == ["corrupt.nwb"]


def test_bo_file_missing_groups_falls_back_to_generic(tmp_path, fault_sources, fault_cli, fault_guard,
                                                      fault_record, fault_validate):
    src = tmp_path / "no_fluorescence.nwb"
    shutil.copyfile(fault_sources["bo"], src)
    with h5py.File(src, "a") as f:
        del f["processing/brain_observatory_pipeline/Fluorescence"]
    dst = tmp_path / "out.zarr"
    with fault_guard(src):
        result = fault_cli("convert", src, dst)
    assert result.exit_code == 0, result.stderr
    note = next(line for line in result.stdout.splitlines() if line.startswith("note: profile"))
    assert "generic_nwb1" in note
    assert "missing /processing/brain_observatory_pipeline/Fluorescence/imaging_plane_1" in note
    assert "Traceback" not in result.stderr
    fault_validate(src, dst)
    assert nwb1zarr.plan(src).profile == "generic_nwb1"
    fault_record("NWB 1.0 file missing groups the Brain Observatory profile needs", note, 0,
                 "store written with the generic profile; validates", paths={"SRC": src}, group="input")


def test_errors_are_one_line_and_name_file_and_path():
    err = SourceDataError("cannot read dataset", file="a.nwb", path="/x/data")
    assert str(err) == "a.nwb:/x/data: cannot read dataset"
    assert err.exit_code == 1 and InputError("x").exit_code == 2
    assert issubclass(SourceDataError, Nwb1ZarrError)
