"""Start a benchmark server (``bench._serve``) in a child process, for a ``with`` block."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._vendor import Target, declaration

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Server:
    kind: str
    pid: int
    #: Per vendor the server answers for (the bare endpoint: "starlette").
    targets: dict[str, Target]
    urls: dict[str, str]

    @property
    def tick(self) -> float:
        """The resolution of ``cpu_seconds``."""
        return 1 / os.sysconf("SC_CLK_TCK")

    def cpu_seconds(self) -> float:
        """The server process's CPU time so far (user + system), from /proc."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
        return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(kind: str) -> Iterator[Server]:
    """``kind`` is ``minimal``, ``sandbox`` or ``starlette`` (see ``bench._serve``)."""
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
        targets: dict[str, Target] = {}
        urls: dict[str, str] = {}
        for vendor, where in announced["targets"].items():
            urls[vendor] = where["url"]
            if "customer_id" not in where:
                continue
            try:
                bench = declaration(vendor)
            except LookupError:
                continue  # reported by the run, from the registry's list
            targets[vendor] = Target(
                vendor, kind, where["url"], where["credentials"], where["customer_id"], bench
            )
        yield Server(kind, announced["pid"], targets, urls)
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
