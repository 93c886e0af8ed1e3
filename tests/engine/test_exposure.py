"""What the engine shows without a token: readiness as a yes or no, metrics to this host only."""

from __future__ import annotations

import httpx
import pytest

from clinicq.app import create_app
from clinicq.settings import Settings
from tests.support import MakeClinic


async def _metrics(settings: Settings, client: str) -> httpx.Response:
    # No lifespan: /metrics needs no store.
    transport = httpx.ASGITransport(app=create_app(settings), client=(client, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
        return await http.get("/metrics")


async def test_metrics_are_served_to_this_host_only_by_default() -> None:
    """From another address /metrics is 403 with a JSON error; from loopback, or with
    CLINICQ_METRICS=public, it is served."""
    closed = await _metrics(Settings(), "10.1.2.3")
    assert closed.status_code == 403 and closed.json()["error"]["code"] == "forbidden"
    local = await _metrics(Settings(), "127.0.0.1")
    assert local.status_code == 200 and "clinicq_fenced_total" in local.text
    assert "clinicq_journal_commits_total" in local.text
    opened = await _metrics(Settings(metrics_access="public"), "10.1.2.3")
    assert opened.status_code == 200


@pytest.mark.integration
async def test_readiness_names_no_clinic(clinics: MakeClinic) -> None:
    """/readyz says ready, and nothing of which clinics the server holds."""
    c = await clinics("ready")
    ready = await c.http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert c.clinic not in ready.text
