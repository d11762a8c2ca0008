"""convert-many --virtual: one virtual store per session, validated against its source; a rerun skips them."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

import nwb1zarr
from nwb1zarr.cli import main

pytest.importorskip("icechunk", reason="virtual stores need nwb1zarr[virtual]")
distributed = pytest.importorskip("distributed", reason="convert-many needs nwb1zarr[distributed]")

from nwb1zarr.virtual.open import array_kinds  # noqa: E402


@pytest.fixture
def scheduler() -> Iterator[str]:
    """One in-process worker thread (starts in about a second; the batch code path is the same)."""
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                                       silence_logs=logging.ERROR)
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def test_convert_many_virtual(variant_file, tmp_path, scheduler):
    sources = tmp_path / "in"
    sources.mkdir()
    for name in ("A", "C2"):
        shutil.copyfile(variant_file(name), sources / f"{name}.nwb")
    dest = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert-many", str(sources), "--to", str(dest), "--virtual", "--scheduler",
                                       scheduler, "--no-progress"])
    assert result.exit_code == 0, result.output
    for name in ("A", "C2"):
        store = dest / f"{name}.icechunk"
        assert nwb1zarr.validate(sources / f"{name}.nwb", store).ok
        assert array_kinds(store)["/ophys/fluorescence"] == "virtual"
    assert not list(dest.glob("*.zarr"))
    again = nwb1zarr.convert_many([str(sources)], to=dest, scheduler=scheduler, virtual=True)
    assert again.ok and {s.status for s in again.sessions} == {"skipped"}
