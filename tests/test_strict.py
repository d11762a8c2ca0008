"""--strict / strict=True: a file with any problem is refused with nothing written; a clean one converts."""

from __future__ import annotations

import h5py
import pytest
from click.testing import CliRunner

import nwb1zarr
from nwb1zarr.cli import main
from nwb1zarr.errors import SourceDataError

SPONTANEOUS = "/stimulus/presentation/spontaneous_stimulus"


def _unbalanced(src, tmp_path):
    """A copy of ``src`` whose spontaneous epoch has a start and no end (a session that ended inside it)."""
    out = tmp_path / "unbalanced.nwb"
    out.write_bytes(src.read_bytes())
    with h5py.File(out, "a") as f:
        data = f[f"{SPONTANEOUS}/data"][()]
        data[data == -1] = 1
        del f[f"{SPONTANEOUS}/data"]
        f.create_dataset(f"{SPONTANEOUS}/data", data=data)
    return out


def test_clean_file_converts_under_strict(variant_file, tmp_path):
    report = nwb1zarr.convert(variant_file("B"), tmp_path / "b.zarr", strict=True)
    assert report.problems == []


def test_problem_is_refused_with_nothing_written(variant_file, tmp_path):
    src = _unbalanced(variant_file("B"), tmp_path)
    with pytest.raises(SourceDataError, match=r"strict: .*problem.*spontaneous"):
        nwb1zarr.convert(src, tmp_path / "s.zarr", strict=True)
    assert not list(tmp_path.glob("*.zarr")) and not list(tmp_path.glob(".s.zarr*"))
    result = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "s.zarr"), "--strict", "--no-progress"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith(f"error: {src}: strict:")
    assert not (tmp_path / "s.zarr").exists()


def test_without_strict_the_same_file_converts_and_validates(variant_file, tmp_path):
    src = _unbalanced(variant_file("B"), tmp_path)
    report = nwb1zarr.convert(src, tmp_path / "s.zarr", validate=True)
    assert any(p.startswith(SPONTANEOUS) and "/stimulus/spontaneous" in p for p in report.problems)
    assert report.validation.ok, report.validation.summary()
    accounting = report.accounting
    assert accounting[f"{SPONTANEOUS}/data"]["status"] == "kept"  # the raw +1/-1 series stays under /nwb1
