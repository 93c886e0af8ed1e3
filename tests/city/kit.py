"""The deployment kit in ``deploy/`` as the tests use it: the nginx site rendered with the test's
addresses, and each systemd unit's command and environment file turned into a process to run.

The city-in-a-box test starts every application process from its unit's ``ExecStart`` with the
variables of ``deploy/systemd/clinicq.env``, overriding only the addresses and limits that are
the test's own, so a unit that stops working stops the test.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import sys
from pathlib import Path
from string import Template

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NGINX_SITE = DEPLOY / "nginx" / "clinicq.conf"
SYSTEMD = DEPLOY / "systemd"
UNITS = ("clinicq-engine.service", "clinicq-push.service", "clinicq-sms.service")
ENV_FILE = SYSTEMD / "clinicq.env"
PG_PRIMARY = DEPLOY / "postgresql" / "primary.conf"
PG_STANDBY = DEPLOY / "postgresql" / "standby.conf"
VALKEY_NODE = DEPLOY / "valkey" / "cluster-node.conf"
INSTALLED = "/opt/clinicq/.venv/bin/clinicq"  # where the units expect the product
SITE_NAMES = ("CLINICQ_LISTEN", "CLINICQ_APP1", "CLINICQ_APP2", "CLINICQ_APP3")

# nginx around the site file, for a server run by a test (Debian's /etc/nginx/nginx.conf plays
# this part in a real installation: it includes conf.d/*.conf inside `http {}`).
NGINX_MAIN = """\
daemon off;
master_process on;
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/clinicq.conf;
}}
"""


def render(path: Path, values: dict[str, str]) -> str:
    """A kit file with its ``${CLINICQ_...}`` names filled in (nginx's own $vars kept)."""
    text = Template(path.read_text()).safe_substitute(values)
    left = re.findall(r"\$\{CLINICQ_\w+\}", text)
    if left:
        raise ValueError(f"unfilled in {path.name}: {left}")
    return text


def render_site(values: dict[str, str]) -> str:
    """The nginx site for these addresses."""
    if set(values) != set(SITE_NAMES):
        raise ValueError(f"the site needs exactly {SITE_NAMES}")
    return render(NGINX_SITE, values)


def write_nginx(folder: Path, values: dict[str, str]) -> Path:
    """The rendered site and a main config around it in ``folder``; returns the main config."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "clinicq.conf").write_text(render_site(values))
    main = folder / "nginx.conf"
    main.write_text(NGINX_MAIN.format(dir=folder))
    return main


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )


def read_unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((SYSTEMD / name).read_text(), source=name)
    return unit


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """An ``EnvironmentFile=``: KEY=VALUE lines, # comments; empty values are left out."""
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
            raise ValueError(f"{path.name}:{number}: not KEY=VALUE: {line!r}")
        if value:
            out[key] = value
    return out


def unit_command(name: str, env: dict[str, str]) -> list[str]:
    """The unit's ``ExecStart`` as systemd runs it: ``${VAR}`` from ``env``, the product's
    command at this checkout's virtual environment instead of /opt/clinicq."""
    line = read_unit(name)["Service"]["ExecStart"]

    def expand(match: re.Match[str]) -> str:
        if match[1] not in env:
            raise KeyError(f"{name}: ExecStart uses ${{{match[1]}}}, which is not set")
        return env[match[1]]

    args = shlex.split(re.sub(r"\$\{(\w+)\}", expand, line))
    if args[0] != INSTALLED:
        raise ValueError(f"{name}: ExecStart should run {INSTALLED}")
    return [str(Path(sys.executable).with_name("clinicq")), *args[1:]]


def unit_environment(overrides: dict[str, str]) -> dict[str, str]:
    """The example EnvironmentFile with the test's values; every overridden name must be one the
    file names (so the file stays the list of what a deployment sets)."""
    base = read_env_file()
    names = {
        line.partition("=")[0].strip()
        for line in ENV_FILE.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    unknown = set(overrides) - names
    if unknown:
        raise KeyError(f"not in {ENV_FILE.name}: {sorted(unknown)}")
    return {**base, **overrides}
