"""The live state in Redis: run the Lua decisions, read boards, dump and restore a clinic.

This is the only module that talks to Redis for the queue; everything above it sees events and
plain snapshots.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from engine import keys
from engine.errors import Unavailable
from engine.model import events as ev
from engine.model.entities import Call, DoctorDuty, Reservation, Ticket
from engine.model.events import link_of
from engine.model.matching import number_matches, patient_key
from engine.model.state import ClinicState, ServiceStats
from engine.scripts import NAMES, STANDALONE, source


class NotLoaded(Exception):
    """The clinic has no live state in Redis (restart, failover, flush): rebuild it first."""


@dataclass(frozen=True)
class ScriptAnswer:
    events: list[ev.AnyEvent]
    bodies: list[str]  # each event's exact JSON text, as journaled and hashed
    result: dict[str, Any]
    raw: bytes  # the whole answer, as kept for a retried request
    epoch: str  # the clinic's live state the decision was made on
    prev_link: str  # the link of the event decided just before the first one here
    error: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Position:
    """Where a clinic's live state stands: its epoch, last offset and that event's link."""

    epoch: str | None
    offset: int
    link: str


class _Answer(msgspec.Struct):
    prev: str = ""
    events: list[msgspec.Raw] = msgspec.field(default_factory=list)
    result: msgspec.Raw = msgspec.Raw(b"{}")
    error: str | None = None
    message: str = ""


_answer_decoder = msgspec.json.Decoder(_Answer)
_result_types: dict[str, Any] = {"ticket": Ticket, "doctor": DoctorDuty, "reservation": Reservation}


def decode_result(raw: bytes) -> dict[str, Any]:
    """A script's ``result`` object with its snapshots typed."""
    data = msgspec.json.decode(raw) if raw else {}
    if not isinstance(data, dict):
        return {}
    return {
        k: msgspec.convert(v, _result_types[k]) if k in _result_types else v
        for k, v in data.items()
    }


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


