"""The command line, driven in-process as a user would call it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from filelock import FileLock

from connector.simulator import ApiKey, Fault, RunningSimulator
from pipelines.emailgistics_pipeline import main
from tests.conftest import FAST_SETTINGS, SIM_KEY, SIM_NOW
from tests.connector.helpers import (
    listed_mailboxes,
    truth_for_every_mailbox,
    warehouse_rows,
)


@pytest.fixture
def cli_env(
    simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> RunningSimulator:
    """Settings in environment variables, as in a cron job."""
    monkeypatch.setenv("SOURCES__EMAILGISTICS__API_KEY", SIM_KEY)
    monkeypatch.setenv("SOURCES__EMAILGISTICS__BASE_URL", simulator.base_url)
    for key, value in FAST_SETTINGS.items():
        monkeypatch.setenv(f"SOURCES__EMAILGISTICS__{key.upper()}", str(value))
    return simulator


def cli(*args: str, pipelines_dir: str, duckdb_path: str) -> int:
    return main(
        [
            *args,
            "--now",
            SIM_NOW,
            "--pipelines-dir",
            pipelines_dir,
            "--duckdb-path",
            duckdb_path,
            "--no-progress",
        ]
    )


def test_backfill_then_nightly_prints_a_summary(
    cli_env: RunningSimulator,
    pipelines_dir: str,
    duckdb_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli(
        "--start",
        "2026-04-01",
        "--end",
        "2026-04-08",
        pipelines_dir=pipelines_dir,
        duckdb_path=duckdb_path,
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Backfill load (day)" in out
    assert "Support" in out

    assert cli(pipelines_dir=pipelines_dir, duckdb_path=duckdb_path) == 0
    assert "2026-05-01 00:00:00" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2026-04-08", "--end", "2026-04-01"], "is not after --start"),
        (["--start", "2026-04-01"], "needs both --start and --end"),
        (["--start", "April"], "Cannot read --start 'April'"),
    ],
)
def test_bad_arguments_exit_2_before_any_request(
    cli_env: RunningSimulator,
    pipelines_dir: str,
    duckdb_path: str,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    cli_env.simulator.clear_requests()

    code = cli(*args, pipelines_dir=pipelines_dir, duckdb_path=duckdb_path)

    assert code == 2
    assert message in capsys.readouterr().err
    assert cli_env.simulator.requests() == []


def test_duckdb_file_named_like_the_dataset_is_refused(
    cli_env: RunningSimulator,
    pipelines_dir: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli(
        pipelines_dir=pipelines_dir, duckdb_path=str(tmp_path / "emailgistics.duckdb")
    )

    assert code == 2
    assert "named like the dataset 'emailgistics'" in capsys.readouterr().err


def test_refused_key_exits_3_and_never_prints_it(
    cli_env: RunningSimulator,
    pipelines_dir: str,
    duckdb_path: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong_key = "wrong-key-value-0123456789"
    monkeypatch.setenv("SOURCES__EMAILGISTICS__API_KEY", wrong_key)
    caplog.set_level(logging.DEBUG)

    code = cli(pipelines_dir=pipelines_dir, duckdb_path=duckdb_path)

    captured = capsys.readouterr()
    assert code == 3
    assert "API key was refused (401" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    for text in (captured.out, captured.err, caplog.text):
        assert wrong_key not in text


def test_second_run_exits_4_while_the_lock_is_held(
    cli_env: RunningSimulator,
    pipelines_dir: str,
    duckdb_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lock_path = Path(pipelines_dir) / "emailgistics.lock"

    with FileLock(str(lock_path)):
        code = cli(pipelines_dir=pipelines_dir, duckdb_path=duckdb_path)

    assert code == 4
    assert "Another run of pipeline 'emailgistics' is in progress" in (
        capsys.readouterr().err
    )


def test_one_failing_mailbox_does_not_stop_the_others_and_a_rerun_completes(
    cli_env: RunningSimulator,
    pipelines_dir: str,
    duckdb_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    listed = listed_mailboxes(cli_env)
    broken = listed[0]["mailboxId"]
    cli_env.simulator.set_faults(
        [
            Fault(
                kind="status",
                status=503,
                method="GET",
                path="/api/v1/reports/results",
                mailbox_id=broken,
                times=1000,
            )
        ]
    )
    args = ("--start", "2026-03-01", "--end", "2026-04-15")

    code = cli(*args, pipelines_dir=pipelines_dir, duckdb_path=duckdb_path)

    assert code == 1
    assert f"FAILED mailbox {broken}" in capsys.readouterr().out
    loaded_mailboxes = {key[0] for key in warehouse_rows(duckdb_path)}
    assert broken not in loaded_mailboxes
    assert len(loaded_mailboxes) >= 2

    cli_env.simulator.set_faults([])
    assert cli(*args, pipelines_dir=pipelines_dir, duckdb_path=duckdb_path) == 0
    expected = truth_for_every_mailbox(
        cli_env, "day", "2026-03-01T00:00:00", "2026-04-14T23:59:59"
    )
    assert warehouse_rows(duckdb_path) == expected


def test_mailbox_outside_the_allowlist_fails_by_name(
    start_simulator: object,
    monkeypatch: pytest.MonkeyPatch,
    pipelines_dir: str,
    duckdb_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert callable(start_simulator)
    probe: RunningSimulator = start_simulator()
    ids = [m["mailboxId"] for m in listed_mailboxes(probe)]
    sim: RunningSimulator = start_simulator(
        keys=[ApiKey(key="narrow-key", name="narrow", mailbox_ids=(ids[0],))]
    )
    monkeypatch.setenv("SOURCES__EMAILGISTICS__API_KEY", "narrow-key")
    monkeypatch.setenv("SOURCES__EMAILGISTICS__BASE_URL", sim.base_url)
    for key, value in FAST_SETTINGS.items():
        monkeypatch.setenv(f"SOURCES__EMAILGISTICS__{key.upper()}", str(value))

    code = cli(
        "--mailbox",
        ids[0],
        "--mailbox",
        ids[1],
        "--start",
        "2026-04-01",
        "--end",
        "2026-04-03",
        pipelines_dir=pipelines_dir,
        duckdb_path=duckdb_path,
    )

    assert code == 1
    assert f"FAILED mailbox {ids[1]}: not among the mailboxes" in (
        capsys.readouterr().out
    )
    assert {key[0] for key in warehouse_rows(duckdb_path)} == {ids[0]}


def test_help_names_the_pipelines_directory_dlt_really_uses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dlt.common.pipeline import get_dlt_pipelines_dir

    from pipelines.emailgistics_pipeline import build_parser

    help_text = " ".join(build_parser().format_help().split())

    assert get_dlt_pipelines_dir() in help_text
    assert "/var/dlt/pipelines as root" in help_text


def test_dlt_telemetry_is_off_in_the_shipped_config_and_in_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tomllib

    shipped = Path(__file__).resolve().parents[2] / ".dlt" / "config.toml"
    assert tomllib.loads(shipped.read_text())["runtime"]["dlthub_telemetry"] is False

    monkeypatch.delenv("RUNTIME__DLTHUB_TELEMETRY", raising=False)
    monkeypatch.setenv("SOURCES__EMAILGISTICS__PERIOD", "fortnight")
    assert main(["--no-progress"]) == 2
    assert os.environ.get("RUNTIME__DLTHUB_TELEMETRY") == "false"


def test_summary_shows_half_open_spans_final_before_and_singulars(
    cli_env: RunningSimulator,
    pipelines_dir: str,
    duckdb_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mailbox_id = listed_mailboxes(cli_env)[0]["mailboxId"]

    code = cli(
        "--start",
        "2026-04-01",
        "--end",
        "2026-04-02",
        "--mailbox",
        mailbox_id,
        pipelines_dir=pipelines_dir,
        duckdb_path=duckdb_path,
    )

    assert code == 0
    out = capsys.readouterr().out
    assert " merged in 1 load, " in out, out
    assert "final before" in out and "final through" not in out, out
    # README: one day is the half-open range [2026-04-01, 2026-04-02).
    assert "[2026-04-01, 2026-04-02)" in out, out
    assert "1/1" in out, out


def test_lock_message_says_how_long_it_waited(
    cli_env: RunningSimulator,
    pipelines_dir: str,
    duckdb_path: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lock_path = Path(pipelines_dir) / "emailgistics.lock"

    with FileLock(str(lock_path)):
        code = cli(
            "--wait-for-lock",
            "0.3",
            pipelines_dir=pipelines_dir,
            duckdb_path=duckdb_path,
        )

    assert code == 4
    err = capsys.readouterr().err
    assert "waited 0.3 s" in err and "pass --wait-for-lock" not in err, err
