"""The few errors nwb1zarr raises; each names the file and HDF5 path it is about."""

from __future__ import annotations

NOTHING_WRITTEN = "interrupted; nothing was written to the destination"
"""What an interrupted conversion says when no store was put in place."""


class Nwb1ZarrError(Exception):
    """Base of every error nwb1zarr raises on purpose.

    >>> str(Nwb1ZarrError("boom", file="a.nwb", path="/general"))
    'a.nwb:/general: boom'
    """

    exit_code = 1

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None) -> None:
        self.message = message
        self.file = file
        self.path = path
        where = ":".join(p for p in (file, path) if p)
        super().__init__(f"{where}: {message}" if where else message)


class InputError(Nwb1ZarrError):
    """The source is missing, unreadable, not HDF5, or not an NWB 1.0 file."""

    exit_code = 2


class ProfileError(Nwb1ZarrError):
    """A profile in schemas/ (or given by the user) does not follow the profile schema."""

    exit_code = 2


class SourceDataError(Nwb1ZarrError):
    """A dataset could not be read (corrupt chunk, truncated file) or broke a declared transform."""


class DestinationError(Nwb1ZarrError):
    """The destination exists, cannot be written, or another conversion holds it."""

    exit_code = 2


class StoreError(Nwb1ZarrError):
    """A store is not a readable nwb1zarr store."""

    exit_code = 2


class WriteError(DestinationError):
    """Writing the store failed part way (disk full, I/O error); nothing was left at the destination."""

    exit_code = 1


class Interrupted(Nwb1ZarrError):
    """The conversion was interrupted (SIGINT / SIGTERM); nothing was left at the destination."""

    exit_code = 130


_HDF5_REASONS = (
    ("filter returned failure", "a compressed chunk cannot be decoded (corrupt data)"),
    ("truncated file", "the file is truncated"),
    ("addr overflow", "an address points past the end of the file (truncated or corrupt)"),
    ("bad object header", "a corrupt object header"),
    ("incorrect metadata checksum", "a corrupt metadata block (checksum mismatch)"),
    ("bad symbol table", "a corrupt group symbol table"),
    ("bad local heap", "a corrupt group name heap"),
    ("bad global heap", "a corrupt variable-length data heap"),
    ("wrong B-tree signature", "a corrupt chunk index (B-tree)"),
)


def hdf5_reason(exc: BaseException) -> str:
    """A short one-line reason for an h5py/HDF5 exception (the HDF5 wording kept in parentheses).

    >>> hdf5_reason(OSError("Can't synchronously read data (filter returned failure during read)"))
    'a compressed chunk cannot be decoded (corrupt data) (filter returned failure during read)'
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    inner = text.rsplit("(", 1)[-1].rstrip(")") if text.endswith(")") and "(" in text else text
    lowered = text.lower()
    for needle, plain in _HDF5_REASONS:
        if needle in lowered:
            return f"{plain} ({inner[:160]})"
    return text[:200]
