"""The few errors nwb1zarr raises; each names the file and HDF5 path it is about."""

from __future__ import annotations


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
