"""xarray backend: ``xr.open_datatree("session.nwb", engine="nwb1")`` opens an NWB 1.0 file lazily.

Errors are the same one-line :class:`~nwb1zarr.errors.Nwb1ZarrError` subclasses the CLI reports
(naming the file and HDF5 path); anything unexpected becomes an ``internal error`` Nwb1ZarrError
chained to the original exception, which is re-raised as is when ``NWB1ZARR_DEBUG`` is set.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from .errors import InputError, Nwb1ZarrError
from .reading.legacy_tree import HDF5_SIGNATURE


def _where(filename_or_obj: Any) -> str:
    if isinstance(filename_or_obj, str | os.PathLike):
        return os.fspath(filename_or_obj)
    return repr(filename_or_obj)[:120]


@contextlib.contextmanager
def _one_line_errors(filename_or_obj: Any) -> Iterator[None]:
    """Nwb1ZarrErrors pass; any other exception becomes an internal-error Nwb1ZarrError about the file."""
    from .cli import debug_enabled, internal_error

    try:
        yield
    except Nwb1ZarrError:
        raise
    except Exception as exc:
        if debug_enabled():
            raise
        raise internal_error(exc, _where(filename_or_obj)) from exc


def _check_path(filename_or_obj: Any) -> str:
    if not isinstance(filename_or_obj, str | os.PathLike):
        raise InputError(f"the nwb1 engine opens NWB 1.0 files by path, not {type(filename_or_obj).__name__} "
                         "objects", file=_where(filename_or_obj))
    return os.fspath(filename_or_obj)


class Nwb1BackendEntrypoint(BackendEntrypoint):
    """Open legacy NWB 1.0 HDF5 files as the same labelled tree nwb1zarr writes to Zarr."""

    description = "Legacy NWB 1.0 (e.g. Allen Brain Observatory) HDF5 files, via nwb1zarr"
    url = "https://pypi.org/project/nwb1zarr/"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "group", "profile")

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        if not isinstance(filename_or_obj, str | os.PathLike):
            return False
        try:
            path = os.fspath(filename_or_obj)
            if not isinstance(path, str) or not path.endswith(".nwb") or not os.path.isfile(path):
                return False
            with open(path, "rb") as fh:
                return fh.read(8) == HDF5_SIGNATURE
        except (OSError, ValueError, TypeError):  # unreadable: some other engine may say why
            return False

    def open_datatree(self, filename_or_obj: Any, *, drop_variables: str | Iterable[str] | None = None,
                      profile: str | None = None, **kwargs: Any) -> xr.DataTree:
        with _one_line_errors(filename_or_obj):
            return self._open_datatree(_check_path(filename_or_obj), drop_variables, profile)

    def _open_datatree(self, path: str, drop_variables: str | Iterable[str] | None,
                       profile: str | None) -> xr.DataTree:
        from .writing.build import open_legacy

        dt = open_legacy(path, profile=profile)
        if drop_variables:
            drop = {drop_variables} if isinstance(drop_variables, str) else set(drop_variables)
            try:
                dropped = dt.map_over_datasets(lambda ds: ds.drop_vars([v for v in drop if v in ds.variables]))
            except BaseException:
                dt.close()
                raise
            dropped.set_close(dt.close)
            dt = dropped
        return dt

    def open_groups_as_dict(self, filename_or_obj: Any, **kwargs: Any) -> dict[str, xr.Dataset]:
        dt = self.open_datatree(filename_or_obj, **kwargs)
        with _one_line_errors(filename_or_obj):
            return {node.path: node.to_dataset(inherit=False) for node in dt.subtree}

    def open_dataset(self, filename_or_obj: Any, *, drop_variables: str | Iterable[str] | None = None,
                     group: str | None = None, profile: str | None = None, **kwargs: Any) -> xr.Dataset:
        dt = self.open_datatree(filename_or_obj, drop_variables=drop_variables, profile=profile)
        with _one_line_errors(filename_or_obj):
            try:
                node = dt[group or "/"]
            except KeyError:
                dt.close()
                raise InputError("no such group in the converted tree (see xr.open_datatree(..., engine='nwb1') "
                                 "for the groups)", file=_where(filename_or_obj), path=group) from None
            if not isinstance(node, xr.DataTree):
                dt.close()
                raise InputError("not a group of the converted tree (it is a variable)",
                                 file=_where(filename_or_obj), path=group)
            ds = node.to_dataset()
            ds.set_close(dt.close)
            return ds
