"""The one place where the files of a local store are written (documents, small arrays and large arrays' chunks)."""

from __future__ import annotations


def put_file(path: str, data: bytes | memoryview) -> None:
    """Write one file of the store (its folder exists)."""
    with open(path, "wb") as fh:
        fh.write(data)
