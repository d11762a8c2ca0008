"""What a batch did: one :class:`SessionResult` per session, totals, JSON and CSV, and the live progress value.

>>> r = SessionResult(source="a.nwb", destination="out/a.zarr", name="a.zarr", status="done", bytes_in=2_000_000,
...                   bytes_out=1_000_000, seconds=2.0, validation="full: ok")
>>> report = BatchReport(run_id="r1", destination="out", sessions=[r], seconds=2.0)
>>> report.ok, report.totals()["done"], report.summary().splitlines()[0]
(True, 1, 'convert-many r1 -> out: 1 done, 0 skipped (already done), 0 failed, 0 busy of 1 sessions')
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("done", "skipped", "failed", "busy")
"""done: converted and validated in this run; skipped: its store was already complete and validated by its
digest; failed: see ``reason``; busy: another conversion was writing the store (not a fault of the file)."""
REPORT_STEM = "nwb1zarr-batch-report"
CSV_FIELDS = ("name", "source", "destination", "status", "reason", "bytes_in", "bytes_out", "seconds",
              "validation", "problems_count", "digest", "attempts", "worker")


@dataclass
class SessionResult:
    """The outcome of one session (one task)."""

    source: str
    destination: str
    name: str
    status: str
    reason: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    validation: str | None = None  # "full: ok", "store: ok", "full: 3 of 420 checks failed ...", None
    problems: list[str] = field(default_factory=list)
    digest: str | None = None
    attempts: int | None = None  # tries the scheduler made (> 1 after a worker died running it)
    worker: str | None = None  # "HOST pid N" of the worker that finished it
    recovered: list[str] = field(default_factory=list)  # leftovers of killed attempts cleaned before writing

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped")

    @property
    def problems_count(self) -> int:
        return len(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "problems_count": self.problems_count}


@dataclass
class BatchReport:
    """Every session of a run, with totals; ``ok`` when every session is done or skipped."""

    run_id: str
    destination: str
    sessions: list[SessionResult]
    seconds: float
    state_path: str | None = None
    workers: int | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(s.ok for s in self.sessions)

    @property
    def failed(self) -> list[SessionResult]:
        """Sessions that did not end done or skipped (failed or busy)."""
        return [s for s in self.sessions if not s.ok]

    def totals(self) -> dict[str, Any]:
        """Counts by status, bytes, seconds, throughput (of the sessions converted in this run)."""
        counts = {status: sum(1 for s in self.sessions if s.status == status) for status in STATUSES}
        done = [s for s in self.sessions if s.status == "done"]
        bytes_in = sum(s.bytes_in for s in done)
        return {"sessions": len(self.sessions), **counts, "bytes_in": bytes_in,
                "bytes_out": sum(s.bytes_out for s in done), "seconds": round(self.seconds, 3),
                "sessions_per_minute": round(60 * len(done) / self.seconds, 2) if self.seconds > 0 else None,
                "mb_per_second": round(bytes_in / 1e6 / self.seconds, 2) if self.seconds > 0 else None,
                "problems": sum(s.problems_count for s in self.sessions)}

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "destination": self.destination, "state": self.state_path,
                "workers": self.workers, "ok": self.ok, "interrupted": self.interrupted, "totals": self.totals(),
                "sessions": [s.to_dict() for s in self.sessions]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, default=str)

    def to_csv(self) -> str:
        """One row per session (:data:`CSV_FIELDS`; problems as a count) and a last ``TOTAL`` row."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for s in self.sessions:
            row = s.to_dict()
            writer.writerow({k: row.get(k) for k in CSV_FIELDS})
        t = self.totals()
        writer.writerow({"name": "TOTAL", "status": " ".join(f"{k}={t[k]}" for k in STATUSES),
                         "bytes_in": t["bytes_in"], "bytes_out": t["bytes_out"], "seconds": t["seconds"],
                         "problems_count": t["problems"]})
        return out.getvalue()

    def write(self, *, json_path: str | Path | None = None, csv_path: str | Path | None = None) -> tuple[Path, Path]:
        """Write the JSON and CSV reports (default: ``nwb1zarr-batch-report.json`` / ``.csv`` beside the state
        log); returns their paths."""
        folder = Path(self.state_path).parent if self.state_path else Path.cwd()
        paths = (Path(json_path) if json_path is not None else folder / f"{REPORT_STEM}.json",
                 Path(csv_path) if csv_path is not None else folder / f"{REPORT_STEM}.csv")
        paths[0].write_text(self.to_json())
        paths[1].write_text(self.to_csv())
        return paths

    def summary(self) -> str:
        """A few lines for people: counts, throughput, and one line per session that did not succeed."""
        t = self.totals()
        lines = [f"convert-many {self.run_id} -> {self.destination}: {t['done']} done, {t['skipped']} skipped "
                 f"(already done), {t['failed']} failed, {t['busy']} busy of {t['sessions']} sessions"]
        lines.append(f"  {t['bytes_in'] / 1e6:.1f} MB in, {t['bytes_out'] / 1e6:.1f} MB out, {t['seconds']:.1f} s"
                     + (f", {t['sessions_per_minute']} sessions/min, {t['mb_per_second']} MB/s" if t['done'] else ""))
        if self.interrupted:
            lines.append("  interrupted: finished sessions are recorded; run the same command again to resume")
        for s in self.sessions:
            if s.status == "failed":
                lines.append(f"failed {s.source}: {s.reason}")
            elif s.status == "busy":
                lines.append(f"busy {s.source}: {s.reason} (not a fault of the file; rerun later)")
        return "\n".join(lines)


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot for the progress callback of :func:`nwb1zarr.convert_many`."""

    total: int
    done: int
    skipped: int
    failed: int
    running: int
    bytes_in: int
    elapsed: float

    @property
    def finished(self) -> int:
        return self.done + self.skipped + self.failed

    def line(self) -> str:
        """``12/40 sessions: 10 done, 1 skipped, 1 failed, 2 running; 85.3 MB/s, 61 s``"""
        rate = self.bytes_in / 1e6 / self.elapsed if self.elapsed > 0 else 0.0
        return (f"{self.finished}/{self.total} sessions: {self.done} done, {self.skipped} skipped, {self.failed} "
                f"failed, {self.running} running; {rate:.1f} MB/s, {self.elapsed:.0f} s")
