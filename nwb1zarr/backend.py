"""xarray backend: ``xr.open_datatree("session.nwb", engine="nwb1")`` opens an NWB 1.0 file lazily."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from .legacy_tree import HDF5_SIGNATURE


class Nwb1BackendEntrypoint(BackendEntrypoint):
    """Open legacy NWB 1.0 HDF5 files as the same labelled tree nwb1zarr writes to Zarr."""

    description = "Legacy NWB 1.0 (e.g. Allen Brain Observatory) HDF5 files, via nwb1zarr"
    url = "https://pypi.org/project/nwb1zarr/"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "group", "profile")

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        if not isinstance(filename_or_obj, str | os.PathLike):
            return False
        path = os.fspath(filename_or_obj)
        if not path.endswith(".nwb") or not os.path.isfile(path):
            return False
        with open(path, "rb") as fh:
            return fh.read(8) == HDF5_SIGNATURE

    def open_datatree(self, filename_or_obj: Any, *, drop_variables: str | Iterable[str] | None = None,
                      profile: str | None = None, **kwargs: Any) -> xr.DataTree:
        from .build import open_legacy

        dt = open_legacy(filename_or_obj, profile=profile)
        if drop_variables:
            drop = {drop_variables} if isinstance(drop_variables, str) else set(drop_variables)
            dt = dt.map_over_datasets(lambda ds: ds.drop_vars([v for v in drop if v in ds.variables]))
        return dt

    def open_groups_as_dict(self, filename_or_obj: Any, **kwargs: Any) -> dict[str, xr.Dataset]:
        dt = self.open_datatree(filename_or_obj, **kwargs)
        return {node.path: node.to_dataset(inherit=False) for node in dt.subtree}

    def open_dataset(self, filename_or_obj: Any, *, drop_variables: str | Iterable[str] | None = None,
                     group: str | None = None, profile: str | None = None, **kwargs: Any) -> xr.Dataset:
        dt = self.open_datatree(filename_or_obj, drop_variables=drop_variables, profile=profile)
        ds = dt[group or "/"].to_dataset()
        ds.set_close(dt.close)
        return ds
