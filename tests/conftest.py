"""Shared fixtures: a simulator over real HTTP, fast connector settings, and
isolated dlt working directories, DuckDB files and a Postgres URL.

Nothing here touches the user's `~/.dlt` or the repository's `.dlt`: every test
runs in its own working directory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum
import pytest

from connector.config import LoadConfig, config_from_mapping
from connector.loading import RunOptions, run_load
from connector.simulator import RunningSimulator, SimulatorSettings, serve_in_thread
from connector.summary import LoadSummary

SIM_NOW = "2026-05-01T12:28:00Z"
SIM_KEY = "sim-demo-key"
POSTGRES_DEFAULT_URL = "postgresql://postgres:postgres@127.0.0.1:5432/test"

# Timings compressed about a hundredfold: runs last 0.1 s, polls start at 0.05 s.
FAST_SETTINGS: dict[str, Any] = {
    "requests_per_minute": 60_000,
    "poll_initial_seconds": 0.05,
    "poll_max_seconds": 0.2,
    "rate_limit_wait_seconds": 0.2,
    "job_timeout_seconds": 20,
}


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Runs each test in its own cwd, without Emailgistics or dlt env settings."""
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__", "EMAILGISTICS__")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    monkeypatch.chdir(work_dir)
    reload_dlt_run_context(str(work_dir))
    yield work_dir


def reload_dlt_run_context(run_dir: str) -> None:
    """Makes dlt read `.dlt/` in `run_dir` again (it reads it once per process)."""
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import (
        PluggableRunContext,
    )

    Container()[PluggableRunContext].reload(run_dir)


def simulator_settings(**changes: Any) -> SimulatorSettings:
    """Simulator settings for tests: manual clock at `SIM_NOW`, 0.1 s runs."""
    values: dict[str, Any] = {"clock": "manual", "now": SIM_NOW, "run_seconds": 0.1}
    values.update(changes)
    return SimulatorSettings(**values)


@pytest.fixture
def start_simulator() -> Iterator[Callable[..., RunningSimulator]]:
    """Starts simulators with custom settings; they stop after the test."""
    contexts: list[Any] = []

    def start(**changes: Any) -> RunningSimulator:
        context = serve_in_thread(simulator_settings(**changes))
        contexts.append(context)
        return context.__enter__()

    yield start
    for context in reversed(contexts):
        context.__exit__(None, None, None)


@pytest.fixture
def simulator(start_simulator: Callable[..., RunningSimulator]) -> RunningSimulator:
    """A simulator with the default test settings."""
    return start_simulator()


def fast_config(base_url: str, **changes: Any) -> LoadConfig:
    """Connector settings for the simulator, with compressed timings."""
    raw: dict[str, Any] = {"api_key": SIM_KEY, "base_url": base_url, **FAST_SETTINGS}
    raw.update(changes)
    return config_from_mapping(raw)


@pytest.fixture
def connector_config(simulator: RunningSimulator) -> LoadConfig:
    """Fast settings pointed at the `simulator` fixture."""
    return fast_config(simulator.base_url)


@pytest.fixture
def pipelines_dir(tmp_path: Path) -> str:
    """A private dlt pipelines directory."""
    path = tmp_path / "pipelines"
    path.mkdir()
    return str(path)


@pytest.fixture
def duckdb_path(tmp_path: Path) -> str:
    """A DuckDB file path whose name differs from the dataset's."""
    return str(tmp_path / "warehouse.duckdb")


@dataclass
class Loader:
    """Runs loads into one destination with one dlt working directory."""

    pipelines_dir: str
    destination: str = "duckdb"
    duckdb_path: str | None = None
    postgres_credentials: str | None = None
    dataset_name: str = "emailgistics"

    def options(self, **changes: Any) -> RunOptions:
        """RunOptions for this destination; `now` and dates as ISO strings."""
        for name in ("now",):
            if isinstance(changes.get(name), str):
                changes[name] = pendulum.parse(changes[name])
        for name in ("start", "end"):
            if isinstance(changes.get(name), str):
                parsed = pendulum.parse(changes[name])
                assert isinstance(parsed, pendulum.DateTime)
                changes[name] = parsed.naive()
        values: dict[str, Any] = {
            "destination": self.destination,
            "dataset_name": self.dataset_name,
            "duckdb_path": self.duckdb_path,
            "postgres_credentials": self.postgres_credentials,
            "pipelines_dir": self.pipelines_dir,
        }
        values.update(changes)
        return RunOptions(**values)

    def run(self, config: LoadConfig, **changes: Any) -> LoadSummary:
        """`run_load` with these options."""
        return run_load(config, self.options(**changes))


@pytest.fixture
def duckdb_loader(pipelines_dir: str, duckdb_path: str) -> Loader:
    """Loads into a temporary DuckDB file."""
    return Loader(pipelines_dir=pipelines_dir, duckdb_path=duckdb_path)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL server's URL.

    Skips when it is unreachable, unless EMAILGISTICS_REQUIRE_POSTGRES=1 (CI),
    which makes the test fail instead.
    """
    import psycopg2

    url = os.environ.get("EMAILGISTICS_TEST_POSTGRES_URL", POSTGRES_DEFAULT_URL)
    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        message = f"PostgreSQL at {url.split('@')[-1]} is unreachable: {exc}"
        if os.environ.get("EMAILGISTICS_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_loader(postgres_url: str, pipelines_dir: str) -> Iterator[Loader]:
    """Loads into a fresh, uniquely named Postgres dataset (dropped afterwards)."""
    import psycopg2

    dataset = f"emailgistics_test_{uuid.uuid4().hex[:8]}"
    yield Loader(
        pipelines_dir=pipelines_dir,
        destination="postgres",
        postgres_credentials=postgres_url,
        dataset_name=dataset,
    )
    connection = psycopg2.connect(postgres_url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{dataset}" CASCADE')
            cursor.execute(f'DROP SCHEMA IF EXISTS "{dataset}_staging" CASCADE')
    finally:
        connection.close()
