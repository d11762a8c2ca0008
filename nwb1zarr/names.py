"""Turning HDF5 names into store node names that Zarr and xarray accept, reversibly."""

from __future__ import annotations

from urllib.parse import quote, unquote

# Zarr v3 forbids '/' in a name, empty names, '.' and '..', and names starting with '__'.
_SAFE = " !\"#$&'()*+,-:;<=>?@[]^_`{|}~"


def store_name(name: str) -> str:
    """A node or variable name safe for Zarr/xarray; ordinary names are returned unchanged.

    >>> store_name("imaging depth"), store_name(".."), store_name("__x")
    ('imaging depth', '%2E%2E', '%5F_x')
    """
    if name in (".", ".."):
        return name.replace(".", "%2E")
    out = quote(name, safe=_SAFE)
    if out.startswith("__"):
        out = "%5F" + out[1:]
    return out or "%00"


def source_name(name: str) -> str:
    """Inverse of :func:`store_name`."""
    return "" if name == "%00" else unquote(name)


def store_path(path: str, *, prefix: str = "") -> str:
    """An HDF5 path with each component made safe, under ``prefix``.

    >>> store_path("/general/devices/2-photon microscope", prefix="/nwb1")
    '/nwb1/general/devices/2-photon microscope'
    """
    parts = [store_name(p) for p in path.split("/") if p]
    return prefix + "/" + "/".join(parts) if parts else (prefix or "/")
