"""A user's own app, type-checked as its editor would: ``mypy --strict`` over one file
written outside the repository, with no ``PYTHONPATH`` or ``MYPYPATH`` -- what mypy finds,
it finds through the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def clean_env() -> dict[str, str]:
    """The environment without PYTHONPATH or MYPYPATH: only installed packages resolve."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}


def mypy_strict(
    tmp_path: Path, source: str, *, ignore_missing_imports: bool = False
) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` over ``source`` as ``tmp_path/app.py``. ``ignore_missing_imports``
    for an app that imports a framework shipping no types (Django)."""
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(source))
    options = ["--ignore-missing-imports"] if ignore_missing_imports else []
    return subprocess.run(  # noqa: S603 -- our own interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            *options,
            str(app),
        ],
        cwd=tmp_path,  # outside the repository: nothing resolves through the working dir
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
