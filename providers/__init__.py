"""Adapters, one module per billing vendor: ``portalkit.providers.plugipay.Plugipay``,
``portalkit.providers.paylera.Paylera``, ``portalkit.providers.paddle.Paddle``.

Shipped inside the wheel as ``portalkit.providers`` (the source lives in the top-level
``providers/`` folder). Each adapter is pure: it builds an ``httpx.Request`` and reads an
``httpx.Response``; ``portalkit.Portal`` does the I/O.
"""
