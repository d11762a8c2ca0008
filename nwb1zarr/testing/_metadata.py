"""Session identity (ids, dates, mouse) drawn from the seed, and the top-level + ``/general`` datasets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import h5py
import numpy as np

from . import _h5
from ._spec import SessionSpec
from ._text import FOR_MORE_INFORMATION, NWB_VERSION, PLEASE_SEE, SESSION_DESCRIPTION

# (genotype, specimen-name prefix) pairs seen in the release, incl. an Ai148 line without Camk2a-tTA
_LINES = (
    ("Rorb-IRES2-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt", "Rorb-IRES2-Cre;Camk2a-tTA;Ai93"),
    ("Cux2-CreERT2/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt", "Cux2-CreERT2;Camk2a-tTA;Ai93"),
    ("Emx1-IRES-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt", "Emx1-IRES-Cre;Camk2a-tTA;Ai93"),
    ("Nr5a1-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt", "Nr5a1-Cre;Camk2a-tTA;Ai93"),
    ("Fezf2-CreER/wt;Ai148(TIT2L-GC6f-ICL-tTA2)/wt", "Fezf2-CreER;Ai148"),
)
_AREAS = ("VISp", "VISl", "VISal", "VISpm", "VISam", "VISrl")
_DEPTHS = (175, 275, 300, 350, 375)
GENERATED_BY_NAME = "brain_observatory"  # 17 characters, so that generated_by is S18 like the real file (guess)


def ctime(when: dt.datetime) -> str:
    """``time.ctime()`` format, e.g. 'Wed Jan 20 10:24:01 2016' (24 characters)."""
    return when.strftime("%a %b ") + f"{when.day:2d}" + when.strftime(" %H:%M:%S %Y")


@dataclass(frozen=True)
class Identity:
    """Who/when of one session; every value derives from the seed, so files are reproducible."""

    experiment_id: int
    container_id: int
    specimen_id: int
    donor: int
    genotype: str
    specimen_prefix: str
    area: str
    depth_um: int
    age_days: int
    sex: str
    rig: str
    session_start: dt.datetime
    file_created: dt.datetime

    @classmethod
    def from_seed(cls, seed: int) -> Identity:
        rng = np.random.default_rng([seed, 101])
        genotype, prefix = _LINES[int(rng.integers(len(_LINES)))]
        start = dt.datetime(2016, 1, 10, 9) + dt.timedelta(days=int(rng.integers(0, 500)),
                                                             seconds=int(rng.integers(0, 5 * 3600)))
        created = dt.datetime(2017, 5, 19, 6) + dt.timedelta(seconds=int(rng.integers(0, 3 * 3600)))
        return cls(
            experiment_id=int(rng.integers(496_000_000, 660_000_000)),
            container_id=int(rng.integers(511_000_000, 660_000_000)),
            specimen_id=int(rng.integers(450_000_000, 600_000_000)),
            donor=int(rng.integers(200_000, 400_000)),
            genotype=genotype, specimen_prefix=prefix,
            area=_AREAS[int(rng.integers(len(_AREAS)))],
            depth_um=int(_DEPTHS[int(rng.integers(len(_DEPTHS)))]),
            age_days=int(rng.integers(70, 170)),
            sex=("male", "female")[int(rng.integers(2))],
            rig=f"CAM2P.{int(rng.integers(1, 6))}",
            session_start=start, file_created=created,
        )

    @property
    def storage_dir(self) -> str:
        """Allen-internal directory of this experiment (appears in ``@source`` strings)."""
        return (f"/projects/neuralcoding/vol1/prod5/specimen_{self.specimen_id}/"
                f"ophys_experiment_{self.experiment_id}")


def write_top_level(f: h5py.File, ident: Identity) -> None:
    """identifier / nwb_version / session_description (vlen ASCII), session_start_time (S24),
    file_create_date (vlen ASCII, chunked, resizable) and the empty top-level groups."""
    created = ctime(ident.file_created).encode()
    _h5.vlen_ascii(f, "identifier", f"Brain Observatory Visual Coding Experiment {ident.experiment_id}; "
                   f"{NWB_VERSION}; ".encode() + created)
    _h5.vlen_ascii(f, "nwb_version", NWB_VERSION.encode())
    _h5.vlen_ascii(f, "session_description", SESSION_DESCRIPTION.encode())
    _h5.vlen_ascii(f, "file_create_date", [created], resizable=True)
    _h5.scalar(f, "session_start_time", ctime(ident.session_start))
    f.create_group("acquisition/images")
    f.create_group("acquisition/timeseries")
    f.create_group("analysis")
    _h5.set_attrs(f.create_group("epochs"), {"tags": b"[]"})
    f.create_group("stimulus/presentation")
    f.create_group("stimulus/templates")


def write_general(f: h5py.File, ident: Identity, spec: SessionSpec) -> None:
    """``/general``: fixed-length scalar strings, names with spaces, ``generated_by`` S18 array."""
    g = f.create_group("general")
    custom = {"neurodata_type": b"Custom"}
    height, width = spec.fov
    eid = str(ident.experiment_id)
    _h5.scalar(g, "For more information", FOR_MORE_INFORMATION, **custom)
    devices = g.create_group("devices")
    _h5.scalar(devices, "2-photon microscope", f"Nikon A1R-MP multiphoton microscope. {ident.rig} {PLEASE_SEE}")
    _h5.scalar(devices, "display monitor", f"ASUS PA248Q monitor. {PLEASE_SEE}")
    _h5.scalar(devices, "eye-tracking camera", f"AVT Mako-G032B. {PLEASE_SEE}")
    _h5.scalar(g, "experiment_container_id", str(ident.container_id), **custom)
    _h5.scalar(g, "fov", f"{round(width * 400 / 512)}x{round(height * 400 / 512)} microns "
               f"({width} x {height} pixels)", **custom)
    if spec.pipeline_version != "0.9":
        _h5.strings(g, "generated_by", ["pipeline", GENERATED_BY_NAME, "version", spec.pipeline_version],
                    pad=1, **custom)
    _h5.scalar(g, "institution", "Allen Institute for Brain Science")
    _h5.scalar(g, "ophys_experiment_id", eid, **custom)
    day = ident.session_start.strftime("%Y%m%d")
    _h5.scalar(g, "ophys_experiment_name", f"{ident.donor}_{day}_{spec.session_letter}", **custom)
    plane = g.create_group("optophysiology/imaging_plane_1")
    channel = plane.create_group("channel-1")
    _h5.scalar(channel, "description", "Only optical channel used")
    _h5.scalar(channel, "emission_lambda", "See emission properties of GCaMP6f")
    _h5.scalar(plane, "description", PLEASE_SEE)
    _h5.scalar(plane, "device", "2-photon microscope")
    _h5.scalar(plane, "excitation_lambda", "910 nanometers")
    _h5.scalar(plane, "imaging depth", f"{ident.depth_um} microns", **custom)
    _h5.scalar(plane, "imaging_rate", "31Hz")
    _h5.scalar(plane, "indicator", "GCaMP6f")
    _h5.scalar(plane, "location", ident.area)
    _h5.scalar(g, "pixel_size", "0.78 (um)", **custom)
    _h5.scalar(g, "session_id", eid, comments=b"ID corresponds to Allen Institute 'experiment_sessions ID'")
    _h5.scalar(g, "session_type", spec.session_type, **custom)
    _h5.scalar(g, "specimen_name", f"{ident.specimen_prefix}-{ident.donor}", **custom)
    subject = g.create_group("subject")
    _h5.scalar(subject, "age", f"{ident.age_days} days")
    _h5.scalar(subject, "description", "Mus musculus in vivo")
    _h5.scalar(subject, "genotype", ident.genotype)
    _h5.scalar(subject, "sex", ident.sex)
    _h5.scalar(subject, "species", "Mus musculus")
    _h5.scalar(subject, "subject_id", str(ident.specimen_id),
               comments=b"ID corresponds to Allen Institute 'specimens ID'")
    _h5.scalar(g, "targeted_structure", ident.area, **custom)
