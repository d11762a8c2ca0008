"""NWB 2 export: a converted store -> an NWB 2 file (pynwb / hdmf), and its proof against the NWB 1.0 source.

Needs the ``nwb2`` extra (``pip install "nwb1zarr[nwb2]"``). Modules: ``nwb2_mapping`` (the mapping table,
``schemas/nwb2_export.json``), ``nwb2_transforms`` (named store -> NWB 2 transforms), ``nwb2_iterators``
(streaming, chunking, compression); the NWB 2 objects: ``nwb2_session`` (file, subject, imaging plane),
``nwb2_brain_observatory`` (ROIs, traces, motion), ``nwb2_behavior``, ``nwb2_stimulus`` (tables, templates),
``nwb2_generic`` (generic TimeSeries), ``nwb2_extension`` (the lab_meta_data type); ``nwb2_write`` (``to_nwb2``),
``nwb2_checks`` (pynwb read, pynwb validator, nwbinspector), ``nwb2_validate`` (``validate_nwb2``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["to_nwb2", "validate_nwb2"]


def to_nwb2(*args: Any, **kwargs: Any) -> Any:
    """See :func:`nwb1zarr.export.nwb2_write.to_nwb2`."""
    from .nwb2_write import to_nwb2 as run

    return run(*args, **kwargs)


def validate_nwb2(*args: Any, **kwargs: Any) -> Any:
    """See :func:`nwb1zarr.export.nwb2_validate.validate_nwb2`."""
    from .nwb2_validate import validate_nwb2 as run

    return run(*args, **kwargs)
