"""One process serves both front ends: the OpenAI-compatible API at ``/v1`` and the web chat at ``/``.

``build_server`` puts the two together in one FastAPI application; ``serve`` runs it with uvicorn,
in the foreground (the ``serve`` command) or in a thread (tests), and returns a handle to stop it.

In the foreground, SIGTERM (what systemd and container runtimes send) and Ctrl-C stop it the same
way: uvicorn's graceful shutdown, then the replies still streaming are closed, which stores their
partial text as interrupted, before the process exits with status 0. A second signal skips the
grace period. A SIGINT that the parent process ignores (a job started in the background by a shell)
stays ignored, as such a job expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator

import gradio as gr
import uvicorn
from fastapi import FastAPI

from app.accounts import authenticate
from app.api import REPLY_THREAD, create_api
from app.core.errors import KeepsakeError
from app.service import ChatService

START_TIMEOUT_S = 60
REPLY_CLOSE_S = 30  # a reply cut off by the shutdown stops at its next token, then is stored
uvicorn_log = logging.getLogger("uvicorn.error")


def not_a_crash(record: logging.LogRecord) -> bool:
    """Drop uvicorn's traceback for a request it cancels when the grace period ends (it logs that line already)."""
    return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


@contextlib.asynccontextmanager
async def replies_stored_on_shutdown(_app: FastAPI) -> AsyncIterator[None]:
    """At shutdown, after uvicorn has cancelled the requests still open, wait for their replies to be stored.

    A cancelled stream tells its generating thread to stop; the thread then stores the partial reply
    as interrupted and hands its last message to the event loop, which must still be running.
    """
    yield
    deadline = time.monotonic() + REPLY_CLOSE_S
    for thread in threading.enumerate():
        if thread.name.startswith(REPLY_THREAD):
            await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))


def build_server(service: ChatService) -> FastAPI:
    """The API under /v1 and the page, with the page's sign-in when the settings need one."""
    from app.web import build_app, theme

    server = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=replies_stored_on_shutdown)
    server.mount("/v1", create_api(service))  # mounted first: the page at "/" would take every path
    demo = build_app(service)
    demo.queue(default_concurrency_limit=max(1, service.settings.parallel) * 4)
    check = (lambda name, password: authenticate(service.store, name, password) is not None) \
        if service.settings.needs_auth else None
    return gr.mount_gradio_app(server, demo, path="/", auth=check, auth_message="Sign in to Keepsake",
                               theme=theme(), footer_links=[], ssr_mode=False)


class Server:
    """A running server: ``url`` to reach it, ``close()`` to stop it."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose when the settings say 0)."""
        return self._server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self._server.config.host}:{self.port}"

    def stop(self) -> None:
        """Begin the graceful shutdown without waiting for it; asked twice, end open connections now."""
        if self._server.should_exit:
            self._server.force_exit = True
        self._server.should_exit = True

    def wait(self) -> None:
        """Until the server has stopped (and stored the replies it was streaming)."""
        self._thread.join()

    def close(self) -> None:
        """Stop, and wait up to 30 s for the server to finish."""
        self.stop()
        self._thread.join(timeout=30)


def serve(service: ChatService, *, share: bool = False, block: bool = True) -> Server:
    """Serve on the configured host and port (0: any free one); with ``block`` until stopped (Ctrl-C).

    ``share`` asks Gradio's tunnel for a public link to this server, which needs the internet, and
    sign-in: a public link would otherwise hand everyone the local user's conversations.
    """
    settings = service.settings
    if share and not settings.needs_auth:
        raise KeepsakeError("a public link needs sign-in: add --auth (and users with `python -m app users add`)")
    uvicorn_log.addFilter(not_a_crash)
    # A browser page holds a heartbeat stream open; without a grace limit, stopping would wait for it.
    config = uvicorn.Config(build_server(service), host=settings.host, port=settings.port, log_level="warning",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="keepsake-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise KeepsakeError(f"cannot serve on {settings.host}:{settings.port} (is the port in use?)")
        time.sleep(0.05)
    running = Server(server, thread)
    if share:
        from gradio import networking

        link = networking.setup_tunnel(settings.host, running.port, secrets.token_urlsafe(32), None, None)
        print(f"Public link: {link}", file=sys.stderr)
    if block:
        print(f"Keepsake is running on {running.url} (API: {running.url}/v1); Ctrl-C stops it", file=sys.stderr)
        stop_on_signals(running)
        running.wait()
    return running


def stop_on_signals(running: Server) -> None:
    """SIGTERM, and SIGINT unless it is ignored, begin the graceful shutdown (a second one hurries it)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, lambda _signum, _frame: running.stop())
