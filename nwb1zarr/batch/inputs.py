"""What ``convert-many`` is asked to convert: SOURCES expanded into one session per store name.

A source argument is, in this order:

- ``@FILE`` (or ``manifest=``): a manifest, one source per line (blank lines and lines starting with ``#`` ignored),
  each line any of the forms below (relative paths relative to the manifest's folder);
- a URL (``s3://bucket/570014520.nwb``): one session, passed through;
- an existing folder: every ``*.nwb`` directly inside it (use a glob such as ``DIR/**/*.nwb`` to descend);
- an existing file: one session;
- a glob (``*``, ``?``, ``[``; ``**`` descends): every match that is a file;
- an ophys experiment id (``570014520``, see :mod:`nwb1zarr.reading.sources`): one session, resolved (found in a
  cache or downloaded) by the task that converts it, on its worker;
- anything else: one session that fails on its own with the converter's "no such file" error.

Store names follow the single-file default: ``<stem>.zarr`` (``<id>.zarr`` for an id). Two different
sources that would write the same store name are a usage error.

>>> [s.name for s in expand_sources(["570014520"])]
['570014520.zarr']
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import Nwb1ZarrError
from ..urls import is_url, url_name

MANIFEST_PREFIX = "@"
GLOB_CHARS = frozenset("*?[")


class BatchUsageError(Nwb1ZarrError):
    """A batch cannot start: no sources, a clash of store names, an unreadable manifest, DEST unusable."""

    exit_code = 2


@dataclass(frozen=True)
class SessionInput:
    """One session of a batch: the source as the converter takes it and the store name under DEST."""

    source: str
    name: str
    kind: str  # "file", "url" or "id"


def _is_id(text: str) -> bool:
    from ..reading.sources import is_experiment_id

    return is_experiment_id(text)


def read_manifest(path: str | os.PathLike[str]) -> list[str]:
    """The sources a manifest lists (one a line; blank lines and lines starting with ``#`` skipped).

    Relative paths are taken relative to the manifest's folder; ids, URLs and absolute paths stay as written.
    """
    manifest = Path(path).expanduser()
    try:
        lines = manifest.read_text().splitlines()
    except OSError as exc:
        raise BatchUsageError(f"cannot read the manifest: {exc.strerror or exc}", file=str(manifest)) from exc
    out = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if is_url(text) or Path(text).is_absolute() or _is_id(text) or text.startswith(MANIFEST_PREFIX):
            out.append(text)
        else:
            out.append(str(manifest.parent / text))
    return out


def _expand_one(argument: str, seen_manifests: set[Path]) -> Iterable[SessionInput]:
    if argument.startswith(MANIFEST_PREFIX) and len(argument) > 1:
        manifest = Path(argument[1:]).expanduser().resolve()
        if manifest in seen_manifests:
            raise BatchUsageError("the manifest includes itself", file=str(manifest))
        seen_manifests.add(manifest)
        for line in read_manifest(manifest):
            yield from _expand_one(line, seen_manifests)
        return
    if is_url(argument):
        yield SessionInput(argument, str(Path(url_name(argument)).with_suffix(".zarr")), "url")
        return
    path = Path(argument).expanduser()
    if path.is_dir():
        for found in sorted(path.glob("*.nwb")):
            if found.is_file():
                yield _file(found)
        return
    if path.exists():
        yield _file(path)
        return
    if GLOB_CHARS & set(argument):
        for match in sorted(glob.glob(os.path.expanduser(argument), recursive=True)):
            if Path(match).is_file():
                yield _file(Path(match))
        return
    if _is_id(argument):
        yield SessionInput(str(int(argument)), f"{int(argument)}.zarr", "id")
        return
    yield _file(path)  # does not exist: its own task says so, the others go on


def _file(path: Path) -> SessionInput:
    return SessionInput(str(path), path.with_suffix(".zarr").name, "file")


def expand_sources(sources: Sequence[str | os.PathLike[str]], *,
                   manifest: str | os.PathLike[str] | None = None) -> list[SessionInput]:
    """Every session named by ``sources`` (and ``manifest``), in order, each once; raises
    :class:`BatchUsageError` when there is none or when two sources would write the same store name.

    >>> expand_sources(["/data/570014520.nwb", "/data/570014520.nwb"])[0].name
    '570014520.zarr'
    """
    arguments = [os.fspath(s) for s in sources]
    if manifest is not None:
        arguments.append(MANIFEST_PREFIX + os.fspath(manifest))
    if not arguments:
        raise BatchUsageError("no sources given (files, folders, globs, experiment ids, or @MANIFEST)")
    seen_manifests: set[Path] = set()
    by_name: dict[str, SessionInput] = {}
    for argument in arguments:
        for item in _expand_one(str(argument), seen_manifests):
            earlier = by_name.get(item.name)
            if earlier is None:
                by_name[item.name] = item
            elif _same(earlier.source, item.source):
                continue
            else:
                raise BatchUsageError(f"two sources would write the same store {item.name}: {earlier.source} and "
                                      f"{item.source}; convert them into different destinations")
    if not by_name:
        raise BatchUsageError("no NWB files found (looked for *.nwb in folders, matches of globs, and the "
                              "manifests' lines)", file=" ".join(arguments)[:200])
    return list(by_name.values())


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    if is_url(a) or is_url(b):
        return False
    return os.path.realpath(a) == os.path.realpath(b)
