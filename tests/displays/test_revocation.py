"""A revoked token stops working at once: on every engine worker, and its open sockets close.

Tokens are cached for 30 s in each process; a revocation is carried by PostgreSQL NOTIFY to
every engine worker and push process, which forget it and close its sockets (4401)."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from engine.auth import create_token, revoke_tokens
from tests.displays.support import PushServer
from tests.support import MakeClinic

pytestmark = pytest.mark.integration
DEADLINE = 10.0  # seconds; the cache alone would keep the token alive for 30


async def test_a_revoked_token_is_refused_everywhere_and_its_sockets_close(
    clinics: MakeClinic, push_server: PushServer, db: asyncpg.Pool
) -> None:
    """Cached on both workers and holding a screen's socket: after the revoke, every worker
    answers 401 and the socket is closed with 4401, long before the cache would expire."""
    c = await clinics("revoke")
    token_id, secret = await create_token(db, "display", clinic=c.clinic, label="revoke-test")
    headers = {"Authorization": f"Bearer {secret}", "Connection": "close"}
    for _ in range(10):  # a new connection each: both workers cache it
        assert (await c.http.get(f"{c.api}/board", headers=headers)).status_code == 200
    url = f"{push_server.ws}/ws/clinics/{c.clinic}?token={secret}"
    async with connect(url) as ws:
        assert '"hello"' in str(await ws.recv())
        revoked_at = time.monotonic()
        assert await revoke_tokens(db, token_id=token_id) == 1

        async with asyncio.timeout(DEADLINE):
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        while True:
            codes = {
                (await c.http.get(f"{c.api}/board", headers=headers)).status_code for _ in range(10)
            }
            if codes == {401}:
                break
            assert time.monotonic() - revoked_at < DEADLINE, codes
            await asyncio.sleep(0.1)
