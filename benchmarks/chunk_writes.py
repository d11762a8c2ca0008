"""Writing a trace array's chunks: through ``zarr.Array.__setitem__`` against the converter's ``ChunkWriter``.

    .venv/bin/python benchmarks/chunk_writes.py          # about 10 s

One synthetic dF/F-like array (200 ROIs x 115,000 frames, float32, values rounded to 3 decimals like the synthetic
sessions), the converter's store chunks (8 x 14,375) and zstd level, written block by block (one store chunk per
block, as the converter's dask pass does) by 1 and 2 threads, each way into a new local store. Same bytes either
way (tests/test_chunk_writer.py); this measures only the time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

sys.path.insert(0, str(Path(__file__).parent))

from _common import WORK

from nwb1zarr.writing.chunk_writer import ChunkWriter
from nwb1zarr.writing.to_zarr import ZSTD_LEVEL

SHAPE, CHUNKS = (200, 115_000), (8, 14_375)


def run(values: np.ndarray, path: Path, *, threads: int, direct: bool) -> float:
    shutil.rmtree(path, ignore_errors=True)
    array = zarr.create_array(path, shape=SHAPE, chunks=CHUNKS, dtype="f4", fill_value=np.nan,
                              compressors=[ZstdCodec(level=ZSTD_LEVEL)],
                              chunk_key_encoding={"name": "default", "separator": "."},
                              config={"write_empty_chunks": True})
    target = ChunkWriter(array) if direct else array
    regions = [(slice(i, i + CHUNKS[0]), slice(j, j + CHUNKS[1]))
               for i in range(0, SHAPE[0], CHUNKS[0]) for j in range(0, SHAPE[1], CHUNKS[1])]

    def put(region: tuple[slice, slice]) -> None:
        target[region] = values[region]

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, regions))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    values = (np.random.default_rng(0).standard_normal(SHAPE) * 0.1).astype("f4").round(3)
    out = WORK / "chunk_writes"
    print(f"{SHAPE} float32 ({values.nbytes / 1e6:.0f} MB), chunks {CHUNKS}, zstd {ZSTD_LEVEL}; "
          f"median of {args.repeat}")
    for threads in (1, 2):
        for direct, label in ((False, "zarr Array.__setitem__"), (True, "ChunkWriter")):
            times = [run(values, out / f"t{i}.zarr", threads=threads, direct=direct) for i in range(args.repeat)]
            t = statistics.median(times)
            print(f"  {threads} thread(s), {label:<22}: {t:.3f} s, {values.nbytes / t / 1e6:.0f} MB/s")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
