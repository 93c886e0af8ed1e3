"""The image's HEALTHCHECK: GET /healthz of whichever server this container runs.

It reads the container's command (PID 1's, or the arguments given here, for tests): ``clinicq
serve`` answers on CLINICQ_PORT (or its ``--port``), ``clinicq push`` on its ``--port`` (8001 by
default); ``clinicq sms`` serves no HTTP, so a running container is a healthy one. Exit status
0 when healthy, 1 when not, as Docker's HEALTHCHECK reads it.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from engine.settings import Settings

PUSH_PORT = 8001  # clinicq push's default --port


def command() -> list[str]:
    """The container's command line after ``tini --``: clinicq and its arguments."""
    if len(sys.argv) > 1:
        return sys.argv[1:]
    args = [a for a in Path("/proc/1/cmdline").read_bytes().decode().split("\0") if a]
    return args[args.index("--") + 1 :] if "--" in args else args


def option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.partition("=")[2]
    return None


def port(args: list[str]) -> int | None:
    """The port this command serves /healthz on, or None for a command without HTTP."""
    verb = next((a for a in args[1:] if not a.startswith("-")), "serve")
    if verb == "serve":
        return int(option(args, "--port") or Settings.from_env().port)
    if verb == "push":
        return int(option(args, "--port") or PUSH_PORT)
    return None


def main() -> int:
    found = port(command())
    if found is None:
        return 0
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{found}/healthz", timeout=3) as answer:
            return 0 if answer.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
