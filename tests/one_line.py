"""The CLI's error contract, checked the same way for a subprocess and for click's in-process runner."""

from __future__ import annotations

import subprocess
from typing import Any


def one_line_error(result: subprocess.CompletedProcess[str] | Any, code: int, expected: str) -> str:
    """Assert exit ``code`` and exactly one ``error:`` line on stderr containing ``expected``, no traceback;
    return that line. ``result`` is a ``subprocess.run`` result or a ``click.testing.Result``."""
    exit_code = result.returncode if isinstance(result, subprocess.CompletedProcess) else result.exit_code
    assert exit_code == code, (exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]
