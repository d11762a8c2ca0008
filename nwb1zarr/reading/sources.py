"""What a source argument names: a path (or URL), or an ophys experiment id found in a cache or the archive.

A bare integer such as ``570014520`` (that is not an existing file) is an ophys experiment id, looked up

1. in an **AllenSDK cache folder** (``cache=`` / ``--cache DIR``, else ``$NWB1ZARR_ALLENSDK_CACHE``): the layout
   ``BrainObservatoryCache(manifest_file=DIR/manifest.json)`` writes, read through its manifest (keys
   ``EXPERIMENT_DATA`` -> ``ophys_experiment_data/%d.nwb`` and ``EXPERIMENTS`` -> ``ophys_experiments.json``,
   as AllenSDK's ``build_manifest`` names them). The experiment's record in ``ophys_experiments.json``, when
   present, travels with the source as ``extra_attrs={"allensdk_cache_record": record}``;
2. failing that, in the **public archive** (``$NWB1ZARR_ARCHIVE_URL``, default :data:`DEFAULT_ARCHIVE_URL`),
   downloaded once (see :mod:`nwb1zarr.reading.download`) into the AllenSDK cache folder when one is given (at the path
   its manifest names, so AllenSDK finds it too), else into ``$XDG_CACHE_HOME/nwb1zarr`` (``~/.cache/nwb1zarr``).

Anything else is passed through unchanged (local paths, and URLs for the commands that take them).

>>> resolve_source("session.nwb").path
'session.nwb'
>>> src = resolve_source("570014520", cache="~/allensdk")   # doctest: +SKIP
>>> src.path, src.origin, src.default_destination            # doctest: +SKIP
(PosixPath('/home/me/allensdk/ophys_experiment_data/570014520.nwb'), 'allensdk-cache', PosixPath('570014520.zarr'))
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..progress import ProgressCallback, no_progress
from .download import Downloaded, RemoteNotFound, fetch, verify_cached

CACHE_ENV = "NWB1ZARR_ALLENSDK_CACHE"
ARCHIVE_URL_ENV = "NWB1ZARR_ARCHIVE_URL"
DEFAULT_ARCHIVE_URL = "https://allen-brain-observatory.s3.us-west-2.amazonaws.com/visual-coding-2p"
"""The public Visual Coding 2-photon archive (``s3://allen-brain-observatory/visual-coding-2p``) over HTTPS."""
RECORD_ATTR = "allensdk_cache_record"
"""Root attribute holding the experiment's record from the AllenSDK cache's ``ophys_experiments.json``."""
MANIFEST_NAMES = ("manifest.json", "brain_observatory_manifest.json")  # the second is AllenSDK's default name
EXPERIMENT_DATA_KEY, EXPERIMENTS_KEY = "EXPERIMENT_DATA", "EXPERIMENTS"
DEFAULT_SPECS = {EXPERIMENT_DATA_KEY: "ophys_experiment_data/%d.nwb", EXPERIMENTS_KEY: "ophys_experiments.json"}
_ID = re.compile(r"^[0-9]{1,18}$")


@dataclass(frozen=True)
class Source:
    """A resolved source: what to open, and where it came from."""

    argument: str
    path: Any  # a Path for ids; the argument unchanged otherwise (a path or a URL)
    origin: str  # "path", "allensdk-cache", "download-cache" or "archive"
    experiment_id: int | None = None
    record: dict[str, Any] | None = None
    download: Downloaded | None = None

    @property
    def extra_attrs(self) -> dict[str, Any] | None:
        """Root attributes for ``convert(..., extra_attrs=...)``: the AllenSDK cache record, if any."""
        return {RECORD_ATTR: self.record} if self.record is not None else None

    @property
    def default_destination(self) -> Path:
        """``<id>.zarr`` in the current folder for an id; the source with ``.zarr`` otherwise."""
        if self.experiment_id is not None:
            return Path(f"{self.experiment_id}.zarr")
        return Path(str(self.path)).with_suffix(".zarr")


def is_experiment_id(argument: object) -> bool:
    """True for a bare non-negative integer (``570014520``) that is not an existing path.

    >>> is_experiment_id("570014520"), is_experiment_id("570014520.nwb"), is_experiment_id(570014520)
    (True, False, True)
    """
    text = os.fspath(argument) if isinstance(argument, os.PathLike) else str(argument)
    return bool(_ID.match(text)) and not Path(text).exists()


def archive_url(experiment_id: int, *, base: str | None = None) -> str:
    """The archive URL of an experiment's NWB file (``s3://BUCKET/...`` bases become anonymous HTTPS).

    >>> archive_url(570014520, base="s3://allen-brain-observatory/visual-coding-2p")
    'https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/ophys_experiment_data/570014520.nwb'
    """
    base = base or os.environ.get(ARCHIVE_URL_ENV) or DEFAULT_ARCHIVE_URL
    if base.startswith("s3://"):
        bucket, _, prefix = base[len("s3://"):].partition("/")
        base = f"https://{bucket}.s3.amazonaws.com/{prefix}"
    if not base.startswith(("http://", "https://")):
        raise InputError(f"archive URL must start with http://, https:// or s3://, got {base!r} "
                         f"(set by {ARCHIVE_URL_ENV})")
    return f"{base.rstrip('/')}/ophys_experiment_data/{experiment_id}.nwb"


def default_download_dir() -> Path:
    """``$XDG_CACHE_HOME/nwb1zarr``, else ``~/.cache/nwb1zarr``."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "nwb1zarr"


class AllenSdkCache:
    """An AllenSDK ``BrainObservatoryCache`` folder, read through its manifest (defaults when it has none)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        given = Path(folder).expanduser()
        self.manifest = given if given.suffix == ".json" else next(
            (given / n for n in MANIFEST_NAMES if (given / n).is_file()), None)
        self.folder = given.parent if given.suffix == ".json" else given
        self.specs = dict(DEFAULT_SPECS)
        if self.manifest is not None and self.manifest.is_file():
            self.specs.update(_manifest_specs(self.manifest))

    def __str__(self) -> str:
        return str(self.folder)

    def experiment_path(self, experiment_id: int) -> Path:
        """Where the cache keeps (or will keep) an experiment's NWB file."""
        return self._path(EXPERIMENT_DATA_KEY, experiment_id)

    def experiment_record(self, experiment_id: int) -> dict[str, Any] | None:
        """The experiment's entry in ``ophys_experiments.json`` (as stored), or None without one."""
        path = self._path(EXPERIMENTS_KEY)
        if not path.is_file():
            return None
        try:
            records = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the AllenSDK experiment list: {exc}", file=str(path)) from exc
        if not isinstance(records, list):
            raise InputError(f"expected a list of experiment records, got {type(records).__name__}", file=str(path))
        for record in records:
            if isinstance(record, dict) and str(record.get("id")) == str(experiment_id):
                return record
        return None

    def _path(self, key: str, *args: int) -> Path:
        spec = self.specs[key] % args if args else self.specs[key]
        path = Path(spec)
        return path if path.is_absolute() else self.folder / path


def _manifest_specs(manifest: Path) -> dict[str, str]:
    """Paths the manifest gives (``{"manifest": [{"key", "type", "spec", "parent_key"}, ...]}``), resolved
    the way AllenSDK's ``Manifest`` does: a ``parent_key`` entry joins its parent's path, relative paths are
    relative to the manifest's folder."""
    try:
        config = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the AllenSDK manifest: {exc}", file=str(manifest)) from exc
    entries = config.get("manifest") if isinstance(config, dict) else None
    if not isinstance(entries, list):
        raise InputError("not an AllenSDK manifest (no 'manifest' list)", file=str(manifest))
    paths: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("spec"), str) or "key" not in entry:
            continue
        spec, parent = entry["spec"], entry.get("parent_key")
        if parent in paths:
            spec = os.path.join(paths[parent], *spec.split("/"))
        elif not os.path.isabs(spec):
            spec = str(manifest.parent / spec)
        paths[str(entry["key"])] = os.path.normpath(spec)
    return {k: v for k, v in paths.items() if k in DEFAULT_SPECS}


