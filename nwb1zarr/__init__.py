"""nwb1zarr: legacy NWB 1.0 (Allen Brain Observatory) HDF5 files -> labelled xarray DataTrees in Zarr.

>>> import nwb1zarr
>>> report = nwb1zarr.convert("570014520.nwb")          # doctest: +SKIP
>>> dt = nwb1zarr.open_legacy("570014520.nwb")          # lazy, no conversion  # doctest: +SKIP
"""

from .build import open_legacy
from .convert import ConversionReport, convert
from .errors import DestinationError, InputError, Nwb1ZarrError, ProfileError, SourceDataError, StoreError
from .plan_model import Plan
from .planner import plan
from .validate import validate
from .validate_report import ValidationReport

__all__ = [
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
    "open_legacy",
    "plan",
    "validate",
]
