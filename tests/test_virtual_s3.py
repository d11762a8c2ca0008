"""Virtual stores with the source on S3 (moto's server on 127.0.0.1): the store local or on S3 too; validation reads
through the references; a re-uploaded source is caught; a repository without a committed conversion is refused and
replaced by the next run.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from s3server import S3Server

import nwb1zarr
from nwb1zarr.errors import DestinationError, StoreError

pytest.importorskip("icechunk", reason="virtual stores need nwb1zarr[virtual]")
pytest.importorskip("s3fs", reason="S3 sources need nwb1zarr[s3]")

from nwb1zarr.virtual.open import describe_store


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with S3Server.start() as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; this process reaches the server through the environment, as users would."""
    import s3fs

    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    s3fs.S3FileSystem.clear_instance_cache()
    return s3.make_bucket(f"v-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def remote_src(s3: S3Server, bucket: str, variant_file) -> tuple[str, Path]:
    local = variant_file("B")
    s3.client().upload_file(str(local), bucket, "in/session.nwb")
    return f"s3://{bucket}/in/session.nwb", local


def _dff_from_h5py(local: Path) -> np.ndarray:
    entry = nwb1zarr.plan(local).entry("/ophys/dff")
    with h5py.File(local, "r") as f:
        return f[entry.sources[0]][()]


def test_source_on_s3_store_local(remote_src, tmp_path):
    url, local = remote_src
    report = nwb1zarr.convert(url, tmp_path / "s.icechunk", virtual=True, validate=True)
    assert report.validation.ok, report.validation.summary()
    assert "/ophys/dff" in report.virtual_arrays
    info = describe_store(report.destination)
    assert info["references_into"] == [url]
    dff = nwb1zarr.open_store(report.destination)["ophys/dff"].values
    assert dff.tobytes() == _dff_from_h5py(local).tobytes()
    # the same tree, digests included, as a virtual store of the local copy
    here = nwb1zarr.convert(local, tmp_path / "local.icechunk", virtual=True)
    a, b = nwb1zarr.open_store(report.destination), nwb1zarr.open_store(here.destination)
    assert a.attrs["nwb1zarr_digests"] == b.attrs["nwb1zarr_digests"]
    assert {k: v for k, v in a.attrs.items() if k != "source_file"} == \
        {k: v for k, v in b.attrs.items() if k != "source_file"}


def test_source_and_store_on_s3_and_a_reuploaded_source_is_caught(s3, bucket, remote_src, tmp_path):
    url, local = remote_src
    dst = f"s3://{bucket}/out/session.icechunk"
    report = nwb1zarr.convert(url, dst, virtual=True)
    assert nwb1zarr.validate(url, dst).ok
    assert nwb1zarr.validate(dst).ok
    assert not any(k.startswith("out/.session.icechunk.lock") for k in s3.keys(bucket))  # lock released
    assert report.bytes_out == sum(o["Size"] for o in s3.client().list_objects_v2(
        Bucket=bucket, Prefix="out/")["Contents"])
    with pytest.raises(DestinationError, match="destination exists"):
        nwb1zarr.convert(url, dst, virtual=True)
    # change one byte inside a chunk of dF/F and upload the file again
    changed = tmp_path / "changed.nwb"
    changed.write_bytes(local.read_bytes())
    entry = nwb1zarr.plan(local).entry("/ophys/dff")
    with h5py.File(local, "r") as f:
        info = f[entry.sources[0]].id.get_chunk_info(0)
    data = bytearray(changed.read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0xFF
    changed.write_bytes(bytes(data))
    s3.client().upload_file(str(changed), bucket, "in/session.nwb")
    check = nwb1zarr.validate(dst)
    assert not check.ok
    assert "/ophys/dff" in {c.store_path for c in check.failures}


def test_incomplete_repository_on_s3_is_refused_then_replaced(s3, bucket, remote_src):
    import icechunk

    from nwb1zarr.virtual.repository import storage

    url, _ = remote_src
    dst = f"s3://{bucket}/out/half.icechunk"
    icechunk.Repository.create(storage(dst))  # what a run killed before its commit leaves
    with pytest.raises(StoreError, match="incomplete virtual store"):
        nwb1zarr.validate(dst)
    with pytest.raises(StoreError, match="incomplete virtual store"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nwb1zarr.open_store(dst)
    report = nwb1zarr.convert(url, dst, virtual=True)  # no --overwrite needed: nothing complete was there
    assert nwb1zarr.validate(dst).ok and report.virtual_arrays
    assert os.environ["AWS_ENDPOINT_URL"] == s3.endpoint
