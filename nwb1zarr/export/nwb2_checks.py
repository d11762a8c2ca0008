"""Three independent opinions on a written NWB 2 file: pynwb reads it without warnings, pynwb's schema
validator, and nwbinspector's best-practice checks. Each finding says whether it is an error."""

from __future__ import annotations

import os
import warnings
from typing import Any

ERROR_IMPORTANCE = ("CRITICAL", "BEST_PRACTICE_VIOLATION", "ERROR", "PYNWB_VALIDATION")
"""nwbinspector importance levels counted as errors; BEST_PRACTICE_SUGGESTION is a suggestion."""


def read_warnings(path: str | os.PathLike[str]) -> list[str]:
    """Every warning pynwb gives while reading the whole file (a correct file gives none)."""
    import pynwb

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pynwb.NWBHDF5IO(str(path), mode="r") as io:
            nwbfile = io.read()
            for obj in nwbfile.objects.values():  # touch every object so lazy reads warn too
                getattr(obj, "fields", None)
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def schema_errors(path: str | os.PathLike[str]) -> list[str]:
    """pynwb's validator against the namespaces cached in the file."""
    import pynwb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = pynwb.validate(path=str(path))
    errors = result[0] if isinstance(result, tuple) else result
    return [str(e) for e in errors]


def inspector_messages(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """nwbinspector's messages (all importance levels), as plain dicts."""
    from nwbinspector import inspect_nwbfile

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for message in inspect_nwbfile(nwbfile_path=str(path), skip_validate=True):
            if message is None:
                continue
            importance = getattr(message.importance, "name", str(message.importance))
            out.append({"check": message.check_function_name, "importance": importance,
                        "object": f"{message.object_type} {message.location or message.object_name}",
                        "message": message.message, "error": importance in ERROR_IMPORTANCE})
    return out


def run_checks(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All three, as one list of findings (``error`` True for anything but a best-practice suggestion)."""
    findings = [{"check": "pynwb read", "importance": "ERROR", "object": "", "message": text, "error": True}
                for text in read_warnings(path)]
    findings += [{"check": "pynwb validate", "importance": "ERROR", "object": "", "message": text, "error": True}
                 for text in schema_errors(path)]
    return findings + inspector_messages(path)
