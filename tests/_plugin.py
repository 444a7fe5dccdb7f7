"""Installing the test plug-in (tests/plugin_pkg, distribution ``portalkit-fakevendor``).

``plugin_site()`` pip-installs it, once per test run, into a scratch directory with
``pip install --target``: a real install (pip builds the wheel and writes the dist-info with
its ``portalkit.providers`` entry point), but one that leaves the virtualenv untouched, so no
other test ever sees a fourth provider. A test puts that directory on ``sys.path`` (the
``fakevendor`` fixtures do, with monkeypatch) or on ``PYTHONPATH`` for a subprocess.

The build needs no network when the virtualenv has setuptools and wheel (the dev extra
installs wheel); otherwise pip fetches setuptools from the package registry for an isolated
build.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PLUGIN_SOURCE = Path(__file__).parent / "plugin_pkg"
PLUGIN_NAME = "fakevendor"


def _can_build_offline() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("setuptools", "wheel"))


@functools.cache
def plugin_site() -> Path:
    """The directory the plug-in is installed in (installed on first call)."""
    scratch = Path(tempfile.mkdtemp(prefix="portalkit-plugin-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    # Build from a copy: an in-tree build would leave build/ and *.egg-info in tests/.
    source = scratch / "src"
    shutil.copytree(
        PLUGIN_SOURCE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    site = scratch / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    command += ["--disable-pip-version-check", "--no-cache-dir", "--target", str(site)]
    if _can_build_offline():
        command += ["--no-build-isolation", "--no-index"]
    subprocess.run([*command, str(source)], check=True, capture_output=True, timeout=300)  # noqa: S603
    return site
