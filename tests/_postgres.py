"""A real PostgreSQL server for the tests, started here on loopback and stopped after.

Debian's ``postgresql`` package (``scripts/test.sh`` installs it, as it installs Chromium)
puts its binaries in /usr/lib/postgresql/<version>/bin, off the PATH. The fixture makes a
throw-away cluster (``initdb -A trust``) in a directory under /tmp, starts ``postgres`` on
127.0.0.1 with a free port and its socket in that directory, and yields a SQLAlchemy URL.

PostgreSQL refuses to run as root, and the tests run as root in CI: there the cluster
belongs to the ``postgres`` user and its commands run through ``runuser``. The directory is
made under /tmp with mode 0755, not in pytest's tmp_path, whose 0700 parents would keep
that user out.

Where the binaries are missing the PostgreSQL tests skip with the reason; under CI (``CI``
set) they fail instead, since .ci/run is meant to install the package.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "postgres"
STARTUP_SECONDS = 30.0


def find_bindir() -> Path | None:
    """The newest installed version's bin directory, or None."""
    found = glob.glob("/usr/lib/postgresql/*/bin/postgres")
    if not found:
        return None
    newest = max(found, key=lambda path: int(Path(path).parts[-3].split(".")[0]))
    return Path(newest).parent


def _as_postgres() -> list[str]:
    # PostgreSQL's binaries refuse root; any other user runs them as itself.
    return ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(  # noqa: S603 -- PostgreSQL's own binaries, arguments written here
        [*_as_postgres(), *command], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def _options(data: Path, home: Path, port: int) -> list[str]:
    # Loopback only, its socket beside the cluster, and no fsync: a throw-away server.
    return [
        *("-D", str(data), "-p", str(port), "-k", str(home)),
        *("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"),
    ]


def _wait_until_ready(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"postgres exited ({server.returncode}):\n{log.read_text()}")
        try:
            psycopg.connect(
                host="127.0.0.1", port=port, user=USER, dbname="postgres", connect_timeout=2
            ).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"postgres did not accept connections in {STARTUP_SECONDS:g} s:\n"
                    f"{log.read_text()}"
                ) from None
            time.sleep(0.1)


def _stop(server: subprocess.Popen[bytes], bindir: Path, data: Path, cwd: Path) -> None:
    # pg_ctl's fast shutdown signals the postmaster (by the pid in its data directory) and
    # waits; killing the Popen would only reach runuser when the tests run as root.
    try:
        _run([str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"], cwd)
        server.wait(timeout=STARTUP_SECONDS)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql+psycopg://postgres@127.0.0.1:<port>/postgres`` of a server of its own."""
    bindir = find_bindir()
    if bindir is None:
        reason = "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres)"
        if os.environ.get("CI"):
            pytest.fail(
                f"{reason}; .ci/run (scripts/test.sh) must install Debian's postgresql package",
                pytrace=False,
            )
        pytest.skip(f"{reason}: apt-get install postgresql")
    home = Path(tempfile.mkdtemp(prefix="portalkit-postgres-", dir="/tmp"))
    try:
        home.chmod(0o755)  # the postgres user must reach its cluster and socket in here
        if os.geteuid() == 0:
            account = pwd.getpwnam(USER)
            os.chown(home, account.pw_uid, account.pw_gid)
        data = home / "data"
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust"]
        _run([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"], home)
        port = _free_port()
        log = home / "postgres.log"
        with log.open("wb") as output:
            server = subprocess.Popen(  # noqa: S603 -- PostgreSQL's own binary
                [*_as_postgres(), str(bindir / "postgres"), *_options(data, home, port)],
                cwd=home,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_ready(server, port, log)
            yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres"
        finally:
            _stop(server, bindir, data, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
