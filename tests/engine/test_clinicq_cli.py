"""The clinicq command line: real work on success, a one-line error and non-zero exit otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import TEST_KEY, MakeClinic

pytestmark = pytest.mark.integration


def clinicq(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "clinicq.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_tokens_are_created_listed_and_revoked(
    clinics: MakeClinic, database_url: str
) -> None:
    """A token is printed once; `token list` shows it (not its secret); `token revoke` ends it."""
    c = await clinics("cli")
    made = clinicq(
        "token", "create", "--role", "kiosk", "--clinic", c.clinic, DATABASE_URL=database_url
    )
    assert made.returncode == 0, made.stderr
    token_id, secret = made.stdout.split()
    assert token_id.startswith("tk_") and secret.startswith("cq_")
    r = await c.http.get(f"{c.api}/board", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200
    listed = clinicq("token", "list", DATABASE_URL=database_url)
    line = next(row for row in listed.stdout.splitlines() if row.startswith(token_id))
    assert "live" in line and secret not in listed.stdout
    assert clinicq("token", "revoke", token_id, DATABASE_URL=database_url).returncode == 0
    listed = clinicq("token", "list", DATABASE_URL=database_url)
    assert "revoked" in next(row for row in listed.stdout.splitlines() if row.startswith(token_id))
    again = clinicq("token", "revoke", token_id, DATABASE_URL=database_url)
    assert again.returncode != 0 and "no live token" in again.stderr


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
        (
            ["token", "create", "--role", "kiosk", "--clinic", "nowhere"],
            "db",
            "no clinic 'nowhere'",
        ),
        (["token", "create", "--role", "kiosk", "--clinic", "Ж😀"], "db", "no clinic"),
        (["audit", "verify", "--clinic", "nope"], "db", "no journal for clinic 'nope'"),
        (["token", "revoke", "tk_nothing"], "db", "no live token"),
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
