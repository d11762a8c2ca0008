"""Sources by experiment id: an AllenSDK cache folder, else the archive, downloaded once with resume and checksum.

The archive is a real HTTP server on 127.0.0.1 started by these tests (``http.server``, with Range, If-Range and
ETag, able to drop a connection half way or serve a damaged body); ``NWB1ZARR_ARCHIVE_URL`` points at it.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zarr
from click.testing import CliRunner

from nwb1zarr.cli import main
from nwb1zarr.progress_bar import format_amount
from nwb1zarr.reading.download import DownloadError, fetch, sidecar
from nwb1zarr.reading.sources import RECORD_ATTR, AllenSdkCache, archive_url, resolve_source

EID = 570014520
PREFIX = "/visual-coding-2p/ophys_experiment_data/"


# ---- the archive: a real HTTP server ------------------------------------------------------------


@dataclass
class Archive:
    """What the server holds and how it misbehaves; ``requests`` logs (path, Range header, bytes sent)."""

    url: str = ""
    objects: dict[str, bytes] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    drop_after: dict[str, list[int]] = field(default_factory=dict)  # per path: cut the next responses here
    damage: set[str] = field(default_factory=set)  # paths whose body is served with one byte flipped
    requests: list[tuple[str, str | None, int]] = field(default_factory=list)

    def put(self, experiment_id: int, body: bytes, *, etag: str | None = None) -> str:
        path = f"{PREFIX}{experiment_id}.nwb"
        self.objects[path] = body
        self.etags[path] = etag if etag is not None else hashlib.md5(body).hexdigest()
        return path


class _Handler(http.server.BaseHTTPRequestHandler):
    archive: Archive

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        archive = self.archive
        body = archive.objects.get(self.path)
        ranged = self.headers.get("Range")
        if body is None:
            archive.requests.append((self.path, ranged, 0))
            self.send_error(404, "Not Found")
            return
        etag = archive.etags[self.path]
        if self.path in archive.damage:
            body = body[:len(body) // 3] + bytes([body[len(body) // 3] ^ 0xFF]) + body[len(body) // 3 + 1:]
        start = 0
        if ranged and self.headers.get("If-Range", f'"{etag}"') == f'"{etag}"':
            start = int(ranged.removeprefix("bytes=").split("-")[0])
        if start >= len(body) and ranged:
            archive.requests.append((self.path, ranged, 0))
            self.send_error(416, "Range Not Satisfiable")
            return
        payload = body[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("ETag", f'"{etag}"')
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        cuts = archive.drop_after.get(self.path)
        if cuts:
            payload = payload[:cuts.pop(0)]  # then the connection closes: fewer bytes than announced
        self.wfile.write(payload)
        archive.requests.append((self.path, ranged, len(payload)))


@pytest.fixture
def archive(monkeypatch, tmp_path) -> Iterator[Archive]:
    """A running archive server; the download cache and the working directory in ``tmp_path``."""
    state = Archive()
    handler = type("Handler", (_Handler,), {"archive": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/visual-coding-2p"
    monkeypatch.setenv("NWB1ZARR_ARCHIVE_URL", state.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("NWB1ZARR_ALLENSDK_CACHE", raising=False)
    monkeypatch.delenv("NWB1ZARR_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def session_bytes(tmp_path_factory) -> bytes:
    from nwb1zarr.testing import SessionSpec, write_session

    path = Path(write_session(tmp_path_factory.mktemp("session") / "s.nwb", SessionSpec.tiny()))
    return path.read_bytes()


def cli(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"the CLI raised {result.exception!r}") from result.exception
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# ---- an AllenSDK cache folder ---------------------------------------------------------------------

RECORD = {"id": EID, "experiment_container_id": 511510736, "session_type": "three_session_B",
          "cre_line": "Cux2-CreERT2", "targeted_structure": "VISp", "imaging_depth": 175,
          "donor_name": "222426", "specimen_name": "Cux2-CreERT2;Camk2a-tTA;Ai93-222426", "fail_eye_tracking": False}


def allensdk_manifest(basedir: str = ".") -> dict[str, object]:
    """What ``BrainObservatoryCache.build_manifest`` writes (ManifestBuilder: keys, types, specs, parents)."""
    return {"manifest": [
        {"key": "BASEDIR", "type": "dir", "spec": basedir},
        {"key": "EXPERIMENT_CONTAINERS", "type": "file", "spec": "experiment_containers.json",
         "parent_key": "BASEDIR"},
        {"key": "EXPERIMENTS", "type": "file", "spec": "ophys_experiments.json", "parent_key": "BASEDIR"},
        {"key": "EXPERIMENT_DATA", "type": "file", "spec": "ophys_experiment_data/%d.nwb", "parent_key": "BASEDIR"},
        {"key": "CELL_SPECIMENS", "type": "file", "spec": "cell_specimens.json", "parent_key": "BASEDIR"},
        {"key": "STIMULUS_MAPPINGS", "type": "file", "spec": "stimulus_mappings.json", "parent_key": "BASEDIR"},
    ]}


def make_cache(folder: Path, body: bytes, *, manifest_name: str = "manifest.json", basedir: str = ".",
               records: list[dict[str, object]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / manifest_name).write_text(json.dumps(allensdk_manifest(basedir)))
    data = (folder / basedir).resolve()
    (data / "ophys_experiment_data").mkdir(parents=True, exist_ok=True)
    (data / "ophys_experiment_data" / f"{EID}.nwb").write_bytes(body)
    if records is not None:
        (data / "ophys_experiments.json").write_text(json.dumps(records))
    return folder


def test_id_from_allensdk_cache_converts_validates_inspects(archive, tmp_path, session_bytes):
    cache = make_cache(tmp_path / "allensdk", session_bytes, records=[{"id": 1}, RECORD])
    code, out, err = cli("convert", EID, "--cache", cache)
    assert code == 0, err
    assert f"wrote {EID}.zarr" in out
    attrs = zarr.open_group(f"{EID}.zarr", mode="r").attrs
    assert attrs[RECORD_ATTR] == RECORD
    assert attrs["nwb1zarr_extra_attrs"] == [RECORD_ATTR]
    assert attrs["source_file"] == f"{EID}.nwb"
    code, out, err = cli("validate", EID, f"{EID}.zarr", "--cache", cache)
    assert code == 0 and "OK" in out, out + err
    code, out, err = cli("validate", f"{EID}.zarr")
    assert code == 0, out + err
    code, out, err = cli("inspect", EID, "--cache", cache)
    assert code == 0 and '"session_type": "three_session_B"' in out, out + err
    assert archive.requests == []  # the cache answered; the archive was never asked


def test_cache_from_environment_and_allensdk_default_manifest_name(archive, tmp_path, session_bytes, monkeypatch):
    cache = make_cache(tmp_path / "sdk", session_bytes, manifest_name="brain_observatory_manifest.json",
                       basedir="data", records=[RECORD])
    monkeypatch.setenv("NWB1ZARR_ALLENSDK_CACHE", str(cache))
    source = resolve_source(str(EID))
    assert source.origin == "allensdk-cache"
    assert source.path == (cache / "data" / "ophys_experiment_data" / f"{EID}.nwb").resolve()
    assert source.record == RECORD and source.extra_attrs == {RECORD_ATTR: RECORD}
    # the manifest file itself may be given, as AllenSDK takes it
    assert AllenSdkCache(cache / "brain_observatory_manifest.json").experiment_path(EID) == source.path


def test_cache_without_experiment_list_converts_without_record(archive, tmp_path, session_bytes):
    cache = make_cache(tmp_path / "allensdk", session_bytes)
    code, out, err = cli("convert", EID, "--cache", cache, "--validate")
    assert code == 0, out + err
    attrs = zarr.open_group(f"{EID}.zarr", mode="r").attrs
    assert RECORD_ATTR not in attrs and "nwb1zarr_extra_attrs" not in attrs


def test_an_existing_file_named_like_an_id_is_a_path(archive, tmp_path, session_bytes):
    Path("12345").write_bytes(session_bytes)
    assert resolve_source("12345").origin == "path"
    code, _, err = cli("convert", "12345")
    assert code == 0 and Path("12345.zarr").is_dir(), err
    assert archive.requests == []


# ---- the archive ------------------------------------------------------------------------------------


def test_download_once_then_verify_locally(archive, tmp_path, session_bytes):
    archive.put(EID, session_bytes)
    code, out, err = cli("convert", EID, "--validate", "--verbose")
    assert code == 0, out + err
    cached = tmp_path / "xdg" / "nwb1zarr" / "ophys_experiment_data" / f"{EID}.nwb"
    assert cached.read_bytes() == session_bytes
    assert sidecar(cached).read_text() == f"{hashlib.sha256(session_bytes).hexdigest()}  {EID}.nwb\n"
    assert f"downloaded from {archive.url}/ophys_experiment_data/{EID}.nwb; verified by md5" in err
    assert [(p, r) for p, r, _ in archive.requests] == [(f"{PREFIX}{EID}.nwb", None)]
    assert sorted(p.name for p in cached.parent.iterdir()) == [f"{EID}.nwb", f"{EID}.nwb.lock",
                                                               f"{EID}.nwb.sha256"]
    code, out, err = cli("inspect", EID, "--verbose")
    assert code == 0 and "from the download cache; verified by sha256" in err, err
    assert len(archive.requests) == 1  # no second download


def test_download_into_allensdk_cache_when_it_lacks_the_file(archive, tmp_path, session_bytes):
    cache = make_cache(tmp_path / "allensdk", b"", records=[RECORD])
    (cache / "ophys_experiment_data" / f"{EID}.nwb").unlink()
    archive.put(EID, session_bytes)
    source = resolve_source(EID, cache=cache)
    assert source.origin == "archive" and source.record == RECORD
    assert source.path == cache.resolve() / "ophys_experiment_data" / f"{EID}.nwb"  # where AllenSDK looks
    assert source.path.read_bytes() == session_bytes


def test_dropped_connection_resumes_with_range(archive, tmp_path, session_bytes):
    path = archive.put(EID, session_bytes)
    half = len(session_bytes) // 2
    archive.drop_after[path] = [half]
    got = fetch(f"{archive.url}/ophys_experiment_data/{EID}.nwb", tmp_path / "dl" / "x.nwb")
    assert got.path.read_bytes() == session_bytes and got.verified_by == "md5"
    assert archive.requests == [(path, None, half), (path, f"bytes={half}-", len(session_bytes) - half)]


def test_interrupted_download_resumes_on_the_next_run(archive, tmp_path, session_bytes):
    path = archive.put(EID, session_bytes)
    third = len(session_bytes) // 3
    archive.drop_after[path] = [third, 0, 0, 0]  # every attempt of this run breaks off
    code, _, err = cli("convert", EID)
    line = one_error_line(err)
    assert line.startswith(f"error: {archive.url}/ophys_experiment_data/{EID}.nwb: download stopped at {third} of "
                           f"{len(session_bytes)} bytes"), line
    assert line.endswith("after 4 attempts; run again to resume") and code == 2
    part = tmp_path / "xdg" / "nwb1zarr" / "ophys_experiment_data" / f"{EID}.nwb.part"
    assert part.stat().st_size == third and not Path(f"{EID}.zarr").exists()
    code, _, err = cli("convert", EID, "--verbose")
    assert code == 0, err
    assert archive.requests[-1] == (path, f"bytes={third}-", len(session_bytes) - third)
    assert f"(resumed after {format_amount(third, 'bytes')})" in err, err
    assert not part.exists() and Path(f"{EID}.zarr").is_dir()


def test_changed_object_restarts_instead_of_splicing(archive, tmp_path, session_bytes):
    path = archive.put(EID, session_bytes, etag="0" * 32)
    archive.drop_after[path] = [100]
    dest = tmp_path / "dl" / "x.nwb"
    url = f"{archive.url}/ophys_experiment_data/{EID}.nwb"
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch(url, dest, retries=0)
    archive.put(EID, session_bytes)  # the object changed (new ETag): If-Range makes the server send it whole
    got = fetch(url, dest)
    assert got.path.read_bytes() == session_bytes and got.verified_by == "md5"
    assert archive.requests[-1] == (path, "bytes=100-", len(session_bytes))


def test_checksum_mismatch_deletes_the_download(archive, tmp_path, session_bytes):
    path = archive.put(EID, session_bytes)
    archive.damage.add(path)
    code, _, err = cli("convert", EID)
    line = one_error_line(err)
    assert code == 2 and "download is corrupt: md5" in line and "but the server's ETag says" in line, line
    assert line.endswith("deleted it, run again")
    folder = tmp_path / "xdg" / "nwb1zarr" / "ophys_experiment_data"
    assert sorted(p.name for p in folder.iterdir()) == [f"{EID}.nwb.lock"]
    archive.damage.clear()
    assert cli("convert", EID)[0] == 0


def test_multipart_etag_is_checked_by_size(archive, tmp_path, session_bytes):
    archive.put(EID, session_bytes, etag="d41d8cd98f00b204e9800998ecf8427e-3")
    got = fetch(f"{archive.url}/ophys_experiment_data/{EID}.nwb", tmp_path / "x.nwb")
    assert got.verified_by == "size" and got.sha256 == hashlib.sha256(session_bytes).hexdigest()


def test_damaged_cached_download_is_deleted_and_fetched_again(archive, tmp_path, session_bytes):
    archive.put(EID, session_bytes)
    assert cli("inspect", EID)[0] == 0
    cached = tmp_path / "xdg" / "nwb1zarr" / "ophys_experiment_data" / f"{EID}.nwb"
    data = bytearray(cached.read_bytes())
    data[1000] ^= 0x01
    cached.write_bytes(bytes(data))
    code, _, err = cli("validate", EID, "whatever.zarr")
    line = one_error_line(err)
    assert code == 2 and line.startswith(f"error: {cached}: cached download is corrupt (sha256 "), line
    assert line.endswith("deleted it, run again to download it again")
    assert not cached.exists() and not sidecar(cached).exists()
    assert cli("inspect", EID)[0] == 0 and cached.read_bytes() == session_bytes


@pytest.mark.parametrize("command", ["convert", "inspect", "validate"])
def test_unknown_id_is_one_line(archive, tmp_path, command):
    args = [command, 999, *(["out.zarr"] if command == "validate" else [])]
    code, out, err = cli(*args)
    assert code == 2, out + err
    assert one_error_line(err) == (f"error: 999: no such experiment in {tmp_path / 'xdg' / 'nwb1zarr'} or at "
                                   f"{archive.url}/ophys_experiment_data/999.nwb")
    code, out, err = cli(*args, "--cache", tmp_path / "allensdk")
    assert one_error_line(err) == (f"error: 999: no such experiment in {tmp_path / 'allensdk'} or at "
                                   f"{archive.url}/ophys_experiment_data/999.nwb")
    assert not Path("999.zarr").exists() and not Path("out.zarr").exists()


def test_unreachable_archive_is_one_line(archive, tmp_path, monkeypatch):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("NWB1ZARR_ARCHIVE_URL", f"http://127.0.0.1:{port}/vc2p")
    code, _, err = cli("inspect", EID)
    line = one_error_line(err)
    assert code == 2 and line.startswith(f"error: http://127.0.0.1:{port}/vc2p/ophys_experiment_data/{EID}.nwb: "
                                         "cannot reach the server ("), line


def test_archive_url_forms(monkeypatch):
    monkeypatch.delenv("NWB1ZARR_ARCHIVE_URL", raising=False)
    assert archive_url(EID) == ("https://allen-brain-observatory.s3.us-west-2.amazonaws.com/visual-coding-2p/"
                                f"ophys_experiment_data/{EID}.nwb")
    monkeypatch.setenv("NWB1ZARR_ARCHIVE_URL", "s3://allen-brain-observatory/visual-coding-2p/")
    assert archive_url(EID).startswith("https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/ophys")
