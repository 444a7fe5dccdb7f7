"""Adapters, one module per billing vendor, each with its sandbox twin beside it:
``portalkit.providers.paddle.Paddle`` (and ``portalkit.providers.paddle_sandbox``), ...

The source lives in the top-level ``providers/`` folder; ``portalkit/providers`` is a
symlink to it and the wheel ships it as ``portalkit.providers``. Each adapter is pure: it
builds an ``httpx.Request`` and reads an ``httpx.Response``; ``portalkit.Portal`` does the
I/O. The vendor list is the entry points in pyproject.toml, not this package.
"""

# An editable install puts the project root on sys.path, so ``import providers`` would also
# find this folder, and load every adapter a second time under another name (two Paddle
# classes that are not the same class). Refuse it loudly.
if __name__ != "portalkit.providers":
    raise ImportError(
        f"import the adapters as portalkit.providers, not as {__name__!r}"
        " (e.g. `from portalkit.providers.paddle import Paddle`)"
    )
