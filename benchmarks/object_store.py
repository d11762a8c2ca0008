"""Object stores, measured on moto's S3 server on loopback: source read settings, remote vs local writes, sharding.

    python benchmarks/object_store.py [--frames 30000] [--rois 200] [--template-scale 0.5] [--json out.json]

1. **Source reads** (h5py over an fsspec file): GET requests and seconds to plan and to convert an uploaded
   session, for each cache type / block size.
2. **Writes**: the same session converted to a local directory and to S3 (PUT concurrency 1 vs the default):
   seconds, requests by method, objects.
3. **Sharding**: the converted store rewritten with and without Zarr 3 shards on its large arrays: object count,
   and cold read latency of one ROI's dF/F trace and one template frame (median of 5 fresh opens).

Loopback has almost no latency, so request counts carry over to a real object store better than seconds do;
at ~20-50 ms per request on S3, every sequential round trip saved is worth that much.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from s3server import S3Server

warnings.simplefilter("ignore")


def _session(frames: int, rois: int, scale: float, work: Path) -> Path:
    from nwb1zarr.testing import SessionSpec, write_session

    path = work / f"objstore_{rois}x{frames}_{scale}.nwb"
    if not path.exists():
        write_session(path, SessionSpec.full(session_type="three_session_A", n_frames=frames, n_rois=rois,
                                             template_scale=scale))
    return path


def _count(server: S3Server, mark: int) -> dict[str, int]:
    return dict(Counter(r.method for r in server.requests(mark)))


def source_reads(server: S3Server, src: Path, bucket: str, work: Path) -> list[dict]:
    import nwb1zarr

    server.client().upload_file(str(src), bucket, "in/session.nwb")
    url = f"s3://{bucket}/in/session.nwb"
    out = []
    for cache_type, block in [("blockcache", 1 << 20), ("blockcache", 4 << 20), ("blockcache", 16 << 20),
                              ("readahead", 4 << 20), ("first", 4 << 20), ("none", 4 << 20)]:
        options = {"cache_type": cache_type, "block_size": block}
        mark = server.mark()
        started = time.perf_counter()
        nwb1zarr.plan(url, storage_options=options)
        plan_s, plan_req = time.perf_counter() - started, _count(server, mark)
        dst = work / "from_s3.zarr"
        shutil.rmtree(dst, ignore_errors=True)
        mark = server.mark()
        started = time.perf_counter()
        nwb1zarr.convert(url, dst, storage_options=options)
        conv_s, conv_req = time.perf_counter() - started, _count(server, mark)
        row = {"cache_type": cache_type, "block_MiB": block >> 20, "plan_s": round(plan_s, 2),
               "plan_GET": plan_req.get("GET", 0), "convert_s": round(conv_s, 2), "convert_GET": conv_req.get("GET", 0)}
        print(row, file=sys.stderr)
        out.append(row)
    return out


def writes(server: S3Server, src: Path, bucket: str, work: Path) -> list[dict]:
    import nwb1zarr
    from nwb1zarr.sinks import object_store

    out = []
    dst = work / "local.zarr"
    shutil.rmtree(dst, ignore_errors=True)
    started = time.perf_counter()
    nwb1zarr.convert(src, dst)
    objects = sum(1 for p in dst.rglob("*") if p.is_file())
    out.append({"target": "local directory", "seconds": round(time.perf_counter() - started, 2), "objects": objects})
    default = object_store.WRITE_CONCURRENCY
    for concurrency in (1, 8, default):
        object_store.WRITE_CONCURRENCY = concurrency
        url = f"s3://{bucket}/out/c{concurrency}.zarr"
        mark = server.mark()
        started = time.perf_counter()
        nwb1zarr.convert(src, url)
        seconds = time.perf_counter() - started
        out.append({"target": f"S3, {concurrency} PUTs in flight", "seconds": round(seconds, 2),
                    "objects": len(server.keys(bucket, f"out/c{concurrency}.zarr/")), "requests": _count(server, mark)})
        print(out[-1], file=sys.stderr)
    object_store.WRITE_CONCURRENCY = default
    return out


def sharding(server: S3Server, src: Path, bucket: str, work: Path) -> list[dict]:
    import xarray as xr

    from nwb1zarr.sinks.claim_remote import claim_remote
    from nwb1zarr.writing.to_zarr import encoding_for, finish_zarr

    local = work / "local.zarr"
    dt = xr.open_datatree(local, engine="zarr", chunks={})
    out = []
    for label, shard_mb in (("no shards", 0), ("shards <= 256 MB", 256)):
        url = f"s3://{bucket}/shard{shard_mb}.zarr"
        encoding = encoding_for(dt, zarr_format=3)
        datasets = {}
        for node in dt.subtree:
            ds = node.to_dataset(inherit=False)
            for name, var in ds.variables.items():
                var.encoding = {}
                enc = encoding[node.path][name]
                if shard_mb and var.ndim and var.nbytes > 64 * 2**20 and enc.get("chunks"):
                    chunk = enc["chunks"]
                    per = max(1, (shard_mb * 2**20) // max(1, var.dtype.itemsize * _prod(chunk)))
                    shards = (chunk[0] * min(per, -(-var.shape[0] // chunk[0])), *chunk[1:])
                    enc["shards"] = shards
                    ds[name] = ds[name].chunk(dict(zip(var.dims, shards, strict=True)))
                    ds[name].encoding = {}
            datasets[node.path] = ds
        plain = xr.DataTree.from_dict(datasets)
        with claim_remote(url, overwrite=True) as store:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plain.to_zarr(store, mode="w-", encoding=encoding, consolidated=False, zarr_format=3)
            finish_zarr(store, root_attrs={})
        objects = len(server.keys(bucket, f"shard{shard_mb}.zarr/"))
        trace, frame = [], []
        for _ in range(5):
            opened = xr.open_datatree(url, engine="zarr", zarr_format=3, storage_options={"max_concurrency": 1})
            mark = server.mark()
            started = time.perf_counter()
            _ = opened["ophys/dff"].isel(roi=0).values
            trace.append(time.perf_counter() - started)
            trace_req = len(server.requests(mark, settle=0))
            template = next(n for n in opened.subtree if n.path.endswith("/template") and "template" in n.variables)
            mark = server.mark()
            started = time.perf_counter()
            _ = template["template"].isel({template["template"].dims[0]: 0}).values
            frame.append(time.perf_counter() - started)
            frame_req = len(server.requests(mark, settle=0))
        out.append({"layout": label, "objects": objects, "trace_ms": round(1000 * statistics.median(trace), 1),
                    "trace_requests": trace_req, "frame_ms": round(1000 * statistics.median(frame), 1),
                    "frame_requests": frame_req, "template": template.path})
        print(out[-1], file=sys.stderr)
    return out


def _prod(values: tuple[int, ...]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=30_000)
    parser.add_argument("--rois", type=int, default=200)
    parser.add_argument("--template-scale", type=float, default=0.5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", choices=["reads", "writes", "sharding"], action="append")
    args = parser.parse_args()
    work = Path(os.environ.get("NWB1ZARR_BENCH_DIR", "/tmp/nwb1zarr-bench"))
    work.mkdir(parents=True, exist_ok=True)
    src = _session(args.frames, args.rois, args.template_scale, work)
    scratch = Path(tempfile.mkdtemp(prefix="nwb1zarr-objstore-", dir=work))
    results: dict = {"source": src.name, "source_MB": round(src.stat().st_size / 1e6, 1)}
    with S3Server.start() as server:
        for key, value in server.env().items():
            os.environ[key] = value
        server.make_bucket("bench")
        only = set(args.only or ["reads", "writes", "sharding"])
        if "writes" in only or "sharding" in only:
            results["writes"] = writes(server, src, "bench", scratch)
        if "reads" in only:
            results["reads"] = source_reads(server, src, "bench", scratch)
        if "sharding" in only:
            results["sharding"] = sharding(server, src, "bench", scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
