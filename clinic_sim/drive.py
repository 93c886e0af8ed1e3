"""Drive mode: the simulated morning played against a live engine over its HTTP API.

The day's patients come from the same plan as the simulator (``plan_day``); time runs ``speed``
times faster than the wall clock. A kiosk takes walk-in tickets and checks bookings in at their
planned minutes; each doctor on the roster is an agent that calls the next patient, waits for a
no-show, starts, suspends and resumes (delayed intake), completes, and takes their break.
The engine decides who is called; the agent looks the ticket up to learn how the visit goes.

Bounded in time (``minutes / speed``) and in requests (``max_requests``); traffic goes only to
``url``, which must be a loopback address unless ``allow_remote``. Bookings hold real slots:
the engine calls a booked patient once the real slot time has come, so in a short fast run
they wait on their doctor's list. On a day the clinic gives no appointments (a Sunday) the
bookings are made on its next open day, as a booking channel would, and are not checked in.
Patients in hand at the end stay in hand.

DriveError       the engine cannot be driven (remote URL, unreachable, unknown clinic)
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from clinic_sim.clinic_day import from_clinic
from clinic_sim.config import DayConfig, DoctorSpec
from clinic_sim.patients import Patient, plan_day
from engine.clinic import Clinic, parse_clinic

WALK_MINUTES = 1.0  # from the call to the door of the cabinet
POLL_MINUTES = 5.0  # an idle doctor looks again this often (tickets taken by others)
GRACE_SECONDS = 5.0
BOOKING_LOOKAHEAD_DAYS = 8  # a week ahead, from today: past any weekend or holiday


class DriveError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class DriveOptions:
    url: str
    token: str  # an admin token, or a head token of the clinic: both may do every step
    clinic: str = "demo"
    speed: float = 60.0  # simulated minutes per real minute
    minutes: float = 60.0  # simulated minutes to drive: an hour in a real minute at 60x
    start: int = 8 * 60  # local clock minute the driven window opens (08:00: the morning peak)
    seed: int = 0
    season: float = 1.0
    max_requests: int = 10_000
    request_timeout: float = 10.0
    allow_remote: bool = False


@dataclass
class DriveReport:
    tickets: dict[str, str] = field(default_factory=dict)  # ticket id -> number, taken by us
    booked: int = 0
    booked_ahead: dict[str, int] = field(default_factory=dict)  # later day (ISO) -> bookings
    checked_in: int = 0
    called: int = 0
    completed: int = 0
    no_shows: int = 0
    suspended: int = 0
    breaks: int = 0
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    doctors: list[str] = field(default_factory=list)
    simulated_minutes: float = 0.0  # driven so far (the clock stands still while booking)
    elapsed_seconds: float = 0.0


class _OutOfBudget(Exception):
    pass


def check_url(url: str, allow_remote: bool) -> None:
    """Refuse any base URL that is not on loopback, unless told otherwise."""
    host = httpx.URL(url).host
    if allow_remote or host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise DriveError(
        f"{url} is not a loopback address; pass --allow-remote (allow_remote=True) to drive it"
    )


async def drive(
    options: DriveOptions,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    report: DriveReport | None = None,
) -> DriveReport:
    """Drive one clinic for ``options.minutes`` simulated minutes; return what was done.

    Pass ``report`` to watch it fill in while the run goes on (the CLI's progress line)."""
    check_url(options.url, options.allow_remote)
    async with httpx.AsyncClient(
        base_url=options.url,
        headers={"Authorization": f"Bearer {options.token}"},
        timeout=options.request_timeout,
        trust_env=False,  # loopback traffic must not detour through a proxy from the environment
        transport=transport,
    ) as http:
        driver = Driver(options, http, report or DriveReport())
        await driver.run()
        return driver.report


class Driver:
    """One driven clinic: the plan, the clock, the agents, and the report."""

    def __init__(self, options: DriveOptions, http: httpx.AsyncClient, report: DriveReport) -> None:
        self.options = options
        self.http = http
        self.api = f"/api/v1/clinics/{options.clinic}"
        self.report = report
        self.run_id = secrets.token_hex(4)
        self.visits: dict[str, Patient] = {}  # ticket id -> the planned visit
        self.reservations: dict[int, str] = {}  # patient id -> today's reservation id
        self._arrived = asyncio.Event()
        self._t0 = 0.0
        self.today = ""  # the clinic's date, ISO, once its configuration is read

    # -- time ---------------------------------------------------------------------------------

    def sim_now(self) -> float:
        """Simulated minutes since the window opened."""
        minutes = (asyncio.get_running_loop().time() - self._t0) * self.options.speed / 60
        self.report.simulated_minutes = min(minutes, self.options.minutes)
        return minutes

    def _over(self) -> bool:
        return self.sim_now() >= self.options.minutes

    async def _sleep_until(self, minute: float) -> bool:
        """Sleep to a simulated minute of the window; False if the window closes first."""
        target = min(minute, self.options.minutes)
        delay = (target - self.sim_now()) * 60 / self.options.speed
        if delay > 0:
            await asyncio.sleep(delay)
        return minute < self.options.minutes

    async def _sleep(self, minutes: float) -> bool:
        return await self._sleep_until(self.sim_now() + minutes)

    async def _idle(self, minutes: float) -> None:
        """Wait for a new ticket, at most ``minutes`` (simulated)."""
        event = self._arrived
        delay = (
            min(minutes, max(0.0, self.options.minutes - self.sim_now())) * 60 / self.options.speed
        )
        try:
            await asyncio.wait_for(event.wait(), delay)
        except TimeoutError:
            pass

    def _announce(self) -> None:
        self._arrived.set()
        self._arrived = asyncio.Event()

    # -- HTTP ---------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, op: str, body: Any = None) -> Any:
        """The answer's JSON, or None when the engine refused (counted in the report)."""
        return (await self._request(method, path, op, body))[0]

    async def _request(
        self, method: str, path: str, op: str, body: Any = None
    ) -> tuple[Any, str | None]:
        """One request, retried with the same key on a transport error or a 429: (JSON, code)."""
        if self.report.requests >= self.options.max_requests:
            raise _OutOfBudget
        self.report.requests += 1
        headers = {"Idempotency-Key": f"sim-{self.run_id}-{self.report.requests}"}
        code = "unreachable"
        for _ in range(3):
            try:
                response = await self.http.request(
                    method, self.api + path, json=body, headers=headers
                )
            except httpx.TransportError as exc:
                code = type(exc).__name__
                await asyncio.sleep(0.2)
                continue
            if response.status_code == 429:
                code = "rate_limited"
                await asyncio.sleep(min(2.0, float(response.headers.get("retry-after", "1"))))
                continue
            if response.status_code < 400:
                return response.json(), None
            try:
                code = str(response.json()["error"]["code"])
            except (ValueError, KeyError, TypeError):
                code = str(response.status_code)
            break
        self.report.errors[f"{op}: {code}"] += 1
        return None, code

    # -- the run ------------------------------------------------------------------------------

    async def _clinic(self) -> Clinic:
        try:
            response = await self.http.get(self.api)
        except httpx.TransportError as exc:
            raise DriveError(f"cannot reach the engine at {self.options.url}: {exc}") from exc
        if response.status_code != 200:
            raise DriveError(f"GET {self.api}: {response.status_code} {response.text[:200]}")
        return parse_clinic(response.content)

    async def run(self) -> None:
        clinic = await self._clinic()
        self.today = datetime.now(ZoneInfo(clinic.timezone)).date().isoformat()
        config = from_clinic(clinic, season=self.options.season)
        w0 = self.options.start - config.open_clock
        patients = [
            p
            for p in plan_day(config, self.options.seed)
            if w0 <= p.arrival < w0 + self.options.minutes
        ]
        cabinets = {d.id: d.cabinet for d in clinic.doctors}
        rostered = [
            d
            for d in config.doctors
            if cabinets.get(d.id) and d.start < w0 + self.options.minutes and d.end > w0
        ]
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self._book(config, [p for p in patients if p.kind == "booked"])
            self._t0 = loop.time()
            real_limit = self.options.minutes * 60 / self.options.speed + GRACE_SECONDS
            async with asyncio.timeout(real_limit):
                await asyncio.gather(
                    self._kiosk(patients, w0), *(self._doctor(d, w0) for d in rostered)
                )
        except _OutOfBudget:
            self.report.errors["max_requests reached"] += 1
        except TimeoutError:
            self.report.errors["window overrun"] += 1
        finally:
            self.report.simulated_minutes = min(self.sim_now(), self.options.minutes)
            self.report.elapsed_seconds = loop.time() - started

    async def _book(self, config: DayConfig, booked: list[Patient]) -> None:
        """Book the window's appointments on each doctor's next free real slots, ahead of time:
        today's if the doctor has any left, else those of the doctor's next open day."""
        by_doctor: dict[str, list[Patient]] = {}
        for p in booked:
            by_doctor.setdefault(p.doctor or "", []).append(p)
        for doctor, wanted in by_doctor.items():
            day, free = await self._free_slots(doctor)
            for p, slot in zip(wanted, free, strict=False):
                body = {
                    "patient": f"sim-{self.run_id}-{p.id}",
                    "channel": "portal",
                    "confirm": True,
                }
                made = await self._call("POST", f"/slots/{slot}/reservation", "reserve", body)
                if made is not None:
                    self.report.booked += 1
                    if day == self.today:
                        self.reservations[p.id] = made["id"]  # checked in when the patient comes
                    else:
                        self.report.booked_ahead[day] = self.report.booked_ahead.get(day, 0) + 1

    async def _free_slots(self, doctor: str) -> tuple[str, list[str]]:
        """The first day (ISO) from today on with free slots of this doctor, and their ids."""
        day = self.today
        for _ in range(BOOKING_LOOKAHEAD_DAYS):
            listing = await self._call(
                "GET", f"/slots?free=true&doctor={doctor}&date={day}", "slots"
            )
            if listing is None:
                break  # past the booking window, or refused: counted in the report
            free = [s["id"] for s in listing["slots"]]
            if free:
                return day, free
            day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
        return day, []

    async def _kiosk(self, patients: list[Patient], w0: float) -> None:
        """Walk-ins take tickets; kept bookings check in; each at its planned minute."""
        for p in patients:
            if not await self._sleep_until(p.arrival - w0):
                return
            if p.kind == "walk_in":
                body = {"service": p.service, "priority": p.priority, "channel": "kiosk"}
                ticket = await self._call("POST", "/tickets", "take ticket", body)
            elif p.absent or p.id not in self.reservations:
                continue  # a booking never kept
            else:
                rid = self.reservations[p.id]
                answer = await self._call("POST", f"/reservations/{rid}/check-in", "check in")
                ticket = answer.get("ticket") if answer else None
                self.report.checked_in += 1 if ticket else 0
            if ticket:
                self.visits[ticket["id"]] = p
                self.report.tickets[ticket["id"]] = ticket["number"]
                self._announce()

    async def _duty(self, doctor: str, status: str) -> bool:
        return (
            await self._call("PUT", f"/doctors/{doctor}/duty", "duty", {"status": status})
            is not None
        )

    async def _doctor(self, spec: DoctorSpec, w0: float) -> None:
        """One doctor's morning: duty, calls, visits, delayed intake, a break, end of shift."""
        if not await self._sleep_until(max(0.0, spec.start - w0)):
            return
        if not await self._duty(spec.id, "on_duty"):
            return
        cabinet = await self._take_over(spec.id)
        if cabinet is None:
            return
        self.report.doctors.append(spec.id)
        breaks = [b for b in spec.breaks if b.start >= w0]
        suspended: list[tuple[float, str, float]] = []  # (ready minute, ticket id, minutes left)
        while not self._over():
            now = self.sim_now()
            if now >= spec.end - w0 and not suspended:
                await self._duty(spec.id, "off")
                return
            if breaks and now >= breaks[0].start - w0:
                pause = breaks.pop(0).minutes
                if await self._duty(spec.id, "break"):
                    self.report.breaks += 1
                    await self._sleep(pause)
                    await self._duty(spec.id, "on_duty")
                continue
            ready = sorted(s for s in suspended if s[0] <= now)
            if ready:
                suspended.remove(ready[0])
                _, ticket_id, left = ready[0]
                if await self._act(ticket_id, "resume"):
                    await self._sleep(left)
                    await self._finish(ticket_id)
                continue
            answer, code = await self._request("POST", f"/cabinets/{cabinet}/call-next", "call")
            if code == "patient_in_hand":  # left over from an earlier run, or a human's doing
                await self._take_over(spec.id)
                continue
            ticket = (answer or {}).get("ticket")
            if ticket is None:
                wake = [s[0] for s in suspended] + [b.start - w0 for b in breaks[:1]]
                await self._idle(min([POLL_MINUTES, *(w - now for w in wake)]))
                continue
            self.report.called += 1
            await self._visit(ticket["id"], suspended)

    async def _visit(self, ticket_id: str, suspended: list[tuple[float, str, float]]) -> None:
        p = self.visits.get(ticket_id)
        consult = p.consult if p else 15.0  # a ticket someone else took: a norm visit
        if p is not None and p.absent:
            await self._sleep(WALK_MINUTES)
            await self._act(ticket_id, "recall")
            await self._sleep(WALK_MINUTES)
            if await self._act(ticket_id, "no-show"):
                self.report.no_shows += 1
            return
        await self._sleep(WALK_MINUTES)
        if not await self._act(ticket_id, "start"):
            return
        if p is not None and p.delay is not None:
            await self._sleep(consult / 2)
            if await self._act(ticket_id, "suspend"):
                self.report.suspended += 1
                suspended.append((self.sim_now() + p.delay, ticket_id, consult / 2))
                return
        await self._sleep(consult if p is None or p.delay is None else consult / 2)
        await self._finish(ticket_id)

    async def _finish(self, ticket_id: str) -> None:
        if await self._act(ticket_id, "complete"):
            self.report.completed += 1

    async def _act(self, ticket_id: str, action: str) -> bool:
        return await self._call("POST", f"/tickets/{ticket_id}/{action}", action, {}) is not None

    async def _take_over(self, doctor: str) -> str | None:
        """The doctor's cabinet, once any patient left in hand from before is seen out."""
        board = await self._call("GET", "/board", "board")
        mine = next((d for d in (board or {}).get("doctors", []) if d["id"] == doctor), None)
        if mine is None or not mine.get("cabinet"):
            return None
        if mine.get("current_ticket"):
            left = "no-show" if mine.get("current_state") == "called" else "complete"
            await self._act(mine["current_ticket"], left)
        return str(mine["cabinet"])
