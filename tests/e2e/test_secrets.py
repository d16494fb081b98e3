"""The API key never reaches a log line, exception, trace, state file, table or
the API's request log, whether loads succeed or fail."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from connector.errors import EmailgisticsError
from connector.simulator import ApiKey, Fault, RunningSimulator
from tests.conftest import SIM_NOW, Loader, fast_config
from tests.e2e.support import cli_env, run_cli, sim_now

KEY = "sk-LEAKCHECK-7f3a9c1e5b2d"
WRONG_KEY = "sk-WRONGLEAK-31337abc"
RESULTS = "/api/v1/reports/results"


def test_the_key_appears_nowhere(
    start_simulator: Callable[..., RunningSimulator],
    duckdb_loader: Loader,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = start_simulator(
        mailbox_count=2,
        inactive_mailbox_count=0,
        users_per_mailbox=2,
        requests_per_minute=100_000,
        keys=[ApiKey(KEY, "demo")],
    )
    config = fast_config(sim.base_url, api_key=KEY)
    texts: list[str] = []

    ok = duckdb_loader.run(config, start="2026-03-01", end="2026-03-08", now=SIM_NOW)
    assert ok.ok, ok.failures

    sim.simulator.set_faults(
        [
            Fault("status", "GET", RESULTS, status=503, times=3),
            Fault("drop", "GET", RESULTS, after=3, times=2),
            Fault("status", "GET", RESULTS, status=500, after=5, times=1000),
        ]
    )
    failing = duckdb_loader.run(
        config, start="2026-03-08", end="2026-03-15", now=SIM_NOW
    )
    assert not failing.ok
    texts += failing.failures

    sim.simulator.set_faults([])
    sim.simulator.update_settings({"run_seconds": 1.0})
    timed_out = duckdb_loader.run(
        config.replace(job_timeout_seconds=0.2), start="2026-03-15", end="2026-03-22",
        now=sim_now(sim),
    )  # fmt: skip
    assert not timed_out.ok
    texts += timed_out.failures
    sim.simulator.update_settings({"run_seconds": 0.1})

    with pytest.raises(EmailgisticsError) as refused:
        duckdb_loader.run(fast_config(sim.base_url, api_key=WRONG_KEY), now=SIM_NOW)
    texts += [str(refused.value), repr(refused.value)]
    texts += traceback.format_exception(refused.value)

    cli_args = ["--start", "2026-03-22", "--end", "2026-03-29", "--now", SIM_NOW, "-v"]
    cli_args += ["--pipelines-dir", str(tmp_path / "cli-pipelines")]
    cli_args += ["--duckdb-path", str(tmp_path / "cli.duckdb")]
    good = run_cli(cli_args, cli_env(sim.base_url, key=KEY), tmp_path)
    bad = run_cli(cli_args, cli_env(sim.base_url, key=WRONG_KEY), tmp_path)
    assert good.returncode == 0, good.stderr
    assert bad.returncode == 3, bad.stderr
    assert "DEBUG" in good.stderr
    texts += [good.stdout, good.stderr, bad.stdout, bad.stderr]

    texts.append(caplog.text)
    texts += [json.dumps(sim.simulator.requests()), json.dumps(sim.simulator.runs())]
    texts.append(json.dumps(sim.simulator.settings_json()))
    for directory in (duckdb_loader.pipelines_dir, str(tmp_path / "cli-pipelines")):
        files = [p for p in Path(directory).rglob("*") if p.is_file()]
        assert files
        texts += [p.read_bytes().decode("utf-8", "replace") for p in files]
    for database in (str(duckdb_loader.duckdb_path), str(tmp_path / "cli.duckdb")):
        texts.append(Path(database).read_bytes().decode("utf-8", "replace"))
        texts += _every_table(database)

    for secret in (KEY, WRONG_KEY):
        leaks = [text for text in texts if secret in text]
        assert leaks == [], f"{secret} leaked: {leaks[0][:300]}"
    assert any("_dlt_pipeline_state" in t for t in texts)


def _every_table(database: str) -> list[str]:
    """Every row of every table, `_dlt_*` included, as text."""
    with duckdb.connect(database, read_only=True) as connection:
        tables = connection.sql(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
        dumps = [f"_tables: {tables}"]
        for schema, table in tables:
            rows = connection.sql(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            dumps.append(f"{schema}.{table}: {rows!r}")
    return dumps
