"""Conversion benchmark: convert, validate and a floor (h5py read + zarr write), read-side, scaling.

    /work/venv/bin/python benchmarks/run.py            # full size: A and B at 1x, scaling series of A
    /work/venv/bin/python benchmarks/run.py --quick    # 1/8 of the frames, no scaling series

Sources are synthetic sessions from nwb1zarr.testing (cached under $NWB1ZARR_BENCH_DIR, default
/tmp/nwb1zarr-bench). Every measured step runs in a fresh subprocess (benchmarks/_child.py), so its
peak RSS is its own; the source is read once first so floor and convert both start with a warm cache.
The figures are written between the markers of benchmarks/RESULTS.md (and as JSON next to the sources).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import FULL_FRAMES, WORK, machine, measure, source_path, warm

RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"
MB = 1e6


def session(letter: str, frames: int, *, reads: bool, validate: bool, floors: tuple[str, ...]) -> dict:
    src = source_path(letter, frames)
    tag = f"{letter}_{frames}"
    listing = WORK / f"listing_{tag}.json"
    dst = WORK / f"out_{tag}.zarr"
    floor_dst = WORK / f"floor_{tag}.zarr"
    measure(["listing", str(src), str(listing)])
    warm(src)
    out: dict = {"session": letter, "frames": frames, "source_bytes": src.stat().st_size}
    for kind in floors:
        out[f"floor_{kind}"] = measure(["floor", str(src), str(floor_dst), str(listing)]
                                       + (["--plain"] if kind == "plain" else []))
        shutil.rmtree(floor_dst, ignore_errors=True)
        print(f"  {tag} floor ({kind}): {out[f'floor_{kind}']['wall_s']:.1f} s", file=sys.stderr)
    out["convert"] = measure(["convert", str(src), str(dst)])
    print(f"  {tag} convert: {out['convert']['wall_s']:.1f} s", file=sys.stderr)
    if validate:
        out["validate"] = measure(["validate", str(src), str(dst)])
        print(f"  {tag} validate: {out['validate']['wall_s']:.1f} s ok={out['validate'].get('ok')}",
              file=sys.stderr)
    if reads:
        out["read_h5"] = measure(["read-h5", str(src), str(listing)])
        out["read_store"] = measure(["read-store", str(dst), str(listing)])
    shutil.rmtree(dst, ignore_errors=True)
    return out


def floor_of(r: dict) -> dict:
    floors = [r[k] for k in r if k.startswith("floor_")]
    return min(floors, key=lambda f: f["wall_s"])


def render(results: dict) -> str:
    m = results["machine"]
    lines = [f"Run {results['when']} with `{results['command']}`", "",
             f"Machine: {m.get('cpu', '?')}, {m['cpus']} CPUs, {m.get('mem_gb', '?')} GB RAM, {m['platform']}, "
             f"Python {m['python']}, HDF5 {m['hdf5']}, "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".", "",
             "Synthetic sessions (nwb1zarr.testing, `SessionSpec.full`), not real Allen files. Warm page cache "
             "(the source is read once before the floor and convert runs); other processes may share the machine.",
             "", "### Convert and validate against the floor", "",
             "| session | frames | source MB | step | wall s | CPU s | CPU/wall | peak RSS MB | in MB | out MB | "
             "/ floor |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["sessions"]:
        floor = floor_of(r)
        for step in [k for k in r if k.startswith("floor_")] + ["convert", "validate"]:
            if step not in r:
                continue
            x = r[step]
            ratio = x["wall_s"] / floor["wall_s"]
            lines.append(f"| {r['session']} | {r['frames']} | {r['source_bytes'] / MB:.0f} | {step} | "
                         f"{x['wall_s']:.1f} | {x['cpu_s']:.1f} | {x['cpu_s'] / x['wall_s']:.2f} | "
                         f"{x['peak_rss_mb']:.0f} | {x.get('bytes_in', 0) / MB:.0f} | "
                         f"{x.get('bytes_out', 0) / MB:.0f} | "
                         f"{ratio:.2f} |")
    lines += ["", "floor_direct: h5py `read_direct_chunk` + `zlib.decompress` (GIL released) + zarr write, "
              "2 threads over store chunks; floor_plain: the same with `dataset[slice]` reads. The ratio column "
              "divides by the faster floor.", ""]
    reads = [r for r in results["sessions"] if "read_store" in r]
    if reads:
        lines += ["### Read side (median of 5, ms; open once per fresh process)", "",
                  "| session | operation | h5py on source | xarray on store | store / h5py |", "|---|---|---|---|---|"]
        for r in reads:
            for key, label in (("open_s", "open"), ("roi_trace_s", "one ROI's full dF/F trace"),
                               ("window_30s_s", "all ROIs, 30 s window"), ("template_frame_s", "one template frame")):
                h, s = r["read_h5"][key] * 1e3, r["read_store"][key] * 1e3
                lines.append(f"| {r['session']} | {label} | {h:.1f} | {s:.1f} | {s / h:.2f} |")
        lines.append("")
    scaling = results.get("scaling") or []
    if scaling:
        base = next((r for r in scaling if r["frames"] == FULL_FRAMES), scaling[-1])
        lines += ["### Scaling (session A, convert)", "",
                  "| frames | x | source MB | convert wall s | s per source GB | peak RSS MB | floor wall s | "
                  "convert / floor |", "|---|---|---|---|---|---|---|---|"]
        for r in scaling:
            c, f = r["convert"], floor_of(r)
            lines.append(f"| {r['frames']} | {r['frames'] / base['frames']:.2f} | {r['source_bytes'] / MB:.0f} | "
                         f"{c['wall_s']:.1f} | {c['wall_s'] / (r['source_bytes'] / 1e9):.1f} | "
                         f"{c['peak_rss_mb']:.0f} | {f['wall_s']:.1f} | {c['wall_s'] / f['wall_s']:.2f} |")
        lines.append("")
    return "\n".join(lines)


def write_results(results: dict) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else f"# Benchmark results\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    RESULTS.write_text(f"{head}{BEGIN}\n{render(results)}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1/8 of the frames, no scaling series")
    parser.add_argument("--sessions", default="A,B", help="comma-separated letters (default A,B)")
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--no-validate", action="store_true")
    parser.add_argument("--floors", default="direct,plain", help="floor variants: direct,plain")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    frames = FULL_FRAMES // 8 if args.quick else FULL_FRAMES
    floors = tuple(f for f in args.floors.split(",") if f)
    results: dict = {"when": datetime.datetime.now().isoformat(timespec="seconds"),
                     "command": " ".join(["python", "benchmarks/run.py", *map(shlex.quote, sys.argv[1:])]),
                     "machine": machine(), "sessions": [], "scaling": []}
    for letter in args.sessions.split(","):
        results["sessions"].append(session(letter, frames, reads=True, validate=not args.no_validate,
                                           floors=floors))
    if not args.quick and not args.no_scaling:
        for factor in (0.25, 0.5, 1.0, 2.0):
            n = int(FULL_FRAMES * factor)
            done = next((r for r in results["sessions"] if r["session"] == "A" and r["frames"] == n), None)
            results["scaling"].append(done or session("A", n, reads=False, validate=False, floors=("direct",)))
    (WORK / ("results_quick.json" if args.quick else "results.json")).write_text(json.dumps(results, indent=1))
    print(render(results))
    if not args.no_write:
        write_results(results)


if __name__ == "__main__":
    main()
