"""A real S3 API on loopback for tests and benchmarks: moto's server mode in a subprocess.

>>> with S3Server.start() as server:                     # doctest: +SKIP
...     server.make_bucket("b")
...     env = server.env()                                # AWS_ENDPOINT_URL and test credentials

The server logs one line per HTTP request (werkzeug's access log); :meth:`S3Server.requests` reads
the lines written since a mark, so a test can count exactly what a client asked the server for.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3})')
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # werkzeug colours error lines


@dataclass(frozen=True)
class Request:
    """One request as the server logged it."""

    method: str
    path: str
    status: int


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_command() -> list[str]:
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if exe:
        return [exe]
    return [sys.executable, "-m", "moto.server"]


class S3Server:
    """A moto S3 server on 127.0.0.1 (a child process), its endpoint and its request log."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.endpoint = f"http://127.0.0.1:{port}"

    @classmethod
    @contextlib.contextmanager
    def start(cls, *, timeout: float = 30.0) -> Iterator[S3Server]:
        """Start the server on a free loopback port, wait until it answers, stop it afterwards."""
        workdir = Path(tempfile.mkdtemp(prefix="nwb1zarr-moto-"))
        log = workdir / "requests.log"
        port = _free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            proc = subprocess.Popen([*_server_command(), "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                    stderr=subprocess.STDOUT, env=env, cwd=workdir)
        server = cls(proc, port, log)
        try:
            server._wait(timeout)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(workdir, ignore_errors=True)

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RuntimeError(f"moto_server did not answer on {self.endpoint} within {timeout} s")

    # ---- clients ------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """Environment variables that point AWS clients (boto3, s3fs, subprocesses) at this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self) -> Any:
        import boto3

        env = self.env()
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under ``prefix`` in ``bucket``."""
        out: list[str] = []
        paginator = self.client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            out.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(out)

    # ---- the request log ----------------------------------------------------------------------
    def mark(self) -> int:
        """A position in the request log; :meth:`requests` returns what came after it."""
        return self.log.stat().st_size

    def requests(self, since: int = 0, *, settle: float = 0.2) -> list[Request]:
        """Requests logged after ``since`` (waits ``settle`` seconds for the log to catch up)."""
        time.sleep(settle)
        with self.log.open("rb") as fh:
            fh.seek(since)
            text = fh.read().decode(errors="replace")
        out = []
        for line in text.splitlines():
            match = REQUEST_LINE.search(ANSI.sub("", line))
            if match and not match["path"].startswith("/moto-api"):
                out.append(Request(match["method"], match["path"], int(match["status"])))
        return out
