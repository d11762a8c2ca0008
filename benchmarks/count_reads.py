"""How many times convert() inflates each HDF5 chunk of a source (1.0 = each chunk once).

    /work/venv/bin/python benchmarks/count_reads.py SOURCE.nwb [DEST.zarr]

Wraps ``nwb1zarr.writing.source_arrays._inflate`` with a counter, converts, and lists every dataset whose
chunks were inflated more often than it has chunks.
"""

from __future__ import annotations

import argparse
import collections
import math
import resource
import shutil
import threading
import time
from pathlib import Path

import h5py

import nwb1zarr
import nwb1zarr.writing.source_arrays as sa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="an NWB 1.0 file")
    parser.add_argument("dest", nargs="?", type=Path, default=Path("/tmp/nwb1zarr-bench/count_reads.zarr"),
                        help="the store to write (removed afterwards; default %(default)s)")
    args = parser.parse_args()
    src, dst = args.source, args.dest
    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    inflate = sa._inflate

    def counting(ds, origin, chunk):
        with lock:
            counts[ds.name] += 1
        return inflate(ds, origin, chunk)

    sa._inflate = counting
    started = time.perf_counter()
    nwb1zarr.convert(src, dst, overwrite=True)
    print(f"convert {time.perf_counter() - started:.1f} s, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    shutil.rmtree(dst, ignore_errors=True)
    with h5py.File(src, "r") as f:
        for name, n in counts.most_common():
            d = f[name]
            chunks = math.prod(math.ceil(s / c) for s, c in zip(d.shape, d.chunks, strict=True))
            if n != chunks:
                print(f"{name}: {n} inflations for {chunks} chunks ({n / chunks:.2f}x)")
    print(f"{len(counts)} datasets, {sum(counts.values())} chunk inflations")


if __name__ == "__main__":
    main()
