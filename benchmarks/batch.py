"""Batch benchmark: sessions per minute of ``convert-many`` against worker count, and of a plain loop of
``nwb1zarr.convert`` in one process; objects per store of full-size sessions; an estimate for the archive on S3.

    .venv/bin/python benchmarks/batch.py                     # throughput (8 medium sessions) + estimate
    .venv/bin/python benchmarks/batch.py --objects           # also convert full-size A, B, C and count objects
    .venv/bin/python benchmarks/batch.py --sessions 4 --workers 1 2

Sessions are synthetic (nwb1zarr.testing): "medium" = ``SessionSpec.tiny(n_rois=50, n_frames=20_000)`` (64x64
field of view, templates at 1 %, about 11 MB), one of each session type in turn, cached under
$NWB1ZARR_BENCH_DIR (default /tmp/nwb1zarr-bench). Every configuration runs end to end in a fresh process (the
loop: import + convert each session with ``validate=True``; convert-many: the CLI, LocalCluster start-up
included, with its default full validation), on warm sources, into a fresh destination. The markdown table and
the estimate are printed; the raw figures go to WORK/batch_results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import WORK, machine, warm

MEDIUM = {"n_rois": 50, "n_frames": 20_000}
TYPES = ("three_session_A", "three_session_B", "three_session_C")
ARCHIVE_SESSIONS = 1518
PUT_PER_1000, GET_PER_1000, STORAGE_GB_MONTH = 0.005, 0.0004, 0.023  # S3 Standard, us-west-2
LOOP = """
import sys, time
started = time.perf_counter()
import nwb1zarr
for src in sys.argv[2:]:
    name = src.rsplit('/', 1)[-1].replace('.nwb', '.zarr')
    report = nwb1zarr.convert(src, sys.argv[1] + '/' + name, validate=True)
    assert report.ok, report.validation.summary()
