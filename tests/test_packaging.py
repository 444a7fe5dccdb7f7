"""The package as a user installs it: static tools resolve ``portalkit`` and
``portalkit.providers.*`` in the user's own code, and the top-level ``providers`` folder is
not importable under that name.

The README's quick start installs portalkit editable (``pip install -e``). A package-dir
mapping makes setuptools install an import hook that only the interpreter follows; mypy then
reports "Cannot find implementation or library stub for module named portalkit".
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from _user_app import clean_env, mypy_strict

ROOT = Path(__file__).resolve().parent.parent

APP = """\
from portalkit import Portal, PortalLink, PortalRequest
from portalkit.providers.paddle import Paddle


def manage_billing(customer_id: str) -> PortalLink:
    with Portal(Paddle(api_key="pdl_sdbx_apikey_example", environment="sandbox")) as portal:
        return portal.create_link(PortalRequest(customer_id=customer_id))


def url_of(link: PortalLink) -> str:
    return link.url
"""


def test_mypy_strict_resolves_portalkit_in_a_users_app(tmp_path: Path) -> None:
    result = mypy_strict(tmp_path, APP)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout


def test_a_wrong_type_in_the_users_app_is_reported(tmp_path: Path) -> None:
    # The check above is not vacuous: the same set-up sees portalkit's real types.
    result = mypy_strict(tmp_path, APP + "\n\nbroken: int = PortalRequest(customer_id='x')\n")
    assert result.returncode == 1
    assert 'has type "PortalRequest"' in result.stdout


def test_a_top_level_import_of_providers_fails_loudly() -> None:
    code = "import providers"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=ROOT,  # the repository root is on sys.path here, as in an editable install
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "import the adapters as portalkit.providers" in result.stderr


def test_portalkit_providers_is_the_top_level_folder() -> None:
    link = ROOT / "portalkit" / "providers"
    assert link.is_symlink()
    assert link.resolve() == (ROOT / "providers").resolve()
    assert textwrap.dedent(os.readlink(link)) == "../providers"
