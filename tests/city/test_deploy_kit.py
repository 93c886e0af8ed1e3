"""The deployment kit's files are valid as the tools that read them see them (nginx -t,
systemd-analyze verify) and agree with the product (commands, variables)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from clinicq.cli import main
from clinicq.settings import NOTIFIER_VARIABLES
from engine.settings import ENGINE_VARIABLES
from tests.city.kit import (
    ENV_FILE,
    INSTALLED,
    PG_PRIMARY,
    PG_STANDBY,
    SYSTEMD,
    UNITS,
    nginx_binary,
    read_env_file,
    read_unit,
    render,
    render_site,
    unit_command,
    write_nginx,
)

# Read by the units or by uvicorn rather than by Settings.
OTHER_VARIABLES = {"CLINICQ_PUSH_PROCESSES", "FORWARDED_ALLOW_IPS"}
SITE = {
    "CLINICQ_LISTEN": "127.0.0.1:8080",
    "CLINICQ_APP1": "10.0.1.11",
    "CLINICQ_APP2": "10.0.1.12",
    "CLINICQ_APP3": "10.0.1.13",
}


def test_site_renders_every_name_and_keeps_nginx_variables() -> None:
    """Rendering fills the site's names and leaves nginx's own variables alone."""
    text = render_site(SITE)
    assert "server 10.0.1.12:8001" in text and "listen 127.0.0.1:8080;" in text
    assert "hash $clinic consistent;" in text and "$http_upgrade" in text
    with pytest.raises(ValueError):
        render_site({k: v for k, v in SITE.items() if k != "CLINICQ_APP3"})


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    """`nginx -t` accepts the rendered site inside a main configuration."""
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (`make city-smoke` installs Debian's)")
    config = write_nginx(tmp_path, SITE)
    done = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", UNITS)
def test_unit_stops_gracefully_and_runs_a_real_command(name: str) -> None:
    """Each unit reads the environment file, stops on SIGTERM with a time-out, and runs a
    clinicq command that exists."""
    service = read_unit(name)["Service"]
    assert service["EnvironmentFile"] == "/etc/clinicq/clinicq.env"
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > 0
    args = unit_command(name, {"CLINICQ_PUSH_PROCESSES": "2", "CLINICQ_HOST": "10.0.1.11"})
    with click.Context(main) as ctx:
        command = main.get_command(ctx, args[1])
        assert command is not None, f"{name}: no `clinicq {args[1]}`"
        if isinstance(command, click.Group):
            assert command.get_command(ctx, args[2]) is not None


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing wrong in the units (with the command at this
    checkout's path, since it checks that the command exists)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    here = str(Path(sys.executable).with_name("clinicq"))
    for name in UNITS:
        (tmp_path / name).write_text((SYSTEMD / name).read_text().replace(INSTALLED, here))
    done = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_systemd_analyze_verify_can_fail(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key is reported."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    here = str(Path(sys.executable).with_name("clinicq"))
    unit = tmp_path / "clinicq-engine.service"
    text = (SYSTEMD / unit.name).read_text().replace(INSTALLED, here)
    unit.write_text(text.replace("TimeoutStopSec=", "TimeoutStopSecs="))
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    assert "TimeoutStopSecs" in done.stderr


def test_environment_file_names_only_what_is_read() -> None:
    """Every variable in the example environment file is one the product or its units read."""
    known = set(ENGINE_VARIABLES.values()) | set(NOTIFIER_VARIABLES.values()) | OTHER_VARIABLES
    names = {
        line.partition("=")[0]
        for line in ENV_FILE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert names <= known, names - known
    assert {"REDIS_URL", "DATABASE_URL", "CLINICQ_HOST"} <= set(read_env_file())


def test_postgresql_primary_waits_for_the_standby_it_names() -> None:
    """The standby's application_name is the one the primary's synchronous_standby_names waits
    for, and the standby, once promoted, waits for no standby of its own."""
    primary = PG_PRIMARY.read_text()
    standby = render(
        PG_STANDBY, {"CLINICQ_PG_PRIMARY": "10.0.2.20", "CLINICQ_PG_REPLICATION_USER": "r"}
    )
    name = re.search(r"application_name=(\w+)", standby)
    assert name is not None
    names = re.search(r"^synchronous_standby_names = '(.*)'$", primary, re.M)
    assert names is not None and re.search(rf"\b{name[1]}\b", names[1])
    assert re.search(r"^synchronous_standby_names = ''$", standby, re.M)
    assert "host=10.0.2.20 " in standby
