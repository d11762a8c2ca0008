"""Command line: parses arguments, calls the library, shows progress, maps errors to exit codes.

Every command ends an error in exactly one line on stderr (``error: FILE[:PATH]: what happened``) and an
exit code (see :mod:`nwb1zarr.errors`): errors nwb1zarr raises on purpose keep their own exit code,
an interruption exits with 130, and anything else is a bug, reported as an "internal error" line
(exit code 1). ``nwb1zarr --debug ...`` or ``NWB1ZARR_DEBUG=1`` also shows the traceback before that line.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from .errors import NOTHING_WRITTEN, DestinationError, Interrupted, Nwb1ZarrError, hdf5_reason

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
DEBUG_ENV = "NWB1ZARR_DEBUG"

F = TypeVar("F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    """True when ``NWB1ZARR_DEBUG`` is set (to anything but empty or 0); ``nwb1zarr --debug`` sets it."""
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def internal_error(exc: BaseException, file: object = None) -> Nwb1ZarrError:
    """The one-line error that stands for a bug (an exception nwb1zarr did not raise on purpose).

    >>> str(internal_error(KeyError("x"), "a.nwb"))  # doctest: +ELLIPSIS
    "a.nwb: internal error (KeyError: 'x'); please report this (rerun with --debug or NWB1ZARR_DEBUG=1 ...)"
    """
    text = " ".join(str(exc).split())
    what = f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
    return Nwb1ZarrError(f"internal error ({what}); please report this "
                         f"(rerun with --debug or {DEBUG_ENV}=1 for the traceback)",
                         file=None if file is None else str(file))


# Click's own ways of ending a command (usage errors, ctx.exit, Abort) are not errors of ours.
_CLICK_EXITS = (click.exceptions.Exit, click.exceptions.Abort, click.ClickException)


def _fail(error: Nwb1ZarrError, cause: BaseException | None = None) -> None:
    """Say ``error`` in one line on stderr (after the traceback of ``cause`` in debug mode) and exit."""
    if debug_enabled():
        shown = cause if cause is not None else error
        click.echo("".join(traceback.format_exception(shown)).rstrip("\n"), err=True)
    click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


@contextlib.contextmanager
def one_line_errors(file: object, *, interrupted: str = "interrupted") -> Iterator[None]:
    """Turn every exception of the block into one ``error:`` line on stderr and its exit code.

    :class:`Nwb1ZarrError` keeps its message and exit code; KeyboardInterrupt (and SIGTERM, where a
    command maps it) becomes :class:`Interrupted` (130); anything else is an internal error about
    ``file`` (exit code 1). SystemExit and click's own exits pass through.
    """
    try:
        yield
    except _CLICK_EXITS:
        raise
    except Nwb1ZarrError as exc:
        _fail(exc)
    except KeyboardInterrupt as exc:
        _fail(Interrupted(interrupted, file=None if file is None else str(file)), cause=exc)
    except BrokenPipeError as exc:
        if not _stdout_closed():
            _fail(internal_error(exc, file), cause=exc)
        # The reader of our output went away (`nwb1zarr inspect F | head`): stop quietly, as cat does;
        # stdout goes to /dev/null so the interpreter's last flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAILURE)
    except Exception as exc:  # a bug: still one line, never a traceback (unless asked for)
        _fail(internal_error(exc, file), cause=exc)


def _stdout_closed() -> bool:
    """True when standard output is a pipe whose reader has gone (poll says POLLERR on its write end)."""
    if not hasattr(select, "poll"):
        return True  # no poll (Windows): a broken pipe on the CLI's side is taken to be stdout's
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def reports_errors(file_param: str, *, interrupted: str = "interrupted") -> Callable[[F], F]:
    """Decorator for a command: its errors end in one line about the argument ``file_param``."""
    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            with one_line_errors(kwargs.get(file_param), interrupted=interrupted):
                return command(*args, **kwargs)
        return run  # type: ignore[return-value]
    return decorate


@contextlib.contextmanager
def _debug_environment() -> Iterator[None]:
    """Set NWB1ZARR_DEBUG for this invocation (and any child it forks); restore it afterwards."""
    previous = os.environ.get(DEBUG_ENV)
    os.environ[DEBUG_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(DEBUG_ENV, None)
        else:
            os.environ[DEBUG_ENV] = previous


def _display(progress: bool | None = None, *, quiet: bool = False, verbose: bool = False) -> Any:
    """The progress display on stderr (:mod:`nwb1zarr.progress_bar`): bars only on a terminal unless
    ``--progress``; none with ``--quiet``; stage timings with ``--verbose``."""
    from .progress_bar import ProgressDisplay

    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose exclude each other")
    return ProgressDisplay(show=False if quiet else progress, verbose=verbose)


def source_options(command: F) -> F:
    """``--cache``, ``--quiet`` and ``--verbose``: the options of every command that reads a source."""
    command = click.option("--verbose", "-v", is_flag=True, help="Also say each stage and how long it took.")(command)
    command = click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (no progress).")(command)
    return click.option("--cache", "cache", type=click.Path(path_type=Path), default=None,
                        help="AllenSDK cache folder (BrainObservatoryCache manifest.json) to find an experiment id "
                             "in, and to download it into (default: $NWB1ZARR_ALLENSDK_CACHE, else "
                             "~/.cache/nwb1zarr).")(command)


def _resolve(src: Any, cache: Path | None, display: Any) -> Any:
    """SRC as given, or for an experiment id the local file it names (found in a cache or downloaded)."""
    from .reading.sources import resolve_source

    with display:
        source = resolve_source(src, cache=cache, progress=display)
    if display.verbose and source.origin != "path":
        got = source.download
        how = {"allensdk-cache": "from the AllenSDK cache", "download-cache": "from the download cache",
               "archive": f"downloaded from {got.url if got else '?'}"}[source.origin]
        checked = f"; verified by {got.verified_by}" if got is not None and got.verified_by != "none" else ""
        record = "; with its ophys_experiments.json record" if source.record is not None else ""
        click.echo(f"source {source.argument}: {source.path} ({how}{checked}{record})", err=True)
    return source


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while converting, so the partial store is removed either way."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def path_or_url(value: str | Path) -> Path | str:
    """A command-line file argument: a URL (``s3://bucket/x.nwb``) stays text, anything else is a Path."""
    from .urls import is_url

    return value if isinstance(value, str) and is_url(value) else Path(value)


def storage_option_flag(command: F) -> F:
    """``--storage-option KEY=VALUE`` (repeatable): options for the fsspec filesystem of a URL argument."""
    return click.option("--storage-option", "storage_option", multiple=True, metavar="KEY=VALUE",
                        help="Option for the filesystem of a URL source or destination (repeatable; values read "
                             "as JSON when they parse, dotted keys nest), e.g. anon=true, "
                             "endpoint_url=http://127.0.0.1:9000, profile=lab.")(command)


def _storage_options(pairs: tuple[str, ...]) -> dict[str, Any] | None:
    from .urls import parse_storage_options

    return parse_storage_options(pairs) or None


@click.group()
@click.version_option(package_name="nwb1zarr")
@click.option("--debug", is_flag=True,
              help=f"On an error, also show the full traceback (same as {DEBUG_ENV}=1).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Convert legacy NWB 1.0 files (Allen Brain Observatory) to labelled Zarr stores, and prove them exact."""
    if debug:
        ctx.with_resource(_debug_environment())


@main.command()
@click.argument("src", type=path_or_url)
@click.argument("dst", required=False, type=path_or_url)
@click.option("--overwrite", is_flag=True, help="Replace an existing store at DST.")
@click.option("--zarr-format", type=click.Choice(["2", "3"]), default="3", show_default=True)
@click.option("--profile", default=None, help="Profile name or JSON file (default: chosen from the file).")
@click.option("--validate", "run_validate", is_flag=True, help="Validate the store against SRC after writing.")
@click.option("--strict", is_flag=True, help="Refuse a file with any problem (exit 1, nothing written) instead of "
                                             "keeping what cannot be mapped under /nwb1.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Write the full JSON report here.")
@click.option("--progress/--no-progress", default=None, help="Show progress (default: when stderr is a terminal).")
@click.option("--virtual", is_flag=True, help="Write an Icechunk repository whose plain copies are references into "
              "SRC's chunks (default DST: SRC with .icechunk; needs nwb1zarr[virtual]).")
@source_options
@storage_option_flag
@reports_errors("src", interrupted=NOTHING_WRITTEN)
def convert(src: Path, dst: Path | None, overwrite: bool, zarr_format: str, profile: str | None,
            run_validate: bool, strict: bool, report_path: Path | None, progress: bool | None,
            cache: Path | None, quiet: bool, verbose: bool, storage_option: tuple[str, ...] = (),
            virtual: bool = False) -> None:
    """Convert SRC (NWB 1.0 file, or an ophys experiment id) to a Zarr store at DST (default: SRC with .zarr)."""
    from .convert import default_destination
    from .supervise import can_supervise, supervised

    display = _display(progress, quiet=quiet, verbose=verbose)
    source = _resolve(src, cache, display)
    if source.experiment_id is not None:  # 570014520 -> ./570014520.zarr, not beside the cached file
        src, dst = source.path, dst if dst is not None else source.default_destination
    if virtual and dst is None:
        from .virtual.convert_virtual import default_virtual_destination

        dst = default_virtual_destination(src)
    elif virtual and source.experiment_id is not None and dst == source.default_destination:
        dst = Path(dst).with_suffix(".icechunk")
    args = (src, dst, overwrite, zarr_format, profile, run_validate, strict, report_path, display,
            source.extra_attrs, quiet, _storage_options(storage_option), virtual)
    if can_supervise():  # a child converts; a hung or crashed libhdf5 still ends in one line
        def child() -> int:  # reports its own errors: the supervisor only passes the exit code on
            with one_line_errors(src, interrupted=NOTHING_WRITTEN):
                _convert(*args)
            return EXIT_OK

        sys.exit(supervised(child, src=src, dst=dst or default_destination(src), validating=run_validate))
    _convert(*args)


def _convert(src: Path, dst: Path | None, overwrite: bool, zarr_format: str, profile: str | None,
             run_validate: bool, strict: bool, report_path: Path | None, display: Any,
             extra_attrs: dict[str, Any] | None = None, quiet: bool = False,
             storage_options: dict[str, Any] | None = None, virtual: bool = False) -> None:
    from .convert import convert as do_convert
    from .convert import default_destination
    from .supervise import interrupted_message, store_identity

    target = dst if dst is not None else default_destination(src)
    before = store_identity(target)
    try:
        with _terminate_as_interrupt(), display:
            report = do_convert(src, dst, overwrite=overwrite, zarr_format=int(zarr_format), profile=profile,
                                validate=run_validate, strict=strict, progress=display, extra_attrs=extra_attrs,
                                storage_options=storage_options, virtual=virtual)
    except KeyboardInterrupt as exc:
        # The store appears at DST by one rename, once complete: an interruption after it (while the
        # report was made or the store validated) must not say that nothing was written.
        message = interrupted_message(target, before=before, validating=run_validate)
        if message != NOTHING_WRITTEN:
            raise Interrupted(message, file=str(src)) from exc
        raise
    with one_line_errors(src, interrupted=f"interrupted; the store at {report.destination} is complete"):
        _say(report, report_path, quiet=quiet)


def _say(report: Any, report_path: Path | None, *, quiet: bool = False) -> None:
    """What a finished conversion tells the user (and the JSON report, when asked for); ``quiet``: only a
    failed validation."""
    if report.profile_note:
        click.echo(f"note: profile {report.profile} chosen ({report.profile_note})")
    if report_path:
        try:
            report_path.write_text(json.dumps(report.to_dict(), indent=1, default=str))
        except OSError as exc:
            raise Nwb1ZarrError(f"cannot write the report ({exc.strerror or exc}); the store at "
                                f"{report.destination} was written", file=str(report_path)) from exc
    if quiet:
        if not report.ok:
            click.echo(report.validation.summary())
            sys.exit(EXIT_FAILURE)
        return
    counts = ", ".join(f"{v} {k}" for k, v in sorted(report.counts.items()))
    click.echo(f"wrote {report.destination} ({report.arrays} arrays, {report.bytes_out / 1e6:.1f} MB "
               f"from {report.bytes_in / 1e6:.1f} MB, {report.seconds:.1f} s) profile {report.profile}")
    click.echo(f"source objects: {counts}")
    virtual = getattr(report, "virtual_arrays", None)
    if virtual is not None:
        click.echo(f"virtual store: {len(virtual)} arrays reference {report.source}, "
                   f"{report.arrays - len(virtual)} materialised (nwb1zarr inspect {report.destination} lists them)")
    for path, reason in report.skipped.items():
        click.echo(f"skipped {path}: {reason}")
    for problem in report.problems:
        click.echo(f"note: {problem}")
    if report.validation is not None:
        click.echo(report.validation.summary())
        if not report.ok:
            sys.exit(EXIT_FAILURE)


@main.command()
@click.argument("src", type=path_or_url)
@click.option("--json", "as_json", is_flag=True, help="Print the full plan as JSON.")
@click.option("--profile", default=None, help="Profile name or JSON file.")
@source_options
@storage_option_flag
@reports_errors("src")
def inspect(src: Path, as_json: bool, profile: str | None, cache: Path | None, quiet: bool, verbose: bool,
            storage_option: tuple[str, ...] = ()) -> None:
    """Show the matched profile and the full plan for SRC (file or experiment id; nothing is written); for a store
    (SRC a Zarr store or a virtual store), which arrays are virtual references and which are materialised."""
    from .planning.planner import plan
    from .virtual.open import is_store

    if is_store(src, storage_options=_storage_options(storage_option)):
        _inspect_store(src, as_json=as_json, storage_options=_storage_options(storage_option))
        return
    source = _resolve(src, cache, _display(quiet=quiet, verbose=verbose))
    the_plan = plan(source.path, profile=profile, storage_options=_storage_options(storage_option))
    if as_json:
        click.echo(the_plan.to_json())
        return
    click.echo(f"source:  {the_plan.source}")
    click.echo(f"profile: {the_plan.profile}" + (f" ({the_plan.profile_note})" if the_plan.profile_note else ""))
    if source.record is not None:
        click.echo(f"  allensdk_cache_record = {json.dumps(source.record, sort_keys=True)}")
    for key, value in the_plan.root_attrs.items():
        click.echo(f"  {key} = {value!r}")
    click.echo("store arrays:")
    for e in sorted(the_plan.entries, key=lambda e: e.store_path):
        if e.store_path.startswith("/nwb1/"):
            continue
        origin = f"derived: {e.derive['name']}" if e.derive else (e.source_pattern or e.sources[0])
        how = f" [{' | '.join(s['name'] for s in e.transform)}]" if e.transform else ""
        click.echo(f"  {e.store_path:48s} {e.dtype:8s} {tuple(e.shape)!s:22s} <- {origin}{how}")
    kept = sum(1 for e in the_plan.entries if e.store_path.startswith("/nwb1/"))
    click.echo(f"kept under /nwb1: {kept} arrays, {len(the_plan.groups)} groups")
    click.echo("source objects: " + ", ".join(f"{v} {k}" for k, v in sorted(the_plan.counts().items())))
    for path, acc in the_plan.accounting.items():
        if acc.status == "skipped":
            click.echo(f"  skipped {path}: {acc.detail}")
    for problem in the_plan.problems:
        click.echo(f"  note: {problem}")


def _inspect_store(store: Path | str, *, as_json: bool, storage_options: dict[str, Any] | None) -> None:
    from .virtual.open import describe_store

    info = describe_store(store, storage_options=storage_options)
    if as_json:
        click.echo(json.dumps(info, indent=1))
        return
    click.echo(f"store:   {info['store']} ({info['kind']})")
    for url in info["references_into"]:
        click.echo(f"references into: {url}")
    click.echo("arrays: " + ", ".join(f"{v} {k}" for k, v in sorted(info["counts"].items())))
    for path, kind in info["arrays"].items():
        click.echo(f"  {kind:12s} {path}")


@main.command()
@click.argument("src", type=path_or_url)
@click.argument("store", required=False, type=path_or_url)
@click.option("--json", "as_json", is_flag=True, help="Print the full machine-readable report as JSON.")
@click.option("--profile", default=None, help="Profile used at conversion (default: the one the store records).")
@click.option("--progress/--no-progress", default=None, help="Show progress (default: when stderr is a terminal).")
@source_options
@storage_option_flag
@reports_errors("src")
def validate(src: Path, store: Path | None, as_json: bool, profile: str | None, progress: bool | None,
             cache: Path | None, quiet: bool, verbose: bool, storage_option: tuple[str, ...] = ()) -> None:
    """Prove STORE holds exactly SRC's values (SRC: file or experiment id); with one argument, check a store by
    its digests and layout."""
    from .validation.validate import validate as run_validation

    display = _display(progress, quiet=quiet, verbose=verbose)
    if store is None:
        with display:
            report = run_validation(src, profile=profile, progress=display,
                                    storage_options=_storage_options(storage_option))
    else:
        source = _resolve(src, cache, display)
        with display:
            report = run_validation(source.path, store, profile=profile, progress=display,
                                    storage_options=_storage_options(storage_option))
    if as_json or not quiet or not report.ok:
        click.echo(json.dumps(report.to_dict(), indent=1, default=str) if as_json else report.summary())
    sys.exit(EXIT_OK if report.ok else EXIT_FAILURE)


from . import cli_nwb2  # noqa: E402, F401  (registers to-nwb2 and validate-nwb2; pynwb only when they run)


def _picture_path(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    if value.suffix.lower() not in (".png", ".pdf"):
        raise click.BadParameter(f"{value}: expected a .png or .pdf file name")
    return value


@main.command()
@click.argument("store")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), callback=_picture_path,
              help="The picture to write: FILE.png or FILE.pdf.")
@click.option("--dpi", default=110, show_default=True, type=click.IntRange(30, 600), help="Resolution of a PNG.")
@reports_errors("store")
def plot(store: str, output: Path, dpi: int) -> None:
    """Draw a one-page summary of STORE (a converted session) into a PNG or PDF (needs nwb1zarr[plot])."""
    from .plot import session_summary

    session_summary(store, path=output, dpi=dpi)
    click.echo(f"wrote {output}")


class _BatchLine:
    """convert-many's live line on stderr (sessions done / failed / running, MB/s), when shown."""

    def __init__(self, show: bool) -> None:
        self.show, self.width = show, 0

    def __call__(self, status: Any) -> None:
        if self.show:
            line = status.line()
            click.echo("\r" + line.ljust(self.width), nl=False, err=True)
            self.width = len(line)

    def close(self) -> None:
        if self.show and self.width:
            click.echo("", err=True)


@main.command("convert-many")
@click.argument("sources", nargs=-1)
@click.option("--to", "to", required=True, metavar="DEST", help="Folder (created if missing) or fsspec URL "
              "(s3://bucket/prefix) to write <name>.zarr stores into.")
@click.option("--manifest", type=click.Path(path_type=Path), help="File listing sources, one a line (same as "
              "@FILE).")
@click.option("--workers", type=click.IntRange(1), help="Worker processes of the local cluster (default: one per "
              "core, fewer if memory is short).")
@click.option("--threads-per-worker", type=click.IntRange(1), default=1, show_default=True)
@click.option("--scheduler", metavar="ADDRESS", help="Run on an existing dask cluster (tcp://host:8786) instead.")
@click.option("--force", is_flag=True, help="Convert every session again, even those already done.")
@click.option("--validate/--no-validate", "run_validate", default=True, show_default=True,
              help="Prove each new store against its source (else: check it by its digests only).")
@click.option("--retries", type=click.IntRange(0), default=2, show_default=True,
              help="Further attempts for a session whose worker died while running it.")
@click.option("--state", type=click.Path(path_type=Path), help="Event log of the runs (default: "
              "DEST/.nwb1zarr-batch.jsonl; for a URL DEST ~/.cache/nwb1zarr/batch/<url>-<hash>.jsonl).")
@click.option("--report", "report_path", type=click.Path(path_type=Path),
              help="JSON report (default: nwb1zarr-batch-report.json beside the state log).")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path),
              help="CSV report (default: nwb1zarr-batch-report.csv beside the state log).")
