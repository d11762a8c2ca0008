"""Command line of the NWB 2 export: ``nwb1zarr to-nwb2`` and ``nwb1zarr validate-nwb2``.

Registered on :data:`nwb1zarr.cli.main` when :mod:`nwb1zarr.cli` is imported; pynwb, hdmf and nwbinspector (the
``nwb2`` extra) are imported only when one of these commands runs, so ``nwb1zarr --help`` stays light.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .cli import (
    EXIT_FAILURE,
    EXIT_OK,
    _display,
    _resolve,
    _terminate_as_interrupt,
    main,
    path_or_url,
    reports_errors,
    source_options,
)
from .errors import InputError

NEEDS_EXTRA = "the NWB 2 export needs pynwb, hdmf and nwbinspector: pip install 'nwb1zarr[nwb2]'"


def _export_module(name: str, src: object) -> Any:
    """``nwb1zarr.export.<name>``, or one error line saying which extra to install."""
    import importlib

    try:
        return importlib.import_module(f"nwb1zarr.export.{name}")
    except ImportError as exc:
        raise InputError(f"{NEEDS_EXTRA} ({exc})", file=str(src)) from exc


@main.command("to-nwb2")
@click.argument("src", type=path_or_url)
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.")
@click.option("--validate", "run_validate", is_flag=True, help="Then prove OUT against the NWB 1.0 source "
              "(SRC, or --source when SRC is a store).")
@click.option("--source", "nwb1_source", type=click.Path(path_type=Path), default=None,
              help="The NWB 1.0 file a store SRC was converted from (for --validate).")
@click.option("--no-check", "no_check", is_flag=True, help="Skip reading OUT back with pynwb, pynwb's validator "
              "and nwbinspector.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Write the JSON report here.")
@click.option("--progress/--no-progress", default=None, help="Show progress (default: when stderr is a terminal).")
@source_options
@reports_errors("src", interrupted="interrupted; OUT was not written")
def to_nwb2(src: Path, out: Path, overwrite: bool, run_validate: bool, nwb1_source: Path | None, no_check: bool,
            report_path: Path | None, progress: bool | None, cache: Path | None, quiet: bool,
            verbose: bool) -> None:
    """Write SRC (a converted store, or an NWB 1.0 file / experiment id, converted on the way) as the NWB 2
    file OUT (needs nwb1zarr[nwb2]). Exit 1 when a check finds an error or --validate a mismatch."""
    write = _export_module("nwb2_write", src)
    display = _display(progress, quiet=quiet, verbose=verbose)
    if not write.is_store(src):
        src = _resolve(src, cache, display).path
        nwb1_source = nwb1_source or src
    if run_validate and nwb1_source is None:
        raise click.UsageError("--validate needs the NWB 1.0 source: give --source FILE when SRC is a store")
    with _terminate_as_interrupt(), display:
        report = write.to_nwb2(src, out, overwrite=overwrite, check=not no_check, progress=display)
    validation = None
    if run_validate:
        with display:
            validation = _export_module("nwb2_validate", src).validate_nwb2(nwb1_source, out, progress=display)
    if report_path:
        data = report.to_dict() | {"validation": validation.to_dict() if validation else None}
        report_path.write_text(json.dumps(data, indent=1, default=str))
    errors = [f for f in report.findings if f["error"]]
    if not quiet:
        click.echo(f"wrote {out} ({report.bytes_out / 1e6:.1f} MB, {report.seconds:.1f} s) from {src}")
        click.echo(f"not exported: {len(report.not_exported)} store arrays or source objects, listed in the file's "
                   "notes" + (" (--report for the list)" if not report_path else ""))
        if not no_check:
            suggestions = sorted({f["check"] for f in report.findings if not f["error"]})
            click.echo(f"checks: pynwb read, pynwb validate, nwbinspector: {len(errors)} error(s); "
                       f"suggestions: {', '.join(suggestions) or 'none'}")
    for finding in errors:
        click.echo(f"error: {out}: {finding['check']} ({finding['importance']}) {finding['object']}: "
                   f"{finding['message']}", err=True)
    if validation is not None and (not quiet or not validation.ok):
        click.echo(validation.summary())
    sys.exit(EXIT_OK if not errors and (validation is None or validation.ok) else EXIT_FAILURE)


@main.command("validate-nwb2")
@click.argument("src", type=path_or_url)
@click.argument("nwb2", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the full machine-readable report as JSON.")
@click.option("--progress/--no-progress", default=None, help="Show progress (default: when stderr is a terminal).")
@source_options
@reports_errors("src")
def validate_nwb2(src: Path, nwb2: Path, as_json: bool, progress: bool | None, cache: Path | None, quiet: bool,
                  verbose: bool) -> None:
    """Prove the NWB 2 file NWB2 (written by to-nwb2) holds exactly the values of the NWB 1.0 file SRC (or
    experiment id): every mapped array and table, and the row count of every stimulus table. Exit 1 on a
    mismatch."""
    validation = _export_module("nwb2_validate", src)
    display = _display(progress, quiet=quiet, verbose=verbose)
    source = _resolve(src, cache, display)
    with display:
        report = validation.validate_nwb2(source.path, nwb2, progress=display)
    if as_json or not quiet or not report.ok:
        click.echo(json.dumps(report.to_dict(), indent=1, default=str) if as_json else report.summary())
    sys.exit(EXIT_OK if report.ok else EXIT_FAILURE)


_script = sys.modules.get("__main__")  # ``python -m nwb1zarr.cli`` runs its own copy of the CLI module
if getattr(getattr(_script, "__spec__", None), "name", None) == "nwb1zarr.cli":
    _script.main.add_command(to_nwb2)  # type: ignore[union-attr]
    _script.main.add_command(validate_nwb2)  # type: ignore[union-attr]
