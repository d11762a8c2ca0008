"""Normalising HDF5 attribute and scalar values into JSON-safe Python values.

One place decides how HDF5 values become store attributes; the converter and the validator
both use it, so "equal after normalisation" means the same thing everywhere:

- bytes (fixed-length or variable-length) -> str, decoded as UTF-8 (invalid bytes -> \\xNN escapes);
- numpy scalars -> Python int / float / bool / str;
- arrays (even with one element) -> lists, so a 1-element array stays distinct from a scalar;
- non-finite floats -> the strings "NaN", "Infinity", "-Infinity" (as Zarr v3 spells fill values);
- h5py.Empty -> None; object references -> their target path as "<ref:/path>"; compound -> dict.
"""

from __future__ import annotations

import math
from typing import Any

import h5py
import numpy as np

NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def decode_bytes(value: bytes) -> str:
    """Decode stored bytes to str; NUL padding is stripped as h5py does for NULLPAD strings.

    >>> decode_bytes(b"roi_0000")
    'roi_0000'
    """
    return value.decode("utf-8", errors="backslashreplace")


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def normalize(value: Any, *, file: h5py.File | None = None) -> Any:
    """Turn one HDF5 attribute value (as h5py returns it) into a JSON-safe Python value.

    >>> normalize(np.array([b"TimeSeries"], dtype="S10"))
    ['TimeSeries']
    >>> normalize(np.float64("nan"))
    'NaN'
    """
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, bytes | np.bytes_):
        return decode_bytes(bytes(value))
    if isinstance(value, str):
        return value
    if isinstance(value, h5py.Reference | h5py.RegionReference):
        return _reference(value, file)
    if isinstance(value, np.void) and value.dtype.names:
        return {name: normalize(value[name], file=file) for name in value.dtype.names}
    if isinstance(value, np.ndarray):
        if value.dtype.names:
            return [normalize(v, file=file) for v in value.reshape(-1)]
        if value.ndim == 0:
            return normalize(value[()], file=file)
        return [normalize(v, file=file) for v in value.tolist()] if value.dtype.kind in "SOUV" else [
            normalize(v, file=file) for v in value
        ]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _float(float(value))
    if isinstance(value, complex | np.complexfloating):
        return {"real": _float(value.real), "imag": _float(value.imag)}
    if isinstance(value, list | tuple):
        return [normalize(v, file=file) for v in value]
    return repr(value)


def _reference(ref: Any, file: h5py.File | None) -> str:
    if not ref:
        return "<ref:null>"
    if file is None:
        return "<ref>"
    try:
        return f"<ref:{h5py.h5r.get_name(ref, file.id).decode('utf-8', 'backslashreplace')}>"
    except Exception:  # a dangling reference is still a value to keep, not a failure
        return "<ref:unresolved>"


def normalize_attrs(attrs: h5py.AttributeManager, *, file: h5py.File | None = None) -> dict[str, Any]:
    """All attributes of an HDF5 object, normalised, in name order.

    An attribute that cannot be read at all is recorded as "<unreadable: reason>".
    """
    out: dict[str, Any] = {}
    for name in sorted(attrs.keys()):
        try:
            out[name] = normalize(attrs[name], file=file)
        except (OSError, TypeError, ValueError) as exc:
            out[name] = f"<unreadable: {type(exc).__name__}: {exc}>"
    return out
