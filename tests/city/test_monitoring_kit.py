"""The monitoring kit (deploy/prometheus, deploy/grafana) as its tools read it (promtool check
config, check rules, test rules), and every metric it names exposed by a running engine worker
and push process, read from their /metrics rather than from a list kept here."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.city.kit import DEPLOY, SYSTEMD, read_env_file, read_unit
from tests.displays.support import PushServer
from tests.support import EngineServer

PROMETHEUS = DEPLOY / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
RULES = PROMETHEUS / "alerts.yml"
RULES_TEST = PROMETHEUS / "alerts_test.yml"
DASHBOARD = DEPLOY / "grafana" / "clinicq.json"
# A metric of ours in an expression (job names are spelt with a hyphen, clinicq-engine).
OURS = re.compile(r"\bclinicq_[a-z0-9_]+")
# What each type of family writes as samples (prometheus_client's text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "unknown": ("",),
}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (`make promtool`: Debian's prometheus package)")
    return found


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    """deploy/prometheus copied with the token file Prometheus would read next to it."""
    for path in PROMETHEUS.iterdir():
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "clinicq.token").write_text("cq_example\n")
    return tmp_path


def test_promtool_accepts_the_scrape_config(kit: Path) -> None:
    """`promtool check config` accepts prometheus.yml and the rule file it loads."""
    done = run_promtool("check", "config", "prometheus.yml", cwd=kit)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rule files found" in done.stdout


def test_promtool_check_config_can_fail(kit: Path) -> None:
    """The check above can fail: without the token file it names, the config is refused."""
    (kit / "clinicq.token").unlink()
    done = run_promtool("check", "config", "prometheus.yml", cwd=kit)
    assert done.returncode != 0 and "clinicq.token" in done.stdout + done.stderr


def test_promtool_accepts_the_rules_and_their_unit_tests_pass(kit: Path) -> None:
    """`promtool check rules` accepts alerts.yml, and `promtool test rules` passes
    alerts_test.yml: alerts fire on their series and stay quiet on the near misses."""
    checked = run_promtool("check", "rules", "alerts.yml", cwd=kit)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run_promtool("test", "rules", "alerts_test.yml", cwd=kit)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_the_rules_unit_tests_can_fail(kit: Path) -> None:
    """A journal-lag alert that fired on any lag at all (not lag held for two minutes) fires for
    the busy clinic too, and `promtool test rules` says so."""
    rules = kit / "alerts.yml"
    text = rules.read_text()
    assert "min_over_time(clinicq_journal_lag_events" in text
    rules.write_text(text.replace("min_over_time(clinicq_journal_lag_events", "max_over_time("
                                  "clinicq_journal_lag_events"))  # fmt: skip
    tested = run_promtool("test", "rules", "alerts_test.yml", cwd=kit)
    assert tested.returncode != 0 and 'clinic="busy"' in tested.stdout + tested.stderr


def test_every_alert_says_what_it_means() -> None:
    """Each alert has a severity and a summary, and docs/DEPLOYMENT.md says what to do about it."""
    guide = (DEPLOY.parent / "docs" / "DEPLOYMENT.md").read_text()
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert f"`{rule['alert']}`" in guide, f"{rule['alert']} is not in docs/DEPLOYMENT.md"


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_expressions() -> list[str]:
    """Every PromQL expression of the dashboard, with Grafana's variables as Prometheus reads
    them once Grafana has filled them in."""
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    exprs += [
        re.sub(r"^label_values\((\w+), *\w+\)$", r"\1", v["definition"])
        for v in dashboard()["templating"]["list"]
        if v["type"] == "query"
    ]
    return [e.replace("$__rate_interval", "1m").replace("$clinic", ".*") for e in exprs]


def test_the_dashboard_is_grafana_json_whose_expressions_parse(tmp_path: Path) -> None:
    """The dashboard parses, its panels have distinct ids and a Prometheus target each, and
    promtool parses every expression (as recording rules: `check rules` parses each one)."""
    board = dashboard()
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    assert panels and all(p["targets"] and p["datasource"]["type"] == "prometheus" for p in panels)
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expr_{i}", "expr": e}
                    for i, e in enumerate(dashboard_expressions())
                ],
            }
        ]
    }
    (tmp_path / "dashboard_rules.yml").write_text(yaml.safe_dump(rules))
    done = run_promtool("check", "rules", "dashboard_rules.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def named_metrics() -> dict[str, set[str]]:
    """Every metric of ours the kit names, and where."""
    named: dict[str, set[str]] = {}
    for rule in alert_rules():
        for name in OURS.findall(rule["expr"]):
            named.setdefault(name, set()).add(f"alerts.yml: {rule['alert']}")
    for test in yaml.safe_load(RULES_TEST.read_text())["tests"]:
        for series in test["input_series"]:
            for name in OURS.findall(series["series"].split("{")[0]):
                named.setdefault(name, set()).add("alerts_test.yml")
    for expr in dashboard_expressions():
        for name in OURS.findall(expr):
            named.setdefault(name, set()).add("grafana/clinicq.json")
    return named


def exposed(text: str) -> set[str]:
    """The sample names a /metrics answer can carry: each family's, by its type, whether or not
    a labelled family has samples yet."""
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SUFFIXES[family.type]
    }


@pytest.fixture(scope="module")
def running(redis_url: str, database_url: str) -> Iterator[tuple[EngineServer, PushServer]]:
    """An engine worker that also sends the ICU's SMS (its sender's metrics join the engine's;
    the provider is a closed port: nothing is sent), and a push process."""
    env = {"CLINICQ_SMSC_LOGIN": "monitoring", "CLINICQ_SMSC_URL": "http://127.0.0.1:9/sys/"}
    engine = EngineServer(redis_url, database_url, workers=1, extra_env=env).start()
    try:
        push = PushServer(redis_url, database_url, processes=1).start()
        try:
            yield engine, push
        finally:
            push.stop()
    finally:
        engine.stop()


@pytest.mark.integration
async def test_every_metric_the_kit_names_is_exposed_by_a_running_server(
    running: tuple[EngineServer, PushServer],
) -> None:
    """Each clinicq_ metric in the alert rules, their unit tests and the dashboard is in the
    /metrics of a running engine worker or push process (the SMS sender's in the engine's)."""
    engine, push = running
    async with httpx.AsyncClient(timeout=10) as http:
        engine_text = (await http.get(engine.url + "/metrics")).text
        push_text = (await http.get(push.ws.replace("ws://", "http://") + "/metrics")).text
    found = exposed(engine_text) | exposed(push_text)
    assert {"clinicq_sms_balance", "clinicq_push_sockets"} <= found  # both servers answered
    named = named_metrics()
    missing = {name: sorted(where) for name, where in named.items() if name not in found}
    assert not missing, missing
    assert len(named) >= 20


def test_the_scrape_targets_are_the_ports_the_units_listen_on() -> None:
    """prometheus.yml scrapes each engine worker on CLINICQ_METRICS_PORT + i (i below
    CLINICQ_WORKERS), each push process on the push unit's --metrics-port + i (i below
    CLINICQ_PUSH_PROCESSES), and the SMS sender on the sms unit's --metrics-port; the
    environment file asks for a token, which the jobs send."""
    env = read_env_file()
    config = yaml.safe_load(CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    def ports(job: str) -> set[int]:
        targets = [t for c in jobs[job]["static_configs"] for t in c["targets"]]
        return {int(t.rsplit(":", 1)[1]) for t in targets}

    def flag(unit: str, name: str) -> int:
        line = read_unit(unit)["Service"]["ExecStart"]
        found = re.search(rf"{name} (\d+)", line)
        assert found is not None, f"{unit}: no {name}"
        return int(found[1])

    first, workers = int(env["CLINICQ_METRICS_PORT"]), int(env["CLINICQ_WORKERS"])
    assert ports("clinicq-engine") == set(range(first, first + workers))
    push = flag("clinicq-push.service", "--metrics-port")
    assert ports("clinicq-push") == set(range(push, push + int(env["CLINICQ_PUSH_PROCESSES"])))
    assert ports("clinicq-sms") == {flag("clinicq-sms.service", "--metrics-port")}
    assert env["CLINICQ_METRICS"] == "token"
    for job in jobs.values():
        assert job["authorization"]["credentials_file"] == "clinicq.token"
    assert (SYSTEMD / "clinicq.env").exists()
