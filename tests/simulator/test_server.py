"""Starting the server from the command line, and package boundaries."""

from __future__ import annotations

import ast
import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PACKAGE = Path(__file__).resolve().parents[2] / "connector" / "simulator"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_command_line_serves_on_the_given_port() -> None:
    port = _free_port()
    command = [
        sys.executable, "-m", "connector.simulator", "--port", str(port),
        "--clock", "manual", "--now", "2026-05-01T12:28:00Z", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/admin/mailboxes",
                    headers={"Authorization": "Bearer sim-demo-key"},
                )
                break
            except httpx.ConnectError:
                assert process.poll() is None, (
                    process.stderr.read() if process.stderr else ""
                )
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.05)
        clock = httpx.get(f"http://127.0.0.1:{port}/_sim/clock").json()
    finally:
        process.terminate()
        process.communicate(timeout=10)

    assert response.status_code == 200
    assert len(response.json()["mailboxes"]) == 4
    assert clock["now"] == "2026-05-01T12:28:00Z"


def test_simulator_imports_nothing_from_the_connector() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name == "connector" or name.startswith("connector."):
                    assert name.startswith("connector.simulator"), (path.name, name)


def test_app_runs_in_process_over_asgi() -> None:
    from connector.simulator import Simulator, SimulatorSettings, build_app

    simulator = Simulator(SimulatorSettings(clock="manual", now="2026-05-01T12:28:00Z"))

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_app(simulator))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sim.test"
        ) as client:
            return await client.get(
                "/api/v1/admin/mailboxes",
                headers={"Authorization": "Bearer sim-demo-key"},
            )

    response = asyncio.run(call())

    assert response.status_code == 200
    assert simulator.requests()[0]["key_name"] == "demo"
