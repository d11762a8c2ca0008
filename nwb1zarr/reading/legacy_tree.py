"""Reading an NWB 1.0 HDF5 file into a neutral tree of typed nodes (read-only, lazy).

Every group, dataset, attribute set and link becomes a :class:`Node`; soft, external and
repeated hard links are recorded, never followed, so each object is seen exactly once.
Dataset values are not read here: :meth:`LegacyTree.dataset` hands out the h5py object.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np

from ..errors import InputError, SourceDataError, hdf5_reason
from . import prerelease
from .attrs import decode_bytes, normalize, normalize_attrs
from .typemap import TypeMap

NodeKind = Literal["group", "dataset", "soft_link", "external_link", "hard_link"]


@dataclass(frozen=True)
class Node:
    """One object of the source file, as found, with normalised attributes."""

    path: str
    kind: NodeKind
    attrs: dict[str, Any] = field(default_factory=dict)
    legacy_type: str | None = None
    shape: tuple[int, ...] | None = None
    dtype: np.dtype | None = None
    string_kind: str | None = None  # "fixed", "vlen-ascii", "vlen-utf8" for string datasets
    target: str | None = None  # soft/hard link target path, or external link object path
    target_file: str | None = None  # external links only
    children: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str:
        head = self.path.rsplit("/", 1)[0]
        return head or "/"


def join(parent: str, name: str) -> str:
    """Join HDF5 path components.

    >>> join("/", "general"), join("/general", "fov")
    ('/general', '/general/fov')
    """
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


def string_kind(dtype: np.dtype) -> str | None:
    """How a string dtype is stored: fixed-length, vlen ASCII or vlen UTF-8 (None if not a string)."""
    info = h5py.check_string_dtype(dtype)
    if info is None:
        return None
    if info.length is not None:
        return "fixed"
    return "vlen-utf8" if info.encoding == "utf-8" else "vlen-ascii"


class LegacyTree:
    """An open NWB 1.0 file and the typed node tree read from it.

    >>> tree = LegacyTree.open("session.nwb")          # doctest: +SKIP
    >>> tree.nodes["/general/session_type"].legacy_type  # doctest: +SKIP
    'Custom'
    """

    def __init__(self, file: h5py.File, path: Path, nodes: dict[str, Node], *,
                 nwb2_prerelease: str | None = None) -> None:
        self.file = file
        self.source = path
        self.nodes = nodes
        self.nwb2_prerelease = nwb2_prerelease  # prerelease.detect(): None for a genuine NWB 1.0 file
        # Opened small datasets by path: h5py's path lookup costs ~60 us, and planning, verifying, deriving and
        # reading visit each small dataset several times (a 400-ROI file: 6,900 lookups, 0.4 s). Not large
        # ones: an open dataset keeps its 1 MB chunk cache (all kept: +300 MB peak RSS on a full session).
        self._opened: dict[str, h5py.Dataset] = {}

    # ---- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, src: str | os.PathLike[str], *, typemap: TypeMap | None = None,
             storage_options: Mapping[str, Any] | None = None) -> LegacyTree:
        """Open ``src`` (a path or any fsspec URL) read-only and read its structure (no dataset values).

        ``nwb2_prerelease`` is set when the file is an NWB 2 pre-release that calls itself NWB 1.x.
        ``storage_options`` go to the fsspec filesystem of a URL (see :mod:`nwb1zarr.urls`).
        """
        from .remote_source import source_ref

        path = source_ref(src, storage_options=storage_options)
        file = open_hdf5(path)
        try:
            found = check_nwb1(file, path)
            opened: dict[str, h5py.Dataset] = {}
            nodes = _walk(file, typemap or TypeMap.load(), str(path), opened=opened)
        except BaseException:
            file.close()
            raise
        tree = cls(file, path, nodes, nwb2_prerelease=found)
        tree._opened.update(opened)
        return tree

    def close(self) -> None:
        self._opened.clear()
        self.file.close()

    def __enter__(self) -> LegacyTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- access --------------------------------------------------------------------------
    def get(self, path: str) -> Node | None:
        return self.nodes.get(path)

    def datasets(self) -> Iterator[Node]:
        return (n for n in self.nodes.values() if n.kind == "dataset")

    def dataset(self, path: str) -> h5py.Dataset:
        """The h5py dataset at ``path`` (never a link)."""
        node = self.nodes.get(path)
        if node is None or node.kind != "dataset":
            raise SourceDataError("expected a dataset, found " + (node.kind if node else "nothing"),
                                  file=str(self.source), path=path)
        opened = self._opened.get(path)
        if opened is None:
            opened = self.file[path]
            if _small(node):
                self._opened[path] = opened
        return opened

    def read(self, path: str) -> Any:
        """Read a whole (small) dataset: strings decoded to str, arrays as numpy arrays."""
        try:
            value = self.dataset(path)[()]
        except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
            raise SourceDataError(f"cannot read dataset (damaged or truncated?): {hdf5_reason(exc)}",
                                  file=str(self.source), path=path) from exc
        return decode_value(value)

    def read_text(self, path: str) -> str | None:
        """A scalar string dataset as str, or None when absent or not a scalar string."""
        node = self.nodes.get(path)
        if node is None or node.kind != "dataset" or node.string_kind is None:
            return None
        value = self.read(path)
        if isinstance(value, str):
            return value
        if isinstance(value, np.ndarray) and value.size == 1:
            return str(value.reshape(-1)[0])
        return None


def decode_value(value: Any) -> Any:
    """Decode what h5py returns for a dataset: bytes -> str, byte arrays -> str arrays (object)."""
    if isinstance(value, bytes | np.bytes_):
        return decode_bytes(bytes(value))
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
        flat = [decode_bytes(bytes(v)) if isinstance(v, bytes | np.bytes_) else v for v in value.reshape(-1)]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(value.shape)
    return value


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def open_hdf5(path: Path | Any) -> h5py.File:
    """Open a file (a Path, or a :class:`~nwb1zarr.reading.remote_source.RemoteFile`) read-only, turning every way
    it can fail into a one-line InputError."""
    if not isinstance(path, Path):
        return _open_remote(path)
    where = str(path)
    try:
        if not path.exists():
            raise InputError("no such file", file=where)
        if path.is_dir():
            raise InputError("is a directory, expected an NWB 1.0 HDF5 file", file=where)
        if not path.is_file():
            raise InputError("not a regular file, expected an NWB 1.0 HDF5 file", file=where)
        size = path.stat().st_size
        if size == 0:
            raise InputError("file is empty (0 bytes), expected an NWB 1.0 HDF5 file", file=where)
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", file=where) from exc
    if head != HDF5_SIGNATURE and not _is_hdf5(where):
        raise InputError("not an HDF5 file (no HDF5 signature); expected an NWB 1.0 file", file=where)
    try:
        return h5py.File(where, "r")
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise InputError(_open_failure(exc, size), file=where) from exc


def _open_remote(source: Any) -> h5py.File:
    """h5py over an fsspec file object (block-cached, see :mod:`nwb1zarr.reading.remote_source`)."""
    from ..urls import remote_error_types, translate

    where = str(source)
    size = source.stat().st_size
    if size == 0:
        raise InputError("object is empty (0 bytes), expected an NWB 1.0 HDF5 file", file=where)
    fileobj = source.open_random()
    try:
        try:
            head = fileobj.read(8)
            signed = head == HDF5_SIGNATURE or _fileobj_is_hdf5(fileobj, size)
            fileobj.seek(0)
        except remote_error_types() as exc:
            raise translate(exc, where) from exc
        if not signed:
            raise InputError("not an HDF5 file (no HDF5 signature); expected an NWB 1.0 file", file=where)
        try:
            return h5py.File(fileobj, "r")
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
            # h5py wraps what the file object raised (a lost connection, expired credentials) as its cause
            cause = exc.__cause__ or exc.__context__
            if cause is not None and not isinstance(cause, OSError | RuntimeError | ValueError):
                raise translate(cause, where) from exc
            raise InputError(_open_failure(exc, size), file=where) from exc
    except BaseException:
        fileobj.close()
        raise


def _fileobj_is_hdf5(fileobj: Any, size: int) -> bool:
    """The HDF5 signature after a user block (512, 1024, 2048, ... bytes), as h5py.is_hdf5 looks for it."""
    offset = 512
    while offset + 8 <= size:
        fileobj.seek(offset)
        if fileobj.read(8) == HDF5_SIGNATURE:
            return True
        offset *= 2
    return False


def _is_hdf5(where: str) -> bool:
    """h5py.is_hdf5, which also finds a signature after a user block (at 512, 1024, ... bytes)."""
    try:
        return bool(h5py.is_hdf5(where))
    except (OSError, RuntimeError, ValueError):
        return False


def _open_failure(exc: BaseException, size: int) -> str:
    text = " ".join(str(exc).split())
    match = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", text)
    if match:
        have, want = int(match.group(1)), int(match.group(2))
        return (f"file is truncated: {have} of {want} bytes present ({100 * have / want:.1f}%); "
                "incomplete download? fetch it again")
    return f"cannot open as HDF5 (damaged or truncated?): {hdf5_reason(exc)}"


def check_nwb1(file: h5py.File, path: Path) -> str | None:
    """Refuse files that are not NWB 1.0, saying what they are instead.

    An NWB 2 pre-release that calls itself NWB 1.x is accepted (the planner decides what to do with
    it): the return value is then :func:`nwb1zarr.reading.prerelease.detect`'s description, else None.
    """
    where = str(path)
    try:
        root_version = file.attrs.get("nwb_version")
    except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
        raise InputError(f"cannot read root attributes (damaged?): {hdf5_reason(exc)}", file=where,
                         path="/") from exc
    if root_version is not None:
        version = normalize(root_version)
        version = version[0] if isinstance(version, list) and version else version
        if isinstance(version, str) and version.startswith(("1.", "NWB-1.")) and (found := prerelease.detect(file)):
            return found
        raise InputError(f"this is an NWB {version} file, not NWB 1.0; open it with pynwb "
                         "(pip install pynwb) instead", file=where, path="/")
    try:
        node = file.get("nwb_version", getlink=True)
        value = file["nwb_version"][()] if isinstance(node, h5py.HardLink) else None
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read nwb_version: {hdf5_reason(exc)}", file=where, path="/nwb_version") from exc
    if value is None:
        if _looks_like_nwb2(file):
            raise InputError("this looks like an NWB 2 file (no NWB 1.0 /nwb_version dataset); open it with "
                             "pynwb (pip install pynwb) instead", file=where, path="/")
        raise InputError("not an NWB file: no /nwb_version dataset", file=where, path="/nwb_version")
    text = normalize(value)
    text = text[0] if isinstance(text, list) and text else text
    if not isinstance(text, str) or not (text.startswith("NWB-1.") or text.startswith("1.")):
        if isinstance(text, str) and (text.startswith("NWB-2") or text.startswith("2.")):
            raise InputError(f"this is an NWB {text} file, not NWB 1.0; open it with pynwb "
                             "(pip install pynwb) instead", file=where, path="/nwb_version")
        raise InputError(f"unsupported NWB version {str(text)[:80]!r}; nwb1zarr reads NWB 1.0.x files",
                         file=where, path="/nwb_version")
    return prerelease.detect(file)


def _looks_like_nwb2(file: h5py.File) -> bool:
    try:
        return (".specloc" in file.attrs or "specifications" in file or file.attrs.get("namespace") is not None
                or normalize(file.attrs.get("neurodata_type")) in ("NWBFile", ["NWBFile"]))
    except (OSError, RuntimeError, ValueError, TypeError, KeyError):
        return False


_READ_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError)


def _walk(file: h5py.File, typemap: TypeMap, where: str, *, opened: dict[str, h5py.Dataset] | None = None
          ) -> dict[str, Node]:
    """Every object of ``file`` as a Node; ``opened`` receives the datasets the walk opened, by path."""
    nodes: dict[str, Node] = {}
    seen_objects: dict[Any, str] = {}
    stack: list[str] = ["/"]
    while stack:
        path = stack.pop()
        try:
            group = file[path]
            names = sorted(group.keys())
        except _READ_ERRORS as exc:
            raise SourceDataError(f"cannot list group (damaged or truncated?): {hdf5_reason(exc)}",
                                  file=where, path=path) from exc
        attrs = _attrs(group, file, where, path)
        nodes[path] = Node(path, "group", attrs=attrs, children=tuple(names),
                           legacy_type=typemap.type_of(name=path.rsplit("/", 1)[-1], is_group=True, attrs=attrs))
        try:
            seen_objects.setdefault(_address(group), path)
        except _READ_ERRORS as exc:
            raise SourceDataError(f"cannot read group header: {hdf5_reason(exc)}", file=where, path=path) from exc
        for name in reversed(names):
            child = join(path, name)
            try:
                link = group.get(name, getlink=True)
            except _READ_ERRORS as exc:
                raise SourceDataError(f"cannot read link (damaged or truncated?): {hdf5_reason(exc)}",
                                      file=where, path=child) from exc
            if isinstance(link, h5py.SoftLink):
                nodes[child] = Node(child, "soft_link", target=link.path)
                continue
            if isinstance(link, h5py.ExternalLink):
                nodes[child] = Node(child, "external_link", target=link.path, target_file=link.filename)
                continue
            try:
                obj = group[name]
                address = _address(obj)
            except _READ_ERRORS as exc:
                raise SourceDataError(f"cannot open object (damaged or truncated?): {hdf5_reason(exc)}",
                                      file=where, path=child) from exc
            if address in seen_objects:
                nodes[child] = Node(child, "hard_link", target=seen_objects[address])
                continue
            seen_objects[address] = child
            if isinstance(obj, h5py.Group):
                stack.append(child)
            elif isinstance(obj, h5py.Dataset):
                attrs = _attrs(obj, file, where, child)
                try:
                    shape = None if obj.shape is None else tuple(obj.shape)  # None: null dataspace (h5py.Empty)
                    dtype = obj.dtype
                    kind = string_kind(dtype)
                except _READ_ERRORS as exc:
                    raise SourceDataError(f"cannot read dataset header: {hdf5_reason(exc)}",
                                          file=where, path=child) from exc
                nodes[child] = Node(child, "dataset", attrs=attrs, shape=shape, dtype=dtype, string_kind=kind,
                                    legacy_type=typemap.type_of(name=name, is_group=False, attrs=attrs))
                if opened is not None and _small(nodes[child]):
                    opened[child] = obj
            else:  # a committed datatype: no values, nothing to convert
                nodes[child] = Node(child, "dataset", attrs=_attrs(obj, file, where, child), shape=None,
                                    dtype=None)
    return dict(sorted(nodes.items(), key=lambda kv: kv[0].split("/")))


SMALL_DATASET_BYTES = 256 * 1024


def _small(node: Node) -> bool:
    """A dataset whose handle :class:`LegacyTree` keeps open (its values fit h5py's chunk cache many times)."""
    if node.shape is None or node.dtype is None:
        return False
    return int(np.prod(node.shape, dtype=np.int64)) * node.dtype.itemsize <= SMALL_DATASET_BYTES


def _address(obj: h5py.HLObject) -> Any:
    info = h5py.h5o.get_info(obj.id)
    return (info.fileno, info.addr)


def _attrs(obj: h5py.HLObject, file: h5py.File, where: str, path: str) -> dict[str, Any]:
    try:
        return normalize_attrs(obj.attrs, file=file)
    except _READ_ERRORS as exc:
        raise SourceDataError(f"cannot read attributes (damaged or truncated?): {hdf5_reason(exc)}",
                              file=where, path=path) from exc
