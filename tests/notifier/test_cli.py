"""``clinicq sms preview | send-due | status`` against the real database and SMSC server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import pytest
from click.testing import CliRunner, Result
from fake_smsc import FakeSmsc
from sms_helpers import seed

from engine.embedded import free_port
from notifier.cli import SmsCliConfig, sms
from notifier.settings import NotifierSettings
from notifier.store_postgres import SmsStore
from tests.support import sample, scrape

pytestmark = pytest.mark.integration


async def invoke(config: SmsCliConfig | None, *args: str) -> Result:
    """Run the command in a thread: it starts its own event loop, as from a shell."""
    return await asyncio.to_thread(CliRunner().invoke, sms, list(args), obj=config)


@pytest.fixture
def config(database_url: str, settings: NotifierSettings) -> SmsCliConfig:
    return SmsCliConfig(database_url, settings)


async def test_preview_prints_text_and_segments(store: SmsStore, config: SmsCliConfig) -> None:
    """Preview composes today's text from stored vitals without sending anything."""
    await seed(store)
    result = await invoke(config, "preview", "--patient", "p1")
    assert result.exit_code == 0, result.output
    assert "Т 38,7; П 137; АД 143/91" in result.output  # 3 parts max: short style
    assert result.output.strip().splitlines()[-1].startswith("-- 2 segment(s), ucs2")


async def test_send_due_then_status(store: SmsStore, config: SmsCliConfig, smsc: FakeSmsc) -> None:
    """send-due sends once (twice run), status lists the message with a masked number."""
    await seed(store)
    for _ in range(2):
        result = await invoke(config, "send-due")
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "delivered=1"
    assert len(smsc.messages) == 1
    result = await invoke(config, "status", "--patient", "p1")
    assert "+7 *** ***-00-01  delivered  delivered" in result.output
    assert "9165550001" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["preview"], "Error: --patient is required"),
        (["preview", "--patient", "p1", "--language", "de"], "Error: --language must be one of"),
        (["preview", "--patient", "nobody"], "Error: no such ICU patient"),
    ],
)
async def test_bad_input_is_one_line_and_nonzero(
    store: SmsStore, config: SmsCliConfig, args: list[str], message: str
) -> None:
    """Bad input ends with one error line and exit status 1."""
    await seed(store)
    result = await invoke(config, *args)
    assert result.exit_code == 1
    assert (
        result.output.strip().startswith(message) and len(result.output.strip().splitlines()) == 1
    )


async def test_missing_configuration_is_one_line() -> None:
    """Without the engine's settings the command says so in one line."""
    result = await invoke(None, "status")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1


def _sender_env(database_url: str, settings: NotifierSettings) -> dict[str, str]:
    """The environment the SMS sender's unit gives it: the database, the key, the provider."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "CLINICQ_ENCRYPTION_KEY": settings.encryption_key.hex(),
        "CLINICQ_SMSC_URL": settings.smsc_url,
        "CLINICQ_SMSC_LOGIN": settings.smsc_login,
        "CLINICQ_SMSC_PASSWORD": settings.smsc_password,
    }


async def test_send_due_loop_stops_gracefully_on_sigterm(
    database_url: str, settings: NotifierSettings
) -> None:
    """`send-due --loop` (the systemd unit's command) drains and exits 0 on SIGTERM."""
    env = _sender_env(database_url, settings)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clinicq.cli", "sms", "send-due", "--loop",
        env=env, stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stderr is not None
    log = b""
    try:
        async with asyncio.timeout(60):
            while b"sms-cli: started" not in log:
                line = await child.stderr.readline()
                assert line, f"the sender exited before it started: {log.decode()}"
                log += line
        child.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            log += await child.stderr.read()
            code = await child.wait()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert code == 0, log.decode()
    assert b"sms-cli: stopped" in log


async def test_send_due_loop_serves_its_metrics(
    store: SmsStore, database_url: str, settings: NotifierSettings, smsc: FakeSmsc
) -> None:
    """`send-due --loop --metrics-port N` (the systemd unit's command) serves Prometheus, on
    that port, the provider's balance it checked and its send outcomes (none yet: this test
    queues nothing; tests/notifier/test_delivery.py counts them)."""
    smsc.balance = "120.25"
    port = free_port()
    env = _sender_env(database_url, settings)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clinicq.cli", "sms", "send-due", "--loop",
        "--metrics-port", str(port),
        env=env, stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    balance = 0.0
    try:
        async with asyncio.timeout(60):
            while not balance > 0:  # NaN until the first check
                await asyncio.sleep(0.2)
                try:
                    metrics = await scrape(f"http://127.0.0.1:{port}/metrics")
                except httpx.HTTPError:
                    continue  # not listening yet
                balance = sample(metrics, "clinicq_sms_balance")
        child.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            code = await child.wait()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert code == 0
    assert balance == 120.25
    assert sample(metrics, "clinicq_sms_balance_alert_below") == settings.balance_alert_below
    assert ("clinicq_sms_sent_total", frozenset({("outcome", "refused")})) in metrics