@click.option("--cache", type=click.Path(path_type=Path), help="AllenSDK cache folder for experiment ids.")
@click.option("--progress/--no-progress", default=None, help="Show the live line (default: when stderr is a "
              "terminal).")
@click.option("--virtual", is_flag=True, help="Write <name>.icechunk virtual stores (references into the sources) "
              "instead of <name>.zarr copies (needs nwb1zarr[virtual]).")
@storage_option_flag
@reports_errors("to", interrupted="interrupted; finished sessions are recorded; run the same command again to resume")
def convert_many(sources: tuple[str, ...], to: str, manifest: Path | None, workers: int | None,
                 threads_per_worker: int, scheduler: str | None, force: bool, run_validate: bool, retries: int,
                 state: Path | None, report_path: Path | None, csv_path: Path | None, cache: Path | None,
                 progress: bool | None, storage_option: tuple[str, ...] = (), virtual: bool = False) -> None:
    """Convert many SOURCES (files, folders, globs, experiment ids, @MANIFEST) into DEST on a dask cluster.

    Resumable: sessions whose stores are complete and validate by their digests are skipped. Exit code 0 when
    every session succeeded, 1 when any failed (the report says which). Needs nwb1zarr[distributed].
    """
    from .batch.convert_many import convert_many as run_batch

    if workers is not None and scheduler is not None:
        raise click.UsageError("--workers sizes the local cluster; it cannot be used with --scheduler")
    line = _BatchLine(sys.stderr.isatty() if progress is None else progress)
    try:
        with _terminate_as_interrupt():
            report = run_batch(sources, to=to, manifest=manifest, workers=workers,
                               threads_per_worker=threads_per_worker, scheduler=scheduler, force=force,
                               validate=run_validate, retries=retries, state=state, cache=cache,
                               storage_options=_storage_options(storage_option), progress=line,
                               **({"virtual": True} if virtual else {}))
    finally:
        line.close()
    try:
        written = report.write(json_path=report_path, csv_path=csv_path)
    except OSError as exc:
        raise Nwb1ZarrError(f"cannot write the report ({exc.strerror or exc}); the run is recorded in "
                            f"{report.state_path}", file=str(exc.filename or report_path or csv_path)) from exc
    click.echo(report.summary())
    click.echo(f"report: {written[0]} and {written[1]}; state log: {report.state_path}")
    sys.exit(EXIT_OK if report.ok else EXIT_FAILURE)