class RedisStore:
    def __init__(self, client: Any, *, stream_max: int, idempotency_ttl: int) -> None:
        # redis-py types every reply as a broad union; the replies here are known bytes shapes.
        self.client: Any = client
        self.stream_max = stream_max
        self.idempotency_ttl = idempotency_ttl
        self._scripts: dict[str, AsyncScript] = {}

    async def load_scripts(self) -> None:
        """Register every script and load it now, so a broken script fails start-up."""
        for name in (*NAMES, *STANDALONE):
            script = self.client.register_script(source(name))
            await self.client.script_load(source(name))
            self._scripts[name] = script

    async def run(
        self,
        name: str,
        clinic: str,
        now: int,
        day: str,
        args: list[str | int],
        *,
        idem_key: str = "",
        request_fingerprint: str = "",
    ) -> ScriptAnswer:
        argv: list[str | int] = [
            keys.prefix(clinic),
            now,
            day,
            self.stream_max,
            idem_key,
            self.idempotency_ttl,
            request_fingerprint,
            *args,
        ]
        try:
            epoch, raw = await self._scripts[name](keys=[keys.meta(clinic)], args=argv)
        except RedisError as exc:
            raise Unavailable(f"the live store did not answer: {exc.__class__.__name__}") from exc
        answer = _answer_decoder.decode(raw)
        if answer.error == "not_loaded":
            raise NotLoaded(clinic)
        bodies = [bytes(e).decode() for e in answer.events]
        return ScriptAnswer(
            events=[ev.decode_event(b) for b in bodies],
            bodies=bodies,
            result={} if answer.error else decode_result(bytes(answer.result)),
            raw=raw,
            epoch=epoch.decode(),
            prev_link=answer.prev,
            error=answer.error,
            message=answer.message,
        )

    async def fence(self, clinic: str, epoch: str) -> bool:
        """Stop decisions on a clinic's live state of ``epoch`` until it is rebuilt."""
        try:
            return bool(await self._scripts["fence"](keys=[keys.meta(clinic)], args=[epoch]))
        except RedisError as exc:
            raise Unavailable(f"the live store did not answer: {exc.__class__.__name__}") from exc

    async def position(self, clinic: str) -> Position:
        epoch, offset, link = await self.client.hmget(
            keys.meta(clinic), ["epoch", "offset", "link"]
        )
        return Position(
            epoch.decode() if epoch else None, int(offset or 0), link.decode() if link else ""
        )

    async def stream_after(
        self, clinic: str, offset: int, count: int = 10_000
    ) -> list[tuple[int, str, str, str]]:
        """(offset, event body, idempotency key, prev link) of stream entries after ``offset``."""
        rows = await self.client.xrange(keys.events(clinic), min=f"({offset}-0", count=count)
        return [
            (
                int(entry_id.split(b"-")[0]),
                fields[b"e"].decode(),
                fields.get(b"i", b"").decode(),
                fields.get(b"p", b"").decode(),
            )
            for entry_id, fields in rows
            if b"e" in fields  # not a rebuild's epoch marker
        ]

    async def stream_link(self, clinic: str, offset: int) -> str | None:
        """The link of the stream's event at ``offset`` (None when the stream lacks it)."""
        rows = await self.client.xrange(keys.events(clinic), min=f"{offset}-0", max=f"{offset}-0")
        return link_of(rows[0][1][b"e"].decode()) if rows else None

    async def idem_record(self, clinic: str, key: str) -> str | None:
        value = await self.client.get(keys.idem(clinic, key))
        return value.decode() if value else None

    async def ticket_of_link(self, clinic: str, link: str) -> str | None:
        """The id of today's ticket that a patient's status link names."""
        found = await self.client.hget(keys.clinic_key(clinic, "links"), link)
        if found is None:
            if not await self.is_loaded(clinic):
                raise NotLoaded(clinic)
            return None
        return str(found.decode())

    async def ticket(self, clinic: str, ticket_id: str) -> tuple[Ticket, int] | None:
        """A ticket and how many are ahead of it now (0 unless it waits)."""
        raw = await self.client.hget(keys.clinic_key(clinic, "tickets"), ticket_id)
        if raw is None:
            if not await self.is_loaded(clinic):
                raise NotLoaded(clinic)
            return None
        t = msgspec.json.decode(raw, type=Ticket)
        if t.state != "waiting":
            return t, 0
        k = lambda name: keys.clinic_key(clinic, name)  # noqa: E731
        if t.slot_time is not None:
            ahead = await self.client.zcount(k(f"bk:{t.doctor}"), "-inf", f"({t.slot_time}")
        elif t.priority:
            ahead = await self.client.zcount(k(f"wp:{t.service}"), "-inf", f"({t.arrival}")
        else:
            ahead = await self.client.zcard(k(f"wp:{t.service}")) + await self.client.zcount(
                k(f"wn:{t.service}"), "-inf", f"({t.arrival}"
            )
        return t, int(ahead)

    async def tickets_numbered(self, clinic: str, typed: tuple[str, int]) -> list[Ticket]:
        """Today's tickets whose number is the one typed (``matching.number_key``): one scan of
        the day's tickets, a few thousand at most, for a registrar's lookup."""
        raws = await self.client.hvals(keys.clinic_key(clinic, "tickets"))
        if not raws and not await self.is_loaded(clinic):
            raise NotLoaded(clinic)
        found = (msgspec.json.decode(raw, type=Ticket) for raw in raws)
        return [t for t in found if number_matches(typed, t.number)]

    async def rates(self, clinic: str, service: str) -> tuple[int, int, int]:
        """(patients served today, their total service seconds, doctors on duty) for a service."""
        k = lambda name: keys.clinic_key(clinic, name)  # noqa: E731
        served, seconds = await self.client.hmget(
            k("stats"), [f"{service}:served", f"{service}:seconds"]
        )
        on_duty = await self.client.hget(k("dutyn"), service)
        return int(served or 0), int(seconds or 0), int(on_duty or 0)

    async def doctor_cabinet(self, clinic: str, doctor: str) -> str | None:
        """The doctor's cabinet in the live roster (kept while off duty); None before any duty."""
        raw = await self.client.hget(keys.clinic_key(clinic, "doctors"), doctor)
        return msgspec.json.decode(raw, type=DoctorDuty).cabinet if raw else None

    async def slot_holders(self, clinic: str, slot_ids: list[str]) -> dict[str, Reservation]:
        if not slot_ids:
            return {}
        rids = await self.client.hmget(keys.clinic_key(clinic, "slots"), slot_ids)
        found = {s: r.decode() for s, r in zip(slot_ids, rids, strict=True) if r}
        if not found:
            return {}
        raws = await self.client.hmget(keys.clinic_key(clinic, "res"), list(found.values()))
        out = {}
        for (slot, _), raw in zip(found.items(), raws, strict=True):
            if raw:
                out[slot] = msgspec.json.decode(raw, type=Reservation)
        return out

    async def reservations_of(self, clinic: str, patient: str) -> list[Reservation]:
        """The reservations made for a patient reference (compared as ``matching.patient_key``),
        in any state: one scan of the clinic's reservations, for a registrar's lookup."""
        key = patient_key(patient)
        raws = await self.client.hvals(keys.clinic_key(clinic, "res"))
        found = (msgspec.json.decode(raw, type=Reservation) for raw in raws)
        return [r for r in found if patient_key(r.patient) == key]

    async def reservation(self, clinic: str, rid: str) -> Reservation | None:
        raw = await self.client.hget(keys.clinic_key(clinic, "res"), rid)
        return msgspec.json.decode(raw, type=Reservation) if raw else None

    # -- reads ---------------------------------------------------------------------------------

    async def is_loaded(self, clinic: str) -> bool:
        return bool(await self.client.hexists(keys.meta(clinic), "epoch"))

    async def dump(self, clinic: str) -> ClinicState:
        """Read a clinic's whole live state (the rebuild check, the model tests)."""
        state, _ = await self.snapshot(clinic)
        return state

    async def snapshot(self, clinic: str) -> tuple[ClinicState, str]:
        """A clinic's whole live state and the epoch it belongs to, read in one transaction,
        so a rebuild can never slip between the two."""
        k = lambda name: keys.clinic_key(clinic, name)  # noqa: E731
        async with self.client.pipeline(transaction=True) as pipe:
            for name in ("meta", "seq", "tickets", "doctors", "res", "slots", "stats"):
                pipe.hgetall(k(name))
            pipe.lrange(k("calls"), 0, -1)
            meta, seq, tickets, doctors, res, slots, stats, calls = await pipe.execute()
        return _state(clinic, meta, seq, tickets, doctors, res, slots, stats, calls)

    async def board_state(self, clinic: str, services: Sequence[str]) -> tuple[ClinicState, str]:
        """The part of a clinic's live state a board is built from, and its epoch, in one atomic
        read through the live indexes (``lua/board_state.lua``): the tickets waiting in walk-in
        queues and in doctors' hands, never the day's finished ones or the booking window, so
        that a board costs the same on day 300 as on day 1 and at 19:00 as at 08:00."""
        try:
            meta, doctors, stats, calls, tickets = await self._scripts["board_state"](
                keys=[keys.meta(clinic)], args=[keys.prefix(clinic), *services]
            )
        except RedisError as exc:
            raise Unavailable(f"the live store did not answer: {exc.__class__.__name__}") from exc
        pairs = lambda flat: dict(zip(flat[::2], flat[1::2], strict=True))  # noqa: E731
        return _state(
            clinic, pairs(meta), {}, pairs(tickets), pairs(doctors), {}, {}, pairs(stats), calls
        )

    async def restore(
        self,
        clinic: str,
        state: ClinicState,
        *,
        tail: list[str],
        idempotency: dict[str, bytes],
        link: str = "",
    ) -> str:
        """Replace a clinic's live state with ``state`` in one transaction; return the new epoch.

        ``tail`` (event bodies, in offset order) refills the event stream so reconnecting screens
        can catch up from an offset; ``idempotency`` restores the answers that retried requests
        must get again; ``link`` is the journal's last link, which the next event must follow.
        Print jobs and printer states are not live state derived from the journal: they stay.
        """
        k = lambda name: keys.clinic_key(clinic, name)  # noqa: E731
        enc = msgspec.json.encode
        epoch = uuid.uuid4().hex[:12]
        stale = [
            key async for key in self.client.scan_iter(match=keys.prefix(clinic) + "*", count=1000)
        ]
        async with self.client.pipeline(transaction=True) as pipe:
            for key in stale:
                if keys.is_derived(clinic, key.decode()):
                    pipe.delete(key)
            if state.seq:
                pipe.hset(k("seq"), mapping={s: n for s, n in state.seq.items()})
            if state.tickets:
                pipe.hset(k("tickets"), mapping={i: enc(t) for i, t in state.tickets.items()})
            links = {t.link: t.id for t in state.tickets.values() if t.link}
            if links:
                pipe.hset(k("links"), mapping=links)
            for t in state.tickets.values():
                if t.state == "waiting":
                    pipe.zadd(k(_queue_key(t)), {t.id: t.slot_time or t.arrival})
            if state.doctors:
                pipe.hset(k("doctors"), mapping={i: enc(d) for i, d in state.doctors.items()})
            for d in state.doctors.values():
                if d.status != "off" and d.cabinet:
                    pipe.hset(k("cab"), d.cabinet, d.id)
                if d.status == "on_duty":
                    for service in d.services:
                        pipe.hincrby(k("dutyn"), service, 1)
            if state.reservations:
                pipe.hset(k("res"), mapping={i: enc(r) for i, r in state.reservations.items()})
            if state.slots:
                pipe.hset(k("slots"), mapping={s: r for s, r in state.slots.items()})
            if state.calls:
                pipe.rpush(k("calls"), *[enc(c) for c in state.calls])
            for service, stats in state.stats.items():
                pipe.hset(
                    k("stats"),
                    mapping={
                        f"{service}:served": stats.served,
                        f"{service}:seconds": stats.seconds,
                    },
                )
            prev = ""
            for body in tail:
                offset = ev.decode_event(body).offset
                pipe.xadd(keys.events(clinic), {"e": body, "p": prev, "x": epoch}, id=f"{offset}-0")
                prev = link_of(body)
            # The epoch in the stream itself: a push reader at or behind the new head reads it,
            # in order, before any event of the new history (``displays/reader.py``).
            pipe.xadd(keys.events(clinic), {"x": epoch}, id=f"{state.offset}-1")
            for key, answer in idempotency.items():
                pipe.set(keys.idem(clinic, key), answer, ex=self.idempotency_ttl)
            pipe.hset(
                keys.meta(clinic),
                mapping={
                    "day": state.day,
                    "offset": state.offset,
                    "arrival": state.arrival,
                    "link": link,
                    "epoch": epoch,
                },
            )
            await pipe.execute()
        return epoch