def resolve_source(source: str | os.PathLike[str] | int, *, cache: str | os.PathLike[str] | None = None,
                   archive: str | None = None, progress: ProgressCallback = no_progress) -> Source:
    """Resolve a source argument: an experiment id to a local NWB file (downloading it once), else unchanged.

    ``cache`` is an AllenSDK cache folder (default ``$NWB1ZARR_ALLENSDK_CACHE``); ``archive`` the archive's base
    URL (default ``$NWB1ZARR_ARCHIVE_URL``, else :data:`DEFAULT_ARCHIVE_URL`). A download reports
    ``progress("download", done, total, unit="bytes")``; re-hashing a cached download reports ``verify``.

    >>> resolve_source("570014520.nwb").origin
    'path'
    """
    if not is_experiment_id(source):
        return Source(str(source), source, "path")
    experiment_id = int(str(source))
    argument = str(source)
    folder = cache if cache is not None else (os.environ.get(CACHE_ENV) or None)
    allensdk = AllenSdkCache(folder) if folder is not None else None
    record = allensdk.experiment_record(experiment_id) if allensdk is not None else None
    if allensdk is not None:
        path, origin, where = allensdk.experiment_path(experiment_id), "allensdk-cache", str(allensdk)
    else:
        where = str(default_download_dir())
        path, origin = default_download_dir() / (DEFAULT_SPECS[EXPERIMENT_DATA_KEY] % experiment_id), "download-cache"
    if path.is_file():
        checked = verify_cached(path, progress=progress)
        return Source(argument, path, origin, experiment_id, record, checked)
    url = archive_url(experiment_id, base=archive)
    try:
        got = fetch(url, path, progress=progress)
    except RemoteNotFound as exc:
        raise InputError(f"no such experiment in {where} or at {url}", file=argument) from exc
    return Source(argument, path, "archive", experiment_id, record, got)
