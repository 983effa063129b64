"""DATABASE_URL and DATA_DIR: the URL forms providers print work, and every mistake is one line naming the variable.

Each case runs the real command line (``run``, ``db upgrade``, ``doctor``) in a subprocess.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.cli import cli_env, run_cli
from tests.e2e.harness import free_port

TOKEN = "123456:ABCdefGHIjkl"
PASSWORD = "s3cret-Passw0rd"


def _env(tmp_path: Path, **variables: str) -> dict[str, str]:
    return cli_env(TELEGRAM_BOT_TOKEN=TOKEN, DATA_DIR=str(tmp_path / "data"), HTTP_PORT=str(free_port()), **variables)


def _provider_forms(database_url: str) -> list[str]:
    """The same database written the ways hosting providers and people write it."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return [url.set(drivername="sqlite").render_as_string(hide_password=False)]
    return [url.set(drivername=driver).render_as_string(hide_password=False) for driver in ("postgres", "postgresql")]


async def test_db_upgrade_accepts_the_url_forms_providers_print(database_url: str, tmp_path: Path) -> None:
    """postgres:// and postgresql:// run on asyncpg, sqlite:/// on aiosqlite, with no driver named by the user."""
    for form in _provider_forms(database_url):
        result = run_cli("db", "upgrade", env=_env(tmp_path, DATABASE_URL=form), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "database schema is up to date"
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [("run",), ("db", "upgrade")])
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"postgres://shop:{PASSWORD}@127.0.0.1:{{port}}/paylink",
            "DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{port}/paylink as shop: connection refused",
        ),
        (
            f"mysql://shop:{PASSWORD}@db.example.com/paylink",
            "DATABASE_URL: the 'mysql' driver is not supported; use postgres://",
        ),
        (
            f"postgresql+psycopg2://shop:{PASSWORD}@db.example.com/paylink",
            "DATABASE_URL: the 'postgresql+psycopg2' driver is not supported",
        ),
        ("sqlite://", "DATABASE_URL: a SQLite database needs a file"),
        ("not a url", "DATABASE_URL: is not a database URL"),
    ],
)
def test_a_database_url_mistake_is_one_line_without_the_password(
    tmp_path: Path, command: tuple[str, ...], url: str, expected: str
) -> None:
    port = str(free_port())  # nobody listens there
    result = run_cli(*command, env=_env(tmp_path, DATABASE_URL=url.format(port=port)), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"configuration error: {expected.format(port=port)}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert PASSWORD not in result.stderr + result.stdout


async def test_a_missing_postgresql_database_is_named(database_url: str, tmp_path: Path) -> None:
    """The server answers but the database does not exist: PostgreSQL's own words, in one line."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a PostgreSQL server is needed")
    missing = url.set(drivername="postgresql", database="no_such_paylink_db").render_as_string(hide_password=False)
    result = run_cli("db", "upgrade", env=_env(tmp_path, DATABASE_URL=missing), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("configuration error: DATABASE_URL: cannot connect to PostgreSQL at ")
    assert 'database "no_such_paylink_db" does not exist' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("command", [("run",), ("db", "upgrade")])
def test_a_data_dir_that_is_a_file_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    (tmp_path / "data").write_text("not a folder")
    result = run_cli(*command, env=_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"configuration error: DATA_DIR: {tmp_path / 'data'} is a file, not a folder; "
        "point DATA_DIR at a folder (it is created if missing)"
    )


def test_doctor_names_the_database_url_it_cannot_reach(tmp_path: Path) -> None:
    port = str(free_port())
    url = f"postgres://shop:{PASSWORD}@127.0.0.1:{port}/paylink"
    result = run_cli("doctor", env=_env(tmp_path, DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == 1
    failures = [line for line in result.stdout.splitlines() if line.startswith("✖")]
    expected = f"✖ DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{port}/paylink"
    assert any(line.startswith(expected) for line in failures), result.stdout
    assert PASSWORD not in result.stdout + result.stderr and "Traceback" not in result.stdout + result.stderr
