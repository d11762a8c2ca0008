"""Synthetic Allen Brain Observatory NWB 1.0 files, structurally faithful to the real ones.

Depends on h5py and numpy only.  ROI masks follow the NWB 1.0 spec orientation
(:data:`PIX_MASK_COLUMNS`): ``pix_mask`` rows are ``(x, y)`` and ``img_mask[y, x] == pix_mask_weight``.

Example:
    >>> from nwb1zarr.testing import VARIANTS, SessionSpec, write_session
    >>> path = write_session("b.nwb", SessionSpec.tiny(session_type="three_session_B"))  # doctest: +SKIP
    >>> sorted(VARIANTS)[:2]
    ['A', 'A_no_eye']
"""

from ._generic import write_generic_nwb1
from ._session import write_session
from ._signals import PIX_MASK_COLUMNS
from ._spec import PIPELINE_VERSIONS, SESSION_TYPES, VARIANTS, SessionSpec

__all__ = ["PIPELINE_VERSIONS", "PIX_MASK_COLUMNS", "SESSION_TYPES", "VARIANTS", "SessionSpec",
           "write_generic_nwb1", "write_session"]
