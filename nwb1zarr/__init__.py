"""nwb1zarr: legacy NWB 1.0 (Allen Brain Observatory) HDF5 files -> labelled xarray DataTrees in Zarr.

>>> import nwb1zarr
>>> report = nwb1zarr.convert("570014520.nwb")          # doctest: +SKIP
>>> dt = nwb1zarr.open_legacy("570014520.nwb")          # lazy, no conversion  # doctest: +SKIP

Subpackages by pipeline stage (read -> plan -> write -> validate, plus sinks, batch, virtual and export):

- ``reading``: ``sources`` (paths, URLs, experiment ids, AllenSDK caches), ``download`` (archive cache, resume,
  checksums), ``remote_source`` (an HDF5 source read over fsspec), ``legacy_tree`` (h5py -> typed nodes),
  ``typemap`` (neurodata_type / ancestry -> types), ``prerelease`` (NWB 2 pre-releases), ``attrs`` (attribute
  normalisation), ``names`` (safe store names);
- ``planning``: ``profiles`` (schemas/*.json), ``registry`` and what profiles may name (``parsers``,
  ``transforms``, ``derivations``, ``verifications``); ``planner`` (orchestration) -> ``choice``, ``metadata``,
  ``bindings``, ``rules``, ``checks`` (group consistency), ``time_axes`` (placing traces on time), ``remainder``
  (everything else, under /nwb1), with ``context`` and ``model`` (the :class:`Plan` value); ``chunking``;
- ``writing``: ``build`` (plan -> lazy DataTree), ``source_arrays`` (dask arrays over the source), ``to_zarr``
  and ``nodes`` (staged metadata and small arrays, chunked copies), ``provenance``;
- ``sinks``: ``claim_dst`` (atomic local destination), ``claim_remote`` and ``object_store`` (object stores:
  root document last);
- ``validation`` (never imports ``writing``): ``validate``, ``values``, ``store_check``, ``report``;
- ``batch``: ``convert_many`` on dask.distributed with ``inputs``, ``target``, ``state`` (resume log), ``task``
  (one session on a worker), ``report``;
- ``virtual`` (Icechunk, references into the source): ``eligible``, ``manifests``, ``repository``,
  ``convert_virtual``, ``open`` (``open_store`` opens ordinary and virtual stores alike);
- ``export``: NWB 2 (``to_nwb2`` / ``validate_nwb2``, needs the ``nwb2`` extra: pynwb, hdmf, nwbinspector);
- shared, top level: ``convert`` (the job: read, plan, write, validate), ``store_attrs`` (the store's attribute
  vocabulary, used by writing and validation), ``digests``, ``urls``, ``schema_files``, ``errors``, ``progress``;
- around them: ``cli`` and ``cli_nwb2``, ``progress_bar``, ``supervise`` (hung / crashed libhdf5), ``backend``
  (xarray engine), ``allensdk`` (AllenSDK-style helpers on a store), ``plot`` and ``plot_data``.
"""

# The public names are imported on first use (PEP 562), so that `import nwb1zarr.cli` (and with it
# `nwb1zarr --help`) does not pay for xarray, zarr and dask.

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .batch.convert_many import convert_many
    from .batch.report import BatchReport
    from .convert import ConversionReport, convert
    from .errors import DestinationError, InputError, Nwb1ZarrError, ProfileError, SourceDataError, StoreError
    from .export.nwb2_validate import validate_nwb2
    from .export.nwb2_write import to_nwb2
    from .planning.model import Plan
    from .planning.planner import plan
    from .validation.report import ValidationReport
    from .validation.validate import validate
    from .virtual.open import open_store
    from .writing.build import open_legacy

__all__ = [
    "BatchReport",
    "ConversionReport",
    "DestinationError",
    "InputError",
    "Nwb1ZarrError",
    "Plan",
    "ProfileError",
    "SourceDataError",
    "StoreError",
    "ValidationReport",
    "convert",
    "convert_many",
    "open_legacy",
    "open_store",
    "plan",
    "to_nwb2",
    "validate",
    "validate_nwb2",
]

_WHERE = {
    "BatchReport": "batch.report",
    "ConversionReport": "convert",
    "DestinationError": "errors",
    "InputError": "errors",
    "Nwb1ZarrError": "errors",
    "Plan": "planning.model",
    "ProfileError": "errors",
    "SourceDataError": "errors",
    "StoreError": "errors",
    "ValidationReport": "validation.report",
    "convert": "convert",
    "convert_many": "batch.convert_many",
    "open_legacy": "writing.build",
    "open_store": "virtual.open",
    "plan": "planning.planner",
    "to_nwb2": "export.nwb2_write",
    "validate": "validation.validate",
    "validate_nwb2": "export.nwb2_validate",
}
"""Each public name -> the submodule that defines it."""


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Keeps the function ``convert`` where its same-named submodule would land.

    Importing the submodule ``nwb1zarr.convert`` makes the import system set the package attribute
    ``convert`` to that module; ``nwb1zarr.convert(...)`` must stay the function, as it always was.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if (isinstance(value, types.ModuleType) and _WHERE.get(name) == name
                and value.__name__ == f"{__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
