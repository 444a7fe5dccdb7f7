"""Serve an ASGI app with uvicorn on a background thread, for the length of a ``with``.

The socket is bound here, before uvicorn starts, so port 0 gives a free port whose number is
known at once; ``start()`` returns when the server accepts connections, ``stop()`` when the
thread has finished and the socket is closed. Nothing is printed: uvicorn's loggers get a
NullHandler (an application that configures logging still sees their records).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

for _name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

STARTUP_TIMEOUT = 10.0
#: After this long, requests still running at shutdown are cancelled.
GRACEFUL_SHUTDOWN = 2


class ServerThread:
    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        lifespan: Literal["auto", "on", "off"] = "off",
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only
        # when the listening socket says TCP; without it every answer waits ~40 ms for Nagle.
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan=lifespan,
            ws="none",
            http="h11",
            loop="asyncio",
            server_header=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="portalkit-sandbox", daemon=True)
        self._error: BaseException | None = None
        self.host, self.port = self._socket.getsockname()[:2]

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # reported by start(); a thread has nowhere else to put it
            self._error = exc

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox server did not start") from self._error
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join()
        self._socket.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


@contextmanager
def serve_app(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve an ASGI app -- the app under test, whose webhook endpoint the sandbox must reach
    over a real socket -- on ``host``:``port`` (0: a free port) in a background thread until
    the block ends; yields its root URL (``http://127.0.0.1:<port>``). Its lifespan events run
    (a FastAPI app's startup), as under uvicorn."""
    server = ServerThread(app, host, port, lifespan="auto")
    server.start()
    shown = f"[{server.host}]" if ":" in server.host else server.host
    try:
        yield f"http://{shown}:{server.port}"
    finally:
        server.stop()
