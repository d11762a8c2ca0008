"""nwb1zarr: legacy NWB 1.0 (Allen Brain Observatory) HDF5 files -> labelled xarray DataTrees in Zarr.

>>> import nwb1zarr
>>> report = nwb1zarr.convert("570014520.nwb")          # doctest: +SKIP
>>> dt = nwb1zarr.open_legacy("570014520.nwb")          # lazy, no conversion  # doctest: +SKIP

Modules by pipeline stage:

- sources: ``sources`` (experiment ids, AllenSDK caches), ``download`` (archive cache, resume, checksums),
  ``urls`` (fsspec URLs, storage options), ``remote_source`` (an HDF5 source read over fsspec);
- read: ``legacy_tree`` (h5py -> typed nodes), ``typemap`` (neurodata_type / ancestry -> types),
  ``prerelease`` (NWB 2 pre-releases), ``attrs`` (attribute normalisation), ``names`` (safe store names);
- profile: ``profiles`` (schemas/*.json), ``schema_files``, ``registry``, and what profiles may name:
  ``parsers`` (metadata), ``transforms``, ``derivations``, ``verifications`` (checks such as ROI orientation);
- plan: ``planner`` (orchestration) -> ``plan_choice``, ``plan_metadata``, ``plan_bindings``, ``plan_rules``,
  ``plan_checks`` (group consistency), ``plan_time`` (placing traces on time), ``remainder`` (everything
  else, under /nwb1), with ``plan_context`` and ``plan_model`` (the :class:`Plan` value);
- build: ``build`` (plan -> lazy DataTree), ``source_arrays`` (dask arrays over the source), ``chunking``;
- write: ``convert`` (the job), ``write`` (to_zarr), ``claim_dst`` (atomic local destination), ``claim_remote``
  and ``object_store`` (object stores: root document last), ``digests``, ``provenance``, ``store_attrs`` (the
  attribute vocabulary shared with the validator);
- validate: ``validate``, ``validate_values``, ``store_check``, ``validate_report``;
- around them: ``cli``, ``supervise`` (hung / crashed libhdf5), ``progress`` and ``progress_bar``, ``backend``
  (xarray engine), ``allensdk`` (AllenSDK-style helpers on a store), ``plot`` and ``plot_data`` (a session
  summary from a store), ``errors``;
- virtual stores (Icechunk, references into the source): ``virtual`` (``eligible``, ``manifests``,
  ``repository``, ``convert_virtual``, ``open``: ``open_store`` opens ordinary and virtual stores alike);
- NWB 2 export: ``export`` (``to_nwb2`` / ``validate_nwb2``, needs the ``nwb2`` extra: pynwb, hdmf, nwbinspector);
- many sessions: ``batch`` (``convert_many`` on dask.distributed) with ``batch_inputs``, ``batch_target``,
  ``batch_state`` (resume log), ``batch_task`` (one session on a worker), ``batch_report``.
"""

# The public names are imported on first use (PEP 562), so that `import nwb1zarr.cli` (and with it
# `nwb1zarr --help`) does not pay for xarray, zarr and dask.

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .batch import convert_many
    from .batch_report import BatchReport
    from .build import open_legacy
    from .convert import ConversionReport, convert
    from .errors import DestinationError, InputError, Nwb1ZarrError, ProfileError, SourceDataError, StoreError
    from .export.nwb2_validate import validate_nwb2
    from .export.nwb2_write import to_nwb2
    from .plan_model import Plan
    from .planner import plan
    from .validate import validate
    from .validate_report import ValidationReport
    from .virtual.open import open_store

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
    "BatchReport": "batch_report",
    "ConversionReport": "convert",
    "DestinationError": "errors",
    "InputError": "errors",
    "Nwb1ZarrError": "errors",
    "Plan": "plan_model",
    "ProfileError": "errors",
    "SourceDataError": "errors",
    "StoreError": "errors",
    "ValidationReport": "validate_report",
    "convert": "convert",
    "convert_many": "batch",
    "open_legacy": "build",
    "open_store": "virtual.open",
    "plan": "planner",
    "to_nwb2": "export.nwb2_write",
    "validate": "validate",
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
    """Keeps the functions ``convert`` and ``validate`` where their same-named submodules would land.

    Importing the submodule ``nwb1zarr.convert`` makes the import system set the package attribute
    ``convert`` to that module; ``nwb1zarr.convert(...)`` must stay the function, as it always was.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if (isinstance(value, types.ModuleType) and _WHERE.get(name) == name
                and value.__name__ == f"{__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
