"""NWB 1.0 building blocks (TimeSeries, Interface, Module) with the attribute encodings of ainwb 1.0.5."""

from __future__ import annotations

import h5py
import numpy as np

from . import _h5
from ._text import HELP_INTERFACE


def timeseries(parent: h5py.Group, name: str, *, ancestry: list[bytes], help: str,
               description: bytes | None = None, comments: bytes | None = None,
               source: bytes | None = None, **extra: _h5.Attr) -> h5py.Group:
    """Create a TimeSeries group.

    Unset ``description``/``comments``/``source`` get the spec default: an empty vlen UTF-8 string;
    values set by Allen code are fixed-length ``S<n>``.
    """
    group = parent.create_group(name)
    _h5.set_attrs(group, {
        "ancestry": ancestry,
        "comments": comments if comments is not None else "",
        "description": description if description is not None else "",
        "help": help,
        "neurodata_type": "TimeSeries",
        "source": source if source is not None else "",
        **extra,
    })
    return group


def data(group: h5py.Group, values: np.ndarray | None = None, *, unit: bytes,
         conversion: float = 1.0, shape: tuple[int, ...] | None = None,
         dtype: np.dtype | str | None = None) -> h5py.Dataset:
    """TimeSeries ``data`` with ``@conversion``/``@resolution`` (float64) and ``@unit`` (S<n>)."""
    return _h5.numeric(group, "data", values, shape=shape, dtype=dtype,
                       conversion=np.float64(conversion), resolution=np.float64(1.0), unit=unit)


def timestamps(group: h5py.Group, values: np.ndarray, *, num_samples: bool = True) -> h5py.Dataset:
    """float64 ``timestamps`` (``@interval`` int64 1, ``@unit`` b'Seconds') and int32 ``num_samples``."""
    dset = _h5.numeric(group, "timestamps", np.asarray(values, dtype=np.float64),
                       interval=np.int64(1), unit=b"Seconds")
    if num_samples:
        _h5.scalar(group, "num_samples", np.int32(len(values)))
    return dset


def custom(group: h5py.Group, name: str, values: np.ndarray | bytes, *, pad: int = 0) -> h5py.Dataset:
    """A ``Custom`` field (``@neurodata_type`` S6 b'Custom'); bytes -> scalar, bytes arrays -> strings."""
    if isinstance(values, bytes):
        return _h5.scalar(group, name, values, neurodata_type=b"Custom")
    values = np.asarray(values)
    if values.dtype.kind == "S":
        return _h5.strings(group, name, list(values), pad=pad, neurodata_type=b"Custom")
    if values.ndim == 0:
        return _h5.scalar(group, name, values[()], neurodata_type=b"Custom")
    return _h5.numeric(group, name, values, neurodata_type=b"Custom")


def link_with_path(group: h5py.Group, name: str, target: str, *, path: str, custom_path: bool = False
                   ) -> None:
    """Soft link ``name`` -> absolute ``target`` plus the sibling ``<name>_path`` string (as written)."""
    group[name] = h5py.SoftLink(target)
    attrs: dict[str, _h5.Attr] = {"neurodata_type": b"Custom"} if custom_path else {}
    _h5.scalar(group, f"{name}_path", path, **attrs)


def interface(module: h5py.Group, name: str, *, source: bytes | None = None, help: str | None = None,
              **extra: _h5.Attr) -> h5py.Group:
    """Create an Interface group (``@help``/``@neurodata_type`` vlen UTF-8, ``@source`` S<n> when set)."""
    group = module.create_group(name)
    attrs: dict[str, _h5.Attr] = {"help": help or HELP_INTERFACE[name], "neurodata_type": "Interface"}
    if source is not None:
        attrs["source"] = source
    _h5.set_attrs(group, {**attrs, **extra})
    return group
