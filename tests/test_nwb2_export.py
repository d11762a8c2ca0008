"""NWB 2 export: every generator variant, the real file, the three checks, the validator and the CLI.

Expected values come from independent h5py reads of the NWB 1.0 source; the NWB 2 file is read with h5py and pynwb.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("pynwb", reason="the NWB 2 export needs the nwb2 extra (pynwb, hdmf, nwbinspector)")

import nwb1zarr
from nwb1zarr.cli import main
from nwb1zarr.export import nwb2_checks
from nwb1zarr.testing import VARIANTS, write_generic_nwb1

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "496908818s.nwb"
PIPELINE = "/processing/brain_observatory_pipeline"
FILES: dict[str, tuple[Path, object]] = {}


@pytest.fixture(scope="module")
def exported(variant_file, tmp_path_factory):
    """exported(name) -> (NWB 1.0 source, NWB 2 file, ExportReport); converted on the way, written once."""
    root = tmp_path_factory.mktemp("nwb2")

    def get(name: str):
        if name not in FILES:
            src = write_generic_nwb1(root / "generic_source.nwb") if name == "generic" else variant_file(name)
            out = root / f"{name}.nwb"
            FILES[name] = (out, nwb1zarr.to_nwb2(src, out))
        return Path(FILES[name][1].source), *FILES[name]

    yield get
    FILES.clear()


def _presentations(src: Path) -> dict[str, int]:
    """Presentation count of every stimulus table in the source, by h5py: the timestamps' length; for the
    spontaneous +1 / -1 series, the number of +1 (start) entries."""
    with h5py.File(src, "r") as f:
        out = {}
        for name, group in f["/stimulus/presentation"].items():
            if "timestamps" in group:
                stimulus = name[: -len("_stimulus")]
                out[stimulus] = (int((group["data"][()] == 1).sum()) if stimulus == "spontaneous"
                                 else len(group["timestamps"]))
        return out


@pytest.mark.parametrize("name", [*VARIANTS, "generic"])
def test_every_variant_exports_checks_and_validates(exported, name):
    src, out, report = exported(name)
    errors = [f for f in report.findings if f["error"]]
    assert errors == [], errors  # pynwb reads it without warnings, pynwb.validate and nwbinspector find no error
    validation = nwb1zarr.validate_nwb2(src, out)
    assert validation.ok, validation.summary()
    assert validation.find(kind="values", failed_only=False)
    assert not Path(out).with_name(f".{Path(out).stem}.partial-{os.getpid()}.nwb").exists()
    with h5py.File(src, "r") as s, h5py.File(out, "r") as o:
        if name == "generic":
            np.testing.assert_array_equal(o["/acquisition/lick_sensor/data"][()],
                                          s["/acquisition/timeseries/lick_sensor/data"][()])
            head = o["/acquisition/head_position"]  # an NWB 1.0 SpatialSeries stays one, with its reference frame
            assert head.attrs["neurodata_type"] == "SpatialSeries"
            assert head["reference_frame"][()] == s["/acquisition/timeseries/head_position/reference_frame"][()]
            assert o["/processing/ephys/FilteredEphys_theta/starting_time"].attrs["rate"] == \
                s["/processing/ephys/FilteredEphys/theta/starting_time"].attrs["rate"]
            return
        for stimulus, rows in _presentations(src).items():  # every row of every stimulus table, as in the source
            assert o[f"/intervals/{stimulus}/id"].shape == (rows,), stimulus
            assert o[f"/intervals/{stimulus}/start_time"].shape == (rows,)
        dff = s[f"{PIPELINE}/DfOverF/imaging_plane_1/data"][()]
        times = s[f"{PIPELINE}/DfOverF/imaging_plane_1/timestamps"]
        if dff.shape[1] == len(times):  # time first in NWB 2, bit for bit
            got = o["/processing/ophys/DfOverF/dff/data"][()]
            assert got.dtype == dff.dtype and got.tobytes() == np.ascontiguousarray(dff.T).tobytes()
        else:  # dF/F one longer / shorter than its timestamps: kept whole, never cut
            assert o["/scratch/dff_unaligned"][()].tobytes() == dff.tobytes()
        cells = s[f"{PIPELINE}/ImageSegmentation/cell_specimen_ids"][()]
        np.testing.assert_array_equal(o["/processing/ophys/ImageSegmentation/PlaneSegmentation/cell_specimen_id"],
                                      cells)


def test_static_gratings_full_length_with_frames_and_stop_times(exported):
    src, out, _ = exported("B")
    import pynwb

    with h5py.File(src, "r") as s:
        group = s["/stimulus/presentation/static_gratings_stimulus"]
        rows, features = len(group["timestamps"]), [f.decode() if isinstance(f, bytes) else f
                                                    for f in group["features"][()]]
        data, frames = group["data"][()], group["frame_duration"][()]
        ophys_time = s[f"{PIPELINE}/Fluorescence/imaging_plane_1/timestamps"][()]
    assert rows > 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pynwb.NWBHDF5IO(str(out), "r") as io:
            table = io.read().intervals["static_gratings"].to_dataframe()
    assert len(table) == rows
    for i, feature in enumerate(features):
        np.testing.assert_array_equal(table[feature].to_numpy(), data[:, i])
    np.testing.assert_array_equal(table["start_frame"].to_numpy(), frames[:, 0])
    np.testing.assert_array_equal(table["end_frame"].to_numpy(), frames[:, 1])
    np.testing.assert_array_equal(table["stop_time"].to_numpy(), ophys_time[frames[:, 1].astype(int)])


def test_pynwb_reads_every_object_without_warnings_and_validators_agree(exported):
    import pynwb

    _, out, _ = exported("C2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pynwb.NWBHDF5IO(str(out), "r") as io:
            nwbfile = io.read()
            dff = nwbfile.processing["ophys"]["DfOverF"]["dff"]
            assert dff.data.shape[0] == len(dff.timestamps)  # time first
            assert nwbfile.subject.species == "Mus musculus" and nwbfile.subject.age.startswith("P")
            meta = nwbfile.lab_meta_data["brain_observatory_metadata"]
            assert meta.session_type == "three_session_C2" and "not exported" not in meta.not_exported[:0]
            assert nwbfile.stimulus_template  # templates as Images
            assert nwbfile.processing["behavior"]["BehavioralTimeSeries"]["running_speed"].unit == "cm/s"
    assert nwb2_checks.schema_errors(out) == []
    assert [m for m in nwb2_checks.inspector_messages(out) if m["error"]] == []


def test_traces_are_chunked_time_first_and_gzip4(exported):
    _, out, _ = exported("A")
    with h5py.File(out, "r") as o:
        dff = o["/processing/ophys/DfOverF/dff/data"]
        assert dff.compression == "gzip" and dff.compression_opts == 4
        assert dff.chunks is not None and dff.shape[0] > dff.shape[1]
        # timestamps stored once: the other series link to the dF/F timestamps
        assert o.get("/processing/ophys/Fluorescence/raw/timestamps", getlink=True).__class__ is not h5py.HardLink \
            or o["/processing/ophys/Fluorescence/raw/timestamps"] == o["/processing/ophys/DfOverF/dff/timestamps"]


def test_streaming_iterator_transposes_in_blocks():
    import zarr

    from nwb1zarr.export.nwb2_iterators import StoreArrayIterator

    values = np.arange(7 * 5000, dtype="f4").reshape(7, 5000)
    array = zarr.create_array(store={}, shape=values.shape, dtype=values.dtype, chunks=(7, 512))
    array[...] = values
    iterator = StoreArrayIterator(array, transpose=True, chunk_mb=0.01, buffer_gb=0.0001)
    got = np.empty((5000, 7), dtype="f4")
    pieces = 0
    for piece in iterator:
        got[piece.selection] = piece.data
        pieces += 1
    assert pieces > 1 and got.tobytes() == np.ascontiguousarray(values.T).tobytes()


def _copy(out: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.nwb"
    shutil.copy(out, copy)
    return copy


def test_validator_names_a_changed_value(exported, tmp_path):
    src, out, _ = exported("B")
    copy = _copy(out, tmp_path)
    with h5py.File(copy, "r+") as f:
        f["/processing/ophys/DfOverF/dff/data"][5, 2] += 1
    report = nwb1zarr.validate_nwb2(src, copy)
    assert not report.ok
    [failure] = report.failures
    assert failure.store_path.startswith("/processing/ophys/DfOverF/dff/data") and failure.index == (5, 2)


def test_validator_names_a_changed_template_pixel(exported, tmp_path):
    src, out, _ = exported("B")
    copy = _copy(out, tmp_path)
    with h5py.File(copy, "r+") as f:
        frame = f["/stimulus/templates/natural_movie_one/frame_00003"]
        frame[1, 2] = frame[1, 2] ^ 1
    [failure] = nwb1zarr.validate_nwb2(src, copy).failures
    assert failure.store_path.startswith("/stimulus/templates/natural_movie_one/frame_00003 <- ")
    assert failure.index == (1, 2)


def _truncate(table: h5py.Group, rows: int) -> None:
    """Cut every column of an NWB 2 table (an h5py group) to its first ``rows`` rows, attributes kept."""
    for name in list(table):
        values, attrs = table[name][:rows], dict(table[name].attrs)
        del table[name]
        table.create_dataset(name, data=values)
        table[name].attrs.update(attrs)


def test_validator_catches_a_stimulus_table_cut_to_three_rows(exported, tmp_path):
    """The DANDI 000728 bug: static_gratings cut to 3 rows must fail validation."""
    src, out, _ = exported("B")
    copy = _copy(out, tmp_path)
    with h5py.File(copy, "r+") as f:
        _truncate(f["/intervals/static_gratings"], 3)
    report = nwb1zarr.validate_nwb2(src, copy)
    rows = [c for c in report.failures if c.kind == "rows"]
    assert [c.store_path for c in rows] == ["/intervals/static_gratings/id"]
    assert rows[0].first_mismatch["store"] == 3 and rows[0].first_mismatch["expected"] > 3
    assert all(c.store_path.startswith("/intervals/static_gratings/") for c in report.failures)


def test_validator_requires_every_unmapped_path_to_be_listed(exported, tmp_path):
    src, out, _ = exported("B")
    copy = _copy(out, tmp_path)
    with h5py.File(copy, "r+") as f:
        notes = f["/general/notes"][()].decode()
        del f["/general/notes"]
        f["/general/notes"] = "\n".join(line for line in notes.splitlines()
                                        if not line.startswith("/behavior/eye_tracking/pupil_location_feature:"))
    report = nwb1zarr.validate_nwb2(src, copy)
    assert [c.store_path for c in report.failures] == ["/behavior/eye_tracking/pupil_location_feature"]


@pytest.mark.skipif(not REAL.exists(), reason=f"the real file is not at {REAL} (../shared beside the clone)")
def test_real_file_exports_and_validates(tmp_path):
    store = tmp_path / "real.zarr"
    nwb1zarr.convert(REAL, store)
    out = tmp_path / "real.nwb"
    report = nwb1zarr.to_nwb2(store, out)
    assert [f for f in report.findings if f["error"]] == []
    validation = nwb1zarr.validate_nwb2(REAL, out)
    assert validation.ok, validation.summary()
    with h5py.File(REAL, "r") as s, h5py.File(out, "r") as o:
        notes = o["/general/notes"][()].decode()
        assert "external" in notes and "2p_image_series" in notes  # the raw movie stays external, and says so
        assert "/nwb1/" in notes  # what the store kept under /nwb1 is listed, not dropped silently
        # masks were inconsistent in the shrunk file: ROIs in a plain table, traces as TimeSeries
        np.testing.assert_array_equal(o["/processing/ophys/rois/cell_specimen_id"][()],
                                      s[f"{PIPELINE}/ImageSegmentation/cell_specimen_ids"][()])
        for stimulus, rows in _presentations(REAL).items():
            if f"/intervals/{stimulus}" in o:
                assert o[f"/intervals/{stimulus}/id"].shape == (rows,)


def test_no_half_written_file_when_writing_fails(variant_file, tmp_path, monkeypatch):
    import pynwb

    def boom(self, *args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(pynwb.NWBHDF5IO, "write", boom)
    out = tmp_path / "x.nwb"
    with pytest.raises(OSError):
        nwb1zarr.to_nwb2(variant_file("B"), out, check=False)
    assert list(tmp_path.iterdir()) == []


def test_cli_export_validate_and_exit_codes(exported, tmp_path):
    src, _, _ = exported("B")
    runner = CliRunner()
    target = tmp_path / "cli.nwb"
    result = runner.invoke(main, ["to-nwb2", str(src), str(target), "--validate", "--quiet", "--no-check",
                                  "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["validation"]["ok"] is True
    result = runner.invoke(main, ["to-nwb2", str(src), str(target)])
    assert result.exit_code == 2 and "destination exists" in result.output
    result = runner.invoke(main, ["validate-nwb2", str(src), str(target), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["ok"] is True
    result = runner.invoke(main, ["validate-nwb2", str(src), str(tmp_path / "absent.nwb")])
    assert result.exit_code == 2 and result.output.count("\n") == 1


def test_cli_validate_nwb2_names_a_truncated_table_and_a_changed_trace(exported, tmp_path):
    """A mutated export: static_gratings cut to 3 rows (DANDI 000728's bug) and one dF/F value changed."""
    src, out, _ = exported("B")
    copy = _copy(out, tmp_path)
    with h5py.File(copy, "r+") as f:
        _truncate(f["/intervals/static_gratings"], 3)
        f["/processing/ophys/DfOverF/dff/data"][7, 1] += 1
    result = CliRunner().invoke(main, ["validate-nwb2", str(src), str(copy), "--json"])
    assert result.exit_code == 1
    failed = [c for c in json.loads(result.output)["checks"] if c["status"] != "ok"]
    paths = {c["store_path"] for c in failed}
    assert "/intervals/static_gratings/id" in paths
    assert "/processing/ophys/DfOverF/dff/data <- /ophys/dff" in paths
    [dff] = [c for c in failed if c["store_path"].startswith("/processing/ophys/DfOverF/dff/data")]
    assert dff["first_mismatch"]["index"] == [7, 1]
    assert {p.split(" ")[0].rsplit("/", 1)[0] for p in paths} == {"/intervals/static_gratings",
                                                                  "/processing/ophys/DfOverF/dff"}
    result = CliRunner().invoke(main, ["validate-nwb2", str(src), str(copy)])
    assert result.exit_code == 1 and "/intervals/static_gratings/id" in result.output


def test_help_does_not_import_the_export_stack():
    heavy = "('pynwb', 'hdmf', 'nwbinspector', 'xarray', 'zarr')"
    code = ("import sys; from nwb1zarr.cli import main; assert 'to-nwb2' in main.commands; "
            f"sys.exit(' '.join(m for m in {heavy} if m in sys.modules) or None)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    run = subprocess.run([sys.executable, "-m", "nwb1zarr.cli", "--help"], capture_output=True, text=True)
    assert "to-nwb2" in run.stdout and "validate-nwb2" in run.stdout


def test_readme_opens_the_export_with_pynwb(exported):
    """The README's pynwb example runs as written on an export (without warnings)."""
    _, out, _ = exported("B")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## NWB 2 export"):]
    section = section[section.index("Open the result with pynwb"):]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(code.replace("570014520.nwb2.nwb", str(out)), scope)
    assert scope["meta"].session_type == "three_session_B"
    with h5py.File(out, "r") as o:
        assert scope["trace"].tobytes() == o["/processing/ophys/DfOverF/dff/data"][:, 0].tobytes()
