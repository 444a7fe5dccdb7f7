"""What the README shows a newcomer is true: its local-sandbox example runs as printed, and
its Paddle example says which sandbox ``environment="sandbox"`` means."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_the_local_sandbox_example_runs_as_printed() -> None:
    [block] = [b for b in BLOCKS if "from portalkit.sandbox import Sandbox" in b]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102 -- our own README
    session_id, deep_links = out.getvalue().split()
    assert session_id.startswith("cpls_")
    assert int(deep_links) >= 1


def test_the_hosted_sandbox_is_named_beside_its_example() -> None:
    [block] = [b for b in BLOCKS if 'environment="sandbox"' in b]
    before = block.split('environment="sandbox")', 1)[0]
    assert "Paddle's own hosted sandbox" in before
    assert "ConnectError" in before
    # The local sandbox is shown right after, in the same section.
    section = README.split("## Minting a link", 1)[1].split("\n## ", 1)[0]
    assert "from portalkit.sandbox import Sandbox" in section
