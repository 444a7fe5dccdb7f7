"""Start a benchmark server (``bench._serve``) in a child process, for a ``with`` block."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ._fixtures import Target

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0


@contextmanager
def serve(kind: str) -> Iterator[Target]:
    """``kind`` is ``sandbox`` or ``minimal``; yields where to send creates."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench._serve", kind],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} server did not start (exit code {child.wait()})")
        announced = json.loads(line)
        yield Target(kind, announced["url"], announced["api_key"], announced["customer_id"])
    finally:
        if child.stdin is not None:
            child.stdin.close()  # the server's cue to stop
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
