"""Groups, array metadata and small arrays of a DataTree, written in one concurrent pass.

xarray's ``DataTree.to_zarr`` writes every group and array document, and every in-memory array, with a
blocking call of its own (about 4 ms each here; a real session has 1,000+ of them). This module makes
the same documents with xarray's own encoders and zarr's own array constructor, but into an in-memory
staging store first (no I/O, no thread hand-offs), then copies every staged key to the destination
concurrently. Dask-backed arrays come back as ``(dask array, zarr array on the destination)`` pairs for
one ``dask.array.store`` pass.
"""

from __future__ import annotations

import asyncio
import os
import threading
import warnings
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from xarray import conventions
from xarray.backends.zarr import (
    DIMENSION_KEY,
    FillValueCoder,
    encode_zarr_attr_value,
    encode_zarr_variable,
    extract_zarr_variable_encoding,
)
from xarray.coding.strings import check_vlen_dtype
from zarr.abc.codec import ArrayBytesCodec, BytesBytesCodec
from zarr.abc.store import Store
from zarr.api.asynchronous import consolidate_metadata, create_array
from zarr.core.array import AsyncArray
from zarr.core.buffer import default_buffer_prototype
from zarr.core.codec_pipeline import fill_value_or_default
from zarr.core.group import AsyncGroup, ConsolidatedMetadata, GroupMetadata
from zarr.core.sync import sync
from zarr.storage import LocalStore, MemoryStore, StorePath

from . import files
from .chunk_writer import ChunkWriter

# Keys copied to the destination at once (an object store's CommitStore bounds its own PUTs too).
COPY_CONCURRENCY = 64


@dataclass(frozen=True)
class GroupNode:
    path: str  # "" for the root, else "a/b"
    attrs: dict[str, Any]


@dataclass(frozen=True)
class ArrayNode:
    path: str
    shape: tuple[int, ...]
    dtype: Any
    fill_value: Any
    encoding: dict[str, Any]
    attrs: dict[str, Any]
    data: Any  # numpy values, or a dask array written later

    @property
    def lazy(self) -> bool:
        return hasattr(self.data, "dask")


def encode_tree(dt: xr.DataTree, *, encoding: Mapping[str, Mapping[str, Mapping[str, Any]]],
                zarr_format: int) -> list[GroupNode | ArrayNode]:
    """Every group and array of ``dt`` as ``to_zarr(mode="w-")`` would write it, parents first.

    >>> dt = xr.DataTree.from_dict({"/a": xr.Dataset({"v": ("t", np.arange(3.0))})})
    >>> [n.path for n in encode_tree(dt, encoding={}, zarr_format=3)]
    ['', 'a', 'a/v']
    """
    nodes: list[GroupNode | ArrayNode] = []
    for rel_path, node in dt.subtree_with_keys:
        group = "" if rel_path == "." else rel_path
        dataset = node.to_dataset(inherit=node is dt)
        variables, attrs = conventions.encode_dataset_coordinates(dataset)
        for name, enc in (encoding.get(node.path) or {}).items():
            variables[name].encoding = dict(enc)
        nodes.append(GroupNode(group, {k: encode_zarr_attr_value(v) for k, v in attrs.items()}))
        for name, variable in variables.items():
            if variable.size == 0:
                variable.load()
            nodes.append(_array_node(f"{group}/{name}".lstrip("/"), name, variable, zarr_format=zarr_format))
    return nodes


def _array_node(path: str, name: str, variable: xr.Variable, *, zarr_format: int) -> ArrayNode:
    """One variable, encoded exactly as ``xarray.backends.zarr.ZarrStore.set_variables`` encodes it."""
    check = "_FillValue" in variable.encoding  # ours always names it (None: no masking)
    v = encode_zarr_variable(variable, name=name, zarr_format=zarr_format)
    attrs = v.attrs.copy()
    if zarr_format == 2:  # xarray masks with the zarr fill value in Zarr 2
        fill_value = attrs.pop("_FillValue", None)
    else:
        fill_value = v.encoding.pop("fill_value", None)
        if fill_value is None and v.dtype.kind == "f":
            fill_value = np.nan
        if "_FillValue" in attrs:
            fv = attrs.pop("_FillValue")
            if fv is not None:
                attrs["_FillValue"] = FillValueCoder.encode(fv, v.dtype)
    if "_FillValue" in v.encoding:
        if v.encoding["_FillValue"] is not None:
            raise ValueError("Zarr does not support _FillValue in encoding.")
        del v.encoding["_FillValue"]
    enc = extract_zarr_variable_encoding(v, raise_on_invalid=check, name=name, zarr_format=zarr_format)
    encoded_attrs = {k: encode_zarr_attr_value(a) for k, a in attrs.items()}
    if zarr_format == 3:
        enc["dimension_names"] = v.dims
    else:
        encoded_attrs[DIMENSION_KEY] = v.dims
    enc["config"] = {c: enc.pop(c) for c in ("write_empty_chunks", "order") if c in enc}
    enc.pop("fill_value", None)
    dtype = str if check_vlen_dtype(v.dtype) is str else v.dtype
    data = v.data if hasattr(v.data, "dask") else np.asarray(v.values)
    return ArrayNode(path, v.shape, dtype, fill_value, enc, encoded_attrs, data)


