"""Print records in Redis, shared by every engine worker (key names in ``engine.keys``).

A print job runs in the worker that took the kiosk's request; its record here lets any worker
answer the kiosk's poll, reprint it, or show the printer's state on the dashboard.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from engine import keys
from ticketing.records import JobRecord, PrinterRecord

JOB_TTL_SECONDS: Final = 24 * 3600  # a ticket lives one day
PENDING: Final = b"pending"
PENDING_TTL_SECONDS: Final = 30  # a worker that died while submitting frees the ticket


class PrintRecords:
    """Job records, the job printed for each ticket, and each kiosk printer's last state."""

    def __init__(self, client: Any, *, ttl: int = JOB_TTL_SECONDS) -> None:
        self.client = client  # redis.asyncio.Redis or RedisCluster
        self.ttl = ttl

    async def claim_ticket(self, clinic: str, ticket: str) -> str | None:
        """Claim the first print of ``ticket``: None when this caller won, else what holds it
        (a job id, or ``"pending"`` while another request is submitting it)."""
        key = keys.ticket_print_job(clinic, ticket)
        if await self.client.set(key, PENDING, nx=True, ex=PENDING_TTL_SECONDS):
            return None
        held = await self.client.get(key)
        return held.decode() if held is not None else PENDING.decode()

    async def ticket_job(self, clinic: str, ticket: str) -> str | None:
        held = await self.client.get(keys.ticket_print_job(clinic, ticket))
        return held.decode() if held is not None else None

    async def bind_ticket(self, clinic: str, ticket: str, job: str) -> None:
        await self.client.set(keys.ticket_print_job(clinic, ticket), job, ex=self.ttl)

    async def release_ticket(self, clinic: str, ticket: str) -> None:
        await self.client.delete(keys.ticket_print_job(clinic, ticket))

    async def save_job(self, record: JobRecord) -> None:
        key = keys.print_job(record.clinic, record.id)
        await self.client.set(key, msgspec.json.encode(record), ex=self.ttl)

    async def job(self, clinic: str, job: str) -> JobRecord | None:
        raw = await self.client.get(keys.print_job(clinic, job))
        return msgspec.json.decode(raw, type=JobRecord) if raw is not None else None

    async def save_printer(self, clinic: str, record: PrinterRecord) -> None:
        await self.client.hset(keys.printers(clinic), record.kiosk, msgspec.json.encode(record))

    async def printers(self, clinic: str) -> dict[str, PrinterRecord]:
        raw = await self.client.hgetall(keys.printers(clinic))
        return {
            kiosk.decode(): msgspec.json.decode(value, type=PrinterRecord)
            for kiosk, value in raw.items()
        }
