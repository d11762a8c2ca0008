"""What a synthetic Brain Observatory session looks like: :class:`SessionSpec`, presets and named variants."""

from __future__ import annotations

from dataclasses import dataclass, replace

SESSION_TYPES = ("three_session_A", "three_session_B", "three_session_C", "three_session_C2")
PIPELINE_VERSIONS = ("0.9", "2.0", "3.0")


@dataclass(frozen=True)
class SessionSpec:
    """Parameters of one synthetic ``three_session_*`` NWB 1.0 file.

    The defaults are the :meth:`tiny` preset (a < 1 MB file written in well under a second).

    Example:
        >>> spec = SessionSpec.tiny(session_type="three_session_A", eye_tracking=False)
        >>> spec.n_frames, spec.has_demixed
        (2400, True)
    """

    session_type: str = "three_session_B"
    n_rois: int = 6
    n_frames: int = 2400
    """T: trace frames (length of the fluorescence/dff/neuropil/demixed timestamps)."""
    fov: tuple[int, int] = (64, 64)
    """(height, width) of every img_mask and of the max projection."""
    template_scale: float = 0.01
    """Shrinks template frames and pixels and presentation counts (1.0 = real sizes)."""
    eye_tracking: bool = True
    demixed: bool = True
    """Demixed traces present (always absent for pipeline 0.9, see :attr:`has_demixed`)."""
    pipeline_version: str = "3.0"
    dff_extra_columns: int = 0
    """-1, 0 or +1: DfOverF data has T+k columns while its timestamps have T."""
    movie_extra_frame: bool = True
    """2p and motion-correction timestamps have T+1 samples (else T)."""
    external_links: bool = True
    """Dangling ExternalLink for the two movie ``data`` fields (False: float64 [1.] placeholder)."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.session_type not in SESSION_TYPES:
            raise ValueError(f"session_type: expected one of {SESSION_TYPES}, got {self.session_type!r}")
        if self.pipeline_version not in PIPELINE_VERSIONS:
            raise ValueError(f"pipeline_version: expected one of {PIPELINE_VERSIONS}, "
                             f"got {self.pipeline_version!r}")
        if self.dff_extra_columns not in (-1, 0, 1):
            raise ValueError(f"dff_extra_columns: expected -1, 0 or 1, got {self.dff_extra_columns!r}")
        if self.n_rois < 1 or min(self.fov) < 8:
            raise ValueError(f"n_rois >= 1 and fov >= (8, 8) expected, got {self.n_rois}, {self.fov}")
        if not 0 < self.template_scale <= 1:
            raise ValueError(f"template_scale: expected 0 < scale <= 1, got {self.template_scale!r}")

    @property
    def has_demixed(self) -> bool:
        """Whether ``Fluorescence/imaging_plane_1_demixed_signal`` is written."""
        return self.demixed and self.pipeline_version != "0.9"

    @property
    def session_letter(self) -> str:
        """'A', 'B', 'C' or 'C2'."""
        return self.session_type.removeprefix("three_session_")

    @classmethod
    def tiny(cls, **overrides: object) -> SessionSpec:
        """Seconds to write, < 1 MB: 6 ROIs, 2400 frames, 64x64, templates at 1 %.

        Example: ``SessionSpec.tiny(session_type="three_session_C")``.
        """
        return cls(**overrides)  # type: ignore[arg-type]

    @classmethod
    def full(cls, **overrides: object) -> SessionSpec:
        """Real scale: 200 ROIs, 115 000 frames, 512x512, real template sizes.

        Example: ``SessionSpec.full(session_type="three_session_A")`` (a few hundred MB).
        """
        values: dict[str, object] = {"n_rois": 200, "n_frames": 115_000, "fov": (512, 512),
                                     "template_scale": 1.0}
        return cls(**{**values, **overrides})  # type: ignore[arg-type]


def _variant(letter: str, **changes: object) -> SessionSpec:
    return replace(SessionSpec.tiny(session_type=f"three_session_{letter}"), **changes)  # type: ignore[arg-type]


VARIANTS: dict[str, SessionSpec] = {
    "A": _variant("A"),
    "B": _variant("B"),
    "C": _variant("C"),
    "C2": _variant("C2"),
    "A_no_eye": _variant("A", eye_tracking=False, seed=1),
    "C2_no_eye": _variant("C2", eye_tracking=False, seed=2),
    "C_no_demixed": _variant("C", demixed=False, seed=3),
    "B_pipeline_0.9": _variant("B", pipeline_version="0.9", eye_tracking=False, seed=4),
    "C_pipeline_0.9": _variant("C", pipeline_version="0.9", seed=5),
    "A_pipeline_2.0": _variant("A", pipeline_version="2.0", seed=6),
    "B_dff_plus1": _variant("B", dff_extra_columns=1, seed=7),
    "B_dff_minus1": _variant("B", dff_extra_columns=-1, seed=8),
    "A_no_extra_frame": _variant("A", movie_extra_frame=False, seed=9),
    "C2_placeholder_movies": _variant("C2", external_links=False, seed=10),
    "B_wide_fov": _variant("B", fov=(48, 80), n_rois=9, seed=11),
}
"""Named tiny variants covering every session type and every structural switch (each < 1 MB)."""
