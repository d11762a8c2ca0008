"""The one place where the files of a local store are written (documents, small arrays and large arrays' chunks)."""

from __future__ import annotations

import os


def put_file(path: str, data: bytes | memoryview) -> None:
    """Write one file of the store (its folder exists)."""
    with open(path, "wb") as fh:
        fh.write(data)


def put_new_file(path: str, data: bytes | memoryview, *, made: set[str]) -> None:
    """:func:`put_file`, making its folder first unless ``made`` (the folders this writer made) holds it."""
    parent = path.rpartition("/")[0]
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)
    put_file(path, data)
