"""``write_generic_nwb1``: a small NWB 1.0 file that is *not* a Brain Observatory session."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import h5py
import numpy as np

from . import _h5, _nwb, _signals
from ._metadata import ctime
from ._text import HELP_INTERVAL, HELP_SPATIAL, HELP_TS, NWB_VERSION

_HELP_FILTERED = "Ephys data from one or more channels that has been subjected to filtering"


def write_generic_nwb1(path: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Write a generic NWB 1.0 file (no Brain Observatory groups) and return its path.

    Contents: TimeSeries in ``/acquisition/timeseries`` (one with timestamps, one SpatialSeries) and
    ``/stimulus/presentation``; a processing module whose Interface holds a TimeSeries sampled with
    ``starting_time`` (+ ``@rate``) instead of ``timestamps``; a few ``/general`` fields.

    Example:
        >>> write_generic_nwb1(tmp_path / "generic.nwb", seed=1)  # doctest: +SKIP
        PosixPath('.../generic.nwb')
    """
    g = _signals.rng(seed, 90)
    start = dt.datetime(2015, 3, 10, 14) + dt.timedelta(seconds=int(g.integers(0, 10**6)))
    n = 500
    ts = np.round(np.cumsum(np.full(n, 0.01) + g.normal(0, 1e-4, n)) + 1.0, 6)
    path = Path(path)
    with h5py.File(path, "w", libver="earliest") as f:
        _h5.vlen_ascii(f, "identifier", f"generic NWB 1.0 test file {seed}; {NWB_VERSION}; "
                       f"{ctime(start + dt.timedelta(days=30))}".encode())
        _h5.vlen_ascii(f, "nwb_version", NWB_VERSION.encode())
        _h5.vlen_ascii(f, "session_description", b"head-fixed mouse, licking task (synthetic)")
        _h5.vlen_ascii(f, "file_create_date", [ctime(start + dt.timedelta(days=30)).encode()], resizable=True)
        _h5.scalar(f, "session_start_time", ctime(start))
        general = f.create_group("general")
        _h5.scalar(general, "experimenter", b"A. Experimenter")
        _h5.scalar(general, "institution", b"Example Institute")
        _h5.scalar(general, "lab", b"Example Lab")
        _h5.scalar(general, "session_id", f"session_{seed:03d}")
        _h5.scalar(general.create_group("devices"), "amplifier", b"Example amplifier, 16 channels")
        subject = general.create_group("subject")
        _h5.scalar(subject, "age", b"12 weeks")
        _h5.scalar(subject, "species", b"Mus musculus")
        _h5.scalar(subject, "subject_id", f"mouse_{seed:03d}")

        f.create_group("acquisition/images")
        acq = f.create_group("acquisition/timeseries")
        lick = _nwb.timeseries(acq, "lick_sensor", ancestry=[b"TimeSeries"], help=HELP_TS,
                               description=b"Voltage of the lick sensor")
        _nwb.data(lick, (g.random(n) < 0.05).astype(np.float32) * 5, unit=b"volts")
        _nwb.timestamps(lick, ts)
        pos = _nwb.timeseries(acq, "head_position", ancestry=[b"TimeSeries", b"SpatialSeries"],
                              help=HELP_SPATIAL, description=b"Head position")
        _nwb.data(pos, np.cumsum(g.normal(0, 1e-4, (n, 2)), axis=0), unit=b"meters")
        _h5.scalar(pos, "reference_frame", b"top left corner of the arena")
        _nwb.timestamps(pos, ts)

        stim = f.create_group("stimulus/presentation")
        f.create_group("stimulus/templates")
        tone = _nwb.timeseries(stim, "tone", ancestry=[b"TimeSeries"], help=HELP_TS,
                               description=b"Tone amplitude", comments=b"pure tone, 5 kHz")
        _nwb.data(tone, np.repeat(np.array([0, 1, 0, 1, 0], dtype=np.float32), n // 5), unit=b"volts")
        _nwb.timestamps(tone, ts)
        puff = _nwb.timeseries(stim, "air_puff", ancestry=[b"TimeSeries", b"IntervalSeries"],
                               help=HELP_INTERVAL, description=b"Air puffs")
        _nwb.data(puff, np.array([1, -1, 1, -1], dtype=np.int8), unit=b"n/a")
        _nwb.timestamps(puff, np.array([1.5, 1.6, 3.2, 3.3]))

        module = f.create_group("processing/ephys")
        filtered = _nwb.interface(module, "FilteredEphys", help=_HELP_FILTERED, source=b"acquisition")
        theta = _nwb.timeseries(filtered, "theta", ancestry=[b"TimeSeries"], help=HELP_TS,
                                description=b"Theta-band filtered voltage")
        rate = 1000.0
        _nwb.data(theta, np.sin(np.arange(2000) * 2 * np.pi * 8 / rate).astype(np.float32) * 1e-4,
                  unit=b"volts")
        _h5.scalar(theta, "num_samples", np.int32(2000))
        _h5.scalar(theta, "starting_time", np.float64(1.0), rate=np.float32(rate), unit=b"Seconds")
        _h5.set_attrs(module, {"interfaces": ["FilteredEphys"], "neurodata_type": "Module"})

        f.create_group("analysis")
        _h5.set_attrs(f.create_group("epochs"), {"tags": b"[]"})
    return path
