"""A local Emailgistics-compatible API for the demo, the tests and the benchmark.

It serves `POST /api/v1/reports/mailboxUserPerformance`,
`GET /api/v1/reports/results/{id}` and `GET /api/v1/admin/mailboxes` over
real HTTP, from data that is a pure function of a seed, plus a control API
under `/_sim/`. It imports nothing from the connector.
"""

from connector.simulator.app import build_app
from connector.simulator.server import RunningSimulator, serve_in_thread
from connector.simulator.settings import ApiKey, Fault, SimulatorSettings
from connector.simulator.simulator import Simulator

__all__ = [
    "ApiKey",
    "Fault",
    "RunningSimulator",
    "Simulator",
    "SimulatorSettings",
    "build_app",
    "serve_in_thread",
]