def _queue_key(t: Ticket) -> str:
    if t.slot_time is not None:
        return f"bk:{t.doctor}"
    return f"wp:{t.service}" if t.priority else f"wn:{t.service}"


def _state(
    clinic: str,
    meta: dict[bytes, bytes],
    seq: dict[bytes, bytes],
    tickets: dict[bytes, bytes],
    doctors: dict[bytes, bytes],
    res: dict[bytes, bytes],
    slots: dict[bytes, bytes],
    stats: dict[bytes, bytes],
    calls: list[bytes],
) -> tuple[ClinicState, str]:
    """A ClinicState from the raw hashes of a clinic's keys, and its epoch."""
    if b"epoch" not in meta:
        raise NotLoaded(clinic)
    state = ClinicState(
        day=meta.get(b"day", b"").decode(),
        offset=int(meta.get(b"offset", 0)),
        arrival=int(meta.get(b"arrival", 0)),
        seq={s.decode(): int(n) for s, n in seq.items()},
        tickets={i.decode(): msgspec.json.decode(v, type=Ticket) for i, v in tickets.items()},
        doctors={i.decode(): msgspec.json.decode(v, type=DoctorDuty) for i, v in doctors.items()},
        reservations={i.decode(): msgspec.json.decode(v, type=Reservation) for i, v in res.items()},
        slots={s.decode(): r.decode() for s, r in slots.items()},
        calls=[msgspec.json.decode(c, type=Call) for c in calls],
    )
    for field, value in stats.items():
        service, kind = field.decode().rsplit(":", 1)
        setattr(state.stats.setdefault(service, ServiceStats()), kind, int(value))
    return state, meta[b"epoch"].decode()
