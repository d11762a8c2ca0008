"""URLs as sources and destinations: which strings are URLs, their fsspec filesystem, their errors in one line.

Any fsspec URL works (``s3://``, ``gs://``, ``file://``, ``memory://``, ...). Credentials and endpoints
come from the usual environment (for S3: ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, ``~/.aws``), plus
``storage_options`` (the CLI's ``--storage-option KEY=VALUE``). fsspec backends are imported only when a
URL is used; a backend that is not installed is a one-line error naming the extra that brings it.

>>> is_url("s3://bucket/570014520.nwb"), is_url("570014520.nwb"), is_url("C:/data/x.nwb")
(True, False, False)
>>> parse_storage_options(["anon=true", "client_kwargs.region_name=us-west-2", "block_size=8388608"])
{'anon': True, 'client_kwargs': {'region_name': 'us-west-2'}, 'block_size': 8388608}
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from .errors import DestinationError, InputError, Nwb1ZarrError, StoreError

StorageOptions = Mapping[str, Any]

_URL = re.compile(r"^(?P<protocol>[a-zA-Z][a-zA-Z0-9+.-]+)://")
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure",
          "http": "http", "https": "http"}
"""Protocol -> the nwb1zarr extra that installs its fsspec backend (only ``s3`` is declared today)."""
BACKENDS = {"s3": "s3fs", "gcs": "gcsfs", "azure": "adlfs", "http": "aiohttp"}
DECLARED_EXTRAS = {"s3"}


def is_url(target: object) -> bool:
    """True for ``str`` targets of the form ``protocol://...`` (two letters or more: not a drive)."""
    return isinstance(target, str) and _URL.match(target) is not None


def is_remote(target: object) -> bool:
    """A URL that is not ``file://``: written and read through fsspec, not the local file system.

    >>> is_remote("s3://b/x.zarr"), is_remote("file:///tmp/x.zarr"), is_remote("/tmp/x.zarr")
    (True, False, False)
    """
    return is_url(target) and protocol_of(str(target)) != "file"


def protocol_of(url: str) -> str:
    match = _URL.match(url)
    return match["protocol"].lower() if match else "file"


def url_name(url: str) -> str:
    """The last path component of a URL ('s3://b/x/570014520.nwb' -> '570014520.nwb')."""
    return PurePosixPath(url.split("://", 1)[-1].split("?", 1)[0].rstrip("/")).name


def parse_storage_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> storage options; values read as JSON when they parse (true, 3, null),
    dotted keys nest (``client_kwargs.region_name=x``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--storage-option wants KEY=VALUE, got {pair!r}")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        where = out
        *parents, last = key.strip().split(".")
        for part in parents:
            where = where.setdefault(part, {})
            if not isinstance(where, dict):
                raise InputError(f"--storage-option {key}: {part} is both a value and a group")
        where[last] = value
    return out


def _missing_backend(url: str, exc: BaseException, error: type[Nwb1ZarrError]) -> Nwb1ZarrError:
    protocol = protocol_of(url)
    extra = EXTRAS.get(protocol)
    if extra in DECLARED_EXTRAS:
        how = f"pip install nwb1zarr[{extra}]"
    elif extra:
        how = f"pip install {BACKENDS[extra]}"
    else:
        how = "install the fsspec backend for it"
    return error(f"{protocol}:// URLs need an optional dependency that is not installed ({exc}); {how}", file=url)


def filesystem(url: str, *, storage_options: StorageOptions | None = None, asynchronous: bool = False,
               error: type[Nwb1ZarrError] = InputError) -> tuple[Any, str]:
    """The fsspec filesystem for ``url`` and the path inside it; failures are one-line ``error``\\ s.

    >>> fs, path = filesystem("memory://nwb1zarr-doc/x.nwb")
    >>> type(fs).__name__, path
    ('MemoryFileSystem', '/nwb1zarr-doc/x.nwb')
    """
    try:
        import fsspec
        from fsspec.registry import known_implementations
    except ImportError as exc:  # pragma: no cover - fsspec comes with dask
        raise _missing_backend(url, exc, error) from exc
    protocol = protocol_of(url)
    if protocol not in fsspec.available_protocols() and protocol not in known_implementations:
        raise error(f"unknown URL scheme {protocol!r} (no fsspec backend is named so)", file=url)
    options = dict(storage_options or {})
    if asynchronous:
        options["asynchronous"] = True
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise _missing_backend(url, exc, error) from exc
    except (TypeError, ValueError) as exc:
        raise error(f"bad URL or storage options: {exc}", file=url) from exc
    return fs, path


def describe(exc: BaseException) -> str:
    """A short reason for an exception raised by an fsspec backend (S3 and friends)."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if name in ("NoCredentialsError", "PartialCredentialsError", "NoAuthTokenError", "DefaultCredentialsError"):
        return ("no credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or pass "
                "--storage-option anon=true for a public bucket)")
    if "bucket does not exist" in text.lower() or "NoSuchBucket" in text:
        return "no such bucket"
    if isinstance(exc, FileNotFoundError):
        return "no such object"
    if isinstance(exc, PermissionError) or "AccessDenied" in text or "Forbidden" in text:
        return f"access denied ({text[:160]})" if text else "access denied"
    if name in ("EndpointConnectionError", "ClientConnectorError", "ConnectTimeoutError", "ServerDisconnectedError",
                "ConnectionError", "ConnectionRefusedError") or isinstance(exc, ConnectionError):
        return f"cannot reach the storage service ({text[:160] or name})"
    return f"{name}: {text[:200]}" if text else name


def translate(exc: BaseException, url: str, *, error: type[Nwb1ZarrError] = InputError,
              doing: str = "") -> Nwb1ZarrError:
    """Any exception of a remote operation on ``url`` as a one-line nwb1zarr error."""
    if isinstance(exc, Nwb1ZarrError):
        return exc
    reason = describe(exc)
    return error(f"{doing}: {reason}" if doing else reason, file=url)


def remote_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions a remote filesystem call may raise that mean 'the service said no' (not a bug of ours)."""
    types: list[type[BaseException]] = [OSError, ValueError, TimeoutError]
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        types += [BotoCoreError, ClientError]
    except ImportError:
        pass
    try:
        from aiohttp import ClientError as AiohttpClientError

        types.append(AiohttpClientError)
    except ImportError:
        pass
    return tuple(types)


def local_path(target: str | os.PathLike[str]) -> str:
    """``file://`` URLs as the plain local path they name (other targets unchanged)."""
    text = os.fspath(target)
    return text[len("file://"):] if isinstance(text, str) and text.lower().startswith("file://") else text


__all__ = ["DestinationError", "InputError", "StoreError", "describe", "filesystem", "is_url", "local_path",
           "parse_storage_options", "protocol_of", "remote_error_types", "translate", "url_name"]
