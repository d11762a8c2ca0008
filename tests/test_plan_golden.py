"""The plan for one fixture, compared with a checked-in snapshot on every run.

A deliberate change to the mapping updates the snapshot:
    NWB1ZARR_UPDATE_GOLDEN=1 pytest tests/test_plan_golden.py
and the diff of tests/golden/plan_B.json is then reviewed like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nwb1zarr

GOLDEN = Path(__file__).parent / "golden" / "plan_B.json"


def test_plan_matches_golden_snapshot(variant_file):
    plan = nwb1zarr.plan(variant_file("B")).to_dict()
    plan["source"] = "B.nwb"
    text = json.dumps(plan, indent=1, sort_keys=True, default=str) + "\n"
    if os.environ.get("NWB1ZARR_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    expected = json.loads(GOLDEN.read_text())
    actual = json.loads(text)
    for key in sorted(set(expected) | set(actual)):
        assert actual.get(key) == expected.get(key), f"plan section {key!r} differs from {GOLDEN.name}"
