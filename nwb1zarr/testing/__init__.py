"""Synthetic Allen Brain Observatory NWB 1.0 files, structurally faithful to the real ones.

Depends on h5py and numpy only; follows shared/docs/bo_nwb1_layout.md (every name, dtype, string
encoding, link kind and quirk of its Appendix A is reproduced; ``tests/test_generator.py`` checks them and
``tests/allensdk/probe_generator.py`` runs AllenSDK's ``BrainObservatoryNwbDataSet`` on every variant).
ROI masks follow :data:`PIX_MASK_COLUMNS`: ``pix_mask`` rows are ``(x, y)``, ``img_mask[y, x] == weight``.

Where the layout doc has no answer, the generator guesses (change here if real files disagree):
``generated_by = [pipeline, brain_observatory, version, <v>]``; epoch order of A (doc: unverified) and
C2 (C's order with each LSN block split into 4deg + 8deg); spontaneous ``frame_duration[:, 1] ==
frame_duration[:, 0]``; EyeTracking/PupilTracking descriptions, units, ``features`` names (+1 padded),
``@missing_fields [reference_frame]`` and ``@source``; template ``dimension`` = [width, height] and
``field_of_view`` = monitor size (m); LSN 8deg template has 5584 frames; external-link file names;
pipeline 0.9 ``neuropil_traces`` is a Custom dataset without ``neuropil_traces_path``.

Example:
    >>> from nwb1zarr.testing import VARIANTS, SessionSpec, write_session
    >>> path = write_session("b.nwb", SessionSpec.tiny(session_type="three_session_B"))  # doctest: +SKIP
    >>> sorted(VARIANTS)[:2]
    ['A', 'A_no_extra_frame']
"""

from ._generic import write_generic_nwb1
from ._session import write_session
from ._signals import PIX_MASK_COLUMNS
from ._spec import PIPELINE_VERSIONS, SESSION_TYPES, VARIANTS, SessionSpec

__all__ = ["PIPELINE_VERSIONS", "PIX_MASK_COLUMNS", "SESSION_TYPES", "VARIANTS", "SessionSpec",
           "write_generic_nwb1", "write_session"]
