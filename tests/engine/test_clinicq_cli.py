"""The clinicq command line: real work on success, a one-line error and non-zero exit otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import TEST_KEY

pytestmark = pytest.mark.integration


def clinicq(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_token_create_prints_a_working_token_once(database_url: str) -> None:
    """A token is printed with its id; the database keeps only its digest."""
    result = clinicq(
        "token", "create", "--role", "kiosk", "--clinic", "demo", DATABASE_URL=database_url
    )
    assert result.returncode == 0, result.stderr
    token_id, token = result.stdout.split()
    assert token_id.startswith("tk_") and token.startswith("cq_")


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (
            ["token", "create", "--role", "doctor", "--clinic", "demo"],
            "db",
            "needs --clinic and --doctor",
        ),
        (["token", "create", "--role", "wizard"], "db", "Invalid value for '--role'"),
        (["token", "create", "--role", "admin"], "", "set DATABASE_URL"),
        (["serve"], "", "set REDIS_URL and DATABASE_URL"),
        (["audit", "verify"], "", "set DATABASE_URL"),
        (["serve"], "port", "CLINICQ_PORT must be a TCP port"),
        (["sms", "status"], "", "the sms commands need"),
    ],
)
def test_bad_invocations_fail_in_one_line(
    database_url: str, args: list[str], env: str, needle: str
) -> None:
    """Each mistake is one clear line on stderr and a non-zero exit, never a traceback."""
    extra = {"DATABASE_URL": database_url} if env == "db" else {}
    if env == "port":
        extra = {"CLINICQ_PORT": "99999"}
    result = clinicq(*args, **extra)
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_sms_status_runs_against_the_engine_database(database_url: str) -> None:
    """With the database and the key set, `clinicq sms status` answers."""
    result = clinicq("sms", "status", DATABASE_URL=database_url, CLINICQ_ENCRYPTION_KEY=TEST_KEY)
    assert result.returncode == 0, result.stderr
