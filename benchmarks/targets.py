"""Issue 10's table in one run: every row against its baseline, measured in this run, on this machine.

    .venv/bin/python benchmarks/targets.py            # about 6 minutes here (sources cached after the first run)
    .venv/bin/python benchmarks/targets.py --rows help,tree   # some rows only

Rows (synthetic sessions from nwb1zarr.testing unless named real; every step a fresh process):

- ``full``: session B (200 ROIs x 115,000 frames): convert / single-thread floor, validate / the same floor,
  peak RSS of convert; ``rss2x``: the same session with twice the frames (RSS must stay flat).
- ``medium``: 100 ROIs x 30,000 frames: convert / single-thread floor.
- ``tree``: whole ``nwb1zarr convert`` processes on the real file of ../shared/data/real (1,000+ objects) and on a
  synthetic session of 1,000+ small objects; baseline: a process that opens the file and visits every object.
- ``open``: ``xr.open_datatree(store, engine="zarr")`` on the full-size store, in a fresh process (imports not
  counted); baseline: ``h5py.File`` on the source.
- ``help``: ``nwb1zarr --help``; baseline: ``python -c pass``.

The floor is what the issue names: plain h5py ``dataset[slice]`` reads and a zarr v3 zstd write of the same
arrays (same store paths, chunks and levels), one thread (``_child.py floor --plain --single``).
Results go to benchmarks/targets.json beside the sources and, with --write, into RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import FULL_FRAMES, WORK, machine, measure, warm

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real" / "496908818s.nwb"
RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN, END = "<!-- targets:begin -->", "<!-- targets:end -->"
BEFORE = {  # the "today" column, measured on main before this work (its floor: two threads)
    "full-size B: convert": "1.07-1.14", "full-size B: validate": "1.0-1.3", "full-size B: peak": "400-520 MB",
    "B with 2x": "400-520 MB", "medium": "1.6-1.85", "object tree, real": "11 s", "object tree, synthetic": "",
    "open": "0.5-0.9 s", "`nwb1zarr --help`": "1.0-1.3 s",
}
PY = sys.executable
CLI = str(Path(PY).with_name("nwb1zarr"))


def synthetic(name: str, **spec: object) -> Path:
    """A cached synthetic session (deterministic generator)."""
    from nwb1zarr.testing import SessionSpec, write_session

    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"{name}.nwb"
    if not path.exists():
        full = {k: spec.pop(k) for k in list(spec) if k == "full"}
        made = SessionSpec.full(**spec) if full else SessionSpec(**spec)
        write_session(path.with_suffix(".part"), made)
        path.with_suffix(".part").rename(path)
    return path


def wall(cmd: list[str], *, repeat: int, setup=None) -> list[float]:
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def timed_child(code: str, *, repeat: int) -> list[float]:
    """Seconds a snippet reports for itself (``print(seconds)`` last), each in a fresh process."""
    out = []
    for _ in range(repeat):
        proc = subprocess.run([PY, "-c", code], check=True, capture_output=True, text=True)
        out.append(float(proc.stdout.strip().splitlines()[-1]))
    return out


def ratio_session(src: Path, tag: str, *, validate: bool) -> dict:
    listing, dst, floor_dst = WORK / f"listing_{tag}.json", WORK / f"t_out_{tag}.zarr", WORK / f"t_floor_{tag}.zarr"
    measure(["listing", str(src), str(listing)])
    warm(src)
    out = {"source_bytes": src.stat().st_size}
    out["floor"] = measure(["floor", str(src), str(floor_dst), str(listing), "--plain", "--single"])
    shutil.rmtree(floor_dst, ignore_errors=True)
    out["convert"] = measure(["convert", str(src), str(dst)])
    if validate:
        out["validate"] = measure(["validate", str(src), str(dst)])
    out["store"] = str(dst)
    for step in ("floor", "convert", "validate"):
        if step in out:
            print(f"  {tag} {step}: {out[step]['wall_s']:.1f} s, {out[step]['peak_rss_mb']:.0f} MB", file=sys.stderr)
    return out


def row_full() -> dict:
    return ratio_session(synthetic(f"session_B_{FULL_FRAMES}", full=True, session_type="three_session_B"), "B",
                         validate=True)


def row_rss2x() -> dict:
    src = synthetic(f"session_B_{2 * FULL_FRAMES}", full=True, session_type="three_session_B",
                    n_frames=2 * FULL_FRAMES)
    dst = WORK / "t_out_B2x.zarr"
    warm(src)
    out = {"source_bytes": src.stat().st_size, "convert": measure(["convert", str(src), str(dst)])}
    shutil.rmtree(dst, ignore_errors=True)
    return out


def row_medium() -> dict:
    src = synthetic("medium_100x30000", full=True, session_type="three_session_B", n_rois=100, n_frames=30_000)
    out = ratio_session(src, "medium", validate=False)
    shutil.rmtree(out["store"], ignore_errors=True)
    return out


def row_tree() -> dict:
    out = {}
    many = synthetic("many_objects", session_type="three_session_B", n_rois=400, n_frames=300, fov=(64, 64))
    sources = {name: src for name, src in (("real", REAL), ("synthetic", many)) if src.exists()}
    out.update({name: {"skipped": f"{src} not present"} for name, src in (("real", REAL),) if not src.exists()})
    import zarr

    # As a migration converts: each run into a new destination, nothing deleted between runs (both files first).
    # Creating a store's ~2,900 folders and files costs 0.02-0.7 s here depending on the file system's state
    # (benchmarks/fs_state.py; system CPU time); runs that overwrite the previous run's store (measured after, for
    # reference) also delete ~2,900 inodes and make the next run's files among them.
    fresh = {name: [WORK / f"t_tree_{name}_{i}.zarr" for i in range(5)] for name in sources}
    for name, src in sources.items():
        visit = (f"import time, h5py; t = time.perf_counter(); f = h5py.File({str(src)!r}, 'r'); n = []; "
                 "f.visititems(lambda k, o: n.append(dict(o.attrs))); print(time.perf_counter() - t)")
        objects = subprocess.run([PY, "-c", f"import h5py; n = []; h5py.File({str(src)!r}, 'r').visit(n.append); "
                                  "print(len(n))"], check=True, capture_output=True, text=True)
        convert = [wall([CLI, "convert", str(src), str(d), "--quiet"], repeat=1)[0] for d in fresh[name]]
        root = zarr.open_group(str(fresh[name][0]), mode="r")
        out[name] = {"objects": int(objects.stdout), "store_nodes": sum(1 for _ in root.members(max_depth=None)),
                     "convert_s": convert, "visit_s": timed_child(visit, repeat=5)}
    for name, src in sources.items():
        for d in fresh[name]:
            shutil.rmtree(d, ignore_errors=True)
        dst = WORK / f"t_tree_{name}.zarr"
        out[name]["overwrite_s"] = wall([CLI, "convert", str(src), str(dst), "--quiet", "--overwrite"], repeat=5)
        shutil.rmtree(dst, ignore_errors=True)
        print(f"  tree {name}: convert {statistics.median(out[name]['convert_s']):.2f} s, with --overwrite of the "
              f"previous run's store {statistics.median(out[name]['overwrite_s']):.2f} s", file=sys.stderr)
    return out


def row_open(store: Path | None, src: Path) -> dict:
    made = store is None or not store.exists()
    if made:
        store = WORK / "t_out_B.zarr"
        measure(["convert", str(src), str(store)])
    # xarray imports dask the first time it checks for dask arrays (~0.15 s here, when dask is installed): an
    # import, so it is done before the clock starts in the main figure and timed separately.
    opener = f"t = time.perf_counter(); dt = xr.open_datatree({str(store)!r}, engine='zarr'); " \
             "print(time.perf_counter() - t)"
    code_store = f"import time, warnings, xarray as xr, zarr, dask; warnings.simplefilter('ignore'); {opener}"
    code_cold = f"import time, warnings, xarray as xr, zarr; warnings.simplefilter('ignore'); {opener}"
    code_h5 = f"import time, h5py; t = time.perf_counter(); f = h5py.File({str(src)!r}, 'r'); " \
              "print(time.perf_counter() - t)"
    import zarr

    groups = sum(1 for _, m in zarr.open_group(str(store), mode="r").members(max_depth=None)
                 if isinstance(m, zarr.Group))
    return {"xarray_s": timed_child(code_store, repeat=5), "xarray_cold_s": timed_child(code_cold, repeat=5),
            "h5py_s": timed_child(code_h5, repeat=5), "groups": groups + 1}


def row_help() -> dict:
    return {"help_s": wall([CLI, "--help"], repeat=7), "python_s": wall([PY, "-c", "pass"], repeat=7)}


def med(values: list[float]) -> float:
    return statistics.median(values)


def render(r: dict) -> str:
    m = r["machine"]
    lines = [f"Run {r['when']} with `python benchmarks/targets.py{r['args']}`; {m.get('cpu', '?')}, {m['cpus']} CPUs, "
             f"Python {m['python']}, HDF5 {m['hdf5']}, " + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
             + f"; load average before the run {r['load']}.", "",
             "| row | before (issue 10, old main) | measured | baseline (same run) | result | target | |",
             "|---|---|---|---|---|---|---|"]

    def add(row: str, measured: str, baseline: str, result: float, target: float, unit: str = "") -> None:
        before = next((b for key, b in BEFORE.items() if row.startswith(key)), "")
        lines.append(f"| {row} | {before} | {measured} | {baseline} | {result:.2f}{unit} | <= {target}{unit} | "
                     f"{'met' if result <= target else '**missed**'} |")

    rows = r["rows"]
    if "full" in rows:
        f = rows["full"]
        add("full-size B: convert / floor", f"convert {f['convert']['wall_s']:.1f} s "
            f"(CPU/wall {f['convert']['cpu_s'] / f['convert']['wall_s']:.2f})",
            f"floor {f['floor']['wall_s']:.1f} s", f["convert"]["wall_s"] / f["floor"]["wall_s"], 0.8)
        if "validate" in f:
            add("full-size B: validate / floor", f"validate {f['validate']['wall_s']:.1f} s",
                f"floor {f['floor']['wall_s']:.1f} s", f["validate"]["wall_s"] / f["floor"]["wall_s"], 0.8)
        add("full-size B: peak RSS of convert", f"{f['convert']['peak_rss_mb']:.0f} MB",
            f"floor {f['floor']['peak_rss_mb']:.0f} MB", f["convert"]["peak_rss_mb"], 512, " MB")
    if "rss2x" in rows:
        x = rows["rss2x"]["convert"]
        add("B with 2x frames: peak RSS of convert", f"{x['peak_rss_mb']:.0f} MB ({x['wall_s']:.1f} s)",
            f"1x: {rows['full']['convert']['peak_rss_mb']:.0f} MB" if "full" in rows else "", x["peak_rss_mb"], 512,
            " MB")
    if "medium" in rows:
        f = rows["medium"]
        add("medium (100 x 30,000): convert / floor", f"convert {f['convert']['wall_s']:.1f} s",
            f"floor {f['floor']['wall_s']:.1f} s", f["convert"]["wall_s"] / f["floor"]["wall_s"], 1.2)
    if "tree" in rows:
        for name, t in rows["tree"].items():
            if "skipped" in t:
                lines.append(f"| object tree ({name}) | skipped: {t['skipped']} | | | | |")
                continue
            overwrite = f" (overwriting the previous run's store: {med(t['overwrite_s']):.2f} s)" \
                if "overwrite_s" in t else ""
            add(f"object tree, {name} file ({t['objects']} HDF5 objects -> {t['store_nodes']} store nodes): "
                "whole `nwb1zarr convert` process, new destination each run",
                f"median of 5: {med(t['convert_s']):.2f} s{overwrite}",
                f"h5py visit of every object: {med(t['visit_s']):.3f} s", med(t["convert_s"]), 2, " s")
    if "open" in rows:
        o = rows["open"]
        add(f"open the full-size store ({o['groups']} groups), fresh process",
            f"median of 5: {med(o['xarray_s']):.3f} s (dask imported first; "
            f"{med(o['xarray_cold_s']):.3f} s when xarray imports it)",
            f"h5py.File on the source: {1000 * med(o['h5py_s']):.1f} ms",
            med(o["xarray_s"]), 0.2, " s")
    if "help" in rows:
        h = rows["help"]
        add("`nwb1zarr --help`", f"median of 7: {med(h['help_s']):.3f} s",
            f"`python -c pass`: {med(h['python_s']):.3f} s", med(h["help_s"]), 0.3, " s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="help,tree,open,medium,full,rss2x")
    parser.add_argument("--write", action="store_true", help="put the table into benchmarks/RESULTS.md")
    args = parser.parse_args()
    wanted = args.rows.split(",")
    load = Path("/proc/loadavg").read_text().split()[:3]
    results: dict = {"when": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
                     "load": " ".join(load), "args": "" if args.rows == parser.get_default("rows") else
                     f" --rows {args.rows}", "rows": {}}
    rows = results["rows"]
    if "help" in wanted:
        rows["help"] = row_help()
    if "tree" in wanted:
        rows["tree"] = row_tree()
    if "medium" in wanted:
        rows["medium"] = row_medium()
    if "full" in wanted:
        rows["full"] = row_full()
    if "open" in wanted:
        src = WORK / f"session_B_{FULL_FRAMES}.nwb"
        store = Path(rows["full"]["store"]) if "full" in rows else None
        rows["open"] = row_open(store, synthetic(src.stem, full=True, session_type="three_session_B"))
    if "full" in rows:
        shutil.rmtree(rows["full"]["store"], ignore_errors=True)
    if "rss2x" in wanted:
        rows["rss2x"] = row_rss2x()
    (WORK / "targets.json").write_text(json.dumps(results, indent=1))
    table = render(results)
    print(table)
    if args.write:
        text = RESULTS.read_text()
        if BEGIN not in text:
            text = text.replace("<!-- figures:begin -->", f"{BEGIN}\n{END}\n\n<!-- figures:begin -->", 1)
        head, rest = text.split(BEGIN, 1)
        RESULTS.write_text(f"{head}{BEGIN}\n{table}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main()
