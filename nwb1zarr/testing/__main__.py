"""``python -m nwb1zarr.testing OUT.nwb --session-type three_session_B --scale tiny``."""

from __future__ import annotations

import argparse
import sys
import time

from ._generic import write_generic_nwb1
from ._session import write_session
from ._spec import PIPELINE_VERSIONS, SESSION_TYPES, VARIANTS, SessionSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nwb1zarr.testing",
                                     description="Write a synthetic Brain Observatory NWB 1.0 file.")
    parser.add_argument("out", help="output .nwb path")
    parser.add_argument("--session-type", default="three_session_B", choices=SESSION_TYPES)
    parser.add_argument("--scale", default="tiny", choices=("tiny", "full"))
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="a named tiny variant (overrides the rest)")
    parser.add_argument("--generic", action="store_true", help="write a generic (non-BO) NWB 1.0 file")
    parser.add_argument("--pipeline-version", choices=PIPELINE_VERSIONS)
    parser.add_argument("--no-eye-tracking", action="store_true")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.generic:
        path = write_generic_nwb1(args.out, seed=args.seed or 0)
    else:
        if args.variant:
            spec = VARIANTS[args.variant]
        else:
            preset = SessionSpec.full if args.scale == "full" else SessionSpec.tiny
            spec = preset(session_type=args.session_type)
        changes: dict[str, object] = {}
        if args.seed is not None:
            changes["seed"] = args.seed
        if args.pipeline_version:
            changes["pipeline_version"] = args.pipeline_version
        if args.no_eye_tracking:
            changes["eye_tracking"] = False
        path = write_session(args.out, spec, **changes)
    print(f"wrote {path} ({path.stat().st_size:,} bytes) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
