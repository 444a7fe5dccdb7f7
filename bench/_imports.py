"""Figure 4: the cold-start cost of importing portalkit, as whole processes.

Side A imports what an app needs to mint links with any vendor -- ``Portal``, ``AsyncPortal``,
``PortalRequest`` and every adapter the registry lists (``portalkit.providers`` entry
points); side B imports portalkit's HTTP stack alone (httpx2,
or httpx where only httpx is installed). Each sample is a fresh
``python -c ...`` process, so interpreter start-up is in both; the two commands alternate.

Each sample records wall time and the child's CPU time (user + system, from ``wait4``): on a
busy machine the CPU time is the steadier of the two. Bytecode is written and reused, as in
any installed package: the runs are made without ``PYTHONDONTWRITEBYTECODE`` and the first
(warm-up) runs compile portalkit's modules.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from portalkit._http import httpx as _stack

from ._stats import Comparison


def _adapter_modules() -> list[str]:
    """The module of every registered adapter, from the entry points' values."""
    from portalkit._registry import ENTRY_POINT_GROUP, entry_points

    found = {ep.value.partition(":")[0] for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(found)


PORTALKIT = "from portalkit import AsyncPortal, Portal, PortalRequest; " + "; ".join(
    f"import {module}" for module in _adapter_modules()
)
#: The stack portalkit runs on (see portalkit/_http.py), imported by its own name.
STACK = _stack.__name__
HTTPX = f"import {STACK}"
NOTHING = "pass"


#: ``python -c`` puts its working directory first on sys.path: run where no ``portalkit``
#: folder can shadow the installed package.
_NEUTRAL = tempfile.gettempdir()


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def _run(code: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one ``python -c code`` process."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=_NEUTRAL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"python -c {code!r} failed with exit code {child.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class ImportTimes:
    wall: Comparison
    cpu: Comparison
    #: Median wall seconds of ``python -c pass``: the interpreter's own start-up.
    startup: float


def portalkit_vs_httpx(*, rounds: int, warmup: int = 2) -> ImportTimes:
    env = _environment()
    for _ in range(warmup):
        for code in (PORTALKIT, HTTPX, NOTHING):
            _run(code, env)
    portalkit: list[tuple[float, float]] = []
    httpx: list[tuple[float, float]] = []
    startup: list[float] = []
    for index in range(rounds):
        order = [(PORTALKIT, portalkit), (HTTPX, httpx)]
        if index % 2:
            order.reverse()
        for code, samples in order:
            samples.append(_run(code, env))
        startup.append(_run(NOTHING, env)[0])
    return ImportTimes(
        wall=Comparison(tuple(s[0] for s in portalkit), tuple(s[0] for s in httpx)),
        cpu=Comparison(tuple(s[1] for s in portalkit), tuple(s[1] for s in httpx)),
        startup=statistics.median(startup),
    )


def import_profile(limit: int = 12) -> list[tuple[str, float]]:
    """The modules that portalkit's import adds on top of httpx, by their own (self) import
    time in milliseconds, from one ``python -X importtime`` run."""
    code = f"{HTTPX}; {PORTALKIT}"
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=_environment(),
        cwd=_NEUTRAL,
        capture_output=True,
        text=True,
        check=True,
    )
    after_httpx = False
    rows: list[tuple[str, float]] = []
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if not self_us.isdigit():
            continue  # the header line
        if name == STACK:
            after_httpx = True
            continue
        if after_httpx:
            rows.append((name, int(self_us) / 1000))
    rows.sort(key=lambda row: row[1], reverse=True)
    return rows[:limit]
