"""Every bad input gives one clear, actionable error line and a non-zero exit,
driven through the command line as a user runs it."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connector.simulator import ApiKey, Fault, RunningSimulator
from pipelines.emailgistics_pipeline import main
from tests.conftest import SIM_KEY, SIM_NOW, Loader
from tests.e2e.support import (
    assert_matches_truth,
    cli_env,
    expected,
    listed_mailboxes,
    run_cli,
    table_snapshot,
)

BACKFILL = ["--start", "2026-03-01", "--end", "2026-03-08", "--now", SIM_NOW]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`main` installs its own root handler; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers = handlers
    root.setLevel(level)


@pytest.fixture
def use_simulator(
    simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> RunningSimulator:
    """The simulator, with key, URL and fast timings in the environment."""
    for name, value in cli_env(simulator.base_url).items():
        if name.startswith("SOURCES__"):
            monkeypatch.setenv(name, value)
    return simulator


def run_main(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str
) -> tuple[int, list[str], str]:
    """Runs `main` in-process; returns the exit code, stderr lines and stdout."""
    argv = [
        *args,
        "--pipelines-dir",
        str(tmp_path / "pipelines"),
        "--no-progress",
    ]
    if "--duckdb-path" not in args:
        argv += ["--duckdb-path", str(tmp_path / "warehouse.duckdb")]
    code = main(argv)
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error")]
    return code, errors, captured.out


CONFIG_ERRORS = {
    "unknown period": (
        {"SOURCES__EMAILGISTICS__PERIOD": "fortnight"},
        [],
        ["period", "'fortnight'", "hour, day, week, month"],
    ),
    "end before start": (
        {},
        ["--start", "2026-03-08", "--end", "2026-03-01"],
        ["--end", "2026-03-01", "not after", "--start"],
    ),
    "end equal to start": (
        {},
        ["--start", "2026-03-08", "--end", "2026-03-08"],
        ["--end", "not after", "--start"],
    ),
    "unparseable date": (
        {},
        ["--start", "2026-13-45", "--end", "2026-04-01"],
        ["--start", "'2026-13-45'", "ISO date"],
    ),
    "start with a utc offset": (
        {},
        ["--start", "2026-04-01T05:00:00+05:00", "--end", "2026-04-02"],
        ["--start", "'2026-04-01T05:00:00+05:00'", "local wall time", "offset"],
    ),
    "end in utc": (
        {},
        ["--start", "2026-04-01", "--end", "2026-04-02T00:00:00Z"],
        ["--end", "'2026-04-02T00:00:00Z'", "mailbox", "offset"],
    ),
    "initial_start in utc": (
        {"SOURCES__EMAILGISTICS__INITIAL_START": "2026-04-20T00:00:00Z"},
        [],
        ["initial_start", "'2026-04-20T00:00:00Z'", "local wall time"],
    ),
    "initial_start in the future": (
        {"SOURCES__EMAILGISTICS__INITIAL_START": "2026-06-01"},
        [],
        ["initial_start", "2026-06-01", "future"],
    ),
    "negative lock wait": (
        {},
        ["--wait-for-lock", "-1"],
        ["--wait-for-lock", "-1"],
    ),
    "only a start": (
        {},
        ["--start", "2026-03-01"],
        ["--start", "--end"],
    ),
    "empty key": (
        {"SOURCES__EMAILGISTICS__API_KEY": "   "},
        [],
        ["API key", "SOURCES__EMAILGISTICS__API_KEY", "secrets.toml"],
    ),
    "page_size too big": (
        {"SOURCES__EMAILGISTICS__PAGE_SIZE": "501"},
        [],
        ["page_size", "between 1 and 500", "501"],
    ),
    "page_size zero": (
        {"SOURCES__EMAILGISTICS__PAGE_SIZE": "0"},
        [],
        ["page_size", "between 1 and 500", "0"],
    ),
    "page_size not a number": (
        {"SOURCES__EMAILGISTICS__PAGE_SIZE": "lots"},
        [],
        ["page_size", "SOURCES__EMAILGISTICS__PAGE_SIZE"],
    ),
    "bad week_start": (
        {"SOURCES__EMAILGISTICS__WEEK_START": "funday"},
        [],
        ["week_start", "'funday'", "monday"],
    ),
    "bad lookback": (
        {"SOURCES__EMAILGISTICS__LOOKBACK": "one day"},
        [],
        ["lookback", "'one day'", "P1D"],
    ),
    "base_url port out of range": (
        {"SOURCES__EMAILGISTICS__BASE_URL": "http://127.0.0.1:99999"},
        [],
        ["base_url", "'http://127.0.0.1:99999'", "host only"],
    ),
    "base_url not a url": (
        {"SOURCES__EMAILGISTICS__BASE_URL": "http://[::1"},
        [],
        ["base_url", "'http://[::1'", "not a valid URL"],
    ),
    "base_url with the api path": (
        {"SOURCES__EMAILGISTICS__BASE_URL": "http://127.0.0.1:8765/api/v1"},
        [],
        ["base_url", "/api/v1", "host only", "https://c1.emailgistics.com"],
    ),
    "duckdb file named like the dataset": (
        {},
        ["--duckdb-path", "emailgistics.duckdb"],
        ["emailgistics.duckdb", "dataset", "--duckdb-path"],
    ),
    "duckdb file named like the dataset once dlt normalizes it": (
        {},
        ["--dataset", "My Data", "--duckdb-path", "my_data.duckdb"],
        ["my_data.duckdb", "'My Data'", "--duckdb-path"],
    ),
}


@pytest.mark.parametrize(
    ("env", "args", "words"), list(CONFIG_ERRORS.values()), ids=list(CONFIG_ERRORS)
)
def test_bad_setting_exits_2_with_one_line_before_any_request(
    use_simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    env: dict[str, str],
    args: list[str],
    words: list[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    code, errors, out = run_main(capsys, tmp_path, *args, "--now", SIM_NOW)

    assert code == 2
    assert len(errors) == 1, errors
    for word in words:
        assert word in errors[0], (word, errors[0])
    assert "configuration error" not in errors[0], errors[0]
    assert out == ""
    assert use_simulator.simulator.requests() == []


def test_unknown_period_option_is_refused_by_the_parser(
    use_simulator: RunningSimulator, tmp_path: Path
) -> None:
    result = run_cli(
        ["--period", "fortnight"], cli_env(use_simulator.base_url), tmp_path
    )

    assert result.returncode == 2
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1
    assert "--period" in error_lines[0] and "'fortnight'" in error_lines[0]
    assert "hour" in error_lines[0] and "month" in error_lines[0]
    assert use_simulator.simulator.requests() == []


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (
            "sk-not-a-key",
            ["401", "refused", "SOURCES__EMAILGISTICS__API_KEY", ".dlt/secrets.toml"],
        ),
        ("sk-no-scope", ["403", "scope", "'reporting'"]),
        ("sk-expired", ["401", "expired", "new key"]),
    ],
    ids=["wrong key", "key lacking the reporting scope", "expired key"],
)
def test_refused_key_exits_3_with_one_line_and_loads_nothing(
    start_simulator: Callable[..., RunningSimulator],
    tmp_path: Path,
    key: str,
    words: list[str],
) -> None:
    sim = start_simulator(
        keys=[
            ApiKey(SIM_KEY, "demo"),
            ApiKey("sk-no-scope", "no-scope", scopes=("messages:read",)),
            ApiKey("sk-expired", "expired", expires="2026-04-01T00:00:00Z"),
        ]
    )

    args = [*BACKFILL, "--duckdb-path", str(tmp_path / "w.duckdb")]
    args += ["--pipelines-dir", str(tmp_path / "p")]
    result = run_cli(args, cli_env(sim.base_url, key=key), tmp_path)

    assert result.returncode == 3, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1, result.stderr
    for word in words:
        assert word in error_lines[0], (word, error_lines[0])
    assert key not in result.stderr + result.stdout
    loader = Loader(str(tmp_path / "p"), duckdb_path=str(tmp_path / "w.duckdb"))
    assert table_snapshot(loader) == []


def test_unknown_mailbox_fails_by_name_while_the_others_load(
    use_simulator: RunningSimulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    known = listed_mailboxes(use_simulator)[0]["mailboxId"]
    unknown = "00000000-0000-4000-8000-00000000dead"

    code, errors, out = run_main(
        capsys, tmp_path, *BACKFILL, "--mailbox", unknown, "--mailbox", known
    )

    assert code == 1
    assert unknown in out + "\n".join(errors)
    loader = Loader(
        str(tmp_path / "pipelines"), duckdb_path=str(tmp_path / "warehouse.duckdb")
    )
    truth = expected(
        use_simulator, "day", "2026-03-01", "2026-03-07T23:59:59", mailbox_ids=[known]
    )
    assert_matches_truth(loader, truth)


def test_mailbox_refused_on_submit_fails_by_name_while_the_others_load(
    use_simulator: RunningSimulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    refused, *others = (m["mailboxId"] for m in listed_mailboxes(use_simulator))
    use_simulator.simulator.set_faults(
        [Fault("status", "POST", status=404, mailbox_id=refused, times=1000)]
    )

    code, errors, out = run_main(capsys, tmp_path, *BACKFILL)

    assert code == 1
    assert refused in out + "\n".join(errors)
    assert "allowlist" in out + "\n".join(errors)
    loader = Loader(
        str(tmp_path / "pipelines"), duckdb_path=str(tmp_path / "warehouse.duckdb")
    )
    truth = expected(
        use_simulator, "day", "2026-03-01", "2026-03-07T23:59:59", mailbox_ids=others
    )
    assert_matches_truth(loader, truth)
    # A mailbox refused once is not asked again for its other windows.
    posts = [r for r in use_simulator.simulator.requests() if r["method"] == "POST"]
    assert sum(1 for r in posts if r["status"] == 404) == 1


def _duckdb_bad_paths(tmp_path: Path) -> dict[str, tuple[str, list[str]]]:
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "junk.duckdb").write_text("not a database\n" * 10)
    return {
        "missing directory": (
            str(tmp_path / "nonexistent-dir" / "x.duckdb"),
            ["nonexistent-dir", "does not exist", "--duckdb-path"],
        ),
        "a directory": (
            str(tmp_path / "a-directory"),
            ["a-directory", "is a directory"],
        ),
        "not a database": (
            str(tmp_path / "junk.duckdb"),
            ["junk.duckdb", "not a DuckDB database"],
        ),
    }


@pytest.mark.parametrize("case", ["missing directory", "a directory", "not a database"])
def test_unusable_duckdb_path_exits_2_naming_it_before_any_request(
    use_simulator: RunningSimulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    case: str,
) -> None:
    path, words = _duckdb_bad_paths(tmp_path)[case]

    code, errors, _ = run_main(capsys, tmp_path, *BACKFILL, "--duckdb-path", path)

    assert code == 2
    assert len(errors) == 1, errors
    for word in words:
        assert word in errors[0], (word, errors[0])
    assert "PipelineStepFailed" not in errors[0]
    assert use_simulator.simulator.requests() == []


POSTGRES_CREDENTIAL_ERRORS = {
    "no credentials": (None, ["No Postgres credentials", "DESTINATION__POSTGRES"]),
    "no password": (
        "postgresql://loader@127.0.0.1:5432/test",
        ["password", "DESTINATION__POSTGRES__CREDENTIALS"],
    ),
    "not a url": ("not a url", ["Cannot read", "postgresql://"]),
}


@pytest.mark.parametrize(
    ("url", "words"),
    list(POSTGRES_CREDENTIAL_ERRORS.values()),
    ids=list(POSTGRES_CREDENTIAL_ERRORS),
)
def test_missing_postgres_credentials_exit_2_before_any_request(
    use_simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    url: str | None,
    words: list[str],
) -> None:
    if url is not None:
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", url)

    code, errors, _ = run_main(capsys, tmp_path, *BACKFILL, "--destination", "postgres")

    assert code == 2
    assert len(errors) == 1, errors
    for word in words:
        assert word in errors[0], (word, errors[0])
    assert use_simulator.simulator.requests() == []


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("127.0.0.1:5999/test", ["port 5999 failed", "Connection refused"]),
        ("127.0.0.1:5432/no_such_database_x", ['"no_such_database_x" does not exist']),
    ],
    ids=["wrong port", "wrong database"],
)
def test_unreachable_postgres_exits_5_naming_host_and_cause_without_password(
    use_simulator: RunningSimulator,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    where: str,
    words: list[str],
) -> None:
    user = postgres_url.split("//", 1)[1].split(":", 1)[0]
    password = "pw-kept-secret-42"
    url = f"postgresql://{user}:{password}@{where}"
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", url)

    code, errors, out = run_main(
        capsys, tmp_path, *BACKFILL, "--destination", "postgres"
    )

    assert code == 5
    assert len(errors) == 1, errors
    assert f"Postgres {user}@{where}" in errors[0], errors[0]
    for word in words:
        assert word in errors[0], (word, errors[0])
    assert "PipelineStepFailed" not in errors[0]
    assert password not in errors[0] + out
    assert use_simulator.simulator.requests() == []


def test_unreachable_base_url_names_the_host_and_what_to_check(
    use_simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SOURCES__EMAILGISTICS__BASE_URL", f"http://127.0.0.1:{port}")

    code, errors, out = run_main(capsys, tmp_path, *BACKFILL)

    assert code == 1
    assert len(errors) == 1, errors
    assert f"127.0.0.1:{port}" in errors[0] and "base_url" in errors[0], errors[0]
    assert "network" in errors[0], errors[0]
    assert SIM_KEY not in errors[0] + out


def test_mailbox_list_404_says_base_url_is_probably_wrong(
    use_simulator: RunningSimulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    use_simulator.simulator.set_faults(
        [Fault("status", "GET", "/api/v1/admin/mailboxes", status=404, times=99)]
    )

    code, errors, _ = run_main(capsys, tmp_path, *BACKFILL)

    assert code == 3
    assert len(errors) == 1, errors
    assert "404" in errors[0] and "base_url" in errors[0], errors[0]
    assert use_simulator.base_url in errors[0], errors[0]
    assert "https://c1.emailgistics.com" in errors[0], errors[0]
    posts = [r for r in use_simulator.simulator.requests() if r["method"] == "POST"]
    assert posts == []


def test_no_matching_mailbox_exits_2_saying_so(
    use_simulator: RunningSimulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    unknown = "00000000-0000-4000-8000-00000000dead"

    code, errors, out = run_main(capsys, tmp_path, *BACKFILL, "--mailbox", unknown)

    assert code == 2
    assert len(errors) == 1, errors
    assert "No mailbox matched" in errors[0] and unknown in errors[0], errors[0]
    assert "rows merged" not in out
    posts = [r for r in use_simulator.simulator.requests() if r["method"] == "POST"]
    assert posts == []


def test_verbose_log_is_one_format_without_library_debug_noise(
    use_simulator: RunningSimulator, tmp_path: Path
) -> None:
    use_simulator.simulator.set_faults(
        [Fault("malformed", "GET", "/api/v1/reports/results", times=1)]
    )
    args = [*BACKFILL, "-v", "--pipelines-dir", str(tmp_path / "p")]
    args += ["--duckdb-path", str(tmp_path / "w.duckdb")]

    result = run_cli(args, cli_env(use_simulator.base_url), tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    retries = [line for line in lines if "Retrying" in line]
    assert retries and all("malformed JSON" in line for line in retries), retries
    assert not [line for line in lines if " DEBUG filelock" in line]
    assert not [line for line in lines if " DEBUG asyncio" in line]
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")
    assert all(stamp.match(line) for line in lines if line.strip()), lines[:5]
