"""What creating a store-sized tree of small files costs on this machine, where the benchmarks write.

    .venv/bin/python benchmarks/fs_state.py                      # in /tmp/nwb1zarr-bench, about 10 s
    .venv/bin/python benchmarks/fs_state.py --where /work/x --rounds 8

A converted real session (the shrunk file of ../shared/data/real) is ~1,040 folders and ~1,850 small files;
creating them is most of a small session's write step. This times the same kind of tree made by a plain loop
(FOLDERS folders in groups of 50, two 300-byte files each; one thread, ``os`` calls only, no libraries), ROUNDS
times into new folders under WHERE, and reports wall, user and system CPU time per round: what the file system
alone costs, in the same place and state as the converter's writes. Then it deletes those trees and at once makes
ROUNDS more. On this VM (ext4 mounted with ``discard``) the same loop took 0.02 s to 0.72 s per round from one run to
another, nearly all of it system CPU time; ``perf record`` of a slow run showed ext4's checks for recently deleted
inodes in mkdir and create, and rmdir waiting for the block discard.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import WORK


def make(root: Path, folders: int) -> tuple[float, float, float]:
    """Wall, user and system seconds of creating one tree."""
    before, started = os.times(), time.perf_counter()
    os.makedirs(root)
    for i in range(folders):
        folder = f"{root}/g{i // 50}/a{i}"
        os.makedirs(folder, exist_ok=True)
        for name in ("zarr.json", "c"):
            fd = os.open(f"{folder}/{name}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, b"x" * 300)
            os.close(fd)
    after = os.times()
    return time.perf_counter() - started, after.user - before.user, after.system - before.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--where", type=Path, default=WORK, help="parent folder (default %(default)s)")
    parser.add_argument("--folders", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    base = args.where / "fs_state"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    try:
        as_found = [make(base / f"r{i}", args.folders) for i in range(args.rounds)]
        for i in range(args.rounds):
            shutil.rmtree(base / f"r{i}")
        after_delete = [make(base / f"d{i}", args.folders) for i in range(args.rounds)]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{args.folders} folders + {2 * args.folders} files under {args.where}, one thread, {args.rounds} rounds:")
    for label, rounds in (("as found", as_found), (f"right after deleting {3 * args.folders * args.rounds} inodes "
                                                   "there", after_delete)):
        walls = [r[0] for r in rounds]
        print(f"  {label}: wall median {statistics.median(walls):.3f} s (min {min(walls):.3f}, max {max(walls):.3f}); "
              f"{1e6 * statistics.median(walls) / (3 * args.folders):.0f} us per folder or file")
        print("    per round (wall / user / system s): "
              + "; ".join(f"{w:.3f} / {u:.2f} / {s:.2f}" for w, u, s in rounds))


if __name__ == "__main__":
    main()
