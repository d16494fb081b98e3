"""Serving the simulator: in a background thread for tests, or in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from connector.simulator.app import build_app
from connector.simulator.settings import SimulatorSettings
from connector.simulator.simulator import Simulator

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
_START_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator being served over HTTP.

    Attributes:
        base_url: Where it listens, e.g. `http://127.0.0.1:54321`.
        simulator: The simulator itself, to steer it without HTTP.
    """

    base_url: str
    simulator: Simulator


def _config(simulator: Simulator, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        build_app(simulator),
        host=HOST,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )


@contextmanager
def serve_in_thread(
    settings: SimulatorSettings | None = None, log_level: str = "warning"
) -> Iterator[RunningSimulator]:
    """Serves a new simulator on a free loopback port in a background thread.

    Args:
        settings: The simulator's settings; default the demo settings.
        log_level: uvicorn's log level.

    Yields:
        The running simulator; the server stops when the block exits.

    Raises:
        RuntimeError: The server did not start in time.
    """
    simulator = Simulator(settings)
    # Spelling out IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on
    # accepted sockets whose protocol says TCP, and without it every
    # keep-alive response waits for the client's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(_config(simulator, port, log_level))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="simulator", daemon=True
    )
    thread.start()

    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the simulator did not start")
        time.sleep(0.005)
    logger.info("simulator serving on %s:%d", HOST, port)

    try:
        yield RunningSimulator(f"http://{HOST}:{port}", simulator)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def serve(settings: SimulatorSettings, port: int, log_level: str = "info") -> None:
    """Serves a simulator in the foreground until interrupted."""
    simulator = Simulator(settings)
    uvicorn.Server(_config(simulator, port, log_level)).run()
