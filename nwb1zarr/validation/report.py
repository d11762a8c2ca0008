"""The value `validate()` returns: one :class:`Check` per compared thing, a summary table and a JSON view."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

OK = "ok"
MISMATCH = "mismatch"  # values, dtype, shape, dims or an attribute differ
MISSING = "missing"  # planned (or accounted for) but absent from the store: a gap
UNEXPECTED = "unexpected"  # in the store but explained by no plan entry
UNACCOUNTED = "unaccounted"  # a source object the plan says nothing about: a gap
ERROR = "error"  # could not be read or compared

KINDS = ("values", "attrs", "coverage", "root", "digest", "layout", "metadata")


@dataclass
class Check:
    """One comparison: what (``kind``), where (store and source path), and how it came out.

    ``first_mismatch`` holds ``index`` (store coordinates) or ``attribute``, with ``store`` and
    ``expected`` values, for the first difference found.
    """

    kind: str
    store_path: str | None
    source_path: str | None = None
    status: str = OK
    elements: int = 0
    bytes: int = 0
    detail: str = ""
    first_mismatch: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def index(self) -> tuple[int, ...] | None:
        """The first mismatching index in store coordinates (None when none, or for attributes)."""
        if self.first_mismatch is None or "index" not in self.first_mismatch:
            return None
        return tuple(self.first_mismatch["index"])

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "store_path": self.store_path, "source_path": self.source_path,
               "status": self.status, "elements": self.elements, "bytes": self.bytes, "detail": self.detail}
        if self.first_mismatch is not None:
            out["first_mismatch"] = {k: jsonable(v) for k, v in self.first_mismatch.items()}
        return out


@dataclass
class ValidationReport:
    """The outcome of ``validate``: ``ok`` is True only when every check passed.

    >>> report = ValidationReport(mode="store", source=None, store="s.zarr")
    >>> report.ok, report.summary().splitlines()[0]
    (True, 'validation of s.zarr (store only: digests and layout): OK')
    """

    mode: str  # "full" (against the source) or "store" (digests and layout only)
    source: str | None
    store: str
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def find(self, store_path: str | None = None, *, kind: str | None = None,
             failed_only: bool = True) -> list[Check]:
        """Checks about ``store_path`` (and of ``kind``), by default only the failed ones."""
        return [c for c in self.checks if (store_path is None or c.store_path == store_path)
                and (kind is None or c.kind == kind) and (not failed_only or not c.ok)]

    def totals(self) -> dict[str, int]:
        return {"checks": len(self.checks), "failed": len(self.failures),
                "elements": sum(c.elements for c in self.checks), "bytes": sum(c.bytes for c in self.checks)}

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "mode": self.mode, "source": self.source, "store": self.store,
                "totals": self.totals(), "by_kind": self._by_kind(), "notes": list(self.notes),
                "checks": [c.to_dict() for c in self.checks]}

    def _by_kind(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.checks:
            row = out.setdefault(c.kind, {"checked": 0, "ok": 0, "failed": 0, "elements": 0, "bytes": 0})
            row["checked"] += 1
            row["ok" if c.ok else "failed"] += 1
            row["elements"] += c.elements
            row["bytes"] += c.bytes
        return out

    def summary(self, *, max_failures: int = 40) -> str:
        """A printable table: checks per kind, then the first failures with path, index and values."""
        what = "against " + str(self.source) if self.mode == "full" else "(store only: digests and layout)"
        lines = [f"validation of {self.store} {what}: {'OK' if self.ok else 'FAILED'}"]
        by_kind = self._by_kind()
        if by_kind:
            lines.append(f"  {'kind':10s} {'checked':>8s} {'ok':>8s} {'failed':>7s} {'elements':>12s} {'bytes':>14s}")
            for kind in sorted(by_kind, key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS)):
                r = by_kind[kind]
                lines.append(f"  {kind:10s} {r['checked']:8d} {r['ok']:8d} {r['failed']:7d} {r['elements']:12d} "
                             f"{r['bytes']:14d}")
        counts = Counter(c.status for c in self.failures)
        if counts:
            lines.append("  failures: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        for c in self.failures[:max_failures]:
            lines.append("  " + _failure_line(c))
        if len(self.failures) > max_failures:
            lines.append(f"  ... {len(self.failures) - max_failures} more failures (see --json)")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _failure_line(c: Check) -> str:
    where = c.store_path or "-"
    if c.source_path:
        where += f" <- {c.source_path}"
    text = f"{c.status.upper():11s} {c.kind:8s} {where}"
    m = c.first_mismatch
    if m is not None:
        at = f"[{', '.join(str(i) for i in m['index'])}]" if "index" in m else f"@{m.get('attribute')}"
        text += f" {at}: store={_short(m.get('store'))} expected={_short(m.get('expected'))}"
    if c.detail:
        text += f" ({c.detail})"
    return text


def _short(value: Any) -> str:
    text = repr(jsonable(value))
    return text if len(text) <= 60 else text[:57] + "..."


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of a value found in an array or attribute (non-finite floats as strings)."""
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, complex):
        return {"real": jsonable(value.real), "imag": jsonable(value.imag)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return repr(value)