class StagedStore:
    """The metadata of a store being written, kept in memory: the documents :func:`create_nodes` copied to
    ``target``, so that the root document with consolidated metadata is made without reading them back."""

    def __init__(self, target: Store, *, zarr_format: int) -> None:
        self.target, self.zarr_format = target, zarr_format
        self.memory = MemoryStore()
        self.metadata: dict[str, Any] = {}  # path -> metadata of every node written, the root included
        self.stop = threading.Event()  # set on an interruption: the writing threads stop between files

    def finish(self, root_attrs: dict[str, Any]) -> None:
        """Add ``root_attrs`` to the root group, consolidate, and write the root documents to ``target``."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
            _run_to_end(self._finish(root_attrs), self.stop)

    async def _finish(self, root_attrs: dict[str, Any]) -> None:
        root = self.metadata[""]
        attributes = {**root.attributes, **root_attrs}
        if self.zarr_format == 2:
            group = await AsyncGroup.open(self.memory, zarr_format=2, use_consolidated=False)
            await group.update_attributes(attributes)
            await consolidate_metadata(self.memory, zarr_format=2)
            await _copy_keys(self.memory, self.target, only=lambda key: "/" not in key, stop=self.stop)
            return
        # What zarr.consolidate_metadata writes, made from the metadata in hand instead of read back.
        members = {path: replace(meta, consolidated_metadata=ConsolidatedMetadata(metadata={}))
                   if isinstance(meta, GroupMetadata) else meta
                   for path, meta in sorted(self.metadata.items()) if path}
        ConsolidatedMetadata._flat_to_nested(members)  # needs siblings next to each other: sorted paths
        metadata = GroupMetadata(attributes=attributes, zarr_format=3,
                                 consolidated_metadata=ConsolidatedMetadata(metadata=members))
        for key, value in metadata.to_buffer_dict(default_buffer_prototype()).items():
            await self.target.set(key, value)


def create_nodes(staged: StagedStore, nodes: list[GroupNode | ArrayNode]) -> list[tuple[Any, ChunkWriter]]:
    """Write every group, every array's metadata and every in-memory array to ``staged.target`` (which must
    hold no node yet); return the ``(dask array, writer of the destination array)`` pairs still to be copied."""
    return _run_to_end(_create_nodes(staged, nodes), staged.stop)


def _run_to_end(coroutine: Coroutine[Any, Any, Any], stop: threading.Event) -> Any:
    """``zarr``'s ``sync(coroutine)``, but an interruption (Ctrl-C, SIGTERM) of the waiting thread first stops the
    writing threads and waits for them: nothing may still write into a partial store while it is removed."""
    with ThreadPoolExecutor(1, thread_name_prefix="nwb1zarr-nodes") as pool:
        future = pool.submit(sync, coroutine)
        try:
            return future.result()
        except BaseException:
            stop.set()
            wait_futures([future])
            raise


class Stopped(Exception):
    """A staged write stopped by an interruption (never seen by users: the interruption is)."""


async def _create_nodes(staged: StagedStore, nodes: list[GroupNode | ArrayNode]) -> list[tuple[Any, ChunkWriter]]:
    memory, zarr_format = staged.memory, staged.zarr_format
    prototype = default_buffer_prototype()
    for group in (n for n in nodes if isinstance(n, GroupNode)):
        metadata = staged.metadata[group.path] = GroupMetadata(attributes=group.attrs, zarr_format=zarr_format)
        for key, value in metadata.to_buffer_dict(prototype).items():
            await memory.set(f"{group.path}/{key}".lstrip("/"), value)
    arrays = [n for n in nodes if isinstance(n, ArrayNode)]
    templates = _Templates(zarr_format)
    created = await _stage_arrays(memory, arrays, templates)
    staged.metadata.update((a.path, c.metadata) for a, c in zip(arrays, created, strict=True))
    await _copy_keys(memory, staged.target, only=lambda key: True, stop=staged.stop)
    # Chunks of in-memory arrays only went to the target: the staging store keeps metadata alone.
    for key in [k async for k in memory.list()]:
        if _is_data(key):
            await memory.delete(key)
    # Every chunk of a large array is written: ChunkWriter does not compare chunks with the fill value, and
    # write_empty_chunks keeps zarr (for blocks it merges) from doing it (~5% of a full session's CPU).
    return [(a.data, ChunkWriter(zarr.Array(AsyncArray(
                metadata=c.metadata, store_path=StorePath(staged.target, a.path),
                config=replace(c.config, write_empty_chunks=True)))))
            for a, c in zip(arrays, created, strict=True) if a.lazy]


class _Templates:
    """Array metadata made once per (shape, dtype, encoding): the documents of a session's hundreds of
    small arrays differ only in their attributes, and zarr's constructor costs ~0.5 ms per array."""

    def __init__(self, zarr_format: int) -> None:
        self.zarr_format = zarr_format
        self.scratch = MemoryStore()
        self.made: dict[str, asyncio.Future[Any]] = {}

    async def array(self, node: ArrayNode, store_path: StorePath) -> tuple[str, Any]:
        """The template's key and a new array at ``store_path`` with ``node``'s attributes."""
        key = repr((node.shape, str(node.dtype), node.dtype is str, repr(node.fill_value), sorted(
            (k, repr(v)) for k, v in node.encoding.items())))
        if key not in self.made:
            self.made[key] = asyncio.ensure_future(create_array(
                StorePath(self.scratch, str(len(self.made))), shape=node.shape, dtype=node.dtype,
                fill_value=node.fill_value, zarr_format=self.zarr_format, **node.encoding))
        template = await self.made[key]
        return key, AsyncArray(metadata=template.metadata.update_attributes(node.attrs), store_path=store_path,
                               config=template.config)


