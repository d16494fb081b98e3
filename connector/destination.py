"""Builds the dlt pipeline for DuckDB or Postgres and guards it with a lock."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.destination import TLoaderFileFormat
from dlt.common.normalizers.naming.snake_case import (
    NamingConvention as SnakeCaseNaming,
)
from dlt.common.pipeline import get_dlt_pipelines_dir
from filelock import FileLock, Timeout

from connector.errors import (
    ConfigurationError,
    DestinationError,
    PipelineLockedError,
    root_cause,
)
from connector.settings import DEFAULT_DUCKDB_FILE, PIPELINE_NAME

logger = logging.getLogger(__name__)

DESTINATIONS = ("duckdb", "postgres")
DUCKDB_MAGIC = b"DUCK"
DUCKDB_MAGIC_OFFSET = 8
POSTGRES_URL_FORM = "postgresql://user:password@host:5432/database"

# Measured on 100k rows of this table merged (delete-insert): parquet is ~10x
# faster than insert_values on DuckDB; on Postgres csv (COPY) took 12-14 s
# against 25 s for insert_values.
LOADER_FILE_FORMATS: dict[str, TLoaderFileFormat] = {
    "duckdb": "parquet",
    "postgres": "insert_values",
}


def duckdb_path(explicit_path: str | None, dataset_name: str) -> Path:
    """Where the DuckDB file goes: `--duckdb-path`, else
    `DESTINATION__DUCKDB__CREDENTIALS` (or `[destination.duckdb]` in the dlt
    files), else `./warehouse.duckdb`.

    Raises:
        ConfigurationError: When the file's name equals the dataset's name;
            DuckDB 2 cannot tell the catalog from the schema then.
    """
    configured = explicit_path or dlt.secrets.get("destination.duckdb.credentials")
    if configured is not None and not isinstance(configured, str):
        raise ConfigurationError(
            "destination.duckdb.credentials must be a file path for this pipeline."
        )
    path = Path(configured or DEFAULT_DUCKDB_FILE).expanduser()
    # dlt names the schema with its naming convention (snake_case for DuckDB):
    # dataset 'My Data' becomes schema my_data, and DuckDB compares names
    # without regard to case.
    schema_name = SnakeCaseNaming().normalize_identifier(dataset_name)
    if path.stem.lower() == schema_name.lower():
        raise ConfigurationError(
            f"The DuckDB file {str(path)!r} is named like the dataset "
            f"{dataset_name!r} (schema {schema_name}): DuckDB cannot tell the "
            "database from the schema then. Use another file name, e.g. "
            f"--duckdb-path {DEFAULT_DUCKDB_FILE}."
        )
    return path.resolve()


@dataclass(frozen=True)
class CheckedDestination:
    """A destination that passed `check_destination`.

    Attributes:
        label: For messages: the DuckDB file, or Postgres `user@host:port/db`.
        secrets: Values to redact from any message about it (the password).
    """

    label: str
    secrets: tuple[str, ...] = ()


def check_destination(
    destination: str,
    dataset_name: str,
    *,
    duckdb_file: str | None = None,
    postgres_credentials: str | None = None,
) -> CheckedDestination:
    """Checks what can be checked about the destination without loading.

    Raises:
        ConfigurationError: The DuckDB file's directory is missing or not
            writable, the path is not a DuckDB file, or the Postgres
            credentials are missing, incomplete or unreadable.
    """
    if destination == "duckdb":
        path = duckdb_path(duckdb_file, dataset_name)
        _check_duckdb_file(path)
        return CheckedDestination(f"DuckDB {path}")
    if destination == "postgres":
        return _check_postgres(postgres_credentials)
    raise ConfigurationError(
        f"Unknown destination {destination!r}: use {' or '.join(DESTINATIONS)}."
    )


def _check_duckdb_file(path: Path) -> None:
    hint = "choose another --duckdb-path (or DESTINATION__DUCKDB__CREDENTIALS)"
    if path.is_dir():
        raise ConfigurationError(
            f"The DuckDB path {path} is a directory: give a file name inside it, "
            f"e.g. {path / DEFAULT_DUCKDB_FILE}."
        )
    if not path.parent.is_dir():
        raise ConfigurationError(
            f"The directory of the DuckDB file {path} does not exist: create "
            f"{path.parent} or {hint}."
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise ConfigurationError(
            f"The directory {path.parent} of the DuckDB file is not writable: "
            f"fix its permissions or {hint}."
        )
    if not path.exists() or path.stat().st_size == 0:
        return
    if not os.access(path, os.R_OK | os.W_OK):
        raise ConfigurationError(
            f"The DuckDB file {path} is not readable and writable: fix its "
            f"permissions or {hint}."
        )
    with path.open("rb") as file:
        header = file.read(DUCKDB_MAGIC_OFFSET + len(DUCKDB_MAGIC))
    if header[DUCKDB_MAGIC_OFFSET:] != DUCKDB_MAGIC:
        raise ConfigurationError(
            f"The file {path} exists but is not a DuckDB database: move it away "
            f"or {hint}."
        )


def _check_postgres(explicit: str | None) -> CheckedDestination:
    where = (
        "the Postgres credentials"
        if explicit
        else "DESTINATION__POSTGRES__CREDENTIALS (or credentials under "
        "[destination.postgres] in .dlt/secrets.toml)"
    )
    target = (
        dlt.destinations.postgres(credentials=explicit)
        if explicit
        else dlt.destinations.postgres()
    )
    try:
        credentials = target.configuration(
            target.spec(), accept_partial=True
        ).credentials
    except (ConfigurationException, ValueError):
        raise ConfigurationError(
            f"Cannot read {where}: use a URL like {POSTGRES_URL_FORM}."
        ) from None
    fields = ("username", "password", "host", "database")
    missing = [name for name in fields if not getattr(credentials, name, None)]
    if len(missing) == len(fields):
        raise ConfigurationError(
            f"No Postgres credentials: set {where} to a URL like {POSTGRES_URL_FORM}."
        )
    if missing:
        raise ConfigurationError(
            f"The Postgres credentials lack {', '.join(missing)}: set {where} to a "
            f"URL like {POSTGRES_URL_FORM} (dlt needs a password even where the "
            "server trusts the client)."
        )
    label = (
        f"Postgres {credentials.username}@{credentials.host}:{credentials.port}/"
        f"{credentials.database}"
    )
    return CheckedDestination(label, (str(credentials.password), explicit or ""))


def destination_failure(
    target: CheckedDestination, error: BaseException
) -> DestinationError:
    """Turns whatever dlt raised into one line naming the destination and the
    root cause, with the destination's secrets redacted."""
    cause = root_cause(error)
    lines = str(cause).strip().splitlines()
    detail = lines[0].strip() if lines else type(cause).__name__
    for secret in target.secrets:
        if secret:
            detail = detail.replace(secret, "***")
    return DestinationError(
        f"{target.label} failed: {detail} - nothing after the last completed load was "
        "committed; fix the destination and run the same command again."
    )


