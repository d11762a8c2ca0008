"""NWB 2 pre-releases: files that call themselves NWB 1.x but are laid out as NWB 2.

Early pynwb (0.x, 2017-2018, before NWB 2.0 was final in January 2019) wrote files whose version
says "1.0.6" or "1.2.0" -- the version it hard-coded, then the version of its "core" namespace --
while their layout is already NWB 2: the root group carries ``neurodata_type = "NWBFile"`` and
``namespace``, and typed groups carry ``neurodata_type``/``namespace`` attributes instead of NWB 1.0's
``ancestry``.  :func:`detect` tells them apart by that layout (never by the version string alone:
1.0.6 is also a genuine NWB 1.0 release), and :func:`decision` words what happens to them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import h5py

from ..errors import InputError
from .attrs import normalize

ERA = "written by an early pynwb (0.x, 2017-2018) before NWB 2.0 was final in January 2019"
"""Who wrote such files, as far as the pynwb and nwb-schema history tells (see the module docstring)."""

SCAN_GROUPS = 400
"""At most this many groups are opened looking for typed groups when the root says nothing."""


def detect(file: h5py.File) -> str | None:
    """None for a genuine NWB 1.0 file; else one sentence (no final full stop) saying what it is.

    Decided from the layout: a root typed ``NWBFile`` or carrying a ``namespace`` (or ``.specloc``), or
    else groups typed by ``neurodata_type`` + ``namespace`` with none carrying NWB 1.0 ``ancestry``.
    Never raises: unreadable attributes count as absent.

    >>> import io
    >>> with h5py.File(io.BytesIO(), "w") as f:
    ...     f["nwb_version"] = b"1.2.0"
    ...     f.attrs["neurodata_type"], f.attrs["namespace"] = b"NWBFile", b"core"
    ...     print(detect(f))
    This is an NWB 2 pre-release, not NWB 1.0 (nwb_version '1.2.0', root neurodata_type 'NWBFile', \
namespace 'core'), written by an early pynwb (0.x, 2017-2018) before NWB 2.0 was final in January 2019
    """
    facts = [f"nwb_version {version!r}"] if (version := _version(file)) else []
    root_type, namespace = _text_attr(file, "neurodata_type"), _text_attr(file, "namespace")
    if root_type == "NWBFile" or namespace or _has_attr(file, ".specloc"):
        facts += [f"root neurodata_type {root_type!r}"] if root_type else []
        facts += [f"namespace {namespace!r}"] if namespace else []
        facts += [] if root_type or namespace else ["an hdmf '.specloc' root attribute"]
    else:
        typed, ancestral = _scan(file)
        if not typed or ancestral:
            return None
        facts.append(f"{typed} group{'s' if typed != 1 else ''} typed by neurodata_type and namespace, "
                     "none by NWB 1.0 ancestry")
    return f"This is an NWB 2 pre-release, not NWB 1.0 ({', '.join(facts)}), {ERA}"


def decision(description: str, skipped: Mapping[str, str], *, file: str | None = None) -> str:
    """The note for a pre-release converted whole, or InputError when the generic plan would skip objects.

    ``skipped`` maps each source path the generic_nwb1 plan would skip to why.

    >>> decision("This is an NWB 2 pre-release", {})
    'This is an NWB 2 pre-release; converted with the generic_nwb1 profile: every object is kept'
    >>> decision("This is an NWB 2 pre-release", {"/b": "why", "/a": "compound dtype"}, file="x.nwb")
    Traceback (most recent call last):
    ...
    nwb1zarr.errors.InputError: x.nwb: This is an NWB 2 pre-release; the generic_nwb1 profile would skip \
2 objects (first /a: compound dtype), so it is not converted; read it with pynwb instead (pip install pynwb; \
an early 0.x release may be needed)
    """
    what = _one_line(description)
    if not skipped:
        return f"{what}; converted with the generic_nwb1 profile: every object is kept"
    first = min(skipped)
    count = f"{len(skipped)} object{'s' if len(skipped) != 1 else ''}"
    raise InputError(f"{what}; the generic_nwb1 profile would skip {count} (first {first}: "
                     f"{_one_line(skipped[first])}), so it is not converted; read it with pynwb instead "
                     "(pip install pynwb; an early 0.x release may be needed)", file=file)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _text(value: Any) -> str | None:
    """An attribute or dataset value as one short str, or None when it is not text."""
    value = normalize(value)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return _one_line(value)[:80] if isinstance(value, str) and value.strip() else None


def _text_attr(obj: h5py.HLObject, name: str) -> str | None:
    try:
        return _text(obj.attrs[name]) if name in obj.attrs else None
    except Exception:  # any odd type or damaged attribute counts as absent
        return None


def _has_attr(obj: h5py.HLObject, name: str) -> bool:
    try:
        return name in obj.attrs
    except Exception:
        return False


def _version(file: h5py.File) -> str | None:
    """The version the file claims: the /nwb_version dataset, else the root attribute."""
    try:
        link = file.get("nwb_version", getlink=True)
        if isinstance(link, h5py.HardLink) and isinstance(file["nwb_version"], h5py.Dataset):
            found = _text(file["nwb_version"][()])
            if found:
                return found
    except Exception:
        pass
    return _text_attr(file, "nwb_version")


def _scan(file: h5py.File, *, limit: int = SCAN_GROUPS) -> tuple[int, int]:
    """(groups typed the NWB 2 way, groups with NWB 1.0 ancestry) among the first ``limit`` groups."""
    typed = ancestral = 0
    queue: deque[h5py.Group] = deque([file])
    opened = 0
    while queue and opened < limit and not ancestral:
        for child in _child_groups(queue.popleft()):
            opened += 1
            if _has_attr(child, "ancestry"):
                ancestral += 1
            elif _has_attr(child, "namespace") and _has_attr(child, "neurodata_type"):
                typed += 1
            queue.append(child)
    return typed, ancestral


def _child_groups(group: h5py.Group) -> list[h5py.Group]:
    """The subgroups reached by hard links; links and unreadable objects are passed over."""
    out = []
    try:
        names = list(group.keys())
    except Exception:
        return out
    for name in names:
        try:
            if isinstance(group.get(name, getlink=True), h5py.HardLink) and isinstance(obj := group[name], h5py.Group):
                out.append(obj)
        except Exception:
            continue
    return out