async def _stage_arrays(memory: MemoryStore, arrays: list[ArrayNode], templates: _Templates) -> list[Any]:
    """Stage every array's metadata, and its values when in memory; return the zarr arrays."""
    made = await asyncio.gather(*(templates.array(a, StorePath(memory, a.path)) for a in arrays))
    prototype = default_buffer_prototype()
    whole: dict[str, list[tuple[Any, ArrayNode]]] = {}
    writes = []
    for node, (key, array) in zip(arrays, made, strict=True):
        writes.append(array._save_metadata(array.metadata))
        if node.lazy or not all(node.shape):
            continue
        if _one_whole_chunk(array, node):
            whole.setdefault(key, []).append((array, node))
        else:
            writes.append(array.setitem(Ellipsis, node.data))
    await asyncio.gather(*writes)
    for group in whole.values():
        await _encode_whole_chunks(memory, group, prototype)
    return [array for _, array in made]


def _one_whole_chunk(array: Any, node: ArrayNode) -> bool:
    """Values filling exactly one chunk, already of the array's dtype, whose codecs all encode
    synchronously (numbers and text of a session's hundreds of small arrays)."""
    metadata = array.metadata
    return (metadata.zarr_format == 3 and isinstance(node.data, np.ndarray) and node.data.dtype.kind in "biufT"
            and node.data.dtype == metadata.dtype.to_native_dtype()
            and tuple(metadata.chunk_grid.chunk_shape) == tuple(node.shape)
            and all(isinstance(c, ArrayBytesCodec | BytesBytesCodec) and hasattr(c, "_encode_sync")
                    for c in metadata.codecs))


async def _encode_whole_chunks(memory: MemoryStore, group: list[tuple[Any, ArrayNode]], prototype: Any) -> None:
    """What ``array[...] = values`` stores for each array of one template: each chunk encoded by the
    array's own codecs, in one thread hand-off for the whole batch instead of one per codec and chunk;
    a chunk equal to the fill value is not written (zarr's ``write_empty_chunks=False``)."""
    batch = []
    for array, node in group:
        origin = (0,) * len(node.shape)
        spec = array.metadata.get_chunk_spec(origin, array.config, prototype)
        values = prototype.nd_buffer.from_ndarray_like(node.data)
        if spec.config.write_empty_chunks or not values.all_equal(fill_value_or_default(spec)):
            batch.append((f"{node.path}/{array.metadata.encode_chunk_key(origin)}", values, spec,
                          array.metadata.codecs))
    for key, value in await asyncio.to_thread(_encode_sync, batch):
        await memory.set(key, value)


def _encode_sync(batch: list[tuple[str, Any, Any, Any]]) -> list[tuple[str, Any]]:
    out = []
    for key, values, spec, codecs in batch:
        encoded = values
        for codec in codecs:
            encoded = codec._encode_sync(encoded, spec)
        out.append((key, encoded))
    return out


def _is_data(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return name not in METADATA_NAMES


METADATA_NAMES = {"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"}


async def _copy_keys(memory: MemoryStore, store: Store, *, only: Any, stop: threading.Event) -> None:
    prototype = default_buffer_prototype()
    items = [(key, await memory.get(key, prototype=prototype)) async for key in memory.list() if only(key)]
    if isinstance(store, LocalStore):
        # One thread for all files: LocalStore.set hands each key to a thread of its own, which costs
        # more than writing a small file.
        await asyncio.to_thread(_write_files, store.root, items, stop)
        return
    limit = asyncio.Semaphore(COPY_CONCURRENCY)

    async def copy(key: str, value: Any) -> None:
        async with limit:
            if stop.is_set():
                raise Stopped
            await store.set(key, value)

    await asyncio.gather(*(copy(k, v) for k, v in items if v is not None))


def _write_files(root: Path, items: list[tuple[str, Any]], stop: threading.Event) -> None:
    """Every file, folders made on the way, in one thread. Not concurrent with the staging (Python code): a
    thread that makes a system call per file then waits for the GIL after each one (measured: 1,038 folders took
    0.22 s beside the staging, 16 ms alone)."""
    base = str(root)
    os.makedirs(base, exist_ok=True)
    made = {base}
    for key, value in items:
        if stop.is_set():
            raise Stopped
        if value is None:
            continue
        files.put_new_file(f"{base}/{key}", value.to_bytes(), made=made)
