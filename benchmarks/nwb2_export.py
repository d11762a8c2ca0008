"""NWB 2 export against store conversion, same run: wall time, peak memory and size.

    python benchmarks/nwb2_export.py [--frames 115000] [--real PATH] [--json out.json]

For a *synthetic* full-size session B (``nwb1zarr.testing``, 200 ROIs x ``--frames`` frames, real template sizes;
cached in $NWB1ZARR_BENCH_DIR, default /tmp/nwb1zarr-bench) and the real shrunk file 496908818s.nwb, each step in
a fresh process (wall seconds, peak RSS):

- **convert**: ``nwb1zarr.convert(SRC, STORE)`` (the store conversion);
- **export**: ``nwb1zarr.to_nwb2(STORE, OUT, check=False)`` (the NWB 2 file from the store);
- **checks**: pynwb read of every object, pynwb's validator and nwbinspector on OUT (``to_nwb2``'s ``check``);
- **validate-nwb2**: ``nwb1zarr.validate_nwb2(SRC, OUT)`` (every mapped value against the source, by h5py).

Sizes: the source, the store (bytes of its files) and the NWB 2 file. Outputs go to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FULL_FRAMES, machine, source_path, tree_bytes, warm

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "496908818s.nwb"
STEPS = ("convert", "export", "checks", "validate-nwb2")


def child(step: str, src: str, store: str, out: str) -> dict:
    """One step in this process; returns what it measured (run by ``--child``)."""
    import nwb1zarr

    started = time.perf_counter()
    info: dict = {}
    if step == "convert":
        nwb1zarr.convert(src, store, overwrite=True)
    elif step == "export":
        report = nwb1zarr.to_nwb2(store, out, overwrite=True, check=False)
        info["not_exported"] = len(report.not_exported)
    elif step == "checks":
        from nwb1zarr.export.nwb2_checks import run_checks

        findings = run_checks(out)
        info["errors"] = sum(f["error"] for f in findings)
        info["suggestions"] = sorted({f["check"] for f in findings if not f["error"]})
    elif step == "validate-nwb2":
        report = nwb1zarr.validate_nwb2(src, out)
        info["ok"], info["checks"] = report.ok, report.totals()["checks"]
    info["seconds"] = time.perf_counter() - started
    info["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return info


def run_step(step: str, src: Path, store: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", step, str(src), str(store), str(out)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{step} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(name: str, src: Path, folder: Path) -> dict:
    warm(src)
    store, out = folder / f"{name}.zarr", folder / f"{name}.nwb"
    row: dict = {"session": name, "source_mb": src.stat().st_size / 1e6}
    for step in STEPS:
        row[step] = run_step(step, src, store, out)
        print(f"{name}: {step} {row[step]['seconds']:.1f} s", file=sys.stderr)
    row["store_mb"], row["nwb2_mb"] = tree_bytes(store) / 1e6, out.stat().st_size / 1e6
    return row


def table(rows: list[dict]) -> str:
    lines = ["| session | source MB | store MB | convert s | convert peak MB | NWB 2 MB | export s | export peak MB "
             "| checks s | validate-nwb2 s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['session']} | {r['source_mb']:.2f} | {r['store_mb']:.2f} | {r['convert']['seconds']:.1f} "
                     f"| {r['convert']['peak_rss_mb']:.0f} | {r['nwb2_mb']:.2f} | {r['export']['seconds']:.1f} "
                     f"| {r['export']['peak_rss_mb']:.0f} | {r['checks']['seconds']:.1f} "
                     f"| {r['validate-nwb2']['seconds']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(*sys.argv[2:6])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=FULL_FRAMES, help="frames of the synthetic session B")
    parser.add_argument("--real", type=Path, default=REAL, help="the real file (skipped when absent)")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    sources = [(f"synthetic B, 200 ROIs x {args.frames} frames", source_path("B", args.frames))]
    if args.real.exists():
        sources.append(("real 496908818s.nwb (shrunk)", args.real))
    with tempfile.TemporaryDirectory(prefix="nwb1zarr-nwb2-bench-") as folder:
        rows = [measure(name, src, Path(folder)) for name, src in sources]
    print(table(rows))
    for r in rows:
        print(f"{r['session']}: checks {r['checks']['errors']} errors, suggestions {r['checks']['suggestions']}; "
              f"validate-nwb2 ok={r['validate-nwb2']['ok']} ({r['validate-nwb2']['checks']} checks)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
