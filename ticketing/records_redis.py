"""Print records in Redis, shared by every engine worker (key names in ``engine.keys``).

A print job runs in the worker that took the kiosk's request; its record here lets any worker
answer the kiosk's poll, reprint it, or show the printer's state on the dashboard.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from engine import keys
from ticketing.records import JobRecord, PrinterRecord, Roll
from ticketing.records_postgres import PrintJournal

JOB_TTL_SECONDS: Final = 24 * 3600  # a ticket lives one day
PENDING: Final = b"pending"
PENDING_TTL_SECONDS: Final = 30  # a worker that died while submitting frees the ticket
ROLL_CHANGE_GAP_MS: Final = 10 * 60 * 1000  # one roll change, though every worker may notice it

# A new roll: what the old one printed becomes ``last``, the count restarts. Each worker sees the
# printer recover on its own; the first one within the gap is the change, the rest are echoes.
_ROLL_CHANGED: Final = """
local since = redis.call('HGET', KEYS[1], ARGV[1] .. ':since') or '0'
local at = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':at') or '0')
if tonumber(ARGV[2]) - at < tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1] .. ':last', since, ARGV[1] .. ':since', 0, ARGV[1] .. ':at', ARGV[2])
return 1
"""


class PrintRecords:
    """Job records, the job printed for each ticket, and each kiosk printer's last state."""

    def __init__(
        self, client: Any, journal: PrintJournal | None = None, *, ttl: int = JOB_TTL_SECONDS
    ) -> None:
        self.client = client  # redis.asyncio.Redis or RedisCluster
        self.journal = journal  # the truth about jobs when given; Redis is then a working copy
        self.ttl = ttl

    async def claim_ticket(self, clinic: str, ticket: str) -> str | None:
        """Claim the first print of ``ticket``: None when this caller won, else what holds it
        (a job id, or ``"pending"`` while another request is submitting it)."""
        key = keys.ticket_print_job(clinic, ticket)
        if await self.client.set(key, PENDING, nx=True, ex=PENDING_TTL_SECONDS):
            first = await self.journal.first_job(clinic, ticket) if self.journal else None
            if first is None:
                return None
            # Redis lost the claim (a rebuild after a loss): the ticket was printed already.
            await self.bind_ticket(clinic, ticket, first)
            return first
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
        if self.journal is not None:
            await self.journal.save(record)  # first: what Redis says, PostgreSQL has
        key = keys.print_job(record.clinic, record.id)
        await self.client.set(key, msgspec.json.encode(record), ex=self.ttl)

    async def job(self, clinic: str, job: str) -> JobRecord | None:
        raw = await self.client.get(keys.print_job(clinic, job))
        if raw is not None:
            return msgspec.json.decode(raw, type=JobRecord)
        record = await self.journal.job(clinic, job) if self.journal else None
        if record is not None:  # back into the working copy for the next poll
            await self.client.set(
                keys.print_job(clinic, job), msgspec.json.encode(record), ex=self.ttl
            )
        return record

    async def save_printer(self, clinic: str, record: PrinterRecord) -> None:
        await self.client.hset(keys.printers(clinic), record.kiosk, msgspec.json.encode(record))

    async def printers(self, clinic: str) -> dict[str, PrinterRecord]:
        raw = await self.client.hgetall(keys.printers(clinic))
        return {
            kiosk.decode(): msgspec.json.decode(value, type=PrinterRecord)
            for kiosk, value in raw.items()
        }

    async def count_printed(self, clinic: str, kiosk: str) -> None:
        """One more ticket confirmed on the kiosk printer's current roll."""
        await self.client.hincrby(_rolls(clinic), f"{kiosk}:since", 1)

    async def roll_changed(self, clinic: str, kiosk: str, at_ms: int) -> None:
        await self.client.eval(_ROLL_CHANGED, 1, _rolls(clinic), kiosk, at_ms, ROLL_CHANGE_GAP_MS)

    async def rolls(self, clinic: str) -> dict[str, Roll]:
        """Tickets printed on each kiosk printer's roll, and on its previous roll when known."""
        raw = {k.decode(): int(v) for k, v in (await self.client.hgetall(_rolls(clinic))).items()}
        kiosks = {field.rpartition(":")[0] for field in raw}
        return {k: Roll(since=raw.get(f"{k}:since", 0), last=raw.get(f"{k}:last")) for k in kiosks}

    async def seen(self, clinic: str, kiosk: str, at_ms: int) -> None:
        await self.client.hset(_stats(clinic), f"{kiosk}:seen", at_ms)

    async def job_finished(self, clinic: str, kiosk: str, state: str, day: str, at: int) -> None:
        """Count a finished job in the printer's day; a confirmed one is its last print."""
        if state == "printed":
            await self.client.hset(_stats(clinic), f"{kiosk}:printed", at)
        else:
            what = "unconfirmed" if state == "unknown" else "failed"
            await self.client.hincrby(_stats(clinic), f"{kiosk}:{what}:{day}", 1)

    async def stats(self, clinic: str) -> dict[str, int]:
        raw = await self.client.hgetall(_stats(clinic))
        return {k.decode(): int(v) for k, v in raw.items()}

    async def announce(self, clinic: str, kiosk: str) -> None:
        """Tell the screens (the push server's feed) that a printer's view changed."""
        await self.client.xadd(keys.printer_log(clinic), {"k": kiosk}, maxlen=100, approximate=True)


def _stats(clinic: str) -> str:
    return keys.clinic_key(clinic, "printers:stats")


def _rolls(clinic: str) -> str:
    # Under "printers", so a rebuild from the journal keeps it (``keys._KEPT``).
    return keys.clinic_key(clinic, "printers:rolls")