def make_pipeline(
    destination: str,
    dataset_name: str,
    *,
    duckdb_file: str | None = None,
    postgres_credentials: str | None = None,
    pipelines_dir: str | None = None,
) -> dlt.Pipeline:
    """Creates (or reattaches to) the `emailgistics` pipeline.

    Raises:
        ConfigurationError: For an unknown destination or a clashing DuckDB file.
    """
    if destination == "duckdb":
        target: Any = dlt.destinations.duckdb(
            credentials=str(duckdb_path(duckdb_file, dataset_name))
        )
    elif destination == "postgres":
        target = (
            dlt.destinations.postgres(credentials=postgres_credentials)
            if postgres_credentials
            else dlt.destinations.postgres()
        )
    else:
        raise ConfigurationError(
            f"Unknown destination {destination!r}: use {' or '.join(DESTINATIONS)}."
        )
    if not dataset_name.strip():
        raise ConfigurationError("The dataset name must not be empty.")
    extra: dict[str, Any] = {"pipelines_dir": pipelines_dir} if pipelines_dir else {}
    pipeline: dlt.Pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=target,
        dataset_name=dataset_name,
        **extra,
    )
    # A signal must reach the caller as KeyboardInterrupt, between loads or
    # during one: dlt's own handler would finish the pool and report the
    # interrupted load as a destination failure.
    pipeline.runtime_config.intercept_signals = False
    return pipeline


@contextmanager
def pipeline_lock(pipelines_dir: str | None, wait_seconds: float = 0) -> Iterator[Path]:
    """Holds an exclusive lock for the `emailgistics` pipeline.

    dlt itself does not stop two processes from interleaving loads of one
    pipeline. The lock file sits next to the pipeline's working directory
    (`<pipelines_dir>/emailgistics.lock`) rather than inside it, because dlt may
    wipe and recreate that directory, which would silently void a held lock.

    Raises:
        PipelineLockedError: When another run holds the lock past `wait_seconds`.
    """
    root = Path(pipelines_dir or get_dlt_pipelines_dir())
    root.mkdir(parents=True, exist_ok=True)
    lock_path = root / f"{PIPELINE_NAME}.lock"
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        what_to_do = (
            f"waited {wait_seconds:g} s for it; wait longer or try again later"
            if wait_seconds > 0
            else "wait for it to finish, or pass --wait-for-lock SECONDS"
        )
        raise PipelineLockedError(
            f"Another run of pipeline {PIPELINE_NAME!r} is in progress "
            f"(lock {lock_path}): {what_to_do}; this run loaded nothing."
        ) from None
    try:
        yield lock_path
    finally:
        lock.release()
