"""The Kubernetes manifests (deploy/k8s) as kustomize renders them, checked offline: every object
against the Kubernetes API's schema (kubernetes-validate), and against the product: the
containers run clinicq commands that exist, with variables the product reads, and the pods
started from them answer their probes on the ports and paths declared."""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx
import kubernetes_validate
import pytest
import yaml

from clinicq.cli import main
from clinicq.settings import NOTIFIER_VARIABLES, Settings
from engine.api.endpoints import ENDPOINTS
from engine.embedded import free_port
from engine.settings import ENGINE_VARIABLES
from loadtest.processes import ChildServer
from tests.city.kit import DEPLOY
from tests.support import CLUSTER, TEST_KEY

K8S = DEPLOY / "k8s"
OVERLAYS = ("base", "overlays/city")
HEALTHCHECK = DEPLOY / "container" / "healthcheck.py"
CLINICQ = str(Path(sys.executable).with_name("clinicq"))
# The oldest Kubernetes the manifests are meant for, and the newest the schemas know.
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
# Read by uvicorn rather than by Settings.
OTHER_VARIABLES = {"FORWARDED_ALLOW_IPS"}


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("no kubectl to run kustomize (`make kubectl` says where to get one)")
    return found


def render(name: str) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize deploy/k8s/<name>` renders."""
    done = subprocess.run(
        [kubectl(), "kustomize", str(K8S / name)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}"
    return found[0]


def deployments(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == "Deployment"]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def secret_example() -> dict[str, str]:
    lines = (K8S / "base" / "secrets.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_every_object_matches_the_kubernetes_schema(rendered: list[dict[str, Any]]) -> None:
    """Every rendered object is valid for its kind (strict: no unknown field) on the oldest and
    the newest Kubernetes the schemas cover."""
    kinds = {o["kind"] for o in rendered}
    assert {"ConfigMap", "Service", "Deployment", "PodDisruptionBudget"} <= kinds
    for version in VERSIONS:
        for obj in rendered:
            kubernetes_validate.validate(obj, version, strict=True)


def test_the_schema_check_can_fail(rendered: list[dict[str, Any]]) -> None:
    """The check above can fail: a misspelt probe field and a missing container name."""
    engine = copy.deepcopy(find(rendered, "Deployment", "clinicq-engine"))
    spec = engine["spec"]["template"]["spec"]["containers"][0]
    spec["readinessProbe"]["httpGet"]["paht"] = spec["readinessProbe"]["httpGet"].pop("path")
    with pytest.raises(kubernetes_validate.ValidationError, match="paht"):
        kubernetes_validate.validate(engine, VERSIONS[0], strict=True)
    del spec["name"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(engine, VERSIONS[0], strict=False)


def test_containers_run_clinicq_commands_that_exist(rendered: list[dict[str, Any]]) -> None:
    """Each Deployment runs the image with a clinicq command (after the image's entrypoint)
    that exists, with options that command has."""
    commands = {}
    for deployment in deployments(rendered):
        spec = container(deployment)
        assert "command" not in spec, "the image's entrypoint (tini, clinicq) is kept"
        assert spec["image"] == "registry.example.org/clinicq:0.1.0"
        args = list(spec["args"])
        with click.Context(main) as ctx:
            command = main.get_command(ctx, args[0])
            assert command is not None, f"no `clinicq {args[0]}`"
            words = [args[0]]
            if isinstance(command, click.Group):
                command = command.get_command(ctx, args[1])
                assert command is not None, f"no `clinicq {' '.join(args[:2])}`"
                words.append(args[1])
            options = {o for p in command.params for o in p.opts}
            flags = [a for a in args if a.startswith("--")]
            assert set(flags) <= options, set(flags) - options
        commands[deployment["metadata"]["name"]] = " ".join(words)
    assert commands == {
        "clinicq-engine": "serve",
        "clinicq-push": "push",
        "clinicq-sms": "sms send-due",
    }


def test_environment_names_only_what_the_product_reads(rendered: list[dict[str, Any]]) -> None:
    """The ConfigMap and the Secret's example name only variables the product or uvicorn reads,
    and the product's own Settings accept them: a cluster, listening on every interface."""
    known = set(ENGINE_VARIABLES.values()) | set(NOTIFIER_VARIABLES.values()) | OTHER_VARIABLES
    config = find(rendered, "ConfigMap", "clinicq")["data"]
    secret = secret_example()
    assert set(config) <= known, set(config) - known
    assert set(secret) <= known, set(secret) - known
    assert "REDIS_URL" in config and "DATABASE_URL" in secret and not set(config) & set(secret)
    settings = Settings.from_env({**config, **secret})
    assert settings.redis_cluster and settings.host == "0.0.0.0"
    for deployment in deployments(rendered):
        refs = container(deployment)["envFrom"]
        assert {"configMapRef": {"name": "clinicq"}} in refs
        assert {"secretRef": {"name": "clinicq-secrets"}} in refs


def test_engine_probes_are_the_apps_health_endpoints(rendered: list[dict[str, Any]]) -> None:
    """The engine's liveness and start-up probes ask an endpoint of the app that needs no token
    and never reports the stores (no 503); its readiness probe asks the one that does."""
    spec = container(find(rendered, "Deployment", "clinicq-engine"))
    public = {e.path: e for e in ENDPOINTS if e.method == "GET" and e.public}
    for probe in ("livenessProbe", "startupProbe"):
        path = spec[probe]["httpGet"]["path"]
        assert path in public and 503 not in public[path].errors, (probe, path)
    ready = spec["readinessProbe"]["httpGet"]["path"]
    assert ready in public and 503 in public[ready].errors
    config = find(rendered, "ConfigMap", "clinicq")["data"]
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert ports == {"http": Settings.from_env(config).port}


def test_services_and_budgets_select_their_pods(rendered: list[dict[str, Any]]) -> None:
    """Each Service and PodDisruptionBudget selects the pods of one Deployment, a Service's
    target port is a port its container declares, the probes name declared ports, and the
    SMS sender runs alone."""
    pods = {
        d["metadata"]["name"]: (d["spec"]["template"]["metadata"]["labels"], container(d))
        for d in deployments(rendered)
    }
    for d in deployments(rendered):
        assert (
            d["spec"]["selector"]["matchLabels"].items() <= pods[d["metadata"]["name"]][0].items()
        )
    for kind in ("Service", "PodDisruptionBudget"):
        for name in ("clinicq-engine", "clinicq-push"):
            obj = find(rendered, kind, name)
            selector = obj["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            chosen = [n for n, (labels, _) in pods.items() if selector.items() <= labels.items()]
            assert chosen == [name], (kind, name, chosen)
            if kind == "Service":
                declared = {p["name"] for p in pods[name][1]["ports"]}
                assert {p["targetPort"] for p in obj["spec"]["ports"]} <= declared
    for _, spec in pods.values():
        declared = {p["name"] for p in spec.get("ports", [])}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in spec:
                assert spec[probe]["httpGet"]["port"] in declared
    assert find(rendered, "Deployment", "clinicq-sms")["spec"]["replicas"] == 1


def test_the_city_overlay_scales_the_base() -> None:
    """The city runs more engine and push pods than the base, in its own namespace, with one
    pod of each to spare under its PodDisruptionBudget, and points the stores at its hosts."""
    base, city = render("base"), render("overlays/city")
    for name in ("clinicq-engine", "clinicq-push"):
        replicas = find(city, "Deployment", name)["spec"]["replicas"]
        assert replicas > find(base, "Deployment", name)["spec"]["replicas"] >= 2
        assert find(city, "PodDisruptionBudget", name)["spec"]["maxUnavailable"] == 1
    assert {o["metadata"].get("namespace") for o in city if o["kind"] != "Namespace"} == {"clinicq"}
    stores = [o for o in city if o["kind"] == "Service" and o["spec"].get("type") == "ExternalName"]
    assert {s["metadata"]["name"] for s in stores} == {
        "valkey",
        "postgresql-primary",
        "postgresql-standby",
    }
    assert all("mos." in s["spec"]["externalName"] for s in stores)


def as_in_the_pod(args: list[str], spec: dict[str, Any], data: Path) -> list[str]:
    """``args`` run with the pod's filesystem where the machine allows (root, util-linux's
    unshare): the root read-only (readOnlyRootFilesystem), writable only where the pod mounts
    its volumes, /tmp and the data directory (here ``data``, named by CLINICQ_DATA_DIR)."""
    mounts = {m["mountPath"] for m in spec["volumeMounts"]}
    assert mounts == {"/tmp", "/var/lib/clinicq"}, mounts
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return args
    script = (
        'mount --bind /tmp /tmp && mount --bind "$0" "$0" && mount --bind / / '
        '&& mount -o remount,bind,ro / && exec "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(data), *args]


def healthcheck(args: list[str], env: dict[str, str]) -> int:
    """The image's HEALTHCHECK for a container running ``args``: its exit status."""
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *args], env=env, check=False, timeout=30
    ).returncode


@pytest.mark.integration
@pytest.mark.parametrize("name", ["clinicq-engine", "clinicq-push"])
def test_pods_answer_their_probes_and_stop_on_term(
    name: str, redis_url: str, database_url: str, tmp_path: Path
) -> None:
    """A Deployment's container, run as the image runs it (clinicq and the container's args,
    with the ConfigMap's environment and the suite's stores, on a free port; on a read-only
    root but for its volumes, as root can arrange), answers every probe with 200 on the
    declared path, passes the image's health check, and ends within the grace period the pod
    gives it after its preStop."""
    objects = render("overlays/city")
    deployment = find(objects, "Deployment", name)
    spec = container(deployment)
    port = free_port()
    (declared,) = spec["ports"]
    args = [str(port) if a == str(declared["containerPort"]) else a for a in spec["args"]]
    env = {
        **os.environ,
        **find(objects, "ConfigMap", "clinicq")["data"],
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "CLINICQ_REDIS_CLUSTER": "1" if CLUSTER else "0",
        "CLINICQ_HOST": "127.0.0.1",
        "CLINICQ_PORT": str(port),
        "CLINICQ_ENCRYPTION_KEY": TEST_KEY,
        # As the image has them (its ENV and WORKDIR), the data directory being a volume.
        "CLINICQ_DATA_DIR": str(tmp_path),
        "HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    probes = {p: spec[p]["httpGet"] for p in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert {probe["port"] for probe in probes.values()} == {declared["name"]}
    base = f"http://127.0.0.1:{port}"
    child = ChildServer(
        as_in_the_pod([CLINICQ, *args], spec, tmp_path),
        base + probes["readinessProbe"]["path"],
        env,
        name,
    ).start(timeout=60)
    try:
        for probe, get in probes.items():
            answer = httpx.get(base + get["path"], timeout=10)
            assert answer.status_code == 200, (probe, answer.status_code, answer.text)
        assert httpx.get(base + "/no-such-probe", timeout=10).status_code == 404
        assert healthcheck(["clinicq", *args], env) == 0
        pod = deployment["spec"]["template"]["spec"]
        pre_stop = int(spec["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert child.process is not None
        started = time.monotonic()
        child.process.send_signal(signal.SIGTERM)
        child.process.wait(timeout=pod["terminationGracePeriodSeconds"] - pre_stop)
        assert time.monotonic() - started < pod["terminationGracePeriodSeconds"] - pre_stop
    finally:
        child.kill()
    assert healthcheck(["clinicq", *args], env) == 1


@pytest.mark.integration
def test_the_sms_sender_runs_until_term(database_url: str, db: object, tmp_path: Path) -> None:
    """The SMS Deployment's command, with the ConfigMap's environment and a key, on a database
    the engine has prepared (`db`) and the pod's read-only root, starts its loop, and on
    SIGTERM stops it and exits 0 within its grace period."""
    objects = render("overlays/city")
    deployment = find(objects, "Deployment", "clinicq-sms")
    data = tmp_path / "data"
    data.mkdir()
    env = {
        **os.environ,
        **find(objects, "ConfigMap", "clinicq")["data"],
        "DATABASE_URL": database_url,
        "CLINICQ_ENCRYPTION_KEY": TEST_KEY,
        "CLINICQ_DATA_DIR": str(data),
        "HOME": str(data),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    log = tmp_path / "sms.log"
    spec = container(deployment)
    with log.open("wb") as out:
        process = subprocess.Popen(
            as_in_the_pod([CLINICQ, *spec["args"]], spec, data),
            env=env,
            stdin=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while "sms-cli: started" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert process.wait(timeout=grace) == 0, log.read_text()
        assert "sms-cli: stopped" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
