"""How many times convert() inflates each HDF5 chunk of a source (1.0 = each chunk once).

    /work/venv/bin/python benchmarks/count_reads.py SOURCE.nwb [DEST.zarr]

Wraps ``nwb1zarr.writing.source_arrays._inflate`` with a counter, converts, and lists every dataset whose
chunks were inflated more often than it has chunks.
"""

from __future__ import annotations

import collections
import math
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

import h5py

import nwb1zarr
import nwb1zarr.writing.source_arrays as sa


def main() -> None:
    src = Path(sys.argv[1])
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/nwb1zarr-bench/count_reads.zarr")
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