def _demo_directory(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    return value if value is not None else Path(tempfile.mkdtemp(prefix="nwb1zarr-demo-"))


@main.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path), callback=_demo_directory)
@click.option("--session-type", default="three_session_B", show_default=True,
              type=click.Choice(["three_session_A", "three_session_B", "three_session_C", "three_session_C2"]))
@click.option("--overwrite", is_flag=True, help="Replace an earlier demo store.")
@reports_errors("directory")
def demo(directory: Path, session_type: str, overwrite: bool) -> None:
    """Write the built-in synthetic example session, convert it, validate it, and say where things are."""
    from .convert import convert as do_convert
    from .testing import SessionSpec, write_session

    if directory.exists() and not directory.is_dir():
        raise DestinationError("not a directory; the demo needs a directory to write its files into",
                               file=str(directory))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DestinationError(f"cannot create the demo directory: {exc.strerror or exc}",
                               file=str(directory)) from exc
    src = directory / f"demo_{session_type}.nwb"
    if not src.exists() or overwrite:
        try:
            write_session(src, SessionSpec.tiny(session_type=session_type))
        except OSError as exc:
            raise DestinationError(f"cannot write the demo session: {hdf5_reason(exc)}", file=str(src)) from exc
    dst = src.with_suffix(".zarr")
    with _display() as display:
        report = do_convert(src, dst, overwrite=True, validate=True, progress=display)
    click.echo(f"synthetic NWB 1.0 session (not real data): {src}")
    click.echo(f"converted store:                            {dst}")
    click.echo("source objects: " + ", ".join(f"{v} {k}" for k, v in sorted(report.counts.items())))
    if report.validation is not None:
        click.echo(report.validation.summary())
    click.echo("\nopen it with:\n"
               "  import xarray as xr\n"
               f"  dt = xr.open_datatree({str(dst)!r}, engine='zarr')\n"
               "  dt['ophys/dff'].isel(roi=0)           # one ROI's dF/F over time\n"
               "  dt['stimulus']                        # presentation tables and templates")
    _show_tree(dst)
    if not report.ok:
        sys.exit(EXIT_FAILURE)


def _show_tree(dst: Path) -> None:
    import xarray as xr

    dt = xr.open_datatree(dst, engine="zarr")
    click.echo("\nstore groups (outside /nwb1):")
    for node in dt.subtree:
        if node.path.startswith("/nwb1"):
            continue
        names = ", ".join(f"{k}{tuple(v.dims)}" for k, v in node.to_dataset(inherit=False).data_vars.items())
        click.echo(f"  {node.path:40s} {names}")
    dt.close()


def run(argv: list[str] | None = None) -> Any:
    """Entry point for tests: run the CLI without exiting the interpreter."""
    return main.main(args=argv, standalone_mode=False)


if __name__ == "__main__":  # python -m nwb1zarr.cli
    main(prog_name="nwb1zarr")
