"""Sources and stores on an object store: a real S3 API (moto's server) on 127.0.0.1, a bucket per test.

Covers remote read, remote write (root document last, concurrent PUTs), opening a remote store in one
metadata request, an interrupted remote write (SIGKILL: nothing opens, the rerun cleans up), a rerun over a
complete store, validation of a remote store, and the one-line errors of URLs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from one_line import one_line_error
from s3server import S3Server

import nwb1zarr
from nwb1zarr.sinks.claim_remote import claim_remote, lock_url

CLI = [sys.executable, "-c", "import sys; from nwb1zarr.cli import main; sys.exit(main())"]


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    with S3Server.start() as server:
        yield server


@pytest.fixture
def s3env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process (and its children) talk to the loopback server, as users would: through the environment."""
    import s3fs

    env = s3.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    s3fs.S3FileSystem.clear_instance_cache()
    return {**os.environ, **env, "NWB1ZARR_SUPERVISE": "1"}


@pytest.fixture
def bucket(s3: S3Server, s3env: dict[str, str]) -> str:
    return s3.make_bucket(f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def remote_src(s3: S3Server, bucket: str, fault_sources: dict[str, Path]) -> str:
    """The tiny Brain Observatory session, uploaded."""
    s3.client().upload_file(str(fault_sources["bo"]), bucket, "in/bo_session.nwb")
    return f"s3://{bucket}/in/bo_session.nwb"


def _run(*args: object, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *(str(a) for a in args)], env=env, capture_output=True, text=True, timeout=timeout)


def _open(url: str, **kwargs: object) -> xr.DataTree:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_datatree(url, engine="zarr", **kwargs)


# ---- remote read, remote write ---------------------------------------------------------------------


def test_remote_source_converts_and_validates(remote_src, tmp_path, s3env, fault_sources):
    dst = tmp_path / "from_s3.zarr"
    result = _run("convert", remote_src, dst, "--no-progress", env=s3env)
    assert result.returncode == 0, result.stderr
    assert f"wrote {dst}" in result.stdout
    report = nwb1zarr.validate(remote_src, dst)  # the source read again from S3, bit for bit
    assert report.ok, report.summary()
    local = nwb1zarr.convert(fault_sources["bo"], tmp_path / "local.zarr")
    a, b = _open(str(dst)), _open(local.destination)
    assert a.attrs["source_sha256"] == b.attrs["source_sha256"]
    assert a.attrs["nwb1zarr_digests"] == b.attrs["nwb1zarr_digests"]
    assert a.attrs["source_file"] == "bo_session.nwb"


