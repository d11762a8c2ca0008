"""Icechunk repositories for virtual stores: where they live, which source they may reference, how they are opened.

A repository lives in a local folder or under an ``s3://bucket/prefix`` (endpoint, region and credentials as for
ordinary stores: ``storage_options`` ``endpoint_url`` / ``client_kwargs.endpoint_url``, ``anon``, ``key`` /
``secret``, else the environment: ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...). Its configuration holds one
``VirtualChunkContainer`` whose URL prefix covers the source: the source's folder (``file:///abs/dir/``) or its
bucket (``s3://bucket/``), with the S3 endpoint used at creation. Icechunk refuses to read virtual chunks unless
every open authorises the container (:func:`authorization`), which :func:`open_repository` does.

A repository is recognised without importing icechunk by its marker objects (:func:`is_repository`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DestinationError, StoreError
from ..urls import StorageOptions, is_remote, local_path, protocol_of

REPO_MARKERS = ("repo", "refs/branch.main/ref.json")
"""Objects that mark an Icechunk repository (``repo`` in newer formats; the ``main`` branch reference in 1.x)."""
SUPPORTED = ("s3", "s3a")


def missing_extra(what: str) -> StoreError:
    return StoreError(f"{what} needs icechunk and virtualizarr: pip install \"nwb1zarr[virtual]\"")


def icechunk_module(what: str = "a virtual store") -> Any:
    try:
        import icechunk
    except ImportError as exc:
        raise missing_extra(what) from exc
    if not os.environ.get("ICECHUNK_LOG"):  # the library never prints; icechunk logs warnings to stderr
        icechunk.set_logs_filter("error")
    return icechunk


@dataclass(frozen=True)
class S3Location:
    """A bucket and key prefix with how to reach it."""

    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str | None
    key: str | None
    secret: str | None
    anon: bool


def s3_location(url: str, storage_options: StorageOptions | None) -> S3Location:
    """``url`` (``s3://bucket/prefix``) with endpoint, region and credentials from options, else the environment.

    >>> s3_location("s3://b/x/y.icechunk", {"anon": True, "endpoint_url": "http://127.0.0.1:9000"}).endpoint_url
    'http://127.0.0.1:9000'
    """
    options = dict(storage_options or {})
    client = dict(options.get("client_kwargs") or {})
    rest = url.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    endpoint = options.get("endpoint_url") or client.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL_S3") \
        or os.environ.get("AWS_ENDPOINT_URL")
    region = client.get("region_name") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return S3Location(bucket=bucket, prefix=prefix.strip("/"), endpoint_url=endpoint or None,
                      region=region or ("us-east-1" if endpoint else None), key=options.get("key"),
                      secret=options.get("secret"), anon=bool(options.get("anon")))


def _check_url(url: str, error: type[StoreError] | type[DestinationError]) -> None:
    if protocol_of(url) not in SUPPORTED:
        raise error(f"virtual stores live in a local folder or under s3://; {protocol_of(url)}:// is not supported",
                    file=url)


def storage(target: str | os.PathLike[str], *, storage_options: StorageOptions | None = None,
            error: type[StoreError] | type[DestinationError] = StoreError) -> Any:
    """The icechunk ``Storage`` of a repository at ``target`` (a folder or an ``s3://`` URL)."""
    icechunk = icechunk_module()
    if not is_remote(target):
        return icechunk.local_filesystem_storage(str(Path(local_path(target)).absolute()))
    url = str(target)
    _check_url(url, error)
    where = s3_location(url, storage_options)
    return icechunk.s3_storage(bucket=where.bucket, prefix=where.prefix, region=where.region,
                               endpoint_url=where.endpoint_url, allow_http=_http(where.endpoint_url),
                               force_path_style=where.endpoint_url is not None, **_credential_args(where))


def _http(endpoint: str | None) -> bool:
    return bool(endpoint) and str(endpoint).startswith("http://")


def _credential_args(where: S3Location) -> dict[str, Any]:
    if where.anon:
        return {"anonymous": True}
    if where.key and where.secret:
        return {"access_key_id": where.key, "secret_access_key": where.secret}
    return {"from_env": True}


def container_prefix(source: Any) -> str:
    """The virtual chunk container URL prefix covering ``source`` (a Path or a URL).

    >>> container_prefix(Path("/data/nwb/570014520.nwb")), container_prefix("s3://bucket/x/570014520.nwb")
    ('file:///data/nwb/', 's3://bucket/')
    """
    if isinstance(source, Path):
        return source.absolute().parent.as_uri().rstrip("/") + "/"
    url = str(source)
    _check_url(url, StoreError)
    return f"s3://{url.split('://', 1)[1].split('/', 1)[0]}/"


def source_url(source: Any) -> str:
    """What the chunk references name: ``file:///abs/x.nwb`` or the ``s3://`` URL."""
    if isinstance(source, Path):
        return source.absolute().as_uri()
    url = str(source)
    return "s3://" + url.split("://", 1)[1] if protocol_of(url) == "s3a" else url


def repository_config(source: Any, *, storage_options: StorageOptions | None = None) -> Any:
    """A repository configuration with one virtual chunk container for ``source``."""
    icechunk = icechunk_module()
    config = icechunk.RepositoryConfig.default()
    prefix = container_prefix(source)
    if prefix.startswith("file://"):
        store = icechunk.local_filesystem_store(prefix.removeprefix("file://"))
    else:
        where = s3_location(str(source), storage_options)
        store = icechunk.s3_store(region=where.region, endpoint_url=where.endpoint_url,
                                  allow_http=_http(where.endpoint_url), anonymous=where.anon,
                                  s3_compatible=where.endpoint_url is not None,
                                  force_path_style=where.endpoint_url is not None)
    config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(prefix, store))
    return config


def authorization(prefixes: list[str], *, storage_options: StorageOptions | None = None) -> Any:
    """Credentials for every container prefix: none for files, S3 credentials as for the store."""
    icechunk = icechunk_module()
    creds: dict[str, Any] = {}
    for prefix in prefixes:
        if prefix.startswith("file://"):
            creds[prefix] = None
            continue
        where = s3_location(prefix, storage_options)
        creds[prefix] = icechunk.s3_credentials(**_credential_args(where))
    return icechunk.containers_credentials(creds)


def is_repository(target: str | os.PathLike[str], *, storage_options: StorageOptions | None = None) -> bool:
    """Whether ``target`` holds an Icechunk repository (its ``repo`` object), without importing icechunk."""
    if not is_remote(target):
        return any((Path(local_path(target)) / marker).is_file() for marker in REPO_MARKERS)
    if protocol_of(str(target)) not in SUPPORTED:
        return False
    from ..urls import filesystem, remote_error_types

    try:
        fs, path = filesystem(str(target), storage_options=storage_options, error=StoreError)
        return any(fs.exists(f"{path.rstrip('/')}/{marker}") for marker in REPO_MARKERS)
    except remote_error_types():
        return False


def open_repository(target: str | os.PathLike[str], *, storage_options: StorageOptions | None = None) -> Any:
    """Open the repository at ``target`` with read access to its virtual chunk containers."""
    icechunk = icechunk_module("opening a virtual store")
    where = str(target)
    place = storage(target, storage_options=storage_options)
    try:
        config = icechunk.Repository.fetch_config(place)
        prefixes = sorted((config.virtual_chunk_containers or {}) if config is not None else {})
        return icechunk.Repository.open(place, authorize_virtual_chunk_access=authorization(
            prefixes, storage_options=storage_options))
    except icechunk.IcechunkError as exc:
        raise StoreError(f"cannot open the Icechunk repository: {_first_line(exc)}", file=where) from exc


def readonly_store(target: str | os.PathLike[str], *, storage_options: StorageOptions | None = None) -> Any:
    """The read-only store of the latest snapshot on ``main``, refused when no conversion was committed to it."""
    session = open_repository(target, storage_options=storage_options).readonly_session(branch="main")
    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            attrs = dict(zarr.open_group(session.store, mode="r").attrs)
        except Exception:  # no root group at all: the initial, empty snapshot
            attrs = {}
    if "nwb1zarr_digests" not in attrs:
        raise StoreError("incomplete virtual store: the repository has no committed conversion (an interrupted "
                         "or running conversion?); convert again with --overwrite", file=str(target))
    return session.store


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---- claiming a destination ---------------------------------------------------------------------------------


@contextlib.contextmanager
def claim_local(dst: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a partial folder that becomes ``dst`` when the block succeeds (:func:`nwb1zarr.sinks.claim_dst.claim`).

    An existing repository at ``dst`` (which the ordinary claim does not know as a store) is moved aside to
    ``.DST.replaced-PID`` first, put back if the conversion fails, and removed when it succeeds.
    """
    from ..sinks.claim_dst import claim

    dst = Path(os.path.abspath(dst))
    aside: Path | None = None
    if dst.exists() and is_repository(dst):
        if not overwrite:
            raise DestinationError("destination exists; pass --overwrite (overwrite=True) to replace it",
                                   file=str(dst))
        aside = dst.parent / f".{dst.name}.replaced-{os.getpid()}"
        os.rename(dst, aside)
    try:
        with claim(dst, overwrite=overwrite) as partial:
            yield partial
    except BaseException:
        if aside is not None and not dst.exists():
            os.rename(aside, dst)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def claim_remote_repository(url: str, *, overwrite: bool,
                            storage_options: StorageOptions | None = None) -> Iterator[str]:
    """Hold the lock object beside ``url`` (:class:`nwb1zarr.sinks.claim_remote.RemoteDestination`) while a repository
    is written there; an existing complete repository needs ``overwrite``; an incomplete one (no committed
    conversion) or a dead run's leftovers are removed; a failed run removes what it wrote."""
    from ..sinks.claim_remote import RemoteDestination

    _check_url(url, DestinationError)
    dest = RemoteDestination(url, storage_options=storage_options)
    if "/" not in dest.path.strip("/"):
        raise DestinationError("a store needs a prefix inside the bucket (e.g. s3://bucket/name.icechunk)", file=url)
    took_over = dest.take_lock()
    try:
        if dest.objects():
            complete = False
            if is_repository(url, storage_options=storage_options):
                with contextlib.suppress(StoreError):
                    complete = readonly_store(url, storage_options=storage_options) is not None
            if complete and not overwrite:
                raise DestinationError("destination exists; pass --overwrite (overwrite=True) to replace it",
                                       file=url)
            if not (complete or took_over or is_repository(url, storage_options=storage_options)):
                raise DestinationError("destination exists and is not a store; refusing to replace it", file=url)
            dest.remove(root_first=False)
        try:
            yield url
        except BaseException:
            with contextlib.suppress(DestinationError):
                dest.remove(root_first=False)
            raise
    finally:
        dest.release_lock()
