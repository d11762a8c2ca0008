"""Turning HDF5 names into store node names that Zarr and xarray accept, reversibly.

Rules (documented in docs/faults.md):

- ASCII characters outside letters, digits and ``_SAFE``, and unprintable characters, are %-escaped
  as UTF-8 (so ``/``, ``\\``, ``%`` and control characters never reach the file system raw);
  printable non-ASCII text (``ΔF/F`` -> ``ΔF%2FF``) is kept as it is;
- names made only of dots (``.``, ``..``, ``...``) have every dot escaped (``%2E``);
- a leading ``__`` (reserved by Zarr v3) becomes ``%5F_``; the empty name becomes ``%`` (a lone
  ``%`` is never produced by escaping, so it cannot collide with a real name);
- a name whose escaped form is longer than :data:`MAX_NAME_BYTES` is cut and given a hash suffix
  (``<prefix>~<12 hex digits>``); it can no longer be inverted by :func:`source_name`, but every kept
  node records its HDF5 path in the ``nwb1_path`` attribute.
"""

from __future__ import annotations

import functools
import hashlib
import re
from urllib.parse import quote, unquote

# Zarr v3 forbids '/' in a name, empty names, names made only of '.', and names starting with '__'.
_SAFE = " !\"#$&'()*+,-:;<=>?@[]^_`{|}~"
MAX_NAME_BYTES = 160
"""Longest store name (bytes); file systems allow 255 per path component and Zarr adds suffixes."""
_HASH_CHARS = 12
EMPTY_NAME = "%"


@functools.lru_cache(maxsize=65536)
def store_name(name: str) -> str:
    """A node or variable name safe for Zarr/xarray; ordinary names are returned unchanged.

    >>> store_name("imaging depth"), store_name(".."), store_name("__x"), store_name("a\\\\b")
    ('imaging depth', '%2E%2E', '%5F_x', 'a%5Cb')
    >>> store_name("ΔF/F")
    'ΔF%2FF'
    >>> len(store_name("x" * 300)) <= MAX_NAME_BYTES
    True
    """
    if name and set(name) == {"."}:
        return "%2E" * len(name)
    out = "".join(ch if not ch.isascii() and ch.isprintable() else quote(ch, safe=_SAFE) for ch in name)
    if out.startswith("__"):
        out = "%5F" + out[1:]
    out = out or EMPTY_NAME
    if len(out.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
        head = out.encode("utf-8", "surrogatepass")[: MAX_NAME_BYTES - _HASH_CHARS - 1].decode("utf-8", "ignore")
        head = re.sub(r"%[0-9A-F]?$", "", head)  # never cut an escape in half
        out = f"{head}~{digest}"
    return out


def source_name(name: str) -> str:
    """Inverse of :func:`store_name` (except for names shortened with a hash suffix)."""
    return "" if name == EMPTY_NAME else unquote(name)


def store_path(path: str, *, prefix: str = "") -> str:
    """An HDF5 path with each component made safe, under ``prefix``.

    >>> store_path("/general/devices/2-photon microscope", prefix="/nwb1")
    '/nwb1/general/devices/2-photon microscope'
    """
    parts = [store_name(p) for p in path.split("/") if p]
    return prefix + "/" + "/".join(parts) if parts else (prefix or "/")