def test_remote_store_written_root_last_and_opens_in_one_request(s3, bucket, fault_sources, tmp_path):
    url = f"s3://{bucket}/out/session.zarr"
    mark = s3.mark()
    report = nwb1zarr.convert(fault_sources["bo"], url)
    requests = s3.requests(mark)
    puts = [r.path.split("/out/session.zarr/", 1)[1] for r in requests
            if r.method == "PUT" and "/out/session.zarr/" in r.path]
    keys = s3.keys(bucket, "out/")
    assert puts[-1] == "zarr.json" and puts.count("zarr.json") == 1  # the root document, once, last
    assert len(puts) == len(keys) and all(r.status == 200 for r in requests if r.method == "PUT")  # once each
    others = [r for r in requests if r.method != "PUT" and "/out/session.zarr/" in r.path]
    assert len(others) <= 8, others  # the claim's checks only: zarr and xarray's own are answered locally
    assert f"out/{lock_url(url).rsplit('/', 1)[1]}" not in keys  # lock released
    assert report.bytes_out == sum(o["Size"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"])
    # the same values as a local conversion, bit for bit
    local = nwb1zarr.convert(fault_sources["bo"], tmp_path / "local.zarr")
    assert _open(url).attrs["nwb1zarr_digests"] == _open(local.destination).attrs["nwb1zarr_digests"]
    # plain open: the consolidated root document is the only metadata object read (no per-node requests)
    mark = s3.mark()
    dt = _open(url, storage_options={})
    metadata = [r for r in s3.requests(mark) if "/c/" not in r.path and "/c." not in r.path]  # not chunks
    found = [r for r in metadata if r.status == 200 and r.method == "GET" and "list-type" not in r.path]
    assert [r.path for r in found] == [f"/{bucket}/out/session.zarr/zarr.json"], metadata
    assert all(r.path.split("/out/session.zarr/", 1)[-1].split("/")[0].split("&")[0] in
               ("zarr.json", ".zgroup", ".zattrs", ".zmetadata") or "list-type" in r.path for r in metadata), metadata
    assert dt["ophys/dff"].shape == _open(local.destination)["ophys/dff"].shape
    # ... and exactly one request when the format is named and s3fs asked not to HEAD before GET
    mark = s3.mark()
    _open(url, zarr_format=3, storage_options={"max_concurrency": 1}, create_default_indexes=False)
    assert [(r.method, r.path) for r in s3.requests(mark)] == [("GET", f"/{bucket}/out/session.zarr/zarr.json")]


def test_remote_writes_overlap(s3, bucket):
    """Chunks are PUT concurrently: with the server frozen (SIGSTOP), the writer still starts every PUT its
    window allows instead of waiting for the first to finish."""
    from nwb1zarr.writing.to_zarr import finish_zarr, write_zarr

    data = np.arange(400 * 1000, dtype="float64").reshape(400, 1000)
    dt = xr.DataTree.from_dict({"/": xr.Dataset({"x": (("a", "b"), data)}).chunk({"a": 4})})
    url = f"s3://{bucket}/overlap.zarr"
    with claim_remote(url, overwrite=False) as store:
        writer = threading.Thread(target=write_zarr, args=(dt, store))
        os.kill(s3.proc.pid, signal.SIGSTOP)
        try:
            writer.start()
            deadline = time.monotonic() + 30
            while store.peak_in_flight < store.concurrency and time.monotonic() < deadline:
                time.sleep(0.05)
            frozen = (store.peak_in_flight, store.puts)
        finally:
            os.kill(s3.proc.pid, signal.SIGCONT)
        writer.join(60)
        finish_zarr(store, root_attrs={})
    assert frozen == (store.concurrency, 0), frozen  # all in flight at once, none finished
    np.testing.assert_array_equal(_open(url)["x"].values, data)


# ---- interrupted, rerun, overwrite ---------------------------------------------------------------------


def test_killed_remote_write_leaves_no_store_and_rerun_cleans_up(s3, bucket, s3env, fault_long_source):
    url = f"s3://{bucket}/long.zarr"
    proc = subprocess.Popen([*CLI, "convert", str(fault_long_source), url, "--no-progress"], env=s3env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and len(s3.keys(bucket, "long.zarr/")) < 20:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # the supervisor; its converting child dies with it
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(1.0)  # PUTs the dead child had in flight
    left = s3.keys(bucket)
    assert "long.zarr/zarr.json" not in left and any(k.startswith("long.zarr/") for k in left)
    assert ".long.zarr.lock" in left  # names the dead writer
    assert json.loads(s3.client().get_object(Bucket=bucket, Key=".long.zarr.lock")["Body"].read())["pid"]
    with pytest.raises(Exception):  # noqa: B017 - whatever zarr raises, nothing opens as a store
        _open(url)
    one_line_error(_run("validate", url, env=s3env), 2, "incomplete store")
    rerun = _run("convert", fault_long_source, url, "--no-progress", env=s3env)  # no --overwrite needed
    assert rerun.returncode == 0, rerun.stderr
    assert ".long.zarr.lock" not in s3.keys(bucket)
    report = nwb1zarr.validate(fault_long_source, url)
    assert report.ok, report.summary()  # every object under the prefix explained: the leftovers are gone


def test_rerun_over_complete_store_needs_overwrite(s3, bucket, s3env, fault_sources):
    src, url = fault_sources["bo"], f"s3://{bucket}/s.zarr"
    assert _run("convert", src, url, env=s3env).returncode == 0
    before = {o["Key"]: o["ETag"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]}
    one_line_error(_run("convert", src, url, env=s3env), 2, "destination exists; pass --overwrite")
    assert {o["Key"]: o["ETag"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]} == before
    again = _run("convert", src, url, "--overwrite", "--validate", env=s3env)
    assert again.returncode == 0, again.stderr
    assert sorted(s3.keys(bucket)) == sorted(before)


def test_prefix_that_is_not_a_store_is_never_replaced(s3, bucket, s3env, fault_sources):
    s3.client().put_object(Bucket=bucket, Key="data/precious.txt", Body=b"keep me")
    one_line_error(_run("convert", fault_sources["bo"], f"s3://{bucket}/data", "--overwrite", env=s3env), 2,
              "not a Zarr store; refusing to replace it")
    assert s3.keys(bucket) == ["data/precious.txt"]


def test_terminated_remote_write_removes_what_it_wrote(s3, bucket, s3env, fault_long_source):
    url = f"s3://{bucket}/term.zarr"
    proc = subprocess.Popen([*CLI, "convert", str(fault_long_source), url, "--no-progress"], env=s3env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(s3.keys(bucket, "term.zarr/")) < 20:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "nothing was written" in err.strip().splitlines()[-1]
    assert s3.keys(bucket) == []


# ---- validation of remote stores -----------------------------------------------------------------------


def test_validate_remote_store_alone_and_against_remote_source(s3, bucket, s3env, remote_src):
    url = f"s3://{bucket}/v.zarr"
    assert _run("convert", remote_src, url, env=s3env).returncode == 0
    alone = _run("validate", url, env=s3env)
    assert alone.returncode == 0 and ": OK" in alone.stdout, alone.stdout + alone.stderr
    full = _run("validate", remote_src, url, "--json", env=s3env)
    assert full.returncode == 0, full.stderr
    report = json.loads(full.stdout)
    assert report["ok"] and report["mode"] == "full" and report["store"] == url
    kinds = {c["kind"] for c in report["checks"]}
    assert {"values", "attrs", "coverage", "root", "digest", "layout", "metadata"} <= kinds


def test_validator_refuses_store_whose_consolidated_metadata_names_missing_arrays(s3, bucket, s3env, fault_sources):
    url = f"s3://{bucket}/c.zarr"
    nwb1zarr.convert(fault_sources["bo"], url)
    s3.client().delete_object(Bucket=bucket, Key="c.zarr/ophys/dff/zarr.json")
    line = one_line_error(_run("validate", url, env=s3env), 2, "incomplete store: consolidated metadata names")
    assert "/ophys/dff" in line


def test_memory_url_round_trip(fault_sources):
    """Any fsspec URL: memory:// needs no extra and no service."""
    url = f"memory://nwb1zarr-test-{uuid.uuid4().hex[:8]}/s.zarr"
    nwb1zarr.convert(f"file://{fault_sources['bo']}", url)
    assert nwb1zarr.validate(fault_sources["bo"], url).ok
    assert nwb1zarr.validate(url).ok
    assert nwb1zarr.plan(f"file://{fault_sources['bo']}").profile == "brain_observatory_ophys"


# ---- one-line errors ---------------------------------------------------------------------------------------


def test_url_errors_are_one_line(s3, bucket, s3env, tmp_path):
    s3.client().put_object(Bucket=bucket, Key="notes.nwb", Body=b"just some text, not HDF5\n" * 10)
    one_line_error(_run("convert", "foo://x/y.nwb", tmp_path / "a.zarr", env=s3env), 2, "unknown URL scheme 'foo'")
    one_line_error(_run("inspect", f"s3://{bucket}/missing.nwb", env=s3env), 2,
              f"error: s3://{bucket}/missing.nwb: no such object")
    one_line_error(_run("inspect", f"s3://no-such-bucket-{uuid.uuid4().hex[:6]}/x.nwb", env=s3env), 2, "no such bucket")
    one_line_error(_run("convert", f"s3://{bucket}/notes.nwb", tmp_path / "b.zarr", env=s3env), 2,
              "not an HDF5 file (no HDF5 signature)")
    one_line_error(_run("validate", f"s3://{bucket}/nothing.zarr", env=s3env), 2, "no such store")
    one_line_error(_run("convert", f"s3://{bucket}/x.nwb", "--storage-option", "oops", env=s3env), 2,
              "--storage-option wants KEY=VALUE")
    anonymous = {k: v for k, v in s3env.items() if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")}
    anonymous.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"))
    one_line_error(_run("inspect", f"s3://{bucket}/notes.nwb", env=anonymous), 2, "no credentials")
    assert not list(tmp_path.iterdir())


def test_storage_option_reaches_the_filesystem(s3, bucket, s3env, remote_src, tmp_path):
    """--storage-option endpoint_url=... with no AWS_ENDPOINT_URL in the environment."""
    env = {k: v for k, v in s3env.items() if k != "AWS_ENDPOINT_URL"}
    result = _run("inspect", remote_src, "--storage-option", f"endpoint_url={s3.endpoint}", env=env)
    assert result.returncode == 0, result.stderr
    assert "profile: brain_observatory_ophys" in result.stdout


def test_url_without_the_extra_names_it(tmp_path, fault_sources):
    blocked = ("import sys; sys.modules['s3fs'] = None; from nwb1zarr.cli import main; sys.exit(main())")
    result = subprocess.run([sys.executable, "-c", blocked, "convert", "s3://bucket/x.nwb", str(tmp_path / "x.zarr")],
                            capture_output=True, text=True, timeout=120)
    one_line_error(result, 2, "pip install nwb1zarr[s3]")
    result = subprocess.run([sys.executable, "-c", blocked, "convert", str(fault_sources["bo"]), "s3://bucket/x.zarr"],
                            capture_output=True, text=True, timeout=120)
    one_line_error(result, 2, "pip install nwb1zarr[s3]")


def test_import_and_help_load_no_fsspec_backend():
    code = ("import sys, nwb1zarr, nwb1zarr.cli\n"
            "from click.testing import CliRunner\n"
            "assert CliRunner().invoke(nwb1zarr.cli.main, ['convert', '--help']).exit_code == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('fsspec', 's3fs', 'aiobotocore', 'botocore', 'aiohttp', 'gcsfs', 'zarr', 'xarray')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