"""


def medium_sources(n: int) -> list[Path]:
    from nwb1zarr.testing import SessionSpec, write_session

    folder = WORK / "batch_medium"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"medium_{i:03d}.nwb"
        if not path.exists():
            write_session(path, SessionSpec.tiny(session_type=TYPES[i % len(TYPES)], seed=i, **MEDIUM))
        warm(path)
        out.append(path)
    return out


def _fresh(dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    return dest


def run_loop(sources: list[Path]) -> dict:
    dest = _fresh(WORK / "batch_out_loop")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", LOOP, str(dest), *map(str, sources)], check=True)
    return {"config": "loop of nwb1zarr.convert, 1 process", "wall_s": time.perf_counter() - started}


def run_batch(sources: list[Path], workers: int) -> dict:
    dest = _fresh(WORK / f"batch_out_w{workers}")
    cli = [sys.executable, "-c", "import sys; from nwb1zarr.cli import main; sys.exit(main())"]
    started = time.perf_counter()
    proc = subprocess.run([*cli, "convert-many", *map(str, sources), "--to", str(dest), "--workers", str(workers),
                           "--no-progress"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(proc.stdout + proc.stderr)
    totals = json.loads((dest / "nwb1zarr-batch-report.json").read_text())["totals"]
    assert totals["done"] == len(sources), totals
    return {"config": f"convert-many --workers {workers} (1 thread each)", "wall_s": wall,
            "inner_s": totals["seconds"]}


def throughput(n: int, workers: list[int]) -> list[dict]:
    sources = medium_sources(n)
    size = sum(p.stat().st_size for p in sources)
    rows = [run_loop(sources)] + [run_batch(sources, w) for w in workers]
    for row in rows:
        row.update(sessions=n, source_mb=size / 1e6, sessions_per_min=60 * n / row["wall_s"],
                   mb_per_s=size / 1e6 / row["wall_s"])
    return rows


def count_objects(letters: tuple[str, ...]) -> list[dict]:
    """Convert and fully validate full-size synthetic sessions (cached) on one thread, as a 1-thread worker does,
    and count the objects (files) of each store."""
    import dask

    from nwb1zarr import convert
    from nwb1zarr.testing import SessionSpec, write_session

    rows = []
    for letter in letters:
        src = WORK / f"session_{letter}_115000.nwb"
        if not src.exists():
            part = src.with_suffix(".nwb.part")
            write_session(part, SessionSpec.full(session_type=f"three_session_{letter}"))
            part.rename(src)
        warm(src)
        dst = WORK / f"objects_{letter}.zarr"
        started = time.perf_counter()
        with dask.config.set(scheduler="threads", num_workers=1):
            report = convert(src, dst, overwrite=True, validate=True)
        assert report.ok
        files = [f for f in dst.rglob("*") if f.is_file()]
        chunks = [f for f in files if f.name != "zarr.json"]
        rows.append({"session": letter, "source_mb": src.stat().st_size / 1e6, "store_mb": report.bytes_out / 1e6,
                     "objects": len(files), "chunk_objects": len(chunks), "metadata_objects": len(files) - len(chunks),
                     "convert_s": report.seconds, "convert_validate_s": time.perf_counter() - started})
        shutil.rmtree(dst, ignore_errors=True)
    return rows


def estimate(rows: list[dict], objects: list[dict], workers: int = 64) -> str:
    """The archive on a cluster of ``workers`` 1-thread workers writing to S3 (markdown for RESULTS.md)."""
    if objects:
        src_mb = sum(o["source_mb"] for o in objects) / len(objects)
        store_mb = sum(o["store_mb"] for o in objects) / len(objects)
        objs = sum(o["objects"] for o in objects) / len(objects)
        meta = sum(o["metadata_objects"] for o in objects) / len(objects)
        rate = sum(o["source_mb"] for o in objects) / sum(o["convert_validate_s"] for o in objects)
        basis = (f"mean of the synthetic full-size sessions {'/'.join(o['session'] for o in objects)} converted and "
                 "fully validated on one thread")
    else:
        rate = max(r["mb_per_s"] for r in rows if r["config"].startswith("convert-many --workers 1"))
        src_mb, store_mb, objs, meta = 557.0, 546.0, 700.0, 160.0
        basis = "assumed sizes and objects (run with --objects to measure); rate of the medium sessions"
    lines = []
    for label, mb in (("synthetic full-size", src_mb), ("~100 MB (pynwb notebook: ~300 MB per 3 files)", 100.0)):
        out_mb = mb * store_mb / src_mb
        objects_per_store = meta + (objs - meta) * mb / src_mb  # metadata objects do not shrink with the data
        read_tb, written_gb = ARCHIVE_SESSIONS * mb / 1e6, ARCHIVE_SESSIONS * out_mb / 1e3
        puts = ARCHIVE_SESSIONS * (objects_per_store + 2)  # + the lock object and one heartbeat rewrite
        # sources read twice in 4 MiB ranged GETs (convert, full validation); every store object read once
        gets = ARCHIVE_SESSIONS * (2 * mb / 4.194304 + objects_per_store)
        worker_hours = ARCHIVE_SESSIONS * mb / rate / 3600
        lines.append(f"| {label} | {mb:.0f} | {read_tb:.2f} TB | {written_gb:.0f} GB | {puts / 1e6:.2f} M | "
                     f"{gets / 1e6:.2f} M | {worker_hours:.0f} | {worker_hours / workers:.1f} h | "
                     f"${puts / 1000 * PUT_PER_1000:.2f} | ${gets / 1000 * GET_PER_1000:.2f} | "
                     f"${written_gb * STORAGE_GB_MONTH:.2f} |")
    head = (f"| session size | source MB | read | written | PUTs | GETs | worker-hours | time on {workers} workers | "
            "PUTs $ | GETs $ | storage $ / month |\n|---|---|---|---|---|---|---|---|---|---|---|")
    return (f"Basis: {basis}: {objs:.0f} objects per store ({meta:.0f} metadata), "
            f"store / source {store_mb / src_mb:.2f}, {rate:.2f} MB of source per second per 1-thread worker "
            "(convert + full validation).\n\n"
            + head + "\n" + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--objects", action="store_true", help="convert full-size A, B, C and count objects")
    parser.add_argument("--cluster-workers", type=int, default=64, help="N of the archive estimate")
    args = parser.parse_args()
    rows = throughput(args.sessions, args.workers)
    objects = count_objects(("A", "B", "C")) if args.objects else []
    (WORK / "batch_results.json").write_text(json.dumps({"machine": machine(), "throughput": rows,
                                                         "objects": objects}, indent=1))
    print(f"Machine: {machine()}\n")
    print(f"{args.sessions} medium synthetic sessions ({MEDIUM['n_rois']} ROIs x {MEDIUM['n_frames']} frames, "
          f"{rows[0]['source_mb']:.0f} MB in all), convert + full validation, end to end:\n")
    print("| configuration | wall s | sessions / min | source MB/s | vs loop |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['config']} | {row['wall_s']:.1f} | {row['sessions_per_min']:.1f} | {row['mb_per_s']:.2f} | "
              f"{rows[0]['wall_s'] / row['wall_s']:.2f}x |")
    if objects:
        print("\n| session | source MB | store MB | objects | chunks | metadata | convert s | + validate s |\n"
              "|---|---|---|---|---|---|---|---|")
        for o in objects:
            print(f"| {o['session']} | {o['source_mb']:.0f} | {o['store_mb']:.0f} | {o['objects']} | "
                  f"{o['chunk_objects']} | {o['metadata_objects']} | {o['convert_s']:.1f} | "
                  f"{o['convert_validate_s']:.1f} |")
    print("\n" + estimate(rows, objects, args.cluster_workers))


if __name__ == "__main__":
    main()
